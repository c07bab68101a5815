/* util.c - clocks, RFC 3339 time stamps, constant-time compare, base64,
 * small string helpers, randomness, fd flags. Depends on libc only. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uint64_t util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t util_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t util_rfc3339_now(char *out)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return util_rfc3339(out, (int64_t)ts.tv_sec, ts.tv_nsec);
}

/* Days since 1970-01-01 to a proleptic Gregorian date. Works in 400-year
 * eras (146097 days each) counted from 0000-03-01, so the leap day is the
 * last day of each shifted year and needs no special case. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468; /* 1970-01-01 is day 719468 after 0000-03-01 */
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;                                      /* [0, 146096] */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
	mp = (5 * doy + 2) / 153;                                    /* March = 0 */
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static char *put_dec(char *p, unsigned v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

/* Seconds from the epoch to 0000-01-01 and to 9999-12-31T23:59:59: the
 * range a four-digit year can express; anything outside is clamped. */
#define UTIL_SEC_MIN (-62167219200LL)
#define UTIL_SEC_MAX 253402300799LL

size_t util_rfc3339(char *out, int64_t sec, long nsec)
{
	int64_t days, rem, y;
	int m, d, i;
	char *p = out;

	if (nsec < 0 || nsec > 999999999)
		nsec = 0;
	if (sec < UTIL_SEC_MIN)
		sec = UTIL_SEC_MIN, nsec = 0;
	if (sec > UTIL_SEC_MAX)
		sec = UTIL_SEC_MAX, nsec = 0;
	days = sec / 86400;
	rem = sec % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	p = put_dec(p, (unsigned)y, 4);
	*p++ = '-';
	p = put_dec(p, (unsigned)m, 2);
	*p++ = '-';
	p = put_dec(p, (unsigned)d, 2);
	*p++ = 'T';
	p = put_dec(p, (unsigned)(rem / 3600), 2);
	*p++ = ':';
	p = put_dec(p, (unsigned)(rem / 60 % 60), 2);
	*p++ = ':';
	p = put_dec(p, (unsigned)(rem % 60), 2);
	if (nsec) {
		*p++ = '.';
		p = put_dec(p, (unsigned)nsec, 9);
		for (i = 0; i < 8 && p[-1] == '0'; i++)
			p--;
	}
	*p++ = 'Z';
	*p = '\0';
	return (size_t)(p - out);
}

bool util_ct_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	const unsigned char *x = a, *y = b;
	size_t n = alen > blen ? alen : blen, i;
	unsigned diff = alen != blen;

	/* Every byte position up to the longer length is visited, so the
	 * time taken reveals the lengths and nothing about the contents. */
	for (i = 0; i < n; i++) {
		unsigned cx = i < alen ? x[i] : 0;
		unsigned cy = i < blen ? y[i] : 0;
		diff |= cx ^ cy;
	}
	return diff == 0;
}

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63, or -1 for anything outside both alphabets (including '='). */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

long util_b64_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
	size_t len = n, pad = 0, outlen, i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (len > 0 && in[len - 1] == '=' && pad < 3) {
		len--;
		pad++;
	}
	/* Padding, when present, must complete the last quantum exactly. */
	if (pad > 2 || (pad && n % 4 != 0) || len % 4 == 1)
		return -1;
	outlen = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (outlen > cap || outlen > (size_t)LONG_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		int v = b64_value((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover low bits of the last character are ignored, not rejected. */
	return (long)o;
}

size_t util_b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_chars[v >> 18];
		out[o++] = b64_chars[v >> 12 & 63];
		out[o++] = b64_chars[v >> 6 & 63];
		out[o++] = b64_chars[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = b64_chars[v >> 18];
		out[o++] = b64_chars[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64_chars[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

bool util_ieq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++)
		if (b[i] == '\0' || ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	return b[alen] == '\0';
}

bool util_eq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++)
		if (b[i] == '\0' || a[i] != b[i])
			return false;
	return b[alen] == '\0';
}

bool util_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - (unsigned)'0';
		if (d > 9)
			return false;
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static int read_urandom(unsigned char *p, size_t n)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	close(fd);
	return 0;
}

int util_random(void *out, size_t n)
{
	unsigned char *p = out;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) /* ENOSYS on old kernels, EPERM under some seccomp */
			return read_urandom(p, n);
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int util_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -1;
	return 0;
}
