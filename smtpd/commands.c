/*
 * smtpd/commands.c — the SMTP commands (RFC 5321 4.1.1) and extensions:
 * PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8
 * (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034, codes from RFC 3463),
 * CHUNKING (RFC 3030), STARTTLS (RFC 3207), DSN (RFC 3461); on the
 * submission ports AUTH (RFC 4954, auth.c) and the MSA rules of RFC 6409.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "buf.h"
#include "ev.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "peer.h"
#include "proto_auth.h"
#include "proto_queue.h"
#include "xmalloc.h"
#include "smtpd.h"

static void
cmd_helo(struct session *s, bool esmtp)
{
	struct smtpd	*sd = s->sd;

	session_tx_reset(s);
	strlcpy(s->helo, s->cmd.arg, sizeof(s->helo));
	s->esmtp = esmtp;
	if (!esmtp) {
		session_reply(s, "250 %s", sd->hostname);
		return;
	}
	session_reply(s, "250-%s", sd->hostname);
	session_reply(s, "250-PIPELINING");
	session_reply(s, "250-SIZE %llu", (unsigned long long)sd->size_limit);
	session_reply(s, "250-8BITMIME");
	session_reply(s, "250-SMTPUTF8");
	session_reply(s, "250-ENHANCEDSTATUSCODES");
	session_reply(s, "250-CHUNKING");
	if (sd->tls != NULL && !s->tls)
		session_reply(s, "250-STARTTLS");
	if (s->submission && s->tls)	/* RFC 4954 4: after TLS only */
		session_reply(s, "250-AUTH PLAIN LOGIN");
	session_reply(s, "250 DSN");
}

static bool
need_helo(struct session *s)
{
	if (s->helo[0] != '\0')
		return true;
	session_error(s, "503 5.5.1 Error: send HELO/EHLO first");
	return false;
}

static void
mail_accept(struct session *s)
{
	s->from = s->cmd.path;
	s->from_params = s->cmd.params;
	s->in_tx = true;
	session_reply(s, "250 2.1.0 Ok");
}

/* Submission: is the sender the user's, and is the user under its rate? */
static void
mail_reply(void *arg, struct ipc_msg *msg)
{
	struct session	*s = arg;
	uint32_t	 status = AUTH_TEMPFAIL;
	char		 mbox[ADDR_FORMAT_SIZE], safe[300];

	if (msg != NULL && msg->hdr.type == AUTH_MAIL_R)
		ipc_get_u32(msg, &status);
	addr_format(&s->cmd.path, mbox, sizeof(mbox));
	log_safe(safe, sizeof(safe), mbox, strlen(mbox));
	switch (status) {
	case AUTH_OK:
		mail_accept(s);
		break;
	case AUTH_DENIED:
		log_info("%s reject MAIL %s: not owned by user=%s", s->id,
		    safe, s->auth_user);
		session_error(s, "553 5.7.1 %s: Sender address rejected: not "
		    "owned by user %s", safe, s->auth_user);
		break;
	case AUTH_TOOMANY:
		log_info("%s reject MAIL %s: user=%s over its message rate",
		    s->id, safe, s->auth_user);
		session_reply(s, "451 4.7.1 Error: too many messages from "
		    "you, try again later");
		break;
	default:
		session_reply(s, "451 4.3.0 Error: temporary lookup failure");
		break;
	}
	session_resume(s);
}

static void
mail_ask(struct session *s)
{
	struct ipc_out	*o;
	uint32_t	 id;
	char		 mbox[ADDR_FORMAT_SIZE];

	addr_mailbox(&s->cmd.path, mbox, sizeof(mbox));
	if ((o = peer_begin(s->sd->authd, AUTH_MAIL, &id)) != NULL) {
		ipc_put_u64(o, s->auth_id);
		ipc_put_str(o, mbox);
		if (peer_send(s->sd->authd, o, id, s, &s->pending, mail_reply) == 0) {
			s->state = SMTP_STATE_WAIT;
			io_pause_read(s->io);
			return;
		}
	}
	mail_reply(s, NULL);
}

/* RFC 6409 4.3 (auth before mail), RFC 8314 (TLS before auth). */
static bool
submission_ready(struct session *s)
{
	if (!s->submission || s->auth_id != 0)
		return true;
	if (!s->tls)
		session_error(s, "530 5.7.0 Must issue a STARTTLS command "
		    "first");
	else
		session_error(s, "530 5.7.0 Authentication required");
	return false;
}

