/* sse.h - Server-Sent Events framing (writer) and an incremental parser
 * for reading event streams as a client. Depends on base/buf.h. */
#ifndef HTTP_SSE_H
#define HTTP_SSE_H
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"

/* Appends one event: "id:<id>\n" (omitted when has_id is 0), then one
 * "data:<line>\n" per line of data (CR, LF and CRLF all split lines, so no
 * byte of data can end the event early; empty data is one "data:\n"),
 * then a blank line. No space follows the colon, except that a line
 * starting with a space gets one more, since readers strip one. */
void sse_write_event(buf_t *out, int has_id, uint64_t id, const char *data, size_t n);
/* Appends a comment line ": text\n\n" (keep-alive). A CR or LF in text
 * starts another comment line, so it cannot inject fields. */
void sse_write_comment(buf_t *out, const char *text);

/* Incremental event-stream parser (WHATWG HTML "Interpreting an event
 * stream"): lines end in CR, LF or CRLF, even with the CRLF split across
 * feeds; "field:value" loses one leading space of the value; lines
 * starting with ':' are comments; data lines are joined with "\n"; a blank
 * line dispatches the event if any data line was seen; the event name
 * defaults to "message"; the id is the last one seen and stays for later
 * events; "retry" and unknown fields are ignored; a BOM at the start of the
 * stream is dropped. An event cut short by the end of the stream is not
 * dispatched. The parser owns its buffers (sse_parser_free). */
#define SSE_MAX_EVENT_DEFAULT (1u << 20) /* used when max_event is 0 */

typedef struct {
	buf_t line;       /* the line being assembled */
	buf_t data;       /* data lines of the pending event, joined by "\n" */
	buf_t event;      /* event name of the pending event */
	buf_t id;         /* last event id (kept across events) */
	int data_lines;   /* data lines in the pending event */
	size_t max_event; /* bound on line + data + event name, bytes */
	int last_cr;      /* the previous byte was a CR: skip a following LF */
	int started;      /* the first line is done (BOM check) */
} sse_parser;

/* The callback gets NUL-terminated slices valid only during the call;
 * it returns 0 to go on, anything else to stop. */
typedef int (*sse_event_fn)(void *ud, const char *event, size_t elen, const char *data,
		size_t dlen, const char *id, size_t idlen);

void sse_parser_init(sse_parser *ps, size_t max_event);
void sse_parser_free(sse_parser *ps);
/* Feeds n bytes. Returns 0; -1 when the pending line or event grows past
 * max_event; or the callback's non-zero return, which stops at once (the
 * rest of p is dropped). After a non-zero return the stream is abandoned:
 * the parser may only be freed. */
int sse_parser_feed(sse_parser *ps, const char *p, size_t n, sse_event_fn on_event, void *ud);

#endif
