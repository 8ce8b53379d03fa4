/*
 * Unit tests for lib/dsn: NOTIFY rules, the generated message read back
 * structurally (CRLF only, lines <= 998, boundaries, part headers, exact
 * field values), injection attempts, ENVID/ORCPT decoding, the RFC 6533
 * variant, the original copied or cut (8-bit, binary, huge, streamed),
 * every error path, and Python's email package on the results
 * (tests/integ/dsn_check.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "dsn.h"

#define OUT_MAX		(64 * 1024 * 1024)
#define NOW		1700000100	/* Tue, 14 Nov 2023 22:15:00 */
#define ARRIVAL		1699990000	/* Tue, 14 Nov 2023 19:26:40 */
#define LAST		1700000000	/* Tue, 14 Nov 2023 22:13:20 */
#define RETRY		1700432000	/* Sun, 19 Nov 2023 22:13:20 */

/* Deterministic random octets (xorshift), reset by each test. */
static uint64_t	 rnd_state;
static int	 rnd_calls;
static int	 rnd_const_calls;	/* this many calls give all zeros */

static void
test_random(void *p, size_t n)
{
	uint8_t	*o = p;
	size_t	 i;

	rnd_calls++;
	for (i = 0; i < n; i++) {
		if (rnd_calls <= rnd_const_calls) {
			o[i] = (uint8_t)(rnd_calls - 1);
			continue;
		}
		rnd_state ^= rnd_state << 13;
		rnd_state ^= rnd_state >> 7;
		rnd_state ^= rnd_state << 17;
		o[i] = (uint8_t)rnd_state;
	}
}

static int
setup(void **state)
{
	rnd_state = 88172645463325252ULL;
	rnd_calls = 0;
	rnd_const_calls = 0;
	dsn_set_random(test_random);
	return 0;
}

static int
teardown(void **state)
{
	dsn_set_random(NULL);
	return 0;
}

/* ---- reading a DSN back ---- */

struct part {
	const char	*hdr;		/* header lines, each with CRLF */
	size_t		 hdr_len;
	const char	*body;
	size_t		 body_len;
};

struct parsed {
	const char	*data;
	size_t		 len;
	size_t		 top_len;	/* top-level header */
	char		 bnd[128];
	struct part	 parts[4];
	size_t		 nparts;
};

/* CRLF only, no NUL, no line over 998 octets. */
static void
check_lines(const char *d, size_t len)
{
	size_t	 i, col = 0;

	assert_true(len >= 2 && d[len - 2] == '\r' && d[len - 1] == '\n');
	for (i = 0; i < len; i++) {
		assert_int_not_equal(d[i], '\0');
		if (d[i] == '\r') {
			assert_true(i + 1 < len && d[i + 1] == '\n');
			assert_true(col <= 998);
			col = 0;
			i++;
		} else {
			assert_int_not_equal(d[i], '\n');
			col++;
		}
	}
}

/* The unfolded value of the first field name in h, malloc'd; or NULL. */
static char *
field(const char *h, size_t len, const char *name)
{
	size_t		 nlen = strlen(name), i = 0, llen;
	const char	*line, *eol;
	struct buf	 v;

	while (i < len) {
		line = h + i;
		eol = memmem(line, len - i, "\r\n", 2);
		llen = eol != NULL ? (size_t)(eol - line) : len - i;
		i += llen + 2;
		if (llen <= nlen || strncasecmp(line, name, nlen) != 0 ||
		    line[nlen] != ':')
			continue;
		buf_init(&v, 1 << 20);
		buf_add(&v, line + nlen + 1, llen - nlen - 1);
		while (i < len && (h[i] == ' ' || h[i] == '\t')) {
			eol = memmem(h + i, len - i, "\r\n", 2);
			llen = eol != NULL ? (size_t)(eol - (h + i)) : len - i;
			buf_add(&v, h + i, llen);
			i += llen + 2;
		}
		while (v.len > 0 && BUF_DATA(&v)[0] == ' ')
			buf_consume(&v, 1);
		return buf_steal(&v, NULL);
	}
	return NULL;
}

static void
assert_prefix(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", s, prefix);
}

/* The text part with its wrapping ("CRLF" + 4 spaces) undone. */
static char *
unwrap(const struct part *t)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 1 << 24);
	for (i = 0; i < t->body_len; i++) {
		if (i + 6 <= t->body_len &&
		    memcmp(t->body + i, "\r\n    ", 6) == 0) {
			buf_add_u8(&b, ' ');
			i += 5;
		} else
			buf_add_u8(&b, (uint8_t)t->body[i]);
	}
	return buf_steal(&b, NULL);
}

static int
field_count(const char *h, size_t len, const char *name)
{
	size_t	 nlen = strlen(name), i;
	int	 n = 0;

	for (i = 0; i + nlen < len; i++)
		if ((i == 0 || h[i - 1] == '\n') &&
		    strncasecmp(h + i, name, nlen) == 0 && h[i + nlen] == ':')
			n++;
	return n;
}

