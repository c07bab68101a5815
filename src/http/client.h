/* client.h - HTTP/1.1 client over TCP or TLS (BearSSL), driven by the
 * poll loop, with redirects, Content-Length / chunked / close-delimited
 * bodies, connect and read timeouts, and HTTP(S)_PROXY / NO_PROXY
 * (CONNECT tunnelling for https). Reuses the response parser of http.h.
 * One request per connection (Connection: close).
 *
 * Inside the server loop only numeric hosts and "localhost" are
 * accepted, because name resolution blocks; hc_fetch_stream() and
 * hc_fetch() (for child processes and the CLI) run a private loop and
 * resolve names.
 *
 * Proxies (unless hc_request.no_proxy): https URLs use https_proxy /
 * HTTPS_PROXY, http URLs http_proxy / HTTP_PROXY, both then all_proxy /
 * ALL_PROXY (lower case first, as curl). Only http:// proxies; a proxy
 * without a port uses 1080, as curl. no_proxy / NO_PROXY is a list
 * separated by commas or spaces: "*" matches every host; a name matches
 * itself and its subdomains (a leading dot is ignored); an IP address or
 * CIDR block matches IP literals; ports are ignored. As in curl, localhost
 * and 127.0.0.1 are not exempt unless listed. Userinfo in a proxy URL
 * becomes Proxy-Authorization: Basic.
 *
 * Redirects (301, 302, 303, 307, 308 with Location, relative or
 * absolute): 303 turns any method but HEAD into a bodyless GET, and so do
 * 301/302 for POST; https -> http is refused; Authorization, Cookie and
 * Proxy-Authorization headers of the caller are dropped when the scheme,
 * host or port changes.
 * Depends on base/, http/, net/ (loop, tls). */
#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include "../base/buf.h"
#include "../net/loop.h"
#include "http.h"

#define HC_MAX_REDIRECTS 8
#define HC_CONNECT_TIMEOUT_MS 10000
#define HC_READ_TIMEOUT_MS 30000  /* no byte received for this long */
#define HC_MAX_HEADER 65536

typedef struct {
	const char *method;          /* "GET" if NULL */
	const char *url;             /* http://host[:port]/path or https://... */
	const char *const *headers;  /* "Name: value" strings, NULL-terminated, or NULL */
	const char *body;
	size_t body_len;
	unsigned connect_timeout_ms; /* 0: HC_CONNECT_TIMEOUT_MS */
	unsigned read_timeout_ms;    /* 0: HC_READ_TIMEOUT_MS */
	int max_redirects;           /* -1: none followed; 0: HC_MAX_REDIRECTS */
	const char *ca_file;         /* trust anchors (PEM) replacing the system bundle, or NULL */
	bool no_proxy;               /* ignore proxy variables */
} hc_request;

typedef struct hc hc_t;

typedef struct {
	/* Final response head (after redirects). Return false to stop:
	 * on_done then reports "cancelled". */
	bool (*on_headers)(hc_t *c, void *ud, int status, const http_header *h, size_t n);
	/* Body bytes as they arrive (chunked framing already removed). */
	void (*on_data)(hc_t *c, void *ud, const char *p, size_t n);
	/* Exactly once. err = 0 on success; otherwise a short message in
	 * msg (e.g. "connect to 127.0.0.1:9: connection refused",
	 * "tls: certificate not trusted", "read timeout", "truncated
	 * response"). err is -1 on failure; msg is "" on success. The hc_t is
	 * freed after this returns. */
	void (*on_done)(hc_t *c, void *ud, int err, const char *msg);
} hc_ops;

/* Starts a request; returns NULL (and calls nothing) if the URL is
 * invalid or the host needs name resolution in loop mode, with err set. */
hc_t *hc_start(loop_t *l, const hc_request *req, const hc_ops *ops, void *ud,
		char *err, size_t errcap);
void hc_cancel(hc_t *c); /* no callback after this */

/* Blocking, for child processes and the CLI: runs the request on a
 * private loop (names are resolved) and calls ops as bytes arrive, so
 * a body of any size passes through in pieces of at most a few tens of
 * KiB. Returns 0 once the response is complete, or -1 with err filled:
 * the on_done message, "cancelled" if on_headers returned false or a
 * callback called hc_cancel (which stops the transfer at once), or the
 * reason the request could not start. Any status counts as success
 * here. on_done, if given, is called as with hc_start; the hc_t passed
 * to the callbacks is valid only during them. */
int hc_fetch_stream(const hc_request *req, const hc_ops *ops, void *ud, char *err,
		size_t errcap);

/* hc_fetch_stream into memory. Returns 0 and fills *status and body (up
 * to max_body bytes, else an error; 0 means no limit; body may be NULL
 * to discard it), or -1 with err filled. */
int hc_fetch(const hc_request *req, int *status, buf_t *body, size_t max_body,
		char *err, size_t errcap);

/* ---- URL helpers (exposed for tests) ---- */

#define HC_MAX_HOST 255

typedef struct {
	bool https;
	bool explicit_port;
	char host[HC_MAX_HOST + 1]; /* lower case; IPv6 literals without brackets */
	unsigned port;
	char *target; /* path and query (never empty, starts with '/'); allocated */
	char *user;   /* percent-decoded userinfo, or NULL; allocated */
	char *pass;
} hc_url;

/* Parses an absolute http or https URL. The fragment is dropped; spaces
 * and non-ASCII bytes in the path are percent-encoded; control bytes are
 * refused. Returns 0 (free with hc_url_free), or -1 with err filled. */
int hc_url_parse(const char *s, hc_url *u, char *err, size_t errcap);
void hc_url_free(hc_url *u);
/* Resolves a Location value against an absolute URL (RFC 3986 5.2, dot
 * segments removed). Returns an allocated string, or NULL if base is not
 * an absolute URL. */
char *hc_url_resolve(const char *base, const char *ref);
/* True if host is exempt from proxying under a no_proxy list. */
bool hc_no_proxy_match(const char *list, const char *host);

#endif
