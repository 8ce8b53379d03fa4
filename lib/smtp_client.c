/*
 * smtp_client — the SMTP client engine (smtp_client.h): the session.
 *
 * One object per connection.  Everything happens in the io callback or
 * the one timer: replies are parsed from the io's input with lib/
 * smtp_proto's incremental parser and handed, one whole reply at a time,
 * to the handler of the state that expects it; each handler sends what
 * comes next and says what it waits for, and for how long.  The client is
 * held while it runs so that the done callback may free it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include <arpa/inet.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "ev.h"
#include "io.h"
#include "log.h"
#include "smtp_client.h"
#include "smtp_client_private.h"
#include "smtp_proto.h"
#include "tls.h"
#include "xmalloc.h"

/* Replies are short; the parser has its own line and reply limits. */
#define SC_IN_MAX	(4 * SMTP_REPLY_LINE_MAX)

static void	sc_after_ehlo(struct smtp_client *);

/* ---- names ---- */

const char *
smtp_client_status_str(enum smtp_client_status s)
{
	switch (s) {
	case SMTP_CLIENT_OK:
		return "sent";
	case SMTP_CLIENT_TEMP:
		return "deferred";
	case SMTP_CLIENT_PERM:
		return "bounced";
	case SMTP_CLIENT_NEED_7BIT:
		return "needs 7bit";
	default:
		return "none";
	}
}

