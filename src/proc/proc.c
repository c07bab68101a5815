/* proc.c - child processes driven from the loop. See proc.h.
 *
 * A child is reported finished (on_exit) only when both its stdout has
 * reached EOF and it has been reaped, so every line it wrote reaches the
 * owner before the exit. Reaping runs from the loop on SIGCHLD with
 * waitpid(WNOHANG) over the known pids. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../base/lines.h"
#include "../base/log.h"
#include "../base/util.h"
#include "../json/json.h"

extern char **environ;

struct proc {
	pid_t pid;
	int in_fd, out_fd, err_fd;
	const proc_ops *ops;
	void *ud;
	loop_t *loop;
	linebuf out;    /* stdout framing */
	buf_t in;       /* queued stdin */
	size_t in_off;
	bool close_in;  /* close stdin once drained */
	bool reaped;
	int status;
	bool detached;
	bool exited_cb;
	uint64_t kill_timer;
	uint64_t drain_timer; /* reaped, stdout still open: stop waiting for EOF */
	/* stderr ring */
	buf_t err_part;
	char *head[PROC_STDERR_HEAD];
	int nhead;
	char *tail[PROC_STDERR_TAIL];
	int tail_start, ntail;
	size_t total_lines;
	struct proc *next;
};

static struct {
	proc_t *all;
	int alive;
} P;

static void maybe_finish(proc_t *p);

int proc_alive_count(void) { return P.alive; }
pid_t proc_pid(const proc_t *p) { return p->pid; }
bool proc_stdin_open(const proc_t *p) { return p->in_fd >= 0 && !p->close_in; }

