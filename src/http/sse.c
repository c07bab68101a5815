/* sse.c - Server-Sent Events: the writer used by the event endpoints and
 * an incremental parser for reading event streams as a client. Depends on
 * sse.h and base/buf. */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "sse.h"

/* --- writer --- */

static void put_u64(buf_t *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[sizeof tmp - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf_append(out, tmp + sizeof tmp - n, n);
}

/* Length of the line starting at s (up to CR or LF) and, through *next,
 * where the line after it starts; *next == n when this was the last. */
static size_t line_at(const char *s, size_t i, size_t n, size_t *next)
{
	size_t e = i;
	while (e < n && s[e] != '\r' && s[e] != '\n')
		e++;
	if (e == n)
		*next = n + 1; /* no terminator: the last line */
	else if (s[e] == '\r' && e + 1 < n && s[e + 1] == '\n')
		*next = e + 2;
	else
		*next = e + 1;
	return e - i;
}

/* Every line of data, including an empty last one after a trailing line
 * end, becomes its own "data:" line: the reader joins them with "\n", so
 * the payload comes back whole (with CR and CRLF read as LF). A line that
 * starts with a space gets a second one, as readers drop the first. */
void sse_write_event(buf_t *out, int has_id, uint64_t id, const char *data, size_t n)
{
	size_t i = 0, next, k;

	if (!data) {
		data = "";
		n = 0;
	}
	buf_reserve(out, n + 32);
	if (has_id) {
		buf_append(out, "id:", 3);
		put_u64(out, id);
		buf_putc(out, '\n');
	}
	while (i <= n) {
		k = line_at(data, i, n, &next);
		buf_append(out, "data:", 5);
		if (k && data[i] == ' ')
			buf_putc(out, ' '); /* readers strip one leading space */
		buf_append(out, data + i, k);
		buf_putc(out, '\n');
		i = next;
	}
	buf_putc(out, '\n');
}

void sse_write_comment(buf_t *out, const char *text)
{
	size_t n, i = 0, next, k;

	if (!text)
		text = "";
	n = strlen(text);
	while (i <= n) {
		k = line_at(text, i, n, &next);
		buf_putc(out, ':');
		if (k) {
			buf_putc(out, ' ');
			buf_append(out, text + i, k);
		}
		buf_putc(out, '\n');
		i = next;
	}
	buf_putc(out, '\n');
}

/* --- parser --- */

void sse_parser_init(sse_parser *ps, size_t max_event)
{
	memset(ps, 0, sizeof *ps);
	buf_init(&ps->line);
	buf_init(&ps->data);
	buf_init(&ps->event);
	buf_init(&ps->id);
	ps->max_event = max_event ? max_event : SSE_MAX_EVENT_DEFAULT;
}

void sse_parser_free(sse_parser *ps)
{
	buf_free(&ps->line);
	buf_free(&ps->data);
	buf_free(&ps->event);
	buf_free(&ps->id);
	ps->data_lines = 0;
	ps->last_cr = 0;
	ps->started = 0;
}

/* The one size rule, applied the same way to a partial line and to a
 * complete one, so where the input is split never changes the outcome. */
static bool too_big(const sse_parser *ps, size_t line_len)
{
	size_t held = ps->data.len + ps->event.len;
	return held > ps->max_event || line_len > ps->max_event - held;
}

static bool field_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(name, want, n) == 0;
}

static int dispatch(sse_parser *ps, sse_event_fn on_event, void *ud)
{
	const char *ev = "message";
	size_t elen = 7;
	int r = 0;

	if (ps->data_lines && on_event) {
		if (ps->event.len) {
			ev = buf_cstr(&ps->event);
			elen = ps->event.len;
		}
		r = on_event(ud, ev, elen, buf_cstr(&ps->data), ps->data.len, buf_cstr(&ps->id),
				ps->id.len);
	}
	buf_reset(&ps->data);
	buf_reset(&ps->event);
	ps->data_lines = 0;
	return r;
}

static int process_line(sse_parser *ps, const char *l, size_t n, sse_event_fn on_event, void *ud)
{
	const char *colon, *v;
	size_t nlen, vlen;

	if (too_big(ps, n))
		return -1;
	if (!ps->started) {
		ps->started = 1;
		if (n >= 3 && memcmp(l, "\xEF\xBB\xBF", 3) == 0) {
			l += 3;
			n -= 3;
		}
	}
	if (n == 0)
		return dispatch(ps, on_event, ud);
	if (l[0] == ':')
		return 0; /* comment */

	colon = memchr(l, ':', n);
	nlen = colon ? (size_t)(colon - l) : n;
	v = colon ? colon + 1 : l + n;
	vlen = n - (size_t)(v - l);
	if (vlen && *v == ' ') {
		v++;
		vlen--;
	}

	if (field_is(l, nlen, "data")) {
		if (ps->data_lines)
			buf_putc(&ps->data, '\n');
		buf_append(&ps->data, v, vlen);
		if (ps->data_lines < INT_MAX)
			ps->data_lines++;
	} else if (field_is(l, nlen, "event")) {
		buf_reset(&ps->event);
		buf_append(&ps->event, v, vlen);
	} else if (field_is(l, nlen, "id")) {
		if (!memchr(v, '\0', vlen)) {
			buf_reset(&ps->id);
			buf_append(&ps->id, v, vlen);
		}
	}
	/* "retry" and unknown fields: ignored. */
	return 0;
}

int sse_parser_feed(sse_parser *ps, const char *p, size_t n, sse_event_fn on_event, void *ud)
{
	size_t i = 0, s, k;
	int r;

	while (i < n) {
		if (ps->last_cr) {
			ps->last_cr = 0;
			if (p[i] == '\n') {
				i++; /* the LF of a CRLF */
				continue;
			}
		}
		s = i;
		while (i < n && p[i] != '\r' && p[i] != '\n')
			i++;
		k = i - s;
		if (i == n) { /* the line goes on in a later feed */
			if (too_big(ps, ps->line.len + k))
				return -1;
			buf_append(&ps->line, p + s, k);
			return 0;
		}
		ps->last_cr = p[i] == '\r';
		i++;
		if (ps->line.len == 0) {
			r = process_line(ps, p + s, k, on_event, ud);
		} else {
			if (too_big(ps, ps->line.len + k))
				return -1;
			buf_append(&ps->line, p + s, k);
			r = process_line(ps, ps->line.p, ps->line.len, on_event, ud);
			buf_reset(&ps->line);
		}
		if (r)
			return r;
	}
	return 0;
}
