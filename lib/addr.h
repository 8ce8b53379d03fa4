/*
 * addr — SMTP envelope paths and mailboxes (RFC 5321 §4.1.2), with
 * internationalized addresses (RFC 6531 §3.3) and xtext (RFC 3461 §4).
 *
 * Input is untrusted (MAIL FROM / RCPT TO from any client), so the
 * parser is strict, never allocates, and stops at fixed RFC limits:
 *
 *	Path       = "<" [ A-d-l ":" ] Mailbox ">"
 *	Reverse    = Path / "<>"                (null path: ADDR_F_NULL_OK)
 *	Forward    = Path / "<Postmaster>"      (ADDR_F_POSTMASTER_OK)
 *	Mailbox    = Local-part "@" ( Domain / address-literal )
 *	Local-part = Dot-string / Quoted-string
 *
 * Decisions:
 *  - The path must be in angle brackets: no leniency for a bare mailbox.
 *    The space that clients put after "FROM:" is the command parser's
 *    business (smtp_proto), not this one's.
 *  - A source route ("@a,@b:") is parsed and its domains checked, then
 *    discarded (RFC 5321 §4.1.1.3 and Appendix C).
 *  - The local part is kept as transmitted: a Quoted-string keeps its
 *    quotes and backslashes, so formatting gives back the same octets.
 *    addr_local_unquoted() gives the unquoted value.
 *  - Limits count octets as transmitted: local part <= 64 (quotes
 *    included), domain <= 255 (brackets of a literal included), the whole
 *    path "<...>" <= 256 including a source route (RFC 5321 §4.5.3.1.1-3).
 *    An ASCII domain label is <= 63 octets (RFC 1035 §2.3.4); U-labels are
 *    not measured (their A-label length needs punycode).
 *  - Non-ASCII needs ADDR_F_UTF8 (SMTPUTF8 in effect); it must be strict
 *    UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).  Only
 *    UTF-8 validity is checked: IDNA2008 rules for U-labels (RFC 5890) and
 *    A-label ("xn--") validity are left to whoever looks names up.
 *  - Address literals: [IPv4] and [IPv6:...] are checked with
 *    inet_pton(3), which also refuses leading zeros in IPv4 octets that
 *    the Snum grammar would allow (they read as octal elsewhere).  The tag
 *    is case-insensitive.  General-address-literal (any other tag) is
 *    rejected: the IANA registry holds no other tag and nothing could
 *    route to one.
 *  - ORCPT's RFC 6533 utf-8-addr-xtext passes addr_xtext_valid() as plain
 *    xtext; its \x{...} escapes are not decoded here, and the raw UTF-8
 *    utf-8-addr-unitext form is not supported.
 */
#ifndef WHARF_ADDR_H
#define WHARF_ADDR_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

#define ADDR_LOCAL_MAX		64	/* RFC 5321 §4.5.3.1.1 */
#define ADDR_DOMAIN_MAX		255	/* RFC 5321 §4.5.3.1.2 */
#define ADDR_PATH_MAX		256	/* RFC 5321 §4.5.3.1.3 */
#define ADDR_LABEL_MAX		63	/* RFC 1035 §2.3.4 */
/* Room for addr_format()'s output, NUL included. */
#define ADDR_FORMAT_SIZE	(ADDR_PATH_MAX + 1)

/* Parse flags. */
#define ADDR_F_NULL_OK		0x01	/* "<>" allowed (MAIL FROM) */
#define ADDR_F_POSTMASTER_OK	0x02	/* "<Postmaster>" allowed (RCPT TO) */
#define ADDR_F_UTF8		0x04	/* SMTPUTF8: non-ASCII allowed */

enum addr_err {
	ADDR_OK = 0,
	ADDR_ERR_SYNTAX,	/* not RFC 5321 §4.1.2 grammar */
	ADDR_ERR_NULL,		/* "<>" without ADDR_F_NULL_OK */
	ADDR_ERR_LOCAL_LONG,	/* local part over ADDR_LOCAL_MAX */
	ADDR_ERR_DOMAIN_LONG,	/* domain over ADDR_DOMAIN_MAX */
	ADDR_ERR_LABEL_LONG,	/* ASCII label over ADDR_LABEL_MAX */
	ADDR_ERR_PATH_LONG,	/* path over ADDR_PATH_MAX */
	ADDR_ERR_LITERAL,	/* bad or unsupported address literal */
	ADDR_ERR_UTF8,		/* non-ASCII without ADDR_F_UTF8 */
	ADDR_ERR_BAD_UTF8,	/* invalid UTF-8 */
};

