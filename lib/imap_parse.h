/*
 * imap_parse — IMAP client commands as they arrive (RFC 9051 §9, RFC 3501
 * §9 formal syntax), for imapd.  An incremental reader: the server feeds
 * the octets it read, in pieces of any size, and gets back one command at
 * a time as a tag, an upper-cased command name and a generic tree of
 * arguments (atoms, quoted strings, literals, NIL, lists), the way
 * Dovecot's lib-imap parser hands them to its command functions.  The
 * meaning of the arguments (which command takes what) is the caller's.
 * The parser does no I/O and no logging.
 *
 * What is read:
 *   command   = tag SP name *(SP arg) CRLF
 *   tag       = 1*<any ASTRING-CHAR except "+">          (RFC 9051 §9)
 *   name      = 1*ATOM-CHAR, returned upper-cased
 *   arg       = atom / quoted / literal / literal8 / "NIL" /
 *               "(" [arg *(SP arg)] ")"
 * - Atoms are read the way Dovecot reads them: any CHAR but "(", ")",
 *   "{", DQUOTE, SP and CTL, so that flags ("\Seen"), LIST patterns
 *   ("%", "*"), sequence sets ("1:*,3") and resp-specials ("]") come
 *   through as atoms.  An atom BODY, BODY.PEEK, BINARY, BINARY.PEEK or
 *   BINARY.SIZE (any case) followed by "[" takes everything up to the
 *   matching "]", SP, parentheses and quoted strings included, and then
 *   any further atom characters (the <partial>): FETCH's
 *   "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.2048>" is one atom for the
 *   caller's section parser.  A literal inside the brackets is refused.
 *   "NIL" in any case is IMAP_ARG_NIL, with the text as sent (an astring
 *   may be the atom NIL: imap_arg_astring() takes it).
 * - Quoted strings: "\" escapes only DQUOTE and "\" (RFC 9051 QUOTED-CHAR);
 *   no CR, LF or NUL; octets >= 0x80 only after imap_parser_set_utf8()
 *   (UTF8=ACCEPT, RFC 6855 §3; IMAP4rev2), and then only valid UTF-8.
 * - Literals: {n} (synchronizing: the parser stops with
 *   IMAP_PARSE_LITERAL so the server can answer "+" or refuse), {n+}
 *   (LITERAL+, RFC 7888: no stop) and ~{n} / ~{n+} (literal8, RFC 3516
 *   §4.1: arg->literal8).  Contents are binary; NUL only in literal8.
 * - Leniencies (as Dovecot): runs of SP between arguments, SP after "("
 *   and before ")", and SP before the CRLF are taken; a bare LF ends a
 *   line like CRLF.  A CR not followed by LF is an error.
 *
 * Limits (struct imap_parse_limits; a 0 field takes the default):
 *   line_max     octets of one command outside literal contents, CRLFs
 *                included.  Passing it is fatal (the server sends BYE
 *                and closes): the line might never end, and waiting
 *                for its end to answer BAD is what the limit prevents.
 *   literal_max  octets of one literal.  Checked when the literal is
 *                announced, before any of it is read or stored.
 *   append_max   literal_max for APPEND (RFC 7889 APPENDLIMIT, MULTIAPPEND
 *                RFC 3502, CATENATE RFC 4469) and REPLACE / UID REPLACE
 *                (RFC 8508): the parser must judge a {n+} literal before
 *                the caller sees the command.
 *   args_max     arguments in all, nested ones and lists included.
 *   depth_max    nesting of lists.
 *   command_max  octets of one command, literals included.
 * Memory held stays below about command_max + args_max * 128 octets.
 *
 * Errors.  IMAP_PARSE_ERR ends the command; imap_parse_error() says why
 * and whether it is fatal (the caller answers "* BYE" and closes).  A
 * non-fatal error is returned only once the rest of the line has been
 * read and dropped (including the contents of any {n+} literal that ends
 * one of its lines, which the client sends regardless), so the caller
 * answers "<tag> BAD <text>" (or NO) and goes on with the octets after
 * *consumed_r.  A synchronizing literal that is too big is refused at its
 * CRLF: the client waits for "+" and so sends no more of that command.
 * A non-synchronizing one that is too big is skipped (its n octets, then
 * the rest of the line; RFC 7888 §4 — the client sends it regardless)
 * unless n passes command_max, which is fatal.
 *
 * Usage:
 *	p = imap_parser_new(&limits);
 *	for each read:
 *		while (len > 0) {
 *			r = imap_parse_feed(p, data, len, &used);
 *			data += used; len -= used;
 *			MORE: break (read more);  LITERAL: "+ OK", then
 *			imap_parse_literal_accept(p) (or answer NO/BAD and
 *			imap_parser_reset(p));  OK: imap_parse_command(),
 *			run it, imap_parser_reset(p);  ERR: answer or close,
 *			imap_parser_reset(p).
 *		}
 * A command's strings stay valid until imap_parser_reset().
 */