const char *
smtp_client_stage_str(enum smtp_client_stage s)
{
	static const char *const names[] = {
		[SMTP_CLIENT_STAGE_GREETING] =
		    "receiving the initial server greeting",
		[SMTP_CLIENT_STAGE_EHLO] = "performing the EHLO handshake",
		[SMTP_CLIENT_STAGE_STARTTLS] = "sending STARTTLS",
		[SMTP_CLIENT_STAGE_TLS] = "performing the TLS handshake",
		[SMTP_CLIENT_STAGE_AUTH] = "performing SASL authentication",
		[SMTP_CLIENT_STAGE_MAIL] = "sending MAIL FROM",
		[SMTP_CLIENT_STAGE_RCPT] = "sending RCPT TO",
		[SMTP_CLIENT_STAGE_DATA] = "sending DATA command",
		[SMTP_CLIENT_STAGE_BODY] = "sending message body",
		[SMTP_CLIENT_STAGE_DOT] = ("sending end of data -- message "
		    "may be sent more than once"),
		[SMTP_CLIENT_STAGE_QUIT] = "sending QUIT",
	};

	if ((unsigned)s >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[s];
}

static enum smtp_client_stage
sc_stage(enum smtp_client_state s)
{
	static const enum smtp_client_stage stages[] = {
		[SC_GREETING] = SMTP_CLIENT_STAGE_GREETING,
		[SC_EHLO] = SMTP_CLIENT_STAGE_EHLO,
		[SC_HELO] = SMTP_CLIENT_STAGE_EHLO,
		[SC_STARTTLS] = SMTP_CLIENT_STAGE_STARTTLS,
		[SC_HANDSHAKE] = SMTP_CLIENT_STAGE_TLS,
		[SC_AUTH] = SMTP_CLIENT_STAGE_AUTH,
		[SC_AUTH_PLAIN] = SMTP_CLIENT_STAGE_AUTH,
		[SC_AUTH_LOGIN] = SMTP_CLIENT_STAGE_AUTH,
		[SC_AUTH_USER] = SMTP_CLIENT_STAGE_AUTH,
		[SC_AUTH_PASS] = SMTP_CLIENT_STAGE_AUTH,
		[SC_MAIL] = SMTP_CLIENT_STAGE_MAIL,
		[SC_RCPT] = SMTP_CLIENT_STAGE_RCPT,
		[SC_DATA] = SMTP_CLIENT_STAGE_DATA,
		[SC_BODY] = SMTP_CLIENT_STAGE_BODY,
		[SC_DOT] = SMTP_CLIENT_STAGE_DOT,
		[SC_DOT_DISCARD] = SMTP_CLIENT_STAGE_DOT,
		[SC_QUIT] = SMTP_CLIENT_STAGE_QUIT,
		[SC_DONE] = SMTP_CLIENT_STAGE_QUIT,
	};

	return stages[s];
}

/* ---- results ---- */

static enum smtp_client_status
sc_class_status(unsigned code)
{
	switch (code / 100) {
	case 2:
		return SMTP_CLIENT_OK;
	case 5:
		return SMTP_CLIENT_PERM;
	default:
		return SMTP_CLIENT_TEMP;
	}
}

static unsigned
sc_status_class(enum smtp_client_status s)
{
	return s == SMTP_CLIENT_OK ? 2 : s == SMTP_CLIENT_TEMP ? 4 : 5;
}

/* The reply's text, one line, made printable, at most size - 1. */
static void
sc_reply_text(char *out, size_t size, const struct smtp_reply *r)
{
	char	*tmp;
	size_t	 n = r->text_len < size ? r->text_len : size, i;

	/* Each octet gives at least one character: size octets are more
	   than out holds, so log_safe marks the cut when there is one. */
	tmp = xmalloc(n + 1);
	for (i = 0; i < n; i++)
		tmp[i] = r->text[i] == '\n' ? ' ' : r->text[i];
	log_safe(out, size, tmp, n);
	free(tmp);
}

static void
sc_textf(struct smtp_client_dsn *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sc_textf(struct smtp_client_dsn *d, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(d->text, sizeof(d->text), fmt, ap);
	va_end(ap);
}

/*
 * A result from a reply: the class decides, or it is temporary
 * (force_temp: a 2xx or 3xx where none was due, a refused AUTH).  what:
 * "RCPT TO command"; NULL for the greeting, "" for the reply alone.
 */
void
smtp_client_dsn_reply(struct smtp_client *c, struct smtp_client_dsn *d,
    const struct smtp_reply *r, bool force_temp, const char *what)
{
	char		 enh[SMTP_CLIENT_ENH_SIZE] = "", t[400];
	const char	*sp = r->text_len > 0 ? " " : "";
	unsigned	 cl;

	d->status = force_temp ? SMTP_CLIENT_TEMP : sc_class_status(r->code);
	d->code = r->code;
	cl = sc_status_class(d->status);
	if (r->has_enh) {
		snprintf(enh, sizeof(enh), " %u.%u.%u", r->enh[0], r->enh[1],
		    r->enh[2]);
		snprintf(d->enh, sizeof(d->enh), "%u.%u.%u", cl, r->enh[1],
		    r->enh[2]);
	} else
		snprintf(d->enh, sizeof(d->enh), "%u.0.0", cl);
	sc_reply_text(t, sizeof(t), r);
	if (what == NULL)
		sc_textf(d, "host %s refused to talk to me: %u%s%s%s",
		    c->peer, r->code, enh, sp, t);
	else if (*what == '\0')
		sc_textf(d, "%u%s%s%s", r->code, enh, sp, t);
	else
		sc_textf(d, "host %s said: %u%s%s%s (in reply to %s)",
		    c->peer, r->code, enh, sp, t, what);
}

void
smtp_client_dsn_local(struct smtp_client_dsn *d,
    enum smtp_client_status status, const char *enh, const char *fmt, ...)
{
	va_list	 ap;

	d->status = status;
	d->code = 0;
	strlcpy(d->enh, enh, sizeof(d->enh));
	va_start(ap, fmt);
	vsnprintf(d->text, sizeof(d->text), fmt, ap);
	va_end(ap);
}

/* The session's outcome; every recipient not decided shares it. */
void
smtp_client_decide(struct smtp_client *c, const struct smtp_client_dsn *d)
{
	struct smtp_client_rcpt	*rc;
	size_t			 i;

	/* The first outcome stands (a MAIL FROM refusal, then EOF). */
	if (c->result.status == SMTP_CLIENT_NONE) {
		c->result.status = d->status;
		c->result.dsn = *d;
		c->result.stage = sc_stage(c->state);
	}
	for (i = 0; i < c->tx->nrcpts; i++) {
		rc = &c->tx->rcpts[i];
		if (rc->result.status != SMTP_CLIENT_NONE)
			continue;
		rc->result = *d;
		if (d->status == SMTP_CLIENT_NEED_7BIT)
			rc->result.status = SMTP_CLIENT_PERM;
	}
}

void
smtp_client_fail(struct smtp_client *c, const struct smtp_client_dsn *d,
    bool quit)
{
	smtp_client_decide(c, d);
	if (quit)
		smtp_client_quit(c);
	else
		smtp_client_end(c);
}

static void
sc_fail_reply(struct smtp_client *c, const struct smtp_reply *r,
    bool force_temp, const char *what)
{
	struct smtp_client_dsn	 d;

	smtp_client_dsn_reply(c, &d, r, force_temp, what);
	smtp_client_fail(c, &d, true);
}

/* A temporary failure found here, then QUIT. */
void
smtp_client_fail_local(struct smtp_client *c, const char *enh,
    const char *fmt, ...)
{
	struct smtp_client_dsn	 d;
	va_list			 ap;

	d.status = SMTP_CLIENT_TEMP;
	d.code = 0;
	strlcpy(d.enh, enh, sizeof(d.enh));
	va_start(ap, fmt);
	vsnprintf(d.text, sizeof(d.text), fmt, ap);
	va_end(ap);
	smtp_client_fail(c, &d, true);
}

/* What remains undecided at the end was not tried (a safety net). */
static void
sc_finalise(struct smtp_client *c)
{
	struct smtp_client_result	*res = &c->result;
	struct smtp_client_dsn		 d;
	size_t				 i;

	/* OK: dsn is the reply to the end of data, if there was one. */
	if (res->status == SMTP_CLIENT_NONE)
		res->status = SMTP_CLIENT_OK;
	if (res->dsn.status == SMTP_CLIENT_NONE) {
		res->dsn.status = SMTP_CLIENT_OK;
		strlcpy(res->dsn.enh, "2.0.0", sizeof(res->dsn.enh));
	}
	smtp_client_dsn_local(&d, SMTP_CLIENT_TEMP, "4.3.0",
	    "transaction with %s not completed", c->peer);
	res->ndelivered = 0;
	for (i = 0; i < c->tx->nrcpts; i++) {
		if (c->tx->rcpts[i].result.status == SMTP_CLIENT_NONE)
			c->tx->rcpts[i].result = d;
		if (c->tx->rcpts[i].result.status == SMTP_CLIENT_OK)
			res->ndelivered++;
	}
}

/* ---- output, waits, the end ---- */

/* The queue is sized for the worst case: a failure is a bug. */
void
smtp_client_send(struct smtp_client *c, const char *s, size_t len)
{
	if (io_write(c->io, s, len) == -1)
		fatal("smtp_client: queue %zu bytes", len);
}

void
smtp_client_send_cmd(struct smtp_client *c, const struct smtp_cmd *cmd)
{
	struct buf	 b;

	buf_init(&b, SMTP_CMD_PARAM_LINE_MAX);
	if (smtp_proto_cmd_format(&b, cmd) == -1 ||
	    buf_add(&b, "\r\n", 2) == -1)
		fatalx("smtp_client: cannot format %s",
		    smtp_proto_verb_name(cmd->verb));
	smtp_client_send(c, (const char *)BUF_DATA(&b), b.len);
	buf_clear(&b);
}

static void
sc_send_str(struct smtp_client *c, const char *s)
{
	smtp_client_send(c, s, strlen(s));
}

void
smtp_client_wait(struct smtp_client *c, enum smtp_client_state s,
    uint64_t ms)
{
	c->state = s;
	if (s != SC_QUIT && s != SC_DONE)
		c->result.stage = sc_stage(s);
	ev_timer_set(c->timer, ms);
}

/* RFC 5321 §4.1.1.10; the reply is awaited briefly, then we close. */
void
smtp_client_quit(struct smtp_client *c)
{
	sc_send_str(c, "QUIT\r\n");
	smtp_client_wait(c, SC_QUIT, c->params.timeout_quit_ms);
}

void
smtp_client_end(struct smtp_client *c)
{
	c->state = SC_DONE;
	ev_timer_stop(c->timer);
	io_free(&c->io);
	sc_finalise(c);
	c->finished = true;
	c->done(c, &c->result, c->arg);
}

/* ---- greeting, EHLO, HELO ---- */

static void
sc_greeting_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	char	 line[SMTP_CMD_LINE_MAX];

	if (r->code / 100 != 2) {
		sc_fail_reply(c, r, r->code / 100 == 3, NULL);
		return;
	}
	snprintf(line, sizeof(line), "EHLO %s\r\n", c->params.helo_name);
	sc_send_str(c, line);
	smtp_client_wait(c, SC_EHLO, c->params.timeout_cmd_ms);
}

/* RFC 5321 §3.2: a server that refuses EHLO may still take HELO. */
static void
sc_ehlo_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	char	 line[SMTP_CMD_LINE_MAX];

	if (r->code / 100 == 2) {
		c->result.esmtp = true;
		(void)smtp_proto_caps_parse(r, &c->result.caps);
		sc_after_ehlo(c);
		return;
	}
	if (r->code / 100 != 5) {
		sc_fail_reply(c, r, true, "EHLO command");
		return;
	}
	memset(&c->result.caps, 0, sizeof(c->result.caps));
	snprintf(line, sizeof(line), "HELO %s\r\n", c->params.helo_name);
	sc_send_str(c, line);
	smtp_client_wait(c, SC_HELO, c->params.timeout_cmd_ms);
}

