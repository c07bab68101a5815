/* buf.c - growable byte buffer and the never-NULL allocators.
 * Depends on libc only; vsnprintf is the one stdio call, used by
 * buf_printf. Allocation failure ends the process with status 70
 * (EX_SOFTWARE): there is nothing sensible a caller could do. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_MIN_CAP 64
/* Keep big buffers unless they are mostly empty: reallocating on every
 * request would cost more than the memory saved. */
#define BUF_SHRINK_ABOVE (64 * 1024)

/* Lets the compiler check that fmt is only ever passed on to vsnprintf. */
void buf_vprintf(buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void oom(void)
{
	static const char msg[] = "out of memory\n";
	ssize_t r = write(2, msg, sizeof msg - 1);
	(void)r;
	_exit(70);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = xmalloc(len + 1);
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *xstrdup(const char *s)
{
	size_t len = strlen(s);
	char *d = xmalloc(len + 1);
	memcpy(d, s, len + 1);
	return d;
}

void buf_init(buf_t *b)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_free(buf_t *b)
{
	free(b->p);
	buf_init(b);
}

void buf_reserve(buf_t *b, size_t extra)
{
	size_t need, cap;

	if (extra > SIZE_MAX - b->len)
		oom();
	need = b->len + extra;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : BUF_MIN_CAP;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void buf_append(buf_t *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void buf_puts(buf_t *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_putc(buf_t *b, char c)
{
	buf_reserve(b, 1);
	b->p[b->len++] = c;
}

void buf_vprintf(buf_t *b, const char *fmt, va_list ap)
{
	va_list ap2;
	size_t avail;
	int n;

	/* Try in the space we have; retry once with the exact size. */
	buf_reserve(b, 1);
	avail = b->cap - b->len;
	va_copy(ap2, ap);
	n = vsnprintf(b->p + b->len, avail, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n >= avail) {
		buf_reserve(b, (size_t)n + 1);
		va_copy(ap2, ap);
		n = vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap2);
		va_end(ap2);
		if (n < 0)
			return;
	}
	b->len += (size_t)n;
}

void buf_printf(buf_t *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void buf_consume(buf_t *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	b->len -= n;
	memmove(b->p, b->p + n, b->len);
}

void buf_reset(buf_t *b)
{
	b->len = 0;
}

void buf_shrink(buf_t *b)
{
	size_t cap;

	if (b->len == 0) {
		buf_free(b);
		return;
	}
	if (b->cap <= BUF_SHRINK_ABOVE || b->cap / 4 <= b->len)
		return;
	/* Leave room to grow so the next append does not realloc at once. */
	cap = b->len * 2;
	if (cap < BUF_MIN_CAP)
		cap = BUF_MIN_CAP;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

char *buf_cstr(buf_t *b)
{
	buf_reserve(b, 1);
	b->p[b->len] = '\0';
	return b->p;
}
