/*
 * io — a buffered connection on a lib/ev loop: line reading with a hard
 * maximum, an output queue with a low-water mark, read pause for
 * back-pressure, an idle timeout and TLS (STARTTLS or implicit).
 *
 * The shape is OpenSMTPD's ioev: the io owns a connected, non-blocking
 * stream socket and tells its owner what happened through one callback.
 * All reading, writing and callbacks happen from the event loop, never
 * from inside an io_* call: io_write() only queues (the bytes go out at
 * the end of the current callback, or from a 0 ms timer in the same
 * round), io_resume_read() and io_close_after_flush() likewise act later.
 * So a callback never runs re-entrantly, and the replies queued by one
 * callback leave in one send(2) (or one SSL_write per TLS record).
 *
 * SIGPIPE must be ignored (lib/service does): plaintext goes through
 * send(MSG_NOSIGNAL), but OpenSSL's socket BIO uses write(2).
 *
 * Lifetime: io_free() may be called anywhere, including inside the io's
 * own callback; after it no callback comes and the memory is released when
 * the callback returns.
 */
#ifndef WHARF_IO_H
#define WHARF_IO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct ev;
struct io;
struct tls_info;

/*
 * Events.  The "final" ones stop all I/O and no event follows them: the
 * owner frees the io.  Until then buffered input stays readable (e.g. for
 * the log line) while io_write() and io_starttls() fail.
 */
enum io_event {
	IO_DATAIN,		/* new input is buffered (see below) */
	IO_LOWAT,		/* queued output fell to the low-water mark */
	IO_DISCONNECTED,	/* final: EOF (or TLS close_notify) from peer */
	IO_ERROR,		/* final: I/O or TLS error, see io_error() */
	IO_TIMEOUT,		/* idle timeout; repeats if still idle */
	IO_TLSREADY,		/* handshake done, see io_tls_info() */
	IO_TLSERROR,		/* final: handshake failed, see io_error() */
	IO_CLOSED,		/* final: io_close_after_flush() finished */
};

typedef void io_fn(struct io *, enum io_event, void *arg);

/*
 * Takes ownership of fd (made non-blocking, closed by io_free).  in_max
 * is the hard maximum of buffered input (at least 3 bytes), out_max that of
 * queued output.  Reading starts at once.  NULL, with errno set and fd
 * closed, when epoll refuses the fd.
 */
struct io *io_new(struct ev *, int fd, size_t in_max, size_t out_max,
	    io_fn *, void *arg);
void	io_free(struct io **);		/* accepts NULL, sets NULL */
void	io_set_callback(struct io *, io_fn *, void *arg);
int	io_fd(const struct io *);
/*
 * The reason for the last final event, IO_TIMEOUT or failed io_starttls
 * ("Connection reset by peer", "TLS handshake: unsupported protocol");
 * "" when there was none.  Valid until the next event or io_free.
 */
const char *io_error(const struct io *);
const char *io_event_str(enum io_event);

/*
 * Input.
 *
 * IO_DATAIN comes when a read added bytes, and after io_resume_read()
 * when bytes are buffered.  An owner that leaves complete lines in the
 * buffer without pausing is not told again until more bytes arrive.
 * While input fills the buffer to in_max, reading stops until the owner
 * consumes some.
 *
 * io_getline() takes one line off the front of the buffer:
 *  IO_LINE_OK: *line_r is the line without its terminator (CRLF or bare
 *   LF), NUL-terminated in place (it may contain NUL bytes: use *len_r);
 *   *flags_r (may be NULL) says how it ended and what it holds.  The line
 *   is valid until the next io_getline(), io_consume() or io_starttls(),
 *   or the return to the loop.
 *  IO_LINE_MORE: no complete line yet.
 *  IO_LINE_TOOLONG: the line has more than line_max bytes before its
 *   terminator.  Returned once per long line, as soon as that is known;
 *   the io then drops input up to and including the next LF (still
 *   returning IO_LINE_MORE until it comes), and the next line is read
 *   normally.  The dropped bytes never show in io_data() either.
 * A CR just before the LF is part of the terminator; any other CR is
 * reported as IO_LINE_BARECR (RFC 5321 section 2.3.8).
 */