static void
sc_helo_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	if (r->code / 100 != 2) {
		sc_fail_reply(c, r, r->code / 100 == 3, "HELO command");
		return;
	}
	c->result.esmtp = false;
	memset(&c->result.caps, 0, sizeof(c->result.caps));
	sc_after_ehlo(c);
}

/* ---- STARTTLS (RFC 3207) ---- */

static bool
sc_is_ip(const char *name)
{
	unsigned char	 a[16];

	return inet_pton(AF_INET, name, a) == 1 ||
	    inet_pton(AF_INET6, name, a) == 1;
}

static void
sc_starttls_begin(struct smtp_client *c)
{
	struct smtp_client_dsn	 d;
	SSL			*ssl;

	if (io_starttls(c->io, c->params.tls_ctx, false) == -1) {
		/* The peer expects a handshake: no QUIT in plaintext. */
		c->result.tls_failed = true;
		c->state = SC_HANDSHAKE;
		smtp_client_dsn_local(&d, SMTP_CLIENT_TEMP, "4.7.5",
		    "Cannot start TLS with %s: %s", c->peer, io_error(c->io));
		smtp_client_fail(c, &d, false);
		return;
	}
	ssl = io_ssl(c->io);
	if (!sc_is_ip(c->params.peer_name))
		(void)SSL_set_tlsext_host_name(ssl, c->params.peer_name);
	/* The name is always checked, so that tls.verified means it. */
	(void)SSL_set1_host(ssl, c->params.peer_name);
	SSL_set_verify(ssl, c->params.tls == SMTP_TLS_VERIFY ?
	    SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	smtp_client_wait(c, SC_HANDSHAKE, c->params.timeout_cmd_ms);
}

static void
sc_starttls_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	if (r->code / 100 == 2) {
		sc_starttls_begin(c);
		return;
	}
	if (c->params.tls == SMTP_TLS_MAY) {
		sc_after_ehlo(c);	/* on in plaintext */
		return;
	}
	sc_fail_reply(c, r, true, "STARTTLS command");
}

