/* server.c - listener and connections: reads and frames requests within
 * the limits of server.h, runs handlers, writes responses and streams,
 * and shuts down gracefully. One request per connection is in flight at
 * a time; pipelined requests wait in the input buffer.
 * Depends on base/, http/, net/; handlers are reached through router.c. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../base/log.h"
#include "../base/util.h"
#include "../json/json.h"

#define READ_CHUNK 65536 /* one shared read buffer; connections keep only unparsed bytes */
#define STASH_MAX (SRV_HEADER_MAX * 2) /* pipelined bytes kept while busy */

enum { C_IDLE, C_HEAD, C_BODY, C_HANDLER, C_STREAM, C_CLOSING };

struct srv_conn {
	int fd;
	int state;
	buf_t in;
	buf_t out;
	size_t out_off;
	buf_t msg; /* the request being handled: head + decoded body */
	srv_req req;
	http_framing fr;
	http_chunked ch;
	size_t head_len;
	size_t body_dec; /* chunked: decoded bytes at in.p + head_len */
	size_t body_raw; /* chunked: offset of undecoded input */
	bool keep_alive;
	bool close_after;
	bool reading;
	bool writing;
	bool is_head;
	char *origin; /* Origin of the current request, for CORS headers */
	uint64_t timer;
	/* streaming */
	const srv_stream_ops *sops;
	void *sud;
	bool stream_chunked;
	buf_t sbuf;
	uint64_t last_write;
	struct srv_conn *prev, *next;
};

static struct {
	loop_t *loop;
	srv_config cfg;
	int lfd;
	srv_conn *conns;
	srv_conn *dead; /* closed, freed before the next poll */
	int reserve_fd;  /* spare descriptor for shedding load at EMFILE */
	unsigned nconns;
	bool stopping;
	uint64_t stop_timer;
	bool (*hook)(void *);
	void (*flush)(void);
	void *hook_ud;
	char date[40];
	time_t date_at;
} S;

static void conn_close(srv_conn *c);
static void conn_process(srv_conn *c);
static void conn_update_events(srv_conn *c);
static void conn_io(loop_t *l, int fd, int revents, void *ud);

loop_t *srv_loop(void) { return S.loop; }
const srv_config *srv_cfg(void) { return &S.cfg; }
bool srv_shutting_down(void) { return S.stopping; }

void srv_set_shutdown_hook(bool (*hook)(void *ud), void *ud)
{
	S.hook = hook;
	S.hook_ud = ud;
}

const http_header *srv_header(const srv_req *r, const char *name)
{
	return http_find_header(r->h.headers, r->h.nheaders, name);
}

static const char *http_date(void)
{
	time_t now = time(NULL);
	if (now != S.date_at) {
		static const char *wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
		static const char *mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
			"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
		struct tm tm;
		gmtime_r(&now, &tm);
		snprintf(S.date, sizeof S.date, "%s, %02d %s %04d %02d:%02d:%02d GMT",
			wd[tm.tm_wday], tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900,
			tm.tm_hour, tm.tm_min, tm.tm_sec);
		S.date_at = now;
	}
	return S.date;
}

/* ---- timers ---- */

static void conn_timer(srv_conn *c, uint64_t ms, int repeat, loop_timer_cb cb)
{
	if (c->timer)
		loop_cancel_timer(S.loop, c->timer);
	c->timer = ms ? loop_add_timer(S.loop, ms, repeat, cb, c) : 0;
}

static void on_idle_timeout(loop_t *l, void *ud)
{
	srv_conn *c = ud;
	c->timer = 0;
	log_debug("connection %d idle timeout", c->fd);
	conn_close(c);
}

static void send_error_and_close(srv_conn *c, int status, const char *type,
		const char *title, const char *detail);

static void on_request_timeout(loop_t *l, void *ud)
{
	srv_conn *c = ud;
	c->timer = 0;
	log_debug("connection %d request timeout", c->fd);
	send_error_and_close(c, 408, "request_timeout", "Request Timeout",
		"request timeout: the request was not received in time");
}

