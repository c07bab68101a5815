/* test_base.c - buf, log level parsing, util: base64, constant-time
 * compare, RFC 3339 formatting, decimal parsing, string helpers. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "t.h"

static void test_buf(void)
{
	buf_t b;
	size_t i;

	buf_init(&b);
	CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
	CHECK_STR(buf_cstr(&b), "");
	CHECK_INT(b.len, 0);
	CHECK_INT(b.cap, 64);

	buf_puts(&b, "hello");
	buf_putc(&b, ' ');
	buf_append(&b, "world!!", 5);
	CHECK_MEM(b.p, b.len, "hello world");
	CHECK_STR(buf_cstr(&b), "hello world");
	CHECK_INT(b.len, 11);

	/* doubling growth */
	for (i = 0; i < 100; i++)
		buf_putc(&b, 'x');
	CHECK_INT(b.len, 111);
	CHECK_INT(b.cap, 128);
	buf_reserve(&b, 1000);
	CHECK(b.cap >= 1111);
	CHECK_INT(b.cap, 2048);

	buf_consume(&b, 6);
	CHECK_INT(b.len, 105);
	CHECK_MEM(b.p, 5, "world");
	buf_consume(&b, 1000);
	CHECK_INT(b.len, 0);
	CHECK_INT(b.cap, 2048);

	buf_printf(&b, "%d-%s-%c", 42, "abc", 'z');
	CHECK_STR(buf_cstr(&b), "42-abc-z");
	/* printf that does not fit in the remaining capacity */
	buf_reset(&b);
	CHECK_INT(b.len, 0);
	buf_shrink(&b); /* len 0: memory released */
	CHECK(b.p == NULL && b.cap == 0);
	buf_puts(&b, "ab");
	buf_printf(&b, "%0300d|", 7);
	CHECK_INT(b.len, 303);
	CHECK(b.p[0] == 'a' && b.p[2] == '0' && b.p[301] == '7' && b.p[302] == '|');
	buf_printf(&b, "%s", "");
	CHECK_INT(b.len, 303);

	/* shrink keeps small buffers, releases big mostly-empty ones */
	buf_shrink(&b);
	CHECK_INT(b.cap, 512);
	buf_reserve(&b, 200000);
	CHECK(b.cap > 4 * b.len && b.cap > 65536);
	buf_shrink(&b);
	CHECK(b.cap >= b.len && b.cap < 65536);
	CHECK(b.p[301] == '7' && b.len == 303);
	buf_free(&b);
	CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
	buf_free(&b); /* twice is fine */

	{
		char *s = xstrdup("abc"), *t = xstrndup("abcdef", 4), *u = xstrndup("ab", 10);
		CHECK_STR(s, "abc");
		CHECK_STR(t, "abcd");
		CHECK_STR(u, "ab");
		free(s);
		free(t);
		free(u);
	}
}

static long dec(const char *s, char *out, size_t cap)
{
	long n = util_b64_decode(s, strlen(s), (unsigned char *)out, cap);
	if (n >= 0)
		out[n] = '\0';
	return n;
}

