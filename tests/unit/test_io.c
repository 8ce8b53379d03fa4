/*
 * Unit tests for lib/io: lines and raw input fed whole and byte by byte,
 * pause/resume, the output queue with a slow reader, close after flush,
 * EOF, errors, the idle timeout and freeing from callbacks.  TLS is in
 * test_tls.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "ev.h"
#include "io.h"
#include "log.h"
#include "xmalloc.h"

#define NEV	(IO_CLOSED + 1)

/* Helpers. */

static uint64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
make_socketpair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
}

/* A connected TCP pair on loopback: sv[0] accepted, sv[1] connected. */
static void
make_tcp_pair(int sv[2])
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 l;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	assert_true((sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) >= 0);
	assert_int_equal(connect(sv[1], (struct sockaddr *)&sin,
	    sizeof(sin)), 0);
	assert_true((sv[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC)) >= 0);
	close(l);
}

static void
set_nonblock(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK),
	    0);
}

static void
set_bufsizes(int fd, int snd, int rcv)
{
	if (snd > 0)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd,
		    sizeof(snd)), 0);
	if (rcv > 0)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv,
		    sizeof(rcv)), 0);
}

static void
write_all(int fd, const void *data, size_t len)
{
	assert_int_equal(write(fd, data, len), (ssize_t)len);
}

/* Run rounds that do not block: socketpair bytes are visible at once. */
static void
pump(struct ev *ev, int rounds)
{
	for (int i = 0; i < rounds; i++)
		assert_int_equal(ev_run_once(ev, 0), 0);
}

#define RUN_UNTIL(ev, cond, max_ms) do {				\
	uint64_t _end = mono_ms() + (max_ms);				\
	while (!(cond) && mono_ms() < _end)				\
		assert_int_equal(ev_run_once((ev), 10), 0);		\
} while (0)

static uint8_t
pattern(size_t i)
{
	return (uint8_t)(i % 251);
}

/* A recording owner. */

struct ep;
typedef void ep_hook(struct ep *, enum io_event);

struct ep {
	struct ev	*ev;
	struct io	*io;
	int		 n[NEV];
	int		 total;
	enum io_event	 order[64];
	char		 err[256];
	struct buf	 log;		/* "line{flags}|!|R:raw|..." */
	struct buf	 raw;
	size_t		 raw_want;	/* a BDAT chunk being read */
	bool		 getlines;
	int		 nlines;
	int		 pause_after;	/* pause after this many lines */
	bool		 free_on[NEV];
	ep_hook		*hook;
	struct ep	*other;
	size_t		 produced;	/* the LOWAT producer */
	size_t		 produce_total;
	size_t		 produce_chunk;
};

static void
ep_log(struct ep *p, const char *prefix, const char *s, size_t len,
    const char *suffix)
{
	if (p->log.len > 0)
		assert_int_equal(buf_add_u8(&p->log, '|'), 0);
	assert_int_equal(buf_add_str(&p->log, prefix), 0);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r')
			assert_int_equal(buf_add_str(&p->log, "\\r"), 0);
		else if (s[i] == '\n')
			assert_int_equal(buf_add_str(&p->log, "\\n"), 0);
		else if (s[i] == '\0')
			assert_int_equal(buf_add_str(&p->log, "\\0"), 0);
		else
			assert_int_equal(buf_add_u8(&p->log, (uint8_t)s[i]), 0);
	}
	assert_int_equal(buf_add_str(&p->log, suffix), 0);
}

static void
ep_line(struct ep *p, const char *line, size_t len, int flags)
{
	char	 suffix[8];

	snprintf(suffix, sizeof(suffix), "{%s%s%s}",
	    flags & IO_LINE_CRLF ? "C" : "", flags & IO_LINE_BARECR ? "R" : "",
	    flags & IO_LINE_NUL ? "N" : "");
	/* The line is NUL-terminated in place. */
	assert_int_equal(line[len], '\0');
	ep_log(p, "", line, len, suffix);
	p->nlines++;
	if (strncmp(line, "BDAT ", 5) == 0)
		p->raw_want = strtoul(line + 5, NULL, 10);
	if (p->pause_after > 0 && p->nlines == p->pause_after)
		io_pause_read(p->io);
}

