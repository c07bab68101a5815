/* lines.h - framing a byte stream into lines of bounded length, reading
 * straight into the framer's buffer. A line longer than max is delivered
 * once, cut to max bytes and flagged truncated; the rest of it up to its
 * newline is dropped. A trailing CR is removed. Depends on buf.h. */
#ifndef BASE_LINES_H
#define BASE_LINES_H
#include <stdbool.h>
#include <stddef.h>
#include "buf.h"

typedef void (*lines_cb)(void *ud, const char *line, size_t len, bool truncated);

typedef struct {
	buf_t buf;
	size_t max;
	bool skipping; /* inside an over-long line */
} linebuf;

void lines_init(linebuf *lb, size_t max);
void lines_free(linebuf *lb);
/* Space to read into: at least min bytes at the returned pointer. */
char *lines_space(linebuf *lb, size_t min, size_t *avail);
/* n bytes were written at the space: deliver every complete line. */
void lines_commit(linebuf *lb, size_t n, lines_cb cb, void *ud);
/* Convenience: copy p into the buffer and commit. */
void lines_feed(linebuf *lb, const char *p, size_t n, lines_cb cb, void *ud);
/* End of stream: deliver an unterminated last line, if any. */
void lines_finish(linebuf *lb, lines_cb cb, void *ud);

#endif
