/*
 * imapd/search_match.c — one message against a tree of search keys (RFC
 * 3501 6.4.4, RFC 9051 6.4.4), for the keys PostgreSQL cannot answer
 * from the row: header fields, body text and the Date: field.  The other
 * keys are answered here too from the row's values, so that any tree
 * (NOT, OR) can be evaluated whole.
 *
 * Strings match as case-insensitive substrings of the decoded text, as
 * Dovecot does (without its full i;unicode-casemap, RFC 5051: see
 * search_fold()):
 *  - HEADER, FROM, TO, CC, BCC, SUBJECT: each occurrence of the field in
 *    the message's header, unfolded, RFC 2047 encoded-words decoded
 *    (mime_header_decode); an empty string matches every message that
 *    has the field (RFC 9051 6.4.4).
 *  - BODY: the bodies of text/ and message/ leaf parts, decoded by their
 *    Content-Transfer-Encoding and charset to UTF-8 (lib/mime); other
 *    parts (images, applications) are not text.
 *  - TEXT: BODY, and every header field ("name: value", decoded) of the
 *    message and of its MIME parts.
 *  - SENTBEFORE/SENTON/SENTSINCE: the date written in the first Date:
 *    field, time and zone left out (RFC 3501 6.4.4); a message without a
 *    readable one matches none of them.
 * One message is in memory at a time; one decoded part at a time.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap_parse.h"
#include "mime.h"
#include "imapd.h"

/* One header field: name and raw value (folded, CRLFs kept). */
struct hfield {
	const uint8_t	*name;
	size_t		 nlen;
	const uint8_t	*value;
	size_t		 vlen;
};

size_t
search_header_len(const uint8_t *p, size_t len, bool *end_r)
{
	const uint8_t	*lf;
	size_t		 i = 0;

	if (end_r != NULL)
		*end_r = true;
	/* A header line at a time: the first empty one ends it. */
	while (i < len) {
		if (p[i] == '\n')
			return i + 1;
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
			return i + 2;
		if ((lf = memchr(p + i, '\n', len - i)) == NULL)
			break;
		i = (size_t)(lf - p) + 1;
	}
	if (end_r != NULL)
		*end_r = false;
	return len;
}

static bool
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* The line end after i (past its LF), or len. */
static size_t
line_next(const uint8_t *h, size_t len, size_t i)
{
	const uint8_t	*lf = memchr(h + i, '\n', len - i);

	return lf == NULL ? len : (size_t)(lf - h) + 1;
}

/*
 * The next field of the header h at *pos (pull iterator).  Lines that
 * are not "name:" (no colon, or a continuation with no field before it)
 * are skipped, as lib/mime does.
 */
static bool
hfield_next(const uint8_t *h, size_t len, size_t *pos, struct hfield *f)
{
	size_t		 i = *pos, end, n;
	const uint8_t	*colon;

	while (i < len) {
		end = line_next(h, len, i);
		colon = is_wsp(h[i]) ? NULL : memchr(h + i, ':', end - i);
		if (colon == NULL || colon == h + i) {
			i = end;
			continue;
		}
		f->name = h + i;
		for (n = (size_t)(colon - f->name); n > 0 &&
		    is_wsp(f->name[n - 1]); n--)
			;
		f->nlen = n;
		while (end < len && is_wsp(h[end]))	/* unfolding */
			end = line_next(h, len, end);
		f->value = colon + 1;
		f->vlen = (size_t)(h + end - f->value);
		*pos = end;
		return true;
	}
	*pos = len;
	return false;
}

/* The value unfolded (CR, LF dropped), leading white space removed. */
static void
unfold(struct buf *out, const struct hfield *f)
{
	size_t	 i = 0;

	while (i < f->vlen && (is_wsp(f->value[i]) || f->value[i] == '\r' ||
	    f->value[i] == '\n'))
		i++;
	for (; i < f->vlen; i++)
		if (f->value[i] != '\r' && f->value[i] != '\n')
			buf_add_u8(out, f->value[i]);
}

/* Fold text (valid UTF-8) and look for the (folded) needle in it. */
static bool
found(struct buf *text, const struct search_key *k)
{
	search_fold((char *)BUF_DATA(text), text->len);
	return memmem(BUF_DATA(text), text->len, k->str, k->len) != NULL;
}

/* The field decoded (RFC 2047), after prefix, contains the needle. */
static bool
field_match(const struct hfield *f, const char *prefix, size_t plen,
    const struct search_key *k)
{
	struct buf	 raw, dec;
	bool		 hit;

	buf_init(&raw, f->vlen + 1);
	unfold(&raw, f);
	/* UTF-8 of any charset (or U+FFFD): at most 4 octets per octet. */
	buf_init(&dec, plen + 4 * raw.len + 64);
	buf_add(&dec, prefix, plen);
	(void)mime_header_decode(&dec, BUF_DATA(&raw), raw.len);
	hit = found(&dec, k);
	buf_clear(&raw);
	buf_clear(&dec);
	return hit;
}

static bool
name_is(const struct hfield *f, const char *name)
{
	return f->nlen == strlen(name) &&
	    strncasecmp((const char *)f->name, name, f->nlen) == 0;
}

static bool
header_match(const struct search_msg *m, const struct search_key *k)
{
	struct hfield	 f;
	size_t		 pos = 0;

	while (hfield_next(m->data, m->hdr_len, &pos, &f))
		if (name_is(&f, k->field) && (k->len == 0 ||
		    field_match(&f, "", 0, k)))
			return true;
	return false;
}

