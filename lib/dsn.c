/*
 * dsn — delivery status notifications (dsn.h): the NOTIFY rules, the
 * three parts and the assembly.  Strings are made safe in dsn_text.c,
 * the original is read and copied by dsn_orig.c.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bsd/stdlib.h>

#include "addr.h"
#include "buf.h"
#include "dsn.h"
#include "dsn_private.h"
#include "proto_queue.h"
#include "xmalloc.h"

_Static_assert(DSN_NOTIFY_NEVER == QUEUE_NOTIFY_NEVER &&
    DSN_NOTIFY_SUCCESS == QUEUE_NOTIFY_SUCCESS &&
    DSN_NOTIFY_FAILURE == QUEUE_NOTIFY_FAILURE &&
    DSN_NOTIFY_DELAY == QUEUE_NOTIFY_DELAY, "NOTIFY bits differ");

/* Generated parts live in memory; the caps of dsn.h bound them. */
#define SCRATCH_MAX	((size_t)1 << 31)
#define BOUNDARY_PREFIX	"=_wharf."
#define QID_MAX		64

struct ctx {
	const struct dsn_msg	*m;
	const struct dsn_orig	*orig;
	bool			 utf8;		/* RFC 6533 DSN */
	char			 bnd[DSN_BOUNDARY_LEN + 1];
	struct dsn_scan		 scan;
	bool			 full;		/* part 3: whole original */
	struct buf		 text;		/* part 1 body */
	struct buf		 ds;		/* part 2 body */
};

static void (*random_fn)(void *, size_t);

void
dsn_set_random(void (*fn)(void *, size_t))
{
	random_fn = fn;
}

/* n (<= 64) random characters of [a-z2-7] and a NUL. */
static void
random_base32(char *out, size_t n)
{
	static const char	 alphabet[] =
	    "abcdefghijklmnopqrstuvwxyz234567";
	uint8_t			 r[64];
	size_t			 i;

	if (random_fn != NULL)
		random_fn(r, n);
	else
		arc4random_buf(r, n);
	for (i = 0; i < n; i++)
		out[i] = alphabet[r[i] & 31];
	out[n] = '\0';
}

bool
dsn_wanted(unsigned notify, enum dsn_kind kind)
{
	if (notify & DSN_NOTIFY_NEVER)
		return false;
	if (notify == 0)
		return kind == DSN_FAILURE || kind == DSN_DELAY;
	switch (kind) {
	case DSN_FAILURE:
		return (notify & DSN_NOTIFY_FAILURE) != 0;
	case DSN_DELAY:
		return (notify & DSN_NOTIFY_DELAY) != 0;
	case DSN_SUCCESS:
		return (notify & DSN_NOTIFY_SUCCESS) != 0;
	}
	return false;
}

bool
dsn_may_bounce(const char *sender)
{
	return sender != NULL && sender[0] != '\0' && strcmp(sender, "<>") != 0;
}

static const char *
msg_invalid(const struct dsn_msg *m, const struct dsn_orig *o)
{
	size_t	 i;

	if (m->reporting_mta == NULL || m->reporting_mta[0] == '\0')
		return "no reporting MTA";
	if (m->queue_id == NULL)
		return "no queue id";
	if (m->postmaster == NULL || m->postmaster[0] == '\0')
		return "no From: address";
	if (!dsn_may_bounce(m->sender))
		return "no DSN to the null sender (RFC 5321 6.1)";
	if ((unsigned)m->kind > DSN_SUCCESS)
		return "unknown kind";
	if ((unsigned)m->ret > DSN_RET_HDRS)
		return "unknown RET";
	if (m->nrcpts == 0 || m->nrcpts > DSN_RCPTS_MAX || m->rcpts == NULL)
		return "no recipients, or too many";
	if (o != NULL && o->prefix == NULL && o->prefix_len > 0)
		return "original prefix missing";
	for (i = 0; i < m->nrcpts; i++)
		if (m->rcpts[i].rcpt == NULL || m->rcpts[i].rcpt[0] == '\0')
			return "a recipient without an address";
	return NULL;
}

