/* test_http.c - unit tests for the HTTP message parser, header helpers,
 * framing rules, chunked decoder, percent-decoding and query iteration. */
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "t.h"

static http_request rq;
static http_response rs;

static int req(const char *s) { return http_parse_request(s, strlen(s), &rq); }
static int resp(const char *s) { return http_parse_response(s, strlen(s), &rs); }

/* Feeds a growing prefix, byte by byte, the way a server reading a slow
 * client re-parses; returns the first result that is not INCOMPLETE. */
static int req_bytewise(const char *s, size_t n)
{
	http_request r;
	size_t k;
	int v = HTTP_INCOMPLETE;
	for (k = 0; k <= n && v == HTTP_INCOMPLETE; k++)
		v = http_parse_request(s, k, &r);
	return v;
}

static int resp_bytewise(const char *s, size_t n)
{
	http_response r;
	size_t k;
	int v = HTTP_INCOMPLETE;
	for (k = 0; k <= n && v == HTTP_INCOMPLETE; k++)
		v = http_parse_response(s, k, &r);
	return v;
}

static const http_header *hdr(const char *name)
{
	return http_find_header(rq.headers, rq.nheaders, name);
}

static void test_simple_get(void)
{
	const char *s = "GET /v1/health?x=1 HTTP/1.1\r\nHost: localhost:2468\r\n"
			"User-Agent:  curl/8.0 \t\r\nAccept: */*\r\n\r\n";
	int n = req(s);
	CHECK_INT(n, (int)strlen(s));
	CHECK_MEM(rq.method, rq.method_len, "GET");
	CHECK_MEM(rq.target, rq.target_len, "/v1/health?x=1");
	CHECK_INT(rq.minor, 1);
	CHECK_INT(rq.nheaders, 3);
	CHECK_MEM(rq.headers[0].name, rq.headers[0].name_len, "Host");
	CHECK_MEM(rq.headers[0].value, rq.headers[0].value_len, "localhost:2468");
	CHECK_MEM(rq.headers[1].value, rq.headers[1].value_len, "curl/8.0");
	CHECK(hdr("ACCEPT") != NULL);
	CHECK(hdr("accept") == &rq.headers[2]);
	CHECK(hdr("Content-Length") == NULL);
	CHECK_INT(req_bytewise(s, strlen(s)), n);

	/* A body after the head is not part of the return value. */
	s = "POST /v1/sessions/a HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}";
	CHECK_INT(req(s), (int)strlen(s) - 2);
	CHECK_INT(rq.minor, 0);
	CHECK_MEM(rq.method, rq.method_len, "POST");

	/* Bare LF line ends, no headers at all. */
	CHECK_INT(req("GET / HTTP/1.1\n\n"), 16);
	CHECK_INT(rq.nheaders, 0);
	CHECK_INT(req("GET / HTTP/1.1\r\nA: b\n\r\n"), 23);
	CHECK_INT(rq.nheaders, 1);

	/* Empty and whitespace-only values. */
	CHECK_INT(req("GET / HTTP/1.1\r\nX-Empty:\r\nX-Sp: \t \r\n\r\n"), 38);
	CHECK_INT(rq.headers[0].value_len, 0);
	CHECK_INT(rq.headers[1].value_len, 0);
	/* HTAB inside a value and obs-text are kept. */
	CHECK(req("GET / HTTP/1.1\r\nX: a\tb \xc3\xa9\r\n\r\n") > 0);
	CHECK_MEM(rq.headers[0].value, rq.headers[0].value_len, "a\tb \xc3\xa9");
	/* Other tokens as methods and target forms. */
	CHECK(req("M-SEARCH * HTTP/1.1\r\n\r\n") == HTTP_BAD);
	CHECK(req("OPTIONS * HTTP/1.1\r\n\r\n") > 0);
	CHECK_MEM(rq.target, rq.target_len, "*");
	CHECK(req("GET http://example.com/a?b HTTP/1.1\r\n\r\n") > 0);
	CHECK_MEM(rq.target, rq.target_len, "http://example.com/a?b");
	CHECK(req("GET HTTPS://example.com HTTP/1.1\r\n\r\n") > 0);
	CHECK(req("get / HTTP/1.1\r\n\r\n") > 0);
}

