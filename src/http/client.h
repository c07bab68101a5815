/* client.h - HTTP/1.1 client over TCP or TLS (BearSSL), driven by the
 * poll loop, with redirects, Content-Length / chunked / close-delimited
 * bodies, connect and read timeouts, and HTTP(S)_PROXY / NO_PROXY
 * (CONNECT tunnelling for https). Reuses the response parser of http.h.
 *
 * Inside the server loop only numeric hosts and "localhost" are
 * accepted, because name resolution blocks; hc_fetch() (for child
 * processes and the CLI) runs a private loop and resolves names first.
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
	const char *ca_file;         /* extra/alternative trust anchors (PEM), or NULL */
	bool no_proxy;               /* ignore proxy variables */
} hc_request;

typedef struct hc hc_t;

typedef struct {
	/* Final response head (after redirects). Return false to cancel. */
	bool (*on_headers)(hc_t *c, void *ud, int status, const http_header *h, size_t n);
	/* Body bytes as they arrive (chunked framing already removed). */
	void (*on_data)(hc_t *c, void *ud, const char *p, size_t n);
	/* Exactly once. err = 0 on success; otherwise a short message in
	 * msg (e.g. "connect to 127.0.0.1:9: connection refused",
	 * "tls: certificate not trusted", "read timeout"). The hc_t is freed
	 * after this returns. */
	void (*on_done)(hc_t *c, void *ud, int err, const char *msg);
} hc_ops;

/* Starts a request; returns NULL (and calls nothing) if the URL is
 * invalid or the host needs name resolution in loop mode, with err set. */
hc_t *hc_start(loop_t *l, const hc_request *req, const hc_ops *ops, void *ud,
		char *err, size_t errcap);
void hc_cancel(hc_t *c); /* no callback after this */

/* Blocking convenience for child processes and the CLI: runs its own
 * loop. Returns 0 and fills *status and body (up to max_body bytes, else
 * an error), or -1 with err filled. */
int hc_fetch(const hc_request *req, int *status, buf_t *body, size_t max_body,
		char *err, size_t errcap);

#endif
