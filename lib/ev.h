/*
 * ev — one level-triggered epoll event loop per process.
 *
 * fd readiness (ev_io), one-shot timers on a min-heap (ev_timer), signals
 * through signalfd (ev_signal; the signal is blocked while registered) and
 * deferred calls run after the current dispatch round (ev_defer), which is
 * how an object frees itself safely from inside its own callback.
 *
 * Handles are owned by the caller and freed with the *_del() functions,
 * which are safe to call from any callback, including the handle's own.
 * Time is CLOCK_MONOTONIC in milliseconds, cached per loop iteration.
 */
#ifndef WHARF_EV_H
#define WHARF_EV_H

#include <stdbool.h>
#include <stdint.h>

#define EV_READ		0x01
#define EV_WRITE	0x02
#define EV_ERROR	0x04	/* reported only: EPOLLERR / EPOLLHUP */

struct ev;
struct ev_io;
struct ev_timer;
struct ev_signal;

typedef void ev_io_fn(int fd, unsigned events, void *arg);
typedef void ev_timer_fn(void *arg);
typedef void ev_signal_fn(int signo, void *arg);
typedef void ev_defer_fn(void *arg);

struct ev *ev_new(void);
void	ev_free(struct ev **);		/* accepts NULL, sets NULL */

/* Run until ev_break() or until nothing (io, armed timer, signal) is left. */
int	ev_run(struct ev *);
/* Dispatch one round, waiting at most timeout_ms (-1: until something). */
int	ev_run_once(struct ev *, int timeout_ms);
void	ev_break(struct ev *);
uint64_t ev_now(struct ev *);		/* cached monotonic ms */
uint64_t ev_clock_ms(void);		/* monotonic ms, read now */

/* events: EV_READ|EV_WRITE (0 = registered but idle).  NULL, errno set,
   when epoll refuses the fd (EEXIST: already registered). */
struct ev_io *ev_io_add(struct ev *, int fd, unsigned events, ev_io_fn *,
	    void *arg);
void	ev_io_set(struct ev_io *, unsigned events);
unsigned ev_io_events(const struct ev_io *);
void	ev_io_del(struct ev_io **);	/* does not close fd */

/* One-shot; re-arm with ev_timer_set. */
struct ev_timer *ev_timer_add(struct ev *, uint64_t ms, ev_timer_fn *,
	    void *arg);
void	ev_timer_set(struct ev_timer *, uint64_t ms);	/* (re)arm */
void	ev_timer_stop(struct ev_timer *);		/* disarm, keep */
bool	ev_timer_pending(const struct ev_timer *);
void	ev_timer_del(struct ev_timer **);

/* NULL (errno EINVAL) for a signal that cannot be caught. */
struct ev_signal *ev_signal_add(struct ev *, int signo, ev_signal_fn *,
	    void *arg);
void	ev_signal_del(struct ev_signal **);	/* unblocks the signal */

void	ev_defer(struct ev *, ev_defer_fn *, void *arg);

#endif
