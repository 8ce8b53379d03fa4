/*
 * imap_parse — the incremental IMAP command reader (imap_parse.h).
 *
 * One octet at a time through a state machine, except literal contents,
 * which are taken in bulk.  Texts (tag, name, atoms, strings, literals)
 * are appended, each with a NUL, to one bounded buffer; arguments are
 * recorded flat, in the order they end, with their parent list and their
 * index among its children.  When the line ends the tree is laid out in
 * one array: the top level first, then each list's children in one run,
 * so a list's members are contiguous (struct imap_arg.list).
 *
 * A handler returns true when it used the octet, false when it changed
 * state and wants the same octet again (an atom ended by ")", an error
 * that sends the octet to the line skipper): every false comes with a
 * state change towards one that uses the octet, so the loop ends.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "imap_parse.h"
#include "log.h"
#include "xmalloc.h"

/* Buffers bigger than this are freed at reset, not kept. */
#define KEEP_STR	(64 * 1024)
#define KEEP_NODES	1024

enum pstate {
	PS_TAG,
	PS_NAME,
	PS_ARG,		/* an argument may start */
	PS_AFTER,	/* an argument ended: SP, ")" or the line end */
	PS_CR,		/* CR read: LF due */
	PS_ATOM,
	PS_SECTION,	/* atom inside BODY[...] */
	PS_SECTION_Q,	/* ... inside a quoted string there */
	PS_SECTION_QE,	/* ... after its "\" */
	PS_TILDE,	/* "~": literal8 or an atom */
	PS_QUOTED,
	PS_QUOTED_ESC,
	PS_LIT_SIZE,	/* "{" [digits] */
	PS_LIT_PLUS,	/* "{n+" */
	PS_LIT_CR,	/* "{n}": CRLF due */
	PS_LIT_LF,	/* "{n}" CR: LF due */
	PS_LIT_WAIT,	/* IMAP_PARSE_LITERAL returned */
	PS_LIT_DATA,
	PS_SKIP,	/* after an error: to the end of the line */
	PS_SKIP_LIT,	/* after an error: a literal's contents */
	PS_RAW,		/* imap_parse_line() */
	PS_DONE,	/* IMAP_PARSE_OK returned */
	PS_FAIL,	/* IMAP_PARSE_ERR returned */
};

/* While skipping: does the line end in "{n+}" (contents follow)? */
enum skip_lit {
	SL_NONE,
	SL_OPEN,	/* "{" */
	SL_DIGITS,	/* "{" 1*DIGIT */
	SL_PLUS,	/* "{n+" */
	SL_CLOSE,	/* "{n+}" */
	SL_CR,		/* "{n+}" CR */
};

struct pnode {
	enum imap_arg_type	 type;
	bool			 literal8;
	size_t			 off;		/* text in p->str */
	size_t			 len;
	size_t			 parent;	/* list node + 1; 0: top */
	size_t			 ord;		/* index among its siblings */
	size_t			 nchild;	/* LIST */
	size_t			 base;		/* LIST: children in args[] */
};

struct imap_parser {
	struct imap_parse_limits lim;
	bool			 utf8;
	struct buf		 str;		/* texts, each + NUL */
	struct pnode		*nodes;
	size_t			 nodes_cap;

	/* Reset for each command. */
	enum pstate		 state;
	enum imap_parse_result	 result;	/* DONE, FAIL, LIT_WAIT */
	bool			 tag_done;	/* tag at offset 0 */
	bool			 name_done;
	size_t			 name_off;
	size_t			 tok_off;	/* the text being read */
	size_t			 nnodes;
	size_t			 ntop;
	size_t			 cur;		/* open list + 1; 0: top */
	size_t			 depth;
	size_t			 line_len;	/* octets outside literals */
	uint64_t		 total;		/* all octets */
	uint64_t		 lit_size;
	uint64_t		 lit_left;
	unsigned		 lit_digits;
	bool			 lit_plus;
	bool			 lit8;
	enum skip_lit		 sl;
	uint64_t		 sl_size;
	uint64_t		 skip_left;
	bool			 raw_cr;	/* raw line: CR held back */
	bool			 raw_done;
	enum imap_parse_err	 err;
	const char		*errstr;
	bool			 fatal;
	struct imap_arg		*args;
};

