/*
 * smtp_client_tx — the transaction of the SMTP client engine
 * (smtp_client.h): the checks against the server's capabilities, MAIL,
 * RCPT and DATA (in one write with PIPELINING, RFC 2920 §3.1), the body
 * with dot-stuffing, and the replies that decide each recipient.
 *
 * The body goes out in TX_CHUNK reads: the output queue is filled to
 * TX_HIGH, and refilled each time it drains to TX_LOWAT (IO_LOWAT), so
 * at most TX_HIGH + 2 * TX_CHUNK octets of it are ever in memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "addr.h"
#include "ev.h"
#include "io.h"
#include "log.h"
#include "smtp_client.h"
#include "smtp_client_private.h"
#include "smtp_proto.h"

#define TX_CHUNK	16384
#define TX_HIGH		(64 * 1024)
#define TX_LOWAT	(16 * 1024)

#define TX_FROM_FLAGS	(ADDR_F_NULL_OK | ADDR_F_UTF8)
#define TX_RCPT_FLAGS	(ADDR_F_POSTMASTER_OK | ADDR_F_UTF8)

/*
 * Every command of a session (a server that never reads still gets at
 * most one line per reply, and a bounded number of them), plus the body
 * at its fullest.  A cap: the queue grows only as needed.
 */
size_t
smtp_client_tx_outmax(size_t nrcpts)
{
	return (nrcpts + 8) * SMTP_CMD_PARAM_LINE_MAX + TX_HIGH +
	    2 * TX_CHUNK + 64;
}

static bool
tx_pipelining(const struct smtp_client *c)
{
	return (c->result.caps.flags & SMTP_CAP_PIPELINING) != 0;
}

static uint64_t
tx_size(const struct smtp_client *c)
{
	if (c->tx->size > 0)
		return c->tx->size;
	return (uint64_t)c->tx->prefix_len + (uint64_t)c->tx->msg_len;
}

/* A mailbox as the queue holds it ("" for <>) into a path. */
static int
tx_parse(const char *mailbox, int flags, struct addr *a)
{
	char		 path[ADDR_PATH_MAX + 3];
	enum addr_err	 err;
	int		 n;

	n = snprintf(path, sizeof(path), "<%s>", mailbox);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	return addr_parse_path(path, (size_t)n, flags, a, NULL, &err);
}

/* ---- commands ---- */

static bool
tx_envid_ok(const char *s)
{
	size_t	 n = s != NULL ? strlen(s) : 0;

	return n > 0 && n <= SMTP_ENVID_MAX && addr_xtext_valid(s, n);
}

static void
tx_send_mail(struct smtp_client *c, const struct addr *from)
{
	const struct smtp_client_tx	*tx = c->tx;
	struct smtp_cmd			 cmd;
	struct smtp_params		*p = &cmd.params;

	memset(&cmd, 0, sizeof(cmd));
	cmd.verb = SMTP_VERB_MAIL;
	cmd.path = *from;
	if (c->result.caps.flags & SMTP_CAP_SIZE) {
		p->seen |= SMTP_PARAM_SIZE;
		p->size = tx_size(c);
	}
	if (tx->body == SMTP_CLIENT_BODY_8BITMIME) {
		p->seen |= SMTP_PARAM_BODY;
		p->body = SMTP_BODY_8BITMIME;
	}
	if (c->need_utf8)
		p->seen |= SMTP_PARAM_SMTPUTF8;
	if (c->result.caps.flags & SMTP_CAP_DSN) {
		if (tx->ret == SMTP_RET_FULL || tx->ret == SMTP_RET_HDRS) {
			p->seen |= SMTP_PARAM_RET;
			p->ret = tx->ret;
		}
		if (tx_envid_ok(tx->envid)) {
			p->seen |= SMTP_PARAM_ENVID;
			strlcpy(p->envid, tx->envid, sizeof(p->envid));
		}
	}
	smtp_client_send_cmd(c, &cmd);
}

/* ORCPT=addr-type;xtext (RFC 3461 §4.2); false leaves it out. */
static bool
tx_orcpt(const char *v, struct smtp_params *p)
{
	const char	*semi;
	size_t		 tn, i;

	if (v == NULL || strlen(v) > SMTP_ORCPT_MAX ||
	    (semi = strchr(v, ';')) == NULL)
		return false;
	tn = (size_t)(semi - v);
	if (tn == 0 || tn > SMTP_ORCPT_TYPE_MAX || semi[1] == '\0' ||
	    !addr_xtext_valid(semi + 1, strlen(semi + 1)))
		return false;
	for (i = 0; i < tn; i++)
		if (!(v[i] == '-' || (v[i] >= '0' && v[i] <= '9') ||
		    ((v[i] | 0x20) >= 'a' && (v[i] | 0x20) <= 'z')))
			return false;
	memcpy(p->orcpt_type, v, tn);
	p->orcpt_type[tn] = '\0';
	strlcpy(p->orcpt, semi + 1, sizeof(p->orcpt));
	return true;
}

