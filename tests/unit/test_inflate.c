/* test_inflate.c - the DEFLATE/gzip decoder: small vectors made with
 * zlib, hand-built error streams, fixtures decoded with every way of
 * splitting input and output, multi-member gzip, CRC-32. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/inflate.h"
#include "t.h"

#define FIX "tests/unit/fixtures/inflate/"

static const unsigned char gz_empty[] = {
	0x1f,0x8b,0x08,0x00,0x00,0x00,0x00,0x00,0x00,0x03,0x03,0x00,0x00,0x00,0x00,0x00,
	0x00,0x00,0x00,0x00,
};
static const unsigned char raw_hello[] = {
	0xcb,0x48,0xcd,0xc9,0xc9,0x57,0xc8,0x40,0x27,0x15,0x01,
};
static const unsigned char gz_flags[] = {
	0x1f,0x8b,0x08,0x1e,0x00,0x00,0x00,0x00,0x00,0x03,0x04,0x00,0x61,0x62,0x63,0x64,
	0x6e,0x61,0x6d,0x65,0x2e,0x74,0x78,0x74,0x00,0x61,0x20,0x63,0x6f,0x6d,0x6d,0x65,
	0x6e,0x74,0x00,0x77,0xa8,0x4b,0xcb,0x49,0x4c,0x2f,0x56,0x28,0x49,0x2d,0x2e,0x51,
	0x28,0x48,0xac,0xcc,0xc9,0x4f,0x4c,0xe1,0x02,0x00,0x6a,0x47,0x91,0xd7,0x13,0x00,
	0x00,0x00,
};
static const unsigned char raw_stored[] = {
	0x01,0x27,0x00,0xd8,0xff,0x73,0x74,0x6f,0x72,0x65,0x64,0x20,0x62,0x79,0x74,0x65,
	0x73,0x20,0x73,0x74,0x6f,0x72,0x65,0x64,0x20,0x62,0x79,0x74,0x65,0x73,0x20,0x73,
	0x74,0x6f,0x72,0x65,0x64,0x20,0x62,0x79,0x74,0x65,0x73,0x20,
};
static const unsigned char far_back[] = {0x03, 0x02, 0x00};
static const unsigned char aaaa[] = {0x4b, 0x04, 0x02, 0x00};
static const unsigned char dist30[] = {0x4b, 0x04, 0x3e, 0x00};
static const unsigned char lit286[] = {0x1b, 0x03, 0x00};
static const unsigned char bad_type[] = {0x07};
static const unsigned char bad_stored[] = {0x01, 0x05, 0x00, 0x00, 0x00};

static inf_t z;

/* Decodes in[0..n) feeding at most ichunk bytes and offering at most
 * ochunk bytes of room per call (0: everything). Returns the output
 * (malloc) and its length; *rc is the last return value. */
static unsigned char *run(int fmt, const unsigned char *in, size_t n, size_t ichunk,
		size_t ochunk, size_t *outn, int *rc)
{
	size_t cap = 1 << 16, len = 0, off = 0;
	unsigned char *out = malloc(cap);
	inf_init(&z, fmt);
	*rc = INF_MORE;
	for (int guard = 0; guard < 100000000; guard++) {
		size_t il = n - off, ol;
		if (ichunk && il > ichunk)
			il = ichunk;
		if (cap - len < 65536) {
			cap *= 2;
			out = realloc(out, cap);
		}
		ol = cap - len;
		if (ochunk && ol > ochunk)
			ol = ochunk;
		*rc = inf_step(&z, in + off, &il, out + len, &ol);
		off += il;
		len += ol;
		if (*rc == INF_ERR || (*rc == INF_END && off == n))
			break;
		if (il == 0 && ol == 0 && off == n)
			break;
	}
	*outn = len;
	return out;
}