static void
assert_field(const char *h, size_t len, const char *name, const char *want)
{
	char	*v = field(h, len, name);

	if (want == NULL) {
		assert_null(v);
		return;
	}
	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

static size_t
count_str(const char *d, size_t len, const char *s)
{
	size_t		 n = 0, sl = strlen(s);
	const char	*p = d, *q;

	while ((q = memmem(p, len - (size_t)(p - d), s, sl)) != NULL) {
		n++;
		p = q + 1;
	}
	return n;
}

static void
parse(struct parsed *p, const char *d, size_t len)
{
	const char	*hend, *q, *pos, *next;
	char		*ct, delim[140];
	size_t		 dl;

	memset(p, 0, sizeof(*p));
	p->data = d;
	p->len = len;
	check_lines(d, len);
	hend = memmem(d, len, "\r\n\r\n", 4);
	assert_non_null(hend);
	p->top_len = (size_t)(hend - d) + 2;
	ct = field(d, p->top_len, "Content-Type");
	assert_non_null(ct);
	q = strstr(ct, "boundary=\"");
	assert_non_null(q);
	q += strlen("boundary=\"");
	assert_non_null(strchr(q, '"'));
	assert_true((size_t)(strchr(q, '"') - q) < sizeof(p->bnd));
	memcpy(p->bnd, q, (size_t)(strchr(q, '"') - q));
	free(ct);
	assert_int_equal(strlen(p->bnd), 40);
	dl = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", p->bnd);
	pos = memmem(hend + 2, len - (size_t)(hend + 2 - d), delim, dl);
	assert_non_null(pos);
	for (;;) {
		pos += dl;
		if (pos[0] == '-' && pos[1] == '-') {
			assert_true(pos + 4 == d + len);
			break;
		}
		assert_true(pos[0] == '\r' && pos[1] == '\n');
		pos += 2;
		assert_true(p->nparts < 4);
		next = memmem(pos, len - (size_t)(pos - d), delim, dl);
		assert_non_null(next);
		q = memmem(pos, (size_t)(next - pos) + 2, "\r\n\r\n", 4);
		assert_non_null(q);
		p->parts[p->nparts].hdr = pos;
		p->parts[p->nparts].hdr_len = (size_t)(q - pos) + 2;
		p->parts[p->nparts].body = q + 4;
		p->parts[p->nparts].body_len = q + 4 <= next ?
		    (size_t)(next - (q + 4)) : 0;
		p->nparts++;
		pos = next;
	}
	/* The boundary: in Content-Type and the delimiters, nowhere else. */
	assert_int_equal(count_str(d, len, p->bnd), p->nparts + 2);
}

static void
assert_part(const struct parsed *p, size_t i, const char *type,
    const char *cte)
{
	assert_true(i < p->nparts);
	assert_field(p->parts[i].hdr, p->parts[i].hdr_len, "Content-Type",
	    type);
	assert_field(p->parts[i].hdr, p->parts[i].hdr_len,
	    "Content-Transfer-Encoding", cte);
}

/* Group g (0: per-message) of the delivery-status part. */
static void
ds_group(const struct parsed *p, size_t g, const char **s_r, size_t *len_r)
{
	const char	*s = p->parts[1].body, *end = s + p->parts[1].body_len;
	const char	*q;

	for (; g > 0; g--) {
		q = memmem(s, (size_t)(end - s), "\r\n\r\n", 4);
		assert_non_null(q);
		s = q + 4;
	}
	q = memmem(s, (size_t)(end - s), "\r\n\r\n", 4);
	*s_r = s;
	*len_r = q != NULL ? (size_t)(q - s) + 2 : (size_t)(end - s);
}

static size_t
ds_ngroups(const struct parsed *p)
{
	return count_str(p->parts[1].body, p->parts[1].body_len,
	    "\r\n\r\n") + 1;
}

static void
assert_ds(const struct parsed *p, size_t g, const char *name,
    const char *want)
{
	const char	*s;
	size_t		 len;

	ds_group(p, g, &s, &len);
	assert_field(s, len, name, want);
}

/* ---- fixtures ---- */

static const char orig_msg[] =
    "Received: from client.example (client.example [192.0.2.1])\r\n"
    "\tby mail.example.com (Wharf) with ESMTP id Q1\r\n"
    "From: Alice <alice@example.com>\r\n"
    "To: bob@example.net\r\n"
    "Subject: Hello\r\n"
    "Message-ID: <orig.1@example.com>\r\n"
    "\r\n"
    "Hello Bob.\r\n"
    "--\r\n"
    "Alice\r\n";

static size_t
orig_hdr_len(void)
{
	return (size_t)(strstr(orig_msg, "\r\n\r\n") - orig_msg) + 2;
}

static void
msg_init(struct dsn_msg *m, struct dsn_rcpt *r, enum dsn_kind kind)
{
	memset(r, 0, 2 * sizeof(*r));
	r[0].rcpt = "bob@example.net";
	r[0].orcpt = "rfc822;bob@example.net";
	r[0].status = kind == DSN_FAILURE ? "5.1.1" : kind == DSN_DELAY ?
	    "4.4.1" : "2.0.0";
	r[0].diagnostic = "smtp; 550 5.1.1 <bob@example.net>: user unknown";
	r[0].remote_mta = "dns; mx.example.net";
	r[0].last_attempt = LAST;
	r[0].will_retry_until = RETRY;
	r[1].rcpt = "carol@example.org";
	memset(m, 0, sizeof(*m));
	m->reporting_mta = "mail.example.com";
	m->queue_id = "Q1234abc";
	m->envid = "env+2B1";
	m->sender = "alice@example.com";
	m->postmaster = "MAILER-DAEMON@mail.example.com";
	m->received_from = "dns; client.example ([192.0.2.1])";
	m->arrival = ARRIVAL;
	m->now = NOW;
	m->kind = kind;
	m->ret = DSN_RET_DEFAULT;
	m->rcpts = r;
	m->nrcpts = 2;
}

/* Build into *out (initialised here); asserts success. */
static void
build(const struct dsn_msg *m, const struct dsn_orig *o, struct buf *out,
    struct dsn_result *res, struct parsed *p)
{
	char	*err = NULL;

	buf_init(out, OUT_MAX);
	if (dsn_write(m, o, out, res, &err) != 0)
		fail_msg("dsn_write: %s", err);
	assert_null(err);
	assert_int_equal(res->size, out->len);
	parse(p, (const char *)BUF_DATA(out), out->len);
}

/* ---- NOTIFY and the null sender ---- */

static void
test_wanted(void **state)
{
	static const struct {
		unsigned	 notify;
		bool		 fail, delay, success;
	} t[] = {
		{ 0, true, true, false },
		{ DSN_NOTIFY_NEVER, false, false, false },
		{ DSN_NOTIFY_SUCCESS, false, false, true },
		{ DSN_NOTIFY_FAILURE, true, false, false },
		{ DSN_NOTIFY_DELAY, false, true, false },
		{ DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY, true, true, false },
		{ DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY,
		    true, true, true },
		{ DSN_NOTIFY_NEVER | DSN_NOTIFY_SUCCESS, false, false, false },
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(dsn_wanted(t[i].notify, DSN_FAILURE),
		    t[i].fail);
		assert_int_equal(dsn_wanted(t[i].notify, DSN_DELAY),
		    t[i].delay);
		assert_int_equal(dsn_wanted(t[i].notify, DSN_SUCCESS),
		    t[i].success);
	}
	assert_false(dsn_wanted(0, (enum dsn_kind)7));
	assert_false(dsn_wanted(DSN_NOTIFY_FAILURE, (enum dsn_kind)7));
}

static void
test_may_bounce(void **state)
{
	assert_false(dsn_may_bounce(NULL));
	assert_false(dsn_may_bounce(""));
	assert_false(dsn_may_bounce("<>"));
	assert_true(dsn_may_bounce("a@b"));
	assert_true(dsn_may_bounce("<a@b>"));
	assert_true(dsn_may_bounce("MAILER-DAEMON@example.com"));
	assert_true(dsn_may_bounce("postmaster"));
}

static void
test_status_text(void **state)
{
	assert_string_equal(dsn_status_text("5.1.1"),
	    "Bad destination mailbox address");
	assert_string_equal(dsn_status_text("4.4.7"), "Delivery time expired");
	assert_string_equal(dsn_status_text("2.0.0"), "Other undefined status");
	assert_string_equal(dsn_status_text("5.2.2"), "Mailbox full");
	assert_string_equal(dsn_status_text("5.1.10"),
	    "Recipient address has null MX");
	assert_string_equal(dsn_status_text("5.1.99"), "Other address status");
	assert_string_equal(dsn_status_text("4.9.9"), "Other undefined status");
	assert_string_equal(dsn_status_text("5.123.456"),
	    "Other undefined status");
	assert_string_equal(dsn_status_text("3.1.1"), "");
	assert_string_equal(dsn_status_text("5.1"), "");
	assert_string_equal(dsn_status_text("5.1.1 "), "");
	assert_string_equal(dsn_status_text("5.1000.1"), "");
	assert_string_equal(dsn_status_text("5..1"), "");
	assert_string_equal(dsn_status_text("51.1.1"), "");
	assert_string_equal(dsn_status_text(""), "");
	assert_string_equal(dsn_status_text(NULL), "");
}

/* ---- the message, each kind and RET ---- */

struct kind_case {
	enum dsn_kind	 kind;
	enum dsn_ret	 ret;
	bool		 full;		/* part 3 is the whole original */
	const char	*subject;
	const char	*action;
	const char	*desc;		/* part 3 Content-Description */
};

static const struct kind_case kind_cases[] = {
	{ DSN_FAILURE, DSN_RET_DEFAULT, true,
	    "Undelivered Mail Returned to Sender", "failed",
	    "Undelivered Message" },
	{ DSN_FAILURE, DSN_RET_FULL, true,
	    "Undelivered Mail Returned to Sender", "failed",
	    "Undelivered Message" },
	{ DSN_FAILURE, DSN_RET_HDRS, false,
	    "Undelivered Mail Returned to Sender", "failed",
	    "Undelivered Message Headers" },
	{ DSN_DELAY, DSN_RET_DEFAULT, false,
	    "Delayed Mail (still being retried)", "delayed",
	    "Undelivered Message Headers" },
	{ DSN_DELAY, DSN_RET_FULL, false,
	    "Delayed Mail (still being retried)", "delayed",
	    "Undelivered Message Headers" },
	{ DSN_SUCCESS, DSN_RET_FULL, false,
	    "Successful Mail Delivery Report", "delivered", "Message Headers" },
	{ DSN_SUCCESS, DSN_RET_HDRS, false,
	    "Successful Mail Delivery Report", "delivered", "Message Headers" },
};

static void
check_top(const struct parsed *p, const char *subject)
{
	char	*v;

	assert_field(p->data, p->top_len, "From",
	    "Mail Delivery System <MAILER-DAEMON@mail.example.com>");
	assert_field(p->data, p->top_len, "To", "<alice@example.com>");
	assert_field(p->data, p->top_len, "Subject", subject);
	assert_field(p->data, p->top_len, "Date",
	    "Tue, 14 Nov 2023 22:15:00 +0000");
	assert_field(p->data, p->top_len, "Auto-Submitted", "auto-replied");
	assert_field(p->data, p->top_len, "MIME-Version", "1.0");
	v = field(p->data, p->top_len, "Message-ID");
	assert_non_null(v);
	assert_true(strncmp(v, "<Q1234abc.", 10) == 0);
	assert_int_equal(strlen(v), strlen("<Q1234abc.") + 16 +
	    strlen("@mail.example.com>"));
	assert_string_equal(v + strlen(v) - strlen("@mail.example.com>"),
	    "@mail.example.com>");
	free(v);
	v = field(p->data, p->top_len, "Content-Type");
	assert_non_null(v);
	assert_prefix(v, "multipart/report; report-type=delivery-status; "
	    "boundary=\"=_wharf.");
	free(v);
}

static void
check_ds(const struct parsed *p, const struct kind_case *k)
{
	assert_int_equal(ds_ngroups(p), 3);
	assert_ds(p, 0, "Original-Envelope-Id", "env+1");
	assert_ds(p, 0, "Reporting-MTA", "dns; mail.example.com");
	assert_ds(p, 0, "Received-From-MTA",
	    "dns; client.example ([192.0.2.1])");
	assert_ds(p, 0, "Arrival-Date", "Tue, 14 Nov 2023 19:26:40 +0000");
	assert_ds(p, 0, "X-Wharf-Queue-ID", "Q1234abc");
	assert_ds(p, 0, "X-Wharf-Sender", "rfc822; alice@example.com");
	assert_ds(p, 1, "Original-Recipient", "rfc822; bob@example.net");
	assert_ds(p, 1, "Final-Recipient", "rfc822; bob@example.net");
	assert_ds(p, 1, "Action", k->action);
	assert_ds(p, 1, "Status", k->kind == DSN_FAILURE ? "5.1.1" :
	    k->kind == DSN_DELAY ? "4.4.1" : "2.0.0");
	assert_ds(p, 1, "Remote-MTA", "dns; mx.example.net");
	assert_ds(p, 1, "Diagnostic-Code",
	    "smtp; 550 5.1.1 <bob@example.net>: user unknown");
	assert_ds(p, 1, "Last-Attempt-Date", "Tue, 14 Nov 2023 22:13:20 +0000");
	assert_ds(p, 1, "Will-Retry-Until", k->kind == DSN_DELAY ?
	    "Sun, 19 Nov 2023 22:13:20 +0000" : NULL);
	assert_ds(p, 2, "Original-Recipient", NULL);
	assert_ds(p, 2, "Final-Recipient", "rfc822; carol@example.org");
	assert_ds(p, 2, "Action", k->action);
	assert_ds(p, 2, "Status", k->kind == DSN_FAILURE ? "5.0.0" :
	    k->kind == DSN_DELAY ? "4.0.0" : "2.0.0");
	assert_ds(p, 2, "Remote-MTA", NULL);
	assert_ds(p, 2, "Diagnostic-Code", NULL);
	assert_ds(p, 2, "Last-Attempt-Date", NULL);
}

static void
check_text(const struct parsed *p, enum dsn_kind kind)
{
	const struct part	*t = &p->parts[0];
	char			*s = unwrap(t);

	assert_non_null(strstr(s, "This is the mail system at host "
	    "mail.example.com.\r\n"));
	assert_non_null(strstr(s, "<bob@example.net>: "));
	assert_non_null(strstr(s, "<carol@example.org>: "));
	if (kind == DSN_FAILURE) {
		assert_non_null(strstr(s, "host mx.example.net said: 550 5.1.1"
		    " <bob@example.net>: user unknown"));
		assert_non_null(strstr(s, "<carol@example.org>: Other "
		    "undefined status (5.0.0)"));
	}
	if (kind == DSN_DELAY)
		assert_non_null(strstr(s,
		    "keep trying until Sun, 19 Nov 2023"));
	if (kind == DSN_SUCCESS)
		assert_non_null(strstr(s, "<carol@example.org>: delivered"));
	/* Not an empty line at the end: the delimiter gives one. */
	assert_true(t->body_len > 4);
	assert_false(t->body[t->body_len - 3] == '\n');
	free(s);
}

static void
test_kinds(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	struct dsn_result	 res;
	struct buf		 out;
	struct parsed		 p;
	const struct kind_case	*k;
	size_t			 i;

	for (i = 0; i < sizeof(kind_cases) / sizeof(kind_cases[0]); i++) {
		k = &kind_cases[i];
		msg_init(&m, r, k->kind);
		m.ret = k->ret;
		dsn_orig_mem(&o, orig_msg, strlen(orig_msg));
		build(&m, &o, &out, &res, &p);
		check_top(&p, k->subject);
		assert_int_equal(p.nparts, 3);
		assert_part(&p, 0, "text/plain; charset=us-ascii", NULL);
		assert_field(p.parts[0].hdr, p.parts[0].hdr_len,
		    "Content-Description", "Notification");
		assert_part(&p, 1, "message/delivery-status", NULL);
		assert_part(&p, 2, k->full ? "message/rfc822" :
		    "text/rfc822-headers", NULL);
		assert_field(p.parts[2].hdr, p.parts[2].hdr_len,
		    "Content-Description", k->desc);
		if (k->full) {
			assert_int_equal(p.parts[2].body_len, strlen(orig_msg));
			assert_memory_equal(p.parts[2].body, orig_msg,
			    strlen(orig_msg));
		} else {
			assert_int_equal(p.parts[2].body_len, orig_hdr_len());
			assert_memory_equal(p.parts[2].body, orig_msg,
			    orig_hdr_len());
		}
		assert_int_equal(res.headers_only, !k->full);
		assert_false(res.eightbit);
		assert_false(res.utf8);
		assert_field(p.data, p.top_len, "Message-ID", res.message_id);
		check_ds(&p, k);
		check_text(&p, k->kind);
		buf_clear(&out);
	}
}

/* Appends to what out holds; without an original: two parts. */
static void
test_no_original_appends(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_result	 res;
	struct buf		 out;
	struct parsed		 p;
	char			*err = NULL;

	msg_init(&m, r, DSN_FAILURE);
	m.envid = NULL;
	m.received_from = NULL;
	m.arrival = 0;
	buf_init(&out, OUT_MAX);
	buf_add_str(&out, "keep");
	assert_int_equal(dsn_write(&m, NULL, &out, &res, &err), 0);
	assert_memory_equal(BUF_DATA(&out), "keep", 4);
	assert_int_equal(res.size, out.len - 4);
	parse(&p, (const char *)BUF_DATA(&out) + 4, out.len - 4);
	assert_int_equal(p.nparts, 2);
	assert_false(res.headers_only);
	assert_ds(&p, 0, "Original-Envelope-Id", NULL);
	assert_ds(&p, 0, "Received-From-MTA", NULL);
	assert_ds(&p, 0, "Arrival-Date", NULL);
	assert_null(strstr((const char *)BUF_DATA(&out), "attached"));
	/* res_r may be NULL. */
	assert_int_equal(dsn_write(&m, NULL, &out, NULL, &err), 0);
	buf_clear(&out);
}

/* DSN_SUCCESS: relayed or delivered per recipient. */
static void
test_success_relayed(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_result	 res;
	struct buf		 out;
	struct parsed		 p;
	char			*s;

	msg_init(&m, r, DSN_SUCCESS);
	r[0].diagnostic = NULL;
	r[1].relayed = true;
	build(&m, NULL, &out, &res, &p);
	assert_ds(&p, 1, "Action", "delivered");
	assert_ds(&p, 2, "Action", "relayed");
	s = unwrap(&p.parts[0]);
	assert_non_null(strstr(s, "<bob@example.net>: delivered\r\n"));
	assert_non_null(strstr(s, "<carol@example.org>: relayed to a system "
	    "that does not send delivery notifications\r\n"));
	free(s);
	buf_clear(&out);
}

/* ---- hostile strings ---- */

static void
test_injection(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	struct dsn_result	 res;
	struct buf		 out;
	struct parsed		 p;
	char			*s;

	msg_init(&m, r, DSN_FAILURE);
	r[0].rcpt = "bob@example.net\r\nBcc: evil@example.com";
	r[0].orcpt = "rfc822;bob+0D+0ABcc:+20x@example.net";
	r[0].status = "5.1.1\r\nX-Injected: 1";
	r[0].diagnostic = "smtp; 550 no\r\n\r\nSubject: pwned\r\n"
	    "Content-Type: text/html\n\rX-Evil:\t\x01\x7f yes\x80\xff";
	r[0].remote_mta = "dns; mx\nX-Remote: 1";
	r[1].rcpt = "<carol@example.org>";
	r[1].diagnostic = "\r\n";
	m.reporting_mta = "mail.example.com\r\nX-Host: 1";
	m.queue_id = "Q1\r\nX-Qid: 1";
	m.envid = "a+0D+0AX-Env:+201";
	m.sender = "alice@example.com>\r\nCc: <x@y";
	dsn_orig_mem(&o, orig_msg, strlen(orig_msg));
	build(&m, &o, &out, &res, &p);
	s = (char *)BUF_DATA(&out);
	/* No field line of ours starts with an injected name. */
	assert_int_equal(field_count(s, out.len, "Bcc"), 0);
	assert_int_equal(field_count(s, out.len, "Cc"), 0);
	assert_int_equal(field_count(s, out.len, "X-Injected"), 0);
	assert_int_equal(field_count(s, out.len, "X-Evil"), 0);
	assert_int_equal(field_count(s, out.len, "X-Remote"), 0);
	assert_int_equal(field_count(s, out.len, "X-Host"), 0);
	assert_int_equal(field_count(s, out.len, "X-Qid"), 0);
	assert_int_equal(field_count(s, out.len, "X-Env"), 0);
	assert_int_equal(field_count(s, p.top_len, "Subject"), 1);
	/* The original's own Subject only, in part 3. */
	assert_int_equal(field_count(s, out.len, "Subject"), 2);
	assert_int_equal(field_count(s, out.len, "Content-Type"), 4);
	assert_int_equal(ds_ngroups(&p), 3);
	assert_field(s, p.top_len, "To",
	    "<alice@example.com> Cc: <x@y>");
	assert_ds(&p, 0, "Reporting-MTA", "dns; mail.example.com X-Host: 1");
	assert_ds(&p, 0, "X-Wharf-Queue-ID", "Q1 X-Qid: 1");
	/* A decoded ENVID with controls is shown raw. */
	assert_ds(&p, 0, "Original-Envelope-Id", "a+0D+0AX-Env:+201");
	assert_ds(&p, 1, "Final-Recipient",
	    "rfc822; bob@example.net Bcc: evil@example.com");
	assert_ds(&p, 1, "Original-Recipient",
	    "rfc822; bob+0D+0ABcc:+20x@example.net");
	assert_ds(&p, 1, "Status", "5.0.0");
	assert_ds(&p, 1, "Remote-MTA", "dns; mx X-Remote: 1");
	assert_ds(&p, 1, "Diagnostic-Code", "smtp; 550 no Subject: pwned "
	    "Content-Type: text/html X-Evil: yes??");
	assert_ds(&p, 2, "Final-Recipient", "rfc822; carol@example.org");
	assert_ds(&p, 2, "Diagnostic-Code", NULL);
	assert_false(res.eightbit);
	buf_clear(&out);
}

/* Long diagnostics: folded at 78 where words allow, cut at the cap. */
static void
test_fold(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_result	 res;
	struct buf		 out, d;
	struct parsed		 p;
	const char		*s, *e;
	char			*v;
	size_t			 i, len;

	buf_init(&d, 1 << 20);
	buf_add_str(&d, "smtp; 550");
	for (i = 0; i < 1000; i++)
		buf_add_str(&d, " word");
	msg_init(&m, r, DSN_FAILURE);
	r[0].diagnostic = buf_cstr(&d);
	build(&m, NULL, &out, &res, &p);
	ds_group(&p, 1, &s, &len);
	for (e = s; e < s + len; e = memmem(e, len - (size_t)(e - s),
	    "\r\n", 2) + 2)
		assert_true((size_t)((const char *)memmem(e,
		    len - (size_t)(e - s), "\r\n", 2) - e) <= 78);
	v = field(s, len, "Diagnostic-Code");
	assert_int_equal(strlen(v), 1999 + 3);
	assert_string_equal(v + strlen(v) - 8, " word...");
	free(v);
	buf_clear(&out);

	/* One 5000-octet word: split below 998, nothing lost up to the cap. */
	buf_reset(&d);
	buf_add_str(&d, "x-local; ");
	for (i = 0; i < 5000; i++)
		buf_add_u8(&d, (uint8_t)('a' + i % 26));
	r[0].diagnostic = buf_cstr(&d);
	build(&m, NULL, &out, &res, &p);
	ds_group(&p, 1, &s, &len);
	v = field(s, len, "Diagnostic-Code");
	assert_true(strncmp(v, "x-local; abcdefghij", 19) == 0);
	/* Folded before the word, split once more (CRLF SP): one space. */
	assert_int_equal(strlen(v), 2000 + 3 + 1);
	free(v);
	buf_clear(&out);
	buf_clear(&d);
}

/* ---- ENVID and ORCPT ---- */

static void
one_ds(struct dsn_msg *m, size_t g, const char *name, const char *want)
{
	struct dsn_result	 res;
	struct buf		 out;
	struct parsed		 p;

	build(m, NULL, &out, &res, &p);
	assert_ds(&p, g, name, want);
	buf_clear(&out);
}

static void
test_envid(void **state)
{
	static const struct {
		const char	*envid, *want;
	} t[] = {
		{ "ab+2Bcd+3D", "ab+cd=" },
		{ "QQ314159", "QQ314159" },
		{ "+41+42+43", "ABC" },
		{ "a+zz", "a+zz" },		/* not xtext: raw */
		{ "a+2", "a+2" },
		{ "x+0Ay", "x+0Ay" },		/* decodes to LF: raw */
		{ "x+00y", "x+00y" },		/* NUL */
		{ "a+20b", "a b" },
		{ "", NULL },
		{ NULL, NULL },
	};
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		msg_init(&m, r, DSN_FAILURE);
		m.envid = t[i].envid;
		one_ds(&m, 0, "Original-Envelope-Id", t[i].want);
	}
}

