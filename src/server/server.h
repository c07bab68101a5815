/* server.h - the HTTP/1.1 server: listener, connections, request
 * framing and limits, the response API handlers use, and streaming
 * (SSE) responses. Depends on base/, http/, net/. */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../http/http.h"
#include "../net/loop.h"

/* Limits, each with its own answer. */
#define SRV_HEADER_MAX (16 * 1024)         /* header block -> 431 */
#define SRV_BODY_MAX (2 * 1024 * 1024)     /* request body -> 413 */
#define SRV_HEADER_TIMEOUT_MS 10000        /* request head not complete -> 408 */
#define SRV_BODY_TIMEOUT_MS 60000          /* request body not complete -> 408 */
#define SRV_IDLE_TIMEOUT_MS 120000         /* idle keep-alive -> close */
#define SRV_MAX_CONNECTIONS 4096           /* more -> 503 */
#define SRV_STREAM_BACKLOG (256 * 1024)    /* SSE bytes queued before pausing a stream */
#define SRV_STREAM_STALL_MS 120000         /* stream unable to write this long -> close */
#define SRV_KEEPALIVE_MS 15000             /* SSE ": keep-alive" comment interval */
#define SRV_SHUTDOWN_MS 1500               /* drain time before forced close */
#define SRV_MAX_PARAMS 4
#define SRV_CORS_MAX 16

typedef struct {
	const char *host;
	int port;
	const char *token; /* NULL: auth disabled */
	const char *cors_origins[SRV_CORS_MAX];
	int n_origins;
	const char *cors_methods[SRV_CORS_MAX];
	int n_methods;
	const char *cors_headers[SRV_CORS_MAX];
	int n_headers;
	bool cors_credentials;
	unsigned header_timeout_ms;
	unsigned idle_timeout_ms;
	unsigned max_connections;
	bool log_http;
} srv_config;

typedef struct srv_conn srv_conn;

enum { M_OTHER = 0, M_GET, M_HEAD, M_POST, M_PUT, M_DELETE, M_OPTIONS, M_PATCH };

/* One request, owned by its connection; valid until its response is done. */
typedef struct srv_req {
	srv_conn *conn;
	http_request h;
	int method;
	const char *path; /* raw (still encoded) path, up to '?' */
	size_t path_len;
	const char *query; /* raw query after '?', or "" */
	size_t query_len;
	char *body; /* request body (chunked already decoded) */
	size_t body_len;
	char *params[SRV_MAX_PARAMS]; /* decoded path parameters, NUL-terminated */
	int nparams;
	bool responded;
	/* Called if the connection dies while a handler owes a response
	 * (deferred) or streams one. */
	void (*on_abort)(struct srv_req *r, void *ud);
	void *abort_ud;
} srv_req;

int srv_run(const srv_config *cfg); /* runs until SIGTERM/SIGINT; returns exit code */
void srv_free(void); /* after srv_run, once nothing uses the loop any more */
loop_t *srv_loop(void);
const srv_config *srv_cfg(void);
bool srv_shutting_down(void);
/* Called by the server on shutdown so other modules stop children.
 * Returns true while they still have work (the server waits for it, up
 * to its deadline). */
void srv_set_shutdown_hook(bool (*hook)(void *ud), void *ud);
/* Run once per loop iteration before poll() (batched stream flushes). */
void srv_set_flush_hook(void (*fn)(void));

/* Headers of the request. */
const http_header *srv_header(const srv_req *r, const char *name);

/* Responses. Each finishes the request. extra_headers: zero or more
 * complete "Name: value\r\n" lines, or NULL. */
void srv_respond(srv_req *r, int status, const char *ctype, const char *body, size_t n,
		const char *extra_headers);
void srv_respond_json(srv_req *r, int status, const buf_t *json);
void srv_respond_empty(srv_req *r, int status); /* 204 and friends */
/* Problem details (spec 1.4). type is the URN suffix; ext_json is a
 * pre-serialized run of members to add (",\"agent\":\"x\"" form without
 * the leading comma), or NULL. */
void srv_problem(srv_req *r, int status, const char *type, const char *title,
		const char *detail, const char *ext_json);
void srv_problem_hdr(srv_req *r, int status, const char *type, const char *title,
		const char *detail, const char *ext_json, const char *extra_headers);

/* Streaming responses (text/event-stream). After srv_stream_begin the
 * handler owns the stream: it appends to srv_stream_buf() and calls
 * srv_stream_flush(); the server calls pull() when the queued output has
 * drained below SRV_STREAM_BACKLOG/2 so the producer can add more, and
 * closed() once when the connection goes away or the server stops.
 * srv_stream_end() finishes the response (the connection may be reused). */
typedef struct {
	void (*pull)(srv_req *r, void *ud);
	void (*closed)(srv_req *r, void *ud);
} srv_stream_ops;
void srv_stream_begin(srv_req *r, const srv_stream_ops *ops, void *ud);
buf_t *srv_stream_buf(srv_req *r); /* raw payload bytes; framing is added on flush */
void srv_stream_flush(srv_req *r);
size_t srv_stream_queued(const srv_req *r); /* bytes not yet written to the socket */
void srv_stream_end(srv_req *r);

/* Routing (router.c). */
typedef void (*srv_handler)(srv_req *r);
typedef struct {
	int method;
	const char *pattern; /* "/v1/sessions/{}/events"; {} is one segment */
	srv_handler fn;
	bool public_route; /* no auth even with a token */
} srv_route;
void srv_route_request(srv_req *r);

/* Request helpers (request.c). Each returns true, or false after
 * having answered the request with the right error. */
/* Checks the JSON content type and parses the body; toks must hold
 * ntoks tokens. An empty body is treated as {}. */
bool srv_json_body(srv_req *r, const char **json, void *toks, unsigned ntoks, int *count);
/* Query values: decoded into out (cap), false if absent. */
bool srv_query_get(const srv_req *r, const char *key, char *out, size_t cap);
/* Typed query accessors; on a malformed value they answer 400 and
 * return false. found is set when the key is present. */
bool srv_query_u64(srv_req *r, const char *key, const char *alt, uint64_t *out, bool *found);
bool srv_query_bool(srv_req *r, const char *key, const char *alt, bool *out);

/* Shape errors (422) and common problems. */
void srv_unprocessable(srv_req *r, const char *detail);

#endif
