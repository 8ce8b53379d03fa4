/*
 * io — buffered connections on lib/ev (io.h).
 *
 * Every piece of work runs in one "step", entered from the fd's epoll
 * callback or from a 0 ms "kick" timer, with the io held so that the owner
 * may free it from any callback; the step ends by recomputing what to wait
 * for (io_update).  Writes are optimistic: queued output is tried at once
 * from the next step, and EV_WRITE is asked for only after EAGAIN (or
 * what OpenSSL says it waits for).  Reads wait for EV_READ, except that
 * TLS may hold decrypted bytes the socket no longer signals.
 *
 * States: PLAIN, then after io_starttls() TLS_PENDING (the plaintext
 * queued before the call still going out, nothing read), HANDSHAKE, TLS.
 *
 * An fd that reports EPOLLHUP/EPOLLERR is taken out of epoll whenever the
 * io wants nothing from it (paused, nothing to write): level-triggered
 * epoll would report the hangup forever.  It goes back when needed.
 */
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "ev.h"
#include "io.h"
#include "log.h"
#include "net.h"
#include "tls.h"
#include "xmalloc.h"

#define IO_CHUNK	16384	/* bytes per read: one TLS record */

/* io_read_* results besides a byte count. */
#define IO_RD_AGAIN	0
#define IO_RD_EOF	(-1)
#define IO_RD_ERR	(-2)

enum io_state {
	IO_STATE_PLAIN,
	IO_STATE_TLS_PENDING,
	IO_STATE_HANDSHAKE,
	IO_STATE_TLS,
};

struct io {
	struct ev	*ev;
	int		 fd;
	struct ev_io	*evio;		/* NULL while out of epoll */
	struct ev_timer	*idle;
	struct ev_timer	*kick;		/* work that needs no fd event */
	io_fn		*fn;
	void		*arg;
	enum io_state	 state;
	struct buf	 in;
	size_t		 in_hold;	/* the last line, dropped on next use */
	size_t		 line_max;
	struct buf	 out;
	size_t		 lowat;
	size_t		 plain_left;	/* TLS_PENDING: plaintext to send */
	SSL		*ssl;
	unsigned	 rwait;		/* what a read waits for */
	unsigned	 wwait;		/* what a write waits for; 0: try */
	unsigned	 hwait;		/* what a handshake step waits for */
	uint64_t	 timeout;
	uint64_t	 last;		/* ms of the last progress */
	char		*error;
	int		 busy;
	bool		 waiting;	/* some fd event is wanted */
	bool		 dead;		/* io_free()d while busy */
	bool		 finished;	/* a final event was delivered */
	bool		 paused;
	bool		 skipping;	/* dropping the rest of a long line */
	bool		 closing;
	bool		 hup;		/* epoll reported HUP or ERR */
	bool		 datain_due;	/* resumed: tell about buffered input */
	bool		 ssl_bad;	/* fatal TLS error: no SSL_shutdown */
	bool		 ssl_shut;
};

static void	io_update(struct io *);

/* Small predicates. */

static bool
io_live(const struct io *io)
{
	return !io->dead && !io->finished;
}

static bool
io_data_state(const struct io *io)
{
	return io->state == IO_STATE_PLAIN || io->state == IO_STATE_TLS;
}

static bool
io_has_out(const struct io *io)
{
	if (io->state == IO_STATE_TLS_PENDING)
		return io->plain_left > 0;
	return io->state != IO_STATE_HANDSHAKE && io->out.len > 0;
}

/* The held line is freed space too. */
static bool
io_can_read(const struct io *io)
{
	return io_live(io) && io_data_state(io) && !io->paused &&
	    !io->closing && buf_avail(&io->in) + io->in_hold > 0;
}

static bool
io_tls_buffered(const struct io *io)
{
	return io->state == IO_STATE_TLS && SSL_pending(io->ssl) > 0;
}

static bool
io_datain_due(const struct io *io)
{
	return io->datain_due && io_data_state(io) && !io->paused &&
	    !io->closing && io->in.len > io->in_hold;
}

static bool
io_close_due(const struct io *io)
{
	return io->closing && io_data_state(io) && !io_has_out(io);
}

static uint64_t
io_idle_left(const struct io *io)
{
	uint64_t	 now = ev_now(io->ev), idle;

	idle = now > io->last ? now - io->last : 0;
	return idle >= io->timeout ? 0 : io->timeout - idle;
}

/* Errors and events. */