static void
test_orcpt(void **state)
{
	static const struct {
		const char	*orcpt;
		bool		 utf8;
		const char	*want;
	} t[] = {
		{ "rfc822;a+2Bb@x", false, "rfc822; a+b@x" },
		{ "RFC822; a@x", false, "RFC822; a@x" },
		{ "rfc822;a+zz@x", false, "rfc822; a+zz@x" },
		{ "x-other;thing+3Dy", false, "x-other; thing=y" },
		{ "utf-8;j\\x{F6}rg@x", true, "utf-8; j\xc3\xb6rg@x" },
		{ "utf-8;j\\x{F6}rg@x", false, "utf-8; j\\x{F6}rg@x" },
		{ "utf-8;j\\x{D800}rg@x", true, "utf-8; j\\x{D800}rg@x" },
		{ "utf-8;j\\x{}@x", true, "utf-8; j\\x{}@x" },
		{ "utf-8;a+5Cx{41}@x", true, "utf-8; aA@x" },
		{ "rfc822;+C3+B6@x", true, "rfc822; \xc3\xb6@x" },
		{ "rfc822;+C3+B6@x", false, "rfc822; ?@x" },
		{ "noseparator", false, NULL },
		{ "bad type;x", false, NULL },
		{ ";x", false, NULL },
	};
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		msg_init(&m, r, DSN_FAILURE);
		m.smtputf8 = t[i].utf8;
		r[0].orcpt = t[i].orcpt;
		one_ds(&m, 1, "Original-Recipient", t[i].want);
	}
}

