/* test_tls.c - the trust-anchor store of net/tls and the HTTP client of
 * http/client: URL parsing and resolution, no_proxy matching, and
 * hc_start in loop mode against a canned server in the same loop
 * (framing, truncation, timeouts, cancellation, refused connections),
 * and the blocking hc_fetch_stream / hc_fetch against a server process.
 * The TLS handshake itself is covered by tests/integration. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "http/client.h"
#include "net/loop.h"
#include "net/tls.h"
#include "t.h"

/* ---- trust anchors ---- */

static void test_anchors(void)
{
	char err[256], path[] = "/tmp/test_tls_XXXXXX";
	size_t n = 0;
	int fd;

	if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
		CHECK_INT(tls_anchors_load("/etc/ssl/certs/ca-certificates.crt", &n, err, sizeof err), 0);
		CHECK(n > 50);
	}
	CHECK_INT(tls_anchors_load("/nonexistent/ca.pem", &n, err, sizeof err), -1);
	CHECK(strstr(err, "cannot open CA file /nonexistent/ca.pem") != NULL);

	fd = mkstemp(path);
	CHECK(fd >= 0);
	/* a damaged certificate between junk lines: nothing usable */
	CHECK(write(fd, "junk\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 63) == 63);
	close(fd);
	CHECK_INT(tls_anchors_load(path, &n, err, sizeof err), -1);
	CHECK(strstr(err, "no usable certificates") != NULL);
	unlink(path);
}

/* ---- URLs ---- */

static void test_url_parse(void)
{
	hc_url u;
	char err[256];

	CHECK_INT(hc_url_parse("http://Example.COM/a/b?c=d#frag", &u, err, sizeof err), 0);
	CHECK(!u.https);
	CHECK_STR(u.host, "example.com");
	CHECK_INT(u.port, 80);
	CHECK_STR(u.target, "/a/b?c=d");
	CHECK(u.user == NULL);
	hc_url_free(&u);

	CHECK_INT(hc_url_parse("HTTPS://h:8443", &u, err, sizeof err), 0);
	CHECK(u.https);
	CHECK(u.explicit_port);
	CHECK_INT(u.port, 8443);
	CHECK_STR(u.target, "/");
	hc_url_free(&u);

	CHECK_INT(hc_url_parse("https://[::1]:99?q", &u, err, sizeof err), 0);
	CHECK_STR(u.host, "::1");
	CHECK_INT(u.port, 99);
	CHECK_STR(u.target, "/?q");
	hc_url_free(&u);

	CHECK_INT(hc_url_parse("http://[2001:db8::1]/", &u, err, sizeof err), 0);
	CHECK_STR(u.host, "2001:db8::1");
	CHECK_INT(u.port, 80);
	hc_url_free(&u);

	CHECK_INT(hc_url_parse("http://us%40er:p%3Ass@proxy:3128", &u, err, sizeof err), 0);
	CHECK_STR(u.user, "us@er");
	CHECK_STR(u.pass, "p:ss");
	CHECK_STR(u.host, "proxy");
	hc_url_free(&u);

	CHECK_INT(hc_url_parse("http://h/a b\xc3\xa9", &u, err, sizeof err), 0);
	CHECK_STR(u.target, "/a%20b%C3%A9");
	hc_url_free(&u);

	CHECK_INT(hc_url_parse("http://h:/x", &u, err, sizeof err), 0);
	CHECK_INT(u.port, 80);
	CHECK(!u.explicit_port);
	hc_url_free(&u);

	CHECK_INT(hc_url_parse("ftp://h/", &u, err, sizeof err), -1);
	CHECK(strstr(err, "unsupported URL") != NULL);
	CHECK_INT(hc_url_parse("http:///x", &u, err, sizeof err), -1);
	CHECK_INT(hc_url_parse("http://h:0/", &u, err, sizeof err), -1);
	CHECK_INT(hc_url_parse("http://h:65536/", &u, err, sizeof err), -1);
	CHECK_INT(hc_url_parse("http://h:8x/", &u, err, sizeof err), -1);
	CHECK_INT(hc_url_parse("http://[::1/", &u, err, sizeof err), -1);
	CHECK_INT(hc_url_parse("http://[::1]x/", &u, err, sizeof err), -1);
	CHECK_INT(hc_url_parse("http://[nothex]/", &u, err, sizeof err), -1);
	CHECK_INT(hc_url_parse("http://h\r\nX: y/", &u, err, sizeof err), -1);
	CHECK_INT(hc_url_parse("http://h/a\r\nX: y", &u, err, sizeof err), -1);
	CHECK_INT(hc_url_parse("http://h%41/", &u, err, sizeof err), -1);
	CHECK_INT(hc_url_parse("http://%zz@h/", &u, err, sizeof err), -1);
	CHECK(strstr(err, "invalid URL") != NULL);
}

static void resolve_is(const char *base, const char *ref, const char *want)
{
	char *r = hc_url_resolve(base, ref);
	CHECK_STR(r, want);
	free(r);
}

static void test_url_resolve(void)
{
	const char *b = "http://a.example/b/c/d?q#f";

	/* RFC 3986 5.4.1, adapted to http */
	resolve_is(b, "g", "http://a.example/b/c/g");
	resolve_is(b, "./g", "http://a.example/b/c/g");
	resolve_is(b, "g/", "http://a.example/b/c/g/");
	resolve_is(b, "/g", "http://a.example/g");
	resolve_is(b, "//g.example/x", "http://g.example/x");
	resolve_is(b, "?y", "http://a.example/b/c/d?y");
	resolve_is(b, "g?y", "http://a.example/b/c/g?y");
	resolve_is(b, "#s", "http://a.example/b/c/d?q");
	resolve_is(b, ".", "http://a.example/b/c/");
	resolve_is(b, "./", "http://a.example/b/c/");
	resolve_is(b, "..", "http://a.example/b/");
	resolve_is(b, "../", "http://a.example/b/");
	resolve_is(b, "../g", "http://a.example/b/g");
	resolve_is(b, "../..", "http://a.example/");
	resolve_is(b, "../../g", "http://a.example/g");
	resolve_is(b, "../../../../g", "http://a.example/g");
	resolve_is(b, "/./g", "http://a.example/g");
	resolve_is(b, "/../g", "http://a.example/g");
	resolve_is(b, "g/../h?x=../y", "http://a.example/b/c/h?x=../y");
	resolve_is(b, "https://other/x", "https://other/x");
	resolve_is("https://h:8443", "x", "https://h:8443/x");
	resolve_is("https://h:8443", "?x", "https://h:8443/?x");
	resolve_is("http://h/a/b", "", "http://h/a/b");
	CHECK(hc_url_resolve("not a url", "x") == NULL);
}

static void test_no_proxy(void)
{
	CHECK(hc_no_proxy_match("*", "anything.example"));
	CHECK(hc_no_proxy_match("example.com", "example.com"));
	CHECK(hc_no_proxy_match("example.com", "www.example.com"));
	CHECK(hc_no_proxy_match(".example.com", "www.example.com"));
	CHECK(hc_no_proxy_match(".example.com", "example.com"));
	CHECK(hc_no_proxy_match("EXAMPLE.com", "Www.Example.Com"));
	CHECK(hc_no_proxy_match("example.com.", "example.com"));
	CHECK(hc_no_proxy_match("a.test, example.com:8080", "example.com"));
	CHECK(hc_no_proxy_match("a.test example.com", "example.com"));
	CHECK(!hc_no_proxy_match("example.com", "badexample.com"));
	CHECK(!hc_no_proxy_match("www.example.com", "example.com"));
	CHECK(!hc_no_proxy_match("", "example.com"));
	CHECK(!hc_no_proxy_match(",, ,", "example.com"));
	CHECK(!hc_no_proxy_match("*.example.com", "www.example.com")); /* curl: no globs */
	CHECK(!hc_no_proxy_match("example.com", "127.0.0.1"));
	/* not implicit: localhost and loopback only when listed */
	CHECK(!hc_no_proxy_match("example.com", "localhost"));
	CHECK(hc_no_proxy_match("localhost", "localhost"));
	CHECK(hc_no_proxy_match("127.0.0.1", "127.0.0.1"));
	CHECK(!hc_no_proxy_match("127.0.0.1", "127.0.0.2"));
	CHECK(hc_no_proxy_match("10.0.0.0/8", "10.1.2.3"));
	CHECK(!hc_no_proxy_match("10.0.0.0/8", "11.1.2.3"));
	CHECK(hc_no_proxy_match("192.168.1.0/23", "192.168.0.7"));
	CHECK(!hc_no_proxy_match("192.168.1.0/24", "192.168.0.7"));
	CHECK(hc_no_proxy_match("0.0.0.0/0", "8.8.8.8"));
	CHECK(!hc_no_proxy_match("10.0.0.0/33", "10.0.0.1"));
	CHECK(hc_no_proxy_match("::1", "::1"));
	CHECK(hc_no_proxy_match("[::1]:8080", "::1"));
	CHECK(hc_no_proxy_match("fd00::/8", "fd12::5"));
	CHECK(!hc_no_proxy_match("fd00::/8", "fe80::1"));
	CHECK(!hc_no_proxy_match("::1", "127.0.0.1"));
}

/* ---- loop mode against a canned server ---- */

struct canned {
	int lfd;
	const char *reply;
	size_t reply_len;
	bool keep_open; /* do not close after the reply (stalls) */
	int cfd;
	buf_t req;      /* what the client sent */
};

struct result {
	int status;
	buf_t body;
	int done, err, headers;
	char msg[256];
	bool stop_headers;  /* on_headers returns false */
	bool cancel_in_data;
	hc_t *c;
};

static void canned_client(loop_t *l, int fd, int rev, void *ud)
{
	struct canned *s = ud;
	char b[4096];
	ssize_t n = read(fd, b, sizeof b);

	if (n > 0)
		buf_append(&s->req, b, (size_t)n);
	if (s->req.len >= 4 && memmem(s->req.p, s->req.len, "\r\n\r\n", 4)) {
		if (s->reply_len)
			CHECK(write(fd, s->reply, s->reply_len) == (ssize_t)s->reply_len);
		s->reply_len = 0;
		if (!s->keep_open) {
			loop_del_fd(l, fd);
			close(fd);
			s->cfd = -1;
		}
	} else if (n <= 0) {
		loop_del_fd(l, fd);
		close(fd);
		s->cfd = -1;
	}
}

static void canned_accept(loop_t *l, int fd, int rev, void *ud)
{
	struct canned *s = ud;
	int c = accept(fd, NULL, NULL);

	if (c < 0)
		return;
	util_set_nonblock(c);
	s->cfd = c;
	loop_add_fd(l, c, LOOP_READ, canned_client, s);
}

static int canned_start(loop_t *l, struct canned *s, const char *reply, size_t len)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;

	memset(s, 0, sizeof *s);
	s->cfd = -1;
	s->reply = reply;
	s->reply_len = len;
	buf_init(&s->req);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->lfd, 8) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	loop_add_fd(l, s->lfd, LOOP_READ, canned_accept, s);
	return ntohs(a.sin_port);
}