#ifndef WHARF_IMAP_PARSE_H
#define WHARF_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_PARSE_LINE_MAX	65536
#define IMAP_PARSE_LITERAL_MAX	65536
#define IMAP_PARSE_ARGS_MAX	10000
#define IMAP_PARSE_DEPTH_MAX	32
#define IMAP_PARSE_COMMAND_MAX	(64 * 1024 * 1024)
#define IMAP_PARSE_APPEND_MAX	IMAP_PARSE_COMMAND_MAX

struct imap_parse_limits {
	size_t	 line_max;
	size_t	 literal_max;
	size_t	 append_max;
	size_t	 args_max;
	size_t	 depth_max;
	size_t	 command_max;
};

enum imap_parse_result {
	IMAP_PARSE_MORE,	/* all input consumed, command incomplete */
	IMAP_PARSE_OK,		/* a command: imap_parse_command() */
	IMAP_PARSE_LITERAL,	/* {n} read: answer "+", then accept */
	IMAP_PARSE_ERR,		/* imap_parse_error() */
};

enum imap_parse_err {
	IMAP_PARSE_E_NONE,
	IMAP_PARSE_E_SYNTAX,
	IMAP_PARSE_E_LINE_TOO_LONG,	/* always fatal */
	IMAP_PARSE_E_LITERAL_TOO_BIG,	/* over literal_max / append_max */
	IMAP_PARSE_E_COMMAND_TOO_BIG,	/* over command_max */
	IMAP_PARSE_E_TOO_MANY_ARGS,
	IMAP_PARSE_E_TOO_DEEP,
};

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_STRING,		/* quoted */
	IMAP_ARG_LITERAL,
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type	 type;
	/* ATOM, STRING, LITERAL, NIL: NUL-terminated; NULL for LIST. */
	const char		*str;
	size_t			 len;
	const struct imap_arg	*list;		/* LIST: NULL when empty */
	size_t			 nlist;
	bool			 literal8;	/* LITERAL sent as ~{n} */
};

struct imap_parser;

/* limits may be NULL (all defaults). */
struct imap_parser *imap_parser_new(const struct imap_parse_limits *);
void	 imap_parser_free(struct imap_parser **);	/* NULL-safe */
/* After OK, ERR or a refused LITERAL: ready for the next command. */
void	 imap_parser_reset(struct imap_parser *);
/* Takes effect for literals announced from now on (0: the default). */
void	 imap_parser_set_literal_max(struct imap_parser *, size_t);
void	 imap_parser_set_append_max(struct imap_parser *, size_t);
/* Allow UTF-8 in quoted strings (after ENABLE UTF8=ACCEPT / IMAP4rev2). */
void	 imap_parser_set_utf8(struct imap_parser *, bool);

/*
 * Feed octets.  *consumed_r is how many belong to the current command
 * (all of them for MORE); the rest starts the next one (pipelining).
 * After OK, ERR or LITERAL the same result comes back, consuming
 * nothing, until imap_parser_reset() (or imap_parse_literal_accept()).
 */
enum imap_parse_result imap_parse_feed(struct imap_parser *,
	    const uint8_t *data, size_t len, size_t *consumed_r);