/* A BDAT-like chunk: raw bytes until raw_want is met. */
static bool
ep_raw(struct ep *p)
{
	size_t	 n = io_datalen(p->io);

	if (n == 0)
		return false;
	if (n > p->raw_want)
		n = p->raw_want;
	assert_int_equal(buf_add(&p->raw, io_data(p->io), n), 0);
	io_consume(p->io, n);
	if ((p->raw_want -= n) == 0) {
		ep_log(p, "R:", (const char *)BUF_DATA(&p->raw), p->raw.len,
		    "");
		buf_reset(&p->raw);
	}
	return true;
}

static void
ep_read(struct ep *p)
{
	char		*line;
	size_t		 len;
	int		 flags;
	enum io_line	 r;

	while (p->io != NULL && !io_read_paused(p->io)) {
		if (p->raw_want > 0) {
			if (!ep_raw(p))
				return;
			continue;
		}
		flags = -1;
		r = io_getline(p->io, &line, &len, &flags);
		if (r == IO_LINE_MORE)
			return;
		if (r == IO_LINE_TOOLONG)
			ep_log(p, "!", "", 0, "");
		else
			ep_line(p, line, len, flags);
	}
}

static void
ep_cb(struct io *io, enum io_event e, void *arg)
{
	struct ep	*p = arg;

	assert_ptr_equal(io, p->io);
	assert_true(e < NEV);
	p->n[e]++;
	if (p->total < 64)
		p->order[p->total] = e;
	p->total++;
	strlcpy(p->err, io_error(io), sizeof(p->err));
	if (e == IO_DATAIN && p->getlines)
		ep_read(p);
	if (p->hook != NULL)
		p->hook(p, e);
	if (p->io != NULL && p->free_on[e])
		io_free(&p->io);
}

static struct ep *
ep_new(struct ev *ev, int fd, size_t in_max, size_t out_max)
{
	struct ep	*p = xcalloc(1, sizeof(*p));

	p->ev = ev;
	p->getlines = true;
	buf_init(&p->log, 1 << 20);
	buf_init(&p->raw, 1 << 20);
	p->io = io_new(ev, fd, in_max, out_max, ep_cb, p);
	assert_non_null(p->io);
	return p;
}

static void
ep_free(struct ep **pp)
{
	struct ep	*p = *pp;

	io_free(&p->io);
	buf_clear(&p->log);
	buf_clear(&p->raw);
	free(p);
	*pp = NULL;
}

static const char *
ep_logstr(const struct ep *p)
{
	return buf_cstr(&p->log);
}

/* Lines and raw chunks, whole and one byte at a time. */

struct line_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	size_t		 line_max;	/* 0: the default */
	size_t		 in_max;
	const char	*want;
};

#define S(s)	s, sizeof(s) - 1

static const struct line_case line_cases[] = {
	{ "crlf", S("HELO x\r\n"), 0, 64, "HELO x{C}" },
	{ "bare lf", S("a\n"), 0, 64, "a{}" },
	{ "bare cr inside", S("a\rb\r\n"), 0, 64, "a\\rb{CR}" },
	{ "empty lines", S("\r\n\n"), 0, 64, "{C}|{}" },
	{ "cr cr lf", S("a\r\r\n"), 0, 64, "a\\r{CR}" },
	{ "lone cr line", S("\r\r\n"), 0, 64, "\\r{CR}" },
	{ "nul inside", S("a\0b\r\n"), 0, 64, "a\\0b{CN}" },
	{ "three", S("l1\r\nl2\nl3\r\n"), 0, 64, "l1{C}|l2{}|l3{C}" },
	{ "no terminator yet", S("abc"), 0, 64, "" },
	{ "cr not yet lf", S("abc\r"), 0, 64, "" },
	{ "at max crlf", S("12345678\r\n"), 8, 10, "12345678{C}" },
	{ "at max lf", S("12345678\n"), 8, 10, "12345678{}" },
	{ "at max then more", S("12345678\r\nab\r\n"), 8, 10,
	    "12345678{C}|ab{C}" },
	{ "one over crlf", S("123456789\r\nnext\r\n"), 8, 10,
	    "!|next{C}" },
	{ "one over lf", S("123456789\nnext\n"), 8, 10, "!|next{}" },
	{ "cr makes it long", S("12345678\r\r\nok\r\n"), 8, 10, "!|ok{C}" },
	{ "far over", S("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nok\r\n"),
	    8, 10, "!|ok{C}" },
	{ "two long", S("aaaaaaaaaaaa\nbbbbbbbbbbbb\nc\n"), 8, 10,
	    "!|!|c{}" },
	{ "long between", S("x\r\n123456789012\r\ny\r\n"), 8, 10,
	    "x{C}|!|y{C}" },
	{ "cr inside long", S("123456789\rz\r\nok\n"), 8, 10, "!|ok{}" },
	{ "long, big buffer", S("123456789\r\nok\r\n"), 8, 64, "!|ok{C}" },
	{ "long at eof", S("1234567890"), 8, 10, "!" },
	{ "bdat", S("BDAT 5\r\nhelloQUIT\r\n"), 0, 64,
	    "BDAT 5{C}|R:hello|QUIT{C}" },
	{ "bdat crlf inside", S("BDAT 3\r\n\r\n\nX\r\n"), 0, 64,
	    "BDAT 3{C}|R:\\r\\n\\n|X{C}" },
	{ "bdat past buffer", S("BDAT 20\r\n0123456789abcdefghijZ\n"), 14, 16,
	    "BDAT 20{C}|R:0123456789abcdefghij|Z{}" },
	{ "bdat long line inside", S("BDAT 12\r\nline\r\nline\r\nend\r\n"),
	    0, 64, "BDAT 12{C}|R:line\\r\\nline\\r\\n|end{C}" },
};