static void
tx_send_rcpt(struct smtp_client *c, size_t i)
{
	const struct smtp_client_rcpt	*rc = &c->tx->rcpts[i];
	struct smtp_cmd			 cmd;
	struct smtp_params		*p = &cmd.params;
	unsigned			 n;

	memset(&cmd, 0, sizeof(cmd));
	cmd.verb = SMTP_VERB_RCPT;
	if (tx_parse(rc->address, TX_RCPT_FLAGS, &cmd.path) == -1)
		fatalx("smtp_client: recipient changed");
	if (c->result.caps.flags & SMTP_CAP_DSN) {
		n = rc->notify & (SMTP_NOTIFY_NEVER | SMTP_NOTIFY_SUCCESS |
		    SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY);
		/* NEVER stands alone (RFC 3461 §4.1). */
		if (n & SMTP_NOTIFY_NEVER)
			n = SMTP_NOTIFY_NEVER;
		if (n != 0) {
			p->seen |= SMTP_PARAM_NOTIFY;
			p->notify = n;
		}
		if (tx_orcpt(rc->orcpt, p))
			p->seen |= SMTP_PARAM_ORCPT;
	}
	smtp_client_send_cmd(c, &cmd);
}

static void
tx_send_data(struct smtp_client *c)
{
	smtp_client_send(c, "DATA\r\n", 6);
}

/* ---- before MAIL ---- */

static int
tx_check_from(struct smtp_client *c, struct addr *from)
{
	struct smtp_client_dsn	 d;
	char			 safe[300];

	if (tx_parse(c->tx->mail_from, TX_FROM_FLAGS, from) == 0)
		return 0;
	log_safe(safe, sizeof(safe), c->tx->mail_from,
	    strlen(c->tx->mail_from));
	smtp_client_dsn_local(&d, SMTP_CLIENT_PERM, "5.1.7",
	    "bad sender address syntax: <%s>", safe);
	smtp_client_fail(c, &d, true);
	return -1;
}

/* The recipients to send, in order; the others fail at once. */
static void
tx_check_rcpts(struct smtp_client *c)
{
	struct smtp_client_rcpt	*rc;
	struct addr		 a;
	char			 safe[300];
	size_t			 i;

	c->nsent = 0;
	for (i = 0; i < c->tx->nrcpts; i++) {
		rc = &c->tx->rcpts[i];
		if (rc->address != NULL &&
		    tx_parse(rc->address, TX_RCPT_FLAGS, &a) == 0) {
			c->need_utf8 |= a.utf8;
			c->sent[c->nsent++] = i;
			continue;
		}
		log_safe(safe, sizeof(safe), rc->address != NULL ?
		    rc->address : "", rc->address != NULL ?
		    strlen(rc->address) : 0);
		smtp_client_dsn_local(&rc->result, SMTP_CLIENT_PERM, "5.1.3",
		    "bad recipient address syntax: <%s>", safe);
	}
}

/* RFC 6531 §3.2, RFC 1870 §6, RFC 6152. */
static int
tx_check_caps(struct smtp_client *c)
{
	const struct smtp_caps	*caps = &c->result.caps;
	struct smtp_client_dsn	 d;
	uint64_t		 size = tx_size(c);

	if (c->need_utf8 && !(caps->flags & SMTP_CAP_SMTPUTF8))
		smtp_client_dsn_local(&d, SMTP_CLIENT_PERM, "5.6.7",
		    "SMTPUTF8 is required, but was not offered by host %s",
		    c->peer);
	else if ((caps->flags & SMTP_CAP_SIZE) && caps->size > 0 &&
	    size > caps->size)
		smtp_client_dsn_local(&d, SMTP_CLIENT_PERM, "5.3.4",
		    "message size %" PRIu64 " exceeds size limit %" PRIu64
		    " of server %s", size, caps->size, c->peer);
	else if (c->tx->body == SMTP_CLIENT_BODY_8BITMIME &&
	    !(caps->flags & SMTP_CAP_8BITMIME))
		smtp_client_dsn_local(&d, SMTP_CLIENT_NEED_7BIT, "5.6.3",
		    "8BITMIME is required, but was not offered by host %s",
		    c->peer);
	else
		return 0;
	smtp_client_fail(c, &d, true);
	return -1;
}