static void
sc_tls_ready(struct smtp_client *c)
{
	char	 line[SMTP_CMD_LINE_MAX];

	if (c->state != SC_HANDSHAKE)
		return;
	c->result.tls_used = true;
	(void)io_tls_info(c->io, &c->result.tls);
	if (c->params.tls == SMTP_TLS_VERIFY && !c->result.tls.verified) {
		c->result.tls_failed = true;
		smtp_client_fail_local(c, "4.7.5", "Server certificate of "
		    "%s not verified: %s", c->peer,
		    c->result.tls.verify_error);
		return;
	}
	/* RFC 3207 §4.2: forget what was learnt before TLS. */
	c->result.esmtp = false;
	memset(&c->result.caps, 0, sizeof(c->result.caps));
	snprintf(line, sizeof(line), "EHLO %s\r\n", c->params.helo_name);
	sc_send_str(c, line);
	smtp_client_wait(c, SC_EHLO, c->params.timeout_cmd_ms);
}

static void
sc_tls_error(struct smtp_client *c)
{
	struct smtp_client_dsn	 d;

	c->result.tls_failed = true;
	smtp_client_dsn_local(&d, SMTP_CLIENT_TEMP, "4.7.5",
	    "Cannot start TLS with %s: handshake failure (%s)", c->peer,
	    io_error(c->io));
	smtp_client_fail(c, &d, false);
}

