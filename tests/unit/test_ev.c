/* Unit tests for lib/ev: io, timers, signals, deferred calls, lifetime. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"

static uint64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
make_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

/* io readiness. */

struct io_rec {
	struct ev_io	*io;
	int		 calls;
	unsigned	 last;
	int		 fd;
	char		 got[16];
	size_t		 ngot;
	bool		 read_it;
};

static void
rec_cb(int fd, unsigned events, void *arg)
{
	struct io_rec	*r = arg;
	ssize_t		 n;

	r->calls++;
	r->last = events;
	r->fd = fd;
	if (r->read_it && (events & EV_READ)) {
		n = read(fd, r->got + r->ngot, sizeof(r->got) - r->ngot);
		if (n > 0)
			r->ngot += (size_t)n;
	}
}

static void
test_io_read_pipe(void **state)
{
	struct ev	*ev = ev_new();
	struct io_rec	 r = { .read_it = true };
	int		 p[2];

	make_pipe(p);
	r.io = ev_io_add(ev, p[0], EV_READ, rec_cb, &r);
	assert_non_null(r.io);
	assert_int_equal(ev_io_events(r.io), EV_READ);
	assert_int_equal(ev_run_once(ev, 0), 0);
	assert_int_equal(r.calls, 0);
	assert_int_equal(write(p[1], "ab", 2), 2);
	assert_int_equal(ev_run_once(ev, 1000), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.last, EV_READ);
	assert_int_equal(r.fd, p[0]);
	assert_memory_equal(r.got, "ab", 2);
	/* Level-triggered: nothing left, no call. */
	assert_int_equal(ev_run_once(ev, 0), 0);
	assert_int_equal(r.calls, 1);
	/* Writer gone: EOF reported as read + error. */
	close(p[1]);
	assert_int_equal(ev_run_once(ev, 1000), 0);
	assert_int_equal(r.calls, 2);
	assert_true(r.last & EV_READ);
	assert_true(r.last & EV_ERROR);
	ev_io_del(&r.io);
	assert_null(r.io);
	close(p[0]);
	ev_free(&ev);
	assert_null(ev);
}

static void
test_io_write_ready(void **state)
{
	struct ev	*ev = ev_new();
	struct io_rec	 r = { 0 };
	int		 p[2];

	make_pipe(p);
	r.io = ev_io_add(ev, p[1], 0, rec_cb, &r);
	assert_int_equal(ev_run_once(ev, 0), 0);
	assert_int_equal(r.calls, 0);
	ev_io_set(r.io, EV_WRITE);
	assert_int_equal(ev_io_events(r.io), EV_WRITE);
	assert_int_equal(ev_run_once(ev, 1000), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.last, EV_WRITE);
	assert_int_equal(ev_run_once(ev, 0), 0);
	assert_int_equal(r.calls, 2);
	ev_io_set(r.io, 0);
	assert_int_equal(ev_run_once(ev, 0), 0);
	assert_int_equal(r.calls, 2);
	/* Reader gone: error reported even when idle. */
	close(p[0]);
	assert_int_equal(ev_run_once(ev, 0), 0);
	assert_int_equal(r.calls, 3);
	assert_int_equal(r.last, EV_ERROR);
	ev_io_del(&r.io);
	close(p[1]);
	ev_free(&ev);
}

static void
test_io_add_errors(void **state)
{
	struct ev	*ev = ev_new();
	struct io_rec	 r = { 0 };
	struct ev_io	*io, *io2;
	int		 p[2];

	make_pipe(p);
	io = ev_io_add(ev, p[0], EV_READ, rec_cb, &r);
	assert_non_null(io);
	errno = 0;
	io2 = ev_io_add(ev, p[0], EV_READ, rec_cb, &r);
	assert_null(io2);
	assert_int_equal(errno, EEXIST);
	assert_null(ev_io_add(ev, 1000000, EV_READ, rec_cb, &r));
	assert_int_equal(errno, EBADF);
	ev_io_del(&io);
	/* After del the fd can be registered again. */
	io = ev_io_add(ev, p[0], EV_READ, rec_cb, &r);
	assert_non_null(io);
	ev_io_del(&io);
	ev_io_del(&io);		/* NULL is fine */
	close(p[0]);
	close(p[1]);
	ev_free(&ev);
	ev_free(&ev);		/* NULL is fine */
}