static void test_b64(void)
{
	static const char *const vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	char enc[64], out[64];
	size_t i;

	for (i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		size_t n = util_b64_encode((const unsigned char *)vec[i][0], strlen(vec[i][0]), enc);
		CHECK_INT(n, strlen(vec[i][1]));
		CHECK_STR(enc, vec[i][1]);
		CHECK_INT(dec(vec[i][1], out, sizeof out), strlen(vec[i][0]));
		CHECK_STR(out, vec[i][0]);
	}
	/* unpadded */
	CHECK_INT(dec("Zg", out, sizeof out), 1);
	CHECK_STR(out, "f");
	CHECK_INT(dec("Zm8", out, sizeof out), 2);
	CHECK_STR(out, "fo");
	CHECK_INT(dec("Zm9vYmE", out, sizeof out), 5);
	CHECK_STR(out, "fooba");
	/* both alphabets: 0xfb 0xff 0xbf */
	{
		const unsigned char raw[] = { 0xfb, 0xff, 0xbf, 0xfe };
		unsigned char o[8];
		CHECK_INT(util_b64_encode(raw, 4, enc), 8);
		CHECK_STR(enc, "+/+//g==");
		CHECK_INT(util_b64_decode("+/+//g==", 8, o, sizeof o), 4);
		CHECK(memcmp(o, raw, 4) == 0);
		memset(o, 0, sizeof o);
		CHECK_INT(util_b64_decode("-_-__g", 6, o, sizeof o), 4);
		CHECK(memcmp(o, raw, 4) == 0);
		CHECK_INT(util_b64_decode("-_-__g==", 8, o, sizeof o), 4);
	}
	/* non-zero trailing bits are tolerated */
	CHECK_INT(dec("Zh==", out, sizeof out), 1);
	CHECK_STR(out, "f");
	CHECK_INT(dec("Zm9=", out, sizeof out), 2);
	/* invalid */
	CHECK_INT(dec("Z", out, sizeof out), -1);
	CHECK_INT(dec("Zm9vY", out, sizeof out), -1);
	CHECK_INT(dec("Zg=", out, sizeof out), -1);
	CHECK_INT(dec("Zg===", out, sizeof out), -1);
	CHECK_INT(dec("Z===", out, sizeof out), -1);
	CHECK_INT(dec("====", out, sizeof out), -1);
	CHECK_INT(dec("=", out, sizeof out), -1);
	CHECK_INT(dec("Zm=v", out, sizeof out), -1);
	CHECK_INT(dec("Zg==Zg==", out, sizeof out), -1);
	CHECK_INT(dec("Zm9v Zg==", out, sizeof out), -1);
	CHECK_INT(dec("Zm9v\n", out, sizeof out), -1);
	CHECK_INT(dec("Zm9*", out, sizeof out), -1);
	CHECK_INT(dec("Zm9v.mFy", out, sizeof out), -1);
	CHECK_INT(util_b64_decode("Zm9v\0mFy", 8, (unsigned char *)out, sizeof out), -1);
	/* output capacity */
	CHECK_INT(dec("Zm9vYmFy", out, 6), 6);
	CHECK_INT(util_b64_decode("Zm9vYmFy", 8, (unsigned char *)out, 5), -1);
	CHECK_INT(util_b64_decode("Zm9vYg", 6, (unsigned char *)out, 4), 4);
	CHECK_INT(util_b64_decode("Zm9vYg", 6, (unsigned char *)out, 3), -1);
	CHECK_INT(util_b64_decode("", 0, NULL, 0), 0);

	/* every byte value round-trips */
	{
		unsigned char raw[256], back[256];
		char e[400];
		size_t n;
		for (i = 0; i < 256; i++)
			raw[i] = (unsigned char)i;
		for (i = 0; i <= 256; i += 37) {
			n = util_b64_encode(raw + (256 - i) / 2, i, e);
			CHECK_INT(n, 4 * ((i + 2) / 3));
			CHECK_INT(util_b64_decode(e, n, back, sizeof back), i);
			CHECK(memcmp(back, raw + (256 - i) / 2, i) == 0);
		}
	}
}

static void test_ct_eq(void)
{
	CHECK(util_ct_eq("secret", 6, "secret", 6));
	CHECK(!util_ct_eq("secret", 6, "secreT", 6));
	CHECK(!util_ct_eq("secret", 6, "secret2", 7));
	CHECK(!util_ct_eq("secret2", 7, "secret", 6));
	CHECK(!util_ct_eq("", 0, "a", 1));
	CHECK(util_ct_eq("", 0, "", 0));
	CHECK(util_ct_eq(NULL, 0, NULL, 0));
	/* a shorter string padded with zeros still differs by length */
	CHECK(!util_ct_eq("ab\0", 3, "ab", 2));
	CHECK(!util_ct_eq("xbc", 3, "abc", 3));
}

