/*
 * addr — SMTP paths and mailboxes, UTF-8 and xtext (addr.h).
 *
 * A recursive-descent scanner over (s, len) with a cursor; every rule is
 * one short function named after its RFC 5321 §4.1.2 production.  The
 * first error wins and is kept in the scanner.
 */
#include <arpa/inet.h>
#include <bsd/string.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "buf.h"

struct scan {
	const unsigned char	*s;
	size_t			 len;
	size_t			 pos;
	int			 flags;
	enum addr_err		 err;
};

/* Longest literal content we hand to inet_pton ("IPv6:" + v6 text). */
#define ADDR_LITERAL_MAX	(5 + INET6_ADDRSTRLEN)

static int
scan_fail(struct scan *sc, enum addr_err err)
{
	if (sc->err == ADDR_OK)
		sc->err = err;
	return -1;
}

static int
scan_peek(const struct scan *sc)
{
	return sc->pos < sc->len ? sc->s[sc->pos] : -1;
}

static bool
is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
is_let_dig(int c)
{
	return is_alpha(c) || is_digit(c);
}

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool
ascii_caseeq(const char *a, const char *b, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) !=
		    ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

/* atext, RFC 5322 §3.2.3 (as used by RFC 5321 §4.1.2). */
static bool
is_atext(int c)
{
	return is_let_dig(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~",
	    c) != NULL);
}

/* qtextSMTP, RFC 5321 §4.1.2: %d32-33 / %d35-91 / %d93-126. */
static bool
is_qtext(int c)
{
	return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

/*
 * Length of the UTF-8 sequence at s (2..4), or 0 when it is not one
 * (RFC 3629 §4 UTF8-2/3/4: the second-octet ranges exclude overlongs,
 * surrogates and code points past U+10FFFF).
 */
static size_t
utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char	 c = s[0], lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

bool
addr_utf8_valid(const char *p, size_t len)
{
	const unsigned char	*s = (const unsigned char *)p;
	size_t			 i = 0, n;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_seq_len(s + i, len - i)) == 0)
			return false;
		i += n;
	}
	return true;
}

/*
 * One UTF8-non-ascii character at the cursor (RFC 6531 §3.3 extends
 * atext, qtextSMTP and sub-domain with it); only under ADDR_F_UTF8.
 */
static int
scan_utf8(struct scan *sc)
{
	size_t	 n;

	n = utf8_seq_len(sc->s + sc->pos, sc->len - sc->pos);
	if (n == 0)
		return scan_fail(sc, ADDR_ERR_BAD_UTF8);
	if ((sc->flags & ADDR_F_UTF8) == 0)
		return scan_fail(sc, ADDR_ERR_UTF8);
	sc->pos += n;
	return 0;
}

/* Atom = 1*atext; Dot-string = Atom *("." Atom) (RFC 5321 §4.1.2). */
static int
scan_dot_string(struct scan *sc)
{
	int	 c;
	bool	 empty = true;

	for (;;) {
		c = scan_peek(sc);
		if (c >= 0x80) {
			if (scan_utf8(sc) == -1)
				return -1;
			empty = false;
		} else if (c != -1 && is_atext(c)) {
			sc->pos++;
			empty = false;
		} else if (c == '.' && !empty) {
			sc->pos++;
			empty = true;
		} else
			break;
	}
	return empty ? scan_fail(sc, ADDR_ERR_SYNTAX) : 0;
}

/*
 * Quoted-string = DQUOTE *QcontentSMTP DQUOTE; quoted-pairSMTP is "\"
 * and one of %d32-126 (RFC 5321 §4.1.2).
 */
static int
scan_quoted(struct scan *sc)
{
	int	 c;

	sc->pos++;
	for (;;) {
		c = scan_peek(sc);
		if (c == '"') {
			sc->pos++;
			return 0;
		}
		if (c == '\\') {
			sc->pos++;
			c = scan_peek(sc);
			if (c < 32 || c > 126)
				return scan_fail(sc, ADDR_ERR_SYNTAX);
			sc->pos++;
		} else if (c >= 0x80) {
			if (scan_utf8(sc) == -1)
				return -1;
		} else if (c != -1 && is_qtext(c))
			sc->pos++;
		else
			return scan_fail(sc, ADDR_ERR_SYNTAX);
	}
}

