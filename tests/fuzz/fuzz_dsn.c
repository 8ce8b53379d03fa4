/*
 * fuzz_dsn — DSN generation from hostile strings and a hostile original.
 *
 * Input: byte 0 flags (bits 0-1 kind, 2-3 RET, 4 SMTPUTF8, 5 full_max of
 * 64 octets, 6 read the original one octet at a time), bytes 1-2 the
 * diagnostic's length (little-endian), then one length octet each for
 * the remote MTA, the ORCPT, the ENVID and the recipient; then those five
 * strings (cut at a NUL), and the rest is the original message.
 *
 * Checked on every DSN (abort() on failure): CRLF line ends only, no NUL,
 * no line over 998 octets; the boundary delimits 2 or 3 parts and occurs
 * nowhere else; the top-level header has each of our fields once; the
 * delivery-status part has one group per recipient plus one; an ASCII
 * DSN has no 8-bit octet outside the copy of the original; lib/mime
 * reads it back as multipart/report with the expected part types.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "buf.h"
#include "dsn.h"
#include "mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint64_t	 rnd;

static void
check(bool ok)
{
	if (!ok)
		abort();
}

/* Deterministic, so that a crash reproduces. */
static void
fuzz_random(void *p, size_t n)
{
	uint8_t	*o = p;
	size_t	 i;

	for (i = 0; i < n; i++) {
		rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
		o[i] = (uint8_t)(rnd >> 33);
	}
}

struct mem {
	const uint8_t	*p;
	size_t		 len;
};

static ssize_t
read_one(void *arg, void *buf, size_t len, uint64_t off)
{
	const struct mem	*m = arg;

	if (off >= m->len)
		return 0;
	memcpy(buf, m->p + off, 1);
	return 1;
}

/* A string of n input octets, NUL-terminated (cut at a NUL). */
static char *
take(const uint8_t **p, size_t *left, size_t n)
{
	char	*s;

	if (n > *left)
		n = *left;
	s = malloc(n + 1);
	check(s != NULL);
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += n;
	*left -= n;
	return s;
}

static void
check_lines(const char *d, size_t len)
{
	size_t	 i, col = 0;

	check(len >= 2 && d[len - 2] == '\r' && d[len - 1] == '\n');
	for (i = 0; i < len; i++) {
		check(d[i] != '\0' && d[i] != '\n');
		if (d[i] == '\r') {
			check(i + 1 < len && d[i + 1] == '\n');
			check(col <= 998);
			col = 0;
			i++;
		} else
			col++;
	}
}

static size_t
count(const char *d, size_t len, const char *s)
{
	size_t		 n = 0, sl = strlen(s);
	const char	*p = d, *q;

	while ((q = memmem(p, len - (size_t)(p - d), s, sl)) != NULL) {
		n++;
		p = q + 1;
	}
	return n;
}

/* Fields at the start of a line of the header h. */
static size_t
field_count(const char *h, size_t len, const char *name)
{
	size_t	 i, n = 0, nl = strlen(name);

	for (i = 0; i + nl < len; i++)
		if ((i == 0 || h[i - 1] == '\n') &&
		    strncasecmp(h + i, name, nl) == 0 && h[i + nl] == ':')
			n++;
	return n;
}