/* Typed values with no valid type get the default one. */
static void
test_typed(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];

	msg_init(&m, r, DSN_FAILURE);
	r[0].diagnostic = "5.1.1 no such user";
	one_ds(&m, 1, "Diagnostic-Code", "X-Wharf; 5.1.1 no such user");
	r[0].diagnostic = "smtp ;550 x";
	one_ds(&m, 1, "Diagnostic-Code", "smtp; 550 x");
	r[0].diagnostic = "bad type; 550 x";
	one_ds(&m, 1, "Diagnostic-Code", "X-Wharf; bad type; 550 x");
	r[0].diagnostic = "   ";
	one_ds(&m, 1, "Diagnostic-Code", NULL);
	r[0].remote_mta = "mx.example.net";
	one_ds(&m, 1, "Remote-MTA", "dns; mx.example.net");
	m.received_from = "";
	one_ds(&m, 0, "Received-From-MTA", NULL);
}

/* ---- RFC 6533 ---- */

static void
test_smtputf8(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	struct dsn_result	 res;
	struct buf		 out;
	struct parsed		 p;
	char			*v;
	static const char	 u8orig[] = "From: \xc3\xa5lice@example.se\r\n"
	    "Subject: h\xc3\xa9llo\r\n\r\nb\xc3\xb6" "dy\r\n";

	msg_init(&m, r, DSN_FAILURE);
	m.smtputf8 = true;
	m.sender = "\xc3\xa5lice@example.se";
	r[0].rcpt = "j\xc3\xb6rg@example.de";
	r[0].diagnostic = "smtp; 550 Benutzer j\xc3\xb6rg unbekannt \xff";
	dsn_orig_mem(&o, u8orig, strlen(u8orig));
	build(&m, &o, &out, &res, &p);
	v = field(p.data, p.top_len, "Content-Type");
	assert_prefix(v, "multipart/report; report-type="
	    "global-delivery-status; boundary=\"=_wharf.");
	free(v);
	assert_field(p.data, p.top_len, "Content-Transfer-Encoding", "8bit");
	assert_field(p.data, p.top_len, "To", "<\xc3\xa5lice@example.se>");
	assert_part(&p, 0, "text/plain; charset=utf-8", "8bit");
	assert_part(&p, 1, "message/global-delivery-status", "8bit");
	assert_part(&p, 2, "message/global", "8bit");
	assert_ds(&p, 1, "Final-Recipient", "utf-8; j\xc3\xb6rg@example.de");
	assert_ds(&p, 1, "Diagnostic-Code",
	    "smtp; 550 Benutzer j\xc3\xb6rg unbekannt ?");
	assert_ds(&p, 0, "X-Wharf-Sender", "utf-8; \xc3\xa5lice@example.se");
	assert_true(res.utf8);
	assert_true(res.eightbit);
	assert_false(res.headers_only);
	buf_clear(&out);

	/* Headers only: message/global-headers. */
	m.ret = DSN_RET_HDRS;
	build(&m, &o, &out, &res, &p);
	assert_part(&p, 2, "message/global-headers", "8bit");
	assert_true(res.headers_only);
	buf_clear(&out);

	/* An ASCII DSN: the same recipient in utf-8-addr-xtext, no 8-bit. */
	m.smtputf8 = false;
	m.sender = "alice@example.com";
	dsn_orig_mem(&o, orig_msg, strlen(orig_msg));
	build(&m, &o, &out, &res, &p);
	assert_part(&p, 0, "text/plain; charset=us-ascii", NULL);
	assert_part(&p, 1, "message/delivery-status", NULL);
	assert_part(&p, 2, "text/rfc822-headers", NULL);
	assert_ds(&p, 1, "Final-Recipient", "utf-8; j\\x{F6}rg@example.de");
	assert_ds(&p, 1, "Diagnostic-Code",
	    "smtp; 550 Benutzer j?rg unbekannt ?");
	assert_non_null(memmem(p.parts[0].body, p.parts[0].body_len,
	    "<j?rg@example.de>", 17));
	assert_field(p.data, p.top_len, "Content-Transfer-Encoding", NULL);
	assert_false(res.utf8);
	assert_false(res.eightbit);
	buf_clear(&out);

	/* An ASCII DSN with special octets in the address. */
	r[0].rcpt = "a+b=c\\d \x01\xc3\xb6\xff@x";
	build(&m, &o, &out, &res, &p);
	assert_ds(&p, 1, "Final-Recipient", "utf-8; a\\x{2B}b\\x{3D}c"
	    "\\x{5C}d\\x{20}\\x{1}\\x{F6}\\x{FFFD}@x");
	buf_clear(&out);
}