/* Deleting handles from callbacks. */

struct pair {
	struct ev_io	*io[2];
	int		 fds[2][2];
	int		 calls[2];
};

static void
pair_cb(int fd, unsigned events, void *arg)
{
	struct pair	*pr = arg;
	int		 me = fd == pr->fds[0][0] ? 0 : 1;
	int		 other = 1 - me;

	pr->calls[me]++;
	/* Delete the other io and close its pipe: its event in this batch
	   must not be dispatched (ASan would see a use-after-free). */
	ev_io_del(&pr->io[other]);
	close(pr->fds[other][0]);
	close(pr->fds[other][1]);
	pr->fds[other][0] = pr->fds[other][1] = -1;
}

static void
test_io_del_other_same_round(void **state)
{
	struct ev	*ev = ev_new();
	struct pair	 pr = { 0 };

	for (int i = 0; i < 2; i++) {
		make_pipe(pr.fds[i]);
		assert_int_equal(write(pr.fds[i][1], "x", 1), 1);
		pr.io[i] = ev_io_add(ev, pr.fds[i][0], EV_READ, pair_cb, &pr);
	}
	/* Both are ready: one epoll batch holds both events. */
	assert_int_equal(ev_run_once(ev, 1000), 0);
	assert_int_equal(pr.calls[0] + pr.calls[1], 1);
	for (int i = 0; i < 2; i++) {
		ev_io_del(&pr.io[i]);
		if (pr.fds[i][0] != -1) {
			close(pr.fds[i][0]);
			close(pr.fds[i][1]);
		}
	}
	assert_int_equal(ev_run(ev), 0);
	ev_free(&ev);
}

struct selfdel {
	struct ev_io	*io;
	int		 calls;
};

static void
selfdel_cb(int fd, unsigned events, void *arg)
{
	struct selfdel	*s = arg;

	s->calls++;
	ev_io_del(&s->io);
	ev_io_del(&s->io);	/* second del of the NULLed pointer */
}

static void
test_io_del_self(void **state)
{
	struct ev	*ev = ev_new();
	struct selfdel	 s = { 0 };
	int		 p[2];

	make_pipe(p);
	assert_int_equal(write(p[1], "x", 1), 1);
	s.io = ev_io_add(ev, p[0], EV_READ, selfdel_cb, &s);
	/* ev_run returns once the only io deleted itself. */
	assert_int_equal(ev_run(ev), 0);
	assert_int_equal(s.calls, 1);
	assert_null(s.io);
	assert_int_equal(ev_run_once(ev, 0), 0);
	assert_int_equal(s.calls, 1);
	close(p[0]);
	close(p[1]);
	ev_free(&ev);
}

/* Timers. */

#define NTIMERS		500
#define TIMER_STEP	3	/* ms between deadline classes */

struct tslot {
	struct ev_timer	*t;
	int		 id;
	uint64_t	 ms;
	uint64_t	 arm;		/* global arming order */
	bool		 live;
	bool		 fired;
};

struct tstate {
	struct tslot	 slot[NTIMERS];
	int		 order[NTIMERS];
	int		 nfired;
};

static void
tslot_cb(void *arg)
{
	struct tslot	*s = arg;
	struct tstate	*st = (struct tstate *)(void *)(s - s->id);

	assert_false(s->fired);
	s->fired = true;
	st->order[st->nfired++] = s->id;
}

