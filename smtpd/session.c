/*
 * smtpd/session.c — one SMTP session: the command loop (RFC 5321 4.1).
 *
 * Commands are taken from the input buffer one at a time, so pipelined
 * commands (RFC 2920) are answered in order and their replies leave
 * together.  A command that must ask authd or qmgr pauses the loop
 * (SMTP_STATE_WAIT, reading paused) until the answer comes.
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
#include "conf.h"
#include "ev.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "net.h"
#include "peer.h"
#include "proto_auth.h"
#include "proto_queue.h"
#include "service.h"
#include "tls.h"
#include "xmalloc.h"
#include "smtpd.h"

#define IN_MAX		(256 * 1024)
#define OUT_MAX		(256 * 1024)

static void	session_io(struct io *, enum io_event, void *);
static void	session_vreply(struct session *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));


static void
session_vreply(struct session *s, const char *fmt, va_list ap)
{
	io_vprintf(s->io, fmt, ap);
	io_write(s->io, "\r\n", 2);
}

void
session_reply(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	session_vreply(s, fmt, ap);
	va_end(ap);
}

/* A reply to a client error: counted, and too many end the session. */
void
session_error(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	session_vreply(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= s->sd->error_limit && s->state != SMTP_STATE_CLOSING) {
		log_info("%s too many errors from %s; disconnecting", s->id,
		    s->addr);
		session_reply(s, "421 4.7.0 %s Error: too many errors",
		    s->sd->hostname);
		s->state = SMTP_STATE_CLOSING;
		io_close_after_flush(s->io);
	}
}

void
session_tx_reset(struct session *s)
{
	if (s->spool != NULL) {
		uint32_t	 id;
		struct ipc_out	*o = peer_begin(s->sd->qmgr, QUEUE_ABORT, &id);

		if (o != NULL) {
			ipc_put_str(o, s->spool);
			ipc_msg_end(o);
		}
	}
	free(s->spool);
	s->spool = NULL;
	if (s->spool_fd != -1)
		close(s->spool_fd);
	s->spool_fd = -1;
	for (size_t i = 0; i < s->nrcpt; i++) {
		free(s->rcpts[i].address);
		free(s->rcpts[i].orcpt);
	}
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpt = 0;
	s->in_tx = false;
	s->msg_size = 0;
	s->data_error = NULL;
	s->bdat_left = 0;
	s->bdat_last = false;
	buf_clear(&s->out);
	submit_free(s);
	ev_timer_stop(s->data_timer);
}

