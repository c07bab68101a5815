/* proc.h - spawning and supervising agent processes from the loop.
 * execve with an argv (never a shell), non-blocking close-on-exec pipes
 * for stdin/stdout/stderr, a process group per child, stdout framed
 * into bounded lines, stderr kept in a bounded head/tail ring, reaping
 * on SIGCHLD, and SIGTERM-then-SIGKILL termination of the whole group.
 * Depends on base/ and net/loop. */
#ifndef PROC_PROC_H
#define PROC_PROC_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "../base/buf.h"
#include "../net/loop.h"

#define PROC_LINE_MAX (8u * 1024 * 1024) /* stdout line; longer -> truncated */
#define PROC_STDIN_MAX (16u * 1024 * 1024) /* queued stdin bytes */
#define PROC_TERM_GRACE_MS 1000            /* SIGTERM -> SIGKILL */
#define PROC_DRAIN_MS 500                  /* after reaping, wait this long for stdout EOF */
#define PROC_STDERR_HEAD 20                /* lines kept from the start */
#define PROC_STDERR_TAIL 50                /* lines kept from the end */
#define PROC_STDERR_LINE 500               /* bytes kept per stderr line */

typedef struct proc proc_t;

typedef struct {
	/* One stdout line without its newline (a final unterminated line is
	 * delivered at EOF). truncated: the line was longer than
	 * PROC_LINE_MAX; only its first PROC_LINE_MAX bytes are given. */
	void (*on_line)(proc_t *p, void *ud, const char *line, size_t len, bool truncated);
	/* Called once, after stdout reached EOF and the process was reaped,
	 * so every line has been delivered first. status is a wait status.
	 * The proc_t is freed after this returns. */
	void (*on_exit)(proc_t *p, void *ud, int status);
} proc_ops;

typedef struct {
	const char *path;          /* executable (absolute or relative to cwd) */
	const char *const *argv;   /* NULL-terminated */
	const char *const *env;    /* "K=V" overrides on top of our environment, NULL-terminated or NULL */
	const char *const *unset;  /* names removed from the environment, or NULL */
	const char *cwd;           /* or NULL */
} proc_spec;

/* Starts a child. Returns NULL with err filled (e.g. "no such file")
 * when it could not be started; exec failures are detected here. */
proc_t *proc_spawn(loop_t *l, const proc_spec *spec, const proc_ops *ops, void *ud,
		char *err, size_t errcap);
/* Queues bytes for stdin. Returns -1 if stdin is closed or the queue
 * would exceed PROC_STDIN_MAX. */
int proc_write(proc_t *p, const void *data, size_t n);
void proc_close_stdin(proc_t *p); /* after queued bytes are written */
/* SIGTERM to the group, SIGKILL after grace_ms if still alive. */
void proc_terminate(proc_t *p, unsigned grace_ms);
/* The owner goes away: no more callbacks; the process is terminated
 * and reaped in the background. */
void proc_detach(proc_t *p);
pid_t proc_pid(const proc_t *p);
bool proc_stdin_open(const proc_t *p);
/* StderrOutput JSON object of spec 3.4 ({"head"?,"tail"?,"truncated",
 * "total_lines"?}); appends nothing and returns false if stderr was empty. */
bool proc_stderr_json(const proc_t *p, buf_t *out);
/* Plain text of the last stderr lines (for error messages). */
void proc_stderr_tail(const proc_t *p, buf_t *out, size_t max_lines);
/* Number of children not yet reaped. */
int proc_alive_count(void);
/* SIGKILL every remaining group (last resort at shutdown). */
void proc_kill_all(void);

#endif
