/* loop.c - the single-threaded poll() event loop. Depends on base/.
 *
 * fds: a table indexed by fd number holds each registration; the pollfd
 * array handed to poll() is rebuilt from it only when registrations come
 * or go. Every registration gets a fresh generation number, so revents
 * collected for an fd that a callback closed and reopened (same number,
 * new socket) are dropped instead of reaching the new owner.
 *
 * timers: a slab of timer slots plus a binary min-heap of slot indices
 * ordered by (deadline, insertion order). A timer id names its slot, so
 * cancelling is a lookup plus one O(log n) heap removal.
 *
 * signals: handlers only write the signal number into a non-blocking
 * self-pipe; the read end is an ordinary fd in the loop, so callbacks run
 * in normal context. Signal dispositions are process-wide, so at most one
 * loop at a time owns the pipe. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/buf.h"
#include "../base/log.h"
#include "../base/util.h"

#ifndef NSIG
#define NSIG 65
#endif
#ifndef POLLRDHUP
#define POLLRDHUP 0
#endif

#define LOOP_FD_MIN 16 /* initial size of the fd table */
#define LOOP_SIG_BATCH 64 /* signal bytes drained per read */

struct loop_fd {
	loop_fd_cb cb;
	void *ud;
	uint32_t gen; /* 0: not registered */
	int events;
	int pidx; /* index in the pollfd array, -1 while it is stale */
};

struct loop_timer {
	uint64_t id; /* 0: free slot */
	uint64_t deadline;
	uint64_t order; /* breaks deadline ties: first added fires first */
	uint64_t interval; /* 0: one-shot */
	loop_timer_cb cb;
	void *ud;
	uint32_t hidx; /* position in the heap */
	uint32_t next_free;
};

struct loop_sig {
	loop_signal_cb cb;
	void *ud;
};

struct loop {
	struct loop_fd *fds;
	int fdcap;
	int nfds;
	uint32_t gen;

	struct pollfd *pfd;
	uint32_t *pgen; /* generation each pollfd entry was built for */
	size_t npfd, pfdcap;
	int dirty;

	struct loop_timer *slots;
	uint32_t nslots, free_head;
	uint32_t *heap;
	uint32_t nheap;
	uint64_t order;
	uint32_t seq;

	struct loop_sig sigs[NSIG];
	int sig_rfd;

	void (*before_poll)(loop_t *l, void *ud);
	void *before_ud;
	uint64_t now;
	int stop;
};

#define SLOT_NONE UINT32_MAX

/* Process-wide signal state: written by loop_on_signal, read by handler. */
static volatile sig_atomic_t sig_wfd = -1;
static loop_t *sig_owner;
static unsigned char sig_installed[NSIG];

/* ---- fds ---- */

int loop_add_fd(loop_t *l, int fd, int events, loop_fd_cb cb, void *ud)
{
	struct loop_fd *e;

	if (fd < 0 || !cb) {
		errno = EBADF;
		return -1;
	}
	if (fd >= l->fdcap) {
		int cap = l->fdcap ? l->fdcap : LOOP_FD_MIN;
		while (cap <= fd)
			cap = cap > INT_MAX / 2 ? INT_MAX : cap * 2;
		l->fds = xrealloc(l->fds, (size_t)cap * sizeof *l->fds);
		memset(l->fds + l->fdcap, 0, (size_t)(cap - l->fdcap) * sizeof *l->fds);
		l->fdcap = cap;
	}
	e = &l->fds[fd];
	if (e->gen) {
		errno = EEXIST;
		return -1;
	}
	if (++l->gen == 0) /* 0 means "free"; skip it on wraparound */
		l->gen = 1;
	e->gen = l->gen;
	e->cb = cb;
	e->ud = ud;
	e->events = events & (LOOP_READ | LOOP_WRITE);
	e->pidx = -1;
	l->nfds++;
	l->dirty = 1;
	return 0;
}

static short poll_events(int events)
{
	short ev = 0;

	/* POLLRDHUP reports a peer's shutdown even before its data is read;
	 * asked for only with READ so a paused reader is not woken forever. */
	if (events & LOOP_READ)
		ev |= POLLIN | POLLRDHUP;
	if (events & LOOP_WRITE)
		ev |= POLLOUT;
	return ev;
}

