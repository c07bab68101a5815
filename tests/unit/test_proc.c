/* test_proc.c - process supervision: lines, long lines, stderr ring,
 * exit status, SIGTERM then SIGKILL, stdin, reaping. */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "proc/proc.h"

typedef struct {
	int lines;
	int truncated;
	size_t total;
	char last[256];
	int exited;
	int status;
	buf_t stderr_json;
	loop_t *l;
} ctx;

static void on_line(proc_t *p, void *ud, const char *line, size_t len, bool truncated)
{
	ctx *c = ud;
	c->lines++;
	c->truncated += truncated;
	c->total += len;
	size_t n = len < sizeof c->last - 1 ? len : sizeof c->last - 1;
	memcpy(c->last, line, n);
	c->last[n] = 0;
}

static void on_exit_cb(proc_t *p, void *ud, int status)
{
	ctx *c = ud;
	c->exited++;
	c->status = status;
	proc_stderr_json(p, &c->stderr_json);
	loop_stop(c->l);
}

static const proc_ops ops = {on_line, on_exit_cb};

/* True if a process of group pgid exists that is not a zombie. */
static bool group_alive(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool alive = false;
	while (d && (e = readdir(d)) && !alive) {
		char path[300], buf[512];
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = 0;
		char *rp = strrchr(buf, ')');
		char state;
		int ppid, pgrp;
		if (rp && sscanf(rp + 2, "%c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
				state != 'Z')
			alive = true;
	}
	if (d)
		closedir(d);
	return alive;
}

static void on_deadline(loop_t *l, void *ud)
{
	loop_stop(l);
}

static proc_t *run_sh(ctx *c, const char *script, bool wait)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	proc_spec spec = {.path = "/bin/sh", .argv = argv};
	char err[256];
	memset(c, 0, sizeof *c);
	c->l = loop_new();
	proc_t *p = proc_spawn(c->l, &spec, &ops, c, err, sizeof err);
	if (p && wait) {
		uint64_t t = loop_add_timer(c->l, 10000, 0, on_deadline, NULL);
		loop_run(c->l);
		loop_cancel_timer(c->l, t);
	}
	return p;
}

static void done(ctx *c)
{
	buf_free(&c->stderr_json);
	loop_free(c->l);
}

int main(void)
{
	ctx c;

	/* lines, final unterminated line, exit status */
	CHECK(run_sh(&c, "printf 'a\\nbb\\r\\nccc'; exit 3", true) != NULL);
	CHECK_INT(c.lines, 3);
	CHECK_STR(c.last, "ccc");
	CHECK_INT(c.total, 6);
	CHECK_INT(c.exited, 1);
	CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 3);
	CHECK_INT(proc_alive_count(), 0);
	done(&c);

	/* an over-long line is cut and flagged, the next line is intact */
	CHECK(run_sh(&c, "head -c 9000000 /dev/zero | tr '\\0' x; echo; echo after", true) != NULL);
	CHECK_INT(c.lines, 2);
	CHECK_INT(c.truncated, 1);
	CHECK_STR(c.last, "after");
	CHECK_INT(c.total, PROC_LINE_MAX + 5);
	done(&c);

	/* stderr ring: 100 lines -> head 20, tail 50, truncated */
	CHECK(run_sh(&c, "i=1; while [ $i -le 100 ]; do echo err$i >&2; i=$((i+1)); done", true) != NULL);
	char *j = buf_cstr(&c.stderr_json);
	CHECK(strstr(j, "\"truncated\":true") != NULL);
	CHECK(strstr(j, "\"total_lines\":100") != NULL);
	CHECK(strstr(j, "\"head\":\"err1\\nerr2") != NULL);
	CHECK(strstr(j, "err20\"") != NULL);
	CHECK(strstr(j, "\"tail\":\"err51\\n") != NULL);
	CHECK(strstr(j, "err100\"") != NULL);
	done(&c);

	/* few stderr lines -> all in head, not truncated */
	CHECK(run_sh(&c, "echo one >&2; echo two >&2", true) != NULL);
	CHECK_STR(buf_cstr(&c.stderr_json), "{\"head\":\"one\\ntwo\",\"truncated\":false,\"total_lines\":2}");
	done(&c);

	/* stdin is written and closed */
	proc_t *p = run_sh(&c, "cat", false);
	CHECK(p != NULL);
	CHECK_INT(proc_write(p, "hello\nworld\n", 12), 0);
	proc_close_stdin(p);
	CHECK_INT(proc_write(p, "x", 1), -1);
	loop_run(c.l);
	CHECK_INT(c.lines, 2);
	CHECK_STR(c.last, "world");
	done(&c);

	/* a child that ignores SIGTERM is killed after the grace period,
	 * together with its process group */
	p = run_sh(&c, "trap '' TERM; sleep 30 & echo ready; wait", false);
	CHECK(p != NULL);
	pid_t pid = proc_pid(p);
	uint64_t t = loop_add_timer(c.l, 200, 0, on_deadline, NULL);
	loop_run(c.l); /* let it start */
	(void)t;
	proc_terminate(p, 300);
	t = loop_add_timer(c.l, 10000, 0, on_deadline, NULL);
	loop_run(c.l);
	loop_cancel_timer(c.l, t);
	CHECK_INT(c.exited, 1);
	CHECK(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGKILL);
	/* no live member of the group remains (zombies awaiting init's
	 * reaping do not count) */
	for (int i = 0; i < 100 && group_alive(pid); i++)
		usleep(10000);
	CHECK(!group_alive(pid));
	CHECK_INT(proc_alive_count(), 0);
	done(&c);

	/* exec failure is reported synchronously */
	{
		const char *argv[] = {"/nonexistent/agent", NULL};
		proc_spec spec = {.path = "/nonexistent/agent", .argv = argv};
		char err[256] = "";
		loop_t *l = loop_new();
		CHECK(proc_spawn(l, &spec, &ops, NULL, err, sizeof err) == NULL);
		CHECK(strstr(err, "No such file") != NULL);
		CHECK_INT(proc_alive_count(), 0);
		loop_free(l);
	}

	/* environment overrides, unset and cwd */
	{
		setenv("PROC_TEST_DROP", "1", 1);
		const char *argv[] = {"/bin/sh", "-c", "echo \"$PROC_TEST_SET:${PROC_TEST_DROP:-none}:$(pwd)\"", NULL};
		const char *env[] = {"PROC_TEST_SET=yes", NULL};
		const char *unset[] = {"PROC_TEST_DROP", NULL};
		proc_spec spec = {.path = "/bin/sh", .argv = argv, .env = env, .unset = unset, .cwd = "/tmp"};
		char err[256];
		memset(&c, 0, sizeof c);
		c.l = loop_new();
		CHECK(proc_spawn(c.l, &spec, &ops, &c, err, sizeof err) != NULL);
		loop_run(c.l);
		CHECK_STR(c.last, "yes:none:/tmp");
		done(&c);
	}

	/* no zombie left: waitpid finds no child */
	CHECK(waitpid(-1, NULL, WNOHANG) < 0);
	return t_done("proc");
}