static int
tslot_cmp(const void *a, const void *b)
{
	const struct tslot	*x = *(const struct tslot *const *)a;
	const struct tslot	*y = *(const struct tslot *const *)b;

	if (x->ms != y->ms)
		return x->ms < y->ms ? -1 : 1;
	return x->arm < y->arm ? -1 : (x->arm > y->arm);
}

struct tsetup {
	struct ev	*ev;
	struct tstate	*st;
};

/*
 * Arm, delete, stop and re-arm at random — from inside the loop, where
 * the loop's clock stands still, so that deadlines follow (ms, arming
 * order) exactly however slow the machine is.
 */
static void
timers_setup(void *arg)
{
	struct tsetup	*su = arg;
	struct ev	*ev = su->ev;
	struct tstate	*st = su->st;
	uint64_t	 arm = 0;

	srandom(42);
	for (int i = 0; i < NTIMERS; i++) {
		struct tslot	*s = &st->slot[i];

		s->id = i;
		s->ms = TIMER_STEP * (uint64_t)(random() % 30);
		s->arm = arm++;
		s->live = true;
		s->t = ev_timer_add(ev, s->ms, tslot_cb, s);
		assert_true(ev_timer_pending(s->t));
	}
	/* Random deletes, stops and re-arms. */
	for (int i = 0; i < NTIMERS; i++) {
		struct tslot	*s = &st->slot[random() % NTIMERS];

		switch (random() % 4) {
		case 0:
			ev_timer_del(&s->t);
			s->live = false;
			break;
		case 1:
			if (s->t != NULL) {
				ev_timer_stop(s->t);
				assert_false(ev_timer_pending(s->t));
				s->live = false;
			}
			break;
		case 2:
			if (s->t != NULL) {
				s->ms = TIMER_STEP * (uint64_t)(random() % 30);
				s->arm = arm++;
				ev_timer_set(s->t, s->ms);
				s->live = true;
			}
			break;
		default:
			break;
		}
	}
}

static void
test_timers_random_order(void **state)
{
	struct ev	*ev = ev_new();
	struct tstate	*st = calloc(1, sizeof(*st));
	struct tslot	*ref[NTIMERS];
	struct tsetup	 su = { ev, st };
	struct ev_timer	*setup;
	int		 nref = 0;

	setup = ev_timer_add(ev, 0, timers_setup, &su);
	assert_int_equal(ev_run(ev), 0);
	ev_timer_del(&setup);
	for (int i = 0; i < NTIMERS; i++)
		if (st->slot[i].live)
			ref[nref++] = &st->slot[i];
	qsort(ref, (size_t)nref, sizeof(ref[0]), tslot_cmp);
	assert_int_equal(ev_run(ev), 0);
	assert_int_equal(st->nfired, nref);
	for (int i = 0; i < nref; i++)
		assert_int_equal(st->order[i], ref[i]->id);
	for (int i = 0; i < NTIMERS; i++) {
		if (st->slot[i].t != NULL)
			assert_false(ev_timer_pending(st->slot[i].t));
		ev_timer_del(&st->slot[i].t);
	}
	free(st);
	ev_free(&ev);
}

struct rearm {
	struct ev	*ev;
	struct ev_timer	*t;
	int		 calls;
	int		 max;
	uint64_t	 at[8];
};

static void
rearm_cb(void *arg)
{
	struct rearm	*r = arg;

	r->at[r->calls++] = ev_now(r->ev);
	assert_false(ev_timer_pending(r->t));
	if (r->calls < r->max)
		ev_timer_set(r->t, 0);	/* must not fire in this round */
}