static int
scan_local(struct scan *sc, struct addr *a)
{
	size_t	 start = sc->pos;
	int	 r;

	a->quoted = scan_peek(sc) == '"';
	r = a->quoted ? scan_quoted(sc) : scan_dot_string(sc);
	if (r == -1)
		return -1;
	if (sc->pos - start > ADDR_LOCAL_MAX)
		return scan_fail(sc, ADDR_ERR_LOCAL_LONG);
	memcpy(a->local, sc->s + start, sc->pos - start);
	a->local[sc->pos - start] = '\0';
	return 0;
}

/*
 * sub-domain = Let-dig [Ldh-str], i.e. let-dig and "-" not first or
 * last (RFC 5321 §4.1.2), or a U-label (RFC 6531 §3.3).
 */
static int
scan_label(struct scan *sc)
{
	size_t	 start = sc->pos;
	bool	 ascii = true;
	int	 c;

	for (;;) {
		c = scan_peek(sc);
		if (c >= 0x80) {
			if (scan_utf8(sc) == -1)
				return -1;
			ascii = false;
		} else if (c != -1 && (is_let_dig(c) || c == '-'))
			sc->pos++;
		else
			break;
	}
	if (sc->pos == start || sc->s[start] == '-' ||
	    sc->s[sc->pos - 1] == '-')
		return scan_fail(sc, ADDR_ERR_SYNTAX);
	if (ascii && sc->pos - start > ADDR_LABEL_MAX)
		return scan_fail(sc, ADDR_ERR_LABEL_LONG);
	return 0;
}

/* Domain = sub-domain *("." sub-domain) (RFC 5321 §4.1.2). */
static int
scan_domain_name(struct scan *sc)
{
	for (;;) {
		if (scan_label(sc) == -1)
			return -1;
		if (scan_peek(sc) != '.')
			return 0;
		sc->pos++;
	}
}

/* dcontent = %d33-90 / %d94-126 (RFC 5321 §4.1.3). */
static bool
is_dcontent(int c)
{
	return c >= 33 && c <= 126 && c != '[' && c != '\\' && c != ']';
}

/*
 * address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 * General-address-literal ) "]" (RFC 5321 §4.1.3).  The content is
 * handed to inet_pton(3); general literals are refused (addr.h).
 */
static int
scan_literal(struct scan *sc, enum addr_domain_type *type_r)
{
	char		 text[ADDR_LITERAL_MAX + 1];
	unsigned char	 bin[sizeof(struct in6_addr)];
	size_t		 start = ++sc->pos, n;
	int		 c;

	while ((c = scan_peek(sc)) != -1 && is_dcontent(c))
		sc->pos++;
	if (c != ']' || sc->pos == start)
		return scan_fail(sc, ADDR_ERR_SYNTAX);
	n = sc->pos++ - start;
	if (n > ADDR_LITERAL_MAX)
		return scan_fail(sc, ADDR_ERR_LITERAL);
	memcpy(text, sc->s + start, n);
	text[n] = '\0';
	if (n > 5 && ascii_caseeq(text, "IPv6:", 5)) {
		*type_r = ADDR_DOMAIN_IPV6;
		if (inet_pton(AF_INET6, text + 5, bin) != 1)
			return scan_fail(sc, ADDR_ERR_LITERAL);
		return 0;
	}
	*type_r = ADDR_DOMAIN_IPV4;
	if (inet_pton(AF_INET, text, bin) != 1)
		return scan_fail(sc, ADDR_ERR_LITERAL);
	return 0;
}

/* Domain / address-literal, at most ADDR_DOMAIN_MAX octets. */
static int
scan_domain(struct scan *sc, enum addr_domain_type *type_r)
{
	size_t	 start = sc->pos;
	int	 r;

	if (scan_peek(sc) == '[')
		r = scan_literal(sc, type_r);
	else {
		*type_r = ADDR_DOMAIN_NAME;
		r = scan_domain_name(sc);
	}
	if (r == -1)
		return -1;
	if (sc->pos - start > ADDR_DOMAIN_MAX)
		return scan_fail(sc, ADDR_ERR_DOMAIN_LONG);
	return 0;
}