static void on_stream_tick(loop_t *l, void *ud)
{
	srv_conn *c = ud;
	uint64_t now = loop_now(S.loop);
	if (c->out.len > c->out_off) {
		if (now - c->last_write >= SRV_STREAM_STALL_MS) {
			log_info("closing stalled event stream on connection %d", c->fd);
			conn_close(c);
		}
		return;
	}
	if (now - c->last_write >= SRV_KEEPALIVE_MS - 100) {
		buf_puts(&c->sbuf, ": keep-alive\n\n");
		srv_stream_flush(&c->req);
	}
}

/* ---- output ---- */

static void conn_write(srv_conn *c)
{
	while (c->out.len > c->out_off) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			c->last_write = loop_now(S.loop);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		conn_close(c);
		return;
	}
	if (c->out_off == c->out.len) {
		/* idle connections hold no buffers */
		buf_free(&c->out);
		c->out_off = 0;
		if (c->close_after) {
			conn_close(c);
			return;
		}
	} else if (c->out_off > 64 * 1024 && c->out_off * 2 > c->out.len) {
		buf_consume(&c->out, c->out_off);
		c->out_off = 0;
	}
	conn_update_events(c);
	if (c->state == C_STREAM && c->sops && c->sops->pull &&
			c->out.len - c->out_off < SRV_STREAM_BACKLOG / 2)
		c->sops->pull(&c->req, c->sud);
}

static void conn_update_events(srv_conn *c)
{
	if (c->fd < 0)
		return;
	int ev = 0;
	bool stash_full = c->in.len >= STASH_MAX;
	c->reading = !c->close_after && !(c->state >= C_HANDLER && stash_full);
	c->writing = c->out.len > c->out_off;
	if (c->reading)
		ev |= LOOP_READ;
	if (c->writing)
		ev |= LOOP_WRITE;
	loop_set_events(S.loop, c->fd, ev);
}

static void cors_headers(srv_conn *c, buf_t *b)
{
	const srv_config *cfg = &S.cfg;
	for (int i = 0; c->origin && i < cfg->n_origins; i++) {
		if (!strcmp(c->origin, cfg->cors_origins[i])) {
			buf_printf(b, "Access-Control-Allow-Origin: %s\r\n", c->origin);
			break;
		}
	}
	if (cfg->cors_credentials)
		buf_puts(b, "Access-Control-Allow-Credentials: true\r\n");
	buf_puts(b, "Vary: origin, access-control-request-method, access-control-request-headers\r\n");
}

static void write_head(srv_conn *c, int status, const char *ctype, long long clen,
		const char *extra)
{
	buf_t *b = &c->out;
	buf_printf(b, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: sandbox-agent\r\n", status,
		http_reason(status), http_date());
	if (ctype)
		buf_printf(b, "Content-Type: %s\r\n", ctype);
	if (clen >= 0)
		buf_printf(b, "Content-Length: %lld\r\n", clen);
	cors_headers(c, b);
	if (extra)
		buf_puts(b, extra);
	if (!c->keep_alive || S.stopping)
		buf_puts(b, "Connection: close\r\n");
	else if (c->req.h.minor == 0)
		buf_puts(b, "Connection: keep-alive\r\n");
	buf_puts(b, "\r\n");
}

static void log_request(srv_req *r, int status)
{
	if (!S.cfg.log_http || !r->h.method)
		return;
	log_info("http %.*s %.*s -> %d", (int)r->h.method_len, r->h.method,
		(int)r->h.target_len, r->h.target, status);
}

static void req_reset(srv_req *r)
{
	for (int i = 0; i < r->nparams; i++)
		free(r->params[i]);
	memset(r, 0, sizeof *r);
}