void
session_free(struct session *s)
{
	struct smtpd	*sd = s->sd;

	for (struct session **p = &sd->sessions; *p != NULL; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	sd->nsessions--;
	peer_forget(&s->pending);
	session_tx_reset(s);
	if (s->counted) {		/* authd's count of this client */
		uint32_t	 id;
		struct ipc_out	*o = peer_begin(sd->authd, AUTH_DISCONNECT,
				    &id);

		if (o != NULL) {
			ipc_put_str(o, s->addr);
			ipc_msg_end(o);
		}
	}
	auth_reset(s);
	free(s->auth_user);
	ev_timer_del(&s->cmd_timer);
	ev_timer_del(&s->data_timer);
	io_free(&s->io);
	free(s);
	if (sd->svc->stopping && sd->nsessions == 0)
		service_done(sd->svc);
}

void
session_free_all(struct smtpd *sd)
{
	while (sd->sessions != NULL)
		session_free(sd->sessions);
}

static void
session_timeout(void *arg)
{
	struct session	*s = arg;

	if (s->state == SMTP_STATE_CLOSING) {	/* our 421 is not read */
		session_free(s);
		return;
	}
	log_info("%s timeout from %s state=%d", s->id, s->addr, s->state);
	session_reply(s, "421 4.4.2 %s Error: timeout exceeded",
	    s->sd->hostname);
	s->state = SMTP_STATE_CLOSING;
	io_close_after_flush(s->io);
}

static size_t
client_count(struct smtpd *sd, const char *addr)
{
	size_t	 n = 0;

	for (struct session *s = sd->sessions; s != NULL; s = s->next)
		n += strcmp(s->addr, addr) == 0;
	return n;
}

/* Over a limit: say 421 and close without a session (RFC 5321 3.1). */
static void
refuse(struct smtpd *sd, int fd, const char *addr, const char *why)
{
	char	 line[256];
	int	 n = snprintf(line, sizeof(line),
		    "421 4.7.0 %s Error: too many connections%s\r\n",
		    sd->hostname, why);

	log_info("refused connection from %s: too many connections%s", addr,
	    why);
	(void)!write(fd, line, (size_t)n);
	close(fd);
}

static struct session *
session_new(struct smtpd *sd, int fd, const char *addr)
{
	struct session	*s = xcalloc(1, sizeof(*s));

	s->sd = sd;
	s->spool_fd = -1;
	s->state = SMTP_STATE_WAIT;
	buf_init(&s->out, 1024 * 1024);
	snprintf(s->id, sizeof(s->id), "%08llx", (unsigned long long)
	    (((uint64_t)getpid() << 32) | sd->next_id++) & 0xffffffffffffULL);
	strlcpy(s->addr, addr, sizeof(s->addr));
	s->cmd_timer = ev_timer_add(sd->svc->ev, sd->timeout, session_timeout,
	    s);
	s->data_timer = ev_timer_add(sd->svc->ev, sd->data_timeout,
	    session_timeout, s);
	ev_timer_stop(s->data_timer);
	s->io = io_new(sd->svc->ev, fd, IN_MAX, OUT_MAX, session_io, s);
	if (s->io == NULL) {
		ev_timer_del(&s->cmd_timer);
		ev_timer_del(&s->data_timer);
		free(s);
		return NULL;
	}
	io_set_line_max(s->io, SMTP_CMD_PARAM_LINE_MAX - 2);
	/* A backstop for a peer that stops reading; the deadlines that
	   matter are cmd_timer and data_timer. */
	io_set_timeout(s->io, sd->timeout > sd->data_timeout ? sd->timeout :
	    sd->data_timeout);
	s->next = sd->sessions;
	sd->sessions = s;
	sd->nsessions++;
	return s;
}

/*
 * Before the greeting, authd counts the connection against
 * smtpd_client_connection_limit over every smtpd process, and says
 * whether the client may relay (mynetworks).
 */
static void
connect_reply(void *arg, struct ipc_msg *msg)
{
	struct session	*s = arg;
	bool		 relay;
	uint32_t	 status = auth_client_connect_reply(msg, &relay);

	if (status == AUTH_TOOMANY) {
		log_info("%s refused [%s]: too many connections from it",
		    s->id, s->addr);
		session_reply(s, "421 4.7.0 %s Error: too many connections "
		    "from your address", s->sd->hostname);
		s->state = SMTP_STATE_CLOSING;
		io_close_after_flush(s->io);
		return;
	}
	s->counted = status == AUTH_OK;
	s->relay_ok = relay;
	s->state = SMTP_STATE_CMD;
	s->greeted = true;
	session_reply(s, "220 %s", s->sd->banner);
	session_resume(s);
}

static void
session_greet(struct session *s)
{
	struct ipc_out	*o;
	uint32_t	 id;

	s->state = SMTP_STATE_WAIT;
	io_pause_read(s->io);
	if ((o = peer_begin(s->sd->authd, AUTH_CONNECT, &id)) != NULL) {
		ipc_put_str(o, s->addr);
		ipc_put_u32(o, (uint32_t)s->sd->client_limit);
		if (peer_send(s->sd->authd, o, id, s, &s->pending, connect_reply) == 0)
			return;
	}
	connect_reply(s, NULL);
}

static void
session_start(struct session *s, struct listener *l)
{
	s->submission = l->submission;
	log_info("%s connect from [%s]%s", s->id, s->addr,
	    l->implicit_tls ? " (submission, implicit TLS)" : l->submission ?
	    " (submission)" : "");
	if (l->implicit_tls && s->sd->tls != NULL) {
		s->implicit_tls = true;
		s->state = SMTP_STATE_TLS;
		io_starttls(s->io, s->sd->tls, true);
		return;
	}
	session_greet(s);
}

void
session_accept(int fd, unsigned events, void *arg)
{
	struct listener		*l = arg;
	struct smtpd		*sd = l->sd;
	char			 addr[64];
	struct session		*s;
	int			 c;

	if ((c = net_accept(fd, addr, sizeof(addr))) == -1)
		return;
	if (sd->nsessions >= sd->conn_limit)
		refuse(sd, c, addr, "");
	else if (client_count(sd, addr) >= sd->client_limit)
		refuse(sd, c, addr, " from your address");
	else if ((s = session_new(sd, c, addr)) != NULL)
		session_start(s, l);
	(void)events;
}

/* Continue with buffered input after an answer came back. */
void
session_resume(struct session *s)
{
	if (s->state == SMTP_STATE_WAIT)
		s->state = SMTP_STATE_CMD;
	io_resume_read(s->io);
	session_input(s);
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
	if (s->implicit_tls && s->helo[0] == '\0' && s->state ==
	    SMTP_STATE_TLS && !s->greeted) {
		session_greet(s);
		return;
	}
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	s->helo[0] = '\0';
	s->esmtp = false;
	session_tx_reset(s);
	s->state = SMTP_STATE_CMD;
	session_input(s);
}

static void
session_closed(struct session *s, enum io_event ev)
{
	char	 why[200];

	if (ev == IO_ERROR || ev == IO_TLSERROR)
		log_safe(why, sizeof(why), io_error(s->io),
		    strlen(io_error(s->io)));
	log_info("%s disconnect from [%s]%s%s%s", s->id, s->addr,
	    ev == IO_CLOSED ? "" : " (", ev == IO_CLOSED ? "" :
	    ev == IO_DISCONNECTED ? "lost" : why, ev == IO_CLOSED ? "" : ")");
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
	case IO_LOWAT:
		break;
	case IO_TLSREADY:
		session_tls_ready(s);
		break;
	case IO_TIMEOUT:
		session_timeout(s);
		break;
	case IO_DISCONNECTED:
	case IO_ERROR:
	case IO_TLSERROR:
	case IO_CLOSED:
		session_closed(s, ev);
		break;
	}
	(void)io;
}

