/*
 * mime_7bit — a message with 8-bit content made 7-bit MIME for a peer
 * without 8BITMIME (mime.h, at the end).
 *
 * lib/mime's part tree cuts the input into regions: each node's header,
 * each leaf's body, and between them the rest of the multipart bodies
 * (preamble, delimiter lines, epilogue: "gaps").  The output is the
 * input region by region, in order:
 *  - a header is copied line by line, refused when it has 8-bit octets
 *    or a line over 998 octets; where a part is re-encoded or relabelled
 *    its Content-Transfer-Encoding fields are dropped and one is added
 *    at the end of the header, with MIME-Version in the top-level header
 *    when it is missing;
 *  - a leaf body with 8-bit octets or a line over 998 octets is encoded
 *    (quoted-printable for text, base64 otherwise); any other is copied;
 *  - a gap line with 8-bit octets or over 998 octets is emptied (its line
 *    end is kept), except that a delimiter made long by trailing white
 *    space loses that white space.
 * Time is linear in the input; memory is the parse tree plus the output
 * (or, written to an fd, a bounded buffer).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "mime.h"
#include "xmalloc.h"

#define LINE_MAX_7BIT	998		/* RFC 5322 §2.1.1 */
#define QP_LINE		76		/* RFC 2045 §6.7 rule (5) */
#define B64_IN		57		/* octets of one 76-column line */
#define FLUSH_SIZE	65536		/* fd mode: buffered output */
#define FIELDS_MANY	100000000u	/* fields of a header looked at */

struct conv {
	const uint8_t	*p;
	size_t		 n;
	struct buf	*out;
	int		 fd;		/* -1: everything stays in out */
	char		*err;
};

static int	node_emit(struct conv *, const struct mime_part *);