/* The request is answered: move on to the next one (or close). */
static void conn_request_done(srv_conn *c)
{
	req_reset(&c->req);
	c->req.conn = c;
	buf_free(&c->msg);
	c->sops = NULL;
	c->sud = NULL;
	buf_free(&c->sbuf);
	if (!c->keep_alive || S.stopping) {
		c->close_after = true;
		c->state = C_CLOSING;
		if (c->out.len == c->out_off)
			conn_close(c);
		else
			conn_update_events(c);
		return;
	}
	c->state = C_IDLE;
	conn_timer(c, S.cfg.idle_timeout_ms, 0, on_idle_timeout);
	conn_write(c);
	if (c->fd >= 0 && c->state == C_IDLE)
		conn_process(c);
}

void srv_respond(srv_req *r, int status, const char *ctype, const char *body, size_t n,
		const char *extra)
{
	srv_conn *c = r->conn;
	if (r->responded || !c)
		return;
	r->responded = true;
	log_request(r, status);
	bool nobody = status == 204 || status == 304 || (status >= 100 && status < 200);
	write_head(c, status, nobody ? NULL : ctype, nobody ? -1 : (long long)n, extra);
	if (!c->is_head && !nobody && n)
		buf_append(&c->out, body, n);
	conn_request_done(c);
}

void srv_respond_json(srv_req *r, int status, const buf_t *json)
{
	srv_respond(r, status, "application/json", json->p, json->len, NULL);
}

void srv_respond_empty(srv_req *r, int status)
{
	srv_respond(r, status, NULL, NULL, 0, NULL);
}

static void problem_body(buf_t *b, int status, const char *type, const char *title,
		const char *detail, const char *ext)
{
	buf_puts(b, "{\"type\":\"urn:sandbox-agent:error:");
	json_escape(b, type, strlen(type));
	buf_puts(b, "\",\"title\":\"");
	json_escape(b, title, strlen(title));
	buf_printf(b, "\",\"status\":%d,\"detail\":\"", status);
	json_escape(b, detail, strlen(detail));
	buf_putc(b, '"');
	if (ext && *ext) {
		buf_putc(b, ',');
		buf_puts(b, ext);
	}
	buf_putc(b, '}');
}

void srv_problem_hdr(srv_req *r, int status, const char *type, const char *title,
		const char *detail, const char *ext, const char *extra_headers)
{
	buf_t b;
	buf_init(&b);
	problem_body(&b, status, type, title, detail, ext);
	srv_respond(r, status, "application/json", b.p, b.len, extra_headers);
	buf_free(&b);
}

void srv_problem(srv_req *r, int status, const char *type, const char *title,
		const char *detail, const char *ext)
{
	srv_problem_hdr(r, status, type, title, detail, ext, NULL);
}

void srv_unprocessable(srv_req *r, const char *detail)
{
	srv_problem(r, 422, "invalid_body", "Unprocessable Entity", detail, NULL);
}

/* Errors found while framing a request: answer and close, since the
 * byte stream can no longer be trusted. */
static void send_error_and_close(srv_conn *c, int status, const char *type,
		const char *title, const char *detail)
{
	if (c->state >= C_HANDLER) {
		conn_close(c);
		return;
	}
	buf_t b;
	buf_init(&b);
	problem_body(&b, status, type, title, detail, NULL);
	c->keep_alive = false;
	c->is_head = false;
	write_head(c, status, "application/json", (long long)b.len, NULL);
	buf_append(&c->out, b.p, b.len);
	buf_free(&b);
	log_debug("connection %d: %d %s", c->fd, status, detail);
	c->state = C_CLOSING;
	c->close_after = true;
	buf_reset(&c->in);
	conn_timer(c, 5000, 0, on_idle_timeout);
	conn_write(c);
}

/* ---- streaming ---- */