void loop_set_events(loop_t *l, int fd, int events)
{
	struct loop_fd *e;

	if (fd < 0 || fd >= l->fdcap || !l->fds[fd].gen)
		return;
	e = &l->fds[fd];
	e->events = events & (LOOP_READ | LOOP_WRITE);
	/* Editing in place keeps output toggling (WRITE on/off) cheap. */
	if (!l->dirty && e->pidx >= 0)
		l->pfd[e->pidx].events = poll_events(e->events);
}

void loop_del_fd(loop_t *l, int fd)
{
	if (fd < 0 || fd >= l->fdcap || !l->fds[fd].gen)
		return;
	memset(&l->fds[fd], 0, sizeof l->fds[fd]);
	l->nfds--;
	l->dirty = 1;
}

int loop_fd_count(const loop_t *l)
{
	return l->nfds;
}

static void rebuild_pollfds(loop_t *l)
{
	size_t n = 0;
	int fd;

	if ((size_t)l->nfds > l->pfdcap) {
		l->pfdcap = (size_t)l->nfds * 2;
		l->pfd = xrealloc(l->pfd, l->pfdcap * sizeof *l->pfd);
		l->pgen = xrealloc(l->pgen, l->pfdcap * sizeof *l->pgen);
	}
	for (fd = 0; fd < l->fdcap; fd++) {
		struct loop_fd *e = &l->fds[fd];
		if (!e->gen)
			continue;
		l->pfd[n].fd = fd;
		l->pfd[n].events = poll_events(e->events);
		l->pfd[n].revents = 0;
		l->pgen[n] = e->gen;
		e->pidx = (int)n;
		n++;
	}
	l->npfd = n;
	l->dirty = 0;
}

static int translate(short rev)
{
	int r = 0;

	if (rev & POLLIN)
		r |= LOOP_READ;
	if (rev & POLLOUT)
		r |= LOOP_WRITE;
	if (rev & (POLLHUP | POLLRDHUP))
		r |= LOOP_HUP;
	if (rev & (POLLERR | POLLNVAL))
		r |= LOOP_ERR;
	return r;
}

static void dispatch_fds(loop_t *l)
{
	size_t i, n = l->npfd;

	/* The pollfd array is not touched by callbacks (they only mark it
	 * dirty), so iterating the snapshot is safe; the table entry is
	 * re-read each time because a callback may have grown or changed it. */
	for (i = 0; i < n && !l->stop; i++) {
		int fd = l->pfd[i].fd, rev;
		struct loop_fd *e;

		if (!l->pfd[i].revents)
			continue;
		if (fd >= l->fdcap || l->fds[fd].gen != l->pgen[i])
			continue; /* deleted, or reused by a new registration */
		e = &l->fds[fd];
		rev = translate(l->pfd[i].revents);
		/* An earlier callback may have dropped interest in this event. */
		rev &= e->events | LOOP_HUP | LOOP_ERR;
		if (rev)
			e->cb(l, fd, rev, e->ud);
	}
}

/* ---- timers ---- */

static int timer_before(const loop_t *l, uint32_t a, uint32_t b)
{
	const struct loop_timer *x = &l->slots[a], *y = &l->slots[b];

	if (x->deadline != y->deadline)
		return x->deadline < y->deadline;
	return x->order < y->order;
}

static void heap_set(loop_t *l, uint32_t i, uint32_t slot)
{
	l->heap[i] = slot;
	l->slots[slot].hidx = i;
}

static void sift_up(loop_t *l, uint32_t i)
{
	uint32_t slot = l->heap[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!timer_before(l, slot, l->heap[parent]))
			break;
		heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	heap_set(l, i, slot);
}

static void sift_down(loop_t *l, uint32_t i)
{
	uint32_t slot = l->heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && timer_before(l, l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l, l->heap[c], slot))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, slot);
}

static void heap_push(loop_t *l, uint32_t slot)
{
	/* The heap never holds more entries than there are slots, and it is
	 * sized together with the slab in timer_alloc. */
	l->heap[l->nheap] = slot;
	sift_up(l, l->nheap++);
}