static void
io_set_error_own(struct io *io, char *why)
{
	free(io->error);
	io->error = why;
}

static void
io_set_error(struct io *io, const char *why)
{
	io_set_error_own(io, xstrdup(why));
}

static void
io_emit(struct io *io, enum io_event e)
{
	io->fn(io, e, io->arg);
}

/* A final event: no more I/O, no more events. */
static void
io_finish(struct io *io, enum io_event e, const char *why)
{
	io->finished = true;
	if (why != NULL)
		io_set_error(io, why);
	ev_io_del(&io->evio);
	ev_timer_stop(io->idle);
	ev_timer_stop(io->kick);
	io_emit(io, e);
}

static void
io_ssl_shutdown(struct io *io)
{
	if (io->state != IO_STATE_TLS || io->ssl_bad || io->ssl_shut)
		return;
	io->ssl_shut = true;
	ERR_clear_error();
	(void)SSL_shutdown(io->ssl);	/* best effort: close_notify */
	ERR_clear_error();
}

/* Lifetime. */

static void
io_destroy(struct io *io)
{
	io_ssl_shutdown(io);
	SSL_free(io->ssl);
	ev_io_del(&io->evio);
	ev_timer_del(&io->idle);
	ev_timer_del(&io->kick);
	close(io->fd);
	/* Input may hold AUTH exchanges. */
	buf_wipe(&io->in);
	buf_clear(&io->out);
	free(io->error);
	free(io);
}

static void
io_hold(struct io *io)
{
	io->busy++;
}

static void
io_release(struct io *io)
{
	if (--io->busy > 0)
		return;
	if (io->dead)
		io_destroy(io);
	else
		io_update(io);
}

/* After an owner's call: inside a step, the step's end updates. */
static void
io_changed(struct io *io)
{
	if (io->busy == 0)
		io_update(io);
}

void
io_free(struct io **iop)
{
	struct io	*io = *iop;

	if (io == NULL)
		return;
	*iop = NULL;
	if (io->dead)
		return;
	io->dead = true;
	if (io->busy == 0)
		io_destroy(io);
}

/* Input buffer housekeeping. */

static void
io_settle(struct io *io)
{
	if (io->in_hold == 0)
		return;
	buf_consume(&io->in, io->in_hold);
	io->in_hold = 0;
}

/* Drop input through the LF that ends a line found too long. */
static void
io_skip(struct io *io)
{
	const uint8_t	*p, *lf;

	if (!io->skipping || io->in.len == 0)
		return;
	p = BUF_DATA(&io->in);
	if ((lf = memchr(p, '\n', io->in.len)) == NULL) {
		buf_reset(&io->in);
		return;
	}
	buf_consume(&io->in, (size_t)(lf - p) + 1);
	io->skipping = false;
}

static void
io_discard_input(struct io *io)
{
	io->in_hold = 0;
	buf_reset(&io->in);
	io->skipping = false;
	io->datain_due = false;
}

/* Reading. */

static ssize_t
io_read_plain(struct io *io, uint8_t *p, size_t len)
{
	ssize_t	 n;

	do {
		n = read(io->fd, p, len);
	} while (n == -1 && errno == EINTR);
	if (n > 0)
		return n;
	if (n == 0)
		return IO_RD_EOF;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return IO_RD_AGAIN;
	io_set_error(io, strerror(errno));
	return IO_RD_ERR;
}

/* A failed TLS operation: the reason from OpenSSL, errno or EOF. */
static void
io_tls_failed(struct io *io, int err, int saved_errno, const char *what)
{
	io->ssl_bad = true;
	if (err == SSL_ERROR_SSL || ERR_peek_error() != 0) {
		io_set_error_own(io, tls_error_str(what));
		return;
	}
	if (err == SSL_ERROR_SYSCALL && saved_errno != 0)
		io_set_error_own(io, xasprintf("%s: %s", what,
		    strerror(saved_errno)));
	else
		io_set_error_own(io, xasprintf("%s: connection closed by peer",
		    what));
}

static ssize_t
io_read_tls(struct io *io, uint8_t *p, size_t len)
{
	int	 n, err, saved;

	ERR_clear_error();
	errno = 0;
	n = SSL_read(io->ssl, p, (int)len);
	saved = errno;
	io->rwait = EV_READ;
	if (n > 0)
		return n;
	switch ((err = SSL_get_error(io->ssl, n))) {
	case SSL_ERROR_WANT_READ:
		return IO_RD_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		io->rwait = EV_WRITE;
		return IO_RD_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return IO_RD_EOF;
	default:
		io_tls_failed(io, err, saved, "TLS read");
		return IO_RD_ERR;
	}
}