static void canned_stop(loop_t *l, struct canned *s)
{
	loop_del_fd(l, s->lfd);
	close(s->lfd);
	if (s->cfd >= 0) {
		loop_del_fd(l, s->cfd);
		close(s->cfd);
	}
	buf_free(&s->req);
}

static bool r_headers(hc_t *c, void *ud, int status, const http_header *h, size_t n)
{
	struct result *r = ud;
	r->status = status;
	r->headers++;
	return !r->stop_headers;
}

static void r_data(hc_t *c, void *ud, const char *p, size_t n)
{
	struct result *r = ud;
	buf_append(&r->body, p, n);
	if (r->cancel_in_data) {
		hc_cancel(c);
		hc_cancel(c); /* twice is harmless */
		r->done = -1;
	}
}

static void r_done(hc_t *c, void *ud, int err, const char *msg)
{
	struct result *r = ud;
	r->done++;
	r->err = err;
	snprintf(r->msg, sizeof r->msg, "%s", msg);
}

static void on_guard(loop_t *l, void *ud)
{
	int *fired = ud;
	*fired = 1;
	loop_stop(l);
}

static void on_poll(loop_t *l, void *ud)
{
	struct result *r = ud;
	if (r->done)
		loop_stop(l);
}

/* Runs one request to the canned reply; returns the result in *r. */
static void run_canned(const char *reply, size_t len, bool keep_open, hc_request *req,
		struct result *r, const char *path)
{
	static const hc_ops ops = {r_headers, r_data, r_done};
	loop_t *l = loop_new();
	struct canned s;
	char url[128], err[256];
	int port = canned_start(l, &s, reply, len), fired = 0;
	uint64_t g;

