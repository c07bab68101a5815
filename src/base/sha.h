/* sha.h - SHA-1/256/512 digests (BearSSL's implementations behind one
 * small streaming interface) and parsing of the two digest spellings
 * registries use: Subresource Integrity ("sha512-<base64>") and hex.
 * Depends on libc and BearSSL's hash functions only. */
#ifndef BASE_SHA_H
#define BASE_SHA_H
#include <stdbool.h>
#include <stddef.h>
#include <bearssl_hash.h>

enum { SHA_NONE = 0, SHA_1, SHA_256, SHA_512 };
#define SHA_MAX 64 /* largest digest in bytes */

typedef struct {
	int alg;
	union {
		br_sha1_context s1;
		br_sha256_context s256;
		br_sha512_context s512;
	} u;
} sha_ctx;

size_t sha_size(int alg);         /* digest bytes, 0 for SHA_NONE */
const char *sha_name(int alg);    /* "sha512", ... */
void sha_init(sha_ctx *c, int alg);
void sha_update(sha_ctx *c, const void *p, size_t n);
void sha_final(const sha_ctx *c, unsigned char *out); /* sha_size(alg) bytes */
void sha256(const void *p, size_t n, unsigned char out[32]);

/* An SRI value: space-separated "alg-base64" items (options after '?'
 * ignored). Picks the strongest supported algorithm. Returns true and
 * fills alg + digest (SHA_MAX bytes), or false if none is usable. */
bool sha_parse_sri(const char *s, int *alg, unsigned char *digest);
/* Hex digest of exactly sha_size(alg) bytes, either case. */
bool sha_parse_hex(const char *s, size_t n, int alg, unsigned char *digest);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void sha_hex(const unsigned char *d, size_t n, char *out);

#endif