static const char *const section_atoms[] = {
	"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE",
};

/*
 * Octet classes.
 */

/* What an atom may hold as read (Dovecot's set; see imap_parse.h). */
static bool
is_atom_input(unsigned c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '"';
}

/* ATOM-CHAR: any CHAR except atom-specials (RFC 9051 §9). */
static bool
is_atom_char(unsigned c)
{
	return is_atom_input(c) && c != '%' && c != '*' && c != '\\' &&
	    c != ']';
}

/* tag = 1*<any ASTRING-CHAR except "+">; ASTRING-CHAR adds "]". */
static bool
is_tag_char(unsigned c)
{
	return (is_atom_char(c) || c == ']') && c != '+';
}

static bool
is_eol(unsigned c)
{
	return c == '\r' || c == '\n';
}

/*
 * Small parts.
 */

static void
add(struct imap_parser *p, const void *data, size_t n)
{
	/* The buffer's maximum is above what the limits let in. */
	if (buf_add(&p->str, data, n) == -1)
		fatalx("imap_parse: text buffer past its maximum");
}

static void
add_c(struct imap_parser *p, unsigned c)
{
	uint8_t	 b = (uint8_t)c;

	add(p, &b, 1);
}

/* Offset 0 when nothing is stored yet ("" then). */
static const char *
text_at(const struct imap_parser *p, size_t off)
{
	return buf_cstr(&p->str) + off;
}

static void
set_err(struct imap_parser *p, enum imap_parse_err e, const char *why)
{
	p->err = e;
	p->errstr = why;
}

/* A non-fatal error mid-line: drop the rest of the line first. */
static bool
fail(struct imap_parser *p, enum imap_parse_err e, const char *why)
{
	set_err(p, e, why);
	p->sl = SL_NONE;
	p->state = PS_SKIP;
	return false;
}

static void
finish_err(struct imap_parser *p, enum imap_parse_err e, const char *why)
{
	if (e != IMAP_PARSE_E_NONE)
		set_err(p, e, why);
	p->state = PS_FAIL;
	p->result = IMAP_PARSE_ERR;
}

static bool
fail_fatal(struct imap_parser *p, enum imap_parse_err e, const char *why)
{
	finish_err(p, e, why);
	p->fatal = true;
	return false;
}

static bool
stopped(const struct imap_parser *p)
{
	return p->state == PS_DONE || p->state == PS_FAIL ||
	    p->state == PS_LIT_WAIT;
}

static bool
node_room(const struct imap_parser *p)
{
	return p->nnodes < p->lim.args_max;
}

static struct pnode *
node_add(struct imap_parser *p, enum imap_arg_type type)
{
	struct pnode	*n;

	if (p->nnodes == p->nodes_cap) {
		p->nodes_cap = p->nodes_cap == 0 ? 16 : p->nodes_cap * 2;
		p->nodes = xreallocarray(p->nodes, p->nodes_cap,
		    sizeof(*p->nodes));
	}
	n = &p->nodes[p->nnodes++];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->parent = p->cur;
	if (p->cur == 0)
		n->ord = p->ntop++;
	else
		n->ord = p->nodes[p->cur - 1].nchild++;
	return n;
}

static bool
tok_start(struct imap_parser *p, enum pstate st)
{
	p->tok_off = p->str.len;
	p->state = st;
	return true;
}

/* The text from tok_off is an argument of that type. */
static bool
tok_end(struct imap_parser *p, enum imap_arg_type type)
{
	struct pnode	*n;
	size_t		 len = p->str.len - p->tok_off;

	if (!node_room(p))
		return fail(p, IMAP_PARSE_E_TOO_MANY_ARGS,
		    "too many arguments");
	add_c(p, '\0');
	n = node_add(p, type);
	n->off = p->tok_off;
	n->len = len;
	n->literal8 = type == IMAP_ARG_LITERAL && p->lit8;
	return true;
}

/*
 * The tree, when the line has ended.
 */

