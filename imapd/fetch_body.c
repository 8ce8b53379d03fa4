/*
 * imapd/fetch_body.c — a message's octets for FETCH: BODY[section]
 * <partial>, RFC822*, BINARY[section] and BINARY.SIZE (RFC 9051 6.4.5,
 * 7.5.2; RFC 3516), and BODY / uncached ENVELOPE and BODYSTRUCTURE.
 *
 * A stored message is messages.prefix (Return-Path:, Delivered-To:) then
 * the blob; "message offsets" run over both.  The blob is mapped, not
 * read, and parsed (lib/mime) only for items that need its structure
 * (numbered parts, BODY, uncached ENVELOPE/BODYSTRUCTURE): the top-level
 * HEADER and TEXT are found by looking for the header's end.  deliver
 * parsed the blob alone, so part offsets are blob offsets and only the
 * top-level header also covers the prefix.  Ranges of the message go to
 * the client straight from the mapping; only what must change
 * (HEADER.FIELDS subsets, decoded BINARY, NUL replaced) is copied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "blob.h"
#include "buf.h"
#include "mime.h"
#include "imapd.h"
#include "fetch.h"

#define COPY_MAX	((size_t)1 << 30)	/* one copied section */

/* A section's value: NIL, message octets, or octets of its own. */
struct content {
	bool		 nil;
	bool		 owned;		/* off, len are into b */
	size_t		 off, len;
	struct buf	 b;
};

int
fetch_msg_open(struct fetch_msg *m, const char *blob_dir,
    const struct fetch_row *row)
{
	struct stat	 st;
	void		*map = NULL;
	int		 fd, saved;

	memset(m, 0, sizeof(*m));
	m->row = row;
	m->blob = (const uint8_t *)"";
	if (row->blob == NULL) {
		errno = ENOENT;
		return -1;
	}
	if ((fd = blob_open(blob_dir, row->blob)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || (st.st_size > 0 &&
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
	    0)) == MAP_FAILED)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	if (st.st_size > 0) {
		m->map = map;
		m->blob = map;
		m->blob_len = (size_t)st.st_size;
	}
	return 0;
}

void
fetch_msg_close(struct fetch_msg *m)
{
	mime_free(&m->mime);
	if (m->map != NULL)
		munmap(m->map, m->blob_len);
	memset(m, 0, sizeof(*m));
}

static const struct mime_msg *
msg_mime(struct fetch_msg *m)
{
	if (m->mime == NULL)
		m->mime = mime_parse(m->blob, m->blob_len, NULL);
	return m->mime;
}

static size_t
msg_len(const struct fetch_msg *m)
{
	return m->row->prefix_len + m->blob_len;
}

/* ---- ranges of the message ---- */

static void
hdr_range(const struct fetch_msg *m, const struct mime_part *x,
    struct content *c)
{
	if (x->parent == NULL) {	/* the top-level header: prefix too */
		c->off = 0;
		c->len = m->row->prefix_len + x->hdr_len;
	} else {
		c->off = m->row->prefix_len + x->hdr_off;
		c->len = x->hdr_len;
	}
}

static void
body_range(const struct fetch_msg *m, const struct mime_part *x,
    struct content *c)
{
	c->off = m->row->prefix_len + x->body_off;
	c->len = x->body_len;
}

/* Message octets [off, off + len) into the plan, by reference. */
static void
plan_range(struct fetch_plan *p, const struct fetch_msg *m, size_t off,
    size_t len)
{
	size_t	 plen = m->row->prefix_len, n;

	if (off < plen) {
		n = len < plen - off ? len : plen - off;
		fetch_plan_octets(p, m->row->prefix + off, n);
		off += n;
		len -= n;
	}
	if (len > 0)
		fetch_plan_octets(p, m->blob + (off - plen), len);
}

/* The octets of a content, in at most two pieces. */
static void
content_pieces(const struct fetch_msg *m, const struct content *c,
    const uint8_t *p[2], size_t n[2])
{
	size_t	 plen = m->row->prefix_len, off = c->off, len = c->len;

	p[0] = p[1] = NULL;
	n[0] = n[1] = 0;
	if (c->owned) {
		p[0] = BUF_DATA(&c->b) + off;
		n[0] = len;
		return;
	}
	if (off < plen) {
		p[0] = m->row->prefix + off;
		n[0] = len < plen - off ? len : plen - off;
		off += n[0];
		len -= n[0];
	}
	p[1] = m->blob + (off - plen);
	n[1] = len;
}

static bool
content_has_nul(const struct fetch_msg *m, const struct content *c)
{
	const uint8_t	*p[2];
	size_t		 n[2];

	content_pieces(m, c, p, n);
	return (n[0] > 0 && memchr(p[0], '\0', n[0]) != NULL) ||
	    (n[1] > 0 && memchr(p[1], '\0', n[1]) != NULL);
}

/* A copy of the content's octets (becomes owned). */
static void
content_own(const struct fetch_msg *m, struct content *c)
{
	const uint8_t	*p[2];
	size_t		 n[2];
	struct buf	 b;

	if (c->owned)
		return;
	content_pieces(m, c, p, n);
	buf_init(&b, COPY_MAX);
	buf_add(&b, p[0], n[0]);
	buf_add(&b, p[1], n[1]);
	c->b = b;
	c->owned = true;
	c->off = 0;
	c->len = b.len;
}

