/* client.c - the HTTP/1.1 client: URL parsing, proxy choice, a
 * non-blocking connect, optional TLS, request writing and response
 * reading with the parsers of http.h, all as a state machine on the poll
 * loop. Depends on base/, http/ (parse), net/ (loop, tls).
 *
 * One connection carries one request (Connection: close), so a redirect
 * or a new attempt simply opens a fresh socket. A request walks through
 *   CONNECT -> [PROXY_SEND -> PROXY_HEAD] -> [HANDSHAKE] -> SEND -> HEAD -> BODY
 * where the bracketed steps are the CONNECT tunnel and TLS. Each step
 * either advances, waits for the socket (c->want), or finishes. */
#include "client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../base/util.h"
#include "../net/tls.h"

#ifndef SA_VERSION
#define SA_VERSION "dev"
#endif

#define HC_MAX_ADDRS 8          /* addresses tried per connection */
#define HC_READ_CHUNK 16384     /* bytes read per call */
#define HC_READ_BUDGET 262144   /* bytes handled per wakeup, for fairness */
#define HC_MAX_URL 8192         /* longest URL (and Location) accepted */
#define HC_PROXY_PORT 1080      /* proxy port when none is given, as curl */
#define HC_ERRLEN 256          /* error messages */
#define HC_SUBERR 192          /* parts of them */

enum {
	ST_IDLE,
	ST_CONNECT,
	ST_PROXY_SEND,
	ST_PROXY_HEAD,
	ST_HANDSHAKE,
	ST_SEND,
	ST_HEAD,
	ST_BODY,
};

struct hc_addrs {
	struct sockaddr_storage sa[HC_MAX_ADDRS];
	socklen_t len[HC_MAX_ADDRS];
	int n;
};

struct hc {
	loop_t *l;
	hc_ops ops;
	void *ud;

	/* the request, copied */
	char *method;
	char **hdrs;
	size_t nhdrs;
	char *body;
	size_t body_len;
	unsigned connect_ms, read_ms;
	int max_redirects, redirects;
	char *ca_file;
	bool no_proxy, may_resolve;

	/* where it goes now */
	char *url;
	hc_url u;
	hc_url proxy;      /* host[0] == 0: direct */
	bool tunnel;       /* https through the proxy: CONNECT first */
	struct hc_addrs addrs;
	int ai;            /* address being tried */
	char peer[HC_MAX_HOST + 16]; /* "host:port" being connected, for errors */

	/* the connection */
	int fd;
	tls_t *tls;
	int state;
	int want;          /* LOOP_* the current step waits for */
	buf_t out;
	size_t out_off;
	buf_t in;

	/* the response */
	http_resp_framing fr;
	http_chunked ch;
	uint64_t left;

	/* timers: one deadline timer, checked against the last progress */
	uint64_t kick;
	uint64_t timer;
	uint64_t last;
	unsigned tmo;

	int busy;          /* callbacks on the stack; freeing waits for 0 */
	bool done, cancelled;
	char err[HC_ERRLEN];
	struct hc_sync *sync; /* hc_fetch_stream: where the outcome goes */
};

/* The outcome of a request on a private loop, kept by the caller of
 * hc_fetch_stream because the hc_t is gone by the time it is read. */
struct hc_sync {
	bool over;
	int err;
	char msg[HC_ERRLEN];
};

/* Records the outcome and ends the private loop. */
static void sync_over(hc_t *c, int err, const char *msg)
{
	if (!c->sync || c->sync->over)
		return;
	c->sync->over = true;
	c->sync->err = err;
	snprintf(c->sync->msg, sizeof c->sync->msg, "%s", msg);
	loop_stop(c->l);
}

/* ================================================================ URLs */

static bool host_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		ch == '-' || ch == '.' || ch == '_';
}

static int url_err(char *err, size_t errcap, const char *what)
{
	snprintf(err, errcap, "invalid URL: %s", what);
	return -1;
}

static char *pct_dup(const char *p, size_t n)
{
	char *s = xmalloc(n + 1);
	long k = http_pct_decode(p, n, s, false);

	if (k < 0) {
		free(s);
		return NULL;
	}
	s[k] = '\0';
	return s;
}

void hc_url_free(hc_url *u)
{
	free(u->target);
	free(u->user);
	free(u->pass);
	memset(u, 0, sizeof *u);
}

static int parse_hostport(const char *p, size_t n, hc_url *u, char *err, size_t errcap)
{
	const char *port = NULL;
	size_t hl, i;

	if (n > 0 && p[0] == '[') {
		const char *rb = memchr(p, ']', n);
		unsigned char a6[16];
		if (!rb || rb == p + 1)
			return url_err(err, errcap, "bad IPv6 address");
		hl = (size_t)(rb - p - 1);
		if (hl >= sizeof u->host)
			return url_err(err, errcap, "bad IPv6 address");
		memcpy(u->host, p + 1, hl);
		u->host[hl] = '\0';
		if (inet_pton(AF_INET6, u->host, a6) != 1)
			return url_err(err, errcap, "bad IPv6 address");
		if (rb + 1 < p + n) {
			if (rb[1] != ':')
				return url_err(err, errcap, "junk after IPv6 address");
			port = rb + 2;
		}
	} else {
		const char *colon = memchr(p, ':', n);
		hl = colon ? (size_t)(colon - p) : n;
		if (hl == 0)
			return url_err(err, errcap, "no host");
		if (hl > HC_MAX_HOST)
			return url_err(err, errcap, "host name too long");
		for (i = 0; i < hl; i++) {
			if (!host_char((unsigned char)p[i]))
				return url_err(err, errcap, "bad character in host");
			u->host[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] + 32) : p[i];
		}
		u->host[hl] = '\0';
		if (colon)
			port = colon + 1;
	}
	u->port = u->https ? 443 : 80;
	if (port && port < p + n) {
		uint64_t v;
		if (!util_parse_u64(port, (size_t)(p + n - port), &v) || v == 0 || v > 65535)
			return url_err(err, errcap, "bad port");
		u->port = (unsigned)v;
		u->explicit_port = true;
	}
	return 0;
}