/*
 * A-d-l = At-domain *( "," At-domain ) ":"; At-domain = "@" Domain
 * (RFC 5321 §4.1.2).  Checked, then thrown away (§4.1.1.3, App. C).
 */
static int
scan_route(struct scan *sc)
{
	enum addr_domain_type	 type;

	for (;;) {
		sc->pos++;	/* '@' */
		if (scan_domain(sc, &type) == -1)
			return -1;
		if (scan_peek(sc) == ':') {
			sc->pos++;
			return 0;
		}
		if (scan_peek(sc) != ',')
			return scan_fail(sc, ADDR_ERR_SYNTAX);
		sc->pos++;
		if (scan_peek(sc) != '@')
			return scan_fail(sc, ADDR_ERR_SYNTAX);
	}
}

/* "<Postmaster>", case-insensitively (RFC 5321 §4.1.1.3, §4.5.1). */
static bool
is_postmaster(const struct scan *sc, const struct addr *a)
{
	return (sc->flags & ADDR_F_POSTMASTER_OK) && !a->quoted &&
	    strlen(a->local) == 10 && ascii_caseeq(a->local, "postmaster", 10);
}

/* Mailbox = Local-part "@" ( Domain / address-literal ). */
static int
scan_mailbox(struct scan *sc, struct addr *a)
{
	size_t	 start;

	if (scan_local(sc, a) == -1)
		return -1;
	if (scan_peek(sc) == '>' && is_postmaster(sc, a)) {
		a->domain_type = ADDR_DOMAIN_NONE;
		return 0;
	}
	if (scan_peek(sc) != '@')
		return scan_fail(sc, ADDR_ERR_SYNTAX);
	start = ++sc->pos;
	if (scan_domain(sc, &a->domain_type) == -1)
		return -1;
	memcpy(a->domain, sc->s + start, sc->pos - start);
	a->domain[sc->pos - start] = '\0';
	return 0;
}

static int
scan_path(struct scan *sc, struct addr *a)
{
	if (scan_peek(sc) != '<')
		return scan_fail(sc, ADDR_ERR_SYNTAX);
	sc->pos++;
	if (scan_peek(sc) == '>') {
		if ((sc->flags & ADDR_F_NULL_OK) == 0)
			return scan_fail(sc, ADDR_ERR_NULL);
		sc->pos++;
		a->null = true;
		return 0;
	}
	if (scan_peek(sc) == '@') {
		if (scan_route(sc) == -1)
			return -1;
		/* "<Postmaster>" is its own form, without a route. */
		sc->flags &= ~ADDR_F_POSTMASTER_OK;
	}
	if (scan_mailbox(sc, a) == -1)
		return -1;
	if (scan_peek(sc) != '>')
		return scan_fail(sc, ADDR_ERR_SYNTAX);
	sc->pos++;
	if (sc->pos > ADDR_PATH_MAX)
		return scan_fail(sc, ADDR_ERR_PATH_LONG);
	return 0;
}

static bool
has_non_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

int
addr_parse_path(const char *s, size_t len, int flags, struct addr *a_r,
    size_t *end_r, enum addr_err *err_r)
{
	struct scan	 sc = { (const unsigned char *)s, len, 0, flags,
			    ADDR_OK };

	memset(a_r, 0, sizeof(*a_r));
	if (scan_path(&sc, a_r) == 0 && end_r == NULL && sc.pos != len)
		scan_fail(&sc, ADDR_ERR_SYNTAX);
	if (sc.err != ADDR_OK) {
		memset(a_r, 0, sizeof(*a_r));
		*err_r = sc.err;
		return -1;
	}
	/* Only what is kept counts: a route's U-labels are gone. */
	a_r->utf8 = has_non_ascii(a_r->local) || has_non_ascii(a_r->domain);
	if (end_r != NULL)
		*end_r = sc.pos;
	*err_r = ADDR_OK;
	return 0;
}