/* Read what is there (TLS: until its buffer is empty or ours full). */
static ssize_t
io_read_some(struct io *io, size_t *got_r)
{
	uint8_t	 tmp[IO_CHUNK];
	size_t	 room;
	ssize_t	 n;

	*got_r = 0;
	do {
		room = buf_avail(&io->in);
		if (room > sizeof(tmp))
			room = sizeof(tmp);
		if (io->state == IO_STATE_TLS)
			n = io_read_tls(io, tmp, room);
		else
			n = io_read_plain(io, tmp, room);
		if (n <= 0)
			return n;
		if (buf_add(&io->in, tmp, (size_t)n) == -1)
			fatalx("io: read past the input buffer");
		*got_r += (size_t)n;
	} while (io_tls_buffered(io) && buf_avail(&io->in) > 0);
	return IO_RD_AGAIN;
}

static void
io_do_read(struct io *io)
{
	size_t	 got;
	ssize_t	 rc;

	io_settle(io);
	rc = io_read_some(io, &got);
	if (got > 0) {
		io->last = ev_now(io->ev);
		io_skip(io);
		if (io->in.len > 0) {
			io->datain_due = false;
			io_emit(io, IO_DATAIN);
		}
	}
	if (!io_live(io))
		return;
	if (rc == IO_RD_EOF)
		io_finish(io, IO_DISCONNECTED, "connection closed by peer");
	else if (rc == IO_RD_ERR)
		io_finish(io, IO_ERROR, NULL);
}

/* Writing. */

static ssize_t
io_write_plain(struct io *io)
{
	size_t	 len = io->out.len;
	ssize_t	 n;

	if (io->state == IO_STATE_TLS_PENDING)
		len = io->plain_left;
	do {
		n = send(io->fd, BUF_DATA(&io->out), len, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		n = 0;
	if (n == -1) {
		io_set_error(io, strerror(errno));
		return -1;
	}
	buf_consume(&io->out, (size_t)n);
	if ((size_t)n < len)
		io->wwait = EV_WRITE;
	return n;
}

/*
 * Partial writes are on, so each SSL_write returns after a record; after
 * WANT_* it is retried with the same bytes at the front of the queue (a
 * length at least as long, maybe moved: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
 */
static ssize_t
io_write_tls(struct io *io)
{
	ssize_t	 total = 0;
	size_t	 len;
	int	 n, err, saved;

	while (io->out.len > 0) {
		len = io->out.len > INT_MAX ? INT_MAX : io->out.len;
		ERR_clear_error();
		errno = 0;
		n = SSL_write(io->ssl, BUF_DATA(&io->out), (int)len);
		saved = errno;
		if (n > 0) {
			buf_consume(&io->out, (size_t)n);
			total += n;
			continue;
		}
		err = SSL_get_error(io->ssl, n);
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
			io->wwait = err == SSL_ERROR_WANT_READ ? EV_READ :
			    EV_WRITE;
			return total;
		}
		io_tls_failed(io, err, saved, "TLS write");
		return -1;
	}
	return total;
}

/* The plaintext before STARTTLS is out: nothing read since counts. */
static void
io_tls_begin(struct io *io)
{
	io_discard_input(io);
	io->state = IO_STATE_HANDSHAKE;
	io->hwait = 0;
	io->last = ev_now(io->ev);
}

static void
io_do_write(struct io *io)
{
	size_t	 before = io->out.len;
	ssize_t	 n;

	io->wwait = 0;
	if (io->state == IO_STATE_TLS)
		n = io_write_tls(io);
	else
		n = io_write_plain(io);
	if (n == -1) {
		io_finish(io, IO_ERROR, NULL);
		return;
	}
	if (n > 0)
		io->last = ev_now(io->ev);
	if (io->state == IO_STATE_TLS_PENDING &&
	    (io->plain_left -= (size_t)n) == 0)
		io_tls_begin(io);
	if (!io->closing && before > io->lowat && io->out.len <= io->lowat)
		io_emit(io, IO_LOWAT);
}

static bool
io_want_write(const struct io *io, unsigned events)
{
	return io_live(io) && io_has_out(io) &&
	    (io->wwait == 0 || (events & io->wwait));
}

/* TLS handshake and close. */

/* "certificate verify failed": say why, when we were verifying. */
static void
io_verify_detail(struct io *io)
{
	long	 vr = SSL_get_verify_result(io->ssl);

	if (vr == X509_V_OK || !(SSL_get_verify_mode(io->ssl) &
	    SSL_VERIFY_PEER))
		return;
	io_set_error_own(io, xasprintf("%s (%s)", io->error,
	    X509_verify_cert_error_string(vr)));
}

static void
io_handshake(struct io *io)
{
	int	 n, err, saved;

	ERR_clear_error();
	errno = 0;
	n = SSL_do_handshake(io->ssl);
	saved = errno;
	if (n == 1) {
		io->state = IO_STATE_TLS;
		io->rwait = EV_READ;
		io->wwait = 0;
		io->last = ev_now(io->ev);
		io_emit(io, IO_TLSREADY);
		return;
	}
	err = SSL_get_error(io->ssl, n);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		io->hwait = err == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE;
		return;
	}
	io_tls_failed(io, err, saved, "TLS handshake");
	io_verify_detail(io);
	io_finish(io, IO_TLSERROR, NULL);
}