/* After EHLO (or HELO): TLS, AUTH, then the transaction. */
static void
sc_after_ehlo(struct smtp_client *c)
{
	if (c->params.tls != SMTP_TLS_NONE && !c->tls_tried) {
		c->tls_tried = true;
		if (c->result.caps.flags & SMTP_CAP_STARTTLS) {
			sc_send_str(c, "STARTTLS\r\n");
			smtp_client_wait(c, SC_STARTTLS,
			    c->params.timeout_cmd_ms);
			return;
		}
		if (c->params.tls != SMTP_TLS_MAY) {
			smtp_client_fail_local(c, "4.7.4", "TLS is required, "
			    "but was not offered by host %s", c->peer);
			return;
		}
	}
	if (c->params.auth != SMTP_CLIENT_AUTH_NONE && !c->result.auth_used) {
		smtp_client_auth_start(c);
		return;
	}
	smtp_client_tx_start(c);
}

/* ---- input, events ---- */

static void
sc_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	switch (c->state) {
	case SC_GREETING:
		sc_greeting_reply(c, r);
		break;
	case SC_EHLO:
		sc_ehlo_reply(c, r);
		break;
	case SC_HELO:
		sc_helo_reply(c, r);
		break;
	case SC_STARTTLS:
		sc_starttls_reply(c, r);
		break;
	case SC_AUTH_PLAIN:
	case SC_AUTH_LOGIN:
	case SC_AUTH_USER:
	case SC_AUTH_PASS:
		smtp_client_auth_reply(c, r);
		break;
	case SC_QUIT:
		smtp_client_end(c);
		break;
	case SC_HANDSHAKE:
	case SC_AUTH:
	case SC_DONE:
		break;
	default:
		smtp_client_tx_reply(c, r);
		break;
	}
}

static void
sc_garbage(struct smtp_client *c, const char *why)
{
	struct smtp_client_dsn	 d;

	if (c->state == SC_QUIT) {
		smtp_client_end(c);
		return;
	}
	smtp_client_dsn_local(&d, SMTP_CLIENT_TEMP, "4.5.0",
	    "malformed reply from %s while %s: %s", c->peer,
	    smtp_client_stage_str(sc_stage(c->state)), why);
	smtp_client_fail(c, &d, false);
}

/* Whole replies, one at a time, while someone wants them. */
static void
sc_read(struct smtp_client *c)
{
	const struct smtp_reply	*r;
	enum smtp_parse_result	 pr;
	const char		*err;
	size_t			 used;

	while (!c->finished && !c->dead && c->state != SC_HANDSHAKE &&
	    io_datalen(c->io) > 0) {
		pr = smtp_proto_reply_parse(c->parser, io_data(c->io),
		    io_datalen(c->io), &used, &r, &err);
		io_consume(c->io, used);
		if (pr == SMTP_PARSE_MORE)
			return;
		if (pr == SMTP_PARSE_ERR) {
			sc_garbage(c, err);
			return;
		}
		sc_reply(c, r);
	}
}

