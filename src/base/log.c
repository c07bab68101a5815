/* log.c - one line per event on stderr: "<time> <LEVEL> <message>\n".
 * Depends on base/util (time formatting). Each line goes out in a single
 * write(2) so lines from concurrent processes sharing stderr never mix.
 * Escaping control characters is the caller's business. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define LOG_LINE_MAX 4096 /* longer lines are cut and end in "..." */

static int log_level = -1; /* -1: not read from the environment yet */

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void log_init(void)
{
	const char *v = getenv("SANDBOX_AGENT_LOG");
	int i;

	log_level = LOG_INFO;
	if (!v)
		return;
	for (i = LOG_ERROR; i <= LOG_DEBUG; i++)
		if (util_ieq(v, strlen(v), level_names[i]))
			log_level = i;
}

int log_enabled(int level)
{
	if (log_level < 0)
		log_init();
	return level <= log_level;
}

/* "2026-11-26T09:00:00.123Z": util_rfc3339 drops the fraction when it
 * is zero, so format whole seconds and splice fixed milliseconds in. */
static size_t log_time(char *out)
{
	int64_t ms = util_unix_ms();
	int64_t sec = ms / 1000;
	int frac = (int)(ms % 1000);
	size_t n;

	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	n = util_rfc3339(out, sec, 0); /* ends in 'Z' */
	n--;
	out[n++] = '.';
	out[n++] = (char)('0' + frac / 100);
	out[n++] = (char)('0' + frac / 10 % 10);
	out[n++] = (char)('0' + frac % 10);
	out[n++] = 'Z';
	return n;
}

void log_msg(int level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX + 1]; /* +1 for vsnprintf's NUL */
	size_t n, room;
	va_list ap;
	int saved = errno, m;
	ssize_t w;

	if (level < LOG_ERROR)
		level = LOG_ERROR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	if (!log_enabled(level))
		return;
	n = log_time(line);
	line[n++] = ' ';
	m = (int)strlen(level_names[level]);
	memcpy(line + n, level_names[level], (size_t)m);
	n += (size_t)m;
	line[n++] = ' ';

	/* Leave one byte for the newline. */
	room = LOG_LINE_MAX - n;
	va_start(ap, fmt);
	m = vsnprintf(line + n, room, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if ((size_t)m >= room) {
		n = LOG_LINE_MAX - 4;
		memcpy(line + n, "...", 3);
		n += 3;
	} else {
		n += (size_t)m;
	}
	line[n++] = '\n';
	do
		w = write(2, line, n);
	while (w < 0 && errno == EINTR);
	errno = saved;
}