	CHECK(port > 0);
	s.keep_open = keep_open;
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	req->url = url;
	req->no_proxy = true;
	buf_init(&r->body);
	r->c = hc_start(l, req, &ops, r, err, sizeof err);
	CHECK(r->c != NULL);
	g = loop_add_timer(l, 5000, 0, on_guard, &fired);
	loop_set_before_poll(l, on_poll, r);
	if (r->c)
		loop_run(l);
	CHECK(!fired);
	loop_cancel_timer(l, g);
	if (s.req.len)
		buf_cstr(&s.req);
	/* the request as sent */
	if (s.req.len) {
		CHECK(strstr(s.req.p, "Host: 127.0.0.1:") != NULL);
		CHECK(strstr(s.req.p, "Connection: close\r\n") != NULL);
		CHECK(strstr(s.req.p, "User-Agent: sandbox-agent/") != NULL);
	}
	canned_stop(l, &s);
	loop_free(l);
}

#define REPLY(s) s, sizeof s - 1

static void test_loop_framing(void)
{
	struct result r;
	hc_request req;

	memset(&r, 0, sizeof r);
	memset(&req, 0, sizeof req);
	run_canned(REPLY("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA"), false, &req, &r, "/");
	CHECK_INT(r.done, 1);
	CHECK_INT(r.err, 0);
	CHECK_INT(r.status, 200);
	CHECK_MEM(r.body.p, r.body.len, "hello");
	buf_free(&r.body);

	memset(&r, 0, sizeof r);
	run_canned(REPLY("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
			"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n"),
			false, &req, &r, "/c");
	CHECK_INT(r.done, 1);
	CHECK_INT(r.err, 0);
	CHECK_INT(r.status, 201);
	CHECK_INT(r.headers, 1);
	CHECK_MEM(r.body.p, r.body.len, "abcde");
	buf_free(&r.body);

	memset(&r, 0, sizeof r);
	run_canned(REPLY("HTTP/1.0 200 OK\r\n\r\nuntil close"), false, &req, &r, "/");
	CHECK_INT(r.err, 0);
	CHECK_MEM(r.body.p, r.body.len, "until close");
	buf_free(&r.body);

	memset(&r, 0, sizeof r);
	run_canned(REPLY("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"), false, &req, &r, "/");
	CHECK_INT(r.err, -1);
	CHECK_STR(r.msg, "truncated response");
	buf_free(&r.body);

	memset(&r, 0, sizeof r);
	run_canned(REPLY("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"), false,
			&req, &r, "/");
	CHECK_STR(r.msg, "truncated response");
	buf_free(&r.body);

	memset(&r, 0, sizeof r);
	run_canned(REPLY("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), false, &req,
			&r, "/");
	CHECK_STR(r.msg, "malformed chunked body");
	buf_free(&r.body);

	memset(&r, 0, sizeof r);
	run_canned(REPLY("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"), false,
			&req, &r, "/");
	CHECK_STR(r.msg, "malformed response framing");
	buf_free(&r.body);

	memset(&r, 0, sizeof r);
	run_canned(REPLY("SSH-2.0-nope\r\n\r\n"), false, &req, &r, "/");
	CHECK_STR(r.msg, "malformed response header");
	buf_free(&r.body);

	memset(&r, 0, sizeof r);
	run_canned("", 0, false, &req, &r, "/");
	CHECK_STR(r.msg, "empty reply from server");
	buf_free(&r.body);

	/* HEAD: a Content-Length but no body */
	memset(&r, 0, sizeof r);
	req.method = "HEAD";
	run_canned(REPLY("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"), true, &req, &r, "/");
	CHECK_INT(r.err, 0);
	CHECK_INT(r.body.len, 0);
	buf_free(&r.body);
	req.method = NULL;
}

static void test_loop_control(void)
{
	struct result r;
	hc_request req;

	/* read timeout: headers, then nothing */
	memset(&r, 0, sizeof r);
	memset(&req, 0, sizeof req);
	req.read_timeout_ms = 150;
	run_canned(REPLY("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"), true, &req, &r, "/");
	CHECK_INT(r.err, -1);
	CHECK(strstr(r.msg, "read timeout") != NULL);
	CHECK_MEM(r.body.p, r.body.len, "ab");
	buf_free(&r.body);
	req.read_timeout_ms = 0;

	/* on_headers says stop: on_done still runs, once */
	memset(&r, 0, sizeof r);
	r.stop_headers = true;
	run_canned(REPLY("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"), false, &req, &r, "/");
	CHECK_INT(r.done, 1);
	CHECK_STR(r.msg, "cancelled");
	CHECK_INT(r.body.len, 0);
	buf_free(&r.body);

	/* hc_cancel inside on_data: no on_done at all */
	memset(&r, 0, sizeof r);
	r.cancel_in_data = true;
	run_canned(REPLY("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"), false, &req, &r, "/");
	CHECK_INT(r.done, -1);
	CHECK_MEM(r.body.p, r.body.len, "ab");
	buf_free(&r.body);

	/* redirects are not followed when max_redirects is -1 */
	memset(&r, 0, sizeof r);
	req.max_redirects = -1;
	run_canned(REPLY("HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"), false,
			&req, &r, "/");
	CHECK_INT(r.status, 302);
	CHECK_INT(r.err, 0);
	buf_free(&r.body);

	/* a redirect to a name that needs DNS cannot be followed in loop mode */
	memset(&r, 0, sizeof r);
	req.max_redirects = 0;
	run_canned(REPLY("HTTP/1.1 302 Found\r\nLocation: http://example.com/\r\n\r\n"), false,
			&req, &r, "/");
	CHECK_INT(r.err, -1);
	CHECK(strstr(r.msg, "name resolution is not available") != NULL);
	buf_free(&r.body);
}

static void test_loop_start_errors(void)
{
	static const hc_ops ops = {r_headers, r_data, r_done};
	loop_t *l = loop_new();
	struct result r;
	hc_request req;
	char err[256];
	const char *bad_hdrs[] = {"X-Ok: 1", "X-Bad: a\r\nInjected: 1", NULL};
	hc_t *c;
	int s, port, fired = 0;
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	char url[64];

	memset(&r, 0, sizeof r);
	memset(&req, 0, sizeof req);
	req.no_proxy = true;

	req.url = "http://example.com/";
	CHECK(hc_start(l, &req, &ops, &r, err, sizeof err) == NULL);
	CHECK(strstr(err, "name resolution is not available") != NULL);

	req.url = "gopher://x/";
	CHECK(hc_start(l, &req, &ops, &r, err, sizeof err) == NULL);
	CHECK(strstr(err, "unsupported URL") != NULL);

	req.url = "http://127.0.0.1:1/";
	req.headers = bad_hdrs;
	CHECK(hc_start(l, &req, &ops, &r, err, sizeof err) == NULL);
	CHECK(strstr(err, "invalid request header") != NULL);
	req.headers = NULL;

	req.method = "GE T";
	CHECK(hc_start(l, &req, &ops, &r, err, sizeof err) == NULL);
	req.method = NULL;

	/* a proxy host that needs DNS is refused up front too */
	setenv("HTTP_PROXY", "http://proxy.example:3128", 1);
	req.no_proxy = false;
	req.url = "http://127.0.0.1:1/";
	CHECK(hc_start(l, &req, &ops, &r, err, sizeof err) == NULL);
	CHECK(strstr(err, "proxy.example") != NULL);
	setenv("HTTP_PROXY", "https://127.0.0.1:3128", 1);
	CHECK(hc_start(l, &req, &ops, &r, err, sizeof err) == NULL);
	CHECK(strstr(err, "not supported") != NULL);
	unsetenv("HTTP_PROXY");
	req.no_proxy = true;

	/* refused: reported through on_done, never from inside hc_start */
	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *)&a, sizeof a);
	getsockname(s, (struct sockaddr *)&a, &al);
	port = ntohs(a.sin_port);
	close(s); /* bound, never listening: connections are refused */
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	req.url = url;
	c = hc_start(l, &req, &ops, &r, err, sizeof err);
	CHECK(c != NULL);
	CHECK_INT(r.done, 0);
	loop_add_timer(l, 5000, 0, on_guard, &fired);
	loop_set_before_poll(l, on_poll, &r);
	loop_run(l);
	CHECK_INT(r.done, 1);
	CHECK(strstr(r.msg, "connection refused") != NULL);
	CHECK(strstr(r.msg, "connect to 127.0.0.1:") != NULL);

	/* cancelled before it ever ran: nothing is called */
	memset(&r, 0, sizeof r);
	c = hc_start(l, &req, &ops, &r, err, sizeof err);
	hc_cancel(c);
	loop_add_timer(l, 50, 0, on_guard, &fired);
	loop_run(l);
	CHECK_INT(r.done, 0);
	loop_free(l);
}