static void
test_timer_rearm_stop(void **state)
{
	struct ev	*ev = ev_new();
	struct rearm	 r = { .ev = ev, .max = 3 };
	uint64_t	 t0 = mono_ms();

	r.t = ev_timer_add(ev, 10, rearm_cb, &r);
	ev_timer_stop(r.t);
	assert_false(ev_timer_pending(r.t));
	/* A stopped timer keeps nothing alive. */
	assert_int_equal(ev_run(ev), 0);
	assert_int_equal(r.calls, 0);
	ev_timer_set(r.t, 30);
	ev_timer_set(r.t, 20);		/* re-arm replaces */
	assert_true(ev_timer_pending(r.t));
	assert_int_equal(ev_run_once(ev, 1000), 0);
	assert_int_equal(r.calls, 1);	/* the 0 ms re-arm waits a round */
	assert_true(mono_ms() - t0 >= 20);
	assert_int_equal(ev_run(ev), 0);
	assert_int_equal(r.calls, 3);
	assert_true(r.at[0] - t0 >= 20);
	ev_timer_del(&r.t);
	assert_null(r.t);
	ev_timer_del(&r.t);
	ev_free(&ev);
}

struct tdel {
	struct ev_timer	*a, *b;
	int		 acalls, bcalls;
};

static void
tdel_a(void *arg)
{
	struct tdel	*d = arg;

	d->acalls++;
	ev_timer_del(&d->b);	/* expired too, must not run */
	ev_timer_del(&d->a);	/* itself */
}

static void
tdel_b(void *arg)
{
	struct tdel	*d = arg;

	d->bcalls++;
}

static void
test_timer_del_from_callback(void **state)
{
	struct ev	*ev = ev_new();
	struct tdel	 d = { 0 };

	d.a = ev_timer_add(ev, 0, tdel_a, &d);
	d.b = ev_timer_add(ev, 0, tdel_b, &d);
	assert_int_equal(ev_run(ev), 0);
	assert_int_equal(d.acalls, 1);
	assert_int_equal(d.bcalls, 0);
	assert_null(d.a);
	assert_null(d.b);
	ev_free(&ev);
}

static void
test_timer_huge(void **state)
{
	struct ev	*ev = ev_new();
	struct tdel	 d = { 0 };

	/* Saturates instead of wrapping into the past. */
	d.b = ev_timer_add(ev, UINT64_MAX, tdel_b, &d);
	assert_int_equal(ev_run_once(ev, 0), 0);
	assert_int_equal(d.bcalls, 0);
	ev_timer_del(&d.b);
	ev_free(&ev);
}

/* Signals. */

struct sigrec {
	struct ev_signal	*s;
	int			 got[3];
	int			 n;
	bool			 del_self;
};

static void
sig_cb(int signo, void *arg)
{
	struct sigrec	*r = arg;

	if (r->n < 3)
		r->got[r->n++] = signo;
	if (r->del_self)
		ev_signal_del(&r->s);
}

static bool
sig_blocked(int signo)
{
	sigset_t	 cur;

	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, signo) == 1;
}

static void
test_signal_raise(void **state)
{
	struct ev	*ev = ev_new();
	struct sigrec	 r1 = { 0 }, r2 = { 0 };

	r1.s = ev_signal_add(ev, SIGUSR1, sig_cb, &r1);
	r2.s = ev_signal_add(ev, SIGUSR2, sig_cb, &r2);
	assert_non_null(r1.s);
	assert_non_null(r2.s);
	assert_true(sig_blocked(SIGUSR1));
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(ev_run_once(ev, 1000), 0);
	assert_int_equal(r1.n, 1);
	assert_int_equal(r1.got[0], SIGUSR1);
	assert_int_equal(r2.n, 0);
	/* Both pending at once: both dispatched in one round. */
	raise(SIGUSR2);
	raise(SIGUSR1);
	assert_int_equal(ev_run_once(ev, 1000), 0);
	assert_int_equal(r1.n, 2);
	assert_int_equal(r2.n, 1);
	assert_int_equal(r2.got[0], SIGUSR2);
	ev_signal_del(&r1.s);
	assert_null(r1.s);
	assert_false(sig_blocked(SIGUSR1));
	assert_true(sig_blocked(SIGUSR2));
	/* Deleting itself from its callback. */
	r2.del_self = true;
	raise(SIGUSR2);
	assert_int_equal(ev_run(ev), 0);	/* nothing left after it */
	assert_int_equal(r2.n, 2);
	assert_null(r2.s);
	assert_false(sig_blocked(SIGUSR2));
	ev_free(&ev);
}

