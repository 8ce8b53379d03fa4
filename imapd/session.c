/*
 * imapd/session.c — one IMAP connection: reading commands, writing
 * responses, the states of RFC 9051 3 and the autologout timer.
 *
 * Commands run one at a time: the parser is fed until it has a whole
 * command (literals included, "+" sent for synchronizing ones), which then
 * runs; pipelined commands wait in the input buffer until it is done
 * (RFC 9051 5.5 allows the server to serialise).  Reading pauses while a
 * command runs, so a client cannot make us buffer without bound.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "auth_client.h"
#include "ev.h"
#include "imap_parse.h"
#include "io.h"
#include "log.h"
#include "net.h"
#include "ipc.h"
#include "peer.h"
#include "proto_auth.h"
#include "service.h"
#include "tls.h"
#include "xmalloc.h"
#include "imapd.h"

#define IN_MAX		(256 * 1024)
#define OUT_MAX		(4 * 1024 * 1024)
#define RESP_MAX	(64 * 1024 * 1024)	/* one response being built */

static void	session_io(struct io *, enum io_event, void *);
static void	session_arm_timer(struct session *);

void
session_printf(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	if (s->io == NULL)
		return;
	va_start(ap, fmt);
	io_vprintf(s->io, fmt, ap);
	va_end(ap);
	io_write(s->io, "\r\n", 2);
}

void
session_flush_out(struct session *s)
{
	if (s->io != NULL && s->out.len > 0)
		io_write(s->io, BUF_DATA(&s->out), s->out.len);
	buf_reset(&s->out);
}

static void
cmd_clear(struct session *s)
{
	if (s->cmd.state_free != NULL && s->cmd.state != NULL)
		s->cmd.state_free(s->cmd.state);
	memset(&s->cmd, 0, sizeof(s->cmd));
	free(s->tag);
	s->tag = NULL;
	s->raw = false;
	imap_parser_reset(s->parser);
}

static void
session_resume(void *arg)
{
	struct session	*s = arg;

	ev_timer_stop(s->resume);
	session_input(s);
}

void
cmd_done(struct session *s, const char *status, const char *fmt, ...)
{
	char	*text;
	va_list	 ap;

	/* No limit: [MODIFIED set] (RFC 7162 3.1.3) can be long. */
	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);	/* COPYUID may be long */
	va_end(ap);
	session_printf(s, "%s %s %s", s->cmd.tag, status, text);
	free(text);
	cmd_clear(s);
	session_arm_timer(s);	/* the state may have changed (LOGIN) */
	if (s->wait == WAIT_CMD || s->wait == WAIT_AUTH ||
	    s->wait == WAIT_IDLE)
		s->wait = WAIT_NONE;
	session_continue(s);
}

/*
 * Read on (pipelined commands, IDLE's DONE): from the loop, not from
 * inside whatever callback got us here.
 */
void
session_continue(struct session *s)
{
	if (s->io != NULL)
		io_resume_read(s->io);
	ev_timer_set(s->resume, 0);
}