static bool
ascii(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

static void
check_mime(const char *d, size_t len, size_t nparts, bool utf8,
    const struct dsn_result *res)
{
	struct mime_msg		*mm = mime_parse((const uint8_t *)d, len, NULL);
	const struct mime_part	*root = mime_root(mm), *c;

	check(strcmp(root->type, "multipart") == 0 &&
	    strcmp(root->subtype, "report") == 0);
	check(root->nchildren == nparts);
	c = root->children;
	check(strcmp(c->type, "text") == 0 &&
	    strcmp(c->subtype, "plain") == 0);
	c = c->next;
	check(strcmp(c->subtype, utf8 ? "global-delivery-status" :
	    "delivery-status") == 0);
	if (nparts == 3) {
		c = c->next;
		if (res->headers_only)
			check(strcmp(c->subtype, utf8 ? "global-headers" :
			    "rfc822-headers") == 0);
		else
			check(strcmp(c->subtype, utf8 ? "global" :
			    "rfc822") == 0);
	}
	mime_free(&mm);
}

/* The structure of one DSN (see the top). */
static void
check_dsn(const char *d, size_t len, const struct dsn_msg *m,
    const struct dsn_result *res, bool with_orig)
{
	const char	*hend, *b, *pos, *next, *ds = NULL, *ds_end = NULL;
	char		 delim[64];
	size_t		 dl, top, nparts = 0, i;
	static const char *const once[] = { "From", "To", "Subject", "Date",
	    "Message-ID", "Auto-Submitted", "MIME-Version", "Content-Type" };

	check_lines(d, len);
	hend = memmem(d, len, "\r\n\r\n", 4);
	check(hend != NULL);
	top = (size_t)(hend - d) + 2;
	for (i = 0; i < sizeof(once) / sizeof(once[0]); i++)
		check(field_count(d, top, once[i]) == 1);
	b = memmem(d, top, "boundary=\"", 10);
	check(b != NULL);
	b += 10;
	dl = (size_t)snprintf(delim, sizeof(delim), "\r\n--%.40s", b);
	check(dl == 44 && b[40] == '"');
	pos = memmem(hend, len - (size_t)(hend - d), delim, dl);
	check(pos != NULL);
	check(m->smtputf8 || ascii(d, (size_t)(pos - d)));
	for (;;) {
		pos += dl;
		if (pos[0] == '-' && pos[1] == '-') {
			check(pos + 4 == d + len);
			break;
		}
		check(pos[0] == '\r' && pos[1] == '\n');
		next = memmem(pos, len - (size_t)(pos - d), delim, dl);
		check(next != NULL);
		nparts++;
		if (nparts == 2) {
			ds = memmem(pos, (size_t)(next - pos), "\r\n\r\n", 4);
			check(ds != NULL);
			ds += 4;
			ds_end = next;
		}
		/* Parts 1 and 2, and the header of part 3, are ours. */
		if (!m->smtputf8)
			check(ascii(pos, nparts < 3 ? (size_t)(next - pos) :
			    (size_t)((const char *)memmem(pos,
			    (size_t)(next - pos) + 2, "\r\n\r\n", 4) - pos)));
		pos = next;
	}
	check(nparts == (with_orig ? 3u : 2u));
	check(count(d, len, delim + 4) == nparts + 2);
	check(count(ds, (size_t)(ds_end - ds), "\r\n\r\n") + 1 ==
	    m->nrcpts + 1);
	check_mime(d, len, nparts, m->smtputf8, res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsn_rcpt		 r[2];
	struct dsn_msg		 m;
	struct dsn_orig		 o;
	struct dsn_result	 res;
	struct mem		 mem;
	struct buf		 out;
	const uint8_t		*p = data + 7;
	size_t			 left, dlen;
	char			*diag, *mta, *orcpt, *envid, *rcpt, *err = NULL;
	uint8_t			 f;

	if (size < 7)
		return 0;
	f = data[0];
	dlen = data[1] | (size_t)data[2] << 8;
	left = size - 7;
	diag = take(&p, &left, dlen);
	mta = take(&p, &left, data[3]);
	orcpt = take(&p, &left, data[4]);
	envid = take(&p, &left, data[5]);
	rcpt = take(&p, &left, data[6]);

	memset(r, 0, sizeof(r));
	r[0].rcpt = rcpt[0] != '\0' ? rcpt : "bob@example.net";
	r[0].orcpt = orcpt;
	r[0].status = diag;
	r[0].diagnostic = diag;
	r[0].remote_mta = mta;
	r[0].last_attempt = 1700000000;
	r[0].will_retry_until = 1700432000;
	r[1].rcpt = "carol@example.org";
	r[1].diagnostic = mta;
	memset(&m, 0, sizeof(m));
	m.reporting_mta = "mail.example.com";
	m.queue_id = "Q1";
	m.envid = envid;
	m.sender = "alice@example.com";
	m.postmaster = "MAILER-DAEMON@mail.example.com";
	m.received_from = mta;
	m.arrival = 1699990000;
	m.now = 1700000100;
	m.kind = (enum dsn_kind)((f & 3) % 3);
	m.ret = (enum dsn_ret)(((f >> 2) & 3) % 3);
	m.smtputf8 = (f & 0x10) != 0;
	m.full_max = (f & 0x20) ? 64 : 0;
	m.rcpts = r;
	m.nrcpts = 2;

	if (f & 0x40) {
		dsn_orig_mem(&o, NULL, 0);
		mem.p = p;
		mem.len = left;
		o.read = read_one;
		o.arg = &mem;
	} else
		dsn_orig_mem(&o, p, left);
	rnd = size;
	dsn_set_random(fuzz_random);
	buf_init(&out, 64 * 1024 * 1024);
	if (dsn_write(&m, &o, &out, &res, &err) != 0)
		abort();
	check(res.size == out.len);
	check_dsn((const char *)BUF_DATA(&out), out.len, &m, &res, true);
	buf_reset(&out);
	check(dsn_write(&m, NULL, &out, &res, &err) == 0);
	check_dsn((const char *)BUF_DATA(&out), out.len, &m, &res, false);
	buf_clear(&out);
	free(diag);
	free(mta);
	free(orcpt);
	free(envid);
	free(rcpt);
	return 0;
}
