/*
 * smtp_proto_reply — SMTP replies: formatting for the server and the
 * incremental parser for the client (smtp_proto.h).
 *
 * Octets go one at a time into a fixed line buffer; a complete line is
 * checked and its text appended to the reply's bounded buffer.  Nothing
 * happens at chunk boundaries, so any split of the input gives the same
 * replies.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_proto.h"
#include "xmalloc.h"

/* ---- replies: codes, enhanced codes, formatting ---- */

/* Reply-code = %x32-35 %x30-35 %x30-39 (RFC 5321 §4.2). */
static bool
is_reply_code(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '5' &&
	    s[2] >= '0' && s[2] <= '9';
}

/* 1*3digit, returns octets used (0: none). */
static size_t
scan_num3(const char *s, size_t n, unsigned *v_r)
{
	size_t	 i;

	*v_r = 0;
	for (i = 0; i < n && i < 3 && s[i] >= '0' && s[i] <= '9'; i++)
		*v_r = *v_r * 10 + (unsigned)(s[i] - '0');
	return i;
}

/*
 * status-code = class "." subject "." detail; class = "2" / "4" / "5";
 * subject, detail = 1*3digit (RFC 3463 §2), then SP or the end.  Returns
 * the octets of the code (0 when there is none).
 */
static size_t
scan_enh(const char *s, size_t n, unsigned v[3])
{
	size_t	 i, k;

	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return 0;
	v[0] = (unsigned)(s[0] - '0');
	if ((k = scan_num3(s + 2, n - 2, &v[1])) == 0)
		return 0;
	i = 2 + k;
	if (i >= n || s[i] != '.')
		return 0;
	i++;
	if ((k = scan_num3(s + i, n - i, &v[2])) == 0)
		return 0;
	i += k;
	return i == n || s[i] == ' ' ? i : 0;
}

/* Octets of one formatted line: code, sep, enh, SP, text, CRLF. */
static size_t
reply_line_len(const char *enh, size_t tn, bool last)
{
	size_t	 n = 3 + tn + 2;

	if (!last || enh != NULL || tn > 0)
		n++;
	if (enh != NULL)
		n += strlen(enh) + (tn > 0 ? 1 : 0);
	return n;
}

static int
reply_check(unsigned code, const char *enh, const char *text,
    size_t *total_r)
{
	char		 c[4];
	unsigned	 v[3];
	const char	*p = text, *nl;
	size_t		 tn, ln;

	if (code < 200 || code > 559 ||
	    snprintf(c, sizeof(c), "%u", code) != 3 || !is_reply_code(c))
		return -1;
	if (enh != NULL && (enh[0] == '\0' ||
	    scan_enh(enh, strlen(enh), v) != strlen(enh) || v[0] != code / 100))
		return -1;
	if (strchr(text, '\r') != NULL)
		return -1;
	*total_r = 0;
	do {
		nl = strchr(p, '\n');
		tn = nl != NULL ? (size_t)(nl - p) : strlen(p);
		ln = reply_line_len(enh, tn, nl == NULL);
		if (ln > SMTP_REPLY_TEXT_MAX)
			return -1;
		*total_r += ln;
		p += tn + 1;
	} while (nl != NULL);
	return 0;
}

static uint8_t *
put(uint8_t *d, const void *s, size_t n)
{
	memcpy(d, s, n);
	return d + n;
}

int
smtp_proto_reply_format(struct buf *out, unsigned code, const char *enh,
    const char *text)
{
	char		 c[4];
	const char	*p = text, *nl;
	uint8_t		*d;
	size_t		 total, tn;

	if (reply_check(code, enh, text, &total) == -1 ||
	    (d = buf_reserve(out, total)) == NULL)
		return -1;
	snprintf(c, sizeof(c), "%u", code);
	do {
		nl = strchr(p, '\n');
		tn = nl != NULL ? (size_t)(nl - p) : strlen(p);
		d = put(d, c, 3);
		if (nl != NULL || enh != NULL || tn > 0)
			d = put(d, nl != NULL ? "-" : " ", 1);
		if (enh != NULL)
			d = put(d, enh, strlen(enh));
		if (enh != NULL && tn > 0)
			d = put(d, " ", 1);
		d = put(d, p, tn);
		d = put(d, "\r\n", 2);
		p += tn + 1;
	} while (nl != NULL);
	buf_commit(out, total);
	return 0;
}

int
smtp_proto_reply_error(struct buf *out, const struct smtp_error *err)
{
	return smtp_proto_reply_format(out, err->code, err->enh, err->text);
}

/* ---- the reply parser (client side) ---- */

#define REPLY_CONTENT_MAX	(SMTP_REPLY_LINE_MAX - 2)	/* no CRLF */