static void test_pipelined(void)
{
	const char *s = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: y\r\n\r\nGET /c";
	int n1, n2;
	n1 = req(s);
	CHECK_INT(n1, 28);
	CHECK_MEM(rq.target, rq.target_len, "/a");
	n2 = http_parse_request(s + n1, strlen(s) - (size_t)n1, &rq);
	CHECK_INT(n2, 28);
	CHECK_MEM(rq.target, rq.target_len, "/b");
	CHECK_MEM(rq.headers[0].value, rq.headers[0].value_len, "y");
	CHECK_INT(http_parse_request(s + n1 + n2, strlen(s) - (size_t)(n1 + n2), &rq), HTTP_INCOMPLETE);

	/* Leading empty lines are skipped, within a bound. */
	CHECK_INT(req("\r\n\nGET / HTTP/1.1\r\n\r\n"), 21);
	CHECK_MEM(rq.method, rq.method_len, "GET");
	CHECK_INT(req("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n"), HTTP_BAD);
	CHECK_INT(req("\r\n\r\n"), HTTP_INCOMPLETE);
	CHECK_INT(req("\r\r\n"), HTTP_BAD);
}

static void test_incomplete(void)
{
	CHECK_INT(req(""), HTTP_INCOMPLETE);
	CHECK_INT(req("G"), HTTP_INCOMPLETE);
	CHECK_INT(req("GET /x"), HTTP_INCOMPLETE);
	CHECK_INT(req("GET /x HTTP/1."), HTTP_INCOMPLETE);
	CHECK_INT(req("GET /x HTTP/1.1\r"), HTTP_INCOMPLETE);
	CHECK_INT(req("GET /x HTTP/1.1\r\nHost: a\r\n"), HTTP_INCOMPLETE);
	CHECK_INT(req("GET /x HTTP/1.1\r\nHost: a\r\n\r"), HTTP_INCOMPLETE);
	CHECK_INT(req("GET /x HTTP/1.1\r\nHo"), HTTP_INCOMPLETE);
	/* Garbage is refused before any line end arrives (TLS hello, ...). */
	CHECK_INT(http_parse_request("\x16\x03\x01\x02", 4, &rq), HTTP_BAD);
	CHECK_INT(req("GET /x FTP/"), HTTP_BAD);
	CHECK_INT(req("GET /x HTTP/2"), HTTP_BAD);
}