/* ---- hc_fetch_stream: private loop, against a server process ---- */

#define BIG_BODY (3u * 1024 * 1024)

static unsigned char body_byte(size_t i)
{
	return (unsigned char)(i * 131 + (i >> 11));
}

/* A process that answers one connection with head and then n body
 * bytes; with a gate, the second half only after a byte arrives on it
 * (so the client must see the first half while the response is still
 * open). Returns its pid; *port is where it listens. */
static pid_t serve_once(int *port, const char *head, size_t n, int gate)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &al) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	pid = fork();
	if (pid != 0) {
		close(s);
		return pid;
	}
	{
		static unsigned char b[65536];
		char req[4096];
		size_t have = 0, off = 0;
		int c = accept(s, NULL, NULL);
		char g;
		while (c >= 0 && have < sizeof req) {
			ssize_t r = read(c, req + have, sizeof req - have);
			if (r <= 0)
				_exit(1);
			have += (size_t)r;
			if (memmem(req, have, "\r\n\r\n", 4))
				break;
		}
		if (c < 0 || write(c, head, strlen(head)) != (ssize_t)strlen(head))
			_exit(1);
		while (off < n) {
			size_t k = n - off < sizeof b ? n - off : sizeof b, i;
			if (gate >= 0 && off == n / 2 && read(gate, &g, 1) != 1)
				_exit(1);
			if (gate >= 0 && off < n / 2 && off + k > n / 2)
				k = n / 2 - off;
			for (i = 0; i < k; i++)
				b[i] = body_byte(off + i);
			if (write(c, b, k) != (ssize_t)k)
				_exit(1);
			off += k;
		}
		close(c);
		_exit(0);
	}
}

