/*
 * dsn — delivery status notifications: the message qmgr sends back to the
 * envelope sender when mail fails, is delayed or (on request) arrives.
 *
 * STANDARDS: RFC 3461 (the SMTP DSN extension: NOTIFY, RET, ENVID,
 * ORCPT), RFC 3464 (message/delivery-status), RFC 6522 (multipart/report,
 * was RFC 3462), RFC 3463 (enhanced status codes), RFC 6533
 * (internationalized DSNs), RFC 6532 §3.5 (message/global), RFC 3834
 * (Auto-Submitted), RFC 5322 (the message format), RFC 2045-2046 (MIME).
 *
 * A pure library: it builds the whole message, CRLF line ends, into a
 * struct buf or writes it to a file descriptor.  Its only other I/O is
 * reading the original message through struct dsn_orig.
 *
 * The message:
 *
 *	From: Mail Delivery System <MAILER-DAEMON@host>
 *	To: <sender>
 *	Subject: Undelivered Mail Returned to Sender (or Delayed Mail...)
 *	Date, Message-ID, Auto-Submitted: auto-replied, MIME-Version
 *	Content-Type: multipart/report; report-type=delivery-status;
 *	    boundary="=_wharf.<32 random base32 characters>"
 *	  1. text/plain: what happened, one paragraph per recipient
 *	  2. message/delivery-status: the RFC 3464 fields
 *	  3. message/rfc822 (the whole original) or text/rfc822-headers
 *	     (its header section); absent when no original is given.
 *
 * Untrusted input: the diagnostic strings (remote servers' replies) and
 * the original message; the other strings come from our own queue but are
 * treated the same way.  Every string put into a generated part is
 * sanitised: C0 controls (CR, LF and TAB included) and DEL become spaces,
 * runs of white space collapse to one, ends are trimmed, octets that are
 * not valid UTF-8 (or any 8-bit octet in an ASCII DSN, or a C1 control)
 * become "?", and the result is cut at a per-field maximum (at a
 * character boundary, "..." appended).  So no field can start a new header
 * line or an empty line.  Long fields are folded at white space to 78
 * octets where possible; no physical line of the DSN, original included,
 * passes 998 octets (RFC 5322 §2.1.1): a word longer than that is split
 * with CRLF SP.
 *
 * Decisions:
 *  - ASCII or internationalized: with dsn_msg.smtputf8 the DSN is an RFC
 *    6533 one: report-type=global-delivery-status,
 *    message/global-delivery-status, message/global or
 *    message/global-headers, UTF-8 kept in every generated field and
 *    the text part in charset=utf-8 when it needs it.  Without it every
 *    generated octet is ASCII: a non-ASCII recipient is written with
 *    address type "utf-8" in RFC 6533 §3 utf-8-addr-xtext form
 *    ("\x{E9}"), other non-ASCII octets become "?".
 *  - RET: DSN_RET_DEFAULT returns the whole original in a failure DSN, as
 *    Postfix does (its bounce_size_limit is dsn_msg.full_max); delay and
 *    success DSNs carry only the header section whatever RET says (RFC
 *    3461 §4.3: RET is about failures; a DSN without one SHOULD carry
 *    the headers only).  Note that Postfix too returns the whole
 *    message on failure unless RET=HDRS.  The header
 *    section only is also sent when the original is larger than
 *    full_max, and when its body cannot travel as 8bit MIME (NUL octets,
 *    CR not followed by LF, lines over 998 octets: a BINARYMIME body):
 *    rather than damage it, it is left out.  dsn_result.headers_only
 *    tells which happened.
 *  - The copy of the original: line ends become CRLF (a bare LF too); in
 *    the header section a NUL or a CR not followed by LF becomes a space
 *    and a line over 998 octets is split with CRLF SP.  The header
 *    section is the octets before the first empty line, at most
 *    DSN_HEADERS_MAX octets (a longer one is cut there).  A last line
 *    without a line end gets CRLF.  With any 8-bit octet in what is
 *    included the part says Content-Transfer-Encoding: 8bit (RFC 2045
 *    §6.2; message/rfc822 allows only 7bit, 8bit or binary, RFC 2046
 *    §5.2.1), and so does the top level; dsn_result.eightbit says the DSN
 *    needs BODY=8BITMIME (RFC 6152) to be relayed.
 *  - The boundary is "=_wharf." and 160 random bits ("=_" cannot occur in
 *    quoted-printable text).  The original is read once before anything
 *    is written: if the boundary occurs anywhere in it (or in the
 *    generated parts) another is drawn, up to DSN_BOUNDARY_TRIES times.
 *    The copy is then read again and checked again: a file that changed
 *    in between makes the call fail.
 *  - Message-ID: <queue_id.16 random base32 characters@reporting_mta>,
 *    both names reduced to the characters a dot-atom allows.
 *  - Original-Envelope-Id: the ENVID xtext-decoded (RFC 3461 §4.4);
 *    raw (sanitised) when it is not valid xtext or decodes to
 *    something that is not printable text.
 *  - Original-Recipient: the ORCPT "type;xtext" with the address
 *    xtext-decoded (RFC 3461 §4.2, as Postfix shows it); for type utf-8
 *    in an internationalized DSN the utf-8-addr-xtext "\x{HEX}" escapes
 *    are decoded too (RFC 6533 §3), in an ASCII DSN the value stays in
 *    its encoded form.  Omitted unless it starts with an atom and ";".
 *  - Status: the recipient's, if it is an RFC 3463 code (class 2, 4 or
 *    5); otherwise 5.0.0, 4.0.0 or 2.0.0 by kind.  A failure with a 4.x.x
 *    status (a deferred message that expired) keeps it, as Postfix does.
 *  - Diagnostic-Code and Remote-MTA: "type; text" as given when type is
 *    an atom; otherwise the whole string is the text and the type is
 *    "X-Wharf" ("dns" for Remote-MTA).  The text part shows the
 *    diagnostic text (after "type;"), or the RFC 3463 meaning of the
 *    status when there is no diagnostic.
 *  - Action: failed, delayed; for DSN_SUCCESS delivered, or relayed when
 *    dsn_rcpt.relayed (handed to an MTA that does not speak DSN; RFC
 *    3464 §2.3.3).  "expanded" is not produced.
 *  - Extension fields: X-Wharf-Queue-ID and X-Wharf-Sender in the
 *    per-message group.
 *  - The null sender: dsn_may_bounce() refuses "" and "<>" (RFC 5321
 *    §4.5.5, §6.1); no other address is special (MAILER-DAEMON,
 *    postmaster and list addresses are mailboxes like any other), and
 *    dsn_write() refuses to address a DSN to the null sender.  The
 *    caller sends the DSN with MAIL FROM:<> so that it cannot cause
 *    another one (and with NOTIFY=NEVER to a DSN-capable MTA).
 */
