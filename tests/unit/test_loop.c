/* test_loop.c - the poll() loop on real pipes and socketpairs: fd
 * callbacks, removal and fd-number reuse from inside callbacks, timer
 * order/cancel/repeat, signals through the self-pipe, loop_stop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "net/loop.h"
#include "t.h"

/* Every test arms this so a bug shows up as a failure, not a hang. */
static int timed_out;
static void on_guard(loop_t *l, void *ud)
{
	timed_out = 1;
	loop_stop(l);
}
static uint64_t guard(loop_t *l)
{
	timed_out = 0;
	return loop_add_timer(l, 3000, 0, on_guard, NULL);
}
static void on_stop(loop_t *l, void *ud)
{
	loop_stop(l);
}

/* ---- read and write readiness ---- */

struct rw {
	int rfd, wfd, reads, writes, last_rev;
	char got[16];
};

static void rw_read(loop_t *l, int fd, int rev, void *ud)
{
	struct rw *s = ud;
	ssize_t n = read(fd, s->got, sizeof s->got - 1);
	s->got[n > 0 ? n : 0] = '\0';
	s->reads++;
	s->last_rev = rev;
	loop_stop(l);
}

static void rw_write(loop_t *l, int fd, int rev, void *ud)
{
	struct rw *s = ud;
	ssize_t n = write(fd, "ping", 4);
	CHECK_INT(n, 4);
	s->writes++;
	loop_set_events(l, fd, 0); /* one write is enough */
}

static void test_read_write(void)
{
	loop_t *l = loop_new();
	struct rw s;
	int p[2];

	memset(&s, 0, sizeof s);
	CHECK_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	s.rfd = p[0];
	s.wfd = p[1];
	CHECK_INT(loop_fd_count(l), 0);
	CHECK_INT(loop_add_fd(l, p[0], LOOP_READ, rw_read, &s), 0);
	CHECK_INT(loop_add_fd(l, p[1], LOOP_WRITE, rw_write, &s), 0);
	CHECK_INT(loop_add_fd(l, p[1], LOOP_WRITE, rw_write, &s), -1); /* once per fd */
	CHECK_INT(loop_add_fd(l, -1, LOOP_READ, rw_read, &s), -1);
	CHECK_INT(loop_fd_count(l), 2);
	guard(l);
	CHECK_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_INT(s.writes, 1);
	CHECK_INT(s.reads, 1);
	CHECK_STR(s.got, "ping");
	CHECK_INT(s.last_rev, LOOP_READ);

	/* closing the writer: the reader sees HUP */
	loop_del_fd(l, p[1]);
	loop_del_fd(l, p[1]); /* twice is harmless */
	loop_del_fd(l, 9999);
	CHECK_INT(loop_fd_count(l), 1);
	close(p[1]);
	s.reads = 0;
	CHECK_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_INT(s.reads, 1);
	CHECK(s.last_rev & LOOP_HUP);
	CHECK_STR(s.got, "");
	loop_del_fd(l, p[0]);
	close(p[0]);
	CHECK_INT(loop_fd_count(l), 0);
	loop_free(l);
}

/* A socketpair whose peer shuts down while READ is wanted: HUP. */
static void test_socket_hup(void)
{
	loop_t *l = loop_new();
	struct rw s;
	int sv[2];

	memset(&s, 0, sizeof s);
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_INT(write(sv[1], "hi", 2), 2);
	shutdown(sv[1], SHUT_WR);
	CHECK_INT(loop_add_fd(l, sv[0], LOOP_READ, rw_read, &s), 0);
	guard(l);
	loop_run(l);
	CHECK(!timed_out);
	CHECK_INT(s.reads, 1);
	CHECK_STR(s.got, "hi");
	CHECK(s.last_rev & LOOP_READ);
	CHECK(s.last_rev & LOOP_HUP);
	loop_del_fd(l, sv[0]);
	close(sv[0]);
	close(sv[1]);
	loop_free(l);
}

/* High fd numbers grow the table. */
static void test_big_fd(void)
{
	loop_t *l = loop_new();
	struct rw s;
	int p[2], hi;

	memset(&s, 0, sizeof s);
	CHECK_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	hi = dup2(p[0], 700);
	CHECK_INT(hi, 700);
	close(p[0]);
	CHECK_INT(loop_add_fd(l, hi, LOOP_READ, rw_read, &s), 0);
	CHECK_INT(write(p[1], "x", 1), 1);
	guard(l);
	loop_run(l);
	CHECK(!timed_out);
	CHECK_INT(s.reads, 1);
	CHECK_STR(s.got, "x");
	loop_del_fd(l, hi);
	close(hi);
	close(p[1]);
	loop_free(l);
}

