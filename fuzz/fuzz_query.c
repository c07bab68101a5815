/* fuzz_query.c - libFuzzer target for http_query_next and
 * http_pct_decode: pieces stay inside the query and advance; decoding
 * never grows, never yields a NUL, works in place, and re-encoding what
 * it decoded decodes back to the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static void decode_checks(const char *in, size_t n, bool plus)
{
	char *out = malloc(n + 1), *inplace = malloc(n + 1), *enc, *back;
	long r = http_pct_decode(in, n, out, plus), r2;
	size_t i, e = 0;
	static const char hex[] = "0123456789ABCDEF";

	memcpy(inplace, in, n);
	r2 = http_pct_decode(inplace, n, inplace, plus);
	REQUIRE(r == r2);
	if (r < 0)
		goto done;
	REQUIRE((size_t)r <= n);
	REQUIRE(memcmp(out, inplace, (size_t)r) == 0);
	REQUIRE(memchr(out, '\0', (size_t)r) == NULL);
	/* Encode every byte, decode again: same bytes. */
	enc = malloc((size_t)r * 3 + 1);
	back = malloc((size_t)r + 1);
	for (i = 0; i < (size_t)r; i++) {
		unsigned char c = (unsigned char)out[i];
		enc[e++] = '%';
		enc[e++] = hex[c >> 4];
		enc[e++] = hex[c & 15];
	}
	REQUIRE(http_pct_decode(enc, e, back, plus) == r);
	REQUIRE(memcmp(back, out, (size_t)r) == 0);
	free(enc);
	free(back);
done:
	free(out);
	free(inplace);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *q = malloc(size ? size : 1);
	size_t pos = 0, last = 0, kl, vl, count = 0;
	const char *k, *v;

	memcpy(q, data, size);
	while (http_query_next(q, size, &pos, &k, &kl, &v, &vl)) {
		REQUIRE(pos > last && pos <= size);
		REQUIRE(k >= q + last && k + kl <= q + pos);
		REQUIRE(v >= k + kl && v + vl <= q + pos);
		REQUIRE(kl + vl > 0 || v == k + 1); /* "=" alone is a piece */
		REQUIRE(memchr(k, '=', kl) == NULL && memchr(k, '&', kl) == NULL);
		REQUIRE(memchr(v, '&', vl) == NULL);
		if (v == k + kl) /* no '=': empty value at the end of the key */
			REQUIRE(vl == 0 && pos == (size_t)(k + kl - q));
		decode_checks(k, kl, true);
		decode_checks(v, vl, true);
		last = pos;
		REQUIRE(++count <= size);
	}
	REQUIRE(pos == size);
	decode_checks(q, size, false);
	free(q);
	return 0;
}