struct sresult {
	int status, headers, done, err, pieces;
	size_t got, biggest;
	bool ok_bytes;
	int gate;           /* write end: opened after the first half */
	size_t cancel_at;   /* hc_cancel once this many bytes arrived (0: never) */
	bool stop_headers;
	char msg[256];
};

static bool s_headers(hc_t *c, void *ud, int status, const http_header *h, size_t n)
{
	struct sresult *r = ud;
	r->status = status;
	r->headers++;
	return !r->stop_headers;
}

static void s_data(hc_t *c, void *ud, const char *p, size_t n)
{
	struct sresult *r = ud;
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] != body_byte(r->got + i))
			r->ok_bytes = false;
	r->got += n;
	r->pieces++;
	if (n > r->biggest)
		r->biggest = n;
	if (r->gate >= 0 && r->got >= BIG_BODY / 2) {
		CHECK(write(r->gate, "g", 1) == 1);
		close(r->gate);
		r->gate = -1;
	}
	if (r->cancel_at && r->got >= r->cancel_at)
		hc_cancel(c);
}

static void s_done(hc_t *c, void *ud, int err, const char *msg)
{
	struct sresult *r = ud;
	r->done++;
	r->err = err;
	snprintf(r->msg, sizeof r->msg, "%s", msg);
}

