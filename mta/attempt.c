/*
 * mta/attempt.c — connecting to the route's addresses in turn and running
 * lib/smtp_client on the first that answers.
 *
 * The next address is tried after a failed connection, and after a
 * session-level failure before MAIL (a 4xx/5xx greeting or EHLO, a TLS or
 * AUTH failure, a lost connection): no recipient has been decided then.
 * From MAIL on, the transaction's results are final for this attempt.
 * When every address failed, every recipient gets the last error,
 * temporary unless every failure was permanent.  Under TLS policy "may" a
 * failed handshake is retried once on the same address in plaintext, as
 * Postfix does.
 *
 * A peer without 8BITMIME gets an 8-bit message converted to 7-bit MIME
 * (smtp_8bit_conversion, lib/mime_7bit: RFC 6152 §3 forbids sending it
 * 8-bit data, RFC 1652 §3 allows the conversion): once per request, on
 * the first such peer, synchronously (the input mapped, the output in a
 * memfd that later addresses get too); then the transaction runs again on
 * the same address.  A message that cannot be converted (8-bit headers,
 * message/global...) or conversion turned off bounces with 5.6.3; a
 * failure of ours (memory, a system call) defers the message (4.3.0).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bsd/string.h>

#include "buf.h"
#include "ev.h"
#include "log.h"
#include "mime.h"
#include "proto_mta.h"
#include "proto_queue.h"
#include "xmalloc.h"
#include "mta.h"

static void	attempt_next(struct mta_req *);

static const char *
target_str(const struct mta_target *t, char *out, size_t size)
{
	snprintf(out, size, "%s[%s]:%u", t->name, t->addr, t->port);
	return out;
}

static void
attempt_close(struct mta_req *r)
{
	ev_io_del(&r->conn_io);
	ev_timer_del(&r->conn_timer);
	if (r->sock != -1)
		close(r->sock);
	r->sock = -1;
}

void
attempt_cancel(struct mta_req *r)
{
	attempt_close(r);
	smtp_client_free(&r->sc);
	free(r->srcpts);
	r->srcpts = NULL;
}

/* A session-level failure on this address; remember it, go on. */
static void
attempt_failed(struct mta_req *r, const struct smtp_client_dsn *d)
{
	r->last = *d;
	if (d->status != SMTP_CLIENT_PERM)
		r->all_perm = false;
	r->no_tls = false;
	r->cur++;
	attempt_next(r);
}

static void
attempt_connect_failed(struct mta_req *r, int err)
{
	struct smtp_client_dsn	 d = { .status = SMTP_CLIENT_TEMP };
	char			 where[MTA_RELAY_SIZE];

	attempt_close(r);
	strlcpy(d.enh, "4.4.1", sizeof(d.enh));
	snprintf(d.text, sizeof(d.text), "connect to %s: %s",
	    target_str(&r->targets[r->cur], where, sizeof(where)),
	    err == ETIMEDOUT ? "Connection timed out" : strerror(err));
	log_info("%s: %s", r->queue_id, d.text);
	attempt_failed(r, &d);
}

/* Every address failed: the last error for every recipient. */
static void
attempt_exhausted(struct mta_req *r)
{
	struct smtp_client_dsn	*d = &r->last;

	if (d->status == SMTP_CLIENT_NONE) {
		req_fail_all(r, MTA_TEMPFAIL, "4.4.1", "no address to try");
		return;
	}
	if (!r->all_perm)
		d->enh[0] = '4';
	req_fail_all(r, r->all_perm ? MTA_PERMFAIL : MTA_TEMPFAIL, d->enh,
	    d->text);
}

/* ---- the SMTP session ---- */

static void
attempt_log_tls(const struct mta_req *r, const struct smtp_client_result
    *res)
{
	const struct tls_info	*t = &res->tls;
	char			 where[MTA_RELAY_SIZE];

	log_info("%s: %s TLS connection established to %s: %s with cipher "
	    "%s (%d/%d bits)", r->queue_id, !t->peer_cert ? "Anonymous" :
	    t->verified ? "Verified" : "Untrusted",
	    target_str(&r->targets[r->cur], where, sizeof(where)),
	    t->version, t->cipher, t->bits, t->alg_bits);
}

