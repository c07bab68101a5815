/* util.h - time, constant-time compare, base64, small string helpers.
 * Depends on nothing but libc. */
#ifndef BASE_UTIL_H
#define BASE_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint64_t util_mono_ms(void);        /* CLOCK_MONOTONIC in ms */
int64_t util_unix_ms(void);         /* wall clock, ms since epoch */
/* RFC 3339 UTC with 'Z', fractional seconds with trailing zeros dropped
 * (none at all if zero). out must hold 40 bytes. Returns length. */
size_t util_rfc3339_now(char *out);
size_t util_rfc3339(char *out, int64_t sec, long nsec);

/* Constant-time equality: time depends only on the lengths. */
bool util_ct_eq(const void *a, size_t alen, const void *b, size_t blen);

/* Decodes standard or URL-safe base64, padded or not, into out (cap bytes).
 * Returns decoded length, or -1 on invalid input or overflow. */
long util_b64_decode(const char *in, size_t n, unsigned char *out, size_t cap);
/* Encodes standard padded base64. out needs 4*((n+2)/3)+1. Returns length. */
size_t util_b64_encode(const unsigned char *in, size_t n, char *out);

bool util_ieq(const char *a, size_t alen, const char *b); /* ASCII case-insensitive, b NUL-terminated */
bool util_eq(const char *a, size_t alen, const char *b);  /* exact, b NUL-terminated */
/* Parses an unsigned decimal (no sign, no spaces, no overflow). */
bool util_parse_u64(const char *s, size_t n, uint64_t *out);
/* Fills out with n random bytes from getrandom/urandom. Returns 0 or -1. */
int util_random(void *out, size_t n);
/* Sets O_NONBLOCK and FD_CLOEXEC. */
int util_set_nonblock(int fd);

#endif
