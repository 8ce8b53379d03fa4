/*
 * mime_text — the searchable text of a message, as words, for the
 * full-text vector (messages.fts) that imapd's SEARCH BODY and TEXT use
 * to pick candidates (see mime.h, at the end).
 *
 * The text is what imapd/search_match.c looks at for TEXT, so that the
 * vector never misses a message the exact match would find (RFC 9051
 * 6.4.4: BODY and TEXT are substring matches; through the vector they
 * become word-prefix matches):
 *  - of every part (pre-order, the root and encapsulated messages
 *    included): each header field's name and its value unfolded with
 *    RFC 2047 encoded-words decoded (mime_header_decode);
 *  - of every leaf text/ or message/ part: the body with its transfer
 *    encoding undone and its charset converted to UTF-8.
 * Lines at the start of a header that begin with white space (no field
 * before them) are kept too, as one value: when deliver puts its
 * Return-Path and Delivered-To lines in front, they continue the last of
 * those fields.
 *
 * Words: ASCII letters and digits and every valid UTF-8 sequence of two
 * octets or more are word characters; anything else (ASCII punctuation,
 * controls, invalid octets) is a separator, so PostgreSQL's default
 * parser, which takes every non-ASCII character as a letter under the C
 * locale (the embedded cluster's), sees plain words: user@example.com is
 * "user example com".  Words are case-folded as imapd folds search
 * strings (ASCII, and the two-octet letters of Latin-1, Latin
 * Extended-A, Greek and Cyrillic: the locale's own lower() would leave
 * them alone), and cut into pieces of at most MIME_TEXT_WORD_MAX octets
 * at character boundaries (PostgreSQL drops longer words); a search
 * string is cut the same way, so each of its pieces is still a prefix
 * of the piece of the message's word in the same place.
 */
#include <string.h>

#include "buf.h"
#include "mime.h"

/* Where words go, and how many octets may still go there. */
struct words {
	struct buf	*out;
	size_t		 left;
	size_t		 word;		/* octets of the word being written */
	bool		 sep;		/* a separator is due before more */
	bool		 full;
};

/* Length of the valid UTF-8 sequence at p (RFC 3629 4), or 0. */
static size_t
utf8_len(const uint8_t *p, size_t n)
{
	uint8_t	 c = p[0], lo = 0x80, hi = 0xbf;
	size_t	 len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (c == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (c == 0xf0)
		lo = 0x90;		/* overlong */
	else if (c == 0xf4)
		hi = 0x8f;		/* past U+10FFFF */
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/*
 * The lower case of a code point in U+0080..U+07FF when it has one of
 * the same UTF-8 length, else cp (imapd's search_fold() uses it too).
 */
unsigned
mime_fold_cp(unsigned cp)
{
	if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) ||
	    (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2) ||
	    (cp >= 0x410 && cp <= 0x42f))
		return cp + 0x20;
	if (cp >= 0x400 && cp <= 0x40f)
		return cp + 0x50;
	if (cp == 0x178)
		return 0xff;
	if (cp == 0x3c2)			/* final sigma */
		return 0x3c3;
	if (cp == 0x386)
		return 0x3ac;
	if (cp >= 0x388 && cp <= 0x38a)
		return cp + 0x25;
	if (cp == 0x38c)
		return 0x3cc;
	if (cp == 0x38e || cp == 0x38f)
		return cp + 0x3f;
	if ((cp >= 0x100 && cp <= 0x12f) || (cp >= 0x132 && cp <= 0x137) ||
	    (cp >= 0x14a && cp <= 0x177))
		return cp | 1;
	if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e))
		return cp + (cp & 1);
	return cp;
}

static bool
is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

/* One word character (n octets, folded), after a space when one is due. */
static int
words_char(struct words *w, const uint8_t *c, size_t n)
{
	bool	 space;

	if (w->full)
		return -1;
	if (w->word + n > MIME_TEXT_WORD_MAX) {
		w->sep = true;
		w->word = 0;
	}
	space = w->sep && w->out->len > 0;
	if (space + n > w->left || buf_avail(w->out) < space + n) {
		w->full = true;
		return -1;
	}
	if (space)
		(void)buf_add_u8(w->out, ' ');
	(void)buf_add(w->out, c, n);
	w->left -= space + n;
	w->sep = false;
	w->word += n;
	return 0;
}

static void
words_sep(struct words *w)
{
	w->sep = true;
	w->word = 0;
}

/* Text (any octets) as words; -1 once the room is used up. */
static int
words_add(struct words *w, const uint8_t *p, size_t len)
{
	uint8_t		 c[4];
	size_t		 i = 0, k;
	unsigned	 cp;

	while (i < len) {
		if ((k = utf8_len(p + i, len - i)) == 0 || (k == 1 &&
		    !is_alnum(p[i]))) {
			words_sep(w);
			i++;
			continue;
		}
		memcpy(c, p + i, k);
		if (k == 1 && c[0] >= 'A' && c[0] <= 'Z')
			c[0] += 'a' - 'A';
		else if (k == 2) {
			cp = mime_fold_cp(((c[0] & 0x1fu) << 6) |
			    (c[1] & 0x3f));
			c[0] = (uint8_t)(0xc0 | (cp >> 6));
			c[1] = (uint8_t)(0x80 | (cp & 0x3f));
		}
		if (words_char(w, c, k) == -1)
			return -1;
		i += k;
	}
	words_sep(w);
	return 0;
}

