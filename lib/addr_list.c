/*
 * addr_list — RFC 5322 address lists (addr_list.h).
 *
 * The value is unfolded and checked octet by octet into a copy first, so
 * the scanner meets no line end and no control, only SP and HTAB as
 * white space, and 8-bit octets only when they are allowed and valid
 * UTF-8.  Then a recursive-descent scanner with a cursor; CFWS is
 * skipped before each token.  A mailbox and a group both start with
 * words, so parse_address() scans the words once, looks at what follows
 * ("<", ":" or neither) and rewinds for an addr-spec.  No rule recurses
 * on input (comments count their depth), and the first error wins.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "addr_list.h"
#include "xmalloc.h"

struct alp {
	const char		*s;	/* the unfolded value */
	size_t			 len;
	size_t			 pos;
	int			 flags;
	const char		*why;
	struct addr_list	*out;
};

/* A local part or domain being put together. */
struct part {
	char			 v[ADDR_LIST_PART_MAX + 1];
	size_t			 n;
	bool			 over;
};

static int
fail(struct alp *p, const char *why)
{
	if (p->why == NULL)
		p->why = why;
	return -1;
}

static int
peek(const struct alp *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static bool
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * atext (RFC 5322 §3.2.3) and UTF8-non-ascii (RFC 6532 §3.2): octets
 * >= 0x80 are left after unfold() only when they are allowed and valid.
 */
static bool
is_atext(int c)
{
	if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c > 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool
is_word_start(int c)
{
	return c == '"' || (c != -1 && is_atext(c));
}

static void
part_init(struct part *pt)
{
	pt->n = 0;
	pt->over = false;
}

/* pt may be NULL: the text is scanned and thrown away. */
static void
part_add(struct part *pt, int c)
{
	if (pt == NULL)
		return;
	if (pt->n < ADDR_LIST_PART_MAX)
		pt->v[pt->n++] = (char)c;
	else
		pt->over = true;
}

/*
 * comment = "(" *([FWS] ccontent) [FWS] ")"; ccontent = ctext /
 * quoted-pair / comment (RFC 5322 §3.2.2).  After unfold() every octet
 * but "(", ")" and "\" is ctext or WSP.
 */
static int
skip_comment(struct alp *p)
{
	int	 depth = 0, c;

	do {
		if ((c = peek(p)) == -1)
			return fail(p, "unclosed comment");
		p->pos++;
		if (c == '(' && ++depth > ADDR_LIST_DEPTH_MAX)
			return fail(p, "comments nested too deep");
		if (c == ')')
			depth--;
		else if (c == '\\') {
			if (peek(p) == -1)
				return fail(p, "unclosed comment");
			p->pos++;
		}
	} while (depth > 0);
	return 0;
}

/* CFWS, or nothing (RFC 5322 §3.2.2). */
static int
skip_cfws(struct alp *p)
{
	int	 c;

	while ((c = peek(p)) != -1) {
		if (is_wsp(c))
			p->pos++;
		else if (c != '(')
			break;
		else if (skip_comment(p) == -1)
			return -1;
	}
	return 0;
}

static void
scan_atom(struct alp *p, struct part *pt)
{
	int	 c;

	while ((c = peek(p)) != -1 && is_atext(c)) {
		part_add(pt, c);
		p->pos++;
	}
}

/*
 * quoted-string = DQUOTE *([FWS] qcontent) [FWS] DQUOTE, giving the
 * content with "\" x standing for x (RFC 5322 §3.2.4).  White space
 * inside is kept: only the line ends of folding are invisible, and
 * unfold() took them.  Every other octet left is qtext.
 */
static int
scan_quoted(struct alp *p, struct part *pt)
{
	int	 c;

	for (p->pos++; (c = peek(p)) != '"'; p->pos++) {
		if (c == '\\') {
			p->pos++;
			c = peek(p);
		}
		if (c == -1)
			return fail(p, "unclosed quoted string");
		part_add(pt, c);
	}
	p->pos++;
	return 0;
}

/* word = atom / quoted-string, at the cursor (CFWS skipped). */
static int
scan_word(struct alp *p, struct part *pt)
{
	if (peek(p) == '"')
		return scan_quoted(p, pt);
	scan_atom(p, pt);
	return 0;
}

/* Why a mailbox cannot go on at c. */
static const char *
junk_why(int c)
{
	if (c == '@')
		return "more than one @";
	return "unexpected text after address";
}

static bool
ends_mailbox(int c)
{
	return c == -1 || c == ',' || c == ';' || c == '>';
}

/*
 * local-part = dot-atom / quoted-string / obs-local-part, i.e.
 * word *("." word) with CFWS around each (RFC 5322 §3.4.1, §4.4).  The
 * value is the words unquoted, joined with ".".
 */
static int
parse_local(struct alp *p, struct part *pt)
{
	bool	 first = true;

	for (;;) {
		if (skip_cfws(p) == -1)
			return -1;
		if (!is_word_start(peek(p)))
			return fail(p, first && peek(p) == '@' ?
			    "missing local part" : "bad local part");
		if (scan_word(p, pt) == -1 || skip_cfws(p) == -1)
			return -1;
		if (peek(p) != '.')
			break;
		p->pos++;
		part_add(pt, '.');
		first = false;
	}
	if (pt->n == 0)
		return fail(p, "empty local part");
	if (pt->over)
		return fail(p, "local part too long");
	return 0;
}

/*
 * domain-literal = "[" *([FWS] dtext) [FWS] "]" (RFC 5322 §3.4.1),
 * kept with its brackets, without its white space.  After unfold()
 * every octet but "[", "\" and "]" is dtext or WSP; obs-dtext's
 * quoted-pairs are refused.
 */
static int
scan_literal(struct alp *p, struct part *pt)
{
	int	 c;

	part_add(pt, '[');
	for (p->pos++; (c = peek(p)) != ']'; p->pos++) {
		if (c == -1)
			return fail(p, "unclosed domain literal");
		if (c == '[' || c == '\\')
			return fail(p, "bad domain literal");
		if (!is_wsp(c))
			part_add(pt, c);
	}
	p->pos++;
	if (pt->n == 1)
		return fail(p, "empty domain literal");
	part_add(pt, ']');
	return 0;
}

/* dot-atom / obs-domain: atom *("." atom), CFWS around each. */
static int
parse_domain_name(struct alp *p, struct part *pt)
{
	int	 c;

	for (;;) {
		if ((c = peek(p)) == -1 || !is_atext(c))
			return fail(p, pt->n == 0 && ends_mailbox(c) ?
			    "missing domain" : "bad domain");
		scan_atom(p, pt);
		if (skip_cfws(p) == -1)
			return -1;
		if (peek(p) != '.')
			return 0;
		p->pos++;
		part_add(pt, '.');
		if (skip_cfws(p) == -1)
			return -1;
	}
}

/* domain = dot-atom / domain-literal / obs-domain; CFWS follows. */
static int
parse_domain(struct alp *p, struct part *pt)
{
	size_t	 i;

	if (skip_cfws(p) == -1)
		return -1;
	if (peek(p) == '[') {
		if (scan_literal(p, pt) == -1 || skip_cfws(p) == -1)
			return -1;
	} else if (parse_domain_name(p, pt) == -1)
		return -1;
	else	/* compared ignoring case (RFC 5321 §2.4): ASCII only */
		for (i = 0; i < pt->n; i++)
			if (pt->v[i] >= 'A' && pt->v[i] <= 'Z')
				pt->v[i] = (char)(pt->v[i] - 'A' + 'a');
	if (pt->over)
		return fail(p, "domain too long");
	return 0;
}

static int
add_entry(struct alp *p, const struct part *local,
    const struct part *domain)
{
	struct addr_list	*l = p->out;
	struct addr_list_entry	*e;

	if (l->n == ADDR_LIST_ENTRIES_MAX)
		return fail(p, "too many addresses");
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	e = &l->v[l->n++];
	e->local = xstrndup(local->v, local->n);
	e->domain = xstrndup(domain->v, domain->n);
	return 0;
}

/* addr-spec = local-part "@" domain; CFWS follows. */
static int
parse_addr_spec(struct alp *p)
{
	struct part	 local, domain;

	part_init(&local);
	part_init(&domain);
	if (parse_local(p, &local) == -1)
		return -1;
	if (peek(p) != '@')
		return fail(p, ends_mailbox(peek(p)) ? "missing @" :
		    "bad local part");
	p->pos++;
	if (parse_domain(p, &domain) == -1)
		return -1;
	return add_entry(p, &local, &domain);
}

/*
 * obs-route = obs-domain-list ":"; obs-domain-list = *(CFWS / ",") "@"
 * domain *("," [CFWS] ["@" domain]) (RFC 5322 §4.4).  Thrown away.
 */
static int
parse_route(struct alp *p)
{
	struct part	 d;

	while (peek(p) == ',') {
		p->pos++;
		if (skip_cfws(p) == -1)
			return -1;
	}
	if (peek(p) != '@')
		return fail(p, "bad route");
	for (;;) {
		if (peek(p) == '@') {
			p->pos++;
			part_init(&d);
			if (parse_domain(p, &d) == -1)
				return -1;
		}
		if (peek(p) == ':') {
			p->pos++;
			return 0;
		}
		if (peek(p) != ',')
			return fail(p, "bad route");
		p->pos++;
		if (skip_cfws(p) == -1)
			return -1;
	}
}

/* angle-addr / obs-angle-addr, at "<" (RFC 5322 §3.4, §4.4). */
static int
parse_angle(struct alp *p)
{
	int	 c;

	p->pos++;
	if (skip_cfws(p) == -1)
		return -1;
	if (peek(p) == '>')
		return fail(p, "empty address");
	if ((peek(p) == '@' || peek(p) == ',') && parse_route(p) == -1)
		return -1;
	if (parse_addr_spec(p) == -1)
		return -1;
	if ((c = peek(p)) == '>') {
		p->pos++;
		return 0;
	}
	if (c == -1)
		return fail(p, "unclosed <");
	return fail(p, c == '@' ? junk_why(c) : "missing >");
}

/*
 * The words and dots that start a mailbox or a group: *(word / "." /
 * CFWS).  *words_r counts the words; *dot_first_r tells that a "." came
 * before the first word, so that they are no phrase (RFC 5322 §3.2.5,
 * obs-phrase in §4.1).
 */
static int
scan_phrase(struct alp *p, size_t *words_r, bool *dot_first_r)
{
	int	 c;

	*words_r = 0;
	*dot_first_r = false;
	for (;;) {
		if (skip_cfws(p) == -1)
			return -1;
		c = peek(p);
		if (c == '.') {
			*dot_first_r = *dot_first_r || *words_r == 0;
			p->pos++;
		} else if (is_word_start(c)) {
			if (scan_word(p, NULL) == -1)
				return -1;
			(*words_r)++;
		} else
			return 0;
	}
}

static int	parse_address(struct alp *, bool);

/* group = display-name ":" [group-list] ";" [CFWS], after the name. */
static int
parse_group(struct alp *p)
{
	int	 c;

	p->pos++;	/* ":" */
	for (;;) {
		if (skip_cfws(p) == -1)
			return -1;
		if ((c = peek(p)) == ';') {
			p->pos++;
			return 0;
		}
		if (c == ',') {
			p->pos++;
			continue;
		}
		if (c == -1)
			return fail(p, "unclosed group");
		if (parse_address(p, true) == -1 || skip_cfws(p) == -1)
			return -1;
		if ((c = peek(p)) == ',')
			p->pos++;
		else if (c == -1)
			return fail(p, "unclosed group");
		else if (c != ';')
			return fail(p, junk_why(c));
	}
}

/* What a ":" after the words means here. */
static int
start_group(struct alp *p, size_t words, bool dot_first, bool in_group)
{
	if (words == 0)
		return fail(p, "missing group name");
	if (dot_first)
		return fail(p, "bad group name");
	if (in_group)
		return fail(p, "nested group");
	if (p->flags & ADDR_LIST_F_NO_GROUPS)
		return fail(p, "group not allowed");
	return parse_group(p);
}

/*
 * address = mailbox / group; mailbox = name-addr / addr-spec.  Groups
 * cannot nest (in_group: a group-list's mailbox).
 */
static int
parse_address(struct alp *p, bool in_group)
{
	size_t	 start = p->pos, words;
	bool	 dot_first;

	if (scan_phrase(p, &words, &dot_first) == -1)
		return -1;
	if (peek(p) == '<') {
		if (dot_first)
			return fail(p, "bad display name");
		return parse_angle(p);
	}
	if (peek(p) == ':')
		return start_group(p, words, dot_first, in_group);
	p->pos = start;
	return parse_addr_spec(p);
}

/* address-list / obs-addr-list: empty elements are skipped. */
static int
parse_list(struct alp *p)
{
	size_t	 addrs = 0;
	int	 c;

	for (;;) {
		if (skip_cfws(p) == -1)
			return -1;
		if ((c = peek(p)) == -1)
			break;
		if (c == ',') {
			p->pos++;
			continue;
		}
		if (parse_address(p, false) == -1 || skip_cfws(p) == -1)
			return -1;
		addrs++;
		if ((c = peek(p)) == -1)
			break;
		if (c != ',')
			return fail(p, junk_why(c));
		p->pos++;
	}
	return addrs == 0 ? fail(p, "no address") : 0;
}

/* Octets that never reach the scanner (see unfold()). */
static const char *
octet_why(unsigned char c, int flags)
{
	if (c == '\0')
		return "NUL octet";
	if ((c < 32 && c != '\t') || c == 127)
		return "control character";
	if (c >= 0x80 && (flags & ADDR_LIST_F_UTF8) == 0)
		return "8-bit octet without UTF-8";
	return NULL;
}

/*
 * Unfold (RFC 5322 §2.2.3: a line end followed by WSP goes) into out,
 * which has room for len octets; refuse other line ends, NUL and the
 * other controls, 8-bit octets without ADDR_LIST_F_UTF8 and invalid
 * UTF-8.  NULL, or why not.
 */
static const char *
unfold(const char *s, size_t len, int flags, char *out, size_t *n_r)
{
	const char	*why;
	size_t		 i, n = 0;
	unsigned char	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '\r') {
			if (i + 1 == len || s[i + 1] != '\n')
				return "bare CR";
			c = (unsigned char)s[++i];
		}
		if (c == '\n') {
			if (i + 1 == len || !is_wsp(s[i + 1]))
				return "line end without folding white space";
			continue;
		}
		if ((why = octet_why(c, flags)) != NULL)
			return why;
		out[n++] = (char)c;
	}
	if ((flags & ADDR_LIST_F_UTF8) && !addr_utf8_valid(out, n))
		return "invalid UTF-8";
	*n_r = n;
	return NULL;
}

int
addr_list_parse(const char *value, size_t len, int flags,
    struct addr_list *out, const char **why_r)
{
	struct alp	 p;
	const char	*why = "field too long";
	char		*s;
	size_t		 n;

	out->v = NULL;
	out->n = 0;
	if (len <= ADDR_LIST_VALUE_MAX) {
		s = xmalloc(len + 1);
		if ((why = unfold(value, len, flags, s, &n)) == NULL) {
			memset(&p, 0, sizeof(p));
			p.s = s;
			p.len = n;
			p.flags = flags;
			p.out = out;
			parse_list(&p);
			why = p.why;
		}
		free(s);
	}
	if (why != NULL)
		addr_list_clear(out);
	if (why_r != NULL)
		*why_r = why;
	return why == NULL ? 0 : -1;
}

void
addr_list_clear(struct addr_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].local);
		free(l->v[i].domain);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
