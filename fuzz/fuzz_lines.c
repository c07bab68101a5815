/* fuzz_lines.c - line framing: feeding the input in pieces (sizes taken
 * from the input) must give exactly the lines of a plain reference split,
 * with over-long lines cut and flagged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/lines.h"

#define MAX 64

typedef struct {
	buf_t all; /* lines joined with '\n', truncation marked by '!' */
	int n;
} sink;

static void cb(void *ud, const char *line, size_t len, bool truncated)
{
	sink *s = ud;
	if (len > MAX)
		abort();
	if (truncated && len != MAX)
		abort();
	buf_append(&s->all, line, len);
	buf_putc(&s->all, truncated ? '!' : '\n');
	s->n++;
}

/* The expected result, computed directly. */
static void reference(const uint8_t *d, size_t n, sink *s)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		bool end = i == n;
		if (!end && d[i] != '\n')
			continue;
		size_t len = i - start;
		if (end && len == 0)
			break;
		if (len > MAX) {
			cb(s, (const char *)d + start, MAX, true);
		} else {
			if (len && d[start + len - 1] == '\r')
				len--;
			cb(s, (const char *)d + start, len, false);
		}
		start = i + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned step = data[0] % 17 + 1;
	data++;
	size--;
	sink a = {0}, b = {0};
	buf_init(&a.all);
	buf_init(&b.all);
	linebuf lb;
	lines_init(&lb, MAX);
	for (size_t off = 0; off < size;) {
		size_t n = size - off < step ? size - off : step;
		lines_feed(&lb, (const char *)data + off, n, cb, &a);
		off += n;
	}
	lines_finish(&lb, cb, &a);
	reference(data, size, &b);
	if (a.n != b.n || a.all.len != b.all.len || (a.all.len && memcmp(a.all.p, b.all.p, a.all.len)))
		abort();
	buf_free(&a.all);
	buf_free(&b.all);
	return 0;
}