static void
test_signal_invalid(void **state)
{
	struct ev	*ev = ev_new();
	struct sigrec	 r = { 0 };

	assert_null(ev_signal_add(ev, SIGKILL, sig_cb, &r));
	assert_int_equal(errno, EINVAL);
	assert_null(ev_signal_add(ev, 1000, sig_cb, &r));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ev_run(ev), 0);
	ev_free(&ev);
}

/* Deferred calls. */

struct dstate {
	struct ev	*ev;
	char		 log[32];
	size_t		 n;
};

struct dcall {
	struct dstate	*st;
	char		 tag;
	char		 chain;		/* defer this tag when run */
};

static void
dcall_fn(void *arg)
{
	struct dcall	*d = arg;
	struct dstate	*st = d->st;
	static struct dcall	chained[4];
	static int	nchained;

	st->log[st->n++] = d->tag;
	if (d->chain != 0) {
		struct dcall	*c = &chained[nchained++ % 4];

		c->st = st;
		c->tag = d->chain;
		c->chain = 0;
		ev_defer(st->ev, dcall_fn, c);
	}
}

struct dio {
	struct dstate	*st;
	struct ev_io	*io;
	struct dcall	 call;
};

static void
dio_cb(int fd, unsigned events, void *arg)
{
	struct dio	*d = arg;

	d->st->log[d->st->n++] = 'I';
	ev_defer(d->st->ev, dcall_fn, &d->call);
	ev_io_del(&d->io);
}

static void
test_defer_order(void **state)
{
	struct ev	*ev = ev_new();
	struct dstate	 st = { .ev = ev };
	struct dcall	 a = { &st, 'a', 'd' }, b = { &st, 'b', 0 },
			 c = { &st, 'c', 'e' };
	struct dio	 dio = { &st, NULL, { &st, 'x', 0 } };
	int		 p[2];

	ev_defer(ev, dcall_fn, &a);
	ev_defer(ev, dcall_fn, &b);
	ev_defer(ev, dcall_fn, &c);
	/* One round drains everything, chained calls included, in order. */
	assert_int_equal(ev_run_once(ev, -1), 0);
	assert_string_equal(st.log, "abcde");
	/* Deferred from an io callback: after the callbacks of the round. */
	make_pipe(p);
	assert_int_equal(write(p[1], "x", 1), 1);
	dio.io = ev_io_add(ev, p[0], EV_READ, dio_cb, &dio);
	assert_int_equal(ev_run(ev), 0);
	assert_string_equal(st.log, "abcdeIx");
	close(p[0]);
	close(p[1]);
	ev_free(&ev);
}

/* ev_run termination and ev_break. */

static void
test_run_nothing_left(void **state)
{
	struct ev	*ev = ev_new();
	struct dstate	 st = { .ev = ev };
	struct dcall	 a = { &st, 'a', 0 };
	struct tdel	 d = { 0 };

	assert_int_equal(ev_run(ev), 0);	/* empty: returns at once */
	ev_defer(ev, dcall_fn, &a);
	assert_int_equal(ev_run(ev), 0);	/* deferred drained first */
	assert_string_equal(st.log, "a");
	d.b = ev_timer_add(ev, 5, tdel_b, &d);
	assert_int_equal(ev_run(ev), 0);	/* returns after the timer */
	assert_int_equal(d.bcalls, 1);
	ev_timer_del(&d.b);
	ev_free(&ev);
}

struct brk {
	struct ev	*ev;
	int		 calls;
};

static void
brk_cb(int fd, unsigned events, void *arg)
{
	struct brk	*b = arg;

	if (++b->calls == 3)
		ev_break(b->ev);
}

