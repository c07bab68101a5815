/* inflate.c - streaming DEFLATE + gzip decoder; see inflate.h.
 *
 * How it suspends: input bytes are moved into a 64-bit accumulator, and
 * every syntactic element (a literal, a whole length+distance pair, a
 * header field) is decoded from a copy of it and committed only once
 * complete. An element never needs more than 48 bits, and the
 * accumulator always holds at least 57 while input remains, so running
 * short only happens at the true end of the caller's input; the element
 * is then simply decoded again on the next call. Matches are the one
 * element whose output may not fit: the rest of a match is kept in
 * (len, dist) and copied on the next call.
 *
 * Code validity follows zlib: over-subscribed code sets are refused;
 * incomplete ones too, except an empty set or a single code of length
 * one in the literal/length and distance codes. Depends on libc only. */
#include <string.h>

#include "inflate.h"

#define WMASK (INF_WSIZE - 1)
#define FAST_MASK ((1u << INF_FAST_BITS) - 1)

enum {
	S_GZ_HEAD, S_GZ_XLEN, S_GZ_EXTRA, S_GZ_NAME, S_GZ_COMMENT, S_GZ_HCRC,
	S_BLOCK, S_STORED_LEN, S_STORED, S_DYN_HDR, S_DYN_CLEN, S_DYN_LENS,
	S_CODES, S_COPY, S_TRAILER, S_END, S_ERR,
};

enum { GZ_FHCRC = 2, GZ_FEXTRA = 4, GZ_FNAME = 8, GZ_FCOMMENT = 16 };

static const uint16_t len_base[29] = {
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
};
static const uint8_t len_extra[29] = {
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
	3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
};
static const uint16_t dist_base[30] = {
	1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
	257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
};
static const uint8_t dist_extra[30] = {
	0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
	7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
};
static const uint8_t clen_order[19] = {
	16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
};

/* ---------------------------------------------------------------- CRC */

static uint32_t crc_tab[8][256];
static int crc_ready;

static void crc_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_tab[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int k = 1; k < 8; k++)
			crc_tab[k][n] = (crc_tab[k - 1][n] >> 8) ^ crc_tab[0][crc_tab[k - 1][n] & 255];
	crc_ready = 1;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Slicing by eight: about 1 byte per cycle, well ahead of decoding. */