int hc_url_parse(const char *s, hc_url *u, char *err, size_t errcap)
{
	static const char hexd[] = "0123456789ABCDEF";
	const char *p, *auth, *auth_end, *at, *end;
	buf_t t;

	memset(u, 0, sizeof *u);
	if (strlen(s) > HC_MAX_URL)
		return url_err(err, errcap, "too long");
	if (!strncasecmp(s, "http://", 7)) {
		auth = s + 7;
	} else if (!strncasecmp(s, "https://", 8)) {
		u->https = true;
		auth = s + 8;
	} else {
		snprintf(err, errcap, "unsupported URL (only http:// and https://): %.64s", s);
		return -1;
	}
	auth_end = auth + strcspn(auth, "/?#");
	/* userinfo: everything up to the last '@' of the authority */
	at = NULL;
	for (p = auth; p < auth_end; p++)
		if (*p == '@')
			at = p;
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		const char *ue = colon ? colon : at;
		u->user = pct_dup(auth, (size_t)(ue - auth));
		u->pass = colon ? pct_dup(colon + 1, (size_t)(at - colon - 1)) : xstrdup("");
		if (!u->user || !u->pass) {
			hc_url_free(u);
			return url_err(err, errcap, "bad escape in user info");
		}
		auth = at + 1;
	}
	if (parse_hostport(auth, (size_t)(auth_end - auth), u, err, errcap) < 0) {
		hc_url_free(u);
		return -1;
	}
	/* path and query; the fragment stays with the client */
	end = auth_end + strcspn(auth_end, "#");
	buf_init(&t);
	if (auth_end == end || *auth_end == '?')
		buf_putc(&t, '/');
	for (p = auth_end; p < end; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch < 0x20 || ch == 0x7f) {
			buf_free(&t);
			hc_url_free(u);
			return url_err(err, errcap, "control character");
		}
		if (ch == ' ' || ch > 0x7f) {
			buf_putc(&t, '%');
			buf_putc(&t, hexd[ch >> 4]);
			buf_putc(&t, hexd[ch & 15]);
		} else {
			buf_putc(&t, (char)ch);
		}
	}
	u->target = xstrdup(buf_cstr(&t));
	buf_free(&t);
	return 0;
}

/* RFC 3986 5.2.4 on an absolute path (starting with '/', no query),
 * appended to out; ".." never climbs above where the path starts. */
static void remove_dots(buf_t *out, const char *path, size_t n)
{
	size_t base = out->len, i = 1;

	for (;;) {
		size_t e = i, len;
		bool last;
		while (e < n && path[e] != '/')
			e++;
		last = e >= n;
		len = e - i;
		if (len == 1 && path[i] == '.') {
			if (last)
				buf_putc(out, '/');
		} else if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
			while (out->len > base && out->p[out->len - 1] != '/')
				out->len--;
			if (out->len > base)
				out->len--; /* the segment's own slash */
			if (last)
				buf_putc(out, '/');
		} else {
			buf_putc(out, '/');
			buf_append(out, path + i, len);
		}
		if (last)
			break;
		i = e + 1;
	}
	if (out->len == base)
		buf_putc(out, '/');
}

static bool has_scheme(const char *r)
{
	size_t i = 0;

	if (!((r[0] >= 'a' && r[0] <= 'z') || (r[0] >= 'A' && r[0] <= 'Z')))
		return false;
	while (r[i] && (host_char((unsigned char)r[i]) || r[i] == '+') && r[i] != '_')
		i++;
	return r[i] == ':';
}

char *hc_url_resolve(const char *base, const char *ref)
{
	const char *sep = strstr(base, "://"), *auth_end, *path_end;
	buf_t o, path;

	if (!sep || !has_scheme(base))
		return NULL;
	if (has_scheme(ref))
		return xstrdup(ref);
	auth_end = sep + 3 + strcspn(sep + 3, "/?#");
	path_end = auth_end + strcspn(auth_end, "?#");
	buf_init(&o);
	buf_init(&path);
	if (ref[0] == '/' && ref[1] == '/') {
		buf_append(&o, base, (size_t)(sep + 1 - base));
		buf_puts(&o, ref);
		buf_free(&path);
		return buf_cstr(&o);
	}
	buf_append(&o, base, (size_t)(auth_end - base));
	if (ref[0] == '?') {
		buf_append(&path, auth_end, (size_t)(path_end - auth_end));
		if (path.len == 0)
			buf_putc(&path, '/');
		buf_append(&o, path.p, path.len);
		buf_puts(&o, ref);
		buf_free(&path);
		return buf_cstr(&o);
	}
	if (ref[0] == '#' || ref[0] == '\0') {
		buf_append(&o, auth_end, (size_t)(auth_end + strcspn(auth_end, "#") - auth_end));
		buf_free(&path);
		return buf_cstr(&o);
	}
	if (ref[0] == '/') {
		buf_puts(&path, ref);
	} else {
		/* merge: the base path up to its last slash, then ref */
		const char *slash = NULL, *q;
		for (q = auth_end; q < path_end; q++)
			if (*q == '/')
				slash = q;
		if (slash)
			buf_append(&path, auth_end, (size_t)(slash + 1 - auth_end));
		else
			buf_putc(&path, '/');
		buf_puts(&path, ref);
	}
	{
		size_t pe = strcspn(buf_cstr(&path), "?#");
		remove_dots(&o, path.p, pe);
		buf_append(&o, path.p + pe, path.len - pe);
	}
	buf_free(&path);
	return buf_cstr(&o);
}

/* ========================================================== no_proxy */

static bool ieq_n(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return false;
	}
	return true;
}

