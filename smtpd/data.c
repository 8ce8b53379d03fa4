/*
 * smtpd/data.c — the message body: DATA (RFC 5321 4.1.1.4) and BDAT
 * (RFC 3030) into qmgr's spool file.
 *
 * Only CRLF "." CRLF ends DATA, and only when the line before also ended
 * in CRLF: no other end-of-data variant (bare LF, bare CR) can smuggle a
 * second message in.  A bare LF or CR in DATA rejects the message, or with
 * smtpd_bare_newline = normalize becomes CRLF.  Dot-stuffing is undone
 * (4.5.2); every other byte, 8-bit or NUL, is stored as sent.  Errors
 * found mid-body (too big, line too long, bare newline) are answered once
 * the body has been read to its end.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "ev.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "peer.h"
#include "proto_queue.h"
#include "tls.h"
#include "smtpd.h"

#define TEXT_LINE_MAX	998		/* RFC 5321 4.5.3.1.6, CRLF out */
/*
 * The reader's own limit in DATA is far above TEXT_LINE_MAX, so a line
 * that is merely too long is seen whole, with its terminator: whether the
 * next "." ends DATA must never depend on a line we did not see.
 */
#define DATA_READ_MAX	(200 * 1024)
#define FLUSH_AT	(64 * 1024)