/* ---- the original ---- */

static void
one_orig(const char *in, size_t len, enum dsn_ret ret, uint64_t full_max,
    const char *type, const char *cte, const char *want, bool eightbit)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	struct dsn_result	 res;
	struct buf		 out;
	struct parsed		 p;

	msg_init(&m, r, DSN_FAILURE);
	m.ret = ret;
	m.full_max = full_max;
	dsn_orig_mem(&o, in, len);
	build(&m, &o, &out, &res, &p);
	assert_part(&p, 2, type, cte);
	assert_int_equal(p.parts[2].body_len, strlen(want));
	assert_memory_equal(p.parts[2].body, want, strlen(want));
	assert_int_equal(res.eightbit, eightbit);
	assert_field(p.data, p.top_len, "Content-Transfer-Encoding",
	    eightbit ? "8bit" : NULL);
	buf_clear(&out);
}

#define LIT(s)	s, sizeof(s) - 1
#define RFC822	"message/rfc822"
#define HDRS	"text/rfc822-headers"

static void
test_orig_8bit(void **state)
{
	static const char	 body8[] = "Subject: x\r\n\r\nb\xc3\xb6\r\n";
	static const char	 hdr8[] = "Subject: \xc3\xb6\r\n\r\nb\r\n";

	one_orig(body8, strlen(body8), DSN_RET_FULL, 0, RFC822, "8bit", body8,
	    true);
	one_orig(body8, strlen(body8), DSN_RET_HDRS, 0, HDRS, NULL,
	    "Subject: x\r\n", false);
	one_orig(hdr8, strlen(hdr8), DSN_RET_HDRS, 0, HDRS, "8bit",
	    "Subject: \xc3\xb6\r\n", true);
}

