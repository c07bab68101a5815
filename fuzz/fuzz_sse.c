/* fuzz_sse.c - libFuzzer target for the SSE parser and writer. Feeding a
 * stream whole, byte by byte, and in input-derived pieces must give the
 * same events and the same result; and whatever sse_write_event writes
 * parses back to the payload (with CR and CRLF read as LF). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "http/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

#define FUZZ_MAX_EVENT 256 /* small, so the size limit is exercised */

static void put_field(buf_t *log, const char *p, size_t n)
{
	char len[24];
	int k = snprintf(len, sizeof len, "%zu:", n);
	buf_append(log, len, (size_t)k);
	buf_append(log, p, n);
}

static int record(void *ud, const char *ev, size_t elen, const char *d, size_t dlen, const char *id,
		size_t idlen)
{
	buf_t *log = ud;
	REQUIRE(elen > 0 && memchr(ev, '\n', elen) == NULL && memchr(ev, '\r', elen) == NULL);
	REQUIRE(memchr(d, '\r', dlen) == NULL && memchr(id, '\0', idlen) == NULL);
	put_field(log, ev, elen);
	put_field(log, d, dlen);
	put_field(log, id, idlen);
	return 0;
}

static int run(const uint8_t *data, size_t size, size_t max_piece, uint32_t seed, buf_t *log)
{
	sse_parser ps;
	size_t off = 0;
	int r = 0;

	sse_parser_init(&ps, FUZZ_MAX_EVENT);
	while (off < size && r == 0) {
		size_t k = 1 + seed % max_piece;
		char *piece;
		seed = seed * 1103515245u + 12345u;
		if (k > size - off)
			k = size - off;
		piece = malloc(k);
		memcpy(piece, data + off, k);
		r = sse_parser_feed(&ps, piece, k, record, log);
		free(piece);
		off += k;
	}
	sse_parser_free(&ps);
	return r;
}

static int first(void *ud, const char *ev, size_t elen, const char *d, size_t dlen, const char *id,
		size_t idlen)
{
	buf_t *got = ud;
	REQUIRE(elen == 7 && memcmp(ev, "message", 7) == 0);
	REQUIRE(idlen == 2 && memcmp(id, "17", 2) == 0);
	buf_append(got, d, dlen);
	return 1; /* exactly one event expected */
}

static void roundtrip(const uint8_t *data, size_t size)
{
	buf_t wire, got, want;
	sse_parser ps;
	size_t i;

	buf_init(&wire);
	buf_init(&got);
	buf_init(&want);
	sse_write_event(&wire, 1, 17, (const char *)data, size);
	for (i = 0; i < size; i++) {
		if (data[i] == '\r') {
			buf_putc(&want, '\n');
			if (i + 1 < size && data[i + 1] == '\n')
				i++;
		} else {
			buf_putc(&want, (char)data[i]);
		}
	}
	sse_parser_init(&ps, 0);
	REQUIRE(sse_parser_feed(&ps, wire.p, wire.len, first, &got) == 1);
	REQUIRE(got.len == want.len && (want.len == 0 || memcmp(got.p, want.p, want.len) == 0));
	sse_parser_free(&ps);
	buf_free(&wire);
	buf_free(&got);
	buf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	buf_t a, b, c;
	uint32_t seed = 2166136261u;
	size_t i;
	int r1, r2, r3;

	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	buf_init(&a);
	buf_init(&b);
	buf_init(&c);
	r1 = run(data, size, size ? size : 1, (uint32_t)(size ? size - 1 : 0), &a);
	r2 = run(data, size, 1, 0, &b);
	r3 = run(data, size, 13, seed, &c);
	REQUIRE(r1 == r2 && r1 == r3);
	REQUIRE(r1 == 0 || r1 == -1);
	REQUIRE(a.len == b.len && a.len == c.len);
	REQUIRE(a.len == 0 || (memcmp(a.p, b.p, a.len) == 0 && memcmp(a.p, c.p, a.len) == 0));
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	roundtrip(data, size);
	return 0;
}