struct smtp_reply_parser {
	char			 line[REPLY_CONTENT_MAX];
	size_t			 line_len;
	bool			 cr;	/* the last octet was CR */
	bool			 done;	/* reply handed out: reset first */
	const char		*err;	/* sticky */
	struct buf		 text;
	struct smtp_reply	 reply;
};

struct smtp_reply_parser *
smtp_proto_reply_parser_new(void)
{
	struct smtp_reply_parser	*p;

	p = xcalloc(1, sizeof(*p));
	buf_init(&p->text, SMTP_REPLY_LINES_MAX * SMTP_REPLY_LINE_MAX);
	return p;
}

void
smtp_proto_reply_parser_free(struct smtp_reply_parser **pp)
{
	if (*pp == NULL)
		return;
	buf_clear(&(*pp)->text);
	free(*pp);
	*pp = NULL;
}

static int
reply_fail(struct smtp_reply_parser *p, const char *err)
{
	p->err = err;
	return -1;
}

/* Record or strip the enhanced code of one line's text (RFC 2034 §4). */
static size_t
reply_enh(struct smtp_reply_parser *p, const char *t, size_t n)
{
	struct smtp_reply	*r = &p->reply;
	unsigned		 v[3];
	size_t			 k;

	if (r->nlines > 0 && !r->has_enh)
		return 0;
	if ((k = scan_enh(t, n, v)) == 0 || v[0] != r->code / 100)
		return 0;
	if (r->nlines == 0) {
		r->has_enh = true;
		memcpy(r->enh, v, sizeof(r->enh));
	}
	return k < n ? k + 1 : k;
}

/*
 * Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *	Reply-code [ SP textstring ] CRLF (RFC 5321 §4.2)
 * Returns 1 after the last line of a reply, 0 after another, -1.
 */
static int
reply_line(struct smtp_reply_parser *p)
{
	struct smtp_reply	*r = &p->reply;
	const char		*t = p->line + 4;
	size_t			 n = p->line_len, skip;
	unsigned		 code;
	bool			 last;

	if (n < 3 || !is_reply_code(p->line))
		return reply_fail(p, "bad reply code");
	if (n > 3 && p->line[3] != ' ' && p->line[3] != '-')
		return reply_fail(p, "bad reply separator");
	last = n == 3 || p->line[3] == ' ';
	code = (unsigned)(p->line[0] - '0') * 100 +
	    (unsigned)(p->line[1] - '0') * 10 + (unsigned)(p->line[2] - '0');
	if (r->nlines > 0 && code != r->code)
		return reply_fail(p, "reply code changed within a reply");
	if (r->nlines == SMTP_REPLY_LINES_MAX)
		return reply_fail(p, "too many reply lines");
	r->code = code;
	n = n > 3 ? n - 4 : 0;
	skip = reply_enh(p, t, n);
	if ((r->nlines > 0 && buf_add_u8(&p->text, '\n') == -1) ||
	    buf_add(&p->text, t + skip, n - skip) == -1)
		return reply_fail(p, "reply too long");
	r->nlines++;
	p->line_len = 0;
	return last ? 1 : 0;
}

/* One octet; a line ends in CRLF or a bare LF, never in a bare CR. */
static int
reply_octet(struct smtp_reply_parser *p, char c)
{
	if (p->cr) {
		p->cr = false;
		if (c != '\n')
			return reply_fail(p, "bare CR in reply");
		return reply_line(p);
	}
	if (c == '\r') {
		p->cr = true;
		return 0;
	}
	if (c == '\n')
		return reply_line(p);
	if (c == '\0')
		return reply_fail(p, "NUL in reply");
	if (p->line_len == sizeof(p->line))
		return reply_fail(p, "reply line too long");
	p->line[p->line_len++] = c;
	return 0;
}

static void
reply_reset(struct smtp_reply_parser *p)
{
	buf_reset(&p->text);
	memset(&p->reply, 0, sizeof(p->reply));
	p->done = false;
}

enum smtp_parse_result
smtp_proto_reply_parse(struct smtp_reply_parser *p, const void *data,
    size_t len, size_t *used_r, const struct smtp_reply **reply_r,
    const char **err_r)
{
	const char	*s = data;
	size_t		 i;
	int		 r;

	*used_r = 0;
	if (p->err != NULL) {
		*err_r = p->err;
		return SMTP_PARSE_ERR;
	}
	if (p->done)
		reply_reset(p);
	for (i = 0; i < len; i++) {
		if ((r = reply_octet(p, s[i])) == 0)
			continue;
		*used_r = i + 1;
		if (r == -1) {
			*err_r = p->err;
			return SMTP_PARSE_ERR;
		}
		p->done = true;
		p->reply.text = buf_cstr(&p->text);
		p->reply.text_len = p->text.len;
		*reply_r = &p->reply;
		return SMTP_PARSE_OK;
	}
	*used_r = len;
	return SMTP_PARSE_MORE;
}