int
mime_text_words(struct buf *out, const void *in, size_t len, size_t max)
{
	struct words	 w = { out, max, 0, out->len > 0, false };

	return words_add(&w, in, len);
}

/* ---- the search string ---- */

int
mime_text_tsquery(struct buf *out, const char *s, size_t len)
{
	struct buf	 words;
	const char	*p, *end, *sp;
	int		 n = 0;

	buf_init(&words, SIZE_MAX / 2);
	(void)mime_text_words(&words, s, len, SIZE_MAX / 2);
	p = buf_cstr(&words);
	end = p + words.len;
	while (p < end && n < MIME_TEXT_QUERY_WORDS) {
		if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL)
			sp = end;
		buf_add_str(out, n++ > 0 ? " & '" : "'");
		/* Words hold no quote or backslash; doubled all the same. */
		for (; p < sp; p++) {
			if (*p == '\'' || *p == '\\')
				buf_add_u8(out, (uint8_t)*p);
			buf_add_u8(out, (uint8_t)*p);
		}
		buf_add_str(out, "':*");
		p = sp + 1;
	}
	buf_clear(&words);
	return n;
}

/* ---- the message ---- */

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

/* A value unfolded (CR, LF dropped), decoded (RFC 2047), as words. */
static int
value_words(struct words *w, const uint8_t *v, size_t len)
{
	struct buf	 raw, dec;
	size_t		 i = 0;
	int		 rc;

	while (i < len && (is_wsp(v[i]) || v[i] == '\r' || v[i] == '\n'))
		i++;
	buf_init(&raw, len + 1);
	for (; i < len; i++)
		if (v[i] != '\r' && v[i] != '\n')
			(void)buf_add_u8(&raw, v[i]);
	if (raw.len == 0) {
		buf_clear(&raw);
		return 0;
	}
	buf_init(&dec, 4 * raw.len + 64);
	(void)mime_header_decode(&dec, BUF_DATA(&raw), raw.len);
	rc = words_add(w, BUF_DATA(&dec), dec.len);
	buf_clear(&raw);
	buf_clear(&dec);
	return rc;
}

/*
 * One header line at i (with its continuation lines): the field's name
 * and value, or, for lines at the start that continue nothing, those
 * lines as a value; other lines without a colon are skipped, as
 * search_match.c does.  Returns where the next one starts.
 */
static size_t
header_line(struct words *w, const uint8_t *h, size_t len, size_t i)
{
	size_t		 end = line_next(h, len, i);
	const uint8_t	*colon;

	colon = is_wsp(h[i]) ? NULL : memchr(h + i, ':', end - i);
	if (colon == NULL && !(i == 0 && is_wsp(h[i])))
		return end;
	if (colon == h + i)
		return end;
	while (end < len && is_wsp(h[end]))	/* unfolding */
		end = line_next(h, len, end);
	if (colon == NULL) {
		(void)value_words(w, h, end);
		return end;
	}
	(void)words_add(w, h + i, (size_t)(colon - (h + i)));
	(void)value_words(w, colon + 1, (size_t)(h + end - (colon + 1)));
	return end;
}

static void
header_words(struct words *w, const uint8_t *h, size_t len)
{
	size_t	 i = 0;

	while (i < len && !w->full)
		i = header_line(w, h, len, i);
}

/* A leaf whose body is text (as search_match.c: text/ and message/). */
static bool
part_is_text(const struct mime_part *pt)
{
	return pt->children == NULL && pt->type != NULL &&
	    (strcmp(pt->type, "text") == 0 ||
	    strcmp(pt->type, "message") == 0);
}

static void
body_words(struct words *w, const uint8_t *body, size_t len,
    const struct mime_part *pt)
{
	struct buf	 dec, text;

	buf_init(&dec, len + 64);
	(void)mime_body_decode(&dec, pt->encoding, body, len, NULL);
	if (dec.len == 0) {
		buf_clear(&dec);
		return;
	}
	buf_init(&text, 4 * dec.len + 64);
	(void)mime_charset_to_utf8(&text, pt->charset, BUF_DATA(&dec),
	    dec.len);
	buf_clear(&dec);
	(void)words_add(w, BUF_DATA(&text), text.len);
	buf_clear(&text);
}

int
mime_search_text(const uint8_t *msg, size_t len, struct buf *out,
    size_t max)
{
	struct words		 w = { out, max, 0, out->len > 0, false };
	struct mime_msg		*m = mime_parse(msg, len, NULL);
	const struct mime_part	*pt;

	for (size_t i = 0; i < mime_part_count(m) && !w.full; i++) {
		pt = mime_part_at(m, i);
		if (pt->hdr_off <= len && pt->hdr_len <= len - pt->hdr_off)
			header_words(&w, msg + pt->hdr_off, pt->hdr_len);
		if (!w.full && part_is_text(pt) && pt->body_off <= len &&
		    pt->body_len <= len - pt->body_off)
			body_words(&w, msg + pt->body_off, pt->body_len, pt);
	}
	mime_free(&m);
	return w.full ? -1 : 0;
}
