/*
 * mime_decode — RFC 2047 encoded-words, RFC 2231 values, base64 and
 * quoted-printable (RFC 2045 §6.7-6.8), charsets to UTF-8 (mime.h).
 *
 * Text goes out one whole UTF-8 sequence at a time, so a full output
 * buffer never ends inside a character; binary output goes out in chunks
 * and fills the buffer to the last octet.
 */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"

#define CHARSET_NAME_MAX	64
#define REPLACEMENT		"\xef\xbf\xbd"	/* U+FFFD */

/* Binary output: chunked, partial on overflow, sticky error. */
struct sink {
	struct buf	*b;
	int		 err;
	size_t		 n;
	uint8_t		 chunk[4096];
};

static void
sink_flush(struct sink *s)
{
	size_t	 room;

	if (s->err == 0 && s->n > 0) {
		room = buf_avail(s->b);
		if (room < s->n) {
			buf_add(s->b, s->chunk, room);
			s->err = -1;
		} else
			buf_add(s->b, s->chunk, s->n);
	}
	s->n = 0;
}

static void
sink_put(struct sink *s, uint8_t c)
{
	if (s->n == sizeof(s->chunk))
		sink_flush(s);
	s->chunk[s->n++] = c;
}

static void
sink_init(struct sink *s, struct buf *b)
{
	s->b = b;
	s->err = 0;
	s->n = 0;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629 §4), or 0. */
static size_t
utf8_len(const uint8_t *p, size_t n)
{
	uint8_t	 c = p[0], lo = 0x80, hi = 0xbf;
	size_t	 len, i;

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
		hi = 0x8f;		/* > U+10FFFF */
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* Text output: whole characters; -1 once out is full. */
static int
text_add(struct buf *out, const void *p, size_t n)
{
	return buf_add(out, p, n);
}

/* Append octets as UTF-8, U+FFFD for each invalid octet and for NUL. */
static int
utf8_put(struct buf *out, const uint8_t *p, size_t n)
{
	size_t	 i = 0, k;

	while (i < n) {
		k = utf8_len(p + i, n - i);
		if (k == 0 || p[i] == '\0') {
			if (text_add(out, REPLACEMENT, 3) == -1)
				return -1;
			i++;
			continue;
		}
		if (text_add(out, p + i, k) == -1)
			return -1;
		i += k;
	}
	return 0;
}

static int
latin1_put(struct buf *out, const uint8_t *p, size_t n)
{
	uint8_t	 u[2];
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\0' || p[i] < 0x80) {
			if (utf8_put(out, p + i, 1) == -1)
				return -1;
			continue;
		}
		u[0] = 0xc0 | (p[i] >> 6);
		u[1] = 0x80 | (p[i] & 0x3f);
		if (text_add(out, u, 2) == -1)
			return -1;
	}
	return 0;
}

