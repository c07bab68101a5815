/* http.h - HTTP/1.1 message parsing: requests, responses, chunked bodies,
 * percent-decoding and query strings. Pure functions over caller-owned
 * bytes in the picohttpparser style: they never allocate, and return
 * bytes consumed, HTTP_INCOMPLETE or HTTP_BAD. Depends on nothing. */
#ifndef HTTP_HTTP_H
#define HTTP_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 64 /* more headers than this: HTTP_TOO_MANY */

enum {
	HTTP_BAD = -1,        /* malformed */
	HTTP_INCOMPLETE = -2, /* need more bytes */
	HTTP_TOO_MANY = -3,   /* more than HTTP_MAX_HEADERS headers */
};

typedef struct {
	const char *name;
	size_t name_len;
	const char *value; /* leading/trailing spaces and tabs trimmed */
	size_t value_len;
} http_header;

typedef struct {
	const char *method;
	size_t method_len;
	const char *target; /* request-target as sent: origin-form, absolute-form
	                     * (http/https) or "*" (OPTIONS only) */
	size_t target_len;
	int minor; /* HTTP/1.<minor> */
	http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
} http_request;

typedef struct {
	int minor;
	int status;
	const char *reason;
	size_t reason_len;
	http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
} http_response;

/* Parses a request line and header block (through the empty line).
 * Strict: method is a token, target has no control bytes or spaces,
 * version is HTTP/1.0 or HTTP/1.1, header names are tokens, no obs-fold,
 * no bare CR; bare LF line ends are accepted. A few empty lines before the
 * request line are skipped (and counted in the length). Returns the header
 * block length, HTTP_INCOMPLETE, HTTP_BAD or HTTP_TOO_MANY. Bad bytes are
 * reported as soon as they arrive, so the result on a prefix of the input
 * is either HTTP_INCOMPLETE or the result on the whole input. The response
 * parser is the same for "HTTP/1.x NNN reason" (status 100-599, the reason
 * may be empty). */
int http_parse_request(const char *buf, size_t len, http_request *req);
int http_parse_response(const char *buf, size_t len, http_response *res);

/* Finds a header (case-insensitive name); NULL if absent. */
const http_header *http_find_header(const http_header *h, size_t n, const char *name);
/* True if the comma-separated header value list contains token
 * (case-insensitive), e.g. Connection: keep-alive, close. */
bool http_header_has_token(const char *value, size_t len, const char *token);

/* Body framing of a request after header analysis. */
typedef struct {
	bool chunked;
	bool has_length;
	uint64_t length;
	bool keep_alive;       /* from version and Connection */
	bool expect_continue;  /* Expect: 100-continue */
} http_framing;

/* Validates framing headers: Content-Length must be digits only and
 * agree when repeated; Transfer-Encoding must end in chunked and must not
 * be combined with Content-Length or sent with HTTP/1.0; any other Expect
 * value is an error (answered 400, not 417). Returns 0, or HTTP_BAD. An
 * unsupported Transfer-Encoding is also BAD: since only chunked is
 * decoded, the codings must be exactly one "chunked". */
int http_request_framing(const http_request *req, http_framing *f);
/* Response framing: same rules, plus is_head/status tell bodyless
 * responses; a response without length and not chunked is read to close
 * (close_delimited). */
typedef struct {
	bool chunked;
	bool has_length;
	uint64_t length;
	bool no_body;
	bool close_delimited;
	bool keep_alive;
} http_resp_framing;
int http_response_framing(const http_response *res, bool is_head, http_resp_framing *f);

/* Incremental chunked decoder. Decodes in place: data bytes are moved to
 * the front of buf. Chunk extensions and trailers are parsed and dropped;
 * a size line or trailer line longer than 4096 bytes, or a size of more
 * than 16 hex digits, is BAD. State must be zeroed before the first call. */
typedef struct {
	int state;
	uint64_t remaining; /* bytes left in current chunk */
	size_t line;        /* bytes of the current size/trailer line seen */
} http_chunked;

/* Consumes up to *len bytes of buf. On return *len is the number of
 * decoded data bytes now at the start of buf, and *consumed the number of
 * input bytes used. Returns 1 when the terminating chunk and trailers are
 * done, 0 if more input is needed (all input was then consumed; partial
 * lines live in the state), HTTP_BAD on malformed input (sticky). Bytes
 * after the end (consumed < input length) belong to the next message and
 * are left untouched at buf + consumed. */
int http_chunked_decode(http_chunked *d, char *buf, size_t *len, size_t *consumed);

/* Percent-decoding. out may equal in (decodes in place). plus_space turns
 * '+' into ' ' (query strings). Returns output length, or -1 on a bad
 * escape or a NUL (encoded or raw), so the output never holds a NUL. */
long http_pct_decode(const char *in, size_t n, char *out, bool plus_space);

/* Query string iteration: call with *pos = 0 first. Each call yields one
 * raw (still encoded) key and value; value_len is 0 and value points to
 * the end of the key when there is no '='. Returns false at the end. */
bool http_query_next(const char *q, size_t qlen, size_t *pos, const char **key,
		size_t *key_len, const char **value, size_t *value_len);

/* Status reason phrases. */
const char *http_reason(int status);

#endif