static void unlink_proc(proc_t *p)
{
	for (proc_t **pp = &P.all; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

static void free_proc(proc_t *p)
{
	unlink_proc(p);
	lines_free(&p->out);
	buf_free(&p->in);
	buf_free(&p->err_part);
	for (int i = 0; i < p->nhead; i++)
		free(p->head[i]);
	for (int i = 0; i < p->ntail; i++)
		free(p->tail[(p->tail_start + i) % PROC_STDERR_TAIL]);
	free(p);
}

static void close_fd(proc_t *p, int *fd)
{
	if (*fd < 0)
		return;
	loop_del_fd(p->loop, *fd);
	close(*fd);
	*fd = -1;
}

/* ---- stderr ring ---- */

static void err_line(proc_t *p, const char *s, size_t n)
{
	if (n && s[n - 1] == '\r')
		n--;
	p->total_lines++;
	char *line;
	if (n > PROC_STDERR_LINE) {
		line = xmalloc(PROC_STDERR_LINE + 4);
		memcpy(line, s, PROC_STDERR_LINE);
		memcpy(line + PROC_STDERR_LINE, "...", 4);
	} else {
		line = xstrndup(s, n);
	}
	if (p->nhead < PROC_STDERR_HEAD) {
		p->head[p->nhead++] = line;
		return;
	}
	if (p->ntail < PROC_STDERR_TAIL) {
		p->tail[(p->tail_start + p->ntail++) % PROC_STDERR_TAIL] = line;
		return;
	}
	free(p->tail[p->tail_start]);
	p->tail[p->tail_start] = line;
	p->tail_start = (p->tail_start + 1) % PROC_STDERR_TAIL;
}

static void on_err(loop_t *l, int fd, int revents, void *ud)
{
	proc_t *p = ud;
	char tmp[4096];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n > 0) {
			for (ssize_t i = 0; i < n; i++) {
				if (tmp[i] == '\n') {
					err_line(p, p->err_part.p ? p->err_part.p : "", p->err_part.len);
					buf_reset(&p->err_part);
				} else if (p->err_part.len < PROC_STDERR_LINE + 8) {
					buf_putc(&p->err_part, tmp[i]);
				}
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (p->err_part.len) {
			err_line(p, p->err_part.p, p->err_part.len);
			buf_reset(&p->err_part);
		}
		close_fd(p, &p->err_fd);
		maybe_finish(p);
		return;
	}
}

bool proc_stderr_json(const proc_t *p, buf_t *out)
{
	if (!p->total_lines)
		return false;
	jw_t w;
	jw_init(&w, out);
	jw_obj(&w);
	buf_t b;
	buf_init(&b);
	for (int i = 0; i < p->nhead; i++) {
		if (i)
			buf_putc(&b, '\n');
		buf_puts(&b, p->head[i]);
	}
	bool truncated = p->total_lines > (size_t)(PROC_STDERR_HEAD + PROC_STDERR_TAIL);
	if (!truncated) {
		for (int i = 0; i < p->ntail; i++) {
			buf_putc(&b, '\n');
			buf_puts(&b, p->tail[(p->tail_start + i) % PROC_STDERR_TAIL]);
		}
	}
	jw_key(&w, "head");
	jw_strn(&w, b.p ? b.p : "", b.len);
	if (truncated) {
		buf_reset(&b);
		for (int i = 0; i < p->ntail; i++) {
			if (i)
				buf_putc(&b, '\n');
			buf_puts(&b, p->tail[(p->tail_start + i) % PROC_STDERR_TAIL]);
		}
		jw_key(&w, "tail");
		jw_strn(&w, b.p ? b.p : "", b.len);
	}
	buf_free(&b);
	jw_kbool(&w, "truncated", truncated);
	jw_key(&w, "total_lines");
	jw_uint(&w, p->total_lines);
	jw_obj_end(&w);
	return true;
}

void proc_stderr_tail(const proc_t *p, buf_t *out, size_t max_lines)
{
	/* collect head+tail in order, then keep the last max_lines */
	const char *lines[PROC_STDERR_HEAD + PROC_STDERR_TAIL];
	size_t n = 0;
	for (int i = 0; i < p->nhead; i++)
		lines[n++] = p->head[i];
	for (int i = 0; i < p->ntail; i++)
		lines[n++] = p->tail[(p->tail_start + i) % PROC_STDERR_TAIL];
	size_t from = n > max_lines ? n - max_lines : 0;
	for (size_t i = from; i < n; i++) {
		if (i > from)
			buf_putc(out, '\n');
		buf_puts(out, lines[i]);
	}
}

/* ---- stdout lines ---- */

static void deliver(void *ud, const char *s, size_t n, bool truncated)
{
	proc_t *p = ud;
	if (!p->detached && p->ops->on_line)
		p->ops->on_line(p, p->ud, s, n, truncated);
}

static void on_out(loop_t *l, int fd, int revents, void *ud)
{
	proc_t *p = ud;
	for (int rounds = 0; rounds < 16; rounds++) {
		size_t avail;
		char *dst = lines_space(&p->out, 65536, &avail);
		ssize_t n = read(fd, dst, avail);
		if (n > 0) {
			lines_commit(&p->out, (size_t)n, deliver, p);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* EOF (or error): deliver a final unterminated line */
		lines_finish(&p->out, deliver, p);
		close_fd(p, &p->out_fd);
		maybe_finish(p);
		return;
	}
}

/* ---- stdin ---- */

static void on_in(loop_t *l, int fd, int revents, void *ud)
{
	proc_t *p = ud;
	while (p->in_off < p->in.len) {
		ssize_t n = write(fd, p->in.p + p->in_off, p->in.len - p->in_off);
		if (n > 0) {
			p->in_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* EPIPE: the child closed stdin; drop what is queued */
		buf_free(&p->in);
		p->in_off = 0;
		close_fd(p, &p->in_fd);
		return;
	}
	buf_reset(&p->in);
	p->in_off = 0;
	if (p->close_in)
		close_fd(p, &p->in_fd);
	else
		loop_set_events(p->loop, fd, 0);
}

int proc_write(proc_t *p, const void *data, size_t n)
{
	if (p->in_fd < 0 || p->close_in || p->in.len - p->in_off + n > PROC_STDIN_MAX)
		return -1;
	buf_append(&p->in, data, n);
	loop_set_events(p->loop, p->in_fd, LOOP_WRITE);
	on_in(p->loop, p->in_fd, LOOP_WRITE, p);
	return p->in_fd >= 0 || p->close_in ? 0 : -1; /* EPIPE: the child closed stdin */
}

void proc_close_stdin(proc_t *p)
{
	if (p->in_fd < 0)
		return;
	p->close_in = true;
	if (p->in_off >= p->in.len)
		close_fd(p, &p->in_fd);
}

/* ---- exit ---- */

/* The child is gone but something it started (outside its group) still
 * holds its stdout: take what is there and stop waiting for EOF. */
static void on_drain_timer(loop_t *l, void *ud)
{
	proc_t *p = ud;
	p->drain_timer = 0;
	if (p->out_fd < 0)
		return;
	for (;;) { /* what is buffered in the pipe now */
		size_t avail;
		char *dst = lines_space(&p->out, 65536, &avail);
		ssize_t n = read(p->out_fd, dst, avail);
		if (n > 0)
			lines_commit(&p->out, (size_t)n, deliver, p);
		else if (!(n < 0 && errno == EINTR))
			break;
	}
	lines_finish(&p->out, deliver, p);
	close_fd(p, &p->out_fd);
	maybe_finish(p);
}

static void maybe_finish(proc_t *p)
{
	if (p->reaped && p->out_fd >= 0 && !p->drain_timer && !p->exited_cb)
		p->drain_timer = loop_add_timer(p->loop, PROC_DRAIN_MS, 0, on_drain_timer, p);
	if (!p->reaped || p->out_fd >= 0 || p->exited_cb)
		return;
	if (p->drain_timer) {
		loop_cancel_timer(p->loop, p->drain_timer);
		p->drain_timer = 0;
	}
	p->exited_cb = true;
	/* stderr may still hold bytes; read what is there now */
	if (p->err_fd >= 0)
		on_err(p->loop, p->err_fd, LOOP_READ, p);
	if (p->err_fd >= 0)
		close_fd(p, &p->err_fd);
	close_fd(p, &p->in_fd);
	if (p->kill_timer) {
		loop_cancel_timer(p->loop, p->kill_timer);
		p->kill_timer = 0;
	}
	if (!p->detached && p->ops->on_exit)
		p->ops->on_exit(p, p->ud, p->status);
	free_proc(p);
}

static void on_sigchld(loop_t *l, int sig, void *ud)
{
	proc_t *p = P.all;
	while (p) {
		proc_t *next = p->next;
		if (!p->reaped) {
			int st;
			pid_t r = waitpid(p->pid, &st, WNOHANG);
			if (r == p->pid || (r < 0 && errno == ECHILD)) {
				p->reaped = true;
				p->status = r == p->pid ? st : 0;
				P.alive--;
				/* leftovers of the group (tools the agent started) */
				kill(-p->pid, SIGKILL);
				log_debug("child %d exited (status %d)", (int)p->pid, st);
				maybe_finish(p);
			}
		}
		p = next;
	}
}

static void on_kill_timer(loop_t *l, void *ud)
{
	proc_t *p = ud;
	p->kill_timer = 0;
	if (!p->reaped) {
		log_info("child %d did not stop after SIGTERM, sending SIGKILL", (int)p->pid);
		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
	}
}

void proc_terminate(proc_t *p, unsigned grace_ms)
{
	if (p->reaped)
		return;
	kill(-p->pid, SIGTERM);
	kill(p->pid, SIGTERM);
	if (!p->kill_timer)
		p->kill_timer = loop_add_timer(p->loop, grace_ms ? grace_ms : 1, 0, on_kill_timer, p);
}

void proc_detach(proc_t *p)
{
	p->detached = true;
	p->ops = NULL;
	proc_terminate(p, PROC_TERM_GRACE_MS);
	/* keep draining stdout so the child never blocks on a full pipe */
}

void proc_kill_all(void)
{
	for (proc_t *p = P.all; p; p = p->next) {
		if (!p->reaped) {
			kill(-p->pid, SIGKILL);
			kill(p->pid, SIGKILL);
			int st;
			if (waitpid(p->pid, &st, 0) == p->pid) {
				p->reaped = true;
				P.alive--;
			}
		}
	}
}

/* ---- spawn ---- */

static bool env_name_eq(const char *kv, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(kv, name, n) && kv[n] == '=';
}

/* Builds envp: our environment minus unset and overridden names, plus
 * the overrides. */
static char **build_env(const proc_spec *spec)
{
	size_t n = 0, m = 0;
	for (char **e = environ; e && *e; e++)
		n++;
	for (const char *const *o = spec->env; o && *o; o++)
		m++;
	char **env = xcalloc(n + m + 1, sizeof *env);
	size_t k = 0;
	for (char **e = environ; e && *e; e++) {
		bool drop = false;
		for (const char *const *u = spec->unset; u && *u && !drop; u++)
			drop = env_name_eq(*e, *u);
		for (const char *const *o = spec->env; o && *o && !drop; o++) {
			const char *eq = strchr(*o, '=');
			drop = eq && !strncmp(*e, *o, (size_t)(eq - *o) + 1);
		}
		if (!drop)
			env[k++] = *e;
	}
	for (const char *const *o = spec->env; o && *o; o++)
		env[k++] = (char *)*o;
	env[k] = NULL;
	return env;
}

proc_t *proc_spawn(loop_t *l, const proc_spec *spec, const proc_ops *ops, void *ud,
		char *err, size_t errcap)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1}, ex[2] = {-1, -1};
	/* idempotent; re-done per spawn so a new loop always gets it */
	loop_on_signal(l, SIGCHLD, on_sigchld, NULL);
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(er, O_CLOEXEC) ||
			pipe2(ex, O_CLOEXEC)) {
		snprintf(err, errcap, "pipe: %s", strerror(errno));
		goto fail;
	}
	char **env = build_env(spec);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errcap, "fork: %s", strerror(errno));
		free(env);
		goto fail;
	}
	if (pid == 0) {
		/* child: only async-signal-safe calls from here */
		setpgid(0, 0);
		loop_reset_signals_for_child();
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(er[1], 2);
		int e = 0;
		if (spec->cwd && chdir(spec->cwd) != 0)
			e = errno;
		if (!e) {
			execve(spec->path, (char *const *)spec->argv, env);
			e = errno;
		}
		ssize_t w = write(ex[1], &e, sizeof e);
		(void)w;
		_exit(127);
	}
	free(env);
	setpgid(pid, pid); /* also from the parent: no race with kill(-pid) */
	close(in[0]);
	close(out[1]);
	close(er[1]);
	close(ex[1]);
	/* exec succeeded iff the close-on-exec pipe closes without data;
	 * this waits only for fork+exec of our own child. */
	int e = 0;
	ssize_t r;
	do
		r = read(ex[0], &e, sizeof e);
	while (r < 0 && errno == EINTR);
	close(ex[0]);
	if (r == (ssize_t)sizeof e) {
		snprintf(err, errcap, "cannot start %s: %s", spec->path, strerror(e));
		close(in[1]);
		close(out[0]);
		close(er[0]);
		int st;
		waitpid(pid, &st, 0);
		return NULL;
	}
	proc_t *p = xcalloc(1, sizeof *p);
	lines_init(&p->out, PROC_LINE_MAX);
	p->pid = pid;
	p->in_fd = in[1];
	p->out_fd = out[0];
	p->err_fd = er[0];
	p->ops = ops;
	p->ud = ud;
	p->loop = l;
	util_set_nonblock(p->in_fd);
	util_set_nonblock(p->out_fd);
	util_set_nonblock(p->err_fd);
	loop_add_fd(l, p->out_fd, LOOP_READ, on_out, p);
	loop_add_fd(l, p->err_fd, LOOP_READ, on_err, p);
	loop_add_fd(l, p->in_fd, 0, on_in, p);
	p->next = P.all;
	P.all = p;
	P.alive++;
	log_debug("spawned %s as pid %d", spec->path, (int)pid);
	return p;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (er[i] >= 0)
			close(er[i]);
		if (ex[i] >= 0)
			close(ex[i]);
	}
	return NULL;
}