static void
sc_lost(struct smtp_client *c)
{
	struct smtp_client_dsn	 d;

	if (c->state == SC_QUIT) {
		smtp_client_end(c);
		return;
	}
	if (c->state == SC_HANDSHAKE)
		c->result.tls_failed = true;
	smtp_client_dsn_local(&d, SMTP_CLIENT_TEMP, "4.4.2",
	    "lost connection with %s while %s", c->peer,
	    smtp_client_stage_str(sc_stage(c->state)));
	smtp_client_fail(c, &d, false);
}

static void
sc_hold(struct smtp_client *c)
{
	c->busy++;
}

static void	sc_destroy(struct smtp_client *);

static void
sc_release(struct smtp_client *c)
{
	if (--c->busy == 0 && c->dead)
		sc_destroy(c);
}

static void
sc_io_cb(struct io *io, enum io_event e, void *arg)
{
	struct smtp_client	*c = arg;

	if (c->finished || c->dead)
		return;
	sc_hold(c);
	switch (e) {
	case IO_DATAIN:
		sc_read(c);
		break;
	case IO_LOWAT:
		smtp_client_tx_lowat(c);
		break;
	case IO_TLSREADY:
		sc_tls_ready(c);
		break;
	case IO_TLSERROR:
		sc_tls_error(c);
		break;
	case IO_TIMEOUT:
		break;		/* no idle timeout is set: ours are timers */
	default:
		sc_lost(c);
		break;
	}
	sc_release(c);
}

static void
sc_timer_cb(void *arg)
{
	struct smtp_client	*c = arg;
	struct smtp_client_dsn	 d;

	if (c->finished || c->dead)
		return;
	sc_hold(c);
	if (c->state == SC_QUIT)
		smtp_client_end(c);
	else {
		if (c->state == SC_HANDSHAKE)
			c->result.tls_failed = true;
		smtp_client_dsn_local(&d, SMTP_CLIENT_TEMP, "4.4.2",
		    "conversation with %s timed out while %s", c->peer,
		    smtp_client_stage_str(sc_stage(c->state)));
		smtp_client_fail(c, &d, false);
	}
	sc_release(c);
}

/* ---- lifetime ---- */

static void
sc_check_args(const struct smtp_client_params *p,
    const struct smtp_client_tx *tx)
{
	/* Our own name goes into EHLO as it is: no room for a command. */
	if (p->helo_name == NULL || *p->helo_name == '\0' ||
	    strlen(p->helo_name) > 255 ||
	    p->helo_name[strcspn(p->helo_name, " \t\r\n")] != '\0' ||
	    p->peer_name == NULL || *p->peer_name == '\0')
		fatalx("smtp_client_new: bad helo_name or peer_name");
	if (p->tls != SMTP_TLS_NONE && p->tls_ctx == NULL)
		fatalx("smtp_client_new: TLS policy without a context");
	if (p->auth != SMTP_CLIENT_AUTH_NONE && (p->auth_user == NULL ||
	    p->auth_pass == NULL || strlen(p->auth_user) >
	    SMTP_CLIENT_CRED_MAX || strlen(p->auth_pass) >
	    SMTP_CLIENT_CRED_MAX))
		fatalx("smtp_client_new: bad AUTH credentials");
	if (tx->nrcpts == 0 || tx->nrcpts > SMTP_CLIENT_RCPTS_MAX ||
	    tx->mail_from == NULL || tx->msg_len < 0 ||
	    (tx->msg_len > 0 && tx->msg_fd < 0) ||
	    (tx->prefix_len > 0 && tx->prefix == NULL))
		fatalx("smtp_client_new: bad transaction");
}

static uint64_t
sc_ms(uint64_t v, uint64_t def)
{
	return v != 0 ? v : def;
}

