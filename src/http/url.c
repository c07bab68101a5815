/* url.c - percent-decoding and query-string iteration for request
 * targets. Pure functions over caller bytes. Depends on http.h and libc. */
#include <limits.h>

#include "http.h"

static int hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decoded text goes into C strings and file paths, so a NUL is refused
 * whether it arrives encoded (%00) or raw. Writing never overtakes
 * reading, which is what makes out == in safe. */
long http_pct_decode(const char *in, size_t n, char *out, bool plus_space)
{
	size_t i = 0, o = 0;
	int hi, lo;

	if (n > (size_t)LONG_MAX)
		return -1;
	while (i < n) {
		unsigned char c = (unsigned char)in[i];
		if (c == '%') {
			if (n - i < 3 || (hi = hex((unsigned char)in[i + 1])) < 0 ||
			    (lo = hex((unsigned char)in[i + 2])) < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 3;
		} else {
			if (c == '+' && plus_space)
				c = ' ';
			i++;
		}
		if (c == '\0')
			return -1;
		out[o++] = (char)c;
	}
	return (long)o;
}

bool http_query_next(const char *q, size_t qlen, size_t *pos, const char **key,
		size_t *key_len, const char **value, size_t *value_len)
{
	size_t i = *pos, s, eq;

	while (i < qlen && q[i] == '&')
		i++; /* empty pieces: "a=1&&b=2", a leading or trailing '&' */
	if (i >= qlen) {
		*pos = qlen;
		return false;
	}
	s = i;
	while (i < qlen && q[i] != '&')
		i++;
	*pos = i;
	for (eq = s; eq < i && q[eq] != '='; eq++)
		;
	*key = q + s;
	*key_len = eq - s;
	if (eq < i) {
		*value = q + eq + 1;
		*value_len = i - eq - 1;
	} else {
		*value = q + eq;
		*value_len = 0;
	}
	return true;
}