enum io_line {
	IO_LINE_OK,
	IO_LINE_MORE,
	IO_LINE_TOOLONG,
};

#define IO_LINE_CRLF	0x01	/* ended in CRLF (else a bare LF) */
#define IO_LINE_BARECR	0x02	/* a CR not followed by LF inside */
#define IO_LINE_NUL	0x04	/* a NUL byte inside */

enum io_line io_getline(struct io *, char **line_r, size_t *len_r,
	    int *flags_r);
/* Default in_max - 2 (room for a max line and its CRLF); -1 when n is 0
   or n + 2 > in_max. */
int	io_set_line_max(struct io *, size_t n);

/* Raw access (BDAT chunks, IMAP literals).  io_data() is valid as long
   as a line from io_getline() is. */
const uint8_t *io_data(const struct io *);
size_t	io_datalen(const struct io *);
void	io_consume(struct io *, size_t n);	/* n <= io_datalen() */

/* Stop / restart reading (not counted: one resume undoes any pauses). */
void	io_pause_read(struct io *);
void	io_resume_read(struct io *);
bool	io_read_paused(const struct io *);

/*
 * Output.  io_write() and io_printf() queue; -1 and nothing queued when
 * the queue would pass out_max (errno ENOBUFS) or the io is closing or
 * finished (errno EPIPE).
 */
int	io_write(struct io *, const void *, size_t);
int	io_printf(struct io *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	io_vprintf(struct io *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
size_t	io_queued(const struct io *);
/* IO_LOWAT fires when a write takes the queue from above n to <= n
   (default 0: when it empties). */
void	io_set_lowat(struct io *, size_t n);
/*
 * Stop reading; once everything queued is written (over TLS, after a
 * handshake in progress ends), send TLS close_notify, shut the socket
 * down for writing and deliver IO_CLOSED instead of IO_LOWAT.  Later
 * writes fail.  For "221 Bye" and "421".
 */
void	io_close_after_flush(struct io *);

/*
 * Idle timeout in ms (0: none, the default).  While the io waits for its
 * peer (reading, or output queued, or a handshake in progress) and nothing
 * is read or written for ms, IO_TIMEOUT comes, and again after each
 * further ms of idleness.  A paused io with nothing to write is not
 * waiting.  A TLS handshake must finish within one timeout however slowly
 * its bytes trickle.  Per-command deadlines are the owner's (ev timers).
 */
void	io_set_timeout(struct io *, uint64_t ms);

/*
 * TLS.  io_starttls() discards all buffered input at once: plaintext
 * pipelined after STARTTLS must never be read as if it came over TLS
 * (CVE-2011-0411; RFC 3207 section 4.2).  From then on nothing is read in
 * plaintext; output queued before the call is sent in plaintext first
 * (the "220 Ready to start TLS"), then the handshake starts (server or
 * client side), and output queued after the call waits for it.  It ends
 * with IO_TLSREADY or IO_TLSERROR (or IO_TIMEOUT).  For implicit TLS
 * (ports 465, 993) call it right after io_new().  -1 (io_error() says
 * why) when TLS was already started, the io is closing or finished, or
 * OpenSSL fails.
 *
 * io_ssl() gives the connection from io_starttls() on, so a client can
 * set SNI and the name to verify (SSL_set_tlsext_host_name,
 * SSL_set1_host) before returning to the loop: the handshake never
 * starts inside io_starttls().
 */
int	io_starttls(struct io *, SSL_CTX *, bool server);
SSL	*io_ssl(struct io *);
bool	io_is_tls(const struct io *);		/* handshake done */
/* Version, cipher and the peer's verification result; -1 when the
   handshake is not done. */
int	io_tls_info(const struct io *, struct tls_info *);

#endif