#ifndef WHARF_DSN_H
#define WHARF_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct buf;

#define DSN_RCPTS_MAX		10000	/* recipients in one DSN */
#define DSN_HEADERS_MAX		(1024 * 1024)	/* header section copied */
#define DSN_BOUNDARY_TRIES	8
#define DSN_MSGID_SIZE		600	/* room for dsn_result.message_id */

/* Caps of sanitised fields, octets (before "..."). */
#define DSN_ADDR_MAX		1000	/* addresses, ENVID */
#define DSN_MTA_MAX		512	/* host names, "dns; host" values */
#define DSN_DIAG_MAX		2000	/* diagnostic text */

/* RFC 3461 NOTIFY bits: the QUEUE_NOTIFY_* values of proto_queue.h. */
#define DSN_NOTIFY_NEVER	0x1
#define DSN_NOTIFY_SUCCESS	0x2
#define DSN_NOTIFY_FAILURE	0x4
#define DSN_NOTIFY_DELAY	0x8

enum dsn_kind {
	DSN_FAILURE,		/* Action: failed */
	DSN_DELAY,		/* Action: delayed */
	DSN_SUCCESS,		/* Action: delivered (or relayed) */
};

enum dsn_ret {
	DSN_RET_DEFAULT,	/* no RET given: see above */
	DSN_RET_FULL,
	DSN_RET_HDRS,
};

