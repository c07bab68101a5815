/* fuzz_inflate.c - libFuzzer target for the DEFLATE/gzip decoder.
 *
 * Two properties per input:
 *  1. the input decoded as a stream (raw or gzip, chosen by the first
 *     byte) gives the same result, output and error whether it is fed
 *     whole or in input-derived pieces with tiny output buffers, and
 *     never writes past the room it was given;
 *  2. the input compressed by a small encoder here (stored blocks and
 *     fixed-Huffman blocks with greedy LZ77 matches, mixed as the input
 *     says) and wrapped in gzip decodes back to exactly the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/inflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

#define OUT_MAX (1u << 20) /* decoded bytes compared per input */

static inf_t za, zb;

/* Decodes with pieces of 1..imax input bytes and 1..omax output bytes
 * (0: unlimited). Returns the last status; output in out (OUT_MAX). */
static int decode(inf_t *z, int fmt, const uint8_t *in, size_t n, size_t imax, size_t omax,
		uint32_t seed, uint8_t *out, size_t *outn)
{
	size_t off = 0, o = 0;
	int r = INF_MORE;
	inf_init(z, fmt);
	for (;;) {
		size_t il = n - off, ol = OUT_MAX - o;
		seed = seed * 1103515245u + 12345u;
		if (imax && il > 1 + (seed >> 8) % imax)
			il = 1 + (seed >> 8) % imax;
		if (omax && ol > 1 + (seed >> 16) % omax)
			ol = 1 + (seed >> 16) % omax;
		size_t give_i = il, give_o = ol;
		uint8_t *piece = malloc(il ? il : 1); /* exact size: ASan sees over-reads */
		memcpy(piece, in + off, il);
		r = inf_step(z, piece, &il, out + o, &ol);
		free(piece);
		REQUIRE(il <= give_i && ol <= give_o);
		off += il;
		o += ol;
		if (r != INF_MORE || o == OUT_MAX)
			break;
		if (il == 0 && ol == 0 && off == n)
			break;
		REQUIRE(il || ol || off == n); /* progress whenever input remains */
	}
	*outn = o;
	return r;
}

/* ---- a small DEFLATE encoder ---- */

typedef struct {
	uint8_t *p;
	size_t n;
	uint64_t acc;
	unsigned nacc;
} bw;

static void bits(bw *w, uint32_t v, unsigned n)
{
	w->acc |= (uint64_t)v << w->nacc;
	w->nacc += n;
	while (w->nacc >= 8) {
		w->p[w->n++] = (uint8_t)w->acc;
		w->acc >>= 8;
		w->nacc -= 8;
	}
}

static void huff(bw *w, uint32_t code, unsigned n) /* MSB first */
{
	for (unsigned i = n; i-- > 0;)
		bits(w, (code >> i) & 1, 1);
}

static void flush_byte(bw *w)
{
	if (w->nacc)
		bits(w, 0, 8 - w->nacc);
}

static void lit(bw *w, unsigned s)
{
	if (s < 144)
		huff(w, 0x30 + s, 8);
	else if (s < 256)
		huff(w, 0x190 + s - 144, 9);
	else if (s < 280)
		huff(w, s - 256, 7);
	else
		huff(w, 0xc0 + s - 280, 8);
}