static void
sc_params_copy(struct smtp_client *c, const struct smtp_client_params *p)
{
	struct smtp_client_params	*q = &c->params;

	*q = *p;
	q->helo_name = xstrdup(p->helo_name);
	q->peer_name = xstrdup(p->peer_name);
	q->peer_addr = p->peer_addr != NULL ? xstrdup(p->peer_addr) : NULL;
	q->auth_user = p->auth_user != NULL ? xstrdup(p->auth_user) : NULL;
	q->auth_pass = p->auth_pass != NULL ? xstrdup(p->auth_pass) : NULL;
	q->timeout_greeting_ms = sc_ms(p->timeout_greeting_ms,
	    SMTP_CLIENT_TIMEOUT_GREETING);
	q->timeout_cmd_ms = sc_ms(p->timeout_cmd_ms, SMTP_CLIENT_TIMEOUT_CMD);
	q->timeout_data_init_ms = sc_ms(p->timeout_data_init_ms,
	    SMTP_CLIENT_TIMEOUT_DATA_INIT);
	q->timeout_data_block_ms = sc_ms(p->timeout_data_block_ms,
	    SMTP_CLIENT_TIMEOUT_DATA_BLOCK);
	q->timeout_final_ms = sc_ms(p->timeout_final_ms,
	    SMTP_CLIENT_TIMEOUT_FINAL);
	q->timeout_quit_ms = sc_ms(p->timeout_quit_ms,
	    SMTP_CLIENT_TIMEOUT_QUIT);
	if (p->peer_addr != NULL)
		snprintf(c->peer, sizeof(c->peer), "%s[%s]", p->peer_name,
		    p->peer_addr);
	else
		strlcpy(c->peer, p->peer_name, sizeof(c->peer));
}

struct smtp_client *
smtp_client_new(struct ev *ev, int fd, const struct smtp_client_params *p,
    struct smtp_client_tx *tx, smtp_client_done_fn *done, void *arg)
{
	struct smtp_client	*c;
	size_t			 i;

	sc_check_args(p, tx);
	c = xcalloc(1, sizeof(*c));
	c->io = io_new(ev, fd, SC_IN_MAX, smtp_client_tx_outmax(tx->nrcpts),
	    sc_io_cb, c);
	if (c->io == NULL) {
		free(c);
		return NULL;
	}
	c->ev = ev;
	c->done = done;
	c->arg = arg;
	c->tx = tx;
	sc_params_copy(c, p);
	for (i = 0; i < tx->nrcpts; i++)
		memset(&tx->rcpts[i].result, 0, sizeof(tx->rcpts[i].result));
	c->sent = xcalloc(tx->nrcpts, sizeof(*c->sent));
	c->parser = smtp_proto_reply_parser_new();
	c->timer = ev_timer_add(ev, c->params.timeout_greeting_ms,
	    sc_timer_cb, c);
	c->state = SC_GREETING;
	c->result.stage = SMTP_CLIENT_STAGE_GREETING;
	return c;
}

static void
sc_free_str(const char **sp, bool wipe)
{
	char	*s = (char *)(uintptr_t)*sp;

	if (s == NULL)
		return;
	if (wipe)
		explicit_bzero(s, strlen(s));
	free(s);
	*sp = NULL;
}

static void
sc_destroy(struct smtp_client *c)
{
	io_free(&c->io);
	ev_timer_del(&c->timer);
	smtp_proto_reply_parser_free(&c->parser);
	sc_free_str(&c->params.helo_name, false);
	sc_free_str(&c->params.peer_name, false);
	sc_free_str(&c->params.peer_addr, false);
	sc_free_str(&c->params.auth_user, true);
	sc_free_str(&c->params.auth_pass, true);
	free(c->sent);
	free(c);
}

void
smtp_client_free(struct smtp_client **cp)
{
	struct smtp_client	*c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->dead)
		return;
	c->dead = true;
	if (c->busy == 0)
		sc_destroy(c);
	else
		ev_timer_stop(c->timer);
}