static void heap_remove(loop_t *l, uint32_t i)
{
	uint32_t last = l->heap[--l->nheap];

	if (i == l->nheap)
		return;
	heap_set(l, i, last);
	if (i > 0 && timer_before(l, last, l->heap[(i - 1) / 2]))
		sift_up(l, i);
	else
		sift_down(l, i);
}

static uint32_t timer_alloc(loop_t *l)
{
	uint32_t s;

	if (l->free_head == SLOT_NONE) {
		uint32_t cap = l->nslots ? l->nslots * 2 : 8, i;
		if (cap < l->nslots || cap == SLOT_NONE) {
			static const char msg[] = "out of memory\n";
			ssize_t r = write(2, msg, sizeof msg - 1);
			(void)r;
			_exit(70);
		}
		l->slots = xrealloc(l->slots, cap * sizeof *l->slots);
		l->heap = xrealloc(l->heap, cap * sizeof *l->heap);
		for (i = l->nslots; i < cap; i++) {
			l->slots[i].id = 0;
			l->slots[i].next_free = i + 1 < cap ? i + 1 : SLOT_NONE;
		}
		l->free_head = l->nslots;
		l->nslots = cap;
	}
	s = l->free_head;
	l->free_head = l->slots[s].next_free;
	return s;
}

static void timer_release(loop_t *l, uint32_t s)
{
	l->slots[s].id = 0;
	l->slots[s].next_free = l->free_head;
	l->free_head = s;
}

static uint64_t deadline_after(uint64_t now, uint64_t ms)
{
	return ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
}

uint64_t loop_add_timer(loop_t *l, uint64_t ms, int repeat, loop_timer_cb cb, void *ud)
{
	uint32_t s = timer_alloc(l);
	struct loop_timer *t = &l->slots[s];

	/* The id carries the slot (low half) and a per-add sequence number
	 * (high half), so a stale id never matches a reused slot. */
	t->id = (uint64_t)++l->seq << 32 | (uint64_t)(s + 1);
	t->deadline = deadline_after(l->now, ms);
	t->order = l->order++;
	/* A zero interval would fire forever without ever polling. */
	t->interval = repeat ? (ms ? ms : 1) : 0;
	t->cb = cb;
	t->ud = ud;
	heap_push(l, s);
	return t->id;
}

void loop_cancel_timer(loop_t *l, uint64_t id)
{
	uint64_t s = (id & 0xffffffffu) - 1;

	if (id == 0 || s >= l->nslots || l->slots[s].id != id)
		return;
	heap_remove(l, l->slots[s].hidx);
	timer_release(l, (uint32_t)s);
}

static void run_timers(loop_t *l)
{
	/* Timers added by callbacks now wait for the next round, so a
	 * callback that keeps adding 0 ms timers cannot starve the fds. */
	uint64_t limit = l->order;

	while (l->nheap > 0 && !l->stop) {
		uint32_t s = l->heap[0];
		struct loop_timer *t = &l->slots[s];
		loop_timer_cb cb = t->cb;
		void *ud = t->ud;

		if (t->deadline > l->now || t->order >= limit)
			break;
		if (t->interval) {
			/* Keep the cadence, but after a stall skip the missed
			 * ticks rather than firing them in a burst. */
			t->deadline = deadline_after(t->deadline, t->interval);
			if (t->deadline <= l->now)
				t->deadline = deadline_after(l->now, t->interval);
			t->order = l->order++;
			sift_down(l, 0);
		} else {
			heap_remove(l, 0);
			timer_release(l, s);
		}
		cb(l, ud); /* may add or cancel timers, this one included */
	}
}

static int poll_timeout(const loop_t *l)
{
	uint64_t d;

	if (l->nheap == 0)
		return -1;
	d = l->slots[l->heap[0]].deadline;
	if (d <= l->now)
		return 0;
	d -= l->now;
	return d > INT_MAX ? INT_MAX : (int)d;
}

/* ---- signals ---- */

static void sig_handler(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;
	ssize_t r;

	/* A full pipe drops the byte; the loop is awake anyway then. */
	r = write(sig_wfd, &c, 1);
	(void)r;
	errno = saved;
}