static void rfc(int64_t sec, long nsec, const char *want)
{
	char out[40];
	size_t n = util_rfc3339(out, sec, nsec);
	CHECK_STR(out, want);
	CHECK_INT(n, strlen(want));
}

static void test_rfc3339(void)
{
	char out[40];
	size_t n;

	rfc(0, 0, "1970-01-01T00:00:00Z");
	rfc(951782400, 0, "2000-02-29T00:00:00Z");
	rfc(951868799, 0, "2000-02-29T23:59:59Z");
	rfc(951868800, 0, "2000-03-01T00:00:00Z");
	rfc(1709164800, 0, "2024-02-29T00:00:00Z");
	rfc(4107542400, 0, "2100-03-01T00:00:00Z"); /* 2100 is not a leap year */
	rfc(4107456000, 0, "2100-02-28T00:00:00Z");
	rfc(1770632430, 123456789, "2026-02-09T10:20:30.123456789Z");
	rfc(1770632430, 100000000, "2026-02-09T10:20:30.1Z");
	rfc(1770632430, 120000000, "2026-02-09T10:20:30.12Z");
	rfc(1770632430, 1, "2026-02-09T10:20:30.000000001Z");
	rfc(1770632430, 1000, "2026-02-09T10:20:30.000001Z");
	rfc(1798761599, 999000000, "2026-12-31T23:59:59.999Z");
	rfc(-1, 0, "1969-12-31T23:59:59Z");
	rfc(-86400 * 365, 0, "1969-01-01T00:00:00Z");
	rfc(-2208988800LL, 0, "1900-01-01T00:00:00Z");
	rfc(253402300799LL, 0, "9999-12-31T23:59:59Z");
	rfc(INT64_MAX, 5, "9999-12-31T23:59:59Z"); /* clamped */
	rfc(INT64_MIN, 0, "0000-01-01T00:00:00Z");
	rfc(0, -5, "1970-01-01T00:00:00Z"); /* bad nsec ignored */

	n = util_rfc3339_now(out);
	CHECK(n >= 20 && n <= 30);
	CHECK(out[4] == '-' && out[10] == 'T' && out[n - 1] == 'Z');
	CHECK(util_unix_ms() > 1700000000000LL);
	{
		uint64_t a = util_mono_ms(), b = util_mono_ms();
		CHECK(b >= a);
	}
}

static void test_strings(void)
{
	uint64_t v = 7;

	CHECK(util_parse_u64("0", 1, &v) && v == 0);
	CHECK(util_parse_u64("12345", 5, &v) && v == 12345);
	CHECK(util_parse_u64("123456", 3, &v) && v == 123);
	CHECK(util_parse_u64("18446744073709551615", 20, &v) && v == UINT64_MAX);
	v = 7;
	CHECK(!util_parse_u64("18446744073709551616", 20, &v) && v == 7);
	CHECK(!util_parse_u64("99999999999999999999", 20, &v));
	CHECK(!util_parse_u64("184467440737095516150", 21, &v));
	CHECK(!util_parse_u64("", 0, &v));
	CHECK(!util_parse_u64("-1", 2, &v));
	CHECK(!util_parse_u64("+1", 2, &v));
	CHECK(!util_parse_u64(" 1", 2, &v));
	CHECK(!util_parse_u64("1 ", 2, &v));
	CHECK(!util_parse_u64("1a", 2, &v));
	CHECK(util_parse_u64("007", 3, &v) && v == 7);

	CHECK(util_ieq("Content-Length", 14, "content-length"));
	CHECK(util_ieq("ABC", 3, "abc"));
	CHECK(!util_ieq("ABC", 3, "abcd"));
	CHECK(!util_ieq("ABCD", 3, "abcd"));
	CHECK(util_ieq("ABCD", 3, "abc"));
	CHECK(!util_ieq("AB", 2, "abc"));
	CHECK(util_ieq("", 0, ""));
	CHECK(!util_ieq("[", 1, "{")); /* '[' is not 'A'+32 folding */
	CHECK(!util_ieq("@", 1, "`"));
	CHECK(util_eq("abc", 3, "abc"));
	CHECK(!util_eq("abc", 3, "ABC"));
	CHECK(!util_eq("abc", 2, "abc"));
	CHECK(util_eq("abc", 2, "ab"));
}

