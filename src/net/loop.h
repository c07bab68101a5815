/* loop.h - the single-threaded poll() event loop: callbacks per fd,
 * one-shot and repeating timers, and signals delivered through a
 * self-pipe. Depends on base/. Nothing here blocks except poll(). */
#ifndef NET_LOOP_H
#define NET_LOOP_H
#include <stdint.h>

#define LOOP_READ 1
#define LOOP_WRITE 2
/* revents passed to callbacks may also carry: */
#define LOOP_HUP 4
#define LOOP_ERR 8
/* LOOP_HUP (hangup, or peer shutdown while READ is wanted) can arrive
 * together with LOOP_READ while unread data remains: read until EOF. */

typedef struct loop loop_t;
typedef void (*loop_fd_cb)(loop_t *l, int fd, int revents, void *ud);
typedef void (*loop_timer_cb)(loop_t *l, void *ud);
typedef void (*loop_signal_cb)(loop_t *l, int sig, void *ud);

loop_t *loop_new(void);
void loop_free(loop_t *l);
/* Registers fd (one registration per fd). events: LOOP_READ|LOOP_WRITE. */
int loop_add_fd(loop_t *l, int fd, int events, loop_fd_cb cb, void *ud);
void loop_set_events(loop_t *l, int fd, int events);
void loop_del_fd(loop_t *l, int fd); /* safe to call from inside a callback */
int loop_fd_count(const loop_t *l);
/* Timers: fire after ms (one-shot), or every ms when repeat is set.
 * Returns an id > 0; cancelling an id that already fired is harmless.
 * ms counts from loop_now(), the start of the current iteration. */
uint64_t loop_add_timer(loop_t *l, uint64_t ms, int repeat, loop_timer_cb cb, void *ud);
void loop_cancel_timer(loop_t *l, uint64_t id);
/* Installs a handler for sig (SIGCHLD, SIGTERM, SIGINT, ...). The callback
 * runs from the loop, never in signal context. SIGPIPE is always ignored. */
int loop_on_signal(loop_t *l, int sig, loop_signal_cb cb, void *ud);
/* For a freshly forked child, before execve: every signal back to its
 * default disposition (SIGPIPE included) and none blocked. Async-signal-safe. */
void loop_reset_signals_for_child(void);
/* Hook run before every poll() (flush work queued by callbacks). */
void loop_set_before_poll(loop_t *l, void (*cb)(loop_t *l, void *ud), void *ud);
void loop_stop(loop_t *l);
int loop_run(loop_t *l); /* 0 after loop_stop; -1 if poll() itself fails */
uint64_t loop_now(const loop_t *l); /* monotonic ms, updated every iteration */

#endif