static void
build_args(struct imap_parser *p)
{
	struct pnode	*n;
	struct imap_arg	*a;
	size_t		 i, next = p->ntop, base;

	if (p->nnodes == 0)
		return;
	p->args = xcalloc(p->nnodes, sizeof(*p->args));
	for (i = 0; i < p->nnodes; i++) {
		n = &p->nodes[i];
		base = n->parent == 0 ? 0 : p->nodes[n->parent - 1].base;
		a = &p->args[base + n->ord];
		a->type = n->type;
		if (n->type == IMAP_ARG_LIST) {
			n->base = next;
			a->nlist = n->nchild;
			a->list = n->nchild > 0 ? p->args + next : NULL;
			next += n->nchild;
			continue;
		}
		a->str = text_at(p, n->off);
		a->len = n->len;
		a->literal8 = n->literal8;
	}
}

/* At the LF that ends the command. */
static bool
line_end(struct imap_parser *p)
{
	if (p->depth > 0) {
		finish_err(p, IMAP_PARSE_E_SYNTAX, "missing ')'");
		return true;
	}
	build_args(p);
	p->state = PS_DONE;
	p->result = IMAP_PARSE_OK;
	return true;
}

/*
 * Tag and command name.
 */

static bool
st_tag(struct imap_parser *p, unsigned c)
{
	if (is_tag_char(c)) {
		add_c(p, c);
		return true;
	}
	if (p->str.len == 0)
		return fail(p, IMAP_PARSE_E_SYNTAX, is_eol(c) ?
		    "empty command line" : "invalid tag");
	if (c != ' ' && !is_eol(c))
		return fail(p, IMAP_PARSE_E_SYNTAX, "invalid tag");
	add_c(p, '\0');
	p->tag_done = true;
	if (c != ' ')
		return fail(p, IMAP_PARSE_E_SYNTAX, "missing command name");
	p->name_off = p->str.len;
	p->state = PS_NAME;
	return true;
}

