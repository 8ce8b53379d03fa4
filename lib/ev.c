/*
 * ev — one level-triggered epoll event loop per process (ev.h).
 *
 * A round is: epoll_wait, the io callbacks of that batch, the expired
 * timers, then (in the outermost round only) the deferred calls and the
 * freeing of handles deleted during the round.  Deleted io and signal
 * handles stay allocated, marked dead, until the round ends, because the
 * epoll batch or the signal list may still point at them; timers leave the
 * heap before their callback runs, so they are freed at once.
 *
 * Timers are ordered by (deadline, arming sequence): equal deadlines fire
 * in the order they were armed, and a timer re-armed from a timer callback
 * never fires again in the same round (no busy loop on a 0 ms timer).
 */
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"
#include "xmalloc.h"

#define EV_BATCH	64
#define TIMER_IDLE	SIZE_MAX	/* idx of a timer not in the heap */

struct ev_io {
	struct ev		*ev;
	int			 fd;
	unsigned		 events;
	ev_io_fn		*fn;
	void			*arg;
	bool			 dead;
	bool			 internal;	/* not counted by ev_run */
	TAILQ_ENTRY(ev_io)	 entry;		/* ev->ios or ev->dead_ios */
};

struct ev_timer {
	struct ev		*ev;
	uint64_t		 deadline;
	uint64_t		 seq;
	size_t			 idx;		/* in ev->heap or TIMER_IDLE */
	ev_timer_fn		*fn;
	void			*arg;
	TAILQ_ENTRY(ev_timer)	 entry;
};

struct ev_signal {
	struct ev		*ev;
	int			 signo;
	ev_signal_fn		*fn;
	void			*arg;
	bool			 dead;
	TAILQ_ENTRY(ev_signal)	 entry;
};

struct ev_deferred {
	ev_defer_fn			*fn;
	void				*arg;
	STAILQ_ENTRY(ev_deferred)	 entry;
};

struct ev {
	int				 epfd;
	uint64_t			 now;
	bool				 brk;
	int				 depth;	/* nested ev_run_once calls */
	size_t				 nio;
	TAILQ_HEAD(, ev_io)		 ios;
	TAILQ_HEAD(, ev_io)		 dead_ios;
	TAILQ_HEAD(, ev_timer)		 timers;
	struct ev_timer			**heap;
	size_t				 nheap;
	size_t				 heapcap;
	uint64_t			 seq;
	TAILQ_HEAD(, ev_signal)		 sigs;
	size_t				 nsig;
	size_t				 ndeadsig;
	int				 sigfd;
	sigset_t			 sigmask;
	STAILQ_HEAD(, ev_deferred)	 defers;
};

uint64_t
ev_clock_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct ev *
ev_new(void)
{
	struct ev	*ev = xcalloc(1, sizeof(*ev));

	if ((ev->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	ev->sigfd = -1;
	sigemptyset(&ev->sigmask);
	TAILQ_INIT(&ev->ios);
	TAILQ_INIT(&ev->dead_ios);
	TAILQ_INIT(&ev->timers);
	TAILQ_INIT(&ev->sigs);
	STAILQ_INIT(&ev->defers);
	ev->now = ev_clock_ms();
	return ev;
}

uint64_t
ev_now(struct ev *ev)
{
	return ev->now;
}

void
ev_break(struct ev *ev)
{
	ev->brk = true;
}

/* Deferred calls. */

void
ev_defer(struct ev *ev, ev_defer_fn *fn, void *arg)
{
	struct ev_deferred	*d = xmalloc(sizeof(*d));

	d->fn = fn;
	d->arg = arg;
	STAILQ_INSERT_TAIL(&ev->defers, d, entry);
}

/* Calls deferred while draining run in the same drain, in order. */
static void
defer_drain(struct ev *ev)
{
	struct ev_deferred	*d;

	while ((d = STAILQ_FIRST(&ev->defers)) != NULL) {
		STAILQ_REMOVE_HEAD(&ev->defers, entry);
		d->fn(d->arg);
		free(d);
	}
}

/* io. */

static struct ev_io *
io_new(struct ev *ev, int fd, unsigned events, ev_io_fn *fn, void *arg)
{
	struct ev_io		*io;
	struct epoll_event	 ee;

	memset(&ee, 0, sizeof(ee));
	ee.events = (events & EV_READ ? EPOLLIN : 0) |
	    (events & EV_WRITE ? EPOLLOUT : 0);
	io = xcalloc(1, sizeof(*io));
	ee.data.ptr = io;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &ee) == -1) {
		free(io);
		return NULL;
	}
	io->ev = ev;
	io->fd = fd;
	io->events = events & (EV_READ | EV_WRITE);
	io->fn = fn;
	io->arg = arg;
	TAILQ_INSERT_TAIL(&ev->ios, io, entry);
	return io;
}