int
addr_parse_domain(const char *s, size_t len, int flags,
    enum addr_domain_type *type_r, enum addr_err *err_r)
{
	struct scan	 sc = { (const unsigned char *)s, len, 0,
			    flags & ADDR_F_UTF8, ADDR_OK };

	if (scan_domain(&sc, type_r) == 0 && sc.pos != len)
		scan_fail(&sc, ADDR_ERR_SYNTAX);
	*err_r = sc.err;
	return sc.err == ADDR_OK ? 0 : -1;
}

const char *
addr_strerror(enum addr_err err)
{
	switch (err) {
	case ADDR_OK:
		return "no error";
	case ADDR_ERR_SYNTAX:
		return "bad address syntax";
	case ADDR_ERR_NULL:
		return "null path not allowed";
	case ADDR_ERR_LOCAL_LONG:
		return "local part too long";
	case ADDR_ERR_DOMAIN_LONG:
		return "domain too long";
	case ADDR_ERR_LABEL_LONG:
		return "domain label too long";
	case ADDR_ERR_PATH_LONG:
		return "path too long";
	case ADDR_ERR_LITERAL:
		return "bad address literal";
	case ADDR_ERR_UTF8:
		return "non-ASCII address without SMTPUTF8";
	case ADDR_ERR_BAD_UTF8:
		return "invalid UTF-8 in address";
	}
	return "unknown error";
}

static int
format_result(int n, char *out, size_t size)
{
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

int
addr_mailbox(const struct addr *a, char *out, size_t size)
{
	int	 n;

	if (a->null)
		n = snprintf(out, size, "%s", "");
	else if (a->domain_type == ADDR_DOMAIN_NONE)
		n = snprintf(out, size, "%s", a->local);
	else
		n = snprintf(out, size, "%s@%s", a->local, a->domain);
	return format_result(n, out, size);
}

int
addr_format(const struct addr *a, char *out, size_t size)
{
	int	 n;

	if (a->null)
		n = snprintf(out, size, "<>");
	else if (a->domain_type == ADDR_DOMAIN_NONE)
		n = snprintf(out, size, "<%s>", a->local);
	else
		n = snprintf(out, size, "<%s@%s>", a->local, a->domain);
	return format_result(n, out, size);
}

int
addr_local_unquoted(const struct addr *a, char *out, size_t size)
{
	const char	*p = a->local;
	size_t		 n = 0, len = strlen(p);

	if (!a->quoted)
		return strlcpy(out, p, size) < size ? 0 :
		    format_result(-1, out, size);
	if (len < 2)	/* not from addr_parse_path() */
		return format_result(-1, out, size);
	/* Drop the DQUOTEs; "\" x stands for x (RFC 5321 §4.1.2). */
	for (p++, len -= 2; len > 0; p++, len--) {
		if (*p == '\\' && len > 1) {
			p++;
			len--;
		}
		if (n + 1 >= size)
			return format_result(-1, out, size);
		out[n++] = *p;
	}
	if (size == 0)
		return -1;
	out[n] = '\0';
	return 0;
}

/* Can in be sent unquoted, as a Dot-string? */
static bool
is_dot_string(const char *in, size_t len, int flags)
{
	struct scan	 sc = { (const unsigned char *)in, len, 0, flags,
			    ADDR_OK };

	return scan_dot_string(&sc) == 0 && sc.pos == len;
}

/* Octets a Quoted-string can carry: %d32-126 and, with UTF-8, more. */
static bool
is_quotable(const char *in, size_t len, int flags)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] < 32 || in[i] == 127)
			return false;
	if (!addr_utf8_valid(in, len))
		return false;
	if ((flags & ADDR_F_UTF8) == 0)
		for (i = 0; i < len; i++)
			if ((unsigned char)in[i] >= 0x80)
				return false;
	return true;
}