static void
io_do_close(struct io *io)
{
	io_ssl_shutdown(io);
	(void)shutdown(io->fd, SHUT_WR);
	io_finish(io, IO_CLOSED, "closed");
}

/* One step: what events (or the kick, events 0) allow, in order. */
static void
io_step(struct io *io, unsigned events)
{
	if (io_want_write(io, events))
		io_do_write(io);
	if (io_live(io) && io->state == IO_STATE_HANDSHAKE &&
	    (io->hwait == 0 || (events & io->hwait)))
		io_handshake(io);
	/* Input buffered while paused goes before new input (or EOF). */
	if (io_live(io) && io_datain_due(io)) {
		io->datain_due = false;
		io_emit(io, IO_DATAIN);
	}
	if (io_can_read(io) && ((events & io->rwait) || io_tls_buffered(io)))
		io_do_read(io);
	/* What the callbacks queued, in the same round. */
	if (io_live(io) && io_has_out(io) && io->wwait == 0)
		io_do_write(io);
	if (io_live(io) && io_close_due(io))
		io_do_close(io);
}

static void
io_ev_cb(int fd, unsigned events, void *arg)
{
	struct io	*io = arg;

	/* Let whatever is waiting find the error or EOF. */
	if (events & EV_ERROR) {
		io->hup = true;
		events |= EV_READ | EV_WRITE;
	}
	io_hold(io);
	io_step(io, events);
	io_release(io);
}

static void
io_kick_cb(void *arg)
{
	struct io	*io = arg;

	io_hold(io);
	io_step(io, 0);
	io_release(io);
}

static void
io_idle_cb(void *arg)
{
	struct io	*io = arg;
	uint64_t	 left = io_idle_left(io);

	if (left > 0) {
		ev_timer_set(io->idle, left);
		return;
	}
	io_hold(io);
	io->last = ev_now(io->ev);
	io_set_error(io, "idle timeout");
	io_emit(io, IO_TIMEOUT);
	io_release(io);
}

/* What to wait for. */

static unsigned
io_interest(const struct io *io)
{
	unsigned	 events = 0;

	if (io->state == IO_STATE_HANDSHAKE)
		return io->hwait;
	if (io_can_read(io))
		events |= io->rwait;
	if (io_has_out(io))
		events |= io->wwait;
	return events;
}

static bool
io_kick_due(const struct io *io)
{
	if (io->state == IO_STATE_HANDSHAKE)
		return io->hwait == 0;
	return (io_has_out(io) && io->wwait == 0) || io_datain_due(io) ||
	    io_close_due(io) || (io_can_read(io) && io_tls_buffered(io));
}

static void
io_poll(struct io *io, unsigned events)
{
	if (io->evio == NULL) {
		if (events == 0)
			return;
		io->evio = ev_io_add(io->ev, io->fd, events, io_ev_cb, io);
		if (io->evio == NULL)
			fatal("io: epoll fd %d", io->fd);
		return;
	}
	if (events == 0 && io->hup)
		ev_io_del(&io->evio);
	else
		ev_io_set(io->evio, events);
}

static void
io_idle_update(struct io *io, bool waiting)
{
	if (waiting && !io->waiting)
		io->last = ev_now(io->ev);
	io->waiting = waiting;
	if (!waiting || io->timeout == 0) {
		ev_timer_stop(io->idle);
		return;
	}
	if (!ev_timer_pending(io->idle))
		ev_timer_set(io->idle, io_idle_left(io));
}

