/*
 * dsn_text — safe field values and folded lines for lib/dsn (dsn.h,
 * dsn_private.h): sanitising, folding, dates, typed values, the RFC 6533
 * address forms, RFC 3463 status codes.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "dsn.h"
#include "dsn_private.h"

/* Octets of the valid UTF-8 character at s that is not a C1 control;
   0 if there is none (s is NUL-terminated). */
static size_t
utf8_char(const unsigned char *s)
{
	size_t	 n, i;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (!addr_utf8_valid((const char *)s, n))
		return 0;
	if (s[0] == 0xc2 && s[1] < 0xa0)
		return 0;
	return n;
}

static unsigned long
utf8_code_point(const unsigned char *s, size_t n)
{
	unsigned long	 cp;
	size_t		 i;

	cp = n == 2 ? s[0] & 0x1f : n == 3 ? s[0] & 0x0f : s[0] & 0x07;
	for (i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	return cp;
}

static void
utf8_encode(struct buf *out, unsigned long cp)
{
	if (cp < 0x80)
		buf_add_u8(out, (uint8_t)cp);
	else if (cp < 0x800) {
		buf_add_u8(out, (uint8_t)(0xc0 | (cp >> 6)));
		buf_add_u8(out, (uint8_t)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_add_u8(out, (uint8_t)(0xe0 | (cp >> 12)));
		buf_add_u8(out, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		buf_add_u8(out, (uint8_t)(0x80 | (cp & 0x3f)));
	} else {
		buf_add_u8(out, (uint8_t)(0xf0 | (cp >> 18)));
		buf_add_u8(out, (uint8_t)(0x80 | ((cp >> 12) & 0x3f)));
		buf_add_u8(out, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		buf_add_u8(out, (uint8_t)(0x80 | (cp & 0x3f)));
	}
}

void
dsn_san_add(struct buf *out, const char *s, size_t max, bool utf8)
{
	const unsigned char	*p = (const unsigned char *)s;
	const void		*c;
	size_t			 n, clen, used = 0;
	bool			 space = false;

	if (s == NULL)
		return;
	for (; *p != '\0'; p += n) {
		n = clen = 1;
		c = p;
		if (*p <= ' ' || *p == 0x7f) {
			space = used > 0;
			continue;
		}
		if (*p >= 0x80) {
			if ((n = utf8_char(p)) == 0)
				n = 1;
			if (n == 1 || !utf8)
				c = "?";
			else
				clen = n;
		}
		if (used + space + clen > max) {
			buf_add_str(out, "...");
			return;
		}
		if (space)
			buf_add_u8(out, ' ');
		buf_add(out, c, clen);
		used += space + clen;
		space = false;
	}
}

/* Line break inside dsn_wrap_add(). */
static size_t
wrap_break(struct buf *out, const char *indent)
{
	buf_add_str(out, "\r\n");
	buf_add_str(out, indent);
	return strlen(indent);
}

/* One word, split where it would pass DSN_LINE_MAX; returns the column. */
static size_t
wrap_word(struct buf *out, size_t col, const char *w, size_t len,
    const char *indent)
{
	size_t	 n;

	while (col + len > DSN_LINE_MAX) {
		n = DSN_LINE_MAX - col;
		/* Not inside a UTF-8 character. */
		while (n > 0 && ((unsigned char)w[n] & 0xc0) == 0x80)
			n--;
		buf_add(out, w, n);
		w += n;
		len -= n;
		col = wrap_break(out, indent);
	}
	buf_add(out, w, len);
	return col + len;
}

void
dsn_wrap_add(struct buf *out, size_t col, const char *w, const char *indent,
    bool lead)
{
	size_t	 len;
	bool	 first = true;

	while (*w != '\0') {
		len = strcspn(w, " ");
		if (!first && col + 1 + len > DSN_FOLD_AT)
			col = wrap_break(out, indent);
		else if (!first || lead) {
			buf_add_u8(out, ' ');
			col++;
		}
		first = false;
		col = wrap_word(out, col, w, len, indent);
		w += len;
		if (*w == ' ')
			w++;
	}
	buf_add_str(out, "\r\n");
}

void
dsn_field_add(struct buf *out, const char *name, const char *value)
{
	buf_add_str(out, name);
	buf_add_u8(out, ':');
	dsn_wrap_add(out, strlen(name) + 1, value, " ", true);
}

void
dsn_date_add(struct buf *out, time_t t)
{
	static const char	 days[7][4] = { "Sun", "Mon", "Tue", "Wed",
	    "Thu", "Fri", "Sat" };
	static const char	 months[12][4] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm		 tm;

	/* RFC 5322 §3.3: four-digit years; keep within 1970-9999. */
	if (t < 0)
		t = 0;
	if ((long long)t > 253402300799LL)
		t = (time_t)253402300799LL;
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	buf_printf(out, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* RFC 5322 §3.2.3 atext. */
static bool
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool
is_atom(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!is_atext((unsigned char)s[i]))
			return false;
	return len > 0;
}

/* The length of the atom before ";" in v, or 0 when v is not typed. */
static size_t
typed_len(const char *v)
{
	const char	*semi = strchr(v, ';');
	size_t		 tlen;

	if (semi == NULL)
		return 0;
	tlen = (size_t)(semi - v);
	while (tlen > 0 && v[tlen - 1] == ' ')
		tlen--;
	return is_atom(v, tlen) ? tlen : 0;
}

const char *
dsn_typed_text(const char *v)
{
	const char	*text;

	if (typed_len(v) == 0)
		return v;
	text = strchr(v, ';') + 1;
	return text + (*text == ' ');
}

bool
dsn_typed_is(const char *v, const char *type)
{
	size_t	 tlen = typed_len(v);

	return tlen > 0 && tlen == strlen(type) &&
	    strncasecmp(v, type, tlen) == 0;
}

void
dsn_typed_add(struct buf *out, const char *v, const char *deftype)
{
	size_t	 tlen = typed_len(v);

	if (tlen > 0)
		buf_add(out, v, tlen);
	else
		buf_add_str(out, deftype);
	buf_add_str(out, "; ");
	buf_add_str(out, dsn_typed_text(v));
}

void
dsn_utf8_xtext_add(struct buf *out, const char *addr)
{
	const unsigned char	*p = (const unsigned char *)addr;
	size_t			 n, used;

	for (used = 0; *p != '\0' && used < DSN_ADDR_MAX; p += n, used += n) {
		n = 1;
		/* QCHAR, less "\" so that "\x{" cannot be misread. */
		if (*p > ' ' && *p < 0x7f && *p != '+' && *p != '=' &&
		    *p != '\\')
			buf_add_u8(out, *p);
		else if (*p < 0x80)
			buf_printf(out, "\\x{%X}", *p);
		else if ((n = utf8_char(p)) != 0)
			buf_printf(out, "\\x{%lX}", utf8_code_point(p, n));
		else {
			n = 1;
			buf_add_str(out, "\\x{FFFD}");
		}
	}
}

/* One "\x{HEX}" at s (len octets); the octets it takes, or 0. */
static size_t
unitext_escape(struct buf *out, const char *s, size_t len)
{
	unsigned long	 cp = 0;
	size_t		 i;
	int		 d;

	if (len < 5 || s[0] != '\\' || s[1] != 'x' || s[2] != '{')
		return 0;
	for (i = 3; i < len && i < 10 && s[i] != '}'; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else
			return 0;
		cp = cp * 16 + (unsigned long)d;
	}
	if (i == 3 || i >= len || s[i] != '}' || cp == 0 || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	utf8_encode(out, cp);
	return i + 1;
}

int
dsn_unitext_decode(struct buf *out, const char *s, size_t len)
{
	size_t	 i, n;

	for (i = 0; i < len; i += n) {
		n = 1;
		if (s[i] != '\\')
			buf_add_u8(out, (uint8_t)s[i]);
		else if ((n = unitext_escape(out, s + i, len - i)) == 0)
			return -1;
	}
	return 0;
}

bool
dsn_is_ascii(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* 1*3DIGIT at *s, moved past it; the value, or -1. */
static int
status_num(const char **s)
{
	int	 v = 0, n = 0;

	while (**s >= '0' && **s <= '9' && n < 4) {
		v = v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	return n >= 1 && n <= 3 ? v : -1;
}

/* RFC 3463 §2: class "." subject "." detail; -1 when invalid. */
static int
status_parse(const char *s, int *subject_r, int *detail_r)
{
	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return -1;
	s += 2;
	if ((*subject_r = status_num(&s)) == -1 || *s++ != '.' ||
	    (*detail_r = status_num(&s)) == -1 || *s != '\0')
		return -1;
	return 0;
}

bool
dsn_status_valid(const char *s)
{
	int	 subject, detail;

	return status_parse(s, &subject, &detail) == 0;
}

/* RFC 3463 §3, with RFC 4954, RFC 6531 and RFC 7505 additions. */
static const struct {
	int		 subject, detail;
	const char	*text;
} status_texts[] = {
	{ 0, 0, "Other undefined status" },
	{ 1, 0, "Other address status" },
	{ 1, 1, "Bad destination mailbox address" },
	{ 1, 2, "Bad destination system address" },
	{ 1, 3, "Bad destination mailbox address syntax" },
	{ 1, 4, "Destination mailbox address ambiguous" },
	{ 1, 5, "Destination address valid" },
	{ 1, 6, "Destination mailbox has moved, no forwarding address" },
	{ 1, 7, "Bad sender's mailbox address syntax" },
	{ 1, 8, "Bad sender's system address" },
	{ 1, 10, "Recipient address has null MX" },
	{ 2, 0, "Other or undefined mailbox status" },
	{ 2, 1, "Mailbox disabled, not accepting messages" },
	{ 2, 2, "Mailbox full" },
	{ 2, 3, "Message length exceeds administrative limit" },
	{ 2, 4, "Mailing list expansion problem" },
	{ 3, 0, "Other or undefined mail system status" },
	{ 3, 1, "Mail system full" },
	{ 3, 2, "System not accepting network messages" },
	{ 3, 3, "System not capable of selected features" },
	{ 3, 4, "Message too big for system" },
	{ 3, 5, "System incorrectly configured" },
	{ 4, 0, "Other or undefined network or routing status" },
	{ 4, 1, "No answer from host" },
	{ 4, 2, "Bad connection" },
	{ 4, 3, "Directory server failure" },
	{ 4, 4, "Unable to route" },
	{ 4, 5, "Mail system congestion" },
	{ 4, 6, "Routing loop detected" },
	{ 4, 7, "Delivery time expired" },
	{ 5, 0, "Other or undefined protocol status" },
	{ 5, 1, "Invalid command" },
	{ 5, 2, "Syntax error" },
	{ 5, 3, "Too many recipients" },
	{ 5, 4, "Invalid command arguments" },
	{ 5, 5, "Wrong protocol version" },
	{ 6, 0, "Other or undefined media error" },
	{ 6, 1, "Media not supported" },
	{ 6, 2, "Conversion required and prohibited" },
	{ 6, 3, "Conversion required but not supported" },
	{ 6, 4, "Conversion with loss performed" },
	{ 6, 5, "Conversion failed" },
	{ 6, 7, "Non-ASCII addresses not permitted" },
	{ 7, 0, "Other or undefined security status" },
	{ 7, 1, "Delivery not authorized, message refused" },
	{ 7, 2, "Mailing list expansion prohibited" },
	{ 7, 3, "Security conversion required but not possible" },
	{ 7, 4, "Security features not supported" },
	{ 7, 5, "Cryptographic failure" },
	{ 7, 6, "Cryptographic algorithm not supported" },
	{ 7, 7, "Message integrity failure" },
	{ 7, 8, "Authentication credentials invalid" },
};

const char *
dsn_status_text(const char *status)
{
	size_t	 i;
	int	 subject, detail;

	if (status_parse(status, &subject, &detail) == -1)
		return "";
	for (i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++)
		if (status_texts[i].subject == subject &&
		    status_texts[i].detail == detail)
			return status_texts[i].text;
	/* Unknown detail: the subject's "other or undefined" (§3). */
	if (detail != 0)
		for (i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]);
		    i++)
			if (status_texts[i].subject == subject &&
			    status_texts[i].detail == 0)
				return status_texts[i].text;
	return status_texts[0].text;
}