static int __attribute__((format(printf, 2, 3)))
conv_fail(struct conv *c, const char *fmt, ...)
{
	va_list	 ap;

	if (c->err == NULL) {
		va_start(ap, fmt);
		c->err = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Output.
 */

static int
write_all(struct conv *c, const uint8_t *d, size_t len)
{
	ssize_t	 w;

	while (len > 0) {
		if ((w = write(c->fd, d, len)) == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return conv_fail(c, "write: %s", w == -1 ?
			    strerror(errno) : "nothing written");
		d += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
out_flush(struct conv *c)
{
	if (c->fd == -1 || c->out->len == 0)
		return 0;
	if (write_all(c, BUF_DATA(c->out), c->out->len) == -1)
		return -1;
	buf_reset(c->out);
	return 0;
}

static int
out_add(struct conv *c, const void *d, size_t len)
{
	if (c->fd != -1 && len >= FLUSH_SIZE)
		return out_flush(c) == -1 ? -1 : write_all(c, d, len);
	if (buf_add(c->out, d, len) == -1)
		return conv_fail(c, "converted message too large");
	return c->out->len >= FLUSH_SIZE ? out_flush(c) : 0;
}

static int
out_str(struct conv *c, const char *s)
{
	return out_add(c, s, strlen(s));
}

/*
 * Lines: [pos, next) with next after the LF (or the end); *clen_r is the
 * length without the line end (LF, or CR LF).
 */

static size_t
line_next(const struct conv *c, size_t pos, size_t end, size_t *clen_r)
{
	const uint8_t	*nl = memchr(c->p + pos, '\n', end - pos);
	size_t		 le = nl == NULL ? end : (size_t)(nl - c->p);

	*clen_r = le - pos;
	if (nl != NULL && le > pos && c->p[le - 1] == '\r')
		(*clen_r)--;
	return nl == NULL ? end : le + 1;
}

static bool
has_8bit(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] & 0x80)
			return true;
	return false;
}

/* No 8-bit octet and no line over 998 octets in [pos, end)? */
static bool
region_clean(const struct conv *c, size_t pos, size_t end)
{
	size_t	 next, clen;

	if (has_8bit(c->p + pos, end - pos))
		return false;
	for (; pos < end; pos = next) {
		next = line_next(c, pos, end, &clen);
		if (clen > LINE_MAX_7BIT)
			return false;
	}
	return true;
}

/*
 * Headers.
 */

/* Does the line (len octets) start the field name (RFC 5322 §4.5.3)? */
static bool
field_is(const uint8_t *line, size_t len, const char *name)
{
	size_t	 nlen = strlen(name), i = nlen;

	if (len <= nlen || strncasecmp((const char *)line, name, nlen) != 0)
		return false;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == ':';
}

/* The fields added at the end of a header; eol: a line end first. */
static int
hdr_extras(struct conv *c, const char *cte, bool mimever, bool eol)
{
	if (!mimever && cte == NULL)
		return 0;
	if (eol && out_str(c, "\r\n") == -1)
		return -1;
	if (mimever && out_str(c, "MIME-Version: 1.0\r\n") == -1)
		return -1;
	if (cte == NULL)
		return 0;
	if (out_str(c, "Content-Transfer-Encoding: ") == -1 ||
	    out_str(c, cte) == -1)
		return -1;
	return out_str(c, "\r\n");
}

static int
hdr_line_check(struct conv *c, const uint8_t *l, size_t len, size_t clen)
{
	if (has_8bit(l, len))
		return conv_fail(c, "8-bit header");
	if (clen > LINE_MAX_7BIT)
		return conv_fail(c, "header line over %d octets",
		    LINE_MAX_7BIT);
	return 0;
}

/*
 * Copy the header of part; cte (not NULL) replaces its
 * Content-Transfer-Encoding fields.  The new fields go before the empty
 * line that ends the header, or after its last line.  An empty header
 * (a part emptied by a delimiter right after its own) gets none: its
 * body is empty.
 */
static int
hdr_emit(struct conv *c, const struct mime_part *part, const char *cte)
{
	size_t		 pos = part->hdr_off, end = part->body_off, next, clen;
	bool		 skip = false, eol = false;
	bool		 mimever = part->parent == NULL;
	const uint8_t	*l;

	if (part->hdr_len == 0)
		return 0;
	for (; pos < end; pos = next) {
		next = line_next(c, pos, end, &clen);
		l = c->p + pos;
		if (hdr_line_check(c, l, next - pos, clen) == -1)
			return -1;
		if (clen == 0 && c->p[next - 1] == '\n')
			return hdr_extras(c, cte, mimever, false) == -1 ? -1 :
			    out_add(c, l, next - pos);
		if (l[0] != ' ' && l[0] != '\t') {
			skip = cte != NULL &&
			    field_is(l, clen, "content-transfer-encoding");
			if (field_is(l, clen, "mime-version"))
				mimever = false;
		}
		if (skip)
			continue;
		if (out_add(c, l, next - pos) == -1)
			return -1;
		eol = c->p[next - 1] != '\n';
	}
	return hdr_extras(c, cte, mimever, eol);
}

/*
 * Bodies.
 */

/* quoted-printable (RFC 2045 §6.7): one encoded line being built. */
struct qp {
	char	 line[QP_LINE + 4];
	size_t	 len;
};

/* rule (5): 76 octets with the "=" of a soft line break */
static int
qp_soft_break(struct conv *c, struct qp *q)
{
	memcpy(q->line + q->len, "=\r\n", 3);
	if (out_add(c, q->line, q->len + 3) == -1)
		return -1;
	q->len = 0;
	return 0;
}

/*
 * One octet of line s (len octets) at i as a token.  Besides rules (1),
 * (2) and (3) (trailing white space), a "-" that starts an encoded line
 * followed by another is encoded, so that no line of the output can be
 * taken for a boundary delimiter of an enclosing multipart.
 */
static size_t
qp_token(const uint8_t *s, size_t len, size_t i, bool bol, char tok[3])
{
	static const char	 hex[] = "0123456789ABCDEF";
	uint8_t			 ch = s[i];
	bool			 last = i + 1 == len;

	if ((ch > ' ' && ch < 0x7f && ch != '=' && (ch != '-' || !bol ||
	    last || s[i + 1] != '-')) ||
	    ((ch == ' ' || ch == '\t') && !last)) {
		tok[0] = (char)ch;
		return 1;
	}
	tok[0] = '=';
	tok[1] = hex[ch >> 4];
	tok[2] = hex[ch & 0x0f];
	return 3;
}

/* A line's content (no line end); then CRLF when eol. */
static int
qp_line(struct conv *c, const uint8_t *s, size_t len, bool eol)
{
	struct qp	 q;
	char		 tok[3];
	size_t		 tlen, room;

	q.len = 0;
	for (size_t i = 0; i < len; i++) {
		tlen = qp_token(s, len, i, q.len == 0, tok);
		room = i + 1 == len ? QP_LINE : QP_LINE - 1;
		if (q.len + tlen > room) {
			if (qp_soft_break(c, &q) == -1)
				return -1;
			tlen = qp_token(s, len, i, true, tok);
		}
		memcpy(q.line + q.len, tok, tlen);
		q.len += tlen;
	}
	if (eol) {
		memcpy(q.line + q.len, "\r\n", 2);
		q.len += 2;
	}
	return out_add(c, q.line, q.len);
}

/* Lines end at LF (a CR before it is part of the line end), as stored. */
static int
qp_encode(struct conv *c, size_t pos, size_t end)
{
	size_t	 next, clen;

	for (; pos < end; pos = next) {
		next = line_next(c, pos, end, &clen);
		if (qp_line(c, c->p + pos, clen, c->p[next - 1] == '\n') == -1)
			return -1;
	}
	return 0;
}

/* base64 (RFC 2045 §6.8) in 76-column lines; eol: CRLF after the last. */
static int
b64_encode(struct conv *c, const uint8_t *s, size_t len, bool eol)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char		 line[QP_LINE + 4];
	size_t		 n, k, i;
	uint32_t	 v;

	while (len > 0) {
		n = len < B64_IN ? len : B64_IN;
		for (i = 0, k = 0; i < n; i += 3) {
			v = (uint32_t)s[i] << 16;
			if (i + 1 < n)
				v |= (uint32_t)s[i + 1] << 8;
			if (i + 2 < n)
				v |= s[i + 2];
			line[k++] = b64[v >> 18];
			line[k++] = b64[(v >> 12) & 0x3f];
			line[k++] = i + 1 < n ? b64[(v >> 6) & 0x3f] : '=';
			line[k++] = i + 2 < n ? b64[v & 0x3f] : '=';
		}
		s += n;
		len -= n;
		if (len > 0 || eol) {
			line[k++] = '\r';
			line[k++] = '\n';
		}
		if (out_add(c, line, k) == -1)
			return -1;
	}
	return 0;
}

/*
 * Gaps: preamble, delimiter lines, epilogue (never shown, RFC 2046
 * §5.1.1).  A line that cannot go is emptied: an empty line never makes a
 * delimiter or ends a header, so the structure stays as it was.  A
 * delimiter has no 8-bit octets (header fields with them are refused),
 * but may carry any amount of white space (transport padding).
 */
static int
gap_line(struct conv *c, const uint8_t *l, size_t len, size_t clen)
{
	size_t	 keep = clen;

	if (!has_8bit(l, len) && clen <= LINE_MAX_7BIT)
		return out_add(c, l, len);
	if (!has_8bit(l, len) && clen >= 2 && l[0] == '-' && l[1] == '-') {
		while (keep > 2 && (l[keep - 1] == ' ' || l[keep - 1] == '\t'))
			keep--;
		if (keep > LINE_MAX_7BIT)
			keep = 0;
	} else
		keep = 0;
	if (out_add(c, l, keep) == -1)
		return -1;
	return out_add(c, l + clen, len - clen);
}

static int
gap_emit(struct conv *c, size_t pos, size_t end)
{
	size_t	 next, clen;

	for (; pos < end; pos = next) {
		next = line_next(c, pos, end, &clen);
		if (gap_line(c, c->p + pos, next - pos, clen) == -1)
			return -1;
	}
	return 0;
}

/*
 * Parts.
 */

/* The label of a part whose output is 7bit: 8bit and binary become it. */
static const char *
relabel(const struct mime_part *part)
{
	if (part->encoding == MIME_ENC_8BIT ||
	    part->encoding == MIME_ENC_BINARY)
		return "7bit";
	return NULL;
}

/*
 * Line-oriented types take quoted-printable: text/ types, and the RFC 6533 and
 * RFC 6532 message types that, unlike the others (RFC 2046 §5.2), may be
 * encoded.
 */
static bool
leaf_is_text(const struct mime_part *part)
{
	if (strcmp(part->type, "text") == 0)
		return true;
	return strcmp(part->type, "message") == 0 &&
	    (strcmp(part->subtype, "global-headers") == 0 ||
	    strcmp(part->subtype, "global-delivery-status") == 0 ||
	    strcmp(part->subtype, "global-disposition-notification") == 0);
}

/* Can this leaf, with 8-bit octets or long lines, be encoded? */
static int
leaf_check(struct conv *c, const struct mime_part *part)
{
	switch (part->encoding) {
	case MIME_ENC_BASE64:
	case MIME_ENC_QP:
	case MIME_ENC_OTHER:
		return conv_fail(c, "8-bit octets or long lines in a part "
		    "already encoded with %.40s", part->cte);
	default:
		break;
	}
	if (part->flags & MIME_PART_F_MULTIPART)
		return conv_fail(c, "8-bit octets in a multipart without a "
		    "usable boundary");
	if (part->flags & MIME_PART_F_ENCAPS)
		return conv_fail(c, "8-bit octets in message/%.40s, which "
		    "cannot be converted", part->subtype);
	if (strcmp(part->type, "message") == 0 && !leaf_is_text(part))
		return conv_fail(c, "8-bit octets in message/%.40s, which "
		    "must not be encoded", part->subtype);
	return 0;
}

static int
leaf_emit(struct conv *c, const struct mime_part *part)
{
	size_t	 pos = part->body_off, end = pos + part->body_len;

	if (region_clean(c, pos, end))
		return hdr_emit(c, part, relabel(part)) == -1 ? -1 :
		    out_add(c, c->p + pos, end - pos);
	if (leaf_check(c, part) == -1)
		return -1;
	if (leaf_is_text(part))
		return hdr_emit(c, part, "quoted-printable") == -1 ? -1 :
		    qp_encode(c, pos, end);
	/* QP would not keep binary line ends (RFC 2045 §6.7 rule 4). */
	if (hdr_emit(c, part, "base64") == -1)
		return -1;
	return b64_encode(c, c->p + pos, end - pos, end == c->n);
}

/* The body of a multipart or message/rfc822: children and gaps. */
static int
children_emit(struct conv *c, const struct mime_part *part)
{
	const struct mime_part	*ch;
	size_t			 pos = part->body_off;

	for (ch = part->children; ch != NULL; ch = ch->next) {
		if (gap_emit(c, pos, ch->hdr_off) == -1 ||
		    node_emit(c, ch) == -1)
			return -1;
		pos = ch->body_off + ch->body_len;
	}
	return gap_emit(c, pos, part->body_off + part->body_len);
}

/*
 * RFC 2046 §5.2.1: message/rfc822 is never encoded; its message is
 * converted as the top level is.  message/global (RFC 6532 §3.5) may
 * carry 8-bit headers that no encoding can carry: refused.
 */
static int
encaps_emit(struct conv *c, const struct mime_part *part)
{
	size_t	 pos = part->body_off, end = pos + part->body_len;

	if (strcmp(part->subtype, "global") != 0)
		return hdr_emit(c, part, relabel(part)) == -1 ? -1 :
		    children_emit(c, part);
	if (!region_clean(c, pos, end))
		return conv_fail(c, "8-bit octets in message/global, which "
		    "cannot be converted");
	return hdr_emit(c, part, relabel(part)) == -1 ? -1 :
	    out_add(c, c->p + pos, end - pos);
}

static int
node_emit(struct conv *c, const struct mime_part *part)
{
	if ((part->flags & MIME_PART_F_OPAQUE) ||
	    (part->flags & (MIME_PART_F_MULTIPART | MIME_PART_F_ENCAPS)) == 0)
		return leaf_emit(c, part);
	if (part->flags & MIME_PART_F_ENCAPS)
		return encaps_emit(c, part);
	/* All preamble: emptying its lines would lose what readers show. */
	if (part->children == NULL &&
	    !region_clean(c, part->body_off, part->body_off + part->body_len))
		return conv_fail(c, "8-bit octets in a multipart without "
		    "body parts");
	return hdr_emit(c, part, relabel(part)) == -1 ? -1 :
	    children_emit(c, part);
}

/*
 * Any limit of the parse (depth, parts, one field's size, parameters)
 * could hide a boundary or an encoding: then no conversion.  The number
 * of header fields is not one of them (Received: fields add up).
 */
static int
conv_run(struct conv *c)
{
	struct mime_limits	 lim;
	struct mime_msg		*mm;
	const struct mime_part	*root;
	int			 rc;

	mime_limits_default(&lim);
	lim.fields_max = FIELDS_MANY;
	mm = mime_parse(c->p, c->n, &lim);
	root = mime_root(mm);
	if (mime_limited(mm))
		rc = conv_fail(c, "MIME structure too complex to convert");
	else if ((rc = node_emit(c, root)) == 0)
		rc = gap_emit(c, root->body_off + root->body_len, c->n);
	mime_free(&mm);
	return rc;
}

int
mime_7bit(struct buf *out, const uint8_t *msg, size_t len, char **err_r)
{
	struct conv	 c = { msg, len, out, -1, NULL };

	if (region_clean(&c, 0, len))
		return 0;
	if (conv_run(&c) == -1) {
		*err_r = c.err;
		return -1;
	}
	return 1;
}

int
mime_7bit_fd(int fd, const uint8_t *msg, size_t len, char **err_r)
{
	struct buf	 b;
	struct conv	 c = { msg, len, &b, fd, NULL };
	int		 rc;

	if (region_clean(&c, 0, len))
		return 0;
	buf_init(&b, FLUSH_SIZE * 2);
	rc = conv_run(&c);
	if (rc == 0)
		rc = out_flush(&c);
	buf_clear(&b);
	if (rc == -1) {
		*err_r = c.err;
		return -1;
	}
	return 1;
}