static void
io_update(struct io *io)
{
	unsigned	 events;
	bool		 kick;

	if (!io_live(io))
		return;
	events = io_interest(io);
	kick = io_kick_due(io);
	io_poll(io, events);
	io_idle_update(io, events != 0 || kick);
	if (kick && !ev_timer_pending(io->kick))
		ev_timer_set(io->kick, 0);
}

/* The connection. */

struct io *
io_new(struct ev *ev, int fd, size_t in_max, size_t out_max, io_fn *fn,
    void *arg)
{
	struct io	*io;
	int		 saved;

	if (in_max < 3 || out_max == 0 || fn == NULL)
		fatalx("io_new: bad arguments");
	io = xcalloc(1, sizeof(*io));
	if (net_set_nonblock(fd) == -1 ||
	    (io->evio = ev_io_add(ev, fd, 0, io_ev_cb, io)) == NULL) {
		saved = errno;
		close(fd);
		free(io);
		errno = saved;
		return NULL;
	}
	io->ev = ev;
	io->fd = fd;
	io->fn = fn;
	io->arg = arg;
	io->idle = ev_timer_add(ev, 0, io_idle_cb, io);
	ev_timer_stop(io->idle);
	io->kick = ev_timer_add(ev, 0, io_kick_cb, io);
	ev_timer_stop(io->kick);
	buf_init(&io->in, in_max);
	buf_init(&io->out, out_max);
	io->line_max = in_max - 2;
	io->rwait = EV_READ;
	io_update(io);
	return io;
}

void
io_set_callback(struct io *io, io_fn *fn, void *arg)
{
	io->fn = fn;
	io->arg = arg;
}

int
io_fd(const struct io *io)
{
	return io->fd;
}

const char *
io_error(const struct io *io)
{
	return io->error != NULL ? io->error : "";
}

const char *
io_event_str(enum io_event e)
{
	static const char *const names[] = {
		[IO_DATAIN] = "IO_DATAIN",
		[IO_LOWAT] = "IO_LOWAT",
		[IO_DISCONNECTED] = "IO_DISCONNECTED",
		[IO_ERROR] = "IO_ERROR",
		[IO_TIMEOUT] = "IO_TIMEOUT",
		[IO_TLSREADY] = "IO_TLSREADY",
		[IO_TLSERROR] = "IO_TLSERROR",
		[IO_CLOSED] = "IO_CLOSED",
	};

	if ((unsigned)e >= sizeof(names) / sizeof(names[0]))
		return "IO_?";
	return names[e];
}

/* Input. */

/* The shortest the line can be, given no LF yet: a final CR may be
   the start of its CRLF. */
static enum io_line
io_line_pending(struct io *io)
{
	const uint8_t	*p = BUF_DATA(&io->in);
	size_t		 least = io->in.len;

	if (p[least - 1] == '\r')
		least--;
	if (least <= io->line_max)
		return IO_LINE_MORE;
	buf_reset(&io->in);
	io->skipping = true;
	return IO_LINE_TOOLONG;
}

static int
io_line_flags(const uint8_t *p, size_t len, bool crlf)
{
	int	 flags = crlf ? IO_LINE_CRLF : 0;

	if (len > 0 && memchr(p, '\r', len) != NULL)
		flags |= IO_LINE_BARECR;
	if (len > 0 && memchr(p, '\0', len) != NULL)
		flags |= IO_LINE_NUL;
	return flags;
}

/* The line stays in the buffer (held) so that *line_r stays valid. */
static enum io_line
io_getline_1(struct io *io, char **line_r, size_t *len_r, int *flags_r)
{
	uint8_t		*p, *lf;
	size_t		 n, len;
	bool		 crlf;

	io_settle(io);
	io_skip(io);
	if (io->skipping || io->in.len == 0)
		return IO_LINE_MORE;
	p = BUF_DATA(&io->in);
	if ((lf = memchr(p, '\n', io->in.len)) == NULL)
		return io_line_pending(io);
	n = (size_t)(lf - p);
	crlf = n > 0 && p[n - 1] == '\r';
	len = crlf ? n - 1 : n;
	if (len > io->line_max) {
		buf_consume(&io->in, n + 1);
		return IO_LINE_TOOLONG;
	}
	if (flags_r != NULL)
		*flags_r = io_line_flags(p, len, crlf);
	p[len] = '\0';
	io->in_hold = n + 1;
	*line_r = (char *)p;
	*len_r = len;
	return IO_LINE_OK;
}