static void sig_readable(loop_t *l, int fd, int revents, void *ud)
{
	unsigned char buf[LOOP_SIG_BATCH], pending[NSIG];
	ssize_t n, i;
	int sig;

	/* Repeats of a signal in one batch are coalesced, as the kernel does
	 * with pending signals anyway: callbacks must reap/handle all work. */
	memset(pending, 0, sizeof pending);
	do {
		n = read(fd, buf, sizeof buf);
		for (i = 0; i < n; i++)
			if (buf[i] < NSIG)
				pending[buf[i]] = 1;
	} while (n == (ssize_t)sizeof buf || (n < 0 && errno == EINTR));
	for (sig = 1; sig < NSIG; sig++)
		if (pending[sig] && l->sigs[sig].cb)
			l->sigs[sig].cb(l, sig, l->sigs[sig].ud);
}

static int sig_pipe_open(loop_t *l)
{
	int p[2];

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	if (loop_add_fd(l, p[0], LOOP_READ, sig_readable, NULL) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	l->sig_rfd = p[0];
	sig_wfd = p[1];
	sig_owner = l;
	return 0;
}

int loop_on_signal(loop_t *l, int sig, loop_signal_cb cb, void *ud)
{
	struct sigaction sa;

	if (sig <= 0 || sig >= NSIG || sig == SIGPIPE || !cb) {
		errno = EINVAL;
		return -1;
	}
	if (sig_owner && sig_owner != l) {
		errno = EBUSY;
		return -1;
	}
	if (!sig_owner && sig_pipe_open(l) < 0)
		return -1;
	l->sigs[sig].cb = cb;
	l->sigs[sig].ud = ud;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = sig_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0) {
		l->sigs[sig].cb = NULL;
		return -1;
	}
	sig_installed[sig] = 1;
	return 0;
}

void loop_reset_signals_for_child(void)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	/* Only async-signal-safe calls: this runs between fork and execve.
	 * Every disposition goes back to default, SIG_IGN included, because
	 * ignored signals survive execve and SIGPIPE must kill a child's
	 * broken pipelines. Errors (SIGKILL, libc-reserved) are harmless. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void sig_release(loop_t *l)
{
	struct sigaction sa;
	int sig, wfd;

	if (sig_owner != l)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++) {
		if (sig_installed[sig])
			sigaction(sig, &sa, NULL);
		sig_installed[sig] = 0;
	}
	/* Handlers are gone; forget the fd before closing it so the number,
	 * once reused, can never be written to by a late handler. */
	wfd = sig_wfd;
	sig_wfd = -1;
	close(wfd);
	loop_del_fd(l, l->sig_rfd);
	close(l->sig_rfd);
	l->sig_rfd = -1;
	sig_owner = NULL;
}

/* ---- the loop ---- */

loop_t *loop_new(void)
{
	loop_t *l = xcalloc(1, sizeof *l);
	struct sigaction sa;

	l->free_head = SLOT_NONE;
	l->sig_rfd = -1;
	l->now = util_mono_ms();
	/* A peer closing a socket must show up as EPIPE, not kill us. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	return l;
}

void loop_free(loop_t *l)
{
	if (!l)
		return;
	sig_release(l);
	free(l->fds);
	free(l->pfd);
	free(l->pgen);
	free(l->slots);
	free(l->heap);
	free(l);
}

void loop_set_before_poll(loop_t *l, void (*cb)(loop_t *l, void *ud), void *ud)
{
	l->before_poll = cb;
	l->before_ud = ud;
}

void loop_stop(loop_t *l)
{
	l->stop = 1;
}

uint64_t loop_now(const loop_t *l)
{
	return l->now;
}

int loop_run(loop_t *l)
{
	l->stop = 0;
	while (!l->stop) {
		int n;

		if (l->before_poll)
			l->before_poll(l, l->before_ud);
		if (l->stop)
			break;
		if (l->dirty)
			rebuild_pollfds(l);
		l->now = util_mono_ms();
		n = poll(l->pfd, (nfds_t)l->npfd, poll_timeout(l));
		l->now = util_mono_ms();
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_error("poll: %s", strerror(errno));
			return -1;
		}
		if (n > 0)
			dispatch_fds(l);
		run_timers(l);
	}
	return 0;
}