/* NULL with errno set when epoll refuses the fd (EEXIST, EPERM...). */
struct ev_io *
ev_io_add(struct ev *ev, int fd, unsigned events, ev_io_fn *fn, void *arg)
{
	struct ev_io	*io;

	if ((io = io_new(ev, fd, events, fn, arg)) != NULL)
		ev->nio++;
	return io;
}

void
ev_io_set(struct ev_io *io, unsigned events)
{
	struct epoll_event	 ee;

	events &= EV_READ | EV_WRITE;
	if (io->dead || io->events == events)
		return;
	memset(&ee, 0, sizeof(ee));
	ee.events = (events & EV_READ ? EPOLLIN : 0) |
	    (events & EV_WRITE ? EPOLLOUT : 0);
	ee.data.ptr = io;
	if (epoll_ctl(io->ev->epfd, EPOLL_CTL_MOD, io->fd, &ee) == -1)
		fatal("epoll_ctl MOD fd %d", io->fd);
	io->events = events;
}

unsigned
ev_io_events(const struct ev_io *io)
{
	return io->events;
}

void
ev_io_del(struct ev_io **iop)
{
	struct ev_io	*io = *iop;
	struct ev	*ev;

	if (io == NULL)
		return;
	*iop = NULL;
	ev = io->ev;
	/* Fails harmlessly (EBADF) if the owner closed the fd first. */
	(void)epoll_ctl(ev->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	TAILQ_REMOVE(&ev->ios, io, entry);
	if (!io->internal)
		ev->nio--;
	if (ev->depth == 0) {
		free(io);
		return;
	}
	io->dead = true;
	TAILQ_INSERT_TAIL(&ev->dead_ios, io, entry);
}

static void
io_dispatch(struct epoll_event *ee)
{
	struct ev_io	*io = ee->data.ptr;
	unsigned	 r = 0;

	if (io->dead)
		return;
	if (ee->events & EPOLLIN)
		r |= EV_READ;
	if (ee->events & EPOLLOUT)
		r |= EV_WRITE;
	r &= io->events;
	/* Error or hangup: let a reader see its EOF or error. */
	if (ee->events & (EPOLLERR | EPOLLHUP))
		r |= EV_ERROR | (io->events & EV_READ);
	if (r != 0)
		io->fn(io->fd, r, io->arg);
}

/* Timers: a binary min-heap on (deadline, seq). */

static bool
timer_before(const struct ev_timer *a, const struct ev_timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void
heap_place(struct ev *ev, struct ev_timer *t, size_t i)
{
	ev->heap[i] = t;
	t->idx = i;
}

static void
heap_up(struct ev *ev, size_t i)
{
	struct ev_timer	*t = ev->heap[i];
	size_t		 parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!timer_before(t, ev->heap[parent]))
			break;
		heap_place(ev, ev->heap[parent], i);
		i = parent;
	}
	heap_place(ev, t, i);
}

static void
heap_down(struct ev *ev, size_t i)
{
	struct ev_timer	*t = ev->heap[i];
	size_t		 child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= ev->nheap)
			break;
		if (child + 1 < ev->nheap &&
		    timer_before(ev->heap[child + 1], ev->heap[child]))
			child++;
		if (!timer_before(ev->heap[child], t))
			break;
		heap_place(ev, ev->heap[child], i);
		i = child;
	}
	heap_place(ev, t, i);
}

static void
heap_push(struct ev *ev, struct ev_timer *t)
{
	if (ev->nheap == ev->heapcap) {
		ev->heapcap = ev->heapcap == 0 ? 16 : ev->heapcap * 2;
		ev->heap = xreallocarray(ev->heap, ev->heapcap,
		    sizeof(*ev->heap));
	}
	heap_place(ev, t, ev->nheap++);
	heap_up(ev, t->idx);
}

static void
heap_remove(struct ev *ev, struct ev_timer *t)
{
	size_t		 i = t->idx;
	struct ev_timer	*last = ev->heap[--ev->nheap];

	t->idx = TIMER_IDLE;
	if (last == t)
		return;
	heap_place(ev, last, i);
	if (i > 0 && timer_before(last, ev->heap[(i - 1) / 2]))
		heap_up(ev, i);
	else
		heap_down(ev, i);
}