static void test_malformed(void)
{
	static const char *bad[] = {
		" / HTTP/1.1\r\n\r\n",                   /* empty method */
		"GE(T / HTTP/1.1\r\n\r\n",               /* non-token method */
		"GET  / HTTP/1.1\r\n\r\n",               /* two spaces */
		"GET /  HTTP/1.1\r\n\r\n",
		"GET\t/ HTTP/1.1\r\n\r\n",               /* tab separator */
		"GET / HTTP/1.1 \r\n\r\n",               /* trailing space */
		"GET /\r\n\r\n",                          /* HTTP/0.9 */
		"GET / HTTP/1.2\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / http/1.1\r\n\r\n",
		"GET / HTTP/1.10\r\n\r\n",
		"GET / HTTP/1\r\n\r\n",
		"GET foo HTTP/1.1\r\n\r\n",              /* not origin-form */
		"GET * HTTP/1.1\r\n\r\n",                /* '*' only for OPTIONS */
		"GET http:// HTTP/1.1\r\n\r\n",          /* empty authority */
		"CONNECT host:443 HTTP/1.1\r\n\r\n",     /* authority-form */
		"GET /a\x7f HTTP/1.1\r\n\r\n",           /* DEL in target */
		"GET /\x80 HTTP/1.1\r\n\r\n",            /* non-ASCII in target */
		"GET /a\x01 HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\rHost: a\r\n\r\n",       /* bare CR ending a line */
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",    /* space before colon */
		"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
		"GET / HTTP/1.1\r\n: a\r\n\r\n",         /* empty name */
		"GET / HTTP/1.1\r\nHo st: a\r\n\r\n",
		"GET / HTTP/1.1\r\nA@b: a\r\n\r\n",      /* non-token name */
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",  /* obs-fold */
		"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: a\r\n\r\n",    /* leading space, first header */
		"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",     /* bare CR in value */
		"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",    /* control byte */
		"GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",    /* DEL */
		"GET / HTTP/1.1\r\nA: b\x1b[0m\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\r\n",              /* bare CR in the empty line */
		"GET / HTTP/1.1\r\nA\xc3\xa9: b\r\n\r\n", /* obs-text in a name */
	};
	size_t i;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = req(bad[i]);
		if (r != HTTP_BAD)
			fprintf(stderr, "expected BAD for case %zu: %s\n", i, bad[i]);
		CHECK_INT(r, HTTP_BAD);
		CHECK_INT(req_bytewise(bad[i], strlen(bad[i])), HTTP_BAD);
	}
	/* NUL needs an explicit length. */
	CHECK_INT(http_parse_request("GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", 26, &rq), HTTP_BAD);
	CHECK_INT(http_parse_request("GET /\0 HTTP/1.1\r\n\r\n", 19, &rq), HTTP_BAD);
	CHECK_INT(http_parse_request("GET / HTTP/1.1\r\nA\0: b\r\n\r\n", 24, &rq), HTTP_BAD);
}

static void test_limits(void)
{
	char buf[4096];
	size_t n = 0;
	int i, r;

	n += (size_t)snprintf(buf + n, sizeof buf - n, "GET / HTTP/1.1\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "X-H%d: %d\r\n", i, i);
	memcpy(buf + n, "\r\n", 3);
	r = http_parse_request(buf, n + 2, &rq);
	CHECK_INT(r, (int)n + 2);
	CHECK_INT(rq.nheaders, HTTP_MAX_HEADERS);
	CHECK_MEM(rq.headers[HTTP_MAX_HEADERS - 1].value, rq.headers[HTTP_MAX_HEADERS - 1].value_len, "63");

	n += (size_t)snprintf(buf + n, sizeof buf - n, "X-Last: 1\r\n\r\n");
	CHECK_INT(http_parse_request(buf, n, &rq), HTTP_TOO_MANY);
	CHECK_INT(req_bytewise(buf, n), HTTP_TOO_MANY);
	/* Decided as soon as the extra header starts. */
	CHECK_INT(http_parse_request(buf, n - 12, &rq), HTTP_TOO_MANY);
	CHECK_INT(http_parse_request(buf, n - 13, &rq), HTTP_INCOMPLETE);
}

static void test_incremental(void)
{
	static const char *cases[] = {
		"GET /v1/sessions/abc/events/sse?offset=3 HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n",
		"\r\nPOST /x HTTP/1.0\nContent-Length: 0\n\nbody",
		"GET / HTTP/1.1\r\nA: b\r\n  c\r\n\r\n",
		"GET / HTTP/1.1\r\nA: \x01\r\n\r\n",
		"PUT /a%20b HTTP/1.1\r\nX: \t y \t\r\n\r\n",
	};
	size_t i;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = strlen(cases[i]);
		int whole = http_parse_request(cases[i], n, &rq);
		CHECK_INT(req_bytewise(cases[i], n), whole);
	}
	/* Fields agree too. */
	{
		const char *s = cases[0];
		http_request a;
		size_t k;
		int r = HTTP_INCOMPLETE;
		for (k = 1; r == HTTP_INCOMPLETE; k++)
			r = http_parse_request(s, k, &a);
		CHECK_INT(r, (int)strlen(s));
		CHECK_INT(k - 1, strlen(s));
		CHECK_MEM(a.target, a.target_len, "/v1/sessions/abc/events/sse?offset=3");
		CHECK_INT(a.nheaders, 2);
	}
}

