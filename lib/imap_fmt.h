/*
 * imap_fmt — strings in server responses (RFC 9051 §4.3, §9):
 *
 *   astring = 1*ASTRING-CHAR / string
 *   nstring = string / NIL
 *   string  = quoted / literal
 *   quoted  = DQUOTE *QUOTED-CHAR DQUOTE   ; "\" before DQUOTE and "\"
 *   literal = "{" number64 "}" CRLF *CHAR8 ; literal8: "~{" ... (RFC 3516)
 *
 * A value goes as a literal when it holds CR or LF (which a quoted
 * string cannot), octets >= 0x80 and utf8 is false (or they are not valid
 * UTF-8: RFC 9051 §9 QUOTED-CHAR, RFC 6855 §3), or is longer than
 * IMAP_FMT_QUOTED_MAX octets (long quoted strings and atoms trip up
 * clients).  Otherwise astring writes an atom when the value is all
 * ASTRING-CHARs and not "NIL" in any case (that would read as nil where
 * an nstring is also possible), else a quoted string; "" for the empty
 * string.  NUL has no string form at all (quoted and literal are CHAR8,
 * %x01-ff; only literal8 carries NUL): a value holding one is refused.
 *
 * Every function appends to out and is all-or-nothing: 0, or -1 with out
 * unchanged when out's maximum would be passed or the value cannot be
 * written (NUL; for imap_fmt_quoted(), CR or LF too).
 */
#ifndef WHARF_IMAP_FMT_H
#define WHARF_IMAP_FMT_H

#include <stdbool.h>
#include <stddef.h>

#define IMAP_FMT_QUOTED_MAX	1000

struct buf;

int	imap_fmt_astring(struct buf *out, const char *s, size_t len,
	    bool utf8);
/* quoted or literal, never an atom. */
int	imap_fmt_string(struct buf *out, const char *s, size_t len,
	    bool utf8);
/* NIL when s is NULL, else imap_fmt_string(). */
int	imap_fmt_nstring(struct buf *out, const char *s, size_t len,
	    bool utf8);
/* Always quoted, whatever the length; octets >= 0x80 as they are. */
int	imap_fmt_quoted(struct buf *out, const char *s, size_t len);
/* "{len}" CRLF and the octets (no NUL). */
int	imap_fmt_literal(struct buf *out, const char *s, size_t len);
/* "~{len}" CRLF and the octets (BINARY, RFC 3516 §4.2). */
int	imap_fmt_literal8(struct buf *out, const char *s, size_t len);

#endif