void
smtp_client_tx_start(struct smtp_client *c)
{
	struct addr	 from;
	size_t		 k;

	c->state = SC_MAIL;
	if (tx_check_from(c, &from) == -1)
		return;
	c->need_utf8 = c->tx->smtputf8 || from.utf8;
	tx_check_rcpts(c);
	if (c->nsent == 0) {
		/* Every recipient is decided: nothing to send. */
		smtp_client_quit(c);
		return;
	}
	if (tx_check_caps(c) == -1)
		return;
	tx_send_mail(c, &from);
	if (tx_pipelining(c)) {
		for (k = 0; k < c->nsent; k++)
			tx_send_rcpt(c, c->sent[k]);
		tx_send_data(c);
	}
	smtp_client_wait(c, SC_MAIL, c->params.timeout_cmd_ms);
}

/* ---- the body ---- */

/*
 * Dot-stuffing (RFC 5321 §4.5.2) and line ends: LF and CRLF end a line
 * (CRLF out), a CR not followed by LF becomes a space.  out must hold
 * 2 * n + 1 octets: each octet gives at most two, and a pending CR one.
 */
static size_t
tx_stuff(struct smtp_client *c, const uint8_t *in, size_t n, uint8_t *out)
{
	size_t	 o = 0, i;

	for (i = 0; i < n; i++) {
		if (c->cr) {
			c->cr = false;
			if (in[i] != '\n') {
				out[o++] = ' ';
				c->bol = false;
			}
		}
		if (in[i] == '\r') {
			c->cr = true;
			continue;
		}
		if (in[i] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			c->bol = true;
			continue;
		}
		if (c->bol && in[i] == '.')
			out[o++] = '.';
		c->bol = false;
		out[o++] = in[i];
	}
	return o;
}

/* A truncated message must never get its ".": the connection goes. */
static void
tx_read_failed(struct smtp_client *c, const char *why)
{
	struct smtp_client_dsn	 d;

	smtp_client_dsn_local(&d, SMTP_CLIENT_TEMP, "4.3.0",
	    "cannot read the message: %s", why);
	smtp_client_fail(c, &d, false);
}

static int
tx_read(struct smtp_client *c, uint8_t *in, size_t *n_r)
{
	const struct smtp_client_tx	*tx = c->tx;
	uint64_t			 left = c->body_len - c->body_off;
	uint64_t			 plen = tx->prefix_len;
	size_t				 want = TX_CHUNK;
	ssize_t				 r;

	if (left < want)
		want = (size_t)left;
	if (c->body_off < plen) {
		if (want > plen - c->body_off)
			want = plen - c->body_off;
		memcpy(in, (const uint8_t *)tx->prefix + c->body_off, want);
		*n_r = want;
		return 0;
	}
	do {
		r = pread(tx->msg_fd, in, want, tx->msg_off +
		    (off_t)(c->body_off - plen));
	} while (r == -1 && errno == EINTR);
	if (r > 0) {
		*n_r = (size_t)r;
		return 0;
	}
	tx_read_failed(c, r == 0 ? "message file shorter than expected" :
	    strerror(errno));
	return -1;
}

static int
tx_fill_chunk(struct smtp_client *c)
{
	uint8_t	 in[TX_CHUNK], out[2 * TX_CHUNK + 1];
	size_t	 n;

	if (tx_read(c, in, &n) == -1)
		return -1;
	c->body_off += n;
	n = tx_stuff(c, in, n, out);
	smtp_client_send(c, (const char *)out, n);
	return 0;
}

/* The last line ends in CRLF (a lone final CR counts as one), then ".". */
static void
tx_body_end(struct smtp_client *c)
{
	char	 end[8];
	size_t	 n = 0;

	if (c->cr || !c->bol) {
		memcpy(end, "\r\n", 2);
		n = 2;
	}
	memcpy(end + n, ".\r\n", 3);
	smtp_client_send(c, end, n + 3);
	c->cr = false;
	c->dot_flushed = false;
	/* The final reply's timeout starts when the queue is empty. */
	io_set_lowat(c->io, 0);
	smtp_client_wait(c, SC_DOT, c->params.timeout_data_block_ms);
}

static void
tx_fill(struct smtp_client *c)
{
	while (io_queued(c->io) < TX_HIGH) {
		if (c->body_off == c->body_len) {
			tx_body_end(c);
			return;
		}
		if (tx_fill_chunk(c) == -1)
			return;
	}
	smtp_client_wait(c, SC_BODY, c->params.timeout_data_block_ms);
}