static uint32_t
map_status(enum smtp_client_status s)
{
	switch (s) {
	case SMTP_CLIENT_OK:
		return MTA_OK;
	case SMTP_CLIENT_PERM:
	case SMTP_CLIENT_NEED_7BIT:
		return MTA_PERMFAIL;
	default:
		return MTA_TEMPFAIL;
	}
}

/* The transaction ran (or failed from MAIL on): final results. */
static void
attempt_results(struct mta_req *r, const struct smtp_client_result *res)
{
	bool	 dsn = res->caps.flags & SMTP_CAP_DSN;

	for (size_t i = 0; i < r->nrcpts; i++) {
		struct mta_rcpt		*rc = &r->rcpts[i];
		const struct smtp_client_dsn *d = &r->srcpts[i].result;

		if (rc->reply != NULL)
			continue;
		if (d->status == SMTP_CLIENT_NONE) {	/* not expected */
			rc->status = MTA_TEMPFAIL;
			strlcpy(rc->dsn, "4.3.0", sizeof(rc->dsn));
			rc->reply = xstrdup("transaction not completed");
			continue;
		}
		rc->status = map_status(d->status);
		strlcpy(rc->dsn, d->enh, sizeof(rc->dsn));
		rc->reply = xstrdup(d->text[0] != '\0' ? d->text :
		    smtp_client_status_str(d->status));
		if (rc->status == MTA_OK && !dsn &&
		    (rc->notify & QUEUE_NOTIFY_SUCCESS))
			rc->flags |= MTA_F_RELAYED;
	}
	req_done(r);
}

/* ---- 8-bit to 7-bit MIME ---- */

/*
 * The message in 7-bit MIME into a memfd: 1 (r->conv_fd set), 0 when it
 * is 7-bit already, -1 with *err_r, *local_r telling a failure of ours
 * (memory, a system call) from a message that cannot be converted.  The
 * input is mapped, not read: only the output takes memory.
 */
static int
attempt_convert(struct mta_req *r, char **err_r, bool *local_r)
{
	void	*map;
	int	 fd, rc;

	*local_r = true;
	if (r->size == 0)
		return 0;
	if (r->size > SIZE_MAX || (map = mmap(NULL, (size_t)r->size,
	    PROT_READ, MAP_PRIVATE, r->fd, 0)) == MAP_FAILED) {
		*err_r = xasprintf("cannot map the message: %s",
		    strerror(errno));
		return -1;
	}
	if ((fd = memfd_create("wharf-7bit", MFD_CLOEXEC)) == -1) {
		*err_r = xasprintf("memfd_create: %s", strerror(errno));
		rc = -1;
	} else if ((rc = mime_7bit_fd(fd, map, (size_t)r->size, err_r)) == 1)
		r->conv_fd = fd;
	else {
		close(fd);
		/* mime.h: write errors, and only they, say "write: " */
		*local_r = rc == -1 && str_has_prefix(*err_r, "write: ");
	}
	munmap(map, (size_t)r->size);
	return rc;
}

/* From now on the transaction is 7BIT, from conv_fd when converted. */
static int
attempt_tx_7bit(struct mta_req *r, char **err_r, bool *local_r)
{
	struct stat	 st;

	r->tx.body = SMTP_CLIENT_BODY_7BIT;
	r->converted = true;
	if (r->conv_fd == -1)
		return 0;
	if (fstat(r->conv_fd, &st) == -1) {
		*err_r = xasprintf("fstat: %s", strerror(errno));
		*local_r = true;
		return -1;
	}
	r->tx.msg_fd = r->conv_fd;
	r->tx.msg_off = 0;
	r->tx.msg_len = st.st_size;
	r->tx.size = (uint64_t)st.st_size;
	return 0;
}