struct dsn_rcpt {
	const char	*rcpt;		/* final recipient, "u@example.org" */
	const char	*orcpt;		/* ORCPT "rfc822;user+2B1@x", or NULL */
	const char	*status;	/* "5.1.1", or NULL */
	const char	*diagnostic;	/* "smtp; 550 5.1.1 unknown", or NULL */
	const char	*remote_mta;	/* "dns; mx.example.net", or NULL */
	time_t		 last_attempt;	/* 0: none */
	time_t		 will_retry_until;	/* DSN_DELAY; 0: none */
	bool		 relayed;	/* DSN_SUCCESS: Action relayed */
};

struct dsn_msg {
	const char	*reporting_mta;	/* myhostname */
	const char	*queue_id;
	const char	*envid;		/* ENVID as received (xtext), or NULL */
	const char	*sender;	/* the original envelope sender: To: */
	const char	*postmaster;	/* From:, "MAILER-DAEMON@host" */
	const char	*received_from;	/* "dns; name ([addr])", or NULL */
	time_t		 arrival;	/* 0: no Arrival-Date */
	time_t		 now;		/* Date:; 0: time(NULL) */
	enum dsn_kind	 kind;
	enum dsn_ret	 ret;
	uint64_t	 full_max;	/* whole original up to this; 0: any */
	bool		 smtputf8;	/* RFC 6533 DSN (see above) */
	const struct dsn_rcpt *rcpts;
	size_t		 nrcpts;	/* 1 .. DSN_RCPTS_MAX */
};

/*
 * Reads up to len octets at offset off of what follows the prefix;
 * returns how many (0 at the end), or -1 with errno set.  Called with
 * increasing offsets, in two passes from 0.
 */
typedef ssize_t dsn_read_fn(void *arg, void *buf, size_t len, uint64_t off);

/*
 * The original message: prefix octets (may be none), then what read
 * returns, or else the file fd from offset 0 to its end (pread(2), so
 * the file offset is not used).  All of prefix, read and fd may be
 * unset (NULL/0/-1): an empty original.  Mind that a zeroed struct
 * names fd 0: start from dsn_orig_mem() or dsn_orig_fd().
 */
struct dsn_orig {
	const void	*prefix;
	size_t		 prefix_len;
	dsn_read_fn	*read;		/* NULL: use fd */
	void		*arg;
	int		 fd;		/* -1: none */
};

/* The whole original in memory (len octets at p), or in a file. */
void	dsn_orig_mem(struct dsn_orig *, const void *p, size_t len);
void	dsn_orig_fd(struct dsn_orig *, int fd);

struct dsn_result {
	char		 message_id[DSN_MSGID_SIZE];	/* "<...>" */
	uint64_t	 size;		/* octets written */
	bool		 eightbit;	/* 8-bit octets: needs 8BITMIME */
	bool		 utf8;		/* UTF-8 in a header: needs SMTPUTF8 */
	bool		 headers_only;	/* part 3 is the header section */
};

/*
 * RFC 3461 §4.1: whether a recipient's NOTIFY asks for this kind of DSN.
 * NEVER: none.  No NOTIFY (notify_bits 0): failures and delays (a delay
 * DSN is the MTA's choice; Wharf sends them), not successes.  Otherwise
 * the bit of that kind.
 */
bool	dsn_wanted(unsigned notify_bits, enum dsn_kind);
/* A DSN may go to this envelope sender: not "" nor "<>" (nor NULL). */
bool	dsn_may_bounce(const char *sender);

/*
 * Build the DSN and append it to out (all or nothing: on -1 out is as it
 * was), or write it to fd (a blocking descriptor; on -1 part of it may
 * have been written).  orig NULL: no third part.  res_r may be NULL.
 * 0, or -1 with *err_r: invalid dsn_msg, output maximum or write error,
 * read error, the original changed between the two reads, no boundary.
 */
int	dsn_write(const struct dsn_msg *, const struct dsn_orig *orig,
	    struct buf *out, struct dsn_result *res_r, char **err_r);
int	dsn_write_fd(const struct dsn_msg *, const struct dsn_orig *orig,
	    int fd, struct dsn_result *res_r, char **err_r);

/*
 * The RFC 3463 meaning of a status code ("Bad destination mailbox
 * address"); a generic text for an unknown one, "" for an invalid one.
 */
const char *dsn_status_text(const char *status);

/*
 * Tests only: where random octets come from (boundaries, Message-ID).
 * NULL restores arc4random_buf(3).
 */
void	dsn_set_random(void (*)(void *, size_t));

#endif