static bool
st_name(struct imap_parser *p, unsigned c)
{
	bool	 empty = p->str.len == p->name_off;

	if (is_atom_char(c)) {
		add_c(p, c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
		return true;
	}
	if (c != ' ' && !is_eol(c))
		return fail(p, IMAP_PARSE_E_SYNTAX, "invalid command name");
	if (empty)
		return fail(p, IMAP_PARSE_E_SYNTAX, "missing command name");
	add_c(p, '\0');
	p->name_done = true;
	if (c == ' ') {
		p->state = PS_ARG;
		return true;
	}
	p->state = PS_AFTER;
	return false;
}

/*
 * Lists.
 */

static bool
list_open(struct imap_parser *p)
{
	if (p->depth >= p->lim.depth_max)
		return fail(p, IMAP_PARSE_E_TOO_DEEP,
		    "lists nested too deeply");
	if (!node_room(p))
		return fail(p, IMAP_PARSE_E_TOO_MANY_ARGS,
		    "too many arguments");
	node_add(p, IMAP_ARG_LIST);
	p->cur = p->nnodes;
	p->depth++;
	p->state = PS_ARG;
	return true;
}

static bool
list_close(struct imap_parser *p)
{
	if (p->cur == 0)
		return fail(p, IMAP_PARSE_E_SYNTAX, "unexpected ')'");
	p->cur = p->nodes[p->cur - 1].parent;
	p->depth--;
	p->state = PS_AFTER;
	return true;
}

/*
 * Between arguments.
 */

static bool
lit_begin(struct imap_parser *p, bool lit8)
{
	p->lit8 = lit8;
	p->lit_size = 0;
	p->lit_digits = 0;
	p->lit_plus = false;
	p->state = PS_LIT_SIZE;
	return true;
}

static bool
bad_atom_octet(struct imap_parser *p, unsigned c)
{
	return fail(p, IMAP_PARSE_E_SYNTAX, c >= 0x80 ?
	    "8-bit octet in atom" : "invalid character in atom");
}

static bool
st_arg(struct imap_parser *p, unsigned c)
{
	switch (c) {
	case ' ':
		return true;
	case '\r':
	case '\n':
		p->state = PS_AFTER;
		return false;
	case '"':
		return tok_start(p, PS_QUOTED);
	case '{':
		return lit_begin(p, false);
	case '~':
		return tok_start(p, PS_TILDE);
	case '(':
		return list_open(p);
	case ')':
		return list_close(p);
	}
	if (!is_atom_input(c))
		return bad_atom_octet(p, c);
	tok_start(p, PS_ATOM);
	add_c(p, c);
	return true;
}

static bool
st_after(struct imap_parser *p, unsigned c)
{
	switch (c) {
	case ' ':
		p->state = PS_ARG;
		return true;
	case ')':
		return list_close(p);
	case '\r':
		p->state = PS_CR;
		return true;
	case '\n':
		return line_end(p);
	}
	return fail(p, IMAP_PARSE_E_SYNTAX, "missing space after argument");
}

static bool
st_cr(struct imap_parser *p, unsigned c)
{
	if (c == '\n')
		return line_end(p);
	return fail(p, IMAP_PARSE_E_SYNTAX, "CR without LF");
}

/*
 * Atoms, with FETCH's section specs.
 */

static bool
section_prefix(const struct imap_parser *p)
{
	const char	*s = text_at(p, p->tok_off);
	size_t		 i;

	for (i = 0; i < sizeof(section_atoms) / sizeof(section_atoms[0]);
	    i++)
		if (strcasecmp(s, section_atoms[i]) == 0)
			return true;
	return false;
}

static enum imap_arg_type
atom_type(const struct imap_parser *p)
{
	if (p->str.len - p->tok_off == 3 &&
	    strcasecmp(text_at(p, p->tok_off), "NIL") == 0)
		return IMAP_ARG_NIL;
	return IMAP_ARG_ATOM;
}

static bool
st_atom(struct imap_parser *p, unsigned c)
{
	if (c == '[' && section_prefix(p)) {
		add_c(p, c);
		p->state = PS_SECTION;
		return true;
	}
	if (is_atom_input(c)) {
		add_c(p, c);
		return true;
	}
	if (c != ' ' && c != ')' && !is_eol(c))
		return bad_atom_octet(p, c);
	if (!tok_end(p, atom_type(p)))
		return false;
	if (c == ' ') {
		p->state = PS_ARG;
		return true;
	}
	p->state = PS_AFTER;
	return false;
}

static bool
st_section(struct imap_parser *p, unsigned c)
{
	switch (c) {
	case ']':
		p->state = PS_ATOM;
		break;
	case '"':
		p->state = PS_SECTION_Q;
		break;
	case '{':
		return fail(p, IMAP_PARSE_E_SYNTAX, "literal in section");
	case '\r':
	case '\n':
		return fail(p, IMAP_PARSE_E_SYNTAX, "missing ']'");
	default:
		if (c < 0x20 || c >= 0x7f)
			return fail(p, IMAP_PARSE_E_SYNTAX,
			    "invalid character in section");
	}
	add_c(p, c);
	return true;
}

/* Header field names: CHAR except CR and LF, escapes kept as sent. */
static bool
st_section_q(struct imap_parser *p, unsigned c)
{
	if (c == '"')
		p->state = PS_SECTION;
	else if (c == '\\')
		p->state = PS_SECTION_QE;
	else if (c == '\0' || c >= 0x80 || is_eol(c))
		return fail(p, IMAP_PARSE_E_SYNTAX,
		    "invalid character in quoted string");
	add_c(p, c);
	return true;
}

static bool
st_section_qe(struct imap_parser *p, unsigned c)
{
	if (c != '"' && c != '\\')
		return fail(p, IMAP_PARSE_E_SYNTAX,
		    "invalid escape in quoted string");
	add_c(p, c);
	p->state = PS_SECTION_Q;
	return true;
}

/* "~{" starts a literal8; "~" anything else starts an atom. */
static bool
st_tilde(struct imap_parser *p, unsigned c)
{
	if (c == '{')
		return lit_begin(p, true);
	add_c(p, '~');
	p->state = PS_ATOM;
	return false;
}

/*
 * Quoted strings.
 */

static bool
quoted_end(struct imap_parser *p)
{
	if (p->utf8 && !addr_utf8_valid(text_at(p, p->tok_off),
	    p->str.len - p->tok_off))
		return fail(p, IMAP_PARSE_E_SYNTAX,
		    "invalid UTF-8 in quoted string");
	if (!tok_end(p, IMAP_ARG_STRING))
		return false;
	p->state = PS_AFTER;
	return true;
}

static bool
st_quoted(struct imap_parser *p, unsigned c)
{
	switch (c) {
	case '"':
		return quoted_end(p);
	case '\\':
		p->state = PS_QUOTED_ESC;
		return true;
	case '\r':
	case '\n':
		return fail(p, IMAP_PARSE_E_SYNTAX, "missing '\"'");
	case '\0':
		return fail(p, IMAP_PARSE_E_SYNTAX, "NUL in quoted string");
	}
	if (c >= 0x80 && !p->utf8)
		return fail(p, IMAP_PARSE_E_SYNTAX,
		    "8-bit octet in quoted string");
	add_c(p, c);
	return true;
}

/* RFC 9051 §9: "\" quoted-specials only. */
static bool
st_quoted_esc(struct imap_parser *p, unsigned c)
{
	if (c != '"' && c != '\\')
		return fail(p, IMAP_PARSE_E_SYNTAX,
		    "invalid escape in quoted string");
	add_c(p, c);
	p->state = PS_QUOTED;
	return true;
}

/*
 * Literals.
 */

/* APPEND-like commands take append_max (see imap_parse.h). */
static size_t
lit_max(const struct imap_parser *p)
{
	const char		*name = text_at(p, p->name_off);
	const struct pnode	*n;

	if (strcmp(name, "APPEND") == 0 || strcmp(name, "REPLACE") == 0)
		return p->lim.append_max;
	if (strcmp(name, "UID") != 0 || p->nnodes == 0)
		return p->lim.literal_max;
	n = &p->nodes[0];
	if (n->type == IMAP_ARG_ATOM && n->parent == 0 &&
	    strcasecmp(text_at(p, n->off), "REPLACE") == 0)
		return p->lim.append_max;
	return p->lim.literal_max;
}

static void
lit_end(struct imap_parser *p)
{
	/* node_room() was checked when the literal was announced. */
	if (!tok_end(p, IMAP_ARG_LITERAL))
		fatalx("imap_parse: no room for an announced literal");
	p->state = PS_AFTER;
}

static void
lit_start(struct imap_parser *p)
{
	p->tok_off = p->str.len;
	p->lit_left = p->lit_size;
	if (!p->lit_plus) {
		p->state = PS_LIT_WAIT;
		p->result = IMAP_PARSE_LITERAL;
		return;
	}
	p->state = PS_LIT_DATA;
	if (p->lit_left == 0)
		lit_end(p);
}

/* At the LF after "{n}": judge it before any of it is read. */
static bool
lit_announced(struct imap_parser *p)
{
	enum imap_parse_err	 e = IMAP_PARSE_E_NONE;
	const char		*why = NULL;

	if (p->lit_size > lit_max(p)) {
		e = IMAP_PARSE_E_LITERAL_TOO_BIG;
		why = "literal too big";
	} else if (p->lit_size >= p->lim.command_max - p->total) {
		/* At least the LF that ends the command must still fit. */
		e = IMAP_PARSE_E_COMMAND_TOO_BIG;
		why = "command too big";
	} else if (!node_room(p)) {
		e = IMAP_PARSE_E_TOO_MANY_ARGS;
		why = "too many arguments";
	}
	if (e == IMAP_PARSE_E_NONE)
		lit_start(p);
	else if (!p->lit_plus)
		finish_err(p, e, why);	/* the client waits for "+" */
	else if (p->lit_size > p->lim.command_max)
		fail_fatal(p, e, why);
	else {
		set_err(p, e, why);
		p->skip_left = p->lit_size;
		p->state = PS_SKIP_LIT;
	}
	return true;
}

static bool
st_lit_size(struct imap_parser *p, unsigned c)
{
	if (c >= '0' && c <= '9') {
		/* Saturate: any huge size is refused as too big. */
		if (p->lit_size > (UINT64_MAX - 9) / 10)
			p->lit_size = UINT64_MAX;
		else
			p->lit_size = p->lit_size * 10 + (c - '0');
		p->lit_digits++;
		return true;
	}
	if (p->lit_digits == 0 || (c != '+' && c != '}'))
		return fail(p, IMAP_PARSE_E_SYNTAX, "invalid literal size");
	p->lit_plus = c == '+';
	p->state = c == '+' ? PS_LIT_PLUS : PS_LIT_CR;
	return true;
}

static bool
st_lit_plus(struct imap_parser *p, unsigned c)
{
	if (c != '}')
		return fail(p, IMAP_PARSE_E_SYNTAX, "invalid literal size");
	p->state = PS_LIT_CR;
	return true;
}

static bool
st_lit_cr(struct imap_parser *p, unsigned c)
{
	if (c == '\n')
		return lit_announced(p);
	if (c == '\r' && p->state == PS_LIT_CR) {
		p->state = PS_LIT_LF;
		return true;
	}
	return fail(p, IMAP_PARSE_E_SYNTAX, "missing CRLF after literal size");
}

static size_t
lit_data(struct imap_parser *p, const uint8_t *d, size_t n)
{
	size_t	 m = n < p->lit_left ? n : (size_t)p->lit_left;

	if (!p->lit8 && memchr(d, '\0', m) != NULL) {
		set_err(p, IMAP_PARSE_E_SYNTAX, "NUL in literal");
		p->skip_left = p->lit_left;
		p->state = PS_SKIP_LIT;
		return 0;
	}
	add(p, d, m);
	p->lit_left -= m;
	p->total += m;
	if (p->lit_left == 0)
		lit_end(p);
	return m;
}

/*
 * Skipping the rest of a line after an error.
 */

static void
skip_watch(struct imap_parser *p, unsigned c)
{
	bool	 digit = c >= '0' && c <= '9';

	if (c == '{') {
		p->sl = SL_OPEN;
		p->sl_size = 0;
	} else if ((p->sl == SL_OPEN || p->sl == SL_DIGITS) && digit) {
		p->sl = SL_DIGITS;
		if (p->sl_size > (UINT64_MAX - 9) / 10)
			p->sl_size = UINT64_MAX;
		else
			p->sl_size = p->sl_size * 10 + (c - '0');
	} else if (p->sl == SL_DIGITS && c == '+')
		p->sl = SL_PLUS;
	else if (p->sl == SL_PLUS && c == '}')
		p->sl = SL_CLOSE;
	else if (p->sl == SL_CLOSE && c == '\r')
		p->sl = SL_CR;
	else
		p->sl = SL_NONE;
}

static bool
st_skip(struct imap_parser *p, unsigned c)
{
	if (c != '\n') {
		skip_watch(p, c);
		return true;
	}
	if (p->sl != SL_CLOSE && p->sl != SL_CR) {
		finish_err(p, IMAP_PARSE_E_NONE, NULL);
		return true;
	}
	if (p->sl_size > p->lim.command_max) {
		fail_fatal(p, IMAP_PARSE_E_LITERAL_TOO_BIG, "literal too big");
		return true;
	}
	p->sl = SL_NONE;
	p->skip_left = p->sl_size;
	p->state = PS_SKIP_LIT;
	return true;
}

static size_t
skip_lit(struct imap_parser *p, size_t n)
{
	size_t	 m = n < p->skip_left ? n : (size_t)p->skip_left;

	p->skip_left -= m;
	p->total += m;
	if (p->skip_left == 0) {
		p->sl = SL_NONE;
		p->state = PS_SKIP;
	}
	return m;
}

/*
 * The loop.
 */

static bool
dispatch(struct imap_parser *p, unsigned c)
{
	switch (p->state) {
	case PS_TAG:		return st_tag(p, c);
	case PS_NAME:		return st_name(p, c);
	case PS_ARG:		return st_arg(p, c);
	case PS_AFTER:		return st_after(p, c);
	case PS_CR:		return st_cr(p, c);
	case PS_ATOM:		return st_atom(p, c);
	case PS_SECTION:	return st_section(p, c);
	case PS_SECTION_Q:	return st_section_q(p, c);
	case PS_SECTION_QE:	return st_section_qe(p, c);
	case PS_TILDE:		return st_tilde(p, c);
	case PS_QUOTED:		return st_quoted(p, c);
	case PS_QUOTED_ESC:	return st_quoted_esc(p, c);
	case PS_LIT_SIZE:	return st_lit_size(p, c);
	case PS_LIT_PLUS:	return st_lit_plus(p, c);
	case PS_LIT_CR:
	case PS_LIT_LF:		return st_lit_cr(p, c);
	case PS_SKIP:		return st_skip(p, c);
	default:
		break;
	}
	fatalx("imap_parse: octet in state %d", (int)p->state);
}

/* One octet of the line (not literal contents), counted and limited. */
static bool
line_octet(struct imap_parser *p, unsigned c)
{
	if (p->line_len >= p->lim.line_max)
		return fail_fatal(p, IMAP_PARSE_E_LINE_TOO_LONG,
		    "line too long");
	if (p->state != PS_SKIP && p->total >= p->lim.command_max)
		return fail(p, IMAP_PARSE_E_COMMAND_TOO_BIG,
		    "command too big");
	p->line_len++;
	p->total++;
	if (dispatch(p, c))
		return true;
	p->line_len--;
	p->total--;
	return false;
}

static size_t
step(struct imap_parser *p, const uint8_t *d, size_t n)
{
	if (p->state == PS_LIT_DATA)
		return lit_data(p, d, n);
	if (p->state == PS_SKIP_LIT)
		return skip_lit(p, n);
	return line_octet(p, d[0]) ? 1 : 0;
}

enum imap_parse_result
imap_parse_feed(struct imap_parser *p, const uint8_t *data, size_t len,
    size_t *consumed_r)
{
	size_t	 i = 0;

	if (p->state == PS_RAW || p->raw_done)
		fatalx("imap_parse_feed: a raw line is being read");
	while (i < len && !stopped(p))
		i += step(p, data + i, len - i);
	*consumed_r = i;
	return stopped(p) ? p->result : IMAP_PARSE_MORE;
}

/*
 * Raw lines.
 */

static enum imap_parse_result
raw_done(struct imap_parser *p, const char **line_r, size_t *len_r)
{
	*line_r = text_at(p, 0);
	*len_r = p->str.len;
	return IMAP_PARSE_OK;
}

enum imap_parse_result
imap_parse_line(struct imap_parser *p, const uint8_t *data, size_t len,
    size_t *consumed_r, const char **line_r, size_t *len_r)
{
	const uint8_t	*lf;
	size_t		 n, keep;

	*consumed_r = 0;
	*line_r = NULL;
	*len_r = 0;
	if (p->state == PS_DONE && p->raw_done)
		return raw_done(p, line_r, len_r);
	if (p->state == PS_FAIL)
		return IMAP_PARSE_ERR;
	if (p->state == PS_TAG && p->total == 0)
		p->state = PS_RAW;
	if (p->state != PS_RAW)
		fatalx("imap_parse_line: a command is being read");
	lf = len == 0 ? NULL : memchr(data, '\n', len);
	n = lf == NULL ? len : (size_t)(lf - data) + 1;
	if (n > p->lim.line_max - p->line_len) {
		fail_fatal(p, IMAP_PARSE_E_LINE_TOO_LONG, "line too long");
		return IMAP_PARSE_ERR;
	}
	p->line_len += n;
	p->total += n;
	*consumed_r = n;
	keep = lf == NULL ? n : n - 1;		/* without the LF */
	if (keep > 0 && p->raw_cr)
		add_c(p, '\r');			/* it was not before LF */
	if (keep > 0)
		p->raw_cr = data[keep - 1] == '\r';
	add(p, data, keep > 0 && p->raw_cr ? keep - 1 : keep);
	if (lf == NULL)
		return IMAP_PARSE_MORE;
	p->state = PS_DONE;
	p->result = IMAP_PARSE_OK;
	p->raw_done = true;
	return raw_done(p, line_r, len_r);
}

/*
 * The API around it.
 */

static size_t
or_default(size_t v, size_t def)
{
	return v == 0 ? def : v;
}

struct imap_parser *
imap_parser_new(const struct imap_parse_limits *lim)
{
	struct imap_parser	*p = xcalloc(1, sizeof(*p));
	struct imap_parse_limits zero = { 0 };

	if (lim == NULL)
		lim = &zero;
	p->lim.line_max = or_default(lim->line_max, IMAP_PARSE_LINE_MAX);
	p->lim.literal_max = or_default(lim->literal_max,
	    IMAP_PARSE_LITERAL_MAX);
	p->lim.append_max = or_default(lim->append_max,
	    IMAP_PARSE_APPEND_MAX);
	p->lim.args_max = or_default(lim->args_max, IMAP_PARSE_ARGS_MAX);
	p->lim.depth_max = or_default(lim->depth_max, IMAP_PARSE_DEPTH_MAX);
	p->lim.command_max = or_default(lim->command_max,
	    IMAP_PARSE_COMMAND_MAX);
	/* Texts are copies of octets read, each with a NUL. */
	buf_init(&p->str, p->lim.command_max + p->lim.line_max +
	    p->lim.args_max + 2);
	imap_parser_reset(p);
	return p;
}

void
imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser	*p = *pp;

	if (p == NULL)
		return;
	free(p->args);
	free(p->nodes);
	buf_clear(&p->str);
	free(p);
	*pp = NULL;
}