void srv_stream_begin(srv_req *r, const srv_stream_ops *ops, void *ud)
{
	srv_conn *c = r->conn;
	if (r->responded)
		return;
	r->responded = true;
	log_request(r, 200);
	c->state = C_STREAM;
	c->sops = ops;
	c->sud = ud;
	c->stream_chunked = r->h.minor >= 1 && !c->is_head;
	if (!c->stream_chunked)
		c->keep_alive = false;
	const char *extra = c->stream_chunked
		? "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n"
		: "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
	write_head(c, 200, "text/event-stream", -1, extra);
	c->last_write = loop_now(S.loop);
	conn_timer(c, SRV_KEEPALIVE_MS, 1, on_stream_tick);
	if (c->is_head) {
		srv_stream_end(r);
		return;
	}
	conn_write(c);
}

buf_t *srv_stream_buf(srv_req *r) { return &r->conn->sbuf; }

size_t srv_stream_queued(const srv_req *r)
{
	const srv_conn *c = r->conn;
	return c->out.len - c->out_off + c->sbuf.len;
}

void srv_stream_flush(srv_req *r)
{
	srv_conn *c = r->conn;
	if (c->state != C_STREAM || !c->sbuf.len)
		return;
	if (c->stream_chunked) {
		buf_printf(&c->out, "%zx\r\n", c->sbuf.len);
		buf_append(&c->out, c->sbuf.p, c->sbuf.len);
		buf_puts(&c->out, "\r\n");
	} else {
		buf_append(&c->out, c->sbuf.p, c->sbuf.len);
	}
	buf_reset(&c->sbuf);
	if (!c->writing)
		conn_write(c);
}

void srv_stream_end(srv_req *r)
{
	srv_conn *c = r->conn;
	if (c->state != C_STREAM)
		return;
	srv_stream_flush(r);
	if (c->stream_chunked)
		buf_puts(&c->out, "0\r\n\r\n");
	conn_timer(c, 0, 0, NULL);
	conn_request_done(c);
}

/* ---- input ---- */