void
session_free(struct session *s)
{
	struct imapd	*d = s->d;

	for (struct session **p = &d->sessions; *p != NULL; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	d->nsessions--;
	peer_forget(&s->pending);
	if (s->counted_ip)
		session_uncount(s, "imap", s->addr);
	if (s->counted_user) {
		char	 uid[24];

		snprintf(uid, sizeof(uid), "%llu",
		    (unsigned long long)s->user_id);
		session_uncount(s, "imapuser", uid);
	}
	cmd_clear(s);
	mbox_free(&s->sel);
	imap_parser_free(&s->parser);
	ev_timer_del(&s->timer);
	ev_timer_del(&s->resume);
	io_free(&s->io);
	buf_clear(&s->out);
	free(s->user);
	free(s->auth_mech);
	free(s);
	if (d->svc->stopping && d->nsessions == 0)
		service_done(d->svc);
}

void
session_free_all(struct imapd *d)
{
	while (d->sessions != NULL)
		session_free(d->sessions);
}

/* Say BYE and close once it is written. */
void
session_bye(struct session *s, const char *text)
{
	if (s->closing)
		return;
	session_printf(s, "* BYE %s", text);
	s->closing = true;
	s->state = IMAP_STATE_LOGOUT;
	io_pause_read(s->io);
	io_close_after_flush(s->io);
}

static void
session_timeout(void *arg)
{
	struct session	*s = arg;

	if (s->closing) {
		session_free(s);
		return;
	}
	log_info("%s autologout [%s] user=%s", s->id, s->addr,
	    s->user != NULL ? s->user : "-");
	session_bye(s, "Autologout; idle for too long");
	ev_timer_set(s->timer, 10000);	/* the BYE is not read: drop */
}

void
session_shutdown(struct session *s)
{
	if (s->wait == WAIT_NONE || s->wait == WAIT_IDLE)
		session_bye(s, "Server shutting down, try again later");
}

static void
session_arm_timer(struct session *s)
{
	ev_timer_set(s->timer, s->state == IMAP_STATE_NOTAUTH ?
	    s->d->login_timeout : s->d->timeout);
}

static struct session *
session_new(struct imapd *d, int fd, const char *addr)
{
	struct session		*s = xcalloc(1, sizeof(*s));
	struct imap_parse_limits lim = { 0 };

	s->d = d;
	snprintf(s->id, sizeof(s->id), "%08llx", (unsigned long long)
	    (((uint64_t)getpid() << 32) | d->next_id++) & 0xffffffffffffULL);
	strlcpy(s->addr, addr, sizeof(s->addr));
	s->loopback = strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
	lim.line_max = d->line_max;
	lim.literal_max = d->literal_max;
	lim.append_max = d->append_max;
	s->parser = imap_parser_new(&lim);
	buf_init(&s->out, RESP_MAX);
	s->timer = ev_timer_add(d->svc->ev, d->login_timeout,
	    session_timeout, s);
	s->resume = ev_timer_add(d->svc->ev, 0, session_resume, s);
	ev_timer_stop(s->resume);
	s->io = io_new(d->svc->ev, fd, IN_MAX, OUT_MAX, session_io, s);
	if (s->io == NULL) {
		imap_parser_free(&s->parser);
		ev_timer_del(&s->timer);
		ev_timer_del(&s->resume);
		buf_clear(&s->out);
		free(s);
		return NULL;
	}
	s->next = d->sessions;
	d->sessions = s;
	d->nsessions++;
	return s;
}

static void
session_greet_now(struct session *s)
{
	session_printf(s, "* OK [CAPABILITY %s] %s Wharf IMAP ready",
	    capability_string(s), s->d->hostname);
	s->wait = WAIT_NONE;
	session_input(s);
}

/*
 * authd counts the sessions of each client address over every imapd
 * process (imap_client_connection_limit); without authd, no limit.
 */
static void
connect_reply(void *arg, struct ipc_msg *msg)
{
	struct session	*s = arg;
	uint32_t	 status = auth_client_connect_reply(msg, NULL);

	if (status == AUTH_TOOMANY) {
		log_info("%s refused [%s]: too many connections from it",
		    s->id, s->addr);
		session_bye(s, "Too many connections from your address");
		return;
	}
	s->counted_ip = status == AUTH_OK;
	session_greet_now(s);
}

static void
session_greet(struct session *s)
{
	struct ipc_out	*o;
	uint32_t	 id;
	char		 key[80];

	s->wait = WAIT_CMD;
	snprintf(key, sizeof(key), "imap/%s", s->addr);
	if ((o = peer_begin(s->d->authd, AUTH_CONNECT, &id)) != NULL) {
		ipc_put_str(o, key);
		ipc_put_u32(o, (uint32_t)s->d->client_limit);
		if (peer_send(s->d->authd, o, id, s, &s->pending,
		    connect_reply) == 0)
			return;
	}
	connect_reply(s, NULL);
}

/* Counted by authd: say it is over (session end, or a refused login). */
void
session_uncount(struct session *s, const char *prefix, const char *what)
{
	struct ipc_out	*o;
	uint32_t	 id;
	char		 key[80];

	snprintf(key, sizeof(key), "%s/%s", prefix, what);
	if ((o = peer_begin(s->d->authd, AUTH_DISCONNECT, &id)) != NULL) {
		ipc_put_str(o, key);
		ipc_msg_end(o);
	}
}

static void
refuse(int fd, const char *addr, const char *why)
{
	char	 line[160];
	int	 n = snprintf(line, sizeof(line), "* BYE Too many connections%s"
		    "\r\n", why);

	log_info("refused connection from %s: too many connections%s", addr,
	    why);
	(void)!write(fd, line, (size_t)n);
	close(fd);
}

void
session_accept(int fd, unsigned events, void *arg)
{
	struct listener		*l = arg;
	struct imapd		*d = l->d;
	char			 addr[64];
	struct session		*s;
	int			 c;

	if ((c = net_accept(fd, addr, sizeof(addr))) == -1)
		return;
	if (d->nsessions >= d->conn_limit)
		refuse(c, addr, "");
	else if ((s = session_new(d, c, addr)) != NULL) {
		log_info("%s connect from [%s]%s", s->id, s->addr,
		    l->implicit_tls ? " (implicit TLS)" : "");
		if (l->implicit_tls && d->tls != NULL) {
			s->implicit_tls = true;
			s->wait = WAIT_TLS;
			io_starttls(s->io, d->tls, true);
		} else
			session_greet(s);
	}
	(void)events;
}

static void
session_tls_ready(struct session *s)
{
	struct tls_info	 ti;
	char		 buf[160];

	s->tls = true;
	io_tls_info(s->io, &ti);
	log_info("%s TLS established %s", s->id,
	    tls_info_received(&ti, buf, sizeof(buf)));
	if (s->implicit_tls && s->cmd.tag == NULL) {
		session_greet(s);
		return;
	}
	s->wait = WAIT_NONE;	/* STARTTLS: its OK went before the handshake */
	cmd_clear(s);
	session_input(s);
}

static void
session_closed(struct session *s, enum io_event ev)
{
	char	 why[200];

	if (ev == IO_ERROR || ev == IO_TLSERROR)
		log_safe(why, sizeof(why), io_error(s->io),
		    strlen(io_error(s->io)));
	log_info("%s disconnect from [%s] user=%s%s%s%s", s->id, s->addr,
	    s->user != NULL ? s->user : "-", ev == IO_CLOSED ? "" : " (",
	    ev == IO_CLOSED ? "" : ev == IO_DISCONNECTED ? "lost" : why,
	    ev == IO_CLOSED ? "" : ")");
	session_free(s);
}

static void
session_io(struct io *io, enum io_event ev, void *arg)
{
	struct session	*s = arg;

	switch (ev) {
	case IO_DATAIN:
		session_input(s);
		break;
	case IO_LOWAT:		/* a long response may go on */
		if (s->wait == WAIT_CMD && s->cmd.lowat != NULL)
			s->cmd.lowat(s);
		else
			session_input(s);
		break;
	case IO_TLSREADY:
		session_tls_ready(s);
		break;
	case IO_TIMEOUT:
		break;		/* our own timer decides */
	case IO_DISCONNECTED:
	case IO_ERROR:
	case IO_TLSERROR:
	case IO_CLOSED:
		session_closed(s, ev);
		break;
	}
	(void)io;
}

/* A parse error: BAD for this command (or BYE when it is fatal). */
static void
session_parse_error(struct session *s)
{
	const char	*text, *tag = imap_parse_tag(s->parser);
	bool		 fatal;

	imap_parse_error(s->parser, &text, &fatal);
	log_info("%s bad command from [%s]: %s", s->id, s->addr, text);
	if (fatal) {
		session_bye(s, text);
		return;
	}
	session_printf(s, "%s BAD %s", tag != NULL ? tag : "*", text);
	imap_parser_reset(s->parser);
}

/* A synchronizing literal: go on ("+") unless it is over the limit. */
static void
session_literal(struct session *s)
{
	session_printf(s, "+ Ready for literal data");
	imap_parse_literal_accept(s->parser);
}

static void
session_command(struct session *s)
{
	const char	*tag, *name;

	imap_parse_command(s->parser, &tag, &name, &s->cmd.args,
	    &s->cmd.nargs);
	s->tag = xstrdup(tag);	/* outlives the parser's reset (IDLE, AUTH) */
	s->cmd.tag = s->tag;
	s->cmd.name = name;
	s->wait = WAIT_CMD;
	session_arm_timer(s);
	command_run(s);
}

/* A line that is not a command: AUTHENTICATE responses, IDLE's DONE. */
static bool
session_raw_line(struct session *s)
{
	const char	*line;
	size_t		 len, used;
	enum imap_parse_result r;

	if (!s->raw) {		/* the command's arguments are done with */
		imap_parser_reset(s->parser);
		s->raw = true;
	}
	r = imap_parse_line(s->parser, io_data(s->io), io_datalen(s->io),
	    &used, &line, &len);
	io_consume(s->io, used);
	if (r == IMAP_PARSE_MORE)
		return false;
	if (r == IMAP_PARSE_ERR) {
		session_bye(s, "Line too long");
		return false;
	}
	if (s->wait == WAIT_AUTH)
		auth_input(s, line, len);
	else
		idle_input(s, line, len);
	imap_parser_reset(s->parser);	/* the line is used up */
	return true;
}

/* Take commands off the input while nothing else is going on. */
void
session_input(struct session *s)
{
	enum imap_parse_result	 r;
	size_t			 used;

	while (s->io != NULL && !s->closing && io_datalen(s->io) > 0) {
		if (io_queued(s->io) > OUT_MAX / 2) {
			return;		/* IO_LOWAT brings us back */
		}
		if (s->wait == WAIT_AUTH || s->wait == WAIT_IDLE) {
			if (!session_raw_line(s))
				return;
			continue;
		}
		if (s->wait != WAIT_NONE)
			return;
		r = imap_parse_feed(s->parser, io_data(s->io),
		    io_datalen(s->io), &used);
		io_consume(s->io, used);
		switch (r) {
		case IMAP_PARSE_MORE:
			break;
		case IMAP_PARSE_LITERAL:
			session_literal(s);
			break;
		case IMAP_PARSE_ERR:
			session_parse_error(s);
			break;
		case IMAP_PARSE_OK:
			session_command(s);
			break;
		}
	}
	if (s->io != NULL && s->wait == WAIT_CMD)
		io_pause_read(s->io);
}
