/* inflate.h - streaming DEFLATE (RFC 1951) decoder with an optional gzip
 * (RFC 1952) wrapper. The caller owns the state (about 38 KiB, no
 * allocation: the 32 KiB history window and the Huffman tables live in
 * it), feeds input in pieces of any size and drains output into buffers
 * of any size, so memory stays bounded whatever the stream claims.
 * Depends on libc only. */
#ifndef BASE_INFLATE_H
#define BASE_INFLATE_H
#include <stddef.h>
#include <stdint.h>

#define INF_WSIZE 32768u  /* history window: the longest DEFLATE distance */
#define INF_FAST_BITS 10  /* Huffman codes up to this length decode by table */

enum { INF_RAW = 0, INF_GZIP = 1 };
enum { INF_MORE = 0, INF_END = 1, INF_ERR = -1 };

typedef struct {
	uint16_t fast[1u << INF_FAST_BITS]; /* (length << 9) | symbol; 0: longer code */
	uint16_t count[16];                 /* codes per length */
	uint16_t symbol[320];               /* symbols in canonical order */
} inf_huff;

typedef struct {
	int state;
	int fmt;
	const char *err;   /* set on INF_ERR; static text */
	uint64_t bits;     /* bit accumulator, LSB first */
	unsigned nbits;
	int final;         /* the current block is the last one */
	unsigned len;      /* stored block bytes left, or match bytes left */
	unsigned dist;     /* match distance */
	unsigned nlen, ndist, ncode, idx; /* dynamic header */
	uint8_t lens[320];
	int fixed_loaded;  /* lit/dist tables hold the fixed code */
	inf_huff lit, dst, cl;
	uint32_t wpos;     /* bytes ever written, modulo 2^32 */
	uint64_t total;    /* output bytes of the current member */
	/* gzip */
	uint8_t flg;
	unsigned hcount;   /* header/trailer byte counter */
	unsigned xlen;
	uint32_t crc;
	uint8_t trailer[8];
	uint8_t win[INF_WSIZE];
} inf_t;

void inf_init(inf_t *z, int fmt);
/* Decodes as much as possible. On entry *in_len and *out_len are the bytes
 * available/space free; on return, the bytes consumed/produced. Returns
 * INF_MORE (give more input, or more room if *out_len was filled),
 * INF_END (the stream, or gzip member, is complete; bytes after it are
 * left unconsumed for INF_RAW; for INF_GZIP a following gzip member is
 * decoded on the next call and trailing zero bytes are skipped), or
 * INF_ERR with z->err set (sticky). */
int inf_step(inf_t *z, const uint8_t *in, size_t *in_len, uint8_t *out, size_t *out_len);
/* True when the last call ended on a stream (or member) boundary. */
int inf_done(const inf_t *z);

/* CRC-32 (IEEE, as gzip and zip use it). Start with crc = 0. */
uint32_t inf_crc32(uint32_t crc, const void *p, size_t n);

#endif