static const http_framing *freq(const char *s)
{
	static http_framing f;
	memset(&f, 0xa5, sizeof f);
	if (req(s) <= 0 || http_request_framing(&rq, &f) != 0)
		return NULL;
	return &f;
}

static void test_request_framing(void)
{
	const http_framing *f;

	f = freq("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(f && !f->chunked && !f->has_length && f->keep_alive && !f->expect_continue);
	f = freq("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n");
	CHECK(f && f->has_length && f->length == 10 && !f->chunked);
	f = freq("POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n");
	CHECK(f && f->length == 7);
	f = freq("POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n");
	CHECK(f && f->length == UINT64_MAX);
	CHECK(!freq("POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nContent-Length: 5.0\r\n\r\n"));
	f = freq("POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n");
	CHECK(f && f->length == 5);
	CHECK(!freq("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"));
	f = freq("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n");
	CHECK(f && f->length == 5);
	CHECK(!freq("POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nContent-Length: ,\r\n\r\n"));

	f = freq("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	CHECK(f && f->chunked && !f->has_length);
	f = freq("POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\n\r\n");
	CHECK(f && f->chunked);
	CHECK(!freq("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"));

	f = freq("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
	CHECK(f && !f->keep_alive);
	f = freq("GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n");
	CHECK(f && !f->keep_alive);
	f = freq("GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n");
	CHECK(f && f->keep_alive);
	f = freq("GET / HTTP/1.0\r\n\r\n");
	CHECK(f && !f->keep_alive);
	f = freq("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	CHECK(f && f->keep_alive);
	f = freq("GET / HTTP/1.0\r\nConnection: foo\r\nConnection: keep-alive\r\n\r\n");
	CHECK(f && f->keep_alive);
	f = freq("GET / HTTP/1.0\r\nConnection: closed\r\nConnection: keep-alive\r\n\r\n");
	CHECK(f && f->keep_alive);

	f = freq("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
	CHECK(f && f->expect_continue && f->length == 3);
	f = freq("POST / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n");
	CHECK(f && f->expect_continue);
	f = freq("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
	CHECK(f && !f->expect_continue);
	CHECK(!freq("POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nExpect: 100-continue, foo\r\n\r\n"));
	CHECK(!freq("POST / HTTP/1.1\r\nExpect:\r\n\r\n"));
}

static void test_header_helpers(void)
{
	CHECK(http_header_has_token("keep-alive, close", 17, "close"));
	CHECK(http_header_has_token("keep-alive, close", 17, "KEEP-ALIVE"));
	CHECK(!http_header_has_token("keep-alive, closed", 18, "close"));
	CHECK(!http_header_has_token("xclose", 6, "close"));
	CHECK(http_header_has_token(" ,, close ,", 11, "close"));
	CHECK(!http_header_has_token("", 0, "close"));
	CHECK(!http_header_has_token("clo", 3, "close"));
	CHECK(http_header_has_token("a,\tb", 4, "b"));
	CHECK(http_find_header(NULL, 0, "x") == NULL);
}

static void test_response(void)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\ndata:x\n\n";
	http_resp_framing f;
	int n = resp(s);
	CHECK_INT(n, (int)strlen(s) - 8);
	CHECK_INT(rs.minor, 1);
	CHECK_INT(rs.status, 200);
	CHECK_MEM(rs.reason, rs.reason_len, "OK");
	CHECK_INT(rs.nheaders, 2);
	CHECK_MEM(rs.headers[1].value, rs.headers[1].value_len, "no-cache");
	CHECK_INT(resp_bytewise(s, strlen(s)), n);
	CHECK_INT(http_response_framing(&rs, false, &f), 0);
	CHECK(f.close_delimited && !f.keep_alive && !f.no_body && !f.chunked);

	CHECK_INT(resp("HTTP/1.0 404 Not Found Here\r\n\r\n"), 31);
	CHECK_MEM(rs.reason, rs.reason_len, "Not Found Here");
	CHECK_INT(rs.minor, 0);
	CHECK_INT(resp("HTTP/1.1 204\r\n\r\n"), 16);
	CHECK_INT(rs.reason_len, 0);
	CHECK_INT(resp("HTTP/1.1 500 \r\n\r\n"), 17);
	CHECK_INT(resp("HTTP/1.1 200 \xc3\xa9\tok\n\n"), 20);
	CHECK_INT(resp("HTTP/1.1 20 OK\r\n\r\n"), HTTP_BAD);
	CHECK_INT(resp("HTTP/1.1 2000 OK\r\n\r\n"), HTTP_BAD);
	CHECK_INT(resp("HTTP/1.1 099 X\r\n\r\n"), HTTP_BAD);
	CHECK_INT(resp("HTTP/1.1 600 X\r\n\r\n"), HTTP_BAD);
	CHECK_INT(resp("HTTP/2 200\r\n\r\n"), HTTP_BAD);
	CHECK_INT(resp("HTTP/1.1  200 OK\r\n\r\n"), HTTP_BAD);
	CHECK_INT(resp("HTTP/1.1 200 O\x01K\r\n\r\n"), HTTP_BAD);
	CHECK_INT(resp("HTTP/1.1 200 OK\r\nA : b\r\n\r\n"), HTTP_BAD);
	CHECK_INT(resp("HTTP/1.1 200 OK\r\n"), HTTP_INCOMPLETE);
	CHECK_INT(resp("HTTP/1.1 2"), HTTP_INCOMPLETE);
	CHECK_INT(resp("ICY 200 OK\r\n\r\n"), HTTP_BAD);

	CHECK(resp("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n") > 0);
	CHECK_INT(http_response_framing(&rs, false, &f), 0);
	CHECK(f.no_body && f.keep_alive && !f.has_length);
	CHECK(resp("HTTP/1.1 304 Not Modified\r\n\r\n") > 0);
	CHECK_INT(http_response_framing(&rs, false, &f), 0);
	CHECK(f.no_body);
	CHECK(resp("HTTP/1.1 100 Continue\r\n\r\n") > 0);
	CHECK_INT(http_response_framing(&rs, false, &f), 0);
	CHECK(f.no_body);
	CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n") > 0);
	CHECK_INT(http_response_framing(&rs, true, &f), 0);
	CHECK(f.no_body && f.keep_alive);
	CHECK_INT(http_response_framing(&rs, false, &f), 0);
	CHECK(!f.no_body && f.has_length && f.length == 12 && f.keep_alive && !f.close_delimited);
	CHECK(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n") > 0);
	CHECK_INT(http_response_framing(&rs, false, &f), 0);
	CHECK(f.chunked && !f.keep_alive && !f.close_delimited);
	CHECK(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n") > 0);
	CHECK_INT(http_response_framing(&rs, false, &f), HTTP_BAD);
	CHECK(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n") > 0);
	CHECK_INT(http_response_framing(&rs, false, &f), HTTP_BAD);
	CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") > 0);
	CHECK_INT(http_response_framing(&rs, false, &f), HTTP_BAD);
	CHECK(resp("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n") > 0);
	CHECK_INT(http_response_framing(&rs, false, &f), 0);
	CHECK(f.has_length && !f.keep_alive);
}

/* Decodes s fed in pieces of `step` bytes the way a connection would:
 * undecoded input is kept and more appended. Returns the final status;
 * the decoded body goes to out, input used to *used. */
static int chunked_feed(const char *s, size_t n, size_t step, char *out, size_t *outlen, size_t *used)
{
	http_chunked d;
	char *work = malloc(n + 1);
	size_t off = 0, o = 0;
	int r = 0;

	memset(&d, 0, sizeof d);
	while (off < n) {
		size_t k = n - off < step ? n - off : step, len = k, consumed;
		memcpy(work, s + off, k);
		r = http_chunked_decode(&d, work, &len, &consumed);
		memcpy(out + o, work, len);
		o += len;
		off += consumed;
		if (r != 0 || consumed < k)
			break;
	}
	free(work);
	*outlen = o;
	*used = off;
	return r;
}

/* want_used 0: the whole input. */
static void chunk_case(const char *s, int want, const char *body, size_t want_used)
{
	static const size_t steps[] = {1, 2, 3, 7, 0};
	char out[8192];
	size_t n = strlen(s), olen, used, i;
	for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		size_t step = steps[i] ? steps[i] : n; /* 0: all at once */
		int r = chunked_feed(s, n, step, out, &olen, &used);
		CHECK_INT(r, want);
		if (want == 1) {
			CHECK_MEM(out, olen, body);
			CHECK_INT(used, want_used ? want_used : n);
		}
	}
}

static void test_chunked(void)
{
	http_chunked d;
	char buf[64];
	size_t len, used;
	int i;

	chunk_case("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 1, "hello world", 0);
	chunk_case("5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 1, "hello", 15);
	chunk_case("5;foo=bar;baz\r\nhello\r\n0;last=\"x y\"\r\n\r\n", 1, "hello", 0);
	chunk_case("5 ;a=b\r\nhello\r\n0 \t\r\n\r\n", 1, "hello", 0);
	chunk_case("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", 1, "0123456789abcdefghij", 0);
	chunk_case("0\r\nX-Trailer: 1\r\nY:\r\n\r\n", 1, "", 0);
	chunk_case("3\nabc\n0\nT: v\n\n", 1, "abc", 0);
	chunk_case("0000000000000003\r\nabc\r\n0\r\n\r\n", 1, "abc", 0);
	chunk_case("5\r\nhel", 0, "", 0);
	chunk_case("5\r\nhello\r\n0\r\n", 0, "", 0);
	chunk_case("5\r\nhello\r\n0\r\nX: y\r\n", 0, "", 0);

	chunk_case("x\r\n", HTTP_BAD, "", 0);
	chunk_case("\r\n", HTTP_BAD, "", 0);
	chunk_case(";a\r\n", HTTP_BAD, "", 0);
	chunk_case("-5\r\nhello\r\n", HTTP_BAD, "", 0);
	chunk_case("5 5\r\nhello\r\n", HTTP_BAD, "", 0);
	chunk_case("0x5\r\nhello\r\n", HTTP_BAD, "", 0);
	chunk_case("10000000000000000\r\n", HTTP_BAD, "", 0);
	chunk_case("00000000000000005\r\nhello\r\n", HTTP_BAD, "", 0);
	chunk_case("5\r\nhelloX\r\n0\r\n\r\n", HTTP_BAD, "", 0);
	chunk_case("5\r\nhello\r0\r\n\r\n", HTTP_BAD, "", 0);
	chunk_case("5\rhello", HTTP_BAD, "", 0);
	chunk_case("5;a\x01\r\nhello", HTTP_BAD, "", 0);
	chunk_case("0\r\n X: y\r\n\r\n", HTTP_BAD, "", 0);
	chunk_case("0\r\nNoColon\r\n\r\n", HTTP_BAD, "", 0);
	chunk_case("0\r\nA b: c\r\n\r\n", HTTP_BAD, "", 0);
	chunk_case("0\r\nA: b\rc\r\n\r\n", HTTP_BAD, "", 0);
	chunk_case("0\r\n\rx", HTTP_BAD, "", 0);

	/* The largest size that fits is accepted; the data simply is not
	 * there yet. */
	memset(&d, 0, sizeof d);
	memcpy(buf, "ffffffffffffffff\r\nab", 20);
	len = 20;
	CHECK_INT(http_chunked_decode(&d, buf, &len, &used), 0);
	CHECK_INT(len, 2);
	CHECK_INT(used, 20);
	CHECK(d.remaining == UINT64_MAX - 2);

	/* Extension and trailer lines are bounded. */
	{
		size_t n = 5000, k;
		char *big = malloc(n + 16);
		memcpy(big, "1;", 2);
		memset(big + 2, 'x', n);
		memcpy(big + 2 + n, "\r\n", 2);
		memset(&d, 0, sizeof d);
		len = n + 4;
		CHECK_INT(http_chunked_decode(&d, big, &len, &used), HTTP_BAD);
		CHECK(used <= 4097 + 1);
		memcpy(big, "0\r\nX:", 5);
		memset(big + 5, 'v', n);
		memset(&d, 0, sizeof d);
		len = n + 5;
		CHECK_INT(http_chunked_decode(&d, big, &len, &used), HTTP_BAD);
		/* Just under the limit is fine, fed in two pieces. */
		memcpy(big, "1;", 2);
		memset(big + 2, 'x', 4094);
		memcpy(big + 4096, "\r\nZ\r\n0\r\n\r\n", 10);
		memset(&d, 0, sizeof d);
		len = 3000;
		CHECK_INT(http_chunked_decode(&d, big, &len, &used), 0);
		CHECK_INT(used, 3000);
		k = 4106 - 3000;
		len = k;
		CHECK_INT(http_chunked_decode(&d, big + 3000, &len, &used), 1);
		CHECK_MEM(big + 3000, len, "Z");
		/* One byte more is over. */
		memcpy(big, "1;", 2);
		memset(big + 2, 'x', 4095);
		memcpy(big + 4097, "\r\n", 2);
		memset(&d, 0, sizeof d);
		len = 4099;
		CHECK_INT(http_chunked_decode(&d, big, &len, &used), HTTP_BAD);
		free(big);
	}

	/* Done and bad states are sticky. */
	memset(&d, 0, sizeof d);
	memcpy(buf, "0\r\n\r\nXYZ", 8);
	len = 8;
	CHECK_INT(http_chunked_decode(&d, buf, &len, &used), 1);
	CHECK_INT(used, 5);
	CHECK_INT(len, 0);
	len = 3;
	CHECK_INT(http_chunked_decode(&d, buf + 5, &len, &used), 1);
	CHECK_INT(used, 0);
	memset(&d, 0, sizeof d);
	len = 1;
	CHECK_INT(http_chunked_decode(&d, (char *)memcpy(buf, "g", 1), &len, &used), HTTP_BAD);
	len = 1;
	CHECK_INT(http_chunked_decode(&d, (char *)memcpy(buf, "5", 1), &len, &used), HTTP_BAD);

	/* Empty input: nothing happens. */
	memset(&d, 0, sizeof d);
	len = 0;
	CHECK_INT(http_chunked_decode(&d, buf, &len, &used), 0);
	CHECK_INT(used, 0);

	/* Many tiny chunks, decoded in place in one call. */
	{
		char many[700];
		size_t n = 0;
		for (i = 0; i < 100; i++)
			n += (size_t)snprintf(many + n, sizeof many - n, "1\r\n%c\r\n", 'a' + i % 26);
		n += (size_t)snprintf(many + n, sizeof many - n, "0\r\n\r\n");
		memset(&d, 0, sizeof d);
		len = n;
		CHECK_INT(http_chunked_decode(&d, many, &len, &used), 1);
		CHECK_INT(len, 100);
		CHECK_INT(used, n);
		CHECK(memcmp(many, "abcdefghijklmnopqrstuvwxyzabcd", 30) == 0);
	}
}

static void test_pct(void)
{
	char out[64];
	char inplace[32];
	long n;

	n = http_pct_decode("a%20b", 5, out, false);
	CHECK_MEM(out, n, "a b");
	n = http_pct_decode("%2f%2F%41%7e", 12, out, false);
	CHECK_MEM(out, n, "//A~");
	n = http_pct_decode("a+b", 3, out, true);
	CHECK_MEM(out, n, "a b");
	n = http_pct_decode("a+b", 3, out, false);
	CHECK_MEM(out, n, "a+b");
	n = http_pct_decode("%2B+", 4, out, true);
	CHECK_MEM(out, n, "+ ");
	n = http_pct_decode("%C3%A9t%c3%a9", 13, out, false);
	CHECK_MEM(out, n, "\xc3\xa9t\xc3\xa9");
	CHECK_INT(http_pct_decode("", 0, out, true), 0);
	CHECK_INT(http_pct_decode("%", 1, out, false), -1);
	CHECK_INT(http_pct_decode("a%2", 3, out, false), -1);
	CHECK_INT(http_pct_decode("%zz", 3, out, false), -1);
	CHECK_INT(http_pct_decode("%g0", 3, out, false), -1);
	CHECK_INT(http_pct_decode("%0g", 3, out, false), -1);
	CHECK_INT(http_pct_decode("%00", 3, out, false), -1);
	CHECK_INT(http_pct_decode("a\0b", 3, out, false), -1);
	CHECK_INT(http_pct_decode("% 20", 4, out, false), -1);
	/* The length limits the read: "%2" then a '0' beyond n is not used. */
	CHECK_INT(http_pct_decode("%20", 2, out, false), -1);
	memcpy(inplace, "x%41y%2520+", 12);
	n = http_pct_decode(inplace, 11, inplace, true);
	CHECK_MEM(inplace, n, "xAy%20 ");
}

struct kv {
	const char *k, *v;
};

static void query_case(const char *q, const struct kv *want, size_t nwant)
{
	size_t pos = 0, i = 0, kl, vl;
	const char *k, *v;
	while (http_query_next(q, strlen(q), &pos, &k, &kl, &v, &vl)) {
		if (i < nwant) {
			CHECK_MEM(k, kl, want[i].k);
			CHECK_MEM(v, vl, want[i].v);
		}
		i++;
	}
	CHECK_INT(i, nwant);
	CHECK_INT(pos, strlen(q));
	CHECK(!http_query_next(q, strlen(q), &pos, &k, &kl, &v, &vl));
}

static void test_query(void)
{
	static const struct kv a[] = {{"a", "1"}, {"b", "2"}};
	static const struct kv b[] = {{"offset", "10"}, {"include_raw", "true"}, {"limit", ""}};
	static const struct kv c[] = {{"flag", ""}, {"", "v"}, {"x", "y=z"}};
	static const struct kv d[] = {{"path", "%2Ftmp%2Fa+b"}};
	size_t pos = 0, kl, vl;
	const char *k, *v;

	query_case("a=1&&b=2", a, 2);
	query_case("&a=1&b=2&", a, 2);
	query_case("offset=10&include_raw=true&limit=", b, 3);
	query_case("flag&=v&x=y=z", c, 3);
	query_case("path=%2Ftmp%2Fa+b", d, 1);
	query_case("", NULL, 0);
	query_case("&&&", NULL, 0);

	/* Without '=', the value is empty and points just after the key. */
	CHECK(http_query_next("flag", 4, &pos, &k, &kl, &v, &vl));
	CHECK(v == k + 4 && vl == 0);
	pos = 9;
	CHECK(!http_query_next("flag", 4, &pos, &k, &kl, &v, &vl));
}

static void test_reason(void)
{
	static const int codes[] = {100, 101, 200, 201, 204, 301, 302, 304, 307, 308, 400, 401,
			403, 404, 405, 408, 409, 411, 413, 414, 415, 417, 422, 429, 431, 500, 501, 502,
			503, 504, 505};
	size_t i;
	int unknown = 0;
	for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
		unknown += strcmp(http_reason(codes[i]), "Unknown") == 0;
	CHECK_INT(unknown, 0);
	CHECK_STR(http_reason(200), "OK");
	CHECK_STR(http_reason(404), "Not Found");
	CHECK_STR(http_reason(431), "Request Header Fields Too Large");
	CHECK_STR(http_reason(999), "Unknown");
	CHECK_STR(http_reason(-1), "Unknown");
}

int main(void)
{
	test_simple_get();
	test_pipelined();
	test_incomplete();
	test_malformed();
	test_limits();
	test_incremental();
	test_request_framing();
	test_header_helpers();
	test_response();
	test_chunked();
	test_pct();
	test_query();
	test_reason();
	return t_done("http");
}