static void
run_line_case(const struct line_case *tc, bool bytewise)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];

	make_socketpair(sv);
	p = ep_new(ev, sv[0], tc->in_max, 1024);
	if (tc->line_max > 0)
		assert_int_equal(io_set_line_max(p->io, tc->line_max), 0);
	if (bytewise) {
		for (size_t i = 0; i < tc->len; i++) {
			write_all(sv[1], tc->in + i, 1);
			pump(ev, 3);
		}
	} else {
		write_all(sv[1], tc->in, tc->len);
		pump(ev, 50);
	}
	if (strcmp(ep_logstr(p), tc->want) != 0)
		fail_msg("%s (%s): got \"%s\" want \"%s\"", tc->name,
		    bytewise ? "bytewise" : "whole", ep_logstr(p), tc->want);
	assert_int_equal(p->n[IO_ERROR] + p->n[IO_DISCONNECTED], 0);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

static void
test_line_table(void **state)
{
	for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]);
	    i++) {
		run_line_case(&line_cases[i], false);
		run_line_case(&line_cases[i], true);
	}
}

/* RFC 5321 limits: 998 + CRLF fits the default of in_max 1000. */
static void
test_line_default_max(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	char		 line[1200];
	const char	*log;

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 1000, 1024);
	memset(line, 'x', 998);
	memcpy(line + 998, "\r\n", 2);
	write_all(sv[1], line, 1000);
	pump(ev, 20);
	memset(line, 'y', 999);
	memcpy(line + 999, "\r\nok\r\n", 6);
	write_all(sv[1], line, 1005);
	pump(ev, 20);
	log = ep_logstr(p);
	assert_int_equal(strlen(log), 998 + strlen("{C}|!|ok{C}"));
	assert_string_equal(log + 998, "{C}|!|ok{C}");
	assert_int_equal(strspn(log, "x"), 998);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

static void
test_line_max_setting(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	char		*line;
	size_t		 len;

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 100, 1024);
	assert_int_equal(io_set_line_max(p->io, 0), -1);
	assert_int_equal(io_set_line_max(p->io, 99), -1);
	assert_int_equal(io_set_line_max(p->io, 98), 0);
	assert_int_equal(io_set_line_max(p->io, 1), 0);
	/* flags_r may be NULL. */
	p->getlines = false;
	write_all(sv[1], "a\r\n", 3);
	pump(ev, 3);
	assert_int_equal(io_getline(p->io, &line, &len, NULL), IO_LINE_OK);
	assert_string_equal(line, "a");
	assert_int_equal(io_getline(p->io, &line, &len, NULL), IO_LINE_MORE);
	assert_int_equal(io_datalen(p->io), 0);
	assert_int_equal(io_fd(p->io), sv[0]);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