/*
 * A literal cannot carry NUL (RFC 9051 9 CHAR8): outside BINARY it
 * becomes 0x80, as Dovecot does.
 */
static void
content_no_nul(const struct fetch_msg *m, struct content *c)
{
	uint8_t	*p;

	content_own(m, c);
	p = BUF_DATA(&c->b) + c->off;
	for (size_t i = 0; i < c->len; i++)
		if (p[i] == '\0')
			p[i] = 0x80;
}

/* ---- HEADER.FIELDS ---- */

static size_t
line_end(const uint8_t *h, size_t len, size_t pos)
{
	const uint8_t	*lf = memchr(h + pos, '\n', len - pos);

	return lf == NULL ? len : (size_t)(lf - h) + 1;
}

/* A field and its continuation lines (RFC 5322 2.2.3). */
static size_t
field_end(const uint8_t *h, size_t len, size_t pos)
{
	size_t	 e = line_end(h, len, pos);

	while (e < len && (h[e] == ' ' || h[e] == '\t'))
		e = line_end(h, len, e);
	return e;
}

static bool
field_listed(const uint8_t *f, size_t len, const struct fetch_item *it)
{
	const uint8_t	*colon = memchr(f, ':', len);
	size_t		 n;

	if (colon == NULL)
		return false;
	n = (size_t)(colon - f);
	while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == '\t'))
		n--;	/* obs-optional (RFC 5322 4.5.3) */
	for (size_t i = 0; i < it->nfields; i++)
		if (strlen(it->fields[i]) == n &&
		    strncasecmp(it->fields[i], (const char *)f, n) == 0)
			return true;
	return false;
}

/*
 * The fields named (or all but those, .NOT) of a header, and the empty
 * line that ends it when there is one (RFC 3501 6.4.5).
 */
static void
fields_filter(const uint8_t *h, size_t len, const struct fetch_item *it,
    struct content *c)
{
	bool	 not = it->spec == SPEC_FIELDS_NOT;
	size_t	 pos = 0, end;

	buf_init(&c->b, COPY_MAX);
	while (pos < len) {
		if (h[pos] == '\n' || (h[pos] == '\r' && pos + 1 < len &&
		    h[pos + 1] == '\n')) {
			buf_add(&c->b, h + pos, len - pos);
			break;
		}
		end = field_end(h, len, pos);
		if (field_listed(h + pos, end - pos, it) != not)
			buf_add(&c->b, h + pos, end - pos);
		pos = end;
	}
	c->owned = true;
	c->off = 0;
	c->len = c->b.len;
}

/* HEADER.FIELDS[.NOT] of the header at h (contiguous or not). */
static void
header_fields(const struct fetch_msg *m, const struct content *h,
    const struct fetch_item *it, struct content *c)
{
	const uint8_t	*p[2];
	size_t		 n[2];
	struct buf	 tmp;

	content_pieces(m, h, p, n);
	if (n[0] == 0 || n[1] == 0) {
		fields_filter(n[0] > 0 ? p[0] : p[1], n[0] + n[1], it, c);
		return;
	}
	buf_init(&tmp, COPY_MAX);	/* the top-level header: prefix too */
	buf_add(&tmp, p[0], n[0]);
	buf_add(&tmp, p[1], n[1]);
	fields_filter(BUF_DATA(&tmp), tmp.len, it, c);
	buf_clear(&tmp);
}

/* ---- sections ---- */

static void
decode(const struct fetch_msg *m, const struct mime_part *x,
    struct content *c)
{
	buf_init(&c->b, COPY_MAX);
	(void)mime_body_decode(&c->b, x->encoding, m->blob + x->body_off,
	    x->body_len, NULL);
	c->owned = true;
	c->off = 0;
	c->len = c->b.len;
}

static bool
needs_decoding(const struct mime_part *x)
{
	return x->encoding == MIME_ENC_BASE64 || x->encoding == MIME_ENC_QP;
}

/* HEADER, TEXT, HEADER.FIELDS[.NOT] of a message: hdr, body ranges. */
static void
msgtext(const struct fetch_msg *m, const struct content *hdr,
    const struct content *body, const struct fetch_item *it,
    struct content *c)
{
	if (it->spec == SPEC_HEADER)
		*c = *hdr;
	else if (it->spec == SPEC_TEXT)
		*c = *body;
	else
		header_fields(m, hdr, it, c);
}

static void
node_msgtext(const struct fetch_msg *m, const struct mime_part *x,
    const struct fetch_item *it, struct content *c)
{
	struct content	 hdr, body;

	memset(&hdr, 0, sizeof(hdr));
	memset(&body, 0, sizeof(body));
	hdr_range(m, x, &hdr);
	body_range(m, x, &body);
	msgtext(m, &hdr, &body, it, c);
}

