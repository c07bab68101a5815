/* fuzz_chunked.c - libFuzzer target for http_chunked_decode: decoding the
 * input in one call, one byte at a time, and in input-derived pieces must
 * agree on the status, the decoded bytes and the bytes consumed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

/* Feeds data in pieces of 1..max_piece bytes (sizes from seed); returns
 * the status, decoded bytes in out, input used in *used. */
static int feed(const uint8_t *data, size_t size, size_t max_piece, uint32_t seed, char *out,
		size_t *outlen, size_t *used)
{
	http_chunked d;
	size_t off = 0, o = 0;
	int r = 0;

	memset(&d, 0, sizeof d);
	while (off < size) {
		size_t k = 1 + seed % max_piece, len, consumed;
		char *piece;
		seed = seed * 1103515245u + 12345u;
		if (k > size - off)
			k = size - off;
		piece = malloc(k); /* exact size: ASan sees over-reads */
		memcpy(piece, data + off, k);
		len = k;
		r = http_chunked_decode(&d, piece, &len, &consumed);
		REQUIRE(consumed <= k && len <= consumed);
		REQUIRE(r == 1 || r == 0 || r == HTTP_BAD);
		REQUIRE(r != 0 || consumed == k);
		/* Input after the end is left untouched. */
		REQUIRE(r != 1 || memcmp(piece + consumed, data + off + consumed, k - consumed) == 0);
		memcpy(out + o, piece, len);
		free(piece);
		o += len;
		off += consumed;
		if (r != 0)
			break;
	}
	*outlen = o;
	*used = off;
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *o1 = malloc(size + 1), *o2 = malloc(size + 1), *o3 = malloc(size + 1);
	size_t l1, l2, l3, u1, u2, u3;
	uint32_t seed = 2166136261u;
	size_t i;
	int r1, r2, r3;

	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	r1 = feed(data, size, size ? size : 1, (uint32_t)(size ? size - 1 : 0), o1, &l1, &u1);
	r2 = feed(data, size, 1, 0, o2, &l2, &u2);
	r3 = feed(data, size, 7, seed, o3, &l3, &u3);
	REQUIRE(r1 == r2 && r1 == r3);
	REQUIRE(l1 == l2 && l1 == l3);
	REQUIRE(memcmp(o1, o2, l1) == 0 && memcmp(o1, o3, l1) == 0);
	if (r1 == 1)
		REQUIRE(u1 == u2 && u1 == u3);
	if (r1 == 0)
		REQUIRE(u1 == size && u2 == size && u3 == size);
	REQUIRE(l1 <= u1);
	free(o1);
	free(o2);
	free(o3);
	return 0;
}