/* TEXT: any field of a header, as "name: value". */
static bool
header_text_match(const uint8_t *h, size_t len, const struct search_key *k)
{
	struct hfield	 f;
	size_t		 pos = 0;
	char		 name[256];

	while (hfield_next(h, len, &pos, &f)) {
		if (f.nlen + 2 > sizeof(name))
			f.nlen = sizeof(name) - 2;
		memcpy(name, f.name, f.nlen);
		memcpy(name + f.nlen, ": ", 2);
		if (field_match(&f, name, f.nlen + 2, k))
			return true;
	}
	return false;
}

static uint32_t
sent_date(struct search_msg *m)
{
	struct hfield	 f;
	struct buf	 raw;
	size_t		 pos = 0;

	if (m->sent_done)
		return m->sent;
	m->sent_done = true;
	while (hfield_next(m->data, m->hdr_len, &pos, &f))
		if (name_is(&f, "Date")) {
			buf_init(&raw, f.vlen + 1);
			unfold(&raw, &f);
			m->sent = search_date_822(buf_cstr(&raw), raw.len);
			buf_clear(&raw);
			break;
		}
	return m->sent;
}

/* A leaf whose body is text (Dovecot: text/ and message/ types). */
static bool
part_is_text(const struct mime_part *pt)
{
	return pt->children == NULL && pt->type != NULL &&
	    (strcmp(pt->type, "text") == 0 ||
	    strcmp(pt->type, "message") == 0);
}

static bool
part_body_match(const struct search_msg *m, const struct mime_part *pt,
    const struct search_key *k)
{
	struct buf	 dec, text;
	bool		 hit;

	if (pt->body_off > m->len || pt->body_len > m->len - pt->body_off)
		return false;
	buf_init(&dec, pt->body_len + 64);
	(void)mime_body_decode(&dec, pt->encoding, m->data + pt->body_off,
	    pt->body_len, NULL);
	/* UTF-8 from any charset: at most 4 octets per input octet. */
	buf_init(&text, 4 * dec.len + 64);
	(void)mime_charset_to_utf8(&text, pt->charset, BUF_DATA(&dec),
	    dec.len);
	buf_clear(&dec);
	hit = found(&text, k);
	buf_clear(&text);
	return hit;
}

/* BODY; TEXT (headers too). */
static bool
body_match(struct search_msg *m, const struct search_key *k, bool headers)
{
	const struct mime_part	*pt;

	if (k->len == 0)
		return true;
	if (m->mime == NULL)
		m->mime = mime_parse(m->data, m->len, NULL);
	for (size_t i = 0; i < mime_part_count(m->mime); i++) {
		pt = mime_part_at(m->mime, i);
		if (headers && pt->hdr_off <= m->len && pt->hdr_len <=
		    m->len - pt->hdr_off && header_text_match(m->data +
		    pt->hdr_off, pt->hdr_len, k))
			return true;
		if (part_is_text(pt) && part_body_match(m, pt, k))
			return true;
	}
	return false;
}

struct kw_find {
	const char	*want;
	bool		 found;
};

static void
kw_each(const char *kw, size_t len, void *arg)
{
	struct kw_find	*f = arg;

	if (strlen(kw) == len && strcasecmp(kw, f->want) == 0)
		f->found = true;
}

static bool
has_keyword(const struct search_msg *m, const char *want)
{
	struct kw_find	 f = { want, false };

	if (m->keywords != NULL)
		(void)flags_pg_array(m->keywords, kw_each, &f);
	return f.found;
}

/* The ranges ascend and do not overlap. */
static bool
in_ranges(const struct search_key *k, uint32_t uid)
{
	size_t	 lo = 0, hi = k->nuids;

	while (lo < hi) {
		size_t	 mid = lo + (hi - lo) / 2;

		if (uid < k->uids[mid].lo)
			hi = mid;
		else if (uid > k->uids[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static bool
date_cmp(enum search_key_type t, uint32_t date, uint64_t want)
{
	switch (t) {
	case SK_BEFORE:
	case SK_SENTBEFORE:
		return date < want;
	case SK_ON:
	case SK_SENTON:
		return date == want;
	default:
		return date >= want;
	}
}

static bool
match_list(const struct search_key *k, struct search_msg *m, bool any)
{
	for (const struct search_key *kid = k->kids; kid != NULL;
	    kid = kid->next)
		if (search_match(kid, m) == any)
			return any;
	return !any;
}

bool
search_match(const struct search_key *k, struct search_msg *m)
{
	switch (k->type) {
	case SK_ALL:
		return true;
	case SK_NONE:
		return false;
	case SK_AND:
		return match_list(k, m, false);
	case SK_OR:
		return match_list(k, m, true);
	case SK_NOT:
		return !search_match(k->kids, m);
	case SK_FLAG:
		return (m->flags & k->bits) != 0;
	case SK_UNFLAG:
		return (m->flags & k->bits) == 0;
	case SK_KEYWORD:
		return has_keyword(m, k->str);
	case SK_UNKEYWORD:
		return !has_keyword(m, k->str);
	case SK_LARGER:
		return m->size > k->num;
	case SK_SMALLER:
		return m->size < k->num;
	case SK_BEFORE:
	case SK_ON:
	case SK_SINCE:
		return date_cmp(k->type, m->date, k->num);
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		return sent_date(m) != 0 && date_cmp(k->type, sent_date(m),
		    k->num);
	case SK_UID:
	case SK_SEQ:
	case SK_RECENT:
		return in_ranges(k, m->uid);
	case SK_MODSEQ:
		return m->modseq >= k->num;
	case SK_HEADER:
		return header_match(m, k);
	case SK_BODY:
		return body_match(m, k, false);
	case SK_TEXT:
		return body_match(m, k, true);
	}
	return false;
}