/* Sanitised, without one pair of enclosing angle brackets. */
static void
addr_add(struct buf *out, const char *a, bool utf8)
{
	size_t	 len = strlen(a);
	char	*in;

	if (len >= 2 && a[0] == '<' && a[len - 1] == '>') {
		in = xstrndup(a + 1, len - 2);
		dsn_san_add(out, in, DSN_ADDR_MAX, utf8);
		free(in);
	} else
		dsn_san_add(out, a, DSN_ADDR_MAX, utf8);
}

/* "rfc822; a", or "utf-8; a" for a non-ASCII one (RFC 6533 §3). */
static void
addr_value(const struct ctx *c, struct buf *out, const char *a)
{
	size_t	 len = strlen(a);
	char	*in;

	if (dsn_is_ascii(a, len) || c->utf8) {
		buf_add_str(out, dsn_is_ascii(a, len) ? "rfc822; " : "utf-8; ");
		addr_add(out, a, c->utf8);
		return;
	}
	buf_add_str(out, "utf-8; ");
	if (len >= 2 && a[0] == '<' && a[len - 1] == '>') {
		in = xstrndup(a + 1, len - 2);
		dsn_utf8_xtext_add(out, in);
		free(in);
	} else
		dsn_utf8_xtext_add(out, a);
}

static bool
has_ctl(const struct buf *b)
{
	size_t	 i;

	for (i = 0; i < b->len; i++)
		if (BUF_DATA(b)[i] < 0x20 || BUF_DATA(b)[i] == 0x7f)
			return true;
	return false;
}

/* ENVID xtext-decoded (RFC 3461 §4.4), raw when that fails. */
static void
envid_value(const struct ctx *c, struct buf *out, const char *envid)
{
	struct buf	 d;

	buf_init(&d, SCRATCH_MAX);
	if (addr_xtext_decode(&d, envid, strlen(envid)) == 0 && !has_ctl(&d))
		dsn_san_add(out, buf_cstr(&d), DSN_ADDR_MAX, c->utf8);
	else
		dsn_san_add(out, envid, DSN_ADDR_MAX, c->utf8);
	buf_clear(&d);
}

/* ORCPT "type;xtext" decoded (dsn.h); false when it has no type. */
static bool
orcpt_value(const struct ctx *c, struct buf *out, const char *orcpt)
{
	struct buf	 d, u;
	const char	*xt = dsn_typed_text(orcpt), *val;
	bool		 ok;

	if (xt == orcpt)
		return false;
	buf_init(&d, SCRATCH_MAX);
	buf_init(&u, SCRATCH_MAX);
	ok = addr_xtext_decode(&d, xt, strlen(xt)) == 0 && !has_ctl(&d);
	val = buf_cstr(&d);
	if (ok && dsn_typed_is(orcpt, "utf-8")) {
		/* utf-8-addr-xtext: "\x{HEX}" decoded only for a UTF-8 DSN. */
		ok = c->utf8 && dsn_unitext_decode(&u, val, d.len) == 0 &&
		    !has_ctl(&u) && addr_utf8_valid(buf_cstr(&u), u.len);
		val = buf_cstr(&u);
	}
	/* The type is an atom: no space, no ";". */
	buf_add(out, orcpt, strcspn(orcpt, "; "));
	buf_add_str(out, "; ");
	dsn_san_add(out, ok ? val : xt, DSN_ADDR_MAX, c->utf8);
	buf_clear(&d);
	buf_clear(&u);
	return true;
}

/* A sanitised "type; text" field; nothing when the value is empty. */
static void
typed_field(const struct ctx *c, struct buf *out, const char *name,
    const char *value, const char *deftype, size_t max)
{
	struct buf	 s, v;

	buf_init(&s, SCRATCH_MAX);
	buf_init(&v, SCRATCH_MAX);
	dsn_san_add(&s, value, max, c->utf8);
	if (s.len > 0) {
		dsn_typed_add(&v, buf_cstr(&s), deftype);
		dsn_field_add(out, name, buf_cstr(&v));
	}
	buf_clear(&s);
	buf_clear(&v);
}

static void
date_field(struct buf *out, const char *name, time_t t)
{
	struct buf	 v;

	buf_init(&v, SCRATCH_MAX);
	dsn_date_add(&v, t);
	dsn_field_add(out, name, buf_cstr(&v));
	buf_clear(&v);
}