static void
cmd_mail(struct session *s)
{
	struct smtp_params	*p = &s->cmd.params;

	if (!need_helo(s) || !submission_ready(s))
		return;
	if (s->in_tx) {
		session_error(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (p->seen != 0 && !s->esmtp) {
		session_error(s, "555 5.5.4 Error: parameters need EHLO");
		return;
	}
	if ((p->seen & SMTP_PARAM_SIZE) && p->size > s->sd->size_limit) {
		session_error(s, "552 5.3.4 Error: message too big for this "
		    "system (limit %llu octets)",
		    (unsigned long long)s->sd->size_limit);
		return;
	}
	if (p->body == SMTP_BODY_BINARYMIME) {
		session_error(s, "555 5.5.4 Error: BODY=BINARYMIME is not "
		    "supported");
		return;
	}
	if (s->auth_id != 0)
		mail_ask(s);
	else
		mail_accept(s);
}

static void
add_rcpt(struct session *s)
{
	struct smtp_params	*p = &s->cmd.params;
	struct rcpt		*r;
	char			 mbox[ADDR_FORMAT_SIZE];

	addr_mailbox(&s->cmd.path, mbox, sizeof(mbox));
	s->rcpts = xreallocarray(s->rcpts, s->nrcpt + 1, sizeof(*s->rcpts));
	r = &s->rcpts[s->nrcpt++];
	r->address = xstrdup(mbox);
	r->orcpt = (p->seen & SMTP_PARAM_ORCPT) ? xasprintf("%s;%s",
	    p->orcpt_type, p->orcpt) : xstrdup("");
	r->notify = p->notify;
}

static void
rcpt_reply(void *arg, struct ipc_msg *msg)
{
	struct session	*s = arg;
	char		 mbox[ADDR_FORMAT_SIZE], safe[300];
	uint32_t	 status = AUTH_TEMPFAIL;

	if (msg != NULL && msg->hdr.type == AUTH_RCPT_R)
		ipc_get_u32(msg, &status);
	addr_format(&s->cmd.path, mbox, sizeof(mbox));
	log_safe(safe, sizeof(safe), mbox, strlen(mbox));
	switch (status) {
	case AUTH_OK:
		add_rcpt(s);
		session_reply(s, "250 2.1.5 Ok");
		break;
	case AUTH_NOUSER:
		log_info("%s reject RCPT %s: unknown user", s->id, safe);
		session_error(s, "550 5.1.1 %s: Recipient address rejected: "
		    "User unknown", safe);
		break;
	case AUTH_NOTLOCAL:
		if (s->relay_ok || s->auth_id != 0) {
			add_rcpt(s);
			session_reply(s, "250 2.1.5 Ok");
			break;
		}
		log_info("%s reject RCPT %s from [%s]: relay denied", s->id,
		    safe, s->addr);
		session_error(s, "554 5.7.1 %s: Relay access denied", safe);
		break;
	case AUTH_TOOMANY:
		log_info("%s reject RCPT %s: user=%s over its recipient rate",
		    s->id, safe, s->auth_user);
		session_reply(s, "451 4.7.1 Error: too many recipients from "
		    "you, try again later");
		break;
	default:
		session_reply(s, "451 4.3.0 %s: Temporary lookup failure",
		    safe);
		break;
	}
	session_resume(s);
}

static void
cmd_rcpt(struct session *s)
{
	struct ipc_out	*o;
	uint32_t	 id;
	char		 mbox[ADDR_FORMAT_SIZE];

	if (!s->in_tx) {
		session_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->cmd.params.seen != 0 && !s->esmtp) {
		session_error(s, "555 5.5.4 Error: parameters need EHLO");
		return;
	}
	if (s->nrcpt >= s->sd->rcpt_limit) {
		session_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	/* RFC 5321 4.5.1: <Postmaster> is this host's postmaster. */
	if (s->cmd.path.domain_type == ADDR_DOMAIN_NONE) {
		strlcpy(s->cmd.path.domain, s->sd->hostname,
		    sizeof(s->cmd.path.domain));
		s->cmd.path.domain_type = ADDR_DOMAIN_NAME;
	}
	addr_mailbox(&s->cmd.path, mbox, sizeof(mbox));
	if ((o = peer_begin(s->sd->authd, AUTH_RCPT, &id)) != NULL) {
		ipc_put_str(o, mbox);
		if (s->auth_id != 0)	/* counted against its rate */
			ipc_put_u64(o, s->auth_id);
		if (peer_send(s->sd->authd, o, id, s, &s->pending, rcpt_reply) == 0) {
			s->state = SMTP_STATE_WAIT;
			io_pause_read(s->io);
			return;
		}
	}
	rcpt_reply(s, NULL);
}

static void
spool_reply(void *arg, struct ipc_msg *msg)
{
	struct session	*s = arg;
	uint32_t	 status = QUEUE_TEMPFAIL;
	const char	*spool = "";

	if (msg != NULL && msg->hdr.type == QUEUE_SPOOL_R) {
		ipc_get_u32(msg, &status);
		ipc_get_str(msg, &spool);
		if (status == QUEUE_OK && ((s->spool_fd =
		    ipc_msg_take_fd(msg)) == -1 || ipc_get_end(msg) == -1))
			status = QUEUE_TEMPFAIL;
	}
	if (status != QUEUE_OK) {
		log_warnx("%s no spool file from qmgr", s->id);
		s->data_error = "451 4.3.0 Error: queue file write error";
	} else
		s->spool = xstrdup(spool);
	data_start(s);
	session_resume(s);
}

/* DATA and the first BDAT of a transaction need a spool file. */
static void
ask_spool(struct session *s)
{
	struct ipc_out	*o;
	uint32_t	 id;

	if ((o = peer_begin(s->sd->qmgr, QUEUE_SPOOL, &id)) != NULL &&
	    peer_send(s->sd->qmgr, o, id, s, &s->pending, spool_reply) == 0) {
		s->state = SMTP_STATE_WAIT;
		io_pause_read(s->io);
		return;
	}
	spool_reply(s, NULL);
}

static void
cmd_data(struct session *s)
{
	if (!s->in_tx) {
		session_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpt == 0) {
		session_error(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (s->spool != NULL) {		/* after BDAT: RFC 3030 2 */
		session_error(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	ask_spool(s);
}

/* RFC 3030 2: the chunk is read even when the command fails. */
static void
cmd_bdat(struct session *s)
{
	s->bdat_left = s->cmd.chunk_size;
	s->bdat_last = s->cmd.last;
	if (!s->in_tx || s->nrcpt == 0) {
		s->data_error = !s->in_tx ? "503 5.5.1 Error: need MAIL "
		    "command" : "554 5.5.1 Error: no valid recipients";
	} else if (s->spool == NULL && s->data_error == NULL) {
		ask_spool(s);		/* then data_start() */
		return;
	}
	ev_timer_stop(s->cmd_timer);
	ev_timer_set(s->data_timer, s->sd->data_timeout);
	s->state = SMTP_STATE_BDAT;
}

static void
cmd_starttls(struct session *s)
{
	if (s->tls) {
		session_error(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (s->sd->tls == NULL) {
		session_reply(s, "454 4.7.0 TLS not available");
		return;
	}
	session_reply(s, "220 2.0.0 Ready to start TLS");
	s->state = SMTP_STATE_TLS;
	/* Sends the reply first; drops whatever was pipelined after. */
	io_starttls(s->io, s->sd->tls, true);
}

static void
cmd_quit(struct session *s)
{
	session_reply(s, "221 2.0.0 Bye");
	s->state = SMTP_STATE_CLOSING;
	io_close_after_flush(s->io);
}

void
session_command(struct session *s, char *line, size_t len)
{
	int	 flags = s->in_tx && (s->from_params.seen &
		    SMTP_PARAM_SMTPUTF8) ? SMTP_PARSE_F_UTF8 : 0;

	if (smtp_proto_cmd_parse(line, len, flags, &s->cmd) == -1) {
		if (s->cmd.verb == SMTP_VERB_AUTH && !auth_allowed(s))
			return;
		session_error(s, "%u %s %s", s->cmd.err.code, s->cmd.err.enh,
		    s->cmd.err.text);
		return;
	}
	switch (s->cmd.verb) {
	case SMTP_VERB_EHLO:
	case SMTP_VERB_HELO:
		cmd_helo(s, s->cmd.verb == SMTP_VERB_EHLO);
		break;
	case SMTP_VERB_MAIL:
		cmd_mail(s);
		break;
	case SMTP_VERB_RCPT:
		cmd_rcpt(s);
		break;
	case SMTP_VERB_DATA:
		cmd_data(s);
		break;
	case SMTP_VERB_BDAT:
		cmd_bdat(s);
		break;
	case SMTP_VERB_RSET:
		session_tx_reset(s);
		session_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_VERB_NOOP:
		session_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_VERB_QUIT:
		cmd_quit(s);
		break;
	case SMTP_VERB_VRFY:	/* RFC 5321 3.5.3: never says who exists */
		session_reply(s, "252 2.5.2 Cannot VRFY user, but will accept "
		    "message and attempt delivery");
		break;
	case SMTP_VERB_EXPN:
		session_error(s, "502 5.5.1 Error: EXPN is disabled");
		break;
	case SMTP_VERB_HELP:
		session_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA "
		    "BDAT RSET NOOP QUIT VRFY HELP STARTTLS%s",
		    s->submission ? " AUTH" : "");
		break;
	case SMTP_VERB_STARTTLS:
		cmd_starttls(s);
		break;
	case SMTP_VERB_AUTH:
		auth_command(s);
		break;
	case SMTP_VERB_UNKNOWN:		/* the parser refuses these */
		session_error(s, "500 5.5.1 Error: command not recognized");
		break;
	}
}