static const uint16_t lbase[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
	4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dbase[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
	257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dext[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8,
	9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static void match(bw *w, unsigned len, unsigned dist)
{
	int i = 28, j = 29;
	while (lbase[i] > len)
		i--;
	lit(w, 257 + (unsigned)i);
	bits(w, len - lbase[i], lext[i]);
	while (dbase[--j] > dist)
		;
	huff(w, (unsigned)j, 5);
	bits(w, dist - dbase[j], dext[j]);
}

static int32_t head[1 << 12];

static void fixed_block(bw *w, const uint8_t *d, size_t start, size_t end, int last, int lazy)
{
	bits(w, last, 1);
	bits(w, 1, 2);
	for (size_t i = start; i < end;) {
		size_t best = 0, bdist = 0;
		if (i + 3 <= end) {
			unsigned h = ((unsigned)d[i] << 4 ^ (unsigned)d[i + 1] << 2 ^ d[i + 2]) & 4095;
			int32_t c = head[h];
			head[h] = (int32_t)i;
			if (c >= 0 && i - (size_t)c <= 32768) {
				size_t l = 0;
				while (l < 258 && i + l < end && d[(size_t)c + l] == d[i + l])
					l++;
				if (l >= 3) {
					best = l;
					bdist = i - (size_t)c;
				}
			}
			/* distance 1 runs, for long overlapping copies */
			if (!best && lazy && i > start) {
				size_t l = 0;
				while (l < 258 && i + l < end && d[i - 1 + l] == d[i + l])
					l++;
				if (l >= 3) {
					best = l;
					bdist = 1;
				}
			}
		}
		if (best) {
			match(w, (unsigned)best, (unsigned)bdist);
			i += best;
		} else {
			lit(w, d[i++]);
		}
	}
	lit(w, 256);
}

static void stored_block(bw *w, const uint8_t *d, size_t start, size_t end, int last)
{
	size_t n = end - start;
	bits(w, last, 1);
	bits(w, 0, 2);
	flush_byte(w);
	bits(w, (uint32_t)n, 16);
	bits(w, (uint32_t)(~n & 0xffff), 16);
	memcpy(w->p + w->n, d + start, n);
	w->n += n;
}

/* gzip of d: blocks of input-chosen sizes and kinds. */
static size_t compress(const uint8_t *d, size_t n, uint8_t ctl, uint8_t *out)
{
	static const uint8_t gzh[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
	bw w = {out, 0, 0, 0};
	size_t blk = 1 + (size_t)(ctl & 7) * 911, i = 0;
	uint32_t crc = inf_crc32(0, d, n);
	memcpy(out, gzh, 10);
	w.n = 10;
	for (size_t k = 0; k < sizeof head / sizeof head[0]; k++)
		head[k] = -1;
	do {
		size_t e = i + blk < n ? i + blk : n;
		int last = e == n;
		if (((ctl >> 3) + i / blk) % 3 == 0)
			stored_block(&w, d, i, e, last);
		else
			fixed_block(&w, d, i, e, last, ctl & 0x80);
		i = e;
	} while (i < n);
	flush_byte(&w);
	for (int k = 0; k < 4; k++)
		out[w.n++] = (uint8_t)(crc >> (8 * k));
	for (int k = 0; k < 4; k++)
		out[w.n++] = (uint8_t)(n >> (8 * k));
	return w.n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t a[OUT_MAX], b[OUT_MAX];
	size_t an, bn;
	if (size < 2)
		return 0;
	int fmt = data[0] & 1 ? INF_GZIP : INF_RAW;
	size_t imax = 1 + (data[0] >> 1) % 64, omax = 1 + data[1] % 300;
	const uint8_t *in = data + 2;
	size_t n = size - 2;

	/* 1. whole vs pieces */
	int ra = decode(&za, fmt, in, n, 0, 0, 1, a, &an);
	int rb = decode(&zb, fmt, in, n, imax, omax, data[1], b, &bn);
	if (an < OUT_MAX && bn < OUT_MAX) {
		REQUIRE(ra == rb);
		REQUIRE(an == bn);
		if (ra == INF_ERR)
			REQUIRE(!strcmp(za.err, zb.err));
	}
	size_t m = an < bn ? an : bn;
	REQUIRE(!memcmp(a, b, m));

	/* 2. round trip through the encoder */
	if (n <= 65536) {
		uint8_t *gz = malloc(n * 7 + 64); /* stored blocks of one byte: 6n */
		size_t gn = compress(in, n, data[0], gz);
		int r = decode(&za, INF_GZIP, gz, gn, imax, omax, data[1], a, &an);
		REQUIRE(r == INF_END);
		REQUIRE(an == n && !memcmp(a, in, n));
		free(gz);
	}
	return 0;
}