struct ev_timer *
ev_timer_add(struct ev *ev, uint64_t ms, ev_timer_fn *fn, void *arg)
{
	struct ev_timer	*t = xcalloc(1, sizeof(*t));

	t->ev = ev;
	t->fn = fn;
	t->arg = arg;
	t->idx = TIMER_IDLE;
	TAILQ_INSERT_TAIL(&ev->timers, t, entry);
	ev_timer_set(t, ms);
	return t;
}

/* Outside a round the cached time may be stale: refresh it first. */
void
ev_timer_set(struct ev_timer *t, uint64_t ms)
{
	struct ev	*ev = t->ev;

	if (t->idx != TIMER_IDLE)
		heap_remove(ev, t);
	if (ev->depth == 0)
		ev->now = ev_clock_ms();
	t->deadline = ms > UINT64_MAX - ev->now ? UINT64_MAX : ev->now + ms;
	t->seq = ev->seq++;
	heap_push(ev, t);
}

void
ev_timer_stop(struct ev_timer *t)
{
	if (t->idx != TIMER_IDLE)
		heap_remove(t->ev, t);
}

bool
ev_timer_pending(const struct ev_timer *t)
{
	return t->idx != TIMER_IDLE;
}

void
ev_timer_del(struct ev_timer **tp)
{
	struct ev_timer	*t = *tp;

	if (t == NULL)
		return;
	*tp = NULL;
	ev_timer_stop(t);
	TAILQ_REMOVE(&t->ev->timers, t, entry);
	free(t);
}

/* Fire what expired before this round; not what was armed during it. */
static void
timers_dispatch(struct ev *ev)
{
	uint64_t	 limit = ev->seq;
	struct ev_timer	*t;

	while (ev->nheap > 0) {
		t = ev->heap[0];
		if (t->deadline > ev->now || t->seq >= limit)
			break;
		heap_remove(ev, t);
		t->fn(t->arg);
	}
}

/* Milliseconds epoll_wait may sleep. */
static int
wait_ms(struct ev *ev, int timeout_ms)
{
	uint64_t	 d;

	if (ev->depth == 1 && !STAILQ_EMPTY(&ev->defers))
		return 0;
	if (ev->nheap == 0)
		return timeout_ms;
	d = ev->heap[0]->deadline;
	d = d <= ev->now ? 0 : d - ev->now;
	if (d > INT_MAX)
		d = INT_MAX;
	if (timeout_ms < 0 || d < (uint64_t)timeout_ms)
		return (int)d;
	return timeout_ms;
}

/* Signals: one signalfd per loop, the union of the registered signals. */

static void
sig_dispatch(struct ev *ev, int signo)
{
	struct ev_signal	*s;

	TAILQ_FOREACH(s, &ev->sigs, entry) {
		if (!s->dead && s->signo == signo)
			s->fn(signo, s->arg);
	}
}

static void
sig_read(int fd, unsigned events, void *arg)
{
	struct ev			*ev = arg;
	struct signalfd_siginfo		 si;
	ssize_t				 n;

	for (;;) {
		n = read(fd, &si, sizeof(si));
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			break;
		sig_dispatch(ev, (int)si.ssi_signo);
	}
	if (n == -1 && errno != EAGAIN)
		log_warn("ev: signalfd read");
}

static bool
sig_live(struct ev *ev, int signo)
{
	struct ev_signal	*s;

	TAILQ_FOREACH(s, &ev->sigs, entry) {
		if (!s->dead && s->signo == signo)
			return true;
	}
	return false;
}

static void
sig_update_fd(struct ev *ev)
{
	struct ev_io	*io;
	int		 flags = SFD_NONBLOCK | SFD_CLOEXEC;

	if (ev->sigfd != -1) {
		if (signalfd(ev->sigfd, &ev->sigmask, flags) == -1)
			fatal("signalfd");
		return;
	}
	if ((ev->sigfd = signalfd(-1, &ev->sigmask, flags)) == -1)
		fatal("signalfd");
	if ((io = io_new(ev, ev->sigfd, EV_READ, sig_read, ev)) == NULL)
		fatal("ev: epoll_ctl signalfd");
	io->internal = true;
}