static const char *
rcpt_status(enum dsn_kind kind, const struct dsn_rcpt *r)
{
	if (dsn_status_valid(r->status))
		return r->status;
	return kind == DSN_FAILURE ? "5.0.0" : kind == DSN_DELAY ? "4.0.0" :
	    "2.0.0";
}

static const char *
rcpt_action(enum dsn_kind kind, const struct dsn_rcpt *r)
{
	if (kind == DSN_FAILURE)
		return "failed";
	if (kind == DSN_DELAY)
		return "delayed";
	return r->relayed ? "relayed" : "delivered";
}

/* RFC 3464 §2.2: the per-message fields. */
static void
ds_message(struct ctx *c)
{
	const struct dsn_msg	*m = c->m;
	struct buf		 v;

	buf_init(&v, SCRATCH_MAX);
	if (m->envid != NULL)
		envid_value(c, &v, m->envid);
	if (v.len > 0)
		dsn_field_add(&c->ds, "Original-Envelope-Id", buf_cstr(&v));
	buf_reset(&v);
	buf_add_str(&v, "dns; ");
	dsn_san_add(&v, m->reporting_mta, DSN_MTA_MAX, c->utf8);
	dsn_field_add(&c->ds, "Reporting-MTA", buf_cstr(&v));
	if (m->received_from != NULL)
		typed_field(c, &c->ds, "Received-From-MTA", m->received_from,
		    "dns", DSN_MTA_MAX);
	if (m->arrival != 0)
		date_field(&c->ds, "Arrival-Date", m->arrival);
	buf_reset(&v);
	dsn_san_add(&v, m->queue_id, QID_MAX, false);
	if (v.len > 0)
		dsn_field_add(&c->ds, "X-Wharf-Queue-ID", buf_cstr(&v));
	buf_reset(&v);
	addr_value(c, &v, m->sender);
	dsn_field_add(&c->ds, "X-Wharf-Sender", buf_cstr(&v));
	buf_clear(&v);
}

/* RFC 3464 §2.3: one group of per-recipient fields, after a blank line. */
static void
ds_rcpt(struct ctx *c, const struct dsn_rcpt *r)
{
	struct buf	 v;

	buf_init(&v, SCRATCH_MAX);
	buf_add_str(&c->ds, "\r\n");
	if (r->orcpt != NULL && orcpt_value(c, &v, r->orcpt))
		dsn_field_add(&c->ds, "Original-Recipient", buf_cstr(&v));
	buf_reset(&v);
	addr_value(c, &v, r->rcpt);
	dsn_field_add(&c->ds, "Final-Recipient", buf_cstr(&v));
	dsn_field_add(&c->ds, "Action", rcpt_action(c->m->kind, r));
	dsn_field_add(&c->ds, "Status", rcpt_status(c->m->kind, r));
	if (r->remote_mta != NULL)
		typed_field(c, &c->ds, "Remote-MTA", r->remote_mta, "dns",
		    DSN_MTA_MAX);
	if (r->diagnostic != NULL)
		typed_field(c, &c->ds, "Diagnostic-Code", r->diagnostic,
		    "X-Wharf", DSN_DIAG_MAX);
	if (r->last_attempt != 0)
		date_field(&c->ds, "Last-Attempt-Date", r->last_attempt);
	if (c->m->kind == DSN_DELAY && r->will_retry_until != 0)
		date_field(&c->ds, "Will-Retry-Until", r->will_retry_until);
	buf_clear(&v);
}

static const char *
intro(enum dsn_kind kind)
{
	switch (kind) {
	case DSN_FAILURE:
		return "Your message could not be delivered to one or more of "
		    "its recipients. This is a permanent error: the mail "
		    "system has given up. The details are below.";
	case DSN_DELAY:
		return "Your message has not yet been delivered to one or more "
		    "of its recipients. The mail system will keep trying; you "
		    "do not need to send it again. The details are below.";
	case DSN_SUCCESS:
		break;
	}
	return "Your message was delivered to the recipients listed below. "
	    "You asked for this report.";
}

/* A paragraph of sanitised words and an empty line. */
static void
text_para(struct buf *out, const char *words, const char *indent)
{
	dsn_wrap_add(out, 0, words, indent, false);
	buf_add_str(out, "\r\n");
}