uint32_t inf_crc32(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;
	if (!crc_ready)
		crc_init();
	crc = ~crc;
	while (n >= 8) {
		uint32_t a = crc ^ le32(p), b = le32(p + 4);
		crc = crc_tab[7][a & 255] ^ crc_tab[6][(a >> 8) & 255] ^
			crc_tab[5][(a >> 16) & 255] ^ crc_tab[4][a >> 24] ^
			crc_tab[3][b & 255] ^ crc_tab[2][(b >> 8) & 255] ^
			crc_tab[1][(b >> 16) & 255] ^ crc_tab[0][b >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = crc_tab[0][(crc ^ *p++) & 255] ^ (crc >> 8);
	return ~crc;
}

/* ------------------------------------------------------------ Huffman */

/* Builds the canonical code for n lengths. Returns 0, or -1 for a set
 * that is over-subscribed or (unless lax) incomplete. */
static int huff_build(inf_huff *h, const uint8_t *lens, unsigned n, int lax)
{
	uint16_t offs[16];
	unsigned max = 0, k = 0, code = 0;
	int left = 1;

	memset(h->count, 0, sizeof h->count);
	memset(h->fast, 0, sizeof h->fast);
	for (unsigned i = 0; i < n; i++)
		h->count[lens[i]]++;
	h->count[0] = 0;
	for (unsigned l = 1; l <= 15; l++)
		if (h->count[l])
			max = l;
	if (max == 0)
		return 0; /* nothing decodes; using the code is the error */
	for (unsigned l = 1; l <= 15; l++) {
		left = 2 * left - h->count[l];
		if (left < 0)
			return -1;
	}
	if (left > 0 && !(lax && max == 1))
		return -1;
	offs[1] = 0;
	for (unsigned l = 1; l < 15; l++)
		offs[l + 1] = (uint16_t)(offs[l] + h->count[l]);
	for (unsigned i = 0; i < n; i++)
		if (lens[i])
			h->symbol[offs[lens[i]]++] = (uint16_t)i;
	for (unsigned l = 1; l <= INF_FAST_BITS; l++) {
		for (unsigned c = 0; c < h->count[l]; c++, k++, code++) {
			unsigned rev = 0;
			for (unsigned b = 0; b < l; b++)
				rev |= ((code >> b) & 1) << (l - 1 - b);
			for (unsigned j = rev; j <= FAST_MASK; j += 1u << l)
				h->fast[j] = (uint16_t)(l << 9 | h->symbol[k]);
		}
		code <<= 1;
	}
	return 0;
}

/* Bit-by-bit canonical decoding for codes longer than the fast table. */
static int decode_slow(const inf_huff *h, uint64_t bits, unsigned nbits, unsigned *used)
{
	int code = 0, first = 0, index = 0;
	for (unsigned l = 1; l <= 15; l++) {
		if (l > nbits)
			return -1;
		code |= (int)((bits >> (l - 1)) & 1);
		int count = h->count[l];
		if (code - first < count) {
			*used = l;
			return h->symbol[index + code - first];
		}
		index += count;
		first = (first + count) << 1;
		code <<= 1;
	}
	return -2;
}

/* A symbol, or -1 (more bits needed), or -2 (no such code). */
static inline int decode(const inf_huff *h, uint64_t bits, unsigned nbits, unsigned *used)
{
	unsigned e = h->fast[bits & FAST_MASK];
	if (e) {
		if ((e >> 9) > nbits)
			return -1;
		*used = e >> 9;
		return (int)(e & 511);
	}
	return decode_slow(h, bits, nbits, used);
}

static void load_fixed(inf_t *z)
{
	uint8_t l[288];
	memset(l, 8, 144);
	memset(l + 144, 9, 112);
	memset(l + 256, 7, 24);
	memset(l + 280, 8, 8);
	huff_build(&z->lit, l, 288, 0);
	memset(l, 5, 32); /* 30 and 31 are refused when used */
	huff_build(&z->dst, l, 32, 0);
	z->fixed_loaded = 1;
}

/* ------------------------------------------------------------- driver */

void inf_init(inf_t *z, int fmt)
{
	z->state = fmt == INF_GZIP ? S_GZ_HEAD : S_BLOCK;
	z->fmt = fmt;
	z->err = NULL;
	z->bits = 0;
	z->nbits = 0;
	z->final = 0;
	z->len = z->dist = 0;
	z->fixed_loaded = 0;
	z->wpos = 0;
	z->total = 0;
	z->hcount = 0;
	z->crc = 0;
}

int inf_done(const inf_t *z)
{
	return z->state == S_END;
}

/* Output bytes also go to the window, the source of later matches. */
static void win_put(inf_t *z, const uint8_t *p, size_t n)
{
	if (n >= INF_WSIZE) {
		p += n - INF_WSIZE;
		z->wpos += (uint32_t)(n - INF_WSIZE);
		n = INF_WSIZE;
	}
	size_t at = z->wpos & WMASK, first = INF_WSIZE - at;
	if (first > n)
		first = n;
	memcpy(z->win + at, p, first);
	memcpy(z->win, p + first, n - first);
	z->wpos += (uint32_t)n;
}

int inf_step(inf_t *z, const uint8_t *in, size_t *in_len, uint8_t *out, size_t *out_len)
{
	const uint8_t *ip = in, *iend = in + *in_len;
	uint8_t *op = out, *oend = out + *out_len;
	uint8_t *mark = out; /* output not yet counted in total/crc */
	uint64_t bits = z->bits;
	unsigned nbits = z->nbits;
	uint8_t *win = z->win;
	uint32_t wpos = z->wpos;

#define REFILL() do { \
		while (nbits <= 56 && ip < iend) { \
			bits |= (uint64_t)*ip++ << nbits; \
			nbits += 8; \
		} \
	} while (0)
#define NEED(n) do { REFILL(); if (nbits < (n)) goto out; } while (0)
#define DROP(n) do { bits >>= (n); nbits -= (n); } while (0)
#define FAIL(msg) do { z->err = (msg); z->state = S_ERR; goto out; } while (0)
#define ACCOUNT() do { \
		if (z->fmt == INF_GZIP) \
			z->crc = inf_crc32(z->crc, mark, (size_t)(op - mark)); \
		z->total += (uint64_t)(op - mark); \
		mark = op; \
	} while (0)

	for (;;) {
		switch (z->state) {
		case S_GZ_HEAD: {
			NEED(8);
			uint8_t b = (uint8_t)bits;
			DROP(8);
			switch (z->hcount++) {
			case 0: if (b != 0x1f) FAIL("not gzip data"); break;
			case 1: if (b != 0x8b) FAIL("not gzip data"); break;
			case 2: if (b != 8) FAIL("unknown gzip compression method"); break;
			case 3:
				if (b & 0xe0)
					FAIL("reserved gzip flags set");
				z->flg = b;
				break;
			default: break;
			}
			if (z->hcount == 10) {
				z->hcount = 0;
				z->state = S_GZ_XLEN;
			}
			break;
		}
		case S_GZ_XLEN:
			if (!(z->flg & GZ_FEXTRA)) {
				z->state = S_GZ_NAME;
				break;
			}
			NEED(16);
			z->xlen = (unsigned)(bits & 0xffff);
			DROP(16);
			z->state = S_GZ_EXTRA;
			break;
		case S_GZ_EXTRA:
			while (z->xlen) {
				NEED(8);
				DROP(8);
				z->xlen--;
			}
			z->state = S_GZ_NAME;
			break;
		case S_GZ_NAME:
		case S_GZ_COMMENT: {
			int flag = z->state == S_GZ_NAME ? GZ_FNAME : GZ_FCOMMENT;
			if (z->flg & flag) {
				for (;;) {
					NEED(8);
					uint8_t b = (uint8_t)bits;
					DROP(8);
					if (!b)
						break;
				}
			}
			z->state = z->state == S_GZ_NAME ? S_GZ_COMMENT : S_GZ_HCRC;
			break;
		}
		case S_GZ_HCRC:
			if (z->flg & GZ_FHCRC) {
				NEED(16);
				DROP(16);
			}
			z->crc = 0;
			z->total = 0;
			z->state = S_BLOCK;
			break;

		case S_BLOCK:
			NEED(3);
			z->final = (int)(bits & 1);
			switch ((bits >> 1) & 3) {
			case 0:
				DROP(3);
				DROP(nbits & 7);
				z->state = S_STORED_LEN;
				break;
			case 1:
				DROP(3);
				if (!z->fixed_loaded)
					load_fixed(z);
				z->state = S_CODES;
				break;
			case 2:
				DROP(3);
				z->state = S_DYN_HDR;
				break;
			default:
				FAIL("invalid block type");
			}
			break;

		case S_STORED_LEN: {
			NEED(32);
			unsigned len = (unsigned)(bits & 0xffff), nlen = (unsigned)((bits >> 16) & 0xffff);
			if (len != (~nlen & 0xffff))
				FAIL("invalid stored block lengths");
			DROP(32);
			z->len = len;
			z->state = S_STORED;
			break;
		}
		case S_STORED:
			/* Whole bytes still in the accumulator come first. */
			while (z->len && nbits >= 8 && op < oend) {
				uint8_t b = (uint8_t)bits;
				DROP(8);
				win[wpos++ & WMASK] = b;
				*op++ = b;
				z->len--;
			}
			if (z->len && nbits == 0) {
				size_t n = z->len;
				if (n > (size_t)(oend - op))
					n = (size_t)(oend - op);
				if (n > (size_t)(iend - ip))
					n = (size_t)(iend - ip);
				memcpy(op, ip, n);
				z->wpos = wpos;
				win_put(z, ip, n);
				wpos = z->wpos;
				op += n;
				ip += n;
				z->len -= (unsigned)n;
			}
			if (z->len) {
				if (op == oend)
					goto out;
				NEED(8); /* the accumulator was empty and so is the input */
				break;
			}
			z->state = z->final ? S_TRAILER : S_BLOCK;
			break;

		case S_DYN_HDR:
			NEED(14);
			z->nlen = (unsigned)(bits & 31) + 257;
			z->ndist = (unsigned)((bits >> 5) & 31) + 1;
			z->ncode = (unsigned)((bits >> 10) & 15) + 4;
			DROP(14);
			if (z->nlen > 286 || z->ndist > 30)
				FAIL("too many length or distance symbols");
			memset(z->lens, 0, 19);
			z->idx = 0;
			z->state = S_DYN_CLEN;
			break;
		case S_DYN_CLEN:
			while (z->idx < z->ncode) {
				NEED(3);
				z->lens[clen_order[z->idx++]] = (uint8_t)(bits & 7);
				DROP(3);
			}
			if (huff_build(&z->cl, z->lens, 19, 0) < 0)
				FAIL("invalid code lengths set");
			z->idx = 0;
			z->state = S_DYN_LENS;
			break;
		case S_DYN_LENS:
			while (z->idx < z->nlen + z->ndist) {
				unsigned used, rep, val;
				REFILL();
				int sym = decode(&z->cl, bits, nbits, &used);
				if (sym == -1)
					goto out;
				if (sym < 0)
					FAIL("invalid code lengths set");
				if (sym < 16) {
					DROP(used);
					z->lens[z->idx++] = (uint8_t)sym;
					continue;
				}
				static const uint8_t xb[3] = {2, 3, 7}, xbase[3] = {3, 3, 11};
				unsigned x = xb[sym - 16];
				if (used + x > nbits)
					goto out;
				rep = xbase[sym - 16] + (unsigned)((bits >> used) & ((1u << x) - 1));
				if (sym == 16) {
					if (z->idx == 0)
						FAIL("invalid bit length repeat");
					val = z->lens[z->idx - 1];
				} else {
					val = 0;
				}
				if (z->idx + rep > z->nlen + z->ndist)
					FAIL("invalid bit length repeat");
				DROP(used + x);
				memset(z->lens + z->idx, (int)val, rep);
				z->idx += rep;
			}
			if (z->lens[256] == 0)
				FAIL("invalid code -- missing end-of-block");
			if (huff_build(&z->lit, z->lens, z->nlen, 1) < 0)
				FAIL("invalid literal/lengths set");
			if (huff_build(&z->dst, z->lens + z->nlen, z->ndist, 1) < 0)
				FAIL("invalid distances set");
			z->fixed_loaded = 0;
			z->state = S_CODES;
			break;

		case S_CODES:
			for (;;) {
				unsigned used, u, e, len, dist;
				int sym;
				if (op == oend)
					goto out;
				REFILL();
				sym = decode(&z->lit, bits, nbits, &used);
				if (sym < 256) {
					if (sym == -1)
						goto out;
					if (sym < 0)
						FAIL("invalid literal/length code");
					DROP(used);
					win[wpos++ & WMASK] = (uint8_t)sym;
					*op++ = (uint8_t)sym;
					continue;
				}
				if (sym == 256) {
					DROP(used);
					z->state = z->final ? S_TRAILER : S_BLOCK;
					break;
				}
				sym -= 257;
				if (sym >= 29)
					FAIL("invalid literal/length code");
				e = len_extra[sym];
				if (used + e > nbits)
					goto out;
				len = len_base[sym] + (unsigned)((bits >> used) & ((1u << e) - 1));
				used += e;
				sym = decode(&z->dst, bits >> used, nbits - used, &u);
				if (sym == -1)
					goto out;
				if (sym < 0 || sym >= 30)
					FAIL("invalid distance code");
				used += u;
				e = dist_extra[sym];
				if (used + e > nbits)
					goto out;
				dist = dist_base[sym] + (unsigned)((bits >> used) & ((1u << e) - 1));
				used += e;
				if (dist > z->total + (uint64_t)(op - mark))
					FAIL("invalid distance too far back");
				DROP(used);
				/* Copy what fits; the rest waits in S_COPY. */
				while (len && op < oend) {
					uint8_t b = win[(wpos - dist) & WMASK];
					win[wpos++ & WMASK] = b;
					*op++ = b;
					len--;
				}
				if (len) {
					z->len = len;
					z->dist = dist;
					z->state = S_COPY;
					goto out;
				}
			}
			break;
		case S_COPY:
			while (z->len && op < oend) {
				uint8_t b = win[(wpos - z->dist) & WMASK];
				win[wpos++ & WMASK] = b;
				*op++ = b;
				z->len--;
			}
			if (z->len)
				goto out;
			z->state = S_CODES;
			break;

		case S_TRAILER:
			if (z->fmt != INF_GZIP) {
				/* Hand back whole bytes read past the end, where
				 * they came from this call's input. */
				size_t back = nbits >> 3;
				if (back > (size_t)(ip - in))
					back = (size_t)(ip - in);
				ip -= back;
				bits = 0;
				nbits = 0;
				z->state = S_END;
				goto out;
			}
			DROP(nbits & 7);
			while (z->hcount < 8) {
				NEED(8);
				z->trailer[z->hcount++] = (uint8_t)bits;
				DROP(8);
			}
			z->hcount = 0;
			ACCOUNT();
			if (le32(z->trailer) != z->crc)
				FAIL("gzip checksum mismatch");
			if (le32(z->trailer + 4) != (uint32_t)z->total)
				FAIL("gzip length mismatch");
			z->state = S_END;
			goto out;

		case S_END:
			if (z->fmt != INF_GZIP)
				goto out;
			/* Trailing zeros are tolerated (as gzip does); anything
			 * else must be another member. */
			for (;;) {
				REFILL();
				if (nbits < 8)
					goto out;
				if ((uint8_t)bits)
					break;
				DROP(8);
			}
			z->state = S_GZ_HEAD;
			z->fixed_loaded = 0;
			break;

		case S_ERR:
		default:
			goto out;
		}
	}

out:
	z->wpos = wpos;
	ACCOUNT();
	z->bits = bits;
	z->nbits = nbits;
	*in_len = (size_t)(ip - in);
	*out_len = (size_t)(op - out);
	if (z->state == S_ERR)
		return INF_ERR;
	return z->state == S_END ? INF_END : INF_MORE;
#undef REFILL
#undef NEED
#undef DROP
#undef FAIL
#undef ACCOUNT
}
