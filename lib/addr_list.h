/*
 * addr_list — the address lists of RFC 5322 header fields (From:,
 * Sender:, Reply-To:, To:, Cc:, Bcc:), so that submission can check that
 * every address in From: and Sender: belongs to the authenticated user.
 *
 * Grammar (RFC 5322 §3.4 with the obsolete forms of §4.4 that real mail
 * uses; RFC 6532 §3.2 adds UTF-8 to atext, qtext, ctext and dtext):
 *
 *	address-list = *([CFWS] ",") address *("," [address / CFWS])
 *	address      = mailbox / group
 *	group        = display-name ":" [group-list] ";" [CFWS]
 *	group-list   = *([CFWS] ",") [mailbox *("," [mailbox / CFWS])]
 *	mailbox      = name-addr / addr-spec
 *	name-addr    = [display-name] angle-addr
 *	display-name = word *(word / "." / CFWS)
 *	angle-addr   = [CFWS] "<" [obs-route] addr-spec ">" [CFWS]
 *	obs-route    = *(CFWS / ",") "@" domain
 *	               *("," [CFWS] ["@" domain]) ":"
 *	addr-spec    = local-part "@" domain
 *	local-part   = word *("." word)
 *	domain       = atom *("." atom) / domain-literal
 *	word         = atom / quoted-string
 *
 * with CFWS (white space, comments nested up to ADDR_LIST_DEPTH_MAX,
 * quoted-pairs) around every token.  Encoded-words (RFC 2047) are atoms.
 *
 * Decisions:
 *  - The value is the field body after the colon.  It is unfolded first
 *    (RFC 5322 §2.2.3): a line end followed by SP or HTAB is removed.  A
 *    line end is CRLF or a bare LF (sendmail(1) input has LF line ends);
 *    a bare CR, or a line end not followed by SP/HTAB (also at the very
 *    end: pass the value without the line end that ends the field), is
 *    an error.  So are NUL and the other controls, even where the
 *    obsolete syntax allows them (obs-NO-WS-CTL, obs-qp): only SP and
 *    HTAB remain after unfolding.
 *  - Octets >= 0x80 anywhere (display names and comments included) are
 *    an error without ADDR_LIST_F_UTF8; with it the whole value must be
 *    strict UTF-8 (addr_utf8_valid()).
 *  - Each entry is the addr-spec as it should be compared: the local
 *    part's words joined by "." with quoted-strings unquoted and their
 *    quoted-pairs resolved (it may hold SP, HTAB and any printable
 *    octet, never NUL or another control); the domain's atoms joined by
 *    "." with ASCII letters lower-cased, or a domain-literal kept as
 *    written ("[192.0.2.1]", not lower-cased, white space inside
 *    dropped; quoted-pairs in it are refused).  Display names, comments
 *    and routes are dropped.  Group names are dropped but group members
 *    are entries.  Local part and domain are never empty.
 *  - Only RFC 5322 syntax is checked: the domain need not be an RFC 5321
 *    host name ("a@b_c" is accepted), nor a literal an IP address; RFC
 *    5321 limits (local part <= 64) do not apply.  Compare the entries
 *    with what the user may use: anything else will not match.
 *  - "a..b@c" and "a.@c" (common in some countries) are refused, as RFC
 *    5322 refuses them.  An address without "@" ("root") is an error.
 *  - An empty group ("undisclosed-recipients:;") is fine, so a successful
 *    parse may give n == 0; an empty value (or only commas) is an error.
 *    A group must be closed with ";".  Groups cannot nest.
 *  - Limits: a value of at most ADDR_LIST_VALUE_MAX octets (as given,
 *    before unfolding), at most ADDR_LIST_ENTRIES_MAX entries, local part
 *    and domain at most ADDR_LIST_PART_MAX octets each (as kept).
 */
#ifndef WHARF_ADDR_LIST_H
#define WHARF_ADDR_LIST_H

#include <stddef.h>

#define ADDR_LIST_VALUE_MAX	65536	/* octets of one field body */
#define ADDR_LIST_ENTRIES_MAX	100	/* addresses in one field */
#define ADDR_LIST_PART_MAX	255	/* octets of a local part or domain */
#define ADDR_LIST_DEPTH_MAX	32	/* comment nesting */

/* Parse flags. */
#define ADDR_LIST_F_UTF8	0x01	/* RFC 6532: UTF-8 allowed */
#define ADDR_LIST_F_NO_GROUPS	0x02	/* mailbox-list only (From:, Sender:) */

struct addr_list_entry {
	char			*local;		/* unquoted */
	char			*domain;	/* lower-cased, or a literal */
};

struct addr_list {
	struct addr_list_entry	*v;
	size_t			 n;
};

/*
 * Parse the field body value (len octets, need not be NUL-terminated)
 * into *out, which is overwritten: clear it first if it held a list.
 * 0 on success (*why_r NULL), or -1 with *why_r set to a short static
 * English reason ("missing @") and *out empty (v NULL, n 0).  why_r
 * may be NULL.
 * For Sender: (a single mailbox) use ADDR_LIST_F_NO_GROUPS and check
 * that n == 1.
 */
int	addr_list_parse(const char *value, size_t len, int flags,
	    struct addr_list *out, const char **why_r);
/* Free the entries; the list is then empty.  Accepts an empty list. */
void	addr_list_clear(struct addr_list *);

#endif