/* The service is stopping: between transactions, say goodbye. */
void
session_shutdown(struct session *s)
{
	if (s->state != SMTP_STATE_CMD)
		return;		/* asked again when the command is done */
	session_reply(s, "421 4.3.2 %s Service shutting down, try again "
	    "later", s->sd->hostname);
	s->state = SMTP_STATE_CLOSING;
	io_close_after_flush(s->io);
}

/* Take commands (or body bytes) off the input while we may. */
void
session_input(struct session *s)
{
	char		*line;
	size_t		 len;
	enum io_line	 r;

	while (s->io != NULL) {
		switch (s->state) {
		case SMTP_STATE_DATA:
			data_input(s);
			return;
		case SMTP_STATE_BDAT:
			bdat_input(s);
			if (s->state == SMTP_STATE_BDAT)
				return;
			continue;
		case SMTP_STATE_CMD:
		case SMTP_STATE_AUTH:
			break;
		default:
			return;
		}
		if (s->sd->svc->stopping) {
			session_shutdown(s);
			return;
		}
		if ((r = io_getline(s->io, &line, &len, NULL)) == IO_LINE_MORE)
			return;
		ev_timer_set(s->cmd_timer, s->sd->timeout);
		if (s->state == SMTP_STATE_AUTH && r == IO_LINE_TOOLONG) {
			auth_reset(s);
			s->state = SMTP_STATE_CMD;
			session_error(s, "500 5.5.6 Error: authentication "
			    "exchange line is too long");	/* RFC 4954 4 */
			continue;
		}
		if (r == IO_LINE_TOOLONG) {
			session_error(s, "500 5.5.2 Error: line too long");
			continue;
		}
		if (s->state == SMTP_STATE_AUTH)
			auth_input(s, line, len);
		else
			session_command(s, line, len);
	}
}