/* Bodies that cannot travel as 8bit MIME: headers only. */
static void
test_orig_binary(void **state)
{
	static const char	 nul[] = "Subject: x\r\n\r\na\0b\r\n";
	static const char	 cr[] = "Subject: x\r\n\r\na\rb\r\n";
	struct buf		 b;
	size_t			 i;

	one_orig(nul, sizeof(nul) - 1, DSN_RET_FULL, 0, HDRS, NULL,
	    "Subject: x\r\n", false);
	one_orig(cr, strlen(cr), DSN_RET_DEFAULT, 0, HDRS, NULL,
	    "Subject: x\r\n", false);
	buf_init(&b, 1 << 20);
	buf_add_str(&b, "Subject: x\r\n\r\n");
	for (i = 0; i < 998; i++)
		buf_add_u8(&b, 'a');
	buf_add_str(&b, "\r\n");
	/* 998 octets: fine. */
	one_orig(buf_cstr(&b), b.len, DSN_RET_FULL, 0, RFC822, NULL,
	    buf_cstr(&b), false);
	b.len -= 2;
	buf_add_str(&b, "a\r\n");
	one_orig(buf_cstr(&b), b.len, DSN_RET_FULL, 0, HDRS, NULL,
	    "Subject: x\r\n", false);
	/* A trailing CR without LF is a line end, not binary. */
	one_orig(LIT("S: x\r\n\r\nb\r"), DSN_RET_FULL, 0, RFC822, NULL,
	    "S: x\r\n\r\nb\r\n", false);
	buf_clear(&b);
}

static void
test_orig_normalise(void **state)
{
	struct buf	 in, want;
	size_t		 i;

	/* Bare LF, lone CR and NUL in the header, no final line end. */
	one_orig(LIT("A: 1\nB: x\ry\0z\r\r\n\nbody\nend"), DSN_RET_FULL, 0,
	    RFC822, NULL, "A: 1\r\nB: x y z \r\n\r\nbody\r\nend\r\n", false);
	one_orig(LIT("A: 1\nB: 2\n\nbody\n"), DSN_RET_HDRS, 0, HDRS, NULL,
	    "A: 1\r\nB: 2\r\n", false);
	/* No header end at all, no line end. */
	one_orig(LIT("A: 1"), DSN_RET_HDRS, 0, HDRS, NULL, "A: 1\r\n", false);
	/* An empty header section, and an empty original. */
	one_orig(LIT("\r\nbody\r\n"), DSN_RET_HDRS, 0, HDRS, NULL, "", false);
	one_orig("", 0, DSN_RET_FULL, 0, RFC822, NULL, "", false);
	one_orig("", 0, DSN_RET_HDRS, 0, HDRS, NULL, "", false);

	/* A 2500-octet header line is split with CRLF SP. */
	buf_init(&in, 1 << 20);
	buf_init(&want, 1 << 20);
	buf_add_str(&in, "X-Long: ");
	for (i = 0; i < 2492; i++)
		buf_add_u8(&in, (uint8_t)('a' + i % 26));
	buf_add_str(&in, "\r\n\r\nbody\r\n");
	buf_add(&want, BUF_DATA(&in), 998);
	buf_add_str(&want, "\r\n ");
	buf_add(&want, BUF_DATA(&in) + 998, 997);
	buf_add_str(&want, "\r\n ");
	buf_add(&want, BUF_DATA(&in) + 998 + 997, 2500 - 998 - 997);
	buf_add_str(&want, "\r\n");
	one_orig(buf_cstr(&in), in.len, DSN_RET_HDRS, 0, HDRS, NULL,
	    buf_cstr(&want), false);
	buf_add_str(&want, "\r\nbody\r\n");
	one_orig(buf_cstr(&in), in.len, DSN_RET_FULL, 0, RFC822, NULL,
	    buf_cstr(&want), false);
	buf_clear(&in);
	buf_clear(&want);
}

static void
test_orig_full_max(void **state)
{
	size_t	 len = strlen(orig_msg);

	one_orig(orig_msg, len, DSN_RET_DEFAULT, len, RFC822, NULL, orig_msg,
	    false);
	one_orig(orig_msg, len, DSN_RET_DEFAULT, len - 1, HDRS, NULL,
	    "Received: from client.example (client.example [192.0.2.1])\r\n"
	    "\tby mail.example.com (Wharf) with ESMTP id Q1\r\n"
	    "From: Alice <alice@example.com>\r\n"
	    "To: bob@example.net\r\n"
	    "Subject: Hello\r\n"
	    "Message-ID: <orig.1@example.com>\r\n", false);
}

/* A header section without end: cut at DSN_HEADERS_MAX. */
static void
test_orig_header_cap(void **state)
{
	struct buf	 in;
	size_t		 i;
	struct dsn_msg	 m;
	struct dsn_rcpt	 r[2];
	struct dsn_orig	 o;
	struct dsn_result res;
	struct buf	 out;
	struct parsed	 p;

	buf_init(&in, 4 << 20);
	for (i = 0; in.len < DSN_HEADERS_MAX + 5000; i++)
		buf_printf(&in, "X-H%zu: %0100zu\r\n", i, i);
	msg_init(&m, r, DSN_FAILURE);
	m.ret = DSN_RET_HDRS;
	dsn_orig_mem(&o, buf_cstr(&in), in.len);
	build(&m, &o, &out, &res, &p);
	assert_true(p.parts[2].body_len <= DSN_HEADERS_MAX + 2);
	assert_true(p.parts[2].body_len > DSN_HEADERS_MAX - 200);
	assert_memory_equal(p.parts[2].body, BUF_DATA(&in),
	    p.parts[2].body_len - 2);
	buf_clear(&out);
	buf_clear(&in);
}

/* ---- the boundary ---- */

static void
test_boundary_collision(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	struct dsn_result	 res;
	struct buf		 out, in;
	struct parsed		 p;
	char			*err = NULL;
	static const char	 b0[] =
	    "=_wharf.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	static const char	 b1[] =
	    "=_wharf.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	static const char	 b2[] =
	    "=_wharf.cccccccccccccccccccccccccccccccc";
	int			 i, j;

	/* Draw 1 is in the original, draw 2 in a diagnostic: draw 3. */
	buf_init(&in, 1 << 20);
	buf_printf(&in, "Subject: x\r\n\r\n--%s\r\n", b0);
	msg_init(&m, r, DSN_FAILURE);
	r[1].diagnostic = b1;
	dsn_orig_mem(&o, buf_cstr(&in), in.len);
	rnd_const_calls = 3;
	build(&m, &o, &out, &res, &p);
	assert_string_equal(p.bnd, b2);
	buf_clear(&out);

	/* Also found across the chunks of a one-octet reader: see below. */

	/* Every draw collides: an error, out untouched. */
	setup(state);
	rnd_const_calls = 1000;
	buf_reset(&in);
	buf_printf(&in, "Subject: x\r\n\r\n%s", b0);
	for (i = 1; i < DSN_BOUNDARY_TRIES; i++) {
		buf_add_str(&in, "=_wharf.");
		for (j = 0; j < 32; j++)
			buf_add_u8(&in, (uint8_t)('a' + i));
		buf_add_str(&in, "\r\n");
	}
	dsn_orig_mem(&o, buf_cstr(&in), in.len);
	buf_init(&out, OUT_MAX);
	assert_int_equal(dsn_write(&m, &o, &out, &res, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, "boundary"));
	assert_int_equal(out.len, 0);
	free(err);
	buf_clear(&out);
	buf_clear(&in);
}

/* ---- streaming ---- */

struct reader {
	const char	*data;
	size_t		 len;
	size_t		 step;		/* octets per read at most */
	uint64_t	 total;		/* octets returned */
	uint64_t	 max_off;	/* highest offset read + 1 */
	int		 calls;
	int		 fail_at;	/* call that fails with EIO; 0 none */
	int		 change_pass;	/* flip octet change_off in pass 2 */
	size_t		 change_off;
	char		 change_to;
	size_t		 len2;		/* length from pass 2 on; 0: same */
	int		 pass;
};

static ssize_t
reader_read(void *arg, void *buf, size_t len, uint64_t off)
{
	struct reader	*r = arg;
	size_t		 n, total = r->len;

	r->calls++;
	if (off == 0)
		r->pass++;
	if (r->fail_at != 0 && r->calls == r->fail_at) {
		errno = EIO;
		return -1;
	}
	if (r->len2 != 0 && r->pass >= 2)
		total = r->len2;
	if (off >= total)
		return 0;
	n = total - (size_t)off;
	if (n > len)
		n = len;
	if (r->step != 0 && n > r->step)
		n = r->step;
	memcpy(buf, r->data + off, n);
	if (r->change_pass != 0 && r->pass == r->change_pass &&
	    r->change_off >= off && r->change_off < off + n)
		((char *)buf)[r->change_off - off] = r->change_to;
	r->total += n;
	if (off + n > r->max_off)
		r->max_off = off + n;
	return (ssize_t)n;
}