static int method_of(const char *m, size_t n)
{
	static const struct { const char *s; int m; } tab[] = {
		{"GET", M_GET}, {"HEAD", M_HEAD}, {"POST", M_POST}, {"PUT", M_PUT},
		{"DELETE", M_DELETE}, {"OPTIONS", M_OPTIONS}, {"PATCH", M_PATCH},
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (util_eq(m, n, tab[i].s))
			return tab[i].m;
	return M_OTHER;
}

/* Copies the complete message (head + body) out of the input buffer so
 * the handler's spans stay valid while more input arrives. */
static void conn_dispatch(srv_conn *c, size_t body_off, size_t body_len, size_t consumed)
{
	buf_reset(&c->msg);
	buf_append(&c->msg, c->in.p, c->head_len);
	buf_append(&c->msg, c->in.p + body_off, body_len);
	buf_putc(&c->msg, 0);
	c->msg.len--;
	buf_consume(&c->in, consumed);

	srv_req *r = &c->req;
	req_reset(r);
	r->conn = c;
	int rc = http_parse_request(c->msg.p, c->head_len, &r->h);
	if (rc != (int)c->head_len) { /* cannot happen: same bytes parsed before */
		send_error_and_close(c, 400, "bad_request", "Bad Request", "malformed request");
		return;
	}
	r->method = method_of(r->h.method, r->h.method_len);
	const char *t = r->h.target;
	size_t tl = r->h.target_len;
	const char *q = memchr(t, '?', tl);
	r->path = t;
	r->path_len = q ? (size_t)(q - t) : tl;
	r->query = q ? q + 1 : "";
	r->query_len = q ? tl - r->path_len - 1 : 0;
	r->body = c->msg.p + c->head_len;
	r->body_len = body_len;
	c->is_head = r->method == M_HEAD;
	c->state = C_HANDLER;
	conn_timer(c, 0, 0, NULL);
	srv_route_request(r);
}

static void conn_process(srv_conn *c)
{
	while (c->fd >= 0 && (c->state == C_IDLE || c->state == C_HEAD || c->state == C_BODY)) {
		if (c->state == C_IDLE || c->state == C_HEAD) {
			if (c->in.len == 0)
				return;
			if (c->state == C_IDLE) {
				c->state = C_HEAD;
				conn_timer(c, S.cfg.header_timeout_ms, 0, on_request_timeout);
			}
			http_request h;
			int rc = http_parse_request(c->in.p, c->in.len, &h);
			if (rc == HTTP_INCOMPLETE) {
				if (c->in.len > SRV_HEADER_MAX)
					send_error_and_close(c, 431, "header_too_large",
						"Request Header Fields Too Large",
						"request header block exceeds 16384 bytes");
				return;
			}
			if (rc == HTTP_TOO_MANY || rc > SRV_HEADER_MAX) {
				send_error_and_close(c, 431, "header_too_large",
					"Request Header Fields Too Large",
					rc == HTTP_TOO_MANY ? "too many request header fields"
							    : "request header block exceeds 16384 bytes");
				return;
			}
			if (rc < 0) {
				send_error_and_close(c, 400, "bad_request", "Bad Request",
					"malformed HTTP request");
				return;
			}
			if (http_request_framing(&h, &c->fr) != 0) {
				send_error_and_close(c, 400, "bad_request", "Bad Request",
					"invalid message framing (Content-Length, Transfer-Encoding or Expect)");
				return;
			}
			c->head_len = (size_t)rc;
			c->keep_alive = c->fr.keep_alive;
			const http_header *o = http_find_header(h.headers, h.nheaders, "Origin");
			free(c->origin);
			c->origin = o ? xstrndup(o->value, o->value_len) : NULL;
			if (c->fr.has_length && c->fr.length > SRV_BODY_MAX) {
				send_error_and_close(c, 413, "payload_too_large", "Payload Too Large",
					"request body exceeds 2097152 bytes");
				return;
			}
			bool has_body = c->fr.chunked || (c->fr.has_length && c->fr.length > 0);
			if (c->fr.expect_continue && has_body && h.minor >= 1 &&
					c->in.len == c->head_len)
				buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
			memset(&c->ch, 0, sizeof c->ch);
			c->body_dec = 0;
			c->body_raw = c->head_len;
			c->state = C_BODY;
			conn_timer(c, SRV_BODY_TIMEOUT_MS, 0, on_request_timeout);
			if (c->out.len > c->out_off)
				conn_write(c);
			if (c->fd < 0)
				return;
		}
		/* C_BODY */
		if (c->fr.chunked) {
			size_t len = c->in.len - c->body_raw, used = 0;
			int rc = http_chunked_decode(&c->ch, c->in.p + c->body_raw, &len, &used);
			if (rc == HTTP_BAD) {
				send_error_and_close(c, 400, "bad_request", "Bad Request",
					"malformed chunked body");
				return;
			}
			memmove(c->in.p + c->head_len + c->body_dec, c->in.p + c->body_raw, len);
			c->body_dec += len;
			c->body_raw += used;
			if (c->body_dec > SRV_BODY_MAX) {
				send_error_and_close(c, 413, "payload_too_large", "Payload Too Large",
					"request body exceeds 2097152 bytes");
				return;
			}
			/* The decoded bytes sit before body_raw; slide the rest down
			 * so the input buffer stays compact. */
			size_t gap = c->body_raw - (c->head_len + c->body_dec);
			if (gap) {
				memmove(c->in.p + c->head_len + c->body_dec, c->in.p + c->body_raw,
					c->in.len - c->body_raw);
				c->in.len -= gap;
				c->body_raw -= gap;
			}
			if (rc == 0)
				return;
			conn_dispatch(c, c->head_len, c->body_dec, c->body_raw);
		} else {
			size_t blen = c->fr.has_length ? (size_t)c->fr.length : 0;
			if (c->in.len < c->head_len + blen)
				return;
			conn_dispatch(c, c->head_len, blen, c->head_len + blen);
		}
	}
}

static void conn_read(srv_conn *c)
{
	static char scratch[READ_CHUNK];
	for (int rounds = 0; rounds < 4; rounds++) {
		if (c->state >= C_HANDLER && c->in.len >= STASH_MAX)
			break;
		ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);
		if (n > 0) {
			buf_append(&c->in, scratch, (size_t)n);
			if ((size_t)n < sizeof scratch)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* EOF or error: the peer is gone (half-close is not supported). */
		conn_close(c);
		return;
	}
	if (c->state <= C_BODY)
		conn_process(c);
	if (c->fd >= 0 && !c->in.len)
		buf_free(&c->in);
	if (c->fd >= 0)
		conn_update_events(c);
}

static void conn_io(loop_t *l, int fd, int revents, void *ud)
{
	srv_conn *c = ud;
	if (revents & LOOP_ERR) {
		conn_close(c);
		return;
	}
	if (revents & LOOP_WRITE) {
		conn_write(c);
		if (c->fd < 0)
			return;
	}
	if (revents & (LOOP_READ | LOOP_HUP)) {
		if (c->close_after && !(revents & LOOP_READ)) {
			conn_close(c);
			return;
		}
		conn_read(c);
	}
}

static void conn_close(srv_conn *c)
{
	if (c->fd < 0)
		return;
	srv_req *r = &c->req;
	int fd = c->fd;
	c->fd = -1;
	loop_del_fd(S.loop, fd);
	close(fd);
	conn_timer(c, 0, 0, NULL);
	if (c->state == C_STREAM && c->sops && c->sops->closed)
		c->sops->closed(r, c->sud);
	else if (c->state == C_HANDLER && !r->responded && r->on_abort)
		r->on_abort(r, r->abort_ud);
	req_reset(r);
	if (c->prev)
		c->prev->next = c->next;
	else
		S.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	S.nconns--;
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->msg);
	buf_free(&c->sbuf);
	free(c->origin);
	c->origin = NULL;
	/* Callers up the stack may still look at c (c->fd < 0 tells them
	 * it is closed): free it only before the next poll. */
	c->next = S.dead;
	S.dead = c;
}