int
addr_quote_local(const char *in, size_t len, int flags, char *out,
    size_t size)
{
	char	 q[2 * ADDR_LOCAL_MAX + 3];
	size_t	 i, n = 0;

	if (len <= ADDR_LOCAL_MAX && is_dot_string(in, len, flags)) {
		memcpy(q, in, len);
		n = len;
	} else if (len <= ADDR_LOCAL_MAX && is_quotable(in, len, flags)) {
		q[n++] = '"';
		for (i = 0; i < len; i++) {
			if (in[i] == '"' || in[i] == '\\')
				q[n++] = '\\';
			q[n++] = in[i];
		}
		q[n++] = '"';
	} else
		return format_result(-1, out, size);
	if (n > ADDR_LOCAL_MAX || n >= size)
		return format_result(-1, out, size);
	memcpy(out, q, n);
	out[n] = '\0';
	return 0;
}

void
addr_domain_lower(struct addr *a)
{
	char	*p;

	for (p = a->domain; *p != '\0'; p++)
		*p = (char)ascii_lower((unsigned char)*p);
}

bool
addr_equal(const struct addr *a, const struct addr *b)
{
	size_t	 n = strlen(a->domain);

	return a->null == b->null && a->quoted == b->quoted &&
	    a->utf8 == b->utf8 && a->domain_type == b->domain_type &&
	    strcmp(a->local, b->local) == 0 && n == strlen(b->domain) &&
	    ascii_caseeq(a->domain, b->domain, n);
}

bool
addr_is_utf8(const struct addr *a)
{
	return a->utf8;
}

bool
addr_split_tag(const char *local, const char *seps, size_t *base_len_r,
    const char **tag_r)
{
	size_t	 i;

	for (i = 1; local[0] != '\0' && local[i] != '\0'; i++) {
		if ((unsigned char)local[i] >= 0x80 ||
		    strchr(seps, local[i]) == NULL)
			continue;
		*base_len_r = i;
		*tag_r = local + i + 1;
		return true;
	}
	*base_len_r = strlen(local);
	*tag_r = NULL;
	return false;
}

/* xchar: "!" (33) .. "~" (126) except "+" and "=" (RFC 3461 §4). */
static bool
is_xchar(int c)
{
	return c >= 33 && c <= 126 && c != '+' && c != '=';
}

static int
hex_upper(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decoded length of valid xtext, or -1. */
static ssize_t
xtext_scan(const char *s, size_t len)
{
	size_t	 i, n = 0;

	for (i = 0; i < len; i++, n++) {
		if (is_xchar((unsigned char)s[i]))
			continue;
		/* hexchar: "+" and two upper-case hex digits */
		if (s[i] != '+' || len - i < 3 ||
		    hex_upper((unsigned char)s[i + 1]) == -1 ||
		    hex_upper((unsigned char)s[i + 2]) == -1)
			return -1;
		i += 2;
	}
	return (ssize_t)n;
}

bool
addr_xtext_valid(const char *s, size_t len)
{
	return xtext_scan(s, len) != -1;
}

int
addr_xtext_decode(struct buf *out, const char *s, size_t len)
{
	ssize_t		 n = xtext_scan(s, len);
	uint8_t		*p;
	size_t		 i;

	if (n == -1 || (p = buf_reserve(out, (size_t)n)) == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] == '+') {
			*p++ = (uint8_t)(hex_upper((unsigned char)s[i + 1]) *
			    16 + hex_upper((unsigned char)s[i + 2]));
			i += 2;
		} else
			*p++ = (uint8_t)s[i];
	}
	buf_commit(out, (size_t)n);
	return 0;
}

int
addr_xtext_encode(struct buf *out, const void *in, size_t len)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const uint8_t		*s = in;
	uint8_t			*p;
	size_t			 i, n = 0;

	for (i = 0; i < len; i++)
		n += is_xchar(s[i]) ? 1 : 3;
	if ((p = buf_reserve(out, n)) == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if (is_xchar(s[i])) {
			*p++ = s[i];
			continue;
		}
		*p++ = '+';
		*p++ = (uint8_t)hex[s[i] >> 4];
		*p++ = (uint8_t)hex[s[i] & 0x0f];
	}
	buf_commit(out, n);
	return 0;
}