/* ---- removal during dispatch ---- */

struct pair {
	int fd[2];
	int calls[2];
};

static void del_other(loop_t *l, int fd, int rev, void *ud)
{
	struct pair *s = ud;
	int me = fd == s->fd[1];
	s->calls[me]++;
	loop_del_fd(l, s->fd[!me]);
}

static void test_delete_in_callback(void)
{
	loop_t *l = loop_new();
	struct pair s;
	int a[2], b[2];

	memset(&s, 0, sizeof s);
	CHECK_INT(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
	CHECK_INT(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
	CHECK_INT(write(a[1], "a", 1), 1);
	CHECK_INT(write(b[1], "b", 1), 1);
	s.fd[0] = a[0];
	s.fd[1] = b[0];
	loop_add_fd(l, a[0], LOOP_READ, del_other, &s);
	loop_add_fd(l, b[0], LOOP_READ, del_other, &s);
	loop_add_timer(l, 0, 0, on_stop, NULL); /* one iteration */
	loop_run(l);
	/* both were ready; whichever ran first removed the other */
	CHECK_INT(s.calls[0] + s.calls[1], 1);
	CHECK_INT(loop_fd_count(l), 1);
	loop_free(l);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

/* The first callback closes the second fd and opens a new pipe that
 * gets the same number: the stale readiness must not reach it. */
struct reuse {
	int first, victim, victim_w, new_r, new_w;
	int first_calls, victim_calls, new_calls, new_rev;
};

static void reuse_new(loop_t *l, int fd, int rev, void *ud)
{
	struct reuse *s = ud;
	char c;
	s->new_calls++;
	s->new_rev = rev;
	CHECK_INT(read(fd, &c, 1), 1);
	loop_stop(l);
}

static void reuse_victim(loop_t *l, int fd, int rev, void *ud)
{
	struct reuse *s = ud;
	s->victim_calls++;
}

static void reuse_first(loop_t *l, int fd, int rev, void *ud)
{
	struct reuse *s = ud;
	int p[2];
	char c;

	s->first_calls++;
	CHECK_INT(read(fd, &c, 1), 1);
	if (s->first_calls > 1)
		return;
	loop_del_fd(l, s->victim);
	close(s->victim);
	CHECK_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	CHECK_INT(p[0], s->victim); /* the kernel reuses the lowest number */
	s->new_r = p[0];
	s->new_w = p[1];
	CHECK_INT(loop_add_fd(l, p[0], LOOP_READ, reuse_new, s), 0);
}

static void reuse_write(loop_t *l, void *ud)
{
	struct reuse *s = ud;
	CHECK_INT(s->new_calls, 0);
	CHECK_INT(write(s->new_w, "n", 1), 1);
}

static void test_fd_reuse(void)
{
	loop_t *l = loop_new();
	struct reuse s;
	int a[2], b[2];

	memset(&s, 0, sizeof s);
	CHECK_INT(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
	CHECK_INT(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
	CHECK(a[0] < b[0]); /* dispatch runs in fd order: a before b */
	s.first = a[0];
	s.victim = b[0];
	s.victim_w = b[1];
	CHECK_INT(write(a[1], "a", 1), 1);
	CHECK_INT(write(b[1], "b", 1), 1);
	loop_add_fd(l, a[0], LOOP_READ, reuse_first, &s);
	loop_add_fd(l, b[0], LOOP_READ, reuse_victim, &s);
	loop_add_timer(l, 20, 0, reuse_write, &s);
	guard(l);
	loop_run(l);
	CHECK(!timed_out);
	CHECK_INT(s.first_calls, 1);
	CHECK_INT(s.victim_calls, 0);
	CHECK_INT(s.new_calls, 1);
	CHECK_INT(s.new_rev, LOOP_READ);
	CHECK_INT(loop_fd_count(l), 2);
	loop_free(l);
	close(a[0]);
	close(a[1]);
	close(b[1]);
	close(s.new_r);
	close(s.new_w);
}

/* Dropping WRITE interest from an earlier callback masks the event. */
struct mask {
	int w1, w2, calls1, calls2;
};
static void mask_cb(loop_t *l, int fd, int rev, void *ud)
{
	struct mask *s = ud;
	if (fd == s->w1) {
		s->calls1++;
		loop_set_events(l, s->w2, 0);
		loop_set_events(l, s->w1, 0);
	} else {
		s->calls2++;
	}
}

static void test_set_events(void)
{
	loop_t *l = loop_new();
	struct mask s;
	int a[2], b[2];

	memset(&s, 0, sizeof s);
	CHECK_INT(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
	CHECK_INT(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
	s.w1 = a[1] < b[1] ? a[1] : b[1];
	s.w2 = a[1] < b[1] ? b[1] : a[1];
	loop_add_fd(l, s.w1, LOOP_WRITE, mask_cb, &s);
	loop_add_fd(l, s.w2, LOOP_WRITE, mask_cb, &s);
	loop_set_events(l, 12345, LOOP_READ); /* unknown fd: ignored */
	loop_add_timer(l, 30, 0, on_stop, NULL);
	loop_run(l);
	CHECK_INT(s.calls1, 1);
	CHECK_INT(s.calls2, 0);
	/* turning it back on works (in-place pollfd edit) */
	loop_set_events(l, s.w2, LOOP_WRITE);
	loop_add_timer(l, 10, 0, on_stop, NULL);
	loop_run(l);
	CHECK(s.calls2 > 0);
	CHECK_INT(s.calls1, 1);
	loop_free(l);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

/* ---- timers ---- */

struct order {
	int seen[32];
	int n;
};
struct tmark {
	struct order *o;
	int tag;
};
static void mark(loop_t *l, void *ud)
{
	struct tmark *m = ud;
	if (m->o->n < 32)
		m->o->seen[m->o->n++] = m->tag;
}

static void test_timer_order(void)
{
	loop_t *l = loop_new();
	struct order o;
	struct tmark m[6];
	uint64_t t0 = loop_now(l), id;
	int i;

	memset(&o, 0, sizeof o);
	for (i = 0; i < 6; i++) {
		m[i].o = &o;
		m[i].tag = i;
	}
	loop_add_timer(l, 30, 0, mark, &m[0]);
	loop_add_timer(l, 10, 0, mark, &m[1]);
	loop_add_timer(l, 20, 0, mark, &m[2]);
	loop_add_timer(l, 20, 0, mark, &m[3]); /* same deadline: insertion order */
	id = loop_add_timer(l, 15, 0, mark, &m[4]);
	CHECK(id > 0);
	loop_add_timer(l, 0, 0, mark, &m[5]);
	loop_cancel_timer(l, id);
	loop_cancel_timer(l, id); /* twice: harmless */
	loop_cancel_timer(l, 0);
	loop_cancel_timer(l, 0xdeadbeef00000001ULL);
	loop_add_timer(l, 40, 0, on_stop, NULL);
	guard(l);
	loop_run(l);
	CHECK(!timed_out);
	CHECK_INT(o.n, 5);
	CHECK_INT(o.seen[0], 5);
	CHECK_INT(o.seen[1], 1);
	CHECK_INT(o.seen[2], 2);
	CHECK_INT(o.seen[3], 3);
	CHECK_INT(o.seen[4], 0);
	CHECK(loop_now(l) >= t0 + 40);
	loop_free(l);
}

/* Cancel a timer that is due in the same round as the canceller. */
struct cancel_other {
	uint64_t victim;
	int fired, victim_fired;
};
static void cancel_first(loop_t *l, void *ud)
{
	struct cancel_other *c = ud;
	c->fired++;
	loop_cancel_timer(l, c->victim);
}
static void cancel_victim(loop_t *l, void *ud)
{
	struct cancel_other *c = ud;
	c->victim_fired++;
}

static void test_timer_cancel(void)
{
	loop_t *l = loop_new();
	struct cancel_other c;

	memset(&c, 0, sizeof c);
	loop_add_timer(l, 5, 0, cancel_first, &c);
	c.victim = loop_add_timer(l, 5, 0, cancel_victim, &c);
	loop_add_timer(l, 30, 0, on_stop, NULL);
	guard(l);
	loop_run(l);
	CHECK(!timed_out);
	CHECK_INT(c.fired, 1);
	CHECK_INT(c.victim_fired, 0);
	loop_free(l);
}

struct rep {
	uint64_t id;
	int count, limit;
};
static void rep_tick(loop_t *l, void *ud)
{
	struct rep *r = ud;
	if (++r->count == r->limit)
		loop_cancel_timer(l, r->id); /* cancels itself */
}

static void oneshot_self(loop_t *l, void *ud)
{
	struct rep *r = ud;
	r->count++;
	loop_cancel_timer(l, r->id); /* already fired: harmless */
	r->id = loop_add_timer(l, 1000, 0, oneshot_self, r); /* reuses the slot */
	loop_cancel_timer(l, r->id);
}

static void test_timer_repeat(void)
{
	loop_t *l = loop_new();
	struct rep r = { 0, 0, 4 }, one = { 0, 0, 0 }, forever = { 0, 0, 1000000 };
	uint64_t fid;

	r.id = loop_add_timer(l, 3, 1, rep_tick, &r);
	fid = loop_add_timer(l, 2, 1, rep_tick, &forever);
	one.id = loop_add_timer(l, 1, 0, oneshot_self, &one);
	loop_add_timer(l, 60, 0, on_stop, NULL);
	guard(l);
	loop_run(l);
	CHECK(!timed_out);
	CHECK_INT(r.count, 4);
	CHECK_INT(one.count, 1);
	CHECK(forever.count >= 5 && forever.count <= 30);
	loop_cancel_timer(l, fid);
	/* the cancelled repeating timer stays quiet on a second run */
	loop_add_timer(l, 10, 0, on_stop, NULL);
	loop_run(l);
	CHECK_INT(r.count, 4);
	loop_free(l);
}

/* Many timers with random deadlines and random cancellations: fire
 * order must be non-decreasing and no cancelled timer may fire. */
#define HEAP_N 300
struct heapt {
	uint64_t id[HEAP_N], deadline[HEAP_N], last;
	int cancelled[HEAP_N], fired[HEAP_N], bad, left;
};
static struct heapt H;
static void heap_fire(loop_t *l, void *ud)
{
	int i = (int)(intptr_t)ud;
	if (H.cancelled[i] || H.fired[i] || H.deadline[i] < H.last)
		H.bad++;
	if (loop_now(l) < H.deadline[i])
		H.bad++;
	H.last = H.deadline[i];
	H.fired[i]++;
	if (--H.left == 0)
		loop_stop(l);
}

static void test_timer_heap(void)
{
	loop_t *l = loop_new();
	unsigned char rnd[HEAP_N * 2];
	int i;

	memset(&H, 0, sizeof H);
	CHECK_INT(util_random(rnd, sizeof rnd), 0);
	for (i = 0; i < HEAP_N; i++) {
		uint64_t ms = rnd[i] % 40;
		H.deadline[i] = loop_now(l) + ms;
		H.id[i] = loop_add_timer(l, ms, 0, heap_fire, (void *)(intptr_t)i);
	}
	H.left = HEAP_N;
	for (i = 0; i < HEAP_N; i++) {
		if (rnd[HEAP_N + i] & 1) {
			loop_cancel_timer(l, H.id[i]);
			H.cancelled[i] = 1;
			H.left--;
		}
	}
	guard(l);
	if (H.left)
		loop_run(l);
	CHECK(!timed_out);
	CHECK_INT(H.bad, 0);
	CHECK_INT(H.left, 0);
	loop_free(l);
}

/* ---- signals ---- */

struct sigs {
	int usr1, chld, status;
	pid_t pid;
};
static void on_usr1(loop_t *l, int sig, void *ud)
{
	struct sigs *s = ud;
	CHECK_INT(sig, SIGUSR1);
	s->usr1++;
	loop_stop(l);
}
static void on_chld(loop_t *l, int sig, void *ud)
{
	struct sigs *s = ud;
	int st;
	pid_t p;

	CHECK_INT(sig, SIGCHLD);
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p == s->pid) {
			s->chld++;
			s->status = st;
			loop_stop(l);
		}
	}
}

static void test_signals(void)
{
	loop_t *l = loop_new(), *other;
	struct sigs s;
	struct sigaction sa;

	memset(&s, 0, sizeof s);
	CHECK_INT(loop_on_signal(l, SIGUSR1, on_usr1, &s), 0);
	CHECK_INT(loop_on_signal(l, SIGCHLD, on_chld, &s), 0);
	CHECK_INT(loop_on_signal(l, 0, on_usr1, &s), -1);
	CHECK_INT(loop_on_signal(l, SIGPIPE, on_usr1, &s), -1);
	CHECK_INT(loop_fd_count(l), 1); /* the self-pipe */

	/* SIGPIPE is ignored once a loop exists */
	sigaction(SIGPIPE, NULL, &sa);
	CHECK(sa.sa_handler == SIG_IGN);

	/* only one loop owns the process's signals */
	other = loop_new();
	CHECK_INT(loop_on_signal(other, SIGUSR2, on_usr1, &s), -1);
	loop_free(other);

	raise(SIGUSR1);
	raise(SIGUSR1); /* coalesced or not, at least one callback */
	CHECK_INT(s.usr1, 0); /* not in signal context */
	guard(l);
	loop_run(l);
	CHECK(!timed_out);
	CHECK(s.usr1 >= 1);

	s.pid = fork();
	if (s.pid == 0)
		_exit(3);
	CHECK(s.pid > 0);
	loop_run(l);
	CHECK(!timed_out);
	CHECK_INT(s.chld, 1);
	CHECK(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 3);

	/* a child resetting its signals sees defaults and an empty mask */
	{
		pid_t pid;
		int st = 0;
		sigset_t block;

		sigemptyset(&block);
		sigaddset(&block, SIGUSR2);
		sigprocmask(SIG_BLOCK, &block, NULL);
		pid = fork();
		if (pid == 0) {
			struct sigaction a1, a2;
			sigset_t cur;
			loop_reset_signals_for_child();
			sigaction(SIGPIPE, NULL, &a1);
			sigaction(SIGUSR1, NULL, &a2);
			sigprocmask(SIG_SETMASK, NULL, &cur);
			_exit(a1.sa_handler == SIG_DFL && a2.sa_handler == SIG_DFL &&
			      !sigismember(&cur, SIGUSR2) ? 0 : 1);
		}
		sigprocmask(SIG_UNBLOCK, &block, NULL);
		/* the SIGCHLD callback reaps it; find its status there */
		s.pid = pid;
		s.chld = 0;
		guard(l);
		loop_run(l);
		CHECK(!timed_out);
		st = s.status;
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}

	loop_free(l);
	/* freeing the loop restored the default handler */
	sigaction(SIGUSR1, NULL, &sa);
	CHECK(sa.sa_handler == SIG_DFL);

	/* a new loop can own the signals again */
	l = loop_new();
	memset(&s, 0, sizeof s);
	CHECK_INT(loop_on_signal(l, SIGUSR1, on_usr1, &s), 0);
	kill(getpid(), SIGUSR1);
	guard(l);
	loop_run(l);
	CHECK(!timed_out);
	CHECK_INT(s.usr1, 1);
	loop_free(l);
}

/* ---- before_poll and loop_stop ---- */

struct hook {
	int calls;
};
static void before(loop_t *l, void *ud)
{
	struct hook *h = ud;
	if (++h->calls == 3)
		loop_stop(l);
}

static void tick(loop_t *l, void *ud)
{
	(*(int *)ud)++;
}

static void test_stop_and_hook(void)
{
	loop_t *l = loop_new();
	struct hook h = { 0 };
	int ticks = 0;
	uint64_t t0 = loop_now(l);

	loop_set_before_poll(l, before, &h);
	loop_add_timer(l, 2, 1, tick, &ticks);
	guard(l);
	CHECK_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_INT(h.calls, 3);
	CHECK(ticks >= 1 && ticks <= 2);
	CHECK(loop_now(l) >= t0 + 2);

	/* stop from a timer; run again afterwards */
	loop_set_before_poll(l, NULL, NULL);
	loop_add_timer(l, 5, 0, on_stop, NULL);
	CHECK_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK(ticks >= 2);
	loop_free(l);
	loop_free(NULL);
}

int main(void)
{
	test_read_write();
	test_socket_hup();
	test_big_fd();
	test_delete_in_callback();
	test_fd_reuse();
	test_set_events();
	test_timer_order();
	test_timer_cancel();
	test_timer_repeat();
	test_timer_heap();
	test_signals();
	test_stop_and_hook();
	return t_done("loop");
}