/* The same DSN whatever way the original comes: memory, prefix + reader
   one octet at a time, prefix + fd. */
static void
test_sources_agree(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	struct dsn_result	 res;
	struct buf		 a, b, c;
	struct parsed		 p;
	struct reader		 rd;
	char			 path[64];
	size_t			 split = 30, len = strlen(orig_msg);
	int			 fd, i;
	char			*err = NULL;

	for (i = 0; i < 2; i++) {
		msg_init(&m, r, DSN_FAILURE);
		m.ret = i == 0 ? DSN_RET_FULL : DSN_RET_HDRS;
		setup(state);
		dsn_orig_mem(&o, orig_msg, len);
		build(&m, &o, &a, &res, &p);

		setup(state);
		memset(&rd, 0, sizeof(rd));
		rd.data = orig_msg + split;
		rd.len = len - split;
		rd.step = 1;
		o.prefix_len = split;
		o.read = reader_read;
		o.arg = &rd;
		build(&m, &o, &b, &res, &p);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(BUF_DATA(&a), BUF_DATA(&b), a.len);
		assert_int_equal(rd.pass, 2);

		setup(state);
		strlcpy(path, "/tmp/test_dsn.XXXXXX", sizeof(path));
		fd = mkstemp(path);
		assert_true(fd >= 0);
		unlink(path);
		assert_int_equal(write(fd, orig_msg + split, len - split),
		    (ssize_t)(len - split));
		o.read = NULL;
		o.fd = fd;
		buf_init(&c, OUT_MAX);
		assert_int_equal(dsn_write(&m, &o, &c, &res, &err), 0);
		close(fd);
		assert_int_equal(a.len, c.len);
		assert_memory_equal(BUF_DATA(&a), BUF_DATA(&c), a.len);
		buf_clear(&a);
		buf_clear(&b);
		buf_clear(&c);
	}
}

/* A boundary split over reads one octet each is still found. */
static void
test_boundary_across_reads(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	struct dsn_result	 res;
	struct buf		 out, in;
	struct parsed		 p;
	struct reader		 rd;

	buf_init(&in, 1 << 20);
	buf_add_str(&in, "Subject: x\r\n\r\n=_=_wharf.=_wharf.aaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaa\r\n");
	msg_init(&m, r, DSN_FAILURE);
	memset(&rd, 0, sizeof(rd));
	rd.data = buf_cstr(&in);
	rd.len = in.len;
	rd.step = 1;
	dsn_orig_mem(&o, NULL, 0);
	o.read = reader_read;
	o.arg = &rd;
	rnd_const_calls = 1;
	build(&m, &o, &out, &res, &p);
	assert_string_not_equal(p.bnd,
	    "=_wharf.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	/* Two scans (first collided) and the copy. */
	assert_int_equal(rd.pass, 3);
	buf_clear(&out);
	buf_clear(&in);
}

static char *
big_original(size_t body_lines, size_t *len_r)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, (size_t)1 << 30);
	buf_add_str(&b, "From: alice@example.com\r\nSubject: big\r\n\r\n");
	for (i = 0; i < body_lines; i++)
		buf_printf(&b, "%08zu %090d\r\n", i, 0);
	return buf_steal(&b, len_r);
}

/* 20 MB: RET=FULL streamed fd to fd, RET=HDRS reads the header only. */
static void
test_big_original(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	struct dsn_result	 res;
	struct reader		 rd;
	struct buf		 out;
	struct parsed		 p;
	struct stat		 st;
	char			 in_path[] = "/tmp/test_dsn_in.XXXXXX";
	char			 out_path[] = "/tmp/test_dsn_out.XXXXXX";
	char			*big, *err = NULL, *data;
	size_t			 len;
	int			 in_fd, out_fd;

	big = big_original(200000, &len);
	assert_true(len > 20000000);
	in_fd = mkstemp(in_path);
	out_fd = mkstemp(out_path);
	assert_true(in_fd >= 0 && out_fd >= 0);
	unlink(in_path);
	unlink(out_path);
	assert_int_equal(write(in_fd, big, len), (ssize_t)len);
	msg_init(&m, r, DSN_FAILURE);
	m.ret = DSN_RET_FULL;
	dsn_orig_fd(&o, in_fd);
	assert_int_equal(dsn_write_fd(&m, &o, out_fd, &res, &err), 0);
	assert_int_equal(fstat(out_fd, &st), 0);
	assert_int_equal((uint64_t)st.st_size, res.size);
	assert_false(res.headers_only);
	data = malloc(res.size);
	assert_int_equal(pread(out_fd, data, res.size, 0),
	    (ssize_t)res.size);
	parse(&p, data, res.size);
	assert_part(&p, 2, RFC822, NULL);
	assert_int_equal(p.parts[2].body_len, len);
	assert_memory_equal(p.parts[2].body, big, len);
	free(data);

	/* HDRS through a reader: two passes over the header only. */
	memset(&rd, 0, sizeof(rd));
	rd.data = big;
	rd.len = len;
	o.fd = -1;
	o.read = reader_read;
	o.arg = &rd;
	m.ret = DSN_RET_HDRS;
	build(&m, &o, &out, &res, &p);
	assert_true(res.headers_only);
	assert_int_equal(rd.pass, 2);
	assert_true(rd.max_off <= 64 * 1024);
	assert_true(rd.total <= 2 * 64 * 1024);
	assert_int_equal(p.parts[2].body_len, 39);
	buf_clear(&out);

	/* RET=FULL over full_max: the scan stops early, headers only. */
	memset(&rd, 0, sizeof(rd));
	rd.data = big;
	rd.len = len;
	m.ret = DSN_RET_FULL;
	m.full_max = 100000;
	build(&m, &o, &out, &res, &p);
	assert_true(res.headers_only);
	assert_true(rd.max_off <= 100000 + 64 * 1024);
	buf_clear(&out);

	close(in_fd);
	close(out_fd);
	free(big);
}

/* ---- errors ---- */

static void
expect_error(const struct dsn_msg *m, const struct dsn_orig *o,
    size_t out_max, const char *what)
{
	struct buf		 out;
	struct dsn_result	 res;
	char			*err = NULL;

	buf_init(&out, out_max);
	buf_add_str(&out, "keep");
	assert_int_equal(dsn_write(m, o, &out, &res, &err), -1);
	assert_non_null(err);
	if (strstr(err, what) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, what);
	assert_int_equal(out.len, 4);
	assert_string_equal(buf_cstr(&out), "keep");
	free(err);
	buf_clear(&out);
}

static void
test_invalid(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	struct dsn_result	 res;
	struct buf		 out;
	struct parsed		 p;

#define BAD(stmt, what) do {						\
	msg_init(&m, r, DSN_FAILURE);					\
	stmt;								\
	expect_error(&m, NULL, OUT_MAX, what);				\
} while (0)
	BAD(m.sender = "", "null sender");
	BAD(m.sender = "<>", "null sender");
	BAD(m.sender = NULL, "null sender");
	BAD(m.reporting_mta = NULL, "reporting MTA");
	BAD(m.reporting_mta = "", "reporting MTA");
	BAD(m.queue_id = NULL, "queue id");
	BAD(m.postmaster = NULL, "From:");
	BAD(m.postmaster = "", "From:");
	BAD(m.kind = (enum dsn_kind)3, "kind");
	BAD(m.ret = (enum dsn_ret)3, "RET");
	BAD(m.nrcpts = 0, "recipients");
	BAD(m.nrcpts = DSN_RCPTS_MAX + 1, "recipients");
	BAD(m.rcpts = NULL, "recipients");
	BAD(r[1].rcpt = NULL, "without an address");
	BAD(r[1].rcpt = "", "without an address");