/* NULL with errno EINVAL for a signal that cannot be caught. */
struct ev_signal *
ev_signal_add(struct ev *ev, int signo, ev_signal_fn *fn, void *arg)
{
	struct ev_signal	*s;
	sigset_t		 one;

	sigemptyset(&one);
	if (signo == SIGKILL || signo == SIGSTOP ||
	    sigaddset(&one, signo) == -1) {
		errno = EINVAL;
		return NULL;
	}
	if (sigprocmask(SIG_BLOCK, &one, NULL) == -1)
		fatal("sigprocmask");
	sigaddset(&ev->sigmask, signo);
	sig_update_fd(ev);
	s = xcalloc(1, sizeof(*s));
	s->ev = ev;
	s->signo = signo;
	s->fn = fn;
	s->arg = arg;
	TAILQ_INSERT_TAIL(&ev->sigs, s, entry);
	ev->nsig++;
	return s;
}

static void
sig_unblock(struct ev *ev, int signo)
{
	sigset_t	 one;

	sigdelset(&ev->sigmask, signo);
	sig_update_fd(ev);
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigprocmask(SIG_UNBLOCK, &one, NULL) == -1)
		fatal("sigprocmask");
}

void
ev_signal_del(struct ev_signal **sp)
{
	struct ev_signal	*s = *sp;
	struct ev		*ev;

	if (s == NULL)
		return;
	*sp = NULL;
	ev = s->ev;
	s->dead = true;
	ev->nsig--;
	if (!sig_live(ev, s->signo))
		sig_unblock(ev, s->signo);
	if (ev->depth == 0) {
		TAILQ_REMOVE(&ev->sigs, s, entry);
		free(s);
		return;
	}
	ev->ndeadsig++;
}

/* Free the handles deleted during the round. */
static void
gc(struct ev *ev)
{
	struct ev_io		*io;
	struct ev_signal	*s, *next;

	while ((io = TAILQ_FIRST(&ev->dead_ios)) != NULL) {
		TAILQ_REMOVE(&ev->dead_ios, io, entry);
		free(io);
	}
	if (ev->ndeadsig == 0)
		return;
	for (s = TAILQ_FIRST(&ev->sigs); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->dead) {
			TAILQ_REMOVE(&ev->sigs, s, entry);
			free(s);
		}
	}
	ev->ndeadsig = 0;
}

/* The loop. */

int
ev_run_once(struct ev *ev, int timeout_ms)
{
	struct epoll_event	 evs[EV_BATCH];
	int			 n, rc = 0, saved = 0;

	ev->depth++;
	ev->now = ev_clock_ms();
	n = epoll_wait(ev->epfd, evs, EV_BATCH, wait_ms(ev, timeout_ms));
	if (n == -1) {
		if (errno != EINTR) {
			saved = errno;
			rc = -1;
		}
		n = 0;
	}
	ev->now = ev_clock_ms();
	for (int i = 0; i < n; i++)
		io_dispatch(&evs[i]);
	timers_dispatch(ev);
	if (ev->depth == 1) {
		defer_drain(ev);
		gc(ev);
	}
	ev->depth--;
	if (rc == -1)
		errno = saved;
	return rc;
}

static bool
ev_alive(const struct ev *ev)
{
	return ev->nio > 0 || ev->nheap > 0 || ev->nsig > 0;
}

int
ev_run(struct ev *ev)
{
	for (;;) {
		if (ev->brk) {
			ev->brk = false;
			return 0;
		}
		if (!ev_alive(ev) && STAILQ_EMPTY(&ev->defers))
			return 0;
		if (ev_run_once(ev, -1) == -1) {
			log_warn("ev: epoll_wait");
			return -1;
		}
	}
}

/* Pending deferred calls run first: they may be what frees an object. */
void
ev_free(struct ev **evp)
{
	struct ev		*ev = *evp;
	struct ev_io		*io;
	struct ev_timer		*t;
	struct ev_signal	*s;

	if (ev == NULL)
		return;
	*evp = NULL;
	defer_drain(ev);
	gc(ev);
	while ((s = TAILQ_FIRST(&ev->sigs)) != NULL)
		ev_signal_del(&s);
	while ((io = TAILQ_FIRST(&ev->ios)) != NULL)
		ev_io_del(&io);
	while ((t = TAILQ_FIRST(&ev->timers)) != NULL)
		ev_timer_del(&t);
	if (ev->sigfd != -1)
		close(ev->sigfd);
	close(ev->epfd);
	free(ev->heap);
	free(ev);
}