/*
 * The top-level header ends at the first empty line (or the end), as
 * lib/mime reads it: found without parsing the message, so that
 * BODY.PEEK[HEADER.FIELDS (..)] over a mailbox reads headers only.
 */
static size_t
top_header_len(const struct fetch_msg *m)
{
	const uint8_t	*p = m->blob, *lf;
	size_t		 n = m->blob_len, pos = 0, le;

	while (pos < n) {
		lf = memchr(p + pos, '\n', n - pos);
		le = lf == NULL ? n : (size_t)(lf - p);
		if (le == pos || (le == pos + 1 && p[pos] == '\r'))
			return le < n ? le + 1 : n;
		pos = le + 1;
	}
	return n;
}

static void
top_msgtext(const struct fetch_msg *m, const struct fetch_item *it,
    struct content *c)
{
	size_t		 plen = m->row->prefix_len, hlen = top_header_len(m);
	struct content	 hdr, body;

	memset(&hdr, 0, sizeof(hdr));
	memset(&body, 0, sizeof(body));
	hdr.len = plen + hlen;
	body.off = plen + hlen;
	body.len = m->blob_len - hlen;
	msgtext(m, &hdr, &body, it, c);
}

/* A numbered part: its body (decoded for BINARY), MIME header or text. */
static void
part_content(struct fetch_msg *m, const struct mime_part *x,
    const struct fetch_item *it, struct content *c)
{
	if (it->spec == SPEC_PART && it->binary && needs_decoding(x))
		decode(m, x, c);
	else if (it->spec == SPEC_PART)
		body_range(m, x, c);
	else if (it->spec == SPEC_MIME)
		hdr_range(m, x, c);
	else if ((x->flags & MIME_PART_F_ENCAPS) && x->children != NULL)
		node_msgtext(m, x->children, it, c);
	else
		c->nil = true;	/* HEADER/TEXT of a part that is no message */
}

static void
section_content(struct fetch_msg *m, const struct fetch_item *it,
    struct content *c)
{
	const struct mime_part	*x;

	memset(c, 0, sizeof(*c));
	if (it->part[0] == '\0' && it->spec == SPEC_PART) {
		c->len = msg_len(m);
		return;
	}
	if (it->part[0] == '\0') {
		top_msgtext(m, it, c);
		return;
	}
	if ((x = mime_section_find(msg_mime(m), it->part)) == NULL)
		c->nil = true;	/* no such part: NIL */
	else
		part_content(m, x, it, c);
}

/* <origin.count> (RFC 9051 6.4.5): past the end, an empty string. */
static void
content_slice(struct content *c, const struct fetch_item *it)
{
	if (!it->partial || c->nil)
		return;
	if (it->origin >= c->len) {
		c->len = 0;
		return;
	}
	c->off += it->origin;
	c->len -= it->origin;
	if (c->len > it->count)
		c->len = it->count;
}

static void
content_write(struct fetch_plan *p, struct fetch_msg *m,
    const struct fetch_item *it, struct content *c)
{
	struct buf	*t = fetch_plan_text(p);
	bool		 nul;

	buf_add_str(t, it->label);
	if (it->partial)
		buf_printf(t, "<%u>", it->origin);
	if (c->nil || c->len == 0) {
		buf_add_str(t, c->nil ? " NIL" : " \"\"");
		return;
	}
	if ((nul = content_has_nul(m, c)) && !it->binary)
		content_no_nul(m, c);
	buf_printf(t, " %s{%zu}\r\n", nul && it->binary ? "~" : "", c->len);
	if (c->owned)
		fetch_plan_adopt(p, &c->b, c->off, c->len);
	else
		plan_range(p, m, c->off, c->len);
}

void
fetch_section(struct fetch_plan *p, struct fetch_msg *m,
    const struct fetch_item *it)
{
	struct content	 c;

	section_content(m, it, &c);
	content_slice(&c, it);
	content_write(p, m, it, &c);
	buf_clear(&c.b);
}

/* RFC 3516 4.2: the size of the decoded section. */
void
fetch_binary_size(struct fetch_plan *p, struct fetch_msg *m,
    const struct fetch_item *it)
{
	struct content	 c;

	section_content(m, it, &c);
	buf_printf(fetch_plan_text(p), "%s %zu", it->label, c.nil ? 0 : c.len);
	buf_clear(&c.b);
}

bool
fetch_msg_unknown_cte(struct fetch_msg *m, const struct fetch_item *items,
    size_t n)
{
	const struct mime_part	*x;

	for (size_t i = 0; i < n; i++) {
		if (!items[i].binary || items[i].part[0] == '\0')
			continue;
		x = mime_section_find(msg_mime(m), items[i].part);
		if (x != NULL && x->encoding == MIME_ENC_OTHER)
			return true;
	}
	return false;
}

void
fetch_structure(struct fetch_plan *p, struct fetch_msg *m,
    enum fetch_att att)
{
	const struct mime_part	*root = mime_root(msg_mime(m));
	struct buf		*t = fetch_plan_text(p);

	if (att == FA_ENVELOPE)
		(void)mime_envelope_write(t, root);
	else
		(void)mime_body_write(t, root, att == FA_BODYSTRUCTURE);
}