/* One hc_fetch_stream against serve_once; returns its result. */
static int stream_once(const char *head, size_t n, bool gated, struct sresult *r, char *err,
		size_t errcap)
{
	static const hc_ops ops = {s_headers, s_data, s_done};
	hc_request req;
	char url[64];
	int port = 0, gp[2] = {-1, -1}, st = 0, rc;
	pid_t pid;

	r->ok_bytes = true;
	r->gate = -1;
	if (gated)
		CHECK(pipe(gp) == 0);
	pid = serve_once(&port, head, n, gp[0]);
	CHECK(pid > 0);
	if (gated) {
		close(gp[0]);
		r->gate = gp[1];
	}
	memset(&req, 0, sizeof req);
	snprintf(url, sizeof url, "http://localhost:%d/big", port);
	req.url = url;
	req.no_proxy = true;
	req.read_timeout_ms = 3000; /* a client that waits for the end fails here */
	rc = hc_fetch_stream(&req, &ops, r, err, errcap);
	if (r->gate >= 0)
		close(r->gate);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	return rc;
}

static void test_fetch_stream(void)
{
	struct sresult r;
	char err[256], head[128];
	hc_request req;
	buf_t body;
	int status = 0;

	/* the first half arrives while the server still holds the second:
	 * bytes are delivered as they come, in bounded pieces */
	snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", BIG_BODY);
	memset(&r, 0, sizeof r);
	CHECK_INT(stream_once(head, BIG_BODY, true, &r, err, sizeof err), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.headers, 1);
	CHECK_INT(r.done, 1);
	CHECK_INT(r.err, 0);
	CHECK_STR(r.msg, "");
	CHECK_INT(r.got, BIG_BODY);
	CHECK(r.ok_bytes);
	CHECK(r.pieces > 1);
	CHECK(r.biggest <= 65536);

	/* close-delimited, any status counts as success */
	memset(&r, 0, sizeof r);
	CHECK_INT(stream_once("HTTP/1.0 404 Not Found\r\n\r\n", 100000, false, &r, err, sizeof err),
			0);
	CHECK_INT(r.status, 404);
	CHECK_INT(r.got, 100000);
	CHECK(r.ok_bytes);

	/* hc_cancel from on_data: stops at once, no on_done, -1 "cancelled" */
	memset(&r, 0, sizeof r);
	r.cancel_at = 1;
	CHECK_INT(stream_once(head, BIG_BODY, true, &r, err, sizeof err), -1);
	CHECK_STR(err, "cancelled");
	CHECK_INT(r.done, 0);
	CHECK(r.got < BIG_BODY);

	/* on_headers says stop: on_done once, and the same answer */
	memset(&r, 0, sizeof r);
	r.stop_headers = true;
	CHECK_INT(stream_once(head, 1000, false, &r, err, sizeof err), -1);
	CHECK_STR(err, "cancelled");
	CHECK_INT(r.done, 1);
	CHECK_INT(r.got, 0);

	/* truncated: on_done and the return value agree */
	memset(&r, 0, sizeof r);
	CHECK_INT(stream_once(head, 1000, false, &r, err, sizeof err), -1);
	CHECK_STR(err, "truncated response");
	CHECK_INT(r.done, 1);
	CHECK_STR(r.msg, "truncated response");

	/* a request that cannot start: no callbacks */
	memset(&r, 0, sizeof r);
	memset(&req, 0, sizeof req);
	req.url = "gopher://x/";
	CHECK_INT(hc_fetch_stream(&req, NULL, &r, err, sizeof err), -1);
	CHECK(strstr(err, "unsupported URL") != NULL);

	/* hc_fetch on top of it: the body in memory, or too big */
	{
		int port = 0, st = 0;
		char url[64];
		pid_t pid = serve_once(&port, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 5000, -1);
		snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
		req.url = url;
		req.no_proxy = true;
		buf_init(&body);
		CHECK_INT(hc_fetch(&req, &status, &body, 0, err, sizeof err), 0);
		CHECK_INT(status, 200);
		CHECK_INT(body.len, 5000);
		CHECK_INT((unsigned char)body.p[4999], body_byte(4999));
		buf_free(&body);
		waitpid(pid, &st, 0);

		pid = serve_once(&port, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 5000, -1);
		snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
		buf_init(&body);
		CHECK_INT(hc_fetch(&req, &status, &body, 4096, err, sizeof err), -1);
		CHECK_STR(err, "response body larger than 4096 bytes");
		CHECK(body.len <= 4096);
		buf_free(&body);
		kill(pid, SIGTERM);
		waitpid(pid, &st, 0);
	}
}

int main(void)
{
	test_anchors();
	test_url_parse();
	test_url_resolve();
	test_no_proxy();
	test_loop_framing();
	test_loop_control();
	test_loop_start_errors();
	test_fetch_stream();
	return t_done("tls");
}