static void free_dead(void)
{
	while (S.dead) {
		srv_conn *c = S.dead;
		S.dead = c->next;
		free(c);
	}
}

/* ---- listener ---- */

#define BUSY_BODY "{\"type\":\"urn:sandbox-agent:error:overloaded\",\"title\":\"Service Unavailable\"," \
	"\"status\":503,\"detail\":\"too many connections, retry later\"}"
static const char busy_response[] =
	"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
	"Retry-After: 1\r\nConnection: close\r\nContent-Length: ";

static void resume_accept(loop_t *l, void *ud)
{
	if (S.lfd >= 0)
		loop_set_events(S.loop, S.lfd, LOOP_READ);
}

/* Out of file descriptors: the pending connection would keep the
 * listener readable and the loop spinning. Use the reserve descriptor
 * to accept and close it, then pause accepting briefly. */
static void shed_connection(int lfd)
{
	static uint64_t last_warn;
	if (S.reserve_fd >= 0) {
		close(S.reserve_fd);
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		S.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (loop_now(S.loop) - last_warn > 5000) {
		log_warn("accept: out of file descriptors (%u connections)", S.nconns);
		last_warn = loop_now(S.loop);
	}
	loop_set_events(S.loop, lfd, 0);
	loop_add_timer(S.loop, 100, 0, resume_accept, NULL);
}

static void on_accept(loop_t *l, int lfd, int revents, void *ud)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE)
				shed_connection(lfd);
			return;
		}
		if (S.nconns >= S.cfg.max_connections || S.stopping) {
			char msg[512];
			int n = snprintf(msg, sizeof msg, "%s%zu\r\n\r\n%s", busy_response,
				sizeof BUSY_BODY - 1, BUSY_BODY);
			ssize_t w = send(fd, msg, (size_t)n, MSG_NOSIGNAL);
			(void)w;
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		srv_conn *c = xcalloc(1, sizeof *c);
		c->fd = fd;
		c->req.conn = c;
		c->state = C_IDLE;
		c->next = S.conns;
		if (S.conns)
			S.conns->prev = c;
		S.conns = c;
		S.nconns++;
		loop_add_fd(S.loop, fd, LOOP_READ, conn_io, c);
		c->reading = true;
		conn_timer(c, S.cfg.header_timeout_ms, 0, on_idle_timeout);
	}
}