/* The line pointer survives the buffer emptying; io_data skips it. */
static void
test_line_pointer_and_data(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	char		*line;
	size_t		 len;
	int		 flags;

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	p->getlines = false;
	assert_non_null(io_data(p->io));
	assert_int_equal(io_datalen(p->io), 0);
	write_all(sv[1], "one\r\ntwo", 8);
	pump(ev, 3);
	assert_int_equal(p->n[IO_DATAIN], 1);
	assert_int_equal(io_datalen(p->io), 8);
	assert_int_equal(io_getline(p->io, &line, &len, &flags), IO_LINE_OK);
	assert_int_equal(io_datalen(p->io), 3);
	assert_memory_equal(io_data(p->io), "two", 3);
	assert_string_equal(line, "one");
	assert_int_equal(flags, IO_LINE_CRLF);
	io_consume(p->io, 1);
	assert_memory_equal(io_data(p->io), "wo", 2);
	io_consume(p->io, 2);
	assert_int_equal(io_datalen(p->io), 0);
	write_all(sv[1], "last\n", 5);
	pump(ev, 3);
	assert_int_equal(io_getline(p->io, &line, &len, &flags), IO_LINE_OK);
	/* Nothing left: the buffer is empty, the line still readable. */
	assert_int_equal(io_datalen(p->io), 0);
	assert_string_equal(line, "last");
	assert_int_equal(len, 4);
	assert_int_equal(flags, 0);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

/* Input stops at in_max and resumes when the owner consumes. */
static void
test_input_full_backpressure(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	char		 data[100];

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 16, 1024);
	p->getlines = false;
	memset(data, 'z', sizeof(data));
	write_all(sv[1], data, sizeof(data));
	pump(ev, 10);
	assert_int_equal(io_datalen(p->io), 16);
	assert_int_equal(p->n[IO_DATAIN], 1);
	io_consume(p->io, 10);
	pump(ev, 10);
	assert_int_equal(io_datalen(p->io), 16);
	assert_int_equal(p->n[IO_DATAIN], 2);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

/* Pause and resume. */

static void
test_pause_resume(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2], datain;

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	p->pause_after = 1;
	write_all(sv[1], "A\r\nB\r\n", 6);
	pump(ev, 5);
	assert_string_equal(ep_logstr(p), "A{C}");
	assert_true(io_read_paused(p->io));
	assert_int_equal(io_datalen(p->io), 3);
	datain = p->n[IO_DATAIN];
	write_all(sv[1], "C\r\n", 3);
	pump(ev, 10);
	assert_int_equal(ev_run_once(ev, 30), 0);
	assert_int_equal(p->n[IO_DATAIN], datain);
	assert_int_equal(io_datalen(p->io), 3);
	/* Resuming tells about what is buffered, then reads on. */
	p->pause_after = 0;
	io_resume_read(p->io);
	assert_false(io_read_paused(p->io));
	pump(ev, 5);
	assert_string_equal(ep_logstr(p), "A{C}|B{C}|C{C}");
	assert_true(p->n[IO_DATAIN] > datain);
	/* A resume with nothing buffered says nothing. */
	datain = p->n[IO_DATAIN];
	io_pause_read(p->io);
	io_resume_read(p->io);
	io_resume_read(p->io);
	pump(ev, 5);
	assert_int_equal(p->n[IO_DATAIN], datain);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

/* A peer that hangs up while we are paused: no busy loop, and the data
   and the EOF come after the resume. */
static void
test_pause_hangup_no_spin(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	uint64_t	 t0;

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	p->pause_after = 1;
	write_all(sv[1], "A\r\nB\r\n", 6);
	pump(ev, 5);
	close(sv[1]);
	pump(ev, 5);
	t0 = mono_ms();
	for (int i = 0; i < 3; i++)
		assert_int_equal(ev_run_once(ev, 40), 0);
	assert_true(mono_ms() - t0 >= 100);
	assert_int_equal(p->total, 1);
	p->pause_after = 0;
	io_resume_read(p->io);
	RUN_UNTIL(ev, p->n[IO_DISCONNECTED] == 1, 2000);
	assert_string_equal(ep_logstr(p), "A{C}|B{C}");
	assert_int_equal(p->n[IO_DISCONNECTED], 1);
	ep_free(&p);
	ev_free(&ev);
}

/* EOF and errors. */

static void
test_eof_mid_line(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	char		*line;
	size_t		 len;

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	write_all(sv[1], "QUIT\r\nab", 8);
	pump(ev, 3);
	close(sv[1]);
	pump(ev, 3);
	assert_int_equal(p->n[IO_DATAIN], 1);
	assert_int_equal(p->n[IO_DISCONNECTED], 1);
	assert_int_equal(p->order[0], IO_DATAIN);
	assert_int_equal(p->order[1], IO_DISCONNECTED);
	assert_int_equal(p->total, 2);
	assert_string_equal(ep_logstr(p), "QUIT{C}");
	assert_string_equal(p->err, "connection closed by peer");
	/* The partial line stays for the owner to log. */
	assert_int_equal(io_datalen(p->io), 2);
	assert_memory_equal(io_data(p->io), "ab", 2);
	assert_int_equal(io_getline(p->io, &line, &len, NULL), IO_LINE_MORE);
	errno = 0;
	assert_int_equal(io_write(p->io, "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(io_starttls(p->io, NULL, true), -1);
	pump(ev, 3);
	assert_int_equal(p->total, 2);
	ep_free(&p);
	ev_free(&ev);
}

static void
test_write_epipe(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	close(sv[1]);
	assert_int_equal(io_write(p->io, "250 ok\r\n", 8), 0);
	pump(ev, 3);
	assert_int_equal(p->n[IO_ERROR], 1);
	assert_int_equal(p->total, 1);
	assert_non_null(strstr(p->err, "Broken pipe"));
	assert_string_equal(io_error(p->io), p->err);
	ep_free(&p);
	ev_free(&ev);
}

static void
test_tcp_reset(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	struct linger	 lg = { 1, 0 };
	int		 sv[2];

	make_tcp_pair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	write_all(sv[1], "hi\r\n", 4);
	RUN_UNTIL(ev, p->n[IO_DATAIN] == 1, 2000);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	close(sv[1]);
	RUN_UNTIL(ev, p->n[IO_ERROR] == 1, 2000);
	assert_int_equal(p->n[IO_ERROR], 1);
	assert_non_null(strstr(p->err, "reset"));
	assert_string_equal(ep_logstr(p), "hi{C}");
	ep_free(&p);
	ev_free(&ev);
}

static void
test_new_errors(void **state)
{
	struct ev	*ev = ev_new();
	int		 fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	errno = 0;
	assert_null(io_new(ev, fd, 64, 64, ep_cb, NULL));
	assert_int_equal(errno, EPERM);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	ev_free(&ev);
	assert_string_equal(io_event_str(IO_DATAIN), "IO_DATAIN");
	assert_string_equal(io_event_str(IO_CLOSED), "IO_CLOSED");
	assert_string_equal(io_event_str(IO_TLSERROR), "IO_TLSERROR");
	assert_string_equal(io_event_str((enum io_event)99), "IO_?");
}

/* Output. */

static void
producer_hook(struct ep *p, enum io_event e)
{
	uint8_t	*chunk;
	size_t	 n;

	if (e != IO_LOWAT || p->produced >= p->produce_total)
		return;
	n = p->produce_chunk;
	if (n > p->produce_total - p->produced)
		n = p->produce_total - p->produced;
	chunk = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		chunk[i] = pattern(p->produced + i);
	assert_int_equal(io_write(p->io, chunk, n), 0);
	p->produced += n;
	free(chunk);
}

/* Read what is there without blocking; check the pattern. */
static size_t
slow_read(int fd, size_t got, size_t max)
{
	uint8_t	 b[8192];
	ssize_t	 n;

	n = read(fd, b, max < sizeof(b) ? max : sizeof(b));
	if (n <= 0)
		return got;
	for (ssize_t i = 0; i < n; i++)
		if (b[i] != pattern(got + (size_t)i))
			fail_msg("byte %zu: %u want %u", got + (size_t)i, b[i],
			    pattern(got + (size_t)i));
	return got + (size_t)n;
}

static void
run_big_output(bool tcp)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	size_t		 got = 0;
	uint64_t	 end;

	if (tcp)
		make_tcp_pair(sv);
	else
		make_socketpair(sv);
	/* Small buffers force partial writes and EAGAIN (a tiny TCP
	   receive window would only make loopback crawl). */
	set_bufsizes(sv[0], 8192, 0);
	if (!tcp)
		set_bufsizes(sv[1], 0, 8192);
	set_nonblock(sv[1]);
	p = ep_new(ev, sv[0], 64, 4 << 20);
	io_set_lowat(p->io, 64 * 1024);
	p->hook = producer_hook;
	p->produce_total = 2 << 20;
	p->produce_chunk = 256 * 1024;
	producer_hook(p, IO_LOWAT);
	assert_int_equal(io_queued(p->io), 256 * 1024);
	end = mono_ms() + 30000;
	while (got < p->produce_total && mono_ms() < end) {
		assert_int_equal(ev_run_once(ev, 1), 0);
		got = slow_read(sv[1], got, 4096);
	}
	assert_int_equal(got, p->produce_total);
	assert_int_equal(p->produced, p->produce_total);
	assert_int_equal(io_queued(p->io), 0);
	assert_true(p->n[IO_LOWAT] >= 8);
	assert_int_equal(p->n[IO_ERROR], 0);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

static void
test_big_output_socketpair(void **state)
{
	run_big_output(false);
}

static void
test_big_output_tcp(void **state)
{
	run_big_output(true);
}

static void
test_output_limit(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	char		 big[600];

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1000);
	memset(big, 'a', sizeof(big));
	assert_int_equal(io_write(p->io, big, 600), 0);
	errno = 0;
	assert_int_equal(io_write(p->io, big, 401), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(io_queued(p->io), 600);
	assert_int_equal(io_printf(p->io, "%0*d", 401, 7), -1);
	assert_int_equal(io_queued(p->io), 600);
	assert_int_equal(io_printf(p->io, "%s %d\r\n", "250", 42), 0);
	assert_int_equal(io_queued(p->io), 608);
	pump(ev, 3);
	assert_int_equal(io_queued(p->io), 0);
	/* One LOWAT: everything left in one write. */
	assert_int_equal(p->n[IO_LOWAT], 1);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

/* Replies queued in a callback go out in one send at its end. */
static void
echo_hook(struct ep *p, enum io_event e)
{
	if (e == IO_DATAIN) {
		assert_int_equal(io_printf(p->io, "250 one\r\n"), 0);
		assert_int_equal(io_printf(p->io, "250 two\r\n"), 0);
	}
}

static void
test_replies_coalesced(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	char		 b[64];

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	p->hook = echo_hook;
	write_all(sv[1], "NOOP\r\n", 6);
	/* One round: read, reply, written before the round ends. */
	assert_int_equal(ev_run_once(ev, 1000), 0);
	assert_int_equal(io_queued(p->io), 0);
	assert_int_equal(recv(sv[1], b, sizeof(b), MSG_DONTWAIT), 18);
	assert_memory_equal(b, "250 one\r\n250 two\r\n", 18);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

/* Close after flush. */

static void
test_close_after_flush(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	size_t		 total = 300 * 1024, got = 0;
	uint8_t		*data = xmalloc(total);
	uint8_t		 b[8192];
	ssize_t		 n = 1;
	uint64_t	 end;

	make_socketpair(sv);
	set_bufsizes(sv[0], 8192, 0);
	set_nonblock(sv[1]);
	p = ep_new(ev, sv[0], 64, 1 << 20);
	p->free_on[IO_CLOSED] = true;
	for (size_t i = 0; i < total; i++)
		data[i] = pattern(i);
	assert_int_equal(io_write(p->io, data, total), 0);
	io_close_after_flush(p->io);
	io_close_after_flush(p->io);
	errno = 0;
	assert_int_equal(io_write(p->io, "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	errno = 0;
	assert_int_equal(io_printf(p->io, "x"), -1);
	assert_int_equal(errno, EPIPE);
	/* No more reading. */
	write_all(sv[1], "NOOP\r\n", 6);
	end = mono_ms() + 20000;
	while (n != 0 && mono_ms() < end) {
		assert_int_equal(ev_run_once(ev, 1), 0);
		n = read(sv[1], b, 4096);
		if (n > 0) {
			assert_memory_equal(b, data + got, (size_t)n);
			got += (size_t)n;
		}
	}
	assert_int_equal(n, 0);
	assert_int_equal(got, total);
	assert_null(p->io);
	assert_int_equal(p->n[IO_CLOSED], 1);
	assert_int_equal(p->n[IO_DATAIN], 0);
	assert_int_equal(p->n[IO_LOWAT], 0);
	assert_int_equal(p->total, 1);
	ep_free(&p);
	close(sv[1]);
	free(data);
	ev_free(&ev);
}

static void
bye_hook(struct ep *p, enum io_event e)
{
	if (e == IO_DATAIN && p->nlines == 1) {
		assert_int_equal(io_printf(p->io, "221 Bye\r\n"), 0);
		io_close_after_flush(p->io);
	}
}

/* QUIT pipelined with more: the rest is never read. */
static void
test_close_in_callback(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	char		 b[64];

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	p->pause_after = 1;
	p->hook = bye_hook;
	write_all(sv[1], "QUIT\r\nNOOP\r\n", 12);
	pump(ev, 5);
	assert_int_equal(p->n[IO_CLOSED], 1);
	assert_string_equal(ep_logstr(p), "QUIT{C}");
	assert_int_equal(recv(sv[1], b, sizeof(b), MSG_DONTWAIT), 9);
	assert_memory_equal(b, "221 Bye\r\n", 9);
	/* Shut down for writing: the peer sees EOF before io_free. */
	assert_int_equal(recv(sv[1], b, sizeof(b), MSG_DONTWAIT), 0);
	assert_string_equal(p->err, "closed");
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

/* Idle timeout. */

static void
test_idle_timeout(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	uint64_t	 t0;

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	t0 = mono_ms();
	io_set_timeout(p->io, 60);
	RUN_UNTIL(ev, p->n[IO_TIMEOUT] == 1, 2000);
	assert_int_equal(p->n[IO_TIMEOUT], 1);
	assert_true(mono_ms() - t0 >= 55);
	assert_string_equal(p->err, "idle timeout");
	/* Again after another period. */
	t0 = mono_ms();
	RUN_UNTIL(ev, p->n[IO_TIMEOUT] == 2, 2000);
	assert_int_equal(p->n[IO_TIMEOUT], 2);
	assert_true(mono_ms() - t0 >= 55);
	/* Still usable: a 421 and close. */
	assert_int_equal(io_printf(p->io, "421 timeout\r\n"), 0);
	io_close_after_flush(p->io);
	RUN_UNTIL(ev, p->n[IO_CLOSED] == 1, 2000);
	assert_int_equal(p->n[IO_CLOSED], 1);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

static void
test_idle_reset_by_activity(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	uint64_t	 t0;

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	io_set_timeout(p->io, 150);
	for (int i = 0; i < 8; i++) {
		t0 = mono_ms();
		while (mono_ms() - t0 < 30)
			assert_int_equal(ev_run_once(ev, 10), 0);
		write_all(sv[1], "x\n", 2);
	}
	pump(ev, 3);
	assert_int_equal(p->n[IO_TIMEOUT], 0);
	assert_int_equal(p->nlines, 8);
	/* A paused io with nothing to write does not time out. */
	io_pause_read(p->io);
	t0 = mono_ms();
	while (mono_ms() - t0 < 300)
		assert_int_equal(ev_run_once(ev, 50), 0);
	assert_int_equal(p->n[IO_TIMEOUT], 0);
	io_resume_read(p->io);
	RUN_UNTIL(ev, p->n[IO_TIMEOUT] == 1, 2000);
	assert_int_equal(p->n[IO_TIMEOUT], 1);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

/* Output the peer does not read counts as waiting: it times out. */
static void
test_idle_timeout_stuck_output(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	uint8_t		*big = xcalloc(1, 1 << 20);

	make_socketpair(sv);
	set_bufsizes(sv[0], 8192, 0);
	p = ep_new(ev, sv[0], 64, 2 << 20);
	io_pause_read(p->io);
	assert_int_equal(io_write(p->io, big, 1 << 20), 0);
	io_set_timeout(p->io, 50);
	p->free_on[IO_TIMEOUT] = true;
	RUN_UNTIL(ev, p->n[IO_TIMEOUT] == 1, 2000);
	assert_int_equal(p->n[IO_TIMEOUT], 1);
	assert_null(p->io);
	ep_free(&p);
	close(sv[1]);
	free(big);
	ev_free(&ev);
}

/* Freeing from callbacks (run under ASan). */

static void
test_free_in_datain(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];
	char		 b[64];

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	p->pause_after = 1;
	p->hook = bye_hook;	/* queues output and a close, then... */
	p->free_on[IO_DATAIN] = true;
	write_all(sv[1], "a\r\nb\r\nc\r\n", 9);
	pump(ev, 5);
	assert_null(p->io);
	pump(ev, 5);
	assert_int_equal(p->total, 1);
	/* Freed: closed, the queued reply dropped. */
	assert_int_equal(recv(sv[1], b, sizeof(b), MSG_DONTWAIT), 0);
	assert_string_equal(ep_logstr(p), "a{C}");
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

static void
test_free_in_final_events(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];

	/* IO_DISCONNECTED */
	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	p->free_on[IO_DISCONNECTED] = true;
	close(sv[1]);
	pump(ev, 3);
	assert_null(p->io);
	assert_int_equal(p->total, 1);
	ep_free(&p);
	/* IO_ERROR */
	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	p->free_on[IO_ERROR] = true;
	close(sv[1]);
	assert_int_equal(io_write(p->io, "x", 1), 0);
	pump(ev, 3);
	assert_null(p->io);
	assert_int_equal(p->n[IO_ERROR], 1);
	assert_int_equal(p->total, 1);
	ep_free(&p);
	/* IO_CLOSED, from the 0 ms timer (nothing queued, no fd event) */
	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	p->free_on[IO_CLOSED] = true;
	io_close_after_flush(p->io);
	pump(ev, 3);
	assert_null(p->io);
	assert_int_equal(p->total, 1);
	assert_int_equal(p->n[IO_CLOSED], 1);
	ep_free(&p);
	close(sv[1]);
	/* IO_LOWAT with more input pending in the same round */
	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	p->free_on[IO_LOWAT] = true;
	p->hook = echo_hook;
	write_all(sv[1], "a\r\n", 3);
	pump(ev, 3);
	assert_null(p->io);
	assert_int_equal(p->total, 2);
	assert_int_equal(p->order[1], IO_LOWAT);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

static void
free_other_hook(struct ep *p, enum io_event e)
{
	if (e == IO_DATAIN && p->other->io != NULL)
		io_free(&p->other->io);
}

/* Two ios ready in one epoll batch: the first frees the second. */
static void
test_free_other_in_batch(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*a, *b;
	int		 sa[2], sb[2];

	make_socketpair(sa);
	make_socketpair(sb);
	a = ep_new(ev, sa[0], 64, 1024);
	b = ep_new(ev, sb[0], 64, 1024);
	a->other = b;
	b->other = a;
	a->hook = b->hook = free_other_hook;
	write_all(sa[1], "x\r\n", 3);
	write_all(sb[1], "y\r\n", 3);
	assert_int_equal(ev_run_once(ev, 1000), 0);
	pump(ev, 3);
	assert_int_equal(a->total + b->total, 1);
	assert_true((a->io == NULL) != (b->io == NULL));
	ep_free(&a);
	ep_free(&b);
	close(sa[1]);
	close(sb[1]);
	ev_free(&ev);
}

/* Freed outside callbacks with work pending: nothing runs later. */
static void
test_free_with_pending_work(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p;
	int		 sv[2];

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	io_set_timeout(p->io, 10);
	assert_int_equal(io_write(p->io, "250 ok\r\n", 8), 0);
	write_all(sv[1], "a\r\n", 3);
	io_close_after_flush(p->io);
	io_free(&p->io);
	assert_null(p->io);
	io_free(&p->io);	/* NULL: nothing */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ev_run_once(ev, 20), 0);
	assert_int_equal(p->total, 0);
	ep_free(&p);
	close(sv[1]);
	ev_free(&ev);
}

/* Handing the io to another owner. */
static void
test_set_callback(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*p, *q;
	int		 sv[2];

	make_socketpair(sv);
	p = ep_new(ev, sv[0], 64, 1024);
	q = xcalloc(1, sizeof(*q));
	q->getlines = true;
	buf_init(&q->log, 1024);
	q->io = p->io;
	p->io = NULL;
	io_set_callback(q->io, ep_cb, q);
	write_all(sv[1], "x\n", 2);
	pump(ev, 3);
	assert_int_equal(p->total, 0);
	assert_string_equal(ep_logstr(q), "x{}");
	ep_free(&p);
	ep_free(&q);
	close(sv[1]);
	ev_free(&ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_table),
		cmocka_unit_test(test_line_default_max),
		cmocka_unit_test(test_line_max_setting),
		cmocka_unit_test(test_line_pointer_and_data),
		cmocka_unit_test(test_input_full_backpressure),
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_pause_hangup_no_spin),
		cmocka_unit_test(test_eof_mid_line),
		cmocka_unit_test(test_write_epipe),
		cmocka_unit_test(test_tcp_reset),
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_big_output_socketpair),
		cmocka_unit_test(test_big_output_tcp),
		cmocka_unit_test(test_output_limit),
		cmocka_unit_test(test_replies_coalesced),
		cmocka_unit_test(test_close_after_flush),
		cmocka_unit_test(test_close_in_callback),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_idle_reset_by_activity),
		cmocka_unit_test(test_idle_timeout_stuck_output),
		cmocka_unit_test(test_free_in_datain),
		cmocka_unit_test(test_free_in_final_events),
		cmocka_unit_test(test_free_other_in_batch),
		cmocka_unit_test(test_free_with_pending_work),
		cmocka_unit_test(test_set_callback),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_io", LOG_TO_STDERR, LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