/* Parses an IP literal into 16 bytes (IPv4 as ::ffff:a.b.c.d). */
static bool parse_ip(const char *s, unsigned char a[16], bool *v4)
{
	unsigned char b4[4];

	if (inet_pton(AF_INET, s, b4) == 1) {
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, b4, 4);
		*v4 = true;
		return true;
	}
	*v4 = false;
	return inet_pton(AF_INET6, s, a) == 1;
}

static bool cidr_match(const char *entry, size_t n, const char *host)
{
	char tmp[64];
	unsigned char net[16], ip[16];
	bool v4, hv4;
	const char *slash = memchr(entry, '/', n);
	size_t al = slash ? (size_t)(slash - entry) : n;
	uint64_t bits = 0;
	size_t i;

	if (al == 0 || al >= sizeof tmp)
		return false;
	memcpy(tmp, entry, al);
	tmp[al] = '\0';
	if (!parse_ip(tmp, net, &v4) || !parse_ip(host, ip, &hv4) || v4 != hv4)
		return false;
	if (slash) {
		if (!util_parse_u64(slash + 1, n - al - 1, &bits) || bits > (v4 ? 32u : 128u))
			return false;
		if (v4)
			bits += 96;
	} else {
		bits = 128;
	}
	for (i = 0; i < 16 && bits > 0; i++) {
		unsigned m = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
		if ((net[i] & m) != (ip[i] & m))
			return false;
		bits = bits >= 8 ? bits - 8 : 0;
	}
	return true;
}

bool hc_no_proxy_match(const char *list, const char *host)
{
	const char *p = list;
	size_t hl = strlen(host);
	unsigned char dummy[16];
	bool hv4;
	bool host_ip = parse_ip(host, dummy, &hv4);

	while (hl > 0 && host[hl - 1] == '.')
		hl--;
	while (*p) {
		const char *e;
		size_t n;
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		e = p;
		p += n;
		if (n == 0)
			continue;
		if (n == 1 && e[0] == '*')
			return true;
		/* ports are ignored: "[::1]:8080", "host:8080" */
		if (e[0] == '[') {
			const char *rb = memchr(e, ']', n);
			if (!rb)
				continue;
			e++;
			n = (size_t)(rb - e);
		} else {
			const char *c1 = memchr(e, ':', n);
			if (c1 && !memchr(c1 + 1, ':', (size_t)(e + n - c1 - 1)))
				n = (size_t)(c1 - e);
		}
		if (host_ip) {
			if (cidr_match(e, n, host))
				return true;
			continue;
		}
		while (n > 0 && e[0] == '.') {
			e++;
			n--;
		}
		while (n > 0 && e[n - 1] == '.')
			n--;
		if (n == 0 || n > hl)
			continue;
		if (ieq_n(host + hl - n, e, n) && (n == hl || host[hl - n - 1] == '.'))
			return true;
	}
	return false;
}

static const char *env2(const char *a, const char *b)
{
	const char *v = getenv(a);
	if (!v || !*v)
		v = getenv(b);
	return v && *v ? v : NULL;
}

/* Sets c->proxy (host empty: direct) for c->u. 0, or -1 with c->err. */
static int choose_proxy(hc_t *c)
{
	const char *ps, *np;
	char *tmp = NULL, e[HC_SUBERR];
	int r;

	hc_url_free(&c->proxy);
	c->tunnel = false;
	if (c->no_proxy)
		return 0;
	ps = c->u.https ? env2("https_proxy", "HTTPS_PROXY") : env2("http_proxy", "HTTP_PROXY");
	if (!ps)
		ps = env2("all_proxy", "ALL_PROXY");
	if (!ps)
		return 0;
	np = env2("no_proxy", "NO_PROXY");
	if (np && hc_no_proxy_match(np, c->u.host))
		return 0;
	if (!strstr(ps, "://")) {
		size_t n = strlen(ps) + 8;
		tmp = xmalloc(n);
		snprintf(tmp, n, "http://%s", ps);
		ps = tmp;
	}
	if (!strncasecmp(ps, "https://", 8)) {
		snprintf(c->err, sizeof c->err, "proxy: https:// proxies are not supported");
		free(tmp);
		return -1;
	}
	r = hc_url_parse(ps, &c->proxy, e, sizeof e);
	free(tmp);
	if (r < 0) {
		snprintf(c->err, sizeof c->err, "proxy: %s", e);
		return -1;
	}
	if (!c->proxy.explicit_port)
		c->proxy.port = HC_PROXY_PORT;
	c->tunnel = c->u.https;
	return 0;
}

/* ======================================================= addresses */

static bool is_localhost(const char *h)
{
	return !strcmp(h, "localhost") || !strcmp(h, "localhost.");
}

static void add_addr(struct hc_addrs *a, const struct sockaddr *sa, socklen_t len)
{
	if (a->n >= HC_MAX_ADDRS || len > sizeof a->sa[0])
		return;
	memcpy(&a->sa[a->n], sa, len);
	a->len[a->n++] = len;
}

static void add_v4(struct hc_addrs *a, const unsigned char ip[4], unsigned port)
{
	struct sockaddr_in s;
	memset(&s, 0, sizeof s);
	s.sin_family = AF_INET;
	s.sin_port = htons((uint16_t)port);
	memcpy(&s.sin_addr, ip, 4);
	add_addr(a, (struct sockaddr *)&s, sizeof s);
}

static void add_v6(struct hc_addrs *a, const unsigned char ip[16], unsigned port)
{
	struct sockaddr_in6 s;
	memset(&s, 0, sizeof s);
	s.sin6_family = AF_INET6;
	s.sin6_port = htons((uint16_t)port);
	memcpy(&s.sin6_addr, ip, 16);
	add_addr(a, (struct sockaddr *)&s, sizeof s);
}

/* Numeric addresses and localhost never block; other names need
 * getaddrinfo, allowed only when may_block. */
static bool needs_dns(const char *host)
{
	unsigned char b[16];
	return !is_localhost(host) && inet_pton(AF_INET, host, b) != 1 &&
		inet_pton(AF_INET6, host, b) != 1;
}