void
imap_parser_reset(struct imap_parser *p)
{
	free(p->args);
	p->args = NULL;
	if (p->str.cap > KEEP_STR)
		buf_clear(&p->str);
	else
		buf_reset(&p->str);
	if (p->nodes_cap > KEEP_NODES) {
		free(p->nodes);
		p->nodes = NULL;
		p->nodes_cap = 0;
	}
	p->state = PS_TAG;
	p->result = IMAP_PARSE_MORE;
	p->tag_done = p->name_done = false;
	p->name_off = p->tok_off = 0;
	p->nnodes = p->ntop = p->cur = p->depth = 0;
	p->line_len = 0;
	p->total = p->lit_size = p->lit_left = 0;
	p->lit_digits = 0;
	p->lit_plus = p->lit8 = false;
	p->sl = SL_NONE;
	p->sl_size = p->skip_left = 0;
	p->raw_cr = p->raw_done = false;
	p->err = IMAP_PARSE_E_NONE;
	p->errstr = NULL;
	p->fatal = false;
}

void
imap_parser_set_literal_max(struct imap_parser *p, size_t n)
{
	p->lim.literal_max = or_default(n, IMAP_PARSE_LITERAL_MAX);
}

void
imap_parser_set_append_max(struct imap_parser *p, size_t n)
{
	p->lim.append_max = or_default(n, IMAP_PARSE_APPEND_MAX);
}

