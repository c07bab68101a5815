/* buf.h - growable byte buffer, the one owner of heap bytes in hot paths.
 * Depends on nothing but libc. Allocation failure is fatal (logged, exit 70):
 * it is not an input error, and no caller could recover meaningfully. */
#ifndef BASE_BUF_H
#define BASE_BUF_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	char *p;
	size_t len;
	size_t cap;
} buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);                 /* releases memory, leaves an empty buffer */
void buf_reserve(buf_t *b, size_t extra); /* ensure cap >= len + extra */
void buf_append(buf_t *b, const void *p, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_putc(buf_t *b, char c);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(buf_t *b, const char *fmt, va_list ap);
void buf_consume(buf_t *b, size_t n);    /* drop n bytes from the front */
void buf_reset(buf_t *b);                /* len = 0, keeps memory */
void buf_shrink(buf_t *b);               /* give back memory if mostly unused */
char *buf_cstr(buf_t *b);                /* NUL-terminates (not counted in len) */

/* xmalloc family: never return NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