static unsigned char *load(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(*n + 1);
	if (fread(b, 1, *n, f) != *n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

/* The fixtures' plain text, regenerated the way they were made. */
static const char *const words[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy",
	"dog", "agent", "sandbox", "stream", "inflate", "window", "huffman", "literal",
	"distance", "length", "block", "header", "trailer", "alpha", "beta", "gamma", "delta"};

static unsigned char *lcg_text(size_t n)
{
	unsigned char *b = malloc(n + 32);
	uint32_t s = 12345;
	size_t len = 0, count = 0;
	while (len < n) {
		s = s * 1103515245u + 12345u;
		const char *w = words[(s >> 16) % 24];
		size_t k = strlen(w);
		memcpy(b + len, w, k);
		len += k;
		b[len++] = ++count % 12 == 0 ? '\n' : ' ';
	}
	return b;
}

static void lcg_bytes(unsigned char *b, size_t n)
{
	uint32_t s = 777;
	for (size_t i = 0; i < n; i++) {
		s = s * 1103515245u + 12345u;
		b[i] = (unsigned char)(s >> 16);
	}
}

static void expect_ok(int fmt, const unsigned char *in, size_t n, const char *want)
{
	size_t on;
	int rc;
	unsigned char *o = run(fmt, in, n, 0, 0, &on, &rc);
	CHECK_INT(rc, INF_END);
	CHECK_MEM(o, on, want);
	free(o);
	/* byte by byte, both ways */
	o = run(fmt, in, n, 1, 1, &on, &rc);
	CHECK_INT(rc, INF_END);
	CHECK_MEM(o, on, want);
	free(o);
}

static void expect_err(int fmt, const unsigned char *in, size_t n, const char *msg)
{
	size_t on;
	int rc;
	unsigned char *o = run(fmt, in, n, 0, 0, &on, &rc);
	CHECK_INT(rc, INF_ERR);
	CHECK_STR(z.err, msg);
	free(o);
	/* the error is sticky */
	size_t il = n, ol = 16;
	unsigned char tmp[16];
	CHECK_INT(inf_step(&z, in, &il, tmp, &ol), INF_ERR);
}

static void fixtures(void)
{
	size_t gn, dn, on;
	int rc;
	unsigned char *gz = load(FIX "words.gz", &gn), *df = load(FIX "mixed.deflate", &dn);
	unsigned char *text = lcg_text(300000), *mix = malloc(120000);
	CHECK(gz && df);
	if (!gz || !df)
		return;
	memcpy(mix, text, 50000);
	lcg_bytes(mix + 50000, 20000);
	memcpy(mix + 70000, text, 50000);
	static const size_t splits[][2] = {{0, 0}, {1, 1}, {1, 0}, {0, 1}, {7, 258}, {4096, 3},
		{65536, 65536}, {13, 32769}};
	for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
		unsigned char *o = run(INF_GZIP, gz, gn, splits[i][0], splits[i][1], &on, &rc);
		CHECK_INT(rc, INF_END);
		CHECK(on == 300000 && !memcmp(o, text, 300000));
		free(o);
		o = run(INF_RAW, df, dn, splits[i][0], splits[i][1], &on, &rc);
		CHECK_INT(rc, INF_END);
		CHECK(on == 120000 && !memcmp(o, mix, 120000));
		free(o);
	}
	/* truncated anywhere: never INF_END, never an overrun */
	for (size_t cut = 0; cut < gn; cut += gn / 37 + 1) {
		unsigned char *o = run(INF_GZIP, gz, cut, 0, 0, &on, &rc);
		CHECK(rc == INF_MORE || rc == INF_ERR);
		CHECK(!inf_done(&z));
		CHECK(on <= 300000 && !memcmp(o, text, on));
		free(o);
	}
	/* two members, then trailing zeros */
	unsigned char *two = malloc(2 * gn + 8);
	memcpy(two, gz, gn);
	memcpy(two + gn, gz, gn);
	memset(two + 2 * gn, 0, 8);
	unsigned char *o = run(INF_GZIP, two, 2 * gn + 8, 1000, 0, &on, &rc);
	CHECK_INT(rc, INF_END);
	CHECK(on == 600000 && !memcmp(o, text, 300000) && !memcmp(o + 300000, text, 300000));
	free(o);
	/* ... but garbage after a member is an error */
	memcpy(two + gn, "garbage!", 8);
	o = run(INF_GZIP, two, gn + 8, 0, 0, &on, &rc);
	CHECK_INT(rc, INF_ERR);
	free(o);
	/* a flipped bit in the middle is caught (bad code or bad CRC) */
	gz[gn / 2] ^= 0x10;
	o = run(INF_GZIP, gz, gn, 0, 0, &on, &rc);
	CHECK_INT(rc, INF_ERR);
	free(o);
	free(two);
	free(gz);
	free(df);
	free(text);
	free(mix);
}

int main(void)
{
	unsigned char buf[256];

	CHECK_INT(inf_crc32(0, "123456789", 9), 0xcbf43926u);
	CHECK_INT(inf_crc32(inf_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
	CHECK_INT(inf_crc32(0, "", 0), 0);

	expect_ok(INF_GZIP, gz_empty, sizeof gz_empty, "");
	expect_ok(INF_RAW, raw_hello, sizeof raw_hello, "hello hello hello hello!");
	expect_ok(INF_GZIP, gz_flags, sizeof gz_flags, "flags test payload\n");
	expect_ok(INF_RAW, raw_stored, sizeof raw_stored, "stored bytes stored bytes stored bytes ");
	expect_ok(INF_RAW, aaaa, sizeof aaaa, "aaaa");

	expect_err(INF_RAW, far_back, sizeof far_back, "invalid distance too far back");
	expect_err(INF_RAW, dist30, sizeof dist30, "invalid distance code");
	expect_err(INF_RAW, lit286, sizeof lit286, "invalid literal/length code");
	expect_err(INF_RAW, bad_type, sizeof bad_type, "invalid block type");
	expect_err(INF_RAW, bad_stored, sizeof bad_stored, "invalid stored block lengths");
	expect_err(INF_GZIP, raw_hello, sizeof raw_hello, "not gzip data");
	memcpy(buf, gz_flags, sizeof gz_flags);
	buf[sizeof gz_flags - 8] ^= 1;
	expect_err(INF_GZIP, buf, sizeof gz_flags, "gzip checksum mismatch");
	memcpy(buf, gz_flags, sizeof gz_flags);
	buf[sizeof gz_flags - 4] ^= 1;
	expect_err(INF_GZIP, buf, sizeof gz_flags, "gzip length mismatch");
	memcpy(buf, gz_flags, sizeof gz_flags);
	buf[3] |= 0x80;
	expect_err(INF_GZIP, buf, sizeof gz_flags, "reserved gzip flags set");

	/* raw mode hands back the bytes after the stream */
	{
		unsigned char in[sizeof raw_hello + 3];
		size_t il = sizeof in, ol = sizeof buf;
		memcpy(in, raw_hello, sizeof raw_hello);
		memcpy(in + sizeof raw_hello, "XYZ", 3);
		inf_init(&z, INF_RAW);
		CHECK_INT(inf_step(&z, in, &il, buf, &ol), INF_END);
		CHECK_INT(il, sizeof raw_hello);
		CHECK_MEM(buf, ol, "hello hello hello hello!");
		CHECK(inf_done(&z));
	}
	/* zero-sized buffers make no progress and no error */
	{
		size_t il = 0, ol = 0;
		inf_init(&z, INF_GZIP);
		CHECK_INT(inf_step(&z, gz_flags, &il, buf, &ol), INF_MORE);
		il = sizeof gz_flags;
		ol = 0;
		CHECK_INT(inf_step(&z, gz_flags, &il, buf, &ol), INF_MORE);
		CHECK_INT(ol, 0);
	}
	fixtures();
	return t_done("inflate");
}