static void
test_break(void **state)
{
	struct ev	*ev = ev_new();
	struct brk	 b = { ev, 0 };
	struct ev_io	*io;
	int		 p[2];

	make_pipe(p);
	io = ev_io_add(ev, p[1], EV_WRITE, brk_cb, &b);
	assert_int_equal(ev_run(ev), 0);
	assert_int_equal(b.calls, 3);
	/* The break was consumed: run again until the next one. */
	assert_int_equal(ev_run_once(ev, 0), 0);
	assert_int_equal(b.calls, 4);
	ev_io_del(&io);
	close(p[0]);
	close(p[1]);
	ev_free(&ev);
}

/* EINTR from epoll_wait is not an error. */

static volatile sig_atomic_t alarmed;

static void
on_alarm(int sig)
{
	alarmed = 1;
}

static void
test_eintr(void **state)
{
	struct ev		*ev = ev_new();
	struct sigaction	 sa, old;
	struct itimerval	 it = { { 0, 0 }, { 0, 20000 } };
	struct io_rec		 r = { 0 };
	struct ev_io		*io;
	int			 p[2];

	make_pipe(p);
	io = ev_io_add(ev, p[0], EV_READ, rec_cb, &r);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &it, NULL);
	assert_int_equal(ev_run_once(ev, 2000), 0);
	assert_true(alarmed);
	assert_int_equal(r.calls, 0);
	sigaction(SIGALRM, &old, NULL);
	ev_io_del(&io);
	close(p[0]);
	close(p[1]);
	ev_free(&ev);
}

/* ev_free releases everything still registered (LeakSanitizer checks). */

static void
test_free_everything(void **state)
{
	struct ev	*ev = ev_new();
	struct dstate	 st = { .ev = ev };
	struct dcall	 a = { &st, 'a', 'b' };
	struct io_rec	 r = { 0 };
	struct sigrec	 sr = { 0 };
	struct tdel	 d = { 0 };
	int		 p[2];

	make_pipe(p);
	assert_non_null(ev_io_add(ev, p[0], EV_READ, rec_cb, &r));
	assert_non_null(ev_io_add(ev, p[1], 0, rec_cb, &r));
	assert_non_null(ev_timer_add(ev, 100000, tdel_b, &d));
	d.a = ev_timer_add(ev, 5, tdel_b, &d);
	ev_timer_stop(d.a);
	assert_non_null(ev_signal_add(ev, SIGUSR1, sig_cb, &sr));
	ev_defer(ev, dcall_fn, &a);
	ev_free(&ev);
	assert_string_equal(st.log, "ab");	/* deferred calls ran */
	assert_false(sig_blocked(SIGUSR1));
	close(p[0]);
	close(p[1]);
}

static void
test_now(void **state)
{
	struct ev	*ev = ev_new();
	uint64_t	 t0 = ev_now(ev);
	struct tdel	 d = { 0 };

	assert_true(t0 > 0);
	d.b = ev_timer_add(ev, 15, tdel_b, &d);
	assert_int_equal(ev_run(ev), 0);
	assert_true(ev_now(ev) >= t0 + 15);
	ev_timer_del(&d.b);
	ev_free(&ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_io_read_pipe),
		cmocka_unit_test(test_io_write_ready),
		cmocka_unit_test(test_io_add_errors),
		cmocka_unit_test(test_io_del_other_same_round),
		cmocka_unit_test(test_io_del_self),
		cmocka_unit_test(test_timers_random_order),
		cmocka_unit_test(test_timer_rearm_stop),
		cmocka_unit_test(test_timer_del_from_callback),
		cmocka_unit_test(test_timer_huge),
		cmocka_unit_test(test_signal_raise),
		cmocka_unit_test(test_signal_invalid),
		cmocka_unit_test(test_defer_order),
		cmocka_unit_test(test_run_nothing_left),
		cmocka_unit_test(test_break),
		cmocka_unit_test(test_eintr),
		cmocka_unit_test(test_free_everything),
		cmocka_unit_test(test_now),
	};

	log_init("test_ev", LOG_TO_STDERR, LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