/* Bounced (5.6.3), or deferred (4.3.0) when the failure was ours. */
static void
attempt_7bit_failed(struct mta_req *r, char *why, bool local)
{
	const struct mta_target	*t = &r->targets[r->cur];
	char			*text;

	text = xasprintf("host %s[%s] does not support 8BITMIME and the "
	    "message could not be converted: %s", t->name, t->addr, why);
	log_info("%s: %s", r->queue_id, text);
	req_fail_all(r, local ? MTA_TEMPFAIL : MTA_PERMFAIL,
	    local ? "4.3.0" : "5.6.3", text);
	free(text);
	free(why);
}

/*
 * SMTP_CLIENT_NEED_7BIT: nothing was sent (QUIT followed EHLO); convert
 * and try the same address again, or bounce.
 */
static void
attempt_7bit(struct mta_req *r)
{
	const struct mta_target	*t = &r->targets[r->cur];
	char			*why = NULL;
	bool			 local = false;
	int			 rc = -1;

	if (!r->m->conv_8bit)
		why = xstrdup("conversion is turned off");
	else if (r->converted)	/* not expected: tx is 7BIT */
		why = xstrdup("the converted message was refused");
	else if ((rc = attempt_convert(r, &why, &local)) != -1)
		rc = attempt_tx_7bit(r, &why, &local);
	if (rc == -1) {
		attempt_7bit_failed(r, why, local);
		return;
	}
	if (r->conv_fd != -1)
		log_info("%s: converted to 7bit MIME for %s[%s]", r->queue_id,
		    t->name, t->addr);
	else
		log_info("%s: no 8-bit content: sent as 7bit to %s[%s]",
		    r->queue_id, t->name, t->addr);
	attempt_next(r);
}

static void
attempt_done(struct smtp_client *sc, const struct smtp_client_result *resp,
    void *arg)
{
	struct mta_req			*r = arg;
	struct smtp_client_result	 res = *resp;	/* sc goes now */
	bool				 session;

	smtp_client_free(&r->sc);
	(void)sc;
	session = (res.status == SMTP_CLIENT_TEMP ||
	    res.status == SMTP_CLIENT_PERM) &&
	    res.stage < SMTP_CLIENT_STAGE_MAIL;
	if (res.tls_used)
		attempt_log_tls(r, &res);
	if (res.status == SMTP_CLIENT_NEED_7BIT) {
		attempt_7bit(r);
		return;
	}
	if (!session) {
		attempt_results(r, &res);
		return;
	}
	if (res.tls_failed && r->tls == SMTP_TLS_MAY && !r->no_tls) {
		log_info("%s: %s; trying again without TLS", r->queue_id,
		    res.dsn.text);
		r->no_tls = true;
		attempt_next(r);
		return;
	}
	log_info("%s: %s", r->queue_id, res.dsn.text);
	attempt_failed(r, &res.dsn);
}

static void
attempt_params(const struct mta_req *r, struct smtp_client_params *p)
{
	const struct mta	*m = r->m;
	const struct mta_target	*t = &r->targets[r->cur];

	memset(p, 0, sizeof(*p));
	p->helo_name = m->helo_name;
	p->peer_name = t->name;
	p->peer_addr = t->addr;
	p->tls = r->no_tls || m->tls_ctx == NULL ? SMTP_TLS_NONE : r->tls;
	p->tls_ctx = m->tls_ctx;
	if (r->auth) {
		p->auth = SMTP_CLIENT_AUTH_ANY;
		p->auth_user = m->auth_user;
		p->auth_pass = m->auth_pass;
	}
	p->timeout_greeting_ms = m->helo_timeout_ms;
	p->timeout_cmd_ms = m->helo_timeout_ms;
	p->timeout_data_init_ms = m->helo_timeout_ms;
	p->timeout_data_block_ms = m->data_timeout_ms;
	p->timeout_final_ms = m->data_timeout_ms;
}

