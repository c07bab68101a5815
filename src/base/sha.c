/* sha.c - see sha.h. The digests are BearSSL's; this file only picks
 * the algorithm and parses the textual forms. */
#include <string.h>

#include "sha.h"
#include "util.h"

size_t sha_size(int alg)
{
	switch (alg) {
	case SHA_1: return 20;
	case SHA_256: return 32;
	case SHA_512: return 64;
	default: return 0;
	}
}

const char *sha_name(int alg)
{
	switch (alg) {
	case SHA_1: return "sha1";
	case SHA_256: return "sha256";
	case SHA_512: return "sha512";
	default: return "none";
	}
}

void sha_init(sha_ctx *c, int alg)
{
	c->alg = alg;
	switch (alg) {
	case SHA_1: br_sha1_init(&c->u.s1); break;
	case SHA_256: br_sha256_init(&c->u.s256); break;
	case SHA_512: br_sha512_init(&c->u.s512); break;
	default: break;
	}
}

void sha_update(sha_ctx *c, const void *p, size_t n)
{
	switch (c->alg) {
	case SHA_1: br_sha1_update(&c->u.s1, p, n); break;
	case SHA_256: br_sha256_update(&c->u.s256, p, n); break;
	case SHA_512: br_sha512_update(&c->u.s512, p, n); break;
	default: break;
	}
}

void sha_final(const sha_ctx *c, unsigned char *out)
{
	switch (c->alg) {
	case SHA_1: br_sha1_out(&c->u.s1, out); break;
	case SHA_256: br_sha256_out(&c->u.s256, out); break;
	case SHA_512: br_sha512_out(&c->u.s512, out); break;
	default: break;
	}
}

void sha256(const void *p, size_t n, unsigned char out[32])
{
	sha_ctx c;
	sha_init(&c, SHA_256);
	sha_update(&c, p, n);
	sha_final(&c, out);
}

static int alg_of(const char *s, size_t n)
{
	if (n == 6 && !memcmp(s, "sha512", 6))
		return SHA_512;
	if (n == 6 && !memcmp(s, "sha256", 6))
		return SHA_256;
	if (n == 4 && !memcmp(s, "sha1", 4))
		return SHA_1;
	return SHA_NONE;
}

bool sha_parse_sri(const char *s, int *alg, unsigned char *digest)
{
	unsigned char d[SHA_MAX + 3];
	int best = SHA_NONE;

	while (s && *s) {
		size_t n, dash, end;
		while (*s == ' ' || *s == '\t')
			s++;
		n = strcspn(s, " \t");
		dash = strcspn(s, "-");
		if (dash < n) {
			int a = alg_of(s, dash);
			end = strcspn(s, "? \t");
			if (a > best) {
				long k = util_b64_decode(s + dash + 1, end - dash - 1, d, sizeof d);
				if (k >= 0 && (size_t)k == sha_size(a)) {
					best = a;
					memcpy(digest, d, (size_t)k);
				}
			}
		}
		s += n;
	}
	*alg = best;
	return best != SHA_NONE;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool sha_parse_hex(const char *s, size_t n, int alg, unsigned char *digest)
{
	size_t want = sha_size(alg);
	if (!want || n != 2 * want)
		return false;
	for (size_t i = 0; i < want; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		digest[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

void sha_hex(const unsigned char *d, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * n] = 0;
}