static void test_misc(void)
{
	unsigned char a[32], b[32];
	int p[2], fl;

	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	CHECK_INT(util_random(a, sizeof a), 0);
	CHECK_INT(util_random(b, sizeof b), 0);
	CHECK(memcmp(a, b, sizeof a) != 0);
	CHECK_INT(util_random(a, 0), 0);

	CHECK_INT(pipe(p), 0);
	CHECK_INT(util_set_nonblock(p[0]), 0);
	fl = fcntl(p[0], F_GETFL);
	CHECK(fl & O_NONBLOCK);
	fl = fcntl(p[0], F_GETFD);
	CHECK(fl & FD_CLOEXEC);
	close(p[0]);
	close(p[1]);
	CHECK_INT(util_set_nonblock(p[0]), -1);
}

static void test_log(void)
{
	setenv("SANDBOX_AGENT_LOG", "DeBuG", 1);
	log_init();
	CHECK(log_enabled(LOG_DEBUG));
	setenv("SANDBOX_AGENT_LOG", "warn", 1);
	log_init();
	CHECK(log_enabled(LOG_WARN) && log_enabled(LOG_ERROR) && !log_enabled(LOG_INFO));
	setenv("SANDBOX_AGENT_LOG", "ERROR", 1);
	log_init();
	CHECK(log_enabled(LOG_ERROR) && !log_enabled(LOG_WARN));
	setenv("SANDBOX_AGENT_LOG", "bogus", 1);
	log_init();
	CHECK(log_enabled(LOG_INFO) && !log_enabled(LOG_DEBUG));
	unsetenv("SANDBOX_AGENT_LOG");
	log_init();
	CHECK(log_enabled(LOG_INFO) && !log_enabled(LOG_DEBUG));

	/* capture stderr: format and truncation */
	{
		char got[8192], *big;
		int p[2], saved = dup(2);
		ssize_t n;

		CHECK_INT(pipe(p), 0);
		dup2(p[1], 2);
		errno = 1234;
		log_info("server listening on http://%s:%d", "127.0.0.1", 2468);
		CHECK_INT(errno, 1234); /* logging never clobbers errno */
		log_debug("hidden %d", 1);
		dup2(saved, 2);
		close(p[1]);
		n = read(p[0], got, sizeof got - 1);
		CHECK(n > 0);
		got[n > 0 ? n : 0] = '\0';
		/* 2026-11-26T09:00:00.123Z INFO server listening ... */
		CHECK_INT(n, 24 + 48);
		CHECK(got[4] == '-' && got[10] == 'T' && got[19] == '.' && got[23] == 'Z');
		CHECK_STR(got + 24, " INFO server listening on http://127.0.0.1:2468\n");
		close(p[0]);

		big = malloc(10000);
		memset(big, 'q', 9999);
		big[9999] = '\0';
		CHECK_INT(pipe(p), 0);
		dup2(p[1], 2);
		log_warn("%s", big);
		dup2(saved, 2);
		close(p[1]);
		n = read(p[0], got, sizeof got - 1);
		CHECK_INT(n, 4096);
		CHECK(n == 4096 && memcmp(got + 4092, "...\n", 4) == 0);
		CHECK(memcmp(got + 24, " WARN qqq", 9) == 0);
		close(p[0]);
		close(saved);
		free(big);
	}
}

int main(void)
{
	test_buf();
	test_b64();
	test_ct_eq();
	test_rfc3339();
	test_strings();
	test_misc();
	test_log();
	return t_done("base");
}