#undef BAD
	msg_init(&m, r, DSN_FAILURE);
	dsn_orig_mem(&o, NULL, 5);
	expect_error(&m, &o, OUT_MAX, "prefix");
	/* Output maximum: in the head, the copy, the last delimiter. */
	dsn_orig_mem(&o, orig_msg, strlen(orig_msg));
	build(&m, &o, &out, &res, &p);
	buf_clear(&out);
	expect_error(&m, &o, 100, "output maximum");
	expect_error(&m, &o, 4 + res.size - 100, "output maximum");
	expect_error(&m, &o, 4 + res.size - 1, "output maximum");
	buf_init(&out, 4 + res.size);
	assert_int_equal(dsn_write(&m, &o, &out, &res, NULL), 0);
	buf_clear(&out);
}

static void
test_read_errors(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	struct reader		 rd;
	int			 fd;

	msg_init(&m, r, DSN_FAILURE);
	dsn_orig_mem(&o, NULL, 0);
	o.read = reader_read;
	o.arg = &rd;
	/* In the scan, and in the copy. */
	memset(&rd, 0, sizeof(rd));
	rd.data = orig_msg;
	rd.len = strlen(orig_msg);
	rd.fail_at = 1;
	expect_error(&m, &o, OUT_MAX, "reading the original");
	memset(&rd, 0, sizeof(rd));
	rd.data = orig_msg;
	rd.len = strlen(orig_msg);
	rd.fail_at = 3;
	expect_error(&m, &o, OUT_MAX, "reading the original");
	/* A bad fd. */
	o.read = NULL;
	fd = open("/dev/null", O_RDONLY);
	close(fd);
	o.fd = fd;
	expect_error(&m, &o, OUT_MAX, "reading the original");
}

/* The original differs between the scan and the copy. */
static void
test_changed(void **state)
{
	static const struct {
		enum dsn_ret	 ret;
		size_t		 off;
		char		 to;
		size_t		 len2;
	} t[] = {
		{ DSN_RET_FULL, 200, '\xe9', 0 },	/* 8-bit appears */
		{ DSN_RET_HDRS, 10, '\xe9', 0 },
		{ DSN_RET_FULL, 230, '\0', 0 },	/* binary */
		{ DSN_RET_FULL, 0, 0, 100 },		/* shorter */
		{ DSN_RET_FULL, 0, 0, 400 },		/* longer */
	};
	static const char	 bnd[] = "Subject: x\r\n\r\n"
	    "=_wharf.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\r\n";
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	struct reader		 rd;
	struct buf		 longer;
	size_t			 i;

	buf_init(&longer, 1 << 20);
	buf_add_str(&longer, orig_msg);
	buf_add_str(&longer, orig_msg);
	msg_init(&m, r, DSN_FAILURE);
	dsn_orig_mem(&o, NULL, 0);
	o.read = reader_read;
	o.arg = &rd;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		m.ret = t[i].ret;
		memset(&rd, 0, sizeof(rd));
		rd.data = buf_cstr(&longer);
		rd.len = strlen(orig_msg);
		rd.len2 = t[i].len2;
		if (t[i].len2 == 0) {
			rd.change_pass = 2;
			rd.change_off = t[i].off;
			rd.change_to = t[i].to;
		}
		expect_error(&m, &o, OUT_MAX, "changed");
	}
	/* The boundary turns up in the copy. */
	setup(state);
	rnd_const_calls = 1;
	memset(&rd, 0, sizeof(rd));
	rd.data = bnd;
	rd.len = strlen(bnd);
	rd.change_pass = 2;
	rd.change_off = rd.len - 3;
	rd.change_to = 'a';
	expect_error(&m, &o, OUT_MAX, "changed");
	buf_clear(&longer);
}

static void
test_write_error(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	char			*err = NULL;
	int			 fd;

	msg_init(&m, r, DSN_FAILURE);
	dsn_orig_mem(&o, orig_msg, strlen(orig_msg));
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dsn_write_fd(&m, &o, fd, NULL, &err), -1);
	assert_non_null(strstr(err, "write"));
	free(err);
	err = NULL;
	m.sender = "";
	assert_int_equal(dsn_write_fd(&m, &o, fd, NULL, &err), -1);
	free(err);
	close(fd);
	/* A fd that takes it. */
	msg_init(&m, r, DSN_DELAY);
	fd = open("/dev/null", O_WRONLY);
	assert_int_equal(dsn_write_fd(&m, &o, fd, NULL, &err), 0);
	close(fd);
}

/* ---- Python's email package ---- */

static const char *
checker(void)
{
	static char	 path[1024];
	const char	*src = __FILE__, *slash = strrchr(src, '/');

	snprintf(path, sizeof(path), "%.*s/../integ/dsn_check.py",
	    slash != NULL ? (int)(slash - src) : 1, slash != NULL ? src : ".");
	return path;
}

static void
write_file(const char *dir, const char *name, const void *d, size_t len)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(d, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int
run(const char *cmd)
{
	int	 st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_python(void **state)
{
	struct dsn_msg		 m;
	struct dsn_rcpt		 r[2];
	struct dsn_orig		 o;
	struct dsn_result	 res;
	struct buf		 out;
	struct parsed		 p;
	char			 dir[] = "/tmp/test_dsn_py.XXXXXX", name[64];
	char			 cmd[2048];
	size_t			 i, n = 0;
	int			 good, bad;
	static const char	 u8orig[] = "Subject: h\xc3\xa9llo\r\n\r\n"
	    "b\xc3\xb6" "dy\r\n";

	if (access("/usr/bin/python3", X_OK) != 0 ||
	    access(checker(), R_OK) != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < sizeof(kind_cases) / sizeof(kind_cases[0]) * 2; i++) {
		msg_init(&m, r, kind_cases[i / 2].kind);
		m.ret = kind_cases[i / 2].ret;
		m.smtputf8 = i % 2;
		if (m.smtputf8) {
			r[0].rcpt = "j\xc3\xb6rg@example.de";
			r[0].orcpt = "utf-8;j\\x{F6}rg@example.de";
			dsn_orig_mem(&o, u8orig, strlen(u8orig));
		} else
			dsn_orig_mem(&o, orig_msg, strlen(orig_msg));
		build(&m, &o, &out, &res, &p);
		snprintf(name, sizeof(name), "dsn%zu.eml", n++);
		write_file(dir, name, BUF_DATA(&out), out.len);
		buf_clear(&out);
	}
	/* Hostile strings, no original. */
	msg_init(&m, r, DSN_FAILURE);
	r[0].diagnostic = "smtp; 550 a\r\nSubject: x\r\n\r\n--x \x80";
	r[0].rcpt = "a\r\nb@c";
	build(&m, NULL, &out, &res, &p);
	write_file(dir, "hostile.eml", BUF_DATA(&out), out.len);
	buf_clear(&out);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s/*.eml >/dev/null",
	    checker(), dir);
	good = run(cmd);
	/* The checker can fail: bare LFs, no multipart/report. */
	write_file(dir, "bad.eml", LIT("From: x\nTo: y\n\nz\n"));
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s/bad.eml "
	    "2>/dev/null", checker(), dir);
	bad = run(cmd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(run(cmd), 0);
	assert_int_equal(good, 0);
	assert_int_equal(bad, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_wanted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_may_bounce, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_status_text, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_original_appends,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_success_relayed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_injection, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orcpt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_typed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smtputf8, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_orig_8bit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_orig_binary, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_orig_normalise, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_orig_full_max, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_orig_header_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_boundary_collision, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sources_agree, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_boundary_across_reads,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_original, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_python, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
