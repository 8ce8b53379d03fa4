/*
 * dsn_private — shared by lib/dsn*.c only; see dsn.h for the API.
 *
 * dsn.c assembles the message; dsn_text.c turns untrusted strings into
 * safe field values and folded lines; dsn_orig.c reads, checks and copies
 * the original message.
 */
#ifndef WHARF_DSN_PRIVATE_H
#define WHARF_DSN_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;
struct dsn_orig;

#define DSN_LINE_MAX		998	/* RFC 5322 §2.1.1, without CRLF */
#define DSN_FOLD_AT		78	/* RFC 5322 §2.1.1 SHOULD */
#define DSN_BOUNDARY_LEN	40	/* "=_wharf." + 32 */

/* dsn_text.c */

/*
 * Append s sanitised (dsn.h): controls to spaces, white space collapsed
 * and trimmed, invalid or (!utf8) non-ASCII characters to "?", cut at max
 * octets with "..." appended.
 */
void	dsn_san_add(struct buf *out, const char *s, size_t max, bool utf8);
/*
 * Append words (sanitised text: single spaces, no controls) after col
 * octets already on the line, folding at spaces with CRLF + indent so
 * lines stay within DSN_FOLD_AT where a word allows it, and splitting
 * words so that none passes DSN_LINE_MAX.  lead: a space goes before the
 * first word (a header field after "Name:").  Ends with CRLF.
 */
void	dsn_wrap_add(struct buf *out, size_t col, const char *words,
	    const char *indent, bool lead);
/* "Name: value" folded; value sanitised already. */
void	dsn_field_add(struct buf *out, const char *name, const char *value);
/* RFC 5322 §3.3 date-time, always in UTC ("+0000"). */
void	dsn_date_add(struct buf *out, time_t);
/*
 * Typed values (RFC 3464 §2.1.2 "type; text"), from sanitised strings:
 * dsn_typed_add() appends v when what is before ";" is an atom, else
 * "deftype; v"; dsn_typed_text() is the text after "type; " (all of v
 * when untyped); dsn_typed_is() compares the type (case-insensitive).
 */
void	dsn_typed_add(struct buf *out, const char *v, const char *deftype);
const char *dsn_typed_text(const char *v);
bool	dsn_typed_is(const char *v, const char *type);
/* RFC 6533 §3 utf-8-addr-xtext of a UTF-8 address. */
void	dsn_utf8_xtext_add(struct buf *out, const char *addr);
/* Decode RFC 6533 "\x{HEX}" escapes; -1 when malformed. */
int	dsn_unitext_decode(struct buf *out, const char *s, size_t len);
bool	dsn_is_ascii(const char *, size_t);
bool	dsn_status_valid(const char *);

/* dsn_orig.c */

/* Where the DSN goes: a buffer (all or nothing) or a file descriptor. */
struct dsn_sink {
	struct buf	*buf;
	int		 fd;
	uint64_t	 size;		/* octets written */
	char		*err;		/* first error, sticky */
};

int	dsn_sink_put(struct dsn_sink *, const void *, size_t);

/* What a pass over the original found. */
struct dsn_scan {
	uint64_t	 size;		/* octets read (to the end, or stop) */
	bool		 found;		/* the boundary occurs */
	bool		 eof;		/* read to the end */
	bool		 hdr_8bit;	/* 8-bit octets in the header copy */
	bool		 any_8bit;	/* 8-bit octets anywhere read */
	bool		 binary;	/* body not fit for 8bit MIME */
};

/*
 * First pass: look for the boundary and classify the original.
 * full: the whole original may be wanted (stops early once it cannot be:
 * binary body or past full_max); else only the header section is read.
 * 0, or -1 with *err_r (read error).
 */
int	dsn_orig_scan(const struct dsn_orig *, const char *boundary,
	    bool full, uint64_t full_max, struct dsn_scan *r, char **err_r);
/*
 * Second pass: copy the original (full) or its header section into the
 * sink, normalised (dsn.h), checking it against the first pass.
 */
int	dsn_orig_copy(const struct dsn_orig *, const char *boundary,
	    bool full, const struct dsn_scan *first, struct dsn_sink *,
	    char **err_r);

#endif