/* Convert through iconv; one U+FFFD per octet it refuses. */
static int
iconv_put(struct buf *out, iconv_t cd, const uint8_t *in, size_t len)
{
	char	 tmp[1024], *ip = (char *)(uintptr_t)in, *op;
	size_t	 il = len, ol, r;

	while (il > 0) {
		op = tmp;
		ol = sizeof(tmp);
		r = iconv(cd, &ip, &il, &op, &ol);
		if (utf8_put(out, (uint8_t *)tmp, (size_t)(op - tmp)) == -1)
			return -1;
		if (r != (size_t)-1 || (errno == E2BIG && op != tmp))
			continue;
		/* EILSEQ, EINVAL (cut short): skip one octet */
		if (text_add(out, REPLACEMENT, 3) == -1)
			return -1;
		ip++;
		il--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	return 0;
}

enum cs_kind {
	CS_UTF8,
	CS_ASCII,
	CS_LATIN1,
	CS_OTHER,
};

static const struct {
	const char	*name;
	enum cs_kind	 kind;
} charsets[] = {
	{ "utf-8", CS_UTF8 }, { "utf8", CS_UTF8 },
	{ "us-ascii", CS_ASCII }, { "ascii", CS_ASCII },
	{ "ansi_x3.4-1968", CS_ASCII },
	{ "iso-8859-1", CS_LATIN1 }, { "iso8859-1", CS_LATIN1 },
	{ "iso_8859-1", CS_LATIN1 }, { "latin1", CS_LATIN1 },
	{ "l1", CS_LATIN1 },
};

/* A name fit for iconv_open(): short, plain characters. */
static bool
charset_name_ok(const char *cs)
{
	size_t	 len = strlen(cs);

	return len > 0 && len <= CHARSET_NAME_MAX &&
	    strspn(cs, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.:+()") == len;
}

static enum cs_kind
charset_kind(const char *cs)
{
	size_t	 i;

	for (i = 0; i < sizeof(charsets) / sizeof(charsets[0]); i++)
		if (strcasecmp(cs, charsets[i].name) == 0)
			return charsets[i].kind;
	return CS_OTHER;
}

int
mime_charset_to_utf8(struct buf *out, const char *charset, const void *in,
    size_t len)
{
	iconv_t	 cd;
	int	 rv;

	if (charset == NULL || !charset_name_ok(charset))
		return utf8_put(out, in, len);
	switch (charset_kind(charset)) {
	case CS_LATIN1:
		return latin1_put(out, in, len);
	case CS_UTF8:
	case CS_ASCII:		/* 8-bit in "us-ascii" is read as UTF-8 */
		return utf8_put(out, in, len);
	case CS_OTHER:
		break;
	}
	if ((cd = iconv_open("UTF-8", charset)) == (iconv_t)-1)
		return utf8_put(out, in, len);
	rv = iconv_put(out, cd, in, len);
	iconv_close(cd);
	return rv;
}

/*
 * base64 (RFC 2045 §6.8).
 */

/* Emit what a partial quantum of n sextets holds; 1 sextet is damage. */
static bool
b64_tail(struct sink *s, uint32_t acc, int n)
{
	if (n == 2)
		sink_put(s, (uint8_t)(acc >> 4));
	else if (n == 3) {
		sink_put(s, (uint8_t)(acc >> 10));
		sink_put(s, (uint8_t)(acc >> 2));
	}
	return n != 1;
}

static void
b64_decode(struct sink *s, const uint8_t *in, size_t len, bool *damaged)
{
	uint32_t	 acc = 0;
	int		 n = 0, v;
	size_t		 i;

	for (i = 0; i < len && s->err == 0; i++) {
		if ((v = str_b64_value(in[i])) >= 0) {
			acc = acc << 6 | (uint32_t)v;
			if (++n < 4)
				continue;
			sink_put(s, (uint8_t)(acc >> 16));
			sink_put(s, (uint8_t)(acc >> 8));
			sink_put(s, (uint8_t)acc);
			acc = 0;
			n = 0;
		} else if (in[i] == '=') {
			/* padding ends a quantum; data may follow it */
			if (!b64_tail(s, acc, n))
				*damaged = true;
			acc = 0;
			n = 0;
		} else if (strchr(" \t\r\n", in[i]) == NULL || in[i] == '\0')
			*damaged = true;
	}
	if (!b64_tail(s, acc, n))
		*damaged = true;
}

int
mime_base64_decode(struct buf *out, const void *in, size_t len,
    bool *damaged_r)
{
	struct sink	 s;
	bool		 damaged = false;

	sink_init(&s, out);
	b64_decode(&s, in, len, &damaged);
	sink_flush(&s);
	if (damaged_r != NULL)
		*damaged_r = damaged;
	return s.err;
}

/*
 * quoted-printable (RFC 2045 §6.7).
 */

static int
hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')	/* §6.7 (1): lower case, leniently */
		return c - 'a' + 10;
	return -1;
}

/* "=XX" at p (with end e)?  Sets *c. */
static bool
qp_escape(const uint8_t *p, const uint8_t *e, uint8_t *c)
{
	int	 hi, lo;

	if (e - p < 3 || (hi = hex_value(p[1])) < 0 ||
	    (lo = hex_value(p[2])) < 0)
		return false;
	*c = (uint8_t)(hi << 4 | lo);
	return true;
}

/* One line without its line end; true if it ends in a soft break. */
static bool
qp_line(struct sink *s, const uint8_t *p, const uint8_t *e, bool *damaged)
{
	uint8_t	 c;

	/* rule (3): trailing white space is padding */
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (; p < e; p++) {
		if (*p != '=') {
			sink_put(s, *p);
			continue;
		}
		if (p + 1 == e)
			return true;	/* rule (5): soft line break */
		if (qp_escape(p, e, &c)) {
			sink_put(s, c);
			p += 2;
		} else {
			sink_put(s, '=');
			*damaged = true;
		}
	}
	return false;
}

int
mime_qp_decode(struct buf *out, const void *in, size_t len, bool *damaged_r)
{
	const uint8_t	*p = in, *end = len == 0 ? p : p + len, *nl, *e;
	struct sink	 s;
	bool		 damaged = false, soft, cr;

	sink_init(&s, out);
	while (p < end && s.err == 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		e = nl == NULL ? end : nl;
		cr = e > p && e[-1] == '\r';
		soft = qp_line(&s, p, cr ? e - 1 : e, &damaged);
		if (nl != NULL && !soft) {
			if (cr)
				sink_put(&s, '\r');
			sink_put(&s, '\n');
		}
		p = nl == NULL ? end : nl + 1;
	}
	sink_flush(&s);
	if (damaged_r != NULL)
		*damaged_r = damaged;
	return s.err;
}

int
mime_body_decode(struct buf *out, enum mime_encoding enc, const void *in,
    size_t len, bool *damaged_r)
{
	size_t	 room;

	switch (enc) {
	case MIME_ENC_BASE64:
		return mime_base64_decode(out, in, len, damaged_r);
	case MIME_ENC_QP:
		return mime_qp_decode(out, in, len, damaged_r);
	default:
		break;
	}
	if (damaged_r != NULL)
		*damaged_r = enc == MIME_ENC_OTHER;
	if (len == 0)
		return 0;
	room = buf_avail(out);
	if (len <= room)
		return buf_add(out, in, len);
	buf_add(out, in, room);
	return -1;
}

/*
 * RFC 2047 encoded-words.
 */

/* encoded-word = "=?" charset "?" encoding "?" encoded-text "?=" (§2) */
struct eword {
	char		 cs[CHARSET_NAME_MAX + 1];
	char		 enc;		/* 'b' or 'q' */
	const uint8_t	*text;
	size_t		 textlen;
	size_t		 end;		/* offset after "?=" */
};

/* Parse an encoded-word at in[i] ("=?"). */
static bool
eword_parse(const uint8_t *in, size_t len, size_t i, struct eword *w)
{
	size_t	 j = i + 2, cs, k;

	for (cs = j; j < len && in[j] != '?' && j - cs <= CHARSET_NAME_MAX &&
	    in[j] > 0x20 && in[j] < 0x7f; j++)
		;
	if (j == cs || j - cs > CHARSET_NAME_MAX || len - j < 5 ||
	    in[j] != '?' || in[j + 2] != '?')
		return false;
	w->enc = (char)(in[j + 1] | 0x20);
	if (w->enc != 'b' && w->enc != 'q')
		return false;
	memcpy(w->cs, in + cs, j - cs);
	w->cs[j - cs] = '\0';
	/* RFC 2231 §5: charset "*" language */
	w->cs[strcspn(w->cs, "*")] = '\0';
	for (k = j + 3; k < len && in[k] != '?' && in[k] > 0x20; k++)
		;
	if (k + 1 >= len || in[k] != '?' || in[k + 1] != '=')
		return false;
	w->text = in + j + 3;
	w->textlen = k - (j + 3);
	w->end = k + 2;
	return true;
}

/* Q (§4.2): "_" is a space, "=XX" an octet. */
static void
q_decode(struct sink *s, const uint8_t *p, size_t len)
{
	const uint8_t	*e = p + len;
	uint8_t		 c;

	for (; p < e; p++) {
		if (*p == '_')
			sink_put(s, ' ');
		else if (*p == '=' && qp_escape(p, e, &c)) {
			sink_put(s, c);
			p += 2;
		} else
			sink_put(s, *p);
	}
}

/* Decoded octets of adjacent words in one charset, not yet converted. */
struct hdec {
	struct buf	*out;
	int		 err;
	struct buf	 raw;
	char		 cs[CHARSET_NAME_MAX + 1];
};

static void
hdec_flush(struct hdec *h)
{
	if (h->err == 0 && h->raw.len > 0 && mime_charset_to_utf8(h->out,
	    h->cs, buf_cstr(&h->raw), h->raw.len) == -1)
		h->err = -1;
	buf_reset(&h->raw);
}

static void
hdec_text(struct hdec *h, const uint8_t *p, size_t len)
{
	hdec_flush(h);
	if (h->err == 0 && utf8_put(h->out, p, len) == -1)
		h->err = -1;
}

static void
hdec_word(struct hdec *h, const struct eword *w)
{
	struct sink	 s;
	bool		 damaged = false;

	if (strcasecmp(h->cs, w->cs) != 0) {
		hdec_flush(h);
		memcpy(h->cs, w->cs, sizeof(h->cs));
	}
	sink_init(&s, &h->raw);
	if (w->enc == 'b')
		b64_decode(&s, w->text, w->textlen, &damaged);
	else
		q_decode(&s, w->text, w->textlen);
	sink_flush(&s);
	if (s.err != 0)
		h->err = -1;
}

static bool
all_lwsp(const uint8_t *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (strchr(" \t\r\n", p[i]) == NULL || p[i] == '\0')
			return false;
	return true;
}

int
mime_header_decode(struct buf *out, const void *in, size_t len)
{
	const uint8_t	*s = in, *p;
	struct hdec	 h;
	struct eword	 w;
	size_t		 i = 0, text = 0;
	bool		 after_word = false;

	if (len == 0)		/* in may be NULL */
		return 0;
	memset(&h, 0, sizeof(h));
	h.out = out;
	buf_init(&h.raw, len);		/* decoding only shrinks */
	while (i < len && h.err == 0 &&
	    (p = memmem(s + i, len - i, "=?", 2)) != NULL) {
		i = (size_t)(p - s);
		if (!eword_parse(s, len, i, &w)) {
			i++;
			continue;
		}
		/* §6.2: white space between adjacent encoded-words goes */
		if (!after_word || !all_lwsp(s + text, i - text))
			hdec_text(&h, s + text, i - text);
		hdec_word(&h, &w);
		i = text = w.end;
		after_word = true;
	}
	if (h.err == 0)
		hdec_text(&h, s + text, len - text);
	buf_clear(&h.raw);
	return h.err;
}

/* RFC 2231 §4: charset "'" [language] "'" %-encoded octets. */
int
mime_rfc2231_decode(struct buf *out, const char *value)
{
	const char	*q1, *q2, *p;
	char		 cs[CHARSET_NAME_MAX + 1] = "";
	struct buf	 raw;
	struct sink	 s;
	int		 rv;
	uint8_t		 c;

	p = value;
	if ((q1 = strchr(value, '\'')) != NULL &&
	    (q2 = strchr(q1 + 1, '\'')) != NULL) {
		if ((size_t)(q1 - value) <= CHARSET_NAME_MAX) {
			memcpy(cs, value, (size_t)(q1 - value));
			cs[q1 - value] = '\0';
		}
		p = q2 + 1;
	}
	buf_init(&raw, out->max);
	sink_init(&s, &raw);
	for (; *p != '\0'; p++) {
		if (*p == '%' && p[1] != '\0' && p[2] != '\0' &&
		    hex_value((uint8_t)p[1]) >= 0 &&
		    hex_value((uint8_t)p[2]) >= 0) {
			c = (uint8_t)(hex_value((uint8_t)p[1]) << 4 |
			    hex_value((uint8_t)p[2]));
			sink_put(&s, c);
			p += 2;
		} else
			sink_put(&s, (uint8_t)*p);
	}
	sink_flush(&s);
	rv = mime_charset_to_utf8(out, cs[0] == '\0' ? NULL : cs,
	    buf_cstr(&raw), raw.len);
	buf_clear(&raw);
	return rv == 0 ? s.err : -1;
}