/* Why, for one recipient: the diagnostic, else the status meaning. */
static void
text_reason(const struct ctx *c, struct buf *out, const struct dsn_rcpt *r)
{
	struct buf	 d, h;

	buf_init(&d, SCRATCH_MAX);
	buf_init(&h, SCRATCH_MAX);
	dsn_san_add(&d, r->diagnostic, DSN_DIAG_MAX, c->utf8);
	dsn_san_add(&h, r->remote_mta, DSN_MTA_MAX, c->utf8);
	if (c->m->kind == DSN_SUCCESS)
		buf_add_str(out, r->relayed ? "relayed to a system that does "
		    "not send delivery notifications" : "delivered");
	if (c->m->kind == DSN_SUCCESS && d.len > 0)
		buf_add_str(out, ": ");
	if (d.len > 0 && h.len > 0 && dsn_typed_is(buf_cstr(&d), "smtp"))
		buf_printf(out, "host %s said: ", dsn_typed_text(buf_cstr(&h)));
	if (d.len > 0)
		buf_add_str(out, dsn_typed_text(buf_cstr(&d)));
	else if (c->m->kind != DSN_SUCCESS)
		buf_printf(out, "%s (%s)", dsn_status_text(rcpt_status(
		    c->m->kind, r)), rcpt_status(c->m->kind, r));
	if (c->m->kind == DSN_DELAY && r->will_retry_until != 0) {
		buf_add_str(out, ". The mail system will keep trying until ");
		dsn_date_add(out, r->will_retry_until);
		buf_add_str(out, ".");
	}
	buf_clear(&d);
	buf_clear(&h);
}

static void
text_build(struct ctx *c)
{
	const struct dsn_msg	*m = c->m;
	struct buf		 v;
	size_t			 i;

	buf_init(&v, SCRATCH_MAX);
	buf_add_str(&v, "This is the mail system at host ");
	dsn_san_add(&v, m->reporting_mta, DSN_MTA_MAX, c->utf8);
	buf_add_str(&v, ".");
	text_para(&c->text, buf_cstr(&v), "");
	buf_reset(&v);
	buf_add_str(&v, intro(m->kind));
	if (c->orig != NULL)
		buf_add_str(&v, c->full ? " Your message is attached." :
		    " The header of your message is attached.");
	text_para(&c->text, buf_cstr(&v), "");
	for (i = 0; i < m->nrcpts; i++) {
		buf_reset(&v);
		buf_add_u8(&v, '<');
		addr_add(&v, m->rcpts[i].rcpt, c->utf8);
		buf_add_str(&v, ">: ");
		text_reason(c, &v, &m->rcpts[i]);
		text_para(&c->text, buf_cstr(&v), "    ");
	}
	/* No empty line at the end: the delimiter's CRLF makes one. */
	c->text.len -= 2;
	BUF_DATA(&c->text)[c->text.len] = '\0';
	buf_clear(&v);
}

static void
parts_build(struct ctx *c)
{
	size_t	 i;

	buf_reset(&c->text);
	buf_reset(&c->ds);
	text_build(c);
	ds_message(c);
	for (i = 0; i < c->m->nrcpts; i++)
		ds_rcpt(c, &c->m->rcpts[i]);
}

static bool
want_full(const struct dsn_msg *m)
{
	return m->kind == DSN_FAILURE && m->ret != DSN_RET_HDRS;
}

static bool
parts_have(const struct ctx *c, const char *s)
{
	size_t	 n = strlen(s);

	return memmem(BUF_DATA(&c->text), c->text.len, s, n) != NULL ||
	    memmem(BUF_DATA(&c->ds), c->ds.len, s, n) != NULL;
}