enum addr_domain_type {
	ADDR_DOMAIN_NONE,	/* null path, or "<Postmaster>" */
	ADDR_DOMAIN_NAME,	/* sub-domain *("." sub-domain) */
	ADDR_DOMAIN_IPV4,	/* "[1.2.3.4]" */
	ADDR_DOMAIN_IPV6,	/* "[IPv6:...]" */
};

/* A parsed path: bounded, no allocation, copyable by assignment. */
struct addr {
	char			 local[ADDR_LOCAL_MAX + 1];   /* as sent */
	char			 domain[ADDR_DOMAIN_MAX + 1]; /* as sent */
	enum addr_domain_type	 domain_type;
	bool			 null;		/* "<>" */
	bool			 quoted;	/* local is a Quoted-string */
	bool			 utf8;		/* holds non-ASCII octets */
};

/*
 * Parse a path starting at s[0] ('<').  With end_r, parsing stops after
 * the closing '>' and *end_r is its offset + 1; without, all len octets
 * must be the path.  0, or -1 with *err_r set (and *a_r zeroed).
 * s need not be NUL-terminated; NUL octets are syntax errors.
 */
int	addr_parse_path(const char *s, size_t len, int flags, struct addr *a_r,
	    size_t *end_r, enum addr_err *err_r);
/*
 * Check that all of s is a Domain or an address-literal (EHLO/HELO);
 * flags: ADDR_F_UTF8 only.  0 with *type_r, or -1 with *err_r.
 */
int	addr_parse_domain(const char *s, size_t len, int flags,
	    enum addr_domain_type *type_r, enum addr_err *err_r);
/* Static English text for an error ("local part too long"). */
const char *addr_strerror(enum addr_err);

/*
 * "<local@domain>", "<Postmaster>" or "<>" into out (NUL-terminated);
 * 0, or -1 when size is too small (out is then "").
 */
int	addr_format(const struct addr *, char *out, size_t size);
/* "local@domain" (or "" for the null path), as addr_format(). */
int	addr_mailbox(const struct addr *, char *out, size_t size);
/*
 * The local part with quoting removed ("\"a\\ b\"" -> "a b"); 0, or -1
 * when size is too small.  ADDR_LOCAL_MAX + 1 octets always suffice.
 */
int	addr_local_unquoted(const struct addr *, char *out, size_t size);
/*
 * The transmitted form of an unquoted local part: itself when it is a
 * Dot-string, else a Quoted-string with '"' and '\' escaped.  Octets
 * outside %d32-126 (and non-ASCII without ADDR_F_UTF8, or invalid UTF-8)
 * cannot be represented.  0, or -1 (out "") when it cannot be or when
 * the result passes ADDR_LOCAL_MAX or size.
 */
int	addr_quote_local(const char *in, size_t len, int flags, char *out,
	    size_t size);

/* Domains compare case-insensitively (ASCII only; RFC 5321 §2.4). */
void	addr_domain_lower(struct addr *);
/* Same path: local part exact (RFC 5321 §2.4), domain ignoring case. */
bool	addr_equal(const struct addr *, const struct addr *);
bool	addr_is_utf8(const struct addr *);

/*
 * Sub-addressing: split an (unquoted) local part at the first octet that
 * is in seps, not counting position 0 ("+tag" is not split).  Only ASCII
 * octets of seps count.  true with *base_len_r (octets before the
 * separator) and *tag_r (after it, may be ""); false when there is no
 * separator (*base_len_r = strlen(local), *tag_r = NULL).
 */
bool	addr_split_tag(const char *local, const char *seps,
	    size_t *base_len_r, const char **tag_r);

/* Strict UTF-8 (RFC 3629 §4): no overlongs, surrogates, > U+10FFFF. */
bool	addr_utf8_valid(const char *, size_t);

/*
 * xtext (RFC 3461 §4): xchar is %d33-126 except "+" and "="; any octet
 * may be written "+" and two upper-case hex digits.  Decode and encode
 * append to out and are all-or-nothing: -1 (syntax, or out's maximum
 * would be passed) leaves out unchanged.  Decoding may yield any octet,
 * NUL included: callers that want text check what they got.
 */
bool	addr_xtext_valid(const char *, size_t);
int	addr_xtext_decode(struct buf *out, const char *, size_t);
int	addr_xtext_encode(struct buf *out, const void *, size_t);

#endif