static int listen_on(const char *host, int port)
{
	struct addrinfo hints = {0}, *res = NULL;
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	/* Resolution happens once, before the loop starts. */
	int rc = getaddrinfo(host, ps, &hints, &res);
	if (rc != 0) {
		log_error("cannot resolve listen address %s: %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 4096) == 0)
			break;
		log_error("cannot listen on %s:%d: %s", host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---- shutdown ---- */

static void force_stop(loop_t *l, void *ud)
{
	S.stop_timer = 0;
	while (S.conns)
		conn_close(S.conns);
	loop_stop(S.loop);
}

void srv_set_flush_hook(void (*fn)(void))
{
	S.flush = fn;
}

static void before_poll(loop_t *l, void *ud)
{
	if (S.flush)
		S.flush();
	free_dead();
	if (!S.stopping)
		return;
	bool busy = S.hook ? S.hook(S.hook_ud) : false;
	if (S.flush)
		S.flush();
	if (!S.conns && !busy)
		loop_stop(S.loop);
}

static void on_stop_signal(loop_t *l, int sig, void *ud)
{
	if (S.stopping) {
		log_warn("second signal: stopping now");
		force_stop(l, NULL);
		return;
	}
	log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	S.stopping = true;
	if (S.lfd >= 0) {
		loop_del_fd(S.loop, S.lfd);
		close(S.lfd);
		S.lfd = -1;
	}
	srv_conn *next;
	for (srv_conn *c = S.conns; c; c = next) {
		next = c->next;
		if (c->state == C_STREAM) {
			if (c->sops && c->sops->closed)
				c->sops->closed(&c->req, c->sud);
			c->sops = NULL;
			srv_stream_end(&c->req);
		} else if (c->state == C_IDLE || c->state == C_HEAD || c->state == C_BODY) {
			if (c->out.len == c->out_off)
				conn_close(c);
			else
				c->close_after = true;
		} else {
			c->keep_alive = false;
		}
	}
	S.stop_timer = loop_add_timer(S.loop, SRV_SHUTDOWN_MS, 0, force_stop, NULL);
}

int srv_run(const srv_config *cfg)
{
	S.cfg = *cfg;
	if (!S.cfg.header_timeout_ms)
		S.cfg.header_timeout_ms = SRV_HEADER_TIMEOUT_MS;
	if (!S.cfg.idle_timeout_ms)
		S.cfg.idle_timeout_ms = SRV_IDLE_TIMEOUT_MS;
	if (!S.cfg.max_connections)
		S.cfg.max_connections = SRV_MAX_CONNECTIONS;
	raise_nofile();
	S.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	S.lfd = listen_on(cfg->host, cfg->port);
	if (S.lfd < 0)
		return 1;
	S.loop = loop_new();
	loop_add_fd(S.loop, S.lfd, LOOP_READ, on_accept, NULL);
	loop_on_signal(S.loop, SIGTERM, on_stop_signal, NULL);
	loop_on_signal(S.loop, SIGINT, on_stop_signal, NULL);
	loop_set_before_poll(S.loop, before_poll, NULL);
	const char *shown = cfg->host;
	if (!strcmp(shown, "0.0.0.0") || !strcmp(shown, "::"))
		shown = "localhost";
	log_info("server listening on http://%s:%d", shown, cfg->port);
	loop_run(S.loop);
	if (S.stop_timer)
		loop_cancel_timer(S.loop, S.stop_timer);
	while (S.conns)
		conn_close(S.conns);
	free_dead();
	log_info("server stopped");
	return 0;
}

void srv_free(void)
{
	if (S.loop)
		loop_free(S.loop);
	S.loop = NULL;
}
