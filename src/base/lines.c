/* lines.c - see lines.h. Only new bytes are scanned for newlines. */
#include "lines.h"

#include <string.h>

void lines_init(linebuf *lb, size_t max)
{
	buf_init(&lb->buf);
	lb->max = max;
	lb->skipping = false;
}

void lines_free(linebuf *lb)
{
	buf_free(&lb->buf);
}

char *lines_space(linebuf *lb, size_t min, size_t *avail)
{
	buf_reserve(&lb->buf, min);
	*avail = lb->buf.cap - lb->buf.len;
	return lb->buf.p + lb->buf.len;
}

static void emit(lines_cb cb, void *ud, const char *p, size_t n, bool truncated)
{
	if (!truncated && n && p[n - 1] == '\r')
		n--;
	cb(ud, p, n, truncated);
}

void lines_commit(linebuf *lb, size_t n, lines_cb cb, void *ud)
{
	size_t start = lb->buf.len;
	lb->buf.len += n;
	size_t line_start = 0;
	char *nl;
	while ((nl = memchr(lb->buf.p + start, '\n', lb->buf.len - start))) {
		size_t i = (size_t)(nl - lb->buf.p);
		if (lb->skipping)
			lb->skipping = false;
		else if (i - line_start > lb->max)
			emit(cb, ud, lb->buf.p + line_start, lb->max, true);
		else
			emit(cb, ud, lb->buf.p + line_start, i - line_start, false);
		line_start = start = i + 1;
	}
	if (line_start)
		buf_consume(&lb->buf, line_start);
	if (lb->buf.len > lb->max) {
		if (!lb->skipping)
			emit(cb, ud, lb->buf.p, lb->max, true);
		lb->skipping = true;
		buf_reset(&lb->buf);
	}
}

void lines_feed(linebuf *lb, const char *p, size_t n, lines_cb cb, void *ud)
{
	size_t avail;
	char *dst = lines_space(lb, n, &avail);
	memcpy(dst, p, n);
	lines_commit(lb, n, cb, ud);
}

void lines_finish(linebuf *lb, lines_cb cb, void *ud)
{
	if (lb->buf.len && !lb->skipping)
		emit(cb, ud, lb->buf.p, lb->buf.len, false);
	buf_free(&lb->buf);
	lb->skipping = false;
}