/* After IMAP_PARSE_LITERAL: the announced size. */
uint64_t imap_parse_literal_size(const struct imap_parser *);
/* After IMAP_PARSE_LITERAL, once "+" was sent: go on reading. */
void	 imap_parse_literal_accept(struct imap_parser *);

/* After IMAP_PARSE_OK: 0 with the command; -1 otherwise. */
int	 imap_parse_command(struct imap_parser *, const char **tag_r,
	    const char **name_r, const struct imap_arg **args_r,
	    size_t *nargs_r);
/*
 * After IMAP_PARSE_ERR: the kind, a static reason (for the BAD text) and
 * whether the connection must be closed.
 */
enum imap_parse_err imap_parse_error(const struct imap_parser *,
	    const char **text_r, bool *fatal_r);
/*
 * The tag and the command name once read (for "<tag> BAD" and for
 * deciding on a LITERAL), else NULL.  Valid until the next feed.
 */
const char *imap_parse_tag(const struct imap_parser *);
const char *imap_parse_name(const struct imap_parser *);

/*
 * One raw line, for AUTHENTICATE responses (RFC 9051 §6.2.2) and IDLE's
 * "DONE" (RFC 9051 §6.3.13), which are not commands.  Call on a reset
 * parser; MORE, OK with the line (CRLF or LF removed, NUL-terminated,
 * may hold NUL: use *len_r; valid until reset) or a fatal ERR when the
 * line passes line_max octets (CRLF included).  Reset after OK.
 */
enum imap_parse_result imap_parse_line(struct imap_parser *,
	    const uint8_t *data, size_t len, size_t *consumed_r,
	    const char **line_r, size_t *len_r);

/*
 * Arguments.  astring = 1*ASTRING-CHAR / string: an ATOM or NIL made of
 * ASTRING-CHARs only, a quoted string or a literal (not literal8).
 * nstring = string / NIL: *s_r NULL for NIL.  string: quoted or literal.
 * atom: ATOM or NIL (the text as sent).  false when arg does not fit.
 */
bool	 imap_arg_astring(const struct imap_arg *, const char **s_r,
	    size_t *len_r);
bool	 imap_arg_nstring(const struct imap_arg *, const char **s_r,
	    size_t *len_r);
bool	 imap_arg_string(const struct imap_arg *, const char **s_r,
	    size_t *len_r);
bool	 imap_arg_atom(const struct imap_arg *, const char **s_r);
/* ATOM or NIL equal to s ignoring ASCII case. */
bool	 imap_arg_atom_equals(const struct imap_arg *, const char *s);
bool	 imap_arg_list(const struct imap_arg *, const struct imap_arg **list_r,
	    size_t *n_r);

/*
 * Sequence sets (RFC 9051 §9 sequence-set; "$" is SEARCHRES's saved
 * result, RFC 5182 §2.1, taken only as the whole set).  Numbers are
 * nz-number (1..4294967295, no leading zero); "*" is stored as 0 for the
 * caller to resolve; a range keeps its order as sent.
 */
struct imap_range {
	uint32_t	 lo;
	uint32_t	 hi;
};

struct imap_seqset {
	struct imap_range	*r;
	size_t			 n;
	bool			 saved;		/* "$": n == 0 */
};

/* 0, or -1 (out zeroed, nothing allocated) on a syntax error. */
int	 imap_seqset_parse(const char *, struct imap_seqset *out);
void	 imap_seqset_free(struct imap_seqset *);	/* zeroes it */
/* v in the set, "*" standing for star. */
bool	 imap_seqset_contains(const struct imap_seqset *, uint32_t v,
	    uint32_t star);
/*
 * The set with "*" = star as ascending, disjoint, non-adjacent ranges
 * (malloc'd, NULL when n is 0).  star 0 (an empty mailbox): "*" is 0
 * and 0 is dropped from the ranges, so "*" alone gives nothing.
 */
void	 imap_seqset_resolve(const struct imap_seqset *, uint32_t star,
	    struct imap_range **out, size_t *n_r);

#endif