static void
flush_out(struct session *s)
{
	const uint8_t	*p = BUF_DATA(&s->out);
	size_t		 left = s->out.len;
	ssize_t		 n;

	while (left > 0 && s->spool_fd != -1 && s->data_error == NULL) {
		if ((n = write(s->spool_fd, p, left)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s spool write", s->id);
			s->data_error = "451 4.3.0 Error: queue file write error";
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	buf_reset(&s->out);
}

/* Bytes of ours into the spool (not counted against the size limit). */
void
data_put(struct session *s, const void *data, size_t len)
{
	if (s->data_error != NULL)
		return;
	if (buf_add(&s->out, data, len) == -1) {
		flush_out(s);
		if (buf_add(&s->out, data, len) == -1)
			s->data_error = "451 4.3.0 Error: queue file write error";
	}
	if (s->out.len >= FLUSH_AT)
		flush_out(s);
}

/* Client bytes count against message_size_limit. */
static void
body_add(struct session *s, const void *data, size_t len)
{
	if (s->data_error != NULL)
		return;
	s->msg_size += len;
	if (s->msg_size > s->sd->size_limit) {
		s->data_error = "552 5.3.4 Error: message file too big";
		return;
	}
	if (submit_in_header(s))
		submit_feed(s, data, len);
	else
		data_put(s, data, len);
}

static const char *
protocol(struct session *s)
{
	bool	 utf8 = (s->from_params.seen & SMTP_PARAM_SMTPUTF8) != 0;

	static const char *const names[2][2][2] = {	/* utf8, tls, auth */
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
		{ { "UTF8SMTP", "UTF8SMTPA" }, { "UTF8SMTPS", "UTF8SMTPSA" } },
	};

	/* RFC 3848, RFC 6531 4.3 */
	if (!s->esmtp)
		return s->tls ? "SMTPS" : "SMTP";
	return names[utf8][s->tls][s->auth_id != 0];
}

/* RFC 5321 4.4: our trace line goes first. */
void
data_received_header(struct session *s)
{
	struct tls_info	 ti;
	char		 date[64], tls[200] = "";
	time_t		 now = time(NULL);
	struct tm	 tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (s->tls && io_tls_info(s->io, &ti) == 0) {
		tls[0] = '(';
		tls_info_received(&ti, tls + 1, sizeof(tls) - 2);
		strlcat(tls, ")\r\n\t", sizeof(tls));
	}
	buf_printf(&s->out, "Received: from %s ([%s])\r\n", s->helo,
	    s->addr);
	if (s->auth_id != 0 && s->sd->received_auth)
		buf_printf(&s->out, "\t(Authenticated sender: %s)\r\n",
		    s->auth_user);
	buf_printf(&s->out, "\tby %s (Wharf) with %s\r\n\t%sid %s",
	    s->sd->hostname, protocol(s), tls, s->spool);
	if (s->nrcpt == 1)
		buf_printf(&s->out, "\r\n\tfor <%s>", s->rcpts[0].address);
	buf_printf(&s->out, "; %s\r\n", date);
}

void
data_start(struct session *s)
{
	/* The body has its own clock: smtpd_data_timeout. */
	ev_timer_stop(s->cmd_timer);
	if (s->submission && s->data_error == NULL)
		submit_start(s);
	if (s->cmd.verb == SMTP_VERB_BDAT) {
		if (s->data_error == NULL)
			data_received_header(s);
		s->state = SMTP_STATE_BDAT;
		ev_timer_set(s->data_timer, s->sd->data_timeout);
		return;
	}
	if (s->data_error != NULL) {
		session_reply(s, "%s", s->data_error);
		session_tx_reset(s);
		s->state = SMTP_STATE_CMD;
		return;
	}
	data_received_header(s);
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	s->state = SMTP_STATE_DATA;
	s->prev_crlf = true;
	io_set_line_max(s->io, DATA_READ_MAX);
	ev_timer_set(s->data_timer, s->sd->data_timeout);
}

/* A line with bare CRs, normalised: every lone CR becomes CRLF. */
static void
body_add_normalized(struct session *s, const char *line, size_t len)
{
	size_t	 start = 0;

	for (size_t i = 0; i < len; i++) {
		if (line[i] != '\r')
			continue;
		body_add(s, line + start, i - start);
		body_add(s, "\r\n", 2);
		start = i + 1;
	}
	body_add(s, line + start, len - start);
}

static void
data_line(struct session *s, char *line, size_t len, int flags)
{
	bool	 crlf = (flags & IO_LINE_CRLF) != 0;
	bool	 bare = !crlf || (flags & IO_LINE_BARECR);

	if (len > TEXT_LINE_MAX && s->data_error == NULL)
		s->data_error = "550 5.6.0 Error: message line longer than 998 "
		    "octets (RFC 5321 4.5.3.1.6)";
	if (bare && !s->sd->normalize_newlines && s->data_error == NULL)
		s->data_error = "550 5.6.0 Error: bare <LF> or <CR> in message "
		    "text (RFC 5321 2.3.8)";
	if (len > 0 && line[0] == '.') {	/* RFC 5321 4.5.2 */
		line++;
		len--;
	}
	if (bare)
		body_add_normalized(s, line, len);
	else
		body_add(s, line, len);
	body_add(s, "\r\n", 2);
	s->prev_crlf = crlf;
}

void
data_input(struct session *s)
{
	char		*line;
	size_t		 len;
	int		 flags;
	enum io_line	 r;

	while (s->state == SMTP_STATE_DATA) {
		if ((r = io_getline(s->io, &line, &len, &flags)) == IO_LINE_MORE)
			return;
		if (r == IO_LINE_TOOLONG) {
			/* Its end was not seen: it cannot precede the end. */
			if (s->data_error == NULL)
				s->data_error = "550 5.6.0 Error: message line "
				    "longer than 998 octets (RFC 5321 "
				    "4.5.3.1.6)";
			s->prev_crlf = false;
			continue;
		}
		if (len == 1 && line[0] == '.' && (flags & IO_LINE_CRLF) &&
		    !(flags & IO_LINE_BARECR) && s->prev_crlf) {
			io_set_line_max(s->io, SMTP_CMD_PARAM_LINE_MAX - 2);
			data_finish(s);
			return;
		}
		data_line(s, line, len, flags);
	}
}

void
bdat_input(struct session *s)
{
	size_t	 n;

	while (s->bdat_left > 0 && io_datalen(s->io) > 0) {
		n = io_datalen(s->io);
		if (n > s->bdat_left)
			n = (size_t)s->bdat_left;
		if (s->spool_fd != -1)
			body_add(s, io_data(s->io), n);
		io_consume(s->io, n);
		s->bdat_left -= n;
	}
	if (s->bdat_left > 0)
		return;
	if (s->bdat_last || s->data_error != NULL) {
		data_finish(s);
		return;
	}
	session_reply(s, "250 2.0.0 Ok: %llu octets received",
	    (unsigned long long)s->cmd.chunk_size);
	ev_timer_set(s->data_timer, s->sd->data_timeout);
	ev_timer_set(s->cmd_timer, s->sd->timeout);
	s->state = SMTP_STATE_CMD;
}

static void
commit_reply(void *arg, struct ipc_msg *msg)
{
	struct session	*s = arg;
	uint32_t	 status = QUEUE_TEMPFAIL;
	const char	*qid = "";
	char		 from[ADDR_FORMAT_SIZE], safe[300];

	if (msg != NULL && msg->hdr.type == QUEUE_COMMIT_R) {
		ipc_get_u32(msg, &status);
		ipc_get_str(msg, &qid);
	}
	addr_format(&s->from, from, sizeof(from));
	log_safe(safe, sizeof(safe), from, strlen(from));
	if (status == QUEUE_OK) {
		log_info("%s %s: from=%s size=%llu nrcpt=%zu proto=%s", s->id,
		    qid, safe, (unsigned long long)s->msg_size, s->nrcpt,
		    protocol(s));
		session_reply(s, "250 2.0.0 Ok: queued as %s", qid);
		free(s->spool);
		s->spool = NULL;	/* committed: nothing to abort */
	} else if (status == QUEUE_REJECT)
		session_reply(s, "554 5.3.4 Error: message not accepted");
	else
		session_reply(s, "451 4.3.0 Error: queue file write error");
	session_tx_reset(s);
	session_resume(s);
}

static void
put_envelope(struct session *s, struct ipc_out *o)
{
	char	 from[ADDR_FORMAT_SIZE];

	addr_mailbox(&s->from, from, sizeof(from));
	ipc_put_str(o, s->spool);
	ipc_put_str(o, from);
	ipc_put_str(o, s->from_params.envid);
	ipc_put_u32(o, (uint32_t)s->from_params.ret);
	ipc_put_u32(o, s->from_params.body == SMTP_BODY_8BITMIME ?
	    QUEUE_BODY_8BITMIME : QUEUE_BODY_7BIT);
	ipc_put_u32(o, (s->from_params.seen & SMTP_PARAM_SMTPUTF8) != 0);
	ipc_put_str(o, s->addr);
	ipc_put_str(o, "");
	ipc_put_str(o, s->helo);
	ipc_put_str(o, protocol(s));
	ipc_put_str(o, s->auth_user != NULL ? s->auth_user : "");
	ipc_put_u32(o, (uint32_t)s->nrcpt);
	for (size_t i = 0; i < s->nrcpt; i++) {
		ipc_put_str(o, s->rcpts[i].address);
		ipc_put_str(o, s->rcpts[i].orcpt);
		ipc_put_u32(o, s->rcpts[i].notify);	/* same bits */
	}
}

/* The body is complete: commit it, or answer the error found in it. */
void
data_finish(struct session *s)
{
	ev_timer_stop(s->data_timer);
	ev_timer_set(s->cmd_timer, s->sd->timeout);
	s->state = SMTP_STATE_CMD;
	if (s->submit != NULL && s->data_error == NULL) {
		submit_finish(s);	/* then data_commit() */
		return;
	}
	data_commit(s);
}

/*
 * Commit the spool file to the queue (SMTP_STATE_WAIT until qmgr
 * answers), or answer the error found in the body.
 */
void
data_commit(struct session *s)
{
	struct ipc_out	*o;
	uint32_t	 id;

	flush_out(s);
	s->state = SMTP_STATE_CMD;
	if (s->data_error != NULL) {
		log_info("%s message rejected: %s", s->id, s->data_error);
		session_error(s, "%s", s->data_error);
		session_tx_reset(s);
		return;
	}
	close(s->spool_fd);
	s->spool_fd = -1;
	if ((o = peer_begin(s->sd->qmgr, QUEUE_COMMIT, &id)) != NULL) {
		put_envelope(s, o);
		if (peer_send(s->sd->qmgr, o, id, s, &s->pending,
		    commit_reply) == 0) {
			s->state = SMTP_STATE_WAIT;
			io_pause_read(s->io);
			return;
		}
	}
	commit_reply(s, NULL);
}