/* Room was made: reading may start again. */
enum io_line
io_getline(struct io *io, char **line_r, size_t *len_r, int *flags_r)
{
	enum io_line	 r;

	r = io_getline_1(io, line_r, len_r, flags_r);
	io_changed(io);
	return r;
}

int
io_set_line_max(struct io *io, size_t n)
{
	if (n == 0 || n > io->in.max - 2)
		return -1;
	io->line_max = n;
	return 0;
}

const uint8_t *
io_data(const struct io *io)
{
	if (io->in.base == NULL)
		return (const uint8_t *)"";
	return BUF_DATA(&io->in) + io->in_hold;
}

size_t
io_datalen(const struct io *io)
{
	return io->in.len - io->in_hold;
}

void
io_consume(struct io *io, size_t n)
{
	io_settle(io);
	if (n > io->in.len)
		fatalx("io_consume: %zu bytes, %zu buffered", n, io->in.len);
	buf_consume(&io->in, n);
	io_changed(io);
}

void
io_pause_read(struct io *io)
{
	io->paused = true;
	io_changed(io);
}

void
io_resume_read(struct io *io)
{
	if (!io->paused)
		return;
	io->paused = false;
	io->datain_due = true;
	io_changed(io);
}

bool
io_read_paused(const struct io *io)
{
	return io->paused;
}

/* Output. */

static int
io_can_queue(const struct io *io)
{
	if (io_live(io) && !io->closing)
		return 0;
	errno = EPIPE;
	return -1;
}

int
io_write(struct io *io, const void *data, size_t len)
{
	if (io_can_queue(io) == -1)
		return -1;
	if (buf_add(&io->out, data, len) == -1) {
		errno = ENOBUFS;
		return -1;
	}
	io_changed(io);
	return 0;
}

int
io_vprintf(struct io *io, const char *fmt, va_list ap)
{
	if (io_can_queue(io) == -1)
		return -1;
	if (buf_vprintf(&io->out, fmt, ap) == -1) {
		errno = ENOBUFS;
		return -1;
	}
	io_changed(io);
	return 0;
}

int
io_printf(struct io *io, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = io_vprintf(io, fmt, ap);
	va_end(ap);
	return rc;
}

size_t
io_queued(const struct io *io)
{
	return io->out.len;
}

void
io_set_lowat(struct io *io, size_t n)
{
	io->lowat = n;
}

void
io_close_after_flush(struct io *io)
{
	if (!io_live(io) || io->closing)
		return;
	io->closing = true;
	io_changed(io);
}

void
io_set_timeout(struct io *io, uint64_t ms)
{
	io->timeout = ms;
	io->last = ev_now(io->ev);
	ev_timer_stop(io->idle);
	io_changed(io);
}

/* TLS. */

static int
io_tls_setup(struct io *io, SSL_CTX *ctx, bool server)
{
	ERR_clear_error();
	if ((io->ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(io->ssl, io->fd) != 1) {
		io_set_error_own(io, tls_error_str("TLS setup"));
		SSL_free(io->ssl);
		io->ssl = NULL;
		return -1;
	}
	SSL_set_mode(io->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* Mail peers often just close: that is EOF, not an attack. */
	SSL_set_options(io->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (server)
		SSL_set_accept_state(io->ssl);
	else
		SSL_set_connect_state(io->ssl);
	return 0;
}

int
io_starttls(struct io *io, SSL_CTX *ctx, bool server)
{
	if (!io_live(io) || io->closing) {
		io_set_error(io, "connection closing");
		return -1;
	}
	if (io->ssl != NULL) {
		io_set_error(io, "TLS already started");
		return -1;
	}
	if (io_tls_setup(io, ctx, server) == -1)
		return -1;
	/* CVE-2011-0411: what came before the handshake is not TLS. */
	io_discard_input(io);
	io->plain_left = io->out.len;
	if (io->plain_left > 0)
		io->state = IO_STATE_TLS_PENDING;
	else
		io_tls_begin(io);
	io_changed(io);
	return 0;
}

SSL *
io_ssl(struct io *io)
{
	return io->ssl;
}

bool
io_is_tls(const struct io *io)
{
	return io->state == IO_STATE_TLS;
}

int
io_tls_info(const struct io *io, struct tls_info *info)
{
	if (io->state != IO_STATE_TLS)
		return -1;
	tls_info_get(io->ssl, info);
	return 0;
}