static void
tx_body_start(struct smtp_client *c)
{
	c->body_off = 0;
	c->body_len = (uint64_t)c->tx->prefix_len + (uint64_t)c->tx->msg_len;
	c->bol = true;
	c->cr = false;
	c->state = SC_BODY;
	io_set_lowat(c->io, TX_LOWAT);
	tx_fill(c);
}

void
smtp_client_tx_lowat(struct smtp_client *c)
{
	if (c->state == SC_BODY)
		tx_fill(c);
	else if (c->state == SC_DOT && !c->dot_flushed) {
		c->dot_flushed = true;
		ev_timer_set(c->timer, c->params.timeout_final_ms);
	}
}

/* ---- replies ---- */

/* Recipients that RCPT accepted and nothing has decided since. */
static void
tx_decide_pending(struct smtp_client *c, const struct smtp_client_dsn *d)
{
	struct smtp_client_rcpt	*rc;
	size_t			 k;

	for (k = 0; k < c->nsent; k++) {
		rc = &c->tx->rcpts[c->sent[k]];
		if (rc->result.status == SMTP_CLIENT_NONE)
			rc->result = *d;
	}
}

static void
tx_mail_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	struct smtp_client_dsn	 d;

	if (r->code / 100 == 2)
		c->mail_ok = true;
	else {
		smtp_client_dsn_reply(c, &d, r, r->code / 100 == 3,
		    "MAIL FROM command");
		smtp_client_decide(c, &d);
		/* Pipelined: the other replies are still to be read. */
		if (!tx_pipelining(c)) {
			smtp_client_quit(c);
			return;
		}
	}
	if (!tx_pipelining(c))
		tx_send_rcpt(c, c->sent[0]);
	smtp_client_wait(c, SC_RCPT, c->params.timeout_cmd_ms);
}

static void
tx_rcpt_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	struct smtp_client_rcpt	*rc = &c->tx->rcpts[c->sent[c->nreplied++]];

	if (c->mail_ok && r->code / 100 == 2)
		c->naccepted++;
	else if (c->mail_ok)
		smtp_client_dsn_reply(c, &rc->result, r, r->code / 100 == 3,
		    "RCPT TO command");
	if (c->nreplied < c->nsent) {
		if (!tx_pipelining(c))
			tx_send_rcpt(c, c->sent[c->nreplied]);
		smtp_client_wait(c, SC_RCPT, c->params.timeout_cmd_ms);
		return;
	}
	if (!tx_pipelining(c)) {
		if (c->naccepted == 0) {
			smtp_client_quit(c);
			return;
		}
		tx_send_data(c);
	}
	smtp_client_wait(c, SC_DATA, c->params.timeout_data_init_ms);
}

static void
tx_data_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	struct smtp_client_dsn	 d;

	if (r->code == 354 && c->mail_ok && c->naccepted > 0) {
		tx_body_start(c);
		return;
	}
	if (r->code == 354) {
		/* RFC 2920 §3.1: no recipient, yet a 354: end it empty. */
		smtp_client_send(c, ".\r\n", 3);
		smtp_client_wait(c, SC_DOT_DISCARD,
		    c->params.timeout_final_ms);
		return;
	}
	if (c->mail_ok && c->naccepted > 0) {
		smtp_client_dsn_reply(c, &d, r, r->code / 100 < 4,
		    "DATA command");
		tx_decide_pending(c, &d);
	}
	smtp_client_quit(c);
}

static void
tx_dot_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	struct smtp_client_dsn	 d;

	if (r->code / 100 == 2)
		smtp_client_dsn_reply(c, &d, r, false, "");
	else
		smtp_client_dsn_reply(c, &d, r, r->code / 100 == 3,
		    "end of DATA command");
	tx_decide_pending(c, &d);
	c->result.dsn = d;
	smtp_client_quit(c);
}

/* A reply while the body goes out: the server gave up on it. */
static void
tx_early_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	struct smtp_client_dsn	 d;

	smtp_client_dsn_reply(c, &d, r, r->code / 100 < 4,
	    "message body");
	tx_decide_pending(c, &d);
	c->result.dsn = d;
	smtp_client_end(c);
}

void
smtp_client_tx_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	switch (c->state) {
	case SC_MAIL:
		tx_mail_reply(c, r);
		break;
	case SC_RCPT:
		tx_rcpt_reply(c, r);
		break;
	case SC_DATA:
		tx_data_reply(c, r);
		break;
	case SC_BODY:
		tx_early_reply(c, r);
		break;
	case SC_DOT:
		tx_dot_reply(c, r);
		break;
	case SC_DOT_DISCARD:
		smtp_client_quit(c);
		break;
	default:
		break;
	}
}