void
imap_parser_set_utf8(struct imap_parser *p, bool on)
{
	p->utf8 = on;
}

uint64_t
imap_parse_literal_size(const struct imap_parser *p)
{
	return p->lit_size;
}

void
imap_parse_literal_accept(struct imap_parser *p)
{
	if (p->state != PS_LIT_WAIT)
		fatalx("imap_parse_literal_accept: no literal announced");
	p->state = PS_LIT_DATA;
	if (p->lit_left == 0)
		lit_end(p);
}

int
imap_parse_command(struct imap_parser *p, const char **tag_r,
    const char **name_r, const struct imap_arg **args_r, size_t *nargs_r)
{
	if (p->state != PS_DONE || p->raw_done)
		return -1;
	*tag_r = text_at(p, 0);
	*name_r = text_at(p, p->name_off);
	*args_r = p->args;
	*nargs_r = p->ntop;
	return 0;
}

enum imap_parse_err
imap_parse_error(const struct imap_parser *p, const char **text_r,
    bool *fatal_r)
{
	if (text_r != NULL)
		*text_r = p->errstr != NULL ? p->errstr : "no error";
	if (fatal_r != NULL)
		*fatal_r = p->fatal;
	return p->err;
}

const char *
imap_parse_tag(const struct imap_parser *p)
{
	return p->tag_done ? text_at(p, 0) : NULL;
}

const char *
imap_parse_name(const struct imap_parser *p)
{
	return p->name_done ? text_at(p, p->name_off) : NULL;
}