static void
attempt_session(struct mta_req *r)
{
	struct smtp_client_params p;
	int			 fd = r->sock;

	ev_io_del(&r->conn_io);
	ev_timer_del(&r->conn_timer);
	r->sock = -1;
	target_str(&r->targets[r->cur], r->relay, sizeof(r->relay));
	for (size_t i = 0; i < r->nrcpts; i++)
		memset(&r->srcpts[i].result, 0, sizeof(r->srcpts[i].result));
	attempt_params(r, &p);
	/* The client owns fd from here, failure or not. */
	if ((r->sc = smtp_client_new(r->m->ev, fd, &p, &r->tx, attempt_done,
	    r)) == NULL)
		attempt_connect_failed(r, errno);
}

/* ---- connecting ---- */

static void
attempt_conn_ready(int fd, unsigned events, void *arg)
{
	struct mta_req	*r = arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0)
		attempt_connect_failed(r, err);
	else
		attempt_session(r);
	(void)events;
}

static void
attempt_conn_timeout(void *arg)
{
	attempt_connect_failed(arg, ETIMEDOUT);
}

static void
attempt_next(struct mta_req *r)
{
	struct mta_target	*t;

	if (r->cur >= r->ntargets) {
		attempt_exhausted(r);
		return;
	}
	t = &r->targets[r->cur];
	r->sock = socket(t->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (r->sock == -1) {
		attempt_connect_failed(r, errno);
		return;
	}
	if (connect(r->sock, (struct sockaddr *)&t->ss, t->sslen) == 0) {
		attempt_session(r);
		return;
	}
	if (errno != EINPROGRESS) {
		attempt_connect_failed(r, errno);
		return;
	}
	r->conn_io = ev_io_add(r->m->ev, r->sock, EV_WRITE,
	    attempt_conn_ready, r);
	r->conn_timer = ev_timer_add(r->m->ev, r->m->connect_timeout_ms,
	    attempt_conn_timeout, r);
	if (r->conn_io == NULL)
		attempt_connect_failed(r, errno);
}

/* ---- the transaction, set up once ---- */

static unsigned
map_notify(uint32_t q)
{
	return ((q & QUEUE_NOTIFY_NEVER) ? SMTP_NOTIFY_NEVER : 0) |
	    ((q & QUEUE_NOTIFY_SUCCESS) ? SMTP_NOTIFY_SUCCESS : 0) |
	    ((q & QUEUE_NOTIFY_FAILURE) ? SMTP_NOTIFY_FAILURE : 0) |
	    ((q & QUEUE_NOTIFY_DELAY) ? SMTP_NOTIFY_DELAY : 0);
}

static void
attempt_tx(struct mta_req *r)
{
	struct smtp_client_tx	*tx = &r->tx;

	r->srcpts = xcalloc(r->nrcpts, sizeof(*r->srcpts));
	for (size_t i = 0; i < r->nrcpts; i++) {
		r->srcpts[i].address = r->rcpts[i].address;
		r->srcpts[i].notify = map_notify(r->rcpts[i].notify);
		r->srcpts[i].orcpt = r->rcpts[i].orcpt;
	}
	memset(tx, 0, sizeof(*tx));
	tx->mail_from = r->sender;
	tx->size = r->size;
	/* BINARYMIME goes as 8BITMIME: no BDAT here (smtp_client.h). */
	tx->body = r->body == MTA_BODY_7BIT ? SMTP_CLIENT_BODY_7BIT :
	    SMTP_CLIENT_BODY_8BITMIME;
	tx->smtputf8 = r->smtputf8;
	tx->envid = r->envid;
	tx->ret = r->ret == MTA_RET_FULL ? SMTP_RET_FULL :
	    r->ret == MTA_RET_HDRS ? SMTP_RET_HDRS : SMTP_RET_NONE;
	tx->rcpts = r->srcpts;
	tx->nrcpts = r->nrcpts;
	tx->msg_fd = r->size > 0 ? r->fd : -1;
	tx->msg_off = 0;
	tx->msg_len = (off_t)r->size;
}

void
attempt_start(struct mta_req *r)
{
	if (r->body == MTA_BODY_BINARYMIME)
		log_info("%s: BINARYMIME body sent as 8BITMIME", r->queue_id);
	attempt_tx(r);
	r->cur = 0;
	r->all_perm = true;
	attempt_next(r);
}