/* Draw boundaries until one occurs neither in the original nor parts. */
static int
boundary_choose(struct ctx *c, char **err_r)
{
	const struct dsn_msg	*m = c->m;
	int			 i;

	for (i = 0; i < DSN_BOUNDARY_TRIES; i++) {
		memcpy(c->bnd, BOUNDARY_PREFIX, strlen(BOUNDARY_PREFIX));
		random_base32(c->bnd + strlen(BOUNDARY_PREFIX),
		    DSN_BOUNDARY_LEN - strlen(BOUNDARY_PREFIX));
		if (c->orig != NULL) {
			if (dsn_orig_scan(c->orig, c->bnd, want_full(m),
			    m->full_max, &c->scan, err_r) == -1)
				return -1;
			if (c->scan.found)
				continue;
			c->full = want_full(m) && c->scan.eof &&
			    !c->scan.binary && (m->full_max == 0 ||
			    c->scan.size <= m->full_max);
		}
		parts_build(c);
		if (!parts_have(c, c->bnd))
			return 0;
	}
	*err_r = xstrdup("dsn: no MIME boundary that the original lacks");
	return -1;
}

/* <queue_id.random@host>, reduced to dot-atom characters. */
static void
msgid_make(const struct ctx *c, char *out, size_t size)
{
	char		 qid[QID_MAX + 1], host[ADDR_DOMAIN_MAX + 1], rnd[17];
	const char	*s;
	size_t		 q = 0, h = 0;

	for (s = c->m->queue_id; *s != '\0' && q < QID_MAX; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9'))
			qid[q++] = *s;
	qid[q] = '\0';
	for (s = c->m->reporting_mta; *s != '\0' && h < ADDR_DOMAIN_MAX; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' ||
		    (*s == '.' && h > 0 && host[h - 1] != '.'))
			host[h++] = *s;
	while (h > 0 && host[h - 1] == '.')
		h--;
	host[h] = '\0';
	random_base32(rnd, 16);
	snprintf(out, size, "<%s.%s@%s>", q > 0 ? qid : "dsn", rnd,
	    h > 0 ? host : "localhost");
}

static const char *const subjects[] = {
	[DSN_FAILURE] = "Undelivered Mail Returned to Sender",
	[DSN_DELAY] = "Delayed Mail (still being retried)",
	[DSN_SUCCESS] = "Successful Mail Delivery Report",
};

/* From: ... Content-Type:, the top-level header. */
static void
head_fields(const struct ctx *c, struct buf *h, bool eightbit,
    struct dsn_result *res)
{
	struct buf	 v;

	buf_init(&v, SCRATCH_MAX);
	buf_add_str(&v, "Mail Delivery System <");
	addr_add(&v, c->m->postmaster, c->utf8);
	buf_add_u8(&v, '>');
	dsn_field_add(h, "From", buf_cstr(&v));
	buf_reset(&v);
	buf_add_u8(&v, '<');
	addr_add(&v, c->m->sender, c->utf8);
	buf_add_u8(&v, '>');
	dsn_field_add(h, "To", buf_cstr(&v));
	dsn_field_add(h, "Subject", subjects[c->m->kind]);
	date_field(h, "Date", c->m->now != 0 ? c->m->now : time(NULL));
	msgid_make(c, res->message_id, sizeof(res->message_id));
	dsn_field_add(h, "Message-ID", res->message_id);
	dsn_field_add(h, "Auto-Submitted", "auto-replied");	/* RFC 3834 */
	dsn_field_add(h, "MIME-Version", "1.0");
	buf_reset(&v);
	buf_printf(&v, "multipart/report; report-type=%s; boundary=\"%s\"",
	    c->utf8 ? "global-delivery-status" : "delivery-status", c->bnd);
	dsn_field_add(h, "Content-Type", buf_cstr(&v));
	if (eightbit)
		dsn_field_add(h, "Content-Transfer-Encoding", "8bit");
	res->utf8 = !dsn_is_ascii((const char *)BUF_DATA(h), h->len);
	buf_clear(&v);
}

static void
part_start(const struct ctx *c, struct buf *h, const char *desc,
    const char *type, bool eightbit)
{
	buf_printf(h, "\r\n--%s\r\n", c->bnd);
	dsn_field_add(h, "Content-Description", desc);
	dsn_field_add(h, "Content-Type", type);
	if (eightbit)
		dsn_field_add(h, "Content-Transfer-Encoding", "8bit");
	buf_add_str(h, "\r\n");
}

static const char *
orig_type(const struct ctx *c)
{
	if (c->utf8)
		return c->full ? "message/global" : "message/global-headers";
	return c->full ? "message/rfc822" : "text/rfc822-headers";
}

static const char *
orig_desc(const struct ctx *c)
{
	if (c->m->kind == DSN_SUCCESS)
		return c->full ? "Message" : "Message Headers";
	return c->full ? "Undelivered Message" : "Undelivered Message Headers";
}

/* Everything before the copy of the original. */
static void
head_build(const struct ctx *c, struct buf *h, struct dsn_result *res)
{
	bool	 t8, d8, o8 = false;

	t8 = !dsn_is_ascii((const char *)BUF_DATA(&c->text), c->text.len);
	d8 = !dsn_is_ascii((const char *)BUF_DATA(&c->ds), c->ds.len);
	if (c->orig != NULL)
		o8 = c->full ? c->scan.any_8bit : c->scan.hdr_8bit;
	res->eightbit = t8 || d8 || o8;
	res->headers_only = c->orig != NULL && !c->full;
	head_fields(c, h, res->eightbit, res);
	buf_add_str(h, "\r\nThis is a MIME-encapsulated message.\r\n");
	part_start(c, h, "Notification", t8 ? "text/plain; charset=utf-8" :
	    "text/plain; charset=us-ascii", t8);
	buf_add(h, BUF_DATA(&c->text), c->text.len);
	part_start(c, h, "Delivery report", c->utf8 ?
	    "message/global-delivery-status" : "message/delivery-status", d8);
	buf_add(h, BUF_DATA(&c->ds), c->ds.len);
	if (c->orig != NULL)
		part_start(c, h, orig_desc(c), orig_type(c), o8);
}

static int
generate(const struct dsn_msg *m, const struct dsn_orig *o,
    struct dsn_sink *sink, struct dsn_result *res, char **err_r)
{
	struct ctx	 c;
	struct buf	 h;
	const char	*why;
	int		 rv = -1;

	if ((why = msg_invalid(m, o)) != NULL) {
		*err_r = xasprintf("dsn: %s", why);
		return -1;
	}
	memset(&c, 0, sizeof(c));
	memset(res, 0, sizeof(*res));
	c.m = m;
	c.orig = o;
	c.utf8 = m->smtputf8;
	buf_init(&c.text, SCRATCH_MAX);
	buf_init(&c.ds, SCRATCH_MAX);
	buf_init(&h, SCRATCH_MAX);
	if (boundary_choose(&c, err_r) == -1)
		goto out;
	head_build(&c, &h, res);
	if (dsn_sink_put(sink, BUF_DATA(&h), h.len) == -1)
		goto sink_err;
	if (o != NULL && dsn_orig_copy(o, c.bnd, c.full, &c.scan, sink,
	    err_r) == -1)
		goto out;
	buf_reset(&h);
	buf_printf(&h, "\r\n--%s--\r\n", c.bnd);
	if (dsn_sink_put(sink, BUF_DATA(&h), h.len) == -1)
		goto sink_err;
	res->size = sink->size;
	rv = 0;
	goto out;
sink_err:
	*err_r = xstrdup(sink->err);
out:
	buf_clear(&c.text);
	buf_clear(&c.ds);
	buf_clear(&h);
	return rv;
}

int
dsn_write(const struct dsn_msg *m, const struct dsn_orig *o,
    struct buf *out, struct dsn_result *res_r, char **err_r)
{
	struct dsn_sink		 sink = { .buf = out, .fd = -1 };
	struct dsn_result	 res;
	size_t			 start = out->len;
	int			 rv;

	rv = generate(m, o, &sink, &res, err_r);
	if (rv == -1 && out->len > start) {
		out->len = start;
		BUF_DATA(out)[start] = '\0';
	}
	free(sink.err);
	if (rv == 0 && res_r != NULL)
		*res_r = res;
	return rv;
}

int
dsn_write_fd(const struct dsn_msg *m, const struct dsn_orig *o, int fd,
    struct dsn_result *res_r, char **err_r)
{
	struct dsn_sink		 sink = { .buf = NULL, .fd = fd };
	struct dsn_result	 res;
	int			 rv;

	rv = generate(m, o, &sink, &res, err_r);
	free(sink.err);
	if (rv == 0 && res_r != NULL)
		*res_r = res;
	return rv;
}