static int resolve(const char *host, unsigned port, bool may_block, struct hc_addrs *a,
		char *err, size_t errcap)
{
	static const unsigned char lo4[4] = {127, 0, 0, 1};
	static const unsigned char lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	unsigned char b[16];
	struct addrinfo hints, *res, *ai;
	char ps[8];
	int r;

	a->n = 0;
	if (inet_pton(AF_INET, host, b) == 1) {
		add_v4(a, b, port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, b) == 1) {
		add_v6(a, b, port);
		return 0;
	}
	if (is_localhost(host)) {
		add_v4(a, lo4, port);
		add_v6(a, lo6, port);
		return 0;
	}
	if (!may_block) {
		snprintf(err, errcap, "%.100s: name resolution is not available here (use an IP address)",
				host);
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(ps, sizeof ps, "%u", port);
	r = getaddrinfo(host, ps, &hints, &res);
	if (r != 0) {
		snprintf(err, errcap, "cannot resolve %.100s: %s", host, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			add_addr(a, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	if (a->n == 0) {
		snprintf(err, errcap, "cannot resolve %.100s: no addresses", host);
		return -1;
	}
	return 0;
}

/* ======================================================= lifecycle */

static void errno_text(char *out, size_t cap, int e)
{
	snprintf(out, cap, "%s", strerror(e));
	if (out[0] >= 'A' && out[0] <= 'Z' && !(out[1] >= 'A' && out[1] <= 'Z'))
		out[0] = (char)(out[0] + 32);
}

static void close_conn(hc_t *c)
{
	if (c->tls) {
		tls_free(c->tls);
		c->tls = NULL;
	}
	if (c->fd >= 0) {
		loop_del_fd(c->l, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	c->state = ST_IDLE;
	c->want = 0;
	buf_reset(&c->out);
	c->out_off = 0;
	buf_reset(&c->in);
}

static void stop_timers(hc_t *c)
{
	if (c->timer)
		loop_cancel_timer(c->l, c->timer);
	if (c->kick)
		loop_cancel_timer(c->l, c->kick);
	c->timer = c->kick = 0;
}

static void destroy(hc_t *c)
{
	size_t i;

	close_conn(c);
	stop_timers(c);
	buf_free(&c->out);
	buf_free(&c->in);
	for (i = 0; i < c->nhdrs; i++)
		free(c->hdrs[i]);
	free(c->hdrs);
	free(c->method);
	free(c->body);
	free(c->ca_file);
	free(c->url);
	hc_url_free(&c->u);
	hc_url_free(&c->proxy);
	free(c);
}

/* Called at the outermost entry points (loop callbacks): frees the
 * client once nothing of it remains on the stack. */
static void release(hc_t *c)
{
	if (c->busy == 0 && (c->done || c->cancelled))
		destroy(c);
}

static int finish(hc_t *c, int err, const char *msg)
{
	if (c->done)
		return -1;
	c->done = true;
	close_conn(c);
	stop_timers(c);
	sync_over(c, err, msg ? msg : "");
	if (!c->cancelled && c->ops.on_done) {
		c->busy++;
		c->ops.on_done(c, c->ud, err, msg ? msg : "");
		c->busy--;
	}
	return -1;
}

static int fail(hc_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(hc_t *c, const char *fmt, ...)
{
	va_list ap;
	char msg[HC_ERRLEN];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return finish(c, -1, msg);
}

void hc_cancel(hc_t *c)
{
	if (!c || c->done || c->cancelled)
		return;
	c->cancelled = true;
	sync_over(c, -1, "cancelled");
	release(c);
}

/* ========================================================= timers */

static int connect_next(hc_t *c);
static void drive(hc_t *c);

static void on_timer(loop_t *l, void *ud)
{
	hc_t *c = ud;
	uint64_t now = loop_now(l), idle = now - c->last;

	c->timer = 0;
	if (c->done || c->cancelled)
		return;
	if (idle < c->tmo) {
		c->timer = loop_add_timer(l, c->tmo - idle, 0, on_timer, c);
		return;
	}
	c->busy++;
	if (c->state == ST_CONNECT && c->ai < c->addrs.n) {
		/* the next address may answer (a dead IPv6 route, say) */
		close_conn(c);
		snprintf(c->err, sizeof c->err, "timeout");
		if (connect_next(c) > 0)
			drive(c);
	} else if (c->state == ST_CONNECT)
		fail(c, "connect to %s: timeout", c->peer);
	else if (c->state == ST_HANDSHAKE)
		fail(c, "tls handshake with %s: timeout", c->peer);
	else
		fail(c, "read timeout (no data for %u ms)", c->tmo);
	c->busy--;
	release(c);
}

/* A new phase with its own limit (connect, then read). */
static void arm(hc_t *c, unsigned ms)
{
	c->tmo = ms;
	c->last = loop_now(c->l);
	if (c->timer)
		loop_cancel_timer(c->l, c->timer);
	c->timer = loop_add_timer(c->l, ms, 0, on_timer, c);
}

static void progress(hc_t *c)
{
	c->last = loop_now(c->l);
}

/* ======================================================= transport */

/* >0 bytes, 0 would block (c->want set), -1 error (c->err set) */
static ssize_t xwrite(hc_t *c, const char *p, size_t n)
{
	ssize_t r;

	if (c->tls) {
		r = tls_write(c->tls, p, n);
		if (r > 0)
			return r;
		if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
			c->want = r == TLS_WANT_READ ? LOOP_READ : LOOP_WRITE;
			return 0;
		}
		snprintf(c->err, sizeof c->err, "tls: %s",
				r == TLS_CLOSED ? "connection closed" : tls_error(c->tls));
		return -1;
	}
	do
		r = send(c->fd, p, n, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		return r;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		c->want = LOOP_WRITE;
		return 0;
	}
	{
		char e[HC_SUBERR];
		errno_text(e, sizeof e, r < 0 ? errno : EPIPE);
		snprintf(c->err, sizeof c->err, "send: %s", e);
	}
	return -1;
}

/* >0 bytes, 0 EOF, -2 would block (c->want set), -1 error (c->err set) */
static ssize_t xread(hc_t *c, char *p, size_t n)
{
	ssize_t r;

	if (c->tls) {
		r = tls_read(c->tls, p, n);
		if (r > 0)
			return r;
		if (r == TLS_CLOSED)
			return 0;
		if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
			c->want = r == TLS_WANT_READ ? LOOP_READ : LOOP_WRITE;
			return -2;
		}
		snprintf(c->err, sizeof c->err, "tls: %s", tls_error(c->tls));
		return -1;
	}
	do
		r = recv(c->fd, p, n, 0);
	while (r < 0 && errno == EINTR);
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->want = LOOP_READ;
		return -2;
	}
	{
		char e[HC_SUBERR];
		errno_text(e, sizeof e, errno);
		snprintf(c->err, sizeof c->err, "recv: %s", e);
	}
	return -1;
}

/* Appends up to HC_READ_CHUNK bytes to c->in; same results as xread. */
static ssize_t fill(hc_t *c)
{
	ssize_t r;

	buf_reserve(&c->in, HC_READ_CHUNK);
	r = xread(c, c->in.p + c->in.len, HC_READ_CHUNK);
	if (r > 0) {
		c->in.len += (size_t)r;
		progress(c);
	}
	return r;
}

/* ====================================================== requests */

static bool is_method(const hc_t *c, const char *m)
{
	return !strcmp(c->method, m);
}

static bool hdr_is(const char *h, const char *name)
{
	size_t n = strlen(name);
	return !strncasecmp(h, name, n) && h[n] == ':';
}

static bool caller_has(const hc_t *c, const char *name)
{
	size_t i;
	for (i = 0; i < c->nhdrs; i++)
		if (hdr_is(c->hdrs[i], name))
			return true;
	return false;
}

static void put_authority(buf_t *b, const hc_url *u, bool always_port)
{
	bool v6 = strchr(u->host, ':') != NULL;

	buf_printf(b, v6 ? "[%s]" : "%s", u->host);
	if (always_port || u->port != (u->https ? 443u : 80u))
		buf_printf(b, ":%u", u->port);
}

static void put_proxy_auth(buf_t *b, const hc_url *p)
{
	buf_t cred;
	char *enc;

	if (!p->user)
		return;
	buf_init(&cred);
	buf_printf(&cred, "%s:%s", p->user, p->pass ? p->pass : "");
	enc = xmalloc(4 * ((cred.len + 2) / 3) + 1);
	util_b64_encode((const unsigned char *)cred.p, cred.len, enc);
	buf_printf(b, "Proxy-Authorization: Basic %s\r\n", enc);
	free(enc);
	buf_free(&cred);
}

static void build_connect(hc_t *c)
{
	buf_reset(&c->out);
	c->out_off = 0;
	buf_puts(&c->out, "CONNECT ");
	put_authority(&c->out, &c->u, true);
	buf_puts(&c->out, " HTTP/1.1\r\nHost: ");
	put_authority(&c->out, &c->u, true);
	buf_puts(&c->out, "\r\nUser-Agent: sandbox-agent/" SA_VERSION "\r\n");
	put_proxy_auth(&c->out, &c->proxy);
	buf_puts(&c->out, "\r\n");
}

static void build_request(hc_t *c)
{
	buf_t *b = &c->out;
	size_t i;

	buf_reset(b);
	c->out_off = 0;
	buf_printf(b, "%s ", c->method);
	if (c->proxy.host[0] && !c->tunnel) {
		buf_puts(b, "http://");
		put_authority(b, &c->u, false);
	}
	buf_printf(b, "%s HTTP/1.1\r\nHost: ", c->u.target);
	put_authority(b, &c->u, false);
	buf_puts(b, "\r\n");
	if (!caller_has(c, "User-Agent"))
		buf_puts(b, "User-Agent: sandbox-agent/" SA_VERSION "\r\n");
	if (!caller_has(c, "Accept"))
		buf_puts(b, "Accept: */*\r\n");
	if (!caller_has(c, "Accept-Encoding"))
		buf_puts(b, "Accept-Encoding: identity\r\n");
	if (c->proxy.host[0] && !c->tunnel)
		put_proxy_auth(b, &c->proxy);
	for (i = 0; i < c->nhdrs; i++)
		buf_printf(b, "%s\r\n", c->hdrs[i]);
	if (c->body || is_method(c, "POST") || is_method(c, "PUT") || is_method(c, "PATCH"))
		buf_printf(b, "Content-Length: %zu\r\n", c->body_len);
	buf_puts(b, "Connection: close\r\n\r\n");
	if (c->body_len)
		buf_append(b, c->body, c->body_len);
}

/* ===================================================== connecting */

static void on_io(loop_t *l, int fd, int revents, void *ud);

static void set_peer(hc_t *c)
{
	const hc_url *t = c->proxy.host[0] ? &c->proxy : &c->u;
	bool v6 = strchr(t->host, ':') != NULL;

	snprintf(c->peer, sizeof c->peer, v6 ? "%s[%s]:%u" : "%s%s:%u",
			c->proxy.host[0] ? "proxy " : "", t->host, t->port);
}

/* Chooses the route for c->u and starts connecting. 0 or -1 (finished). */
static int begin(hc_t *c)
{
	const hc_url *t;
	char err[HC_ERRLEN];

	if (choose_proxy(c) < 0)
		return fail(c, "%s", c->err);
	t = c->proxy.host[0] ? &c->proxy : &c->u;
	set_peer(c);
	if (resolve(t->host, t->port, c->may_resolve, &c->addrs, err, sizeof err) < 0)
		return fail(c, "%s", err);
	c->ai = 0;
	c->err[0] = '\0';
	return connect_next(c);
}

static int start_tls(hc_t *c)
{
	char err[HC_ERRLEN];

	c->tls = tls_client_new(c->fd, c->u.host, c->ca_file, err, sizeof err);
	if (!c->tls)
		return fail(c, "tls: %s", err);
	c->state = ST_HANDSHAKE;
	return 1;
}

static int connected(hc_t *c)
{
	c->state = ST_SEND;
	arm(c, c->read_ms);
	if (c->tunnel) {
		build_connect(c);
		c->state = ST_PROXY_SEND;
		return 1;
	}
	if (c->u.https)
		return start_tls(c);
	build_request(c);
	return 1;
}

/* Tries addresses from c->ai on. 1: connected now, 0: in progress,
 * -1: finished (every address failed). */
static int connect_next(hc_t *c)
{
	while (c->ai < c->addrs.n) {
		const struct sockaddr *sa = (const struct sockaddr *)&c->addrs.sa[c->ai];
		int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int one = 1, r;

		c->ai++;
		if (fd < 0) {
			errno_text(c->err, sizeof c->err, errno);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		do
			r = connect(fd, sa, c->addrs.len[c->ai - 1]);
		while (r < 0 && errno == EINTR);
		if (r < 0 && errno != EINPROGRESS) {
			errno_text(c->err, sizeof c->err, errno);
			close(fd);
			continue;
		}
		if (loop_add_fd(c->l, fd, LOOP_WRITE, on_io, c) < 0) {
			errno_text(c->err, sizeof c->err, errno);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = ST_CONNECT;
		c->want = LOOP_WRITE;
		arm(c, c->connect_ms);
		if (r == 0)
			return connected(c);
		return 0;
	}
	return fail(c, "connect to %s: %s", c->peer, c->err[0] ? c->err : "no address");
}

static int check_connect(hc_t *c)
{
	int e = 0;
	socklen_t len = sizeof e;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e == EINPROGRESS || e == EALREADY)
		return 0;
	if (e == 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		/* SO_ERROR is also 0 while the handshake is still running */
		if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) < 0 && errno == ENOTCONN)
			return 0;
		return connected(c);
	}
	errno_text(c->err, sizeof c->err, e);
	close_conn(c);
	return connect_next(c);
}

/* ====================================================== the steps */

/* Writes c->out, then moves to state next. */
static int do_send(hc_t *c, int next)
{
	while (c->out_off < c->out.len) {
		ssize_t r = xwrite(c, c->out.p + c->out_off, c->out.len - c->out_off);
		if (r < 0)
			return fail(c, "%s", c->err);
		if (r == 0) {
			/* The server answered before reading everything (an
			 * early error): read that answer. */
			if (c->tls && tls_pending(c->tls) && next == ST_HEAD) {
				c->state = next;
				return 1;
			}
			return 0;
		}
		c->out_off += (size_t)r;
		progress(c);
	}
	c->state = next;
	buf_reset(&c->in);
	return 1;
}

static int do_handshake(hc_t *c)
{
	int r = tls_handshake(c->tls);

	if (r == TLS_OK) {
		progress(c);
		build_request(c);
		c->state = ST_SEND;
		return 1;
	}
	if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
		/* The whole handshake must fit in one read timeout. */
		c->want = r == TLS_WANT_READ ? LOOP_READ : LOOP_WRITE;
		return 0;
	}
	return fail(c, "tls: %s", tls_error(c->tls));
}

static int parse_head(hc_t *c, http_response *res, const char *who)
{
	int n;

	if (c->in.len == 0) /* nothing yet (and no buffer: p may be NULL) */
		return HTTP_INCOMPLETE;
	n = http_parse_response(c->in.p, c->in.len, res);

	if (n == HTTP_INCOMPLETE && c->in.len >= HC_MAX_HEADER)
		return fail(c, "%s header too large (over %d bytes)", who, HC_MAX_HEADER);
	if (n == HTTP_BAD)
		return fail(c, "malformed %s header", who);
	if (n == HTTP_TOO_MANY)
		return fail(c, "too many %s header fields", who);
	return n;
}

static int do_proxy_head(hc_t *c)
{
	http_response res;

	for (;;) {
		ssize_t r;
		int n = parse_head(c, &res, "proxy response");
		if (c->done)
			return -1;
		if (n > 0) {
			if (res.status < 200 || res.status > 299)
				return fail(c, "proxy refused CONNECT to %s:%u: %d %.*s", c->u.host,
						c->u.port, res.status, (int)res.reason_len, res.reason);
			if ((size_t)n != c->in.len)
				return fail(c, "proxy sent data after its CONNECT response");
			buf_reset(&c->in);
			return start_tls(c);
		}
		r = fill(c);
		if (r == -2)
			return 0;
		if (r < 0)
			return fail(c, "%s", c->err);
		if (r == 0)
			return fail(c, "proxy closed the connection during CONNECT");
	}
}

static bool is_redirect(int s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

static bool sensitive(const char *h)
{
	return hdr_is(h, "Authorization") || hdr_is(h, "Cookie") ||
		hdr_is(h, "Proxy-Authorization");
}

static int redirect(hc_t *c, int status, const http_header *loc)
{
	int limit = c->max_redirects ? c->max_redirects : HC_MAX_REDIRECTS;
	char *ls, *next;
	hc_url nu;
	char err[HC_ERRLEN];

	if (c->redirects >= limit)
		return fail(c, "too many redirects (more than %d)", limit);
	if (loc->value_len == 0 || loc->value_len > HC_MAX_URL)
		return fail(c, "bad redirect location");
	ls = xstrndup(loc->value, loc->value_len);
	next = hc_url_resolve(c->url, ls);
	free(ls);
	if (!next)
		return fail(c, "bad redirect location");
	if (hc_url_parse(next, &nu, err, sizeof err) < 0) {
		free(next);
		return fail(c, "redirect: %s", err);
	}
	if (c->u.https && !nu.https) {
		hc_url_free(&nu);
		free(next);
		return fail(c, "redirect from https to http refused");
	}
	if ((status == 303 && !is_method(c, "HEAD")) ||
	    ((status == 301 || status == 302) && is_method(c, "POST"))) {
		free(c->method);
		c->method = xstrdup("GET");
		free(c->body);
		c->body = NULL;
		c->body_len = 0;
	}
	if (nu.https != c->u.https || nu.port != c->u.port || strcmp(nu.host, c->u.host)) {
		size_t i, k = 0;
		for (i = 0; i < c->nhdrs; i++) {
			if (sensitive(c->hdrs[i]))
				free(c->hdrs[i]);
			else
				c->hdrs[k++] = c->hdrs[i];
		}
		c->nhdrs = k;
	}
	close_conn(c);
	hc_url_free(&c->u);
	c->u = nu;
	free(c->url);
	c->url = next;
	c->redirects++;
	if (begin(c) < 0)
		return -1;
	return c->state == ST_CONNECT ? 0 : 1;
}

static int deliver(hc_t *c, const char *p, size_t n)
{
	if (n == 0 || !c->ops.on_data)
		return 0;
	c->busy++;
	c->ops.on_data(c, c->ud, p, n);
	c->busy--;
	return c->cancelled ? -1 : 0;
}

/* Consumes c->in as body bytes. 1: body complete, 0: more needed,
 * -1: finished with an error or cancelled. */
static int body_bytes(hc_t *c)
{
	if (c->fr.chunked) {
		size_t len = c->in.len, used = 0;
		int r = http_chunked_decode(&c->ch, c->in.p, &len, &used);
		if (deliver(c, c->in.p, len) < 0)
			return -1;
		buf_reset(&c->in); /* whatever follows the last chunk is ignored */
		if (r == HTTP_BAD)
			return fail(c, "malformed chunked body");
		return r == 1;
	}
	if (c->fr.has_length) {
		size_t k = c->in.len < c->left ? c->in.len : (size_t)c->left;
		if (deliver(c, c->in.p, k) < 0)
			return -1;
		c->left -= k;
		buf_reset(&c->in);
		return c->left == 0;
	}
	if (deliver(c, c->in.p, c->in.len) < 0)
		return -1;
	buf_reset(&c->in);
	return 0;
}

static int do_head(hc_t *c)
{
	http_response res;

	for (;;) {
		ssize_t r;
		int n = parse_head(c, &res, "response");
		if (c->done)
			return -1;
		if (n > 0) {
			const http_header *loc;
			bool go_on;
			if (res.status < 200) {
				if (res.status == 101)
					return fail(c, "unexpected 101 Switching Protocols");
				buf_consume(&c->in, (size_t)n); /* 100 Continue, 103 hints */
				continue;
			}
			loc = http_find_header(res.headers, res.nheaders, "Location");
			if (is_redirect(res.status) && loc && c->max_redirects >= 0)
				return redirect(c, res.status, loc);
			if (http_response_framing(&res, is_method(c, "HEAD"), &c->fr) != 0)
				return fail(c, "malformed response framing");
			go_on = true;
			if (c->ops.on_headers) {
				c->busy++;
				go_on = c->ops.on_headers(c, c->ud, res.status, res.headers, res.nheaders);
				c->busy--;
			}
			if (c->cancelled)
				return -1;
			if (!go_on)
				return fail(c, "cancelled");
			buf_consume(&c->in, (size_t)n);
			if (c->fr.no_body || (c->fr.has_length && c->fr.length == 0))
				return finish(c, 0, "");
			memset(&c->ch, 0, sizeof c->ch);
			c->left = c->fr.length;
			c->state = ST_BODY;
			r = body_bytes(c);
			if (r < 0)
				return -1;
			if (r == 1)
				return finish(c, 0, "");
			return 1;
		}
		r = fill(c);
		if (r == -2)
			return 0;
		if (r < 0)
			return fail(c, "%s", c->err);
		if (r == 0)
			return fail(c, c->in.len ? "connection closed in the response header"
					: "empty reply from server");
	}
}

static int do_body(hc_t *c)
{
	size_t budget = 0;

	for (;;) {
		ssize_t r;
		int b;
		if (budget >= HC_READ_BUDGET && !(c->tls && tls_pending(c->tls))) {
			c->want = LOOP_READ;
			return 0; /* the socket still has data: poll wakes us */
		}
		r = fill(c);
		if (r == -2)
			return 0;
		if (r < 0)
			return fail(c, "%s", c->err);
		if (r == 0) {
			if (c->fr.close_delimited)
				return finish(c, 0, "");
			return fail(c, "truncated response");
		}
		budget += (size_t)r;
		b = body_bytes(c);
		if (b < 0)
			return -1;
		if (b == 1)
			return finish(c, 0, "");
	}
}

static void drive(hc_t *c)
{
	for (;;) {
		int r, ev;
		if (c->done || c->cancelled)
			return;
		switch (c->state) {
		case ST_PROXY_SEND: r = do_send(c, ST_PROXY_HEAD); break;
		case ST_PROXY_HEAD: r = do_proxy_head(c); break;
		case ST_HANDSHAKE: r = do_handshake(c); break;
		case ST_SEND: r = do_send(c, ST_HEAD); break;
		case ST_HEAD: r = do_head(c); break;
		case ST_BODY: r = do_body(c); break;
		default: return;
		}
		if (r > 0)
			continue;
		if (r < 0 || c->done || c->cancelled || c->fd < 0)
			return;
		ev = c->want;
		if (c->tls)
			ev |= tls_wants(c->tls);
		loop_set_events(c->l, c->fd, ev ? ev : LOOP_READ);
		return;
	}
}

static void on_io(loop_t *l, int fd, int revents, void *ud)
{
	hc_t *c = ud;

	c->busy++;
	if (c->state == ST_CONNECT) {
		int r = check_connect(c);
		if (r > 0)
			drive(c);
		else if (r == 0 && c->fd >= 0 && !c->done)
			loop_set_events(l, c->fd, LOOP_WRITE);
	} else {
		drive(c);
	}
	c->busy--;
	release(c);
}

static void on_kick(loop_t *l, void *ud)
{
	hc_t *c = ud;

	c->kick = 0;
	c->busy++;
	if (begin(c) > 0)
		drive(c);
	c->busy--;
	release(c);
}

/* ====================================================== starting */

static bool valid_header(const char *h)
{
	const char *colon = strchr(h, ':');
	const char *p;

	if (!colon || colon == h)
		return false;
	for (p = h; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return false;
	for (p = h; p < colon; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* Headers the client owns: framing and connection management. */
static bool reserved_header(const char *h)
{
	return hdr_is(h, "Host") || hdr_is(h, "Connection") || hdr_is(h, "Content-Length") ||
		hdr_is(h, "Transfer-Encoding");
}

static bool valid_method(const char *m)
{
	if (!*m)
		return false;
	for (; *m; m++)
		if (!((*m >= 'A' && *m <= 'Z') || *m == '-' || *m == '_'))
			return false;
	return true;
}

static hc_t *start(loop_t *l, const hc_request *req, const hc_ops *ops, void *ud,
		bool may_resolve, char *err, size_t errcap)
{
	hc_t *c;
	size_t i, n = 0;
	const hc_url *t;

	if (!req->url) {
		snprintf(err, errcap, "no URL");
		return NULL;
	}
	if (req->method && !valid_method(req->method)) {
		snprintf(err, errcap, "invalid method");
		return NULL;
	}
	if (req->headers)
		for (; req->headers[n]; n++)
			if (!valid_header(req->headers[n])) {
				snprintf(err, errcap, "invalid request header: %.64s", req->headers[n]);
				return NULL;
			}
	c = xcalloc(1, sizeof *c);
	c->fd = -1;
	c->l = l;
	if (ops)
		c->ops = *ops;
	c->ud = ud;
	if (hc_url_parse(req->url, &c->u, err, errcap) < 0) {
		free(c);
		return NULL;
	}
	c->url = xstrdup(req->url);
	c->method = xstrdup(req->method ? req->method : "GET");
	c->hdrs = xcalloc(n ? n : 1, sizeof *c->hdrs);
	for (i = 0; i < n; i++)
		if (!reserved_header(req->headers[i]))
			c->hdrs[c->nhdrs++] = xstrdup(req->headers[i]);
	if (req->body) {
		c->body = xmalloc(req->body_len ? req->body_len : 1);
		memcpy(c->body, req->body, req->body_len);
		c->body_len = req->body_len;
	}
	c->connect_ms = req->connect_timeout_ms ? req->connect_timeout_ms : HC_CONNECT_TIMEOUT_MS;
	c->read_ms = req->read_timeout_ms ? req->read_timeout_ms : HC_READ_TIMEOUT_MS;
	c->max_redirects = req->max_redirects;
	c->ca_file = req->ca_file ? xstrdup(req->ca_file) : NULL;
	c->no_proxy = req->no_proxy;
	c->may_resolve = may_resolve;
	buf_init(&c->out);
	buf_init(&c->in);
	/* Refuse early what the loop cannot do, so the caller learns it
	 * synchronously; everything else is reported through on_done. */
	if (choose_proxy(c) < 0) {
		snprintf(err, errcap, "%s", c->err);
		destroy(c);
		return NULL;
	}
	t = c->proxy.host[0] ? &c->proxy : &c->u;
	if (!may_resolve && needs_dns(t->host)) {
		snprintf(err, errcap, "%.100s: name resolution is not available here (use an IP address)",
				t->host);
		destroy(c);
		return NULL;
	}
	c->kick = loop_add_timer(l, 0, 0, on_kick, c);
	return c;
}

hc_t *hc_start(loop_t *l, const hc_request *req, const hc_ops *ops, void *ud,
		char *err, size_t errcap)
{
	return start(l, req, ops, ud, false, err, errcap);
}

/* ================================================= private loops */

int hc_fetch_stream(const hc_request *req, const hc_ops *ops, void *ud, char *err,
		size_t errcap)
{
	struct hc_sync sy;
	loop_t *l = loop_new();
	hc_t *c = start(l, req, ops, ud, true, err, errcap);

	if (!c) {
		loop_free(l);
		return -1;
	}
	memset(&sy, 0, sizeof sy);
	c->sync = &sy;
	/* Once the outcome is in, the hc_t is gone; otherwise poll failed. */
	loop_run(l);
	if (!sy.over) {
		hc_cancel(c);
		snprintf(sy.msg, sizeof sy.msg, "poll failed");
	}
	loop_free(l);
	if (sy.err)
		snprintf(err, errcap, "%s", sy.msg);
	return sy.err ? -1 : 0;
}

struct fetch {
	int status;
	buf_t *body;
	size_t max;
	size_t got;
	bool too_big;
};

static bool fetch_headers(hc_t *c, void *ud, int status, const http_header *h, size_t n)
{
	struct fetch *f = ud;
	f->status = status;
	return true;
}

static void fetch_data(hc_t *c, void *ud, const char *p, size_t n)
{
	struct fetch *f = ud;

	if (f->max && n > f->max - f->got) {
		f->too_big = true;
		hc_cancel(c);
		return;
	}
	f->got += n;
	if (f->body)
		buf_append(f->body, p, n);
}

int hc_fetch(const hc_request *req, int *status, buf_t *body, size_t max_body,
		char *err, size_t errcap)
{
	static const hc_ops ops = {fetch_headers, fetch_data, NULL};
	struct fetch f;
	int r;

	memset(&f, 0, sizeof f);
	f.body = body;
	f.max = max_body;
	r = hc_fetch_stream(req, &ops, &f, err, errcap);
	if (status)
		*status = f.status;
	if (f.too_big)
		snprintf(err, errcap, "response body larger than %zu bytes", max_body);
	return r;
}
