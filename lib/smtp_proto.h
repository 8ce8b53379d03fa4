/*
 * smtp_proto — SMTP on the wire: command lines for the server (smtpd),
 * replies and EHLO capabilities for the client (mta), and reply
 * formatting.  Pure parsers: no I/O, no logging, no allocation except the
 * reply parser's bounded buffers.  Commands and capabilities are in
 * smtp_proto.c, replies in smtp_proto_reply.c.
 *
 * Commands (RFC 5321 §4.1.1, §4.1.2; extensions as cited below).  One
 * line without its CRLF goes in; a struct smtp_cmd comes out, or an error
 * that is already a reply (code, enhanced code, text) for smtpd to send:
 *  - Verbs are case-insensitive; so are "FROM:", "TO:", parameter
 *    keywords and keyword values (RFC 5321 §2.4).
 *  - Runs of SP are accepted where the grammar has one SP, after "FROM:"
 *    and "TO:" (common in the wild), and at the end of the line; TAB is
 *    not white space here.  A path without angle brackets is refused.
 *  - NUL, CR and LF anywhere: 500 5.5.2.  A line longer than
 *    SMTP_CMD_LINE_MAX (SMTP_CMD_PARAM_LINE_MAX for MAIL and RCPT, whose
 *    parameters may lengthen it: RFC 5321 §4.5.3.1.4 and e.g. RFC 4954
 *    §5, RFC 6531 §3.1; and for AUTH, whose initial response may: RFC
 *    4954 §4) counting the CRLF: 500 5.5.2.  The caller's line
 *    reader should use SMTP_CMD_PARAM_LINE_MAX as its hard maximum.
 *  - MAIL takes SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8
 *    (RFC 6531), RET and ENVID (RFC 3461), AUTH (RFC 4954 §5); RCPT takes
 *    NOTIFY and ORCPT (RFC 3461).  Any other keyword, or one on the wrong
 *    command: 555 5.5.4 (RFC 5321 §4.1.1.11); a repeated one: 501 5.5.4.
 *    Whether an extension was advertised is the caller's check, on
 *    params.seen.  xtext values are kept encoded, as sent.
 *  - A non-ASCII path needs SMTPUTF8: for MAIL the parser sees the
 *    parameter, for RCPT the caller passes SMTP_PARSE_F_UTF8 when the
 *    transaction's MAIL had it.  Else 550 5.6.7 (MAIL) or 553 5.6.7
 *    (RCPT), RFC 6531 §3.5.  EHLO/HELO names are ASCII only (RFC 6531
 *    §3.7.1); both accept a domain or an address literal.
 *
 * Replies (RFC 5321 §4.2): fed in pieces as they arrive, returned whole.
 * A line ends in CRLF or a bare LF; a CR not followed by LF, a NUL, a
 * code that is not Reply-code (%x32-35 %x30-35 %x30-39), a separator
 * other than SP or "-", or a line whose code differs from the reply's:
 * error.  Other octets of the text (HT, controls, UTF-8 or not) are kept
 * as they came: sanitise before logging or quoting them.  Lines are at
 * most SMTP_REPLY_LINE_MAX octets (CRLF included), SMTP_REPLY_LINES_MAX
 * per reply.  An enhanced status code (RFC 2034 §4, RFC 3463 §2) is
 * taken from the first line when its class matches the reply code, and
 * then stripped from every line that carries one of that class.
 */
#ifndef WHARF_SMTP_PROTO_H
#define WHARF_SMTP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct buf;

#define SMTP_CMD_LINE_MAX	512	/* RFC 5321 §4.5.3.1.4, CRLF in */
#define SMTP_CMD_PARAM_LINE_MAX	2048	/* MAIL/RCPT with parameters */
#define SMTP_REPLY_TEXT_MAX	512	/* RFC 5321 §4.5.3.1.5, our replies */
#define SMTP_ENVID_MAX		100	/* RFC 3461 §4.4 */
#define SMTP_ORCPT_MAX		500	/* RFC 3461 §4.2, whole value */
#define SMTP_ORCPT_TYPE_MAX	32	/* ours: "rfc822", "utf-8" */
#define SMTP_AUTH_PARAM_MAX	500	/* RFC 4954 §5 */
#define SMTP_SASL_MECH_MAX	20	/* RFC 4422 §3.1 */
#define SMTP_REPLY_LINE_MAX	2048	/* client side, CRLF in */
#define SMTP_REPLY_LINES_MAX	100
#define SMTP_CAPS_AUTH_MAX	256	/* "PLAIN LOGIN ..." */

enum smtp_verb {
	SMTP_VERB_UNKNOWN,
	SMTP_VERB_EHLO,
	SMTP_VERB_HELO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

enum smtp_body {
	SMTP_BODY_NONE,			/* no BODY parameter */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,		/* RFC 6152 */
	SMTP_BODY_BINARYMIME,		/* RFC 3030 */
};

enum smtp_ret {
	SMTP_RET_NONE,
	SMTP_RET_FULL,			/* RFC 3461 §4.3 */
	SMTP_RET_HDRS,
};

/* struct smtp_params.seen */
#define SMTP_PARAM_SIZE		0x0001
#define SMTP_PARAM_BODY		0x0002
#define SMTP_PARAM_SMTPUTF8	0x0004
#define SMTP_PARAM_RET		0x0008
#define SMTP_PARAM_ENVID	0x0010
#define SMTP_PARAM_AUTH		0x0020
#define SMTP_PARAM_NOTIFY	0x0040
#define SMTP_PARAM_ORCPT	0x0080

/* struct smtp_params.notify (RFC 3461 §4.1) */
#define SMTP_NOTIFY_NEVER	0x01
#define SMTP_NOTIFY_SUCCESS	0x02
#define SMTP_NOTIFY_FAILURE	0x04
#define SMTP_NOTIFY_DELAY	0x08

struct smtp_params {
	unsigned	 seen;		/* SMTP_PARAM_* given */
	uint64_t	 size;		/* SIZE=, octets */
	enum smtp_body	 body;
	enum smtp_ret	 ret;
	unsigned	 notify;	/* SMTP_NOTIFY_* */
	char		 envid[SMTP_ENVID_MAX + 1];		/* xtext */
	char		 orcpt_type[SMTP_ORCPT_TYPE_MAX + 1];	/* as sent */
	char		 orcpt[SMTP_ORCPT_MAX + 1];		/* xtext */
	char		 auth[SMTP_AUTH_PARAM_MAX + 1];	/* xtext, "<>" */
};

/* A ready reply; the strings are static. */
struct smtp_error {
	unsigned	 code;		/* 500, 501, 550, 553, 555 */
	const char	*enh;		/* "5.5.4" */
	const char	*text;
};

struct smtp_cmd {
	enum smtp_verb		 verb;
	/*
	 * EHLO/HELO: the domain or literal.  VRFY/EXPN/HELP/NOOP: the
	 * string, trailing SP removed ("" if none).  AUTH: the initial
	 * response as sent ("=" is an empty one), "" if none.
	 */
	char			 arg[SMTP_CMD_PARAM_LINE_MAX];
	struct addr		 path;		/* MAIL, RCPT */
	struct smtp_params	 params;	/* MAIL, RCPT; VRFY/EXPN:
						   only SMTPUTF8 (RFC 6531
						   §3.1 item 6) */
	uint64_t		 chunk_size;	/* BDAT (RFC 3030 §2) */
	bool			 last;		/* BDAT ... LAST */
	char			 mech[SMTP_SASL_MECH_MAX + 1]; /* AUTH,
							  upper case */
	struct smtp_error	 err;		/* set when parse fails */
};

/* Command parse flags. */
#define SMTP_PARSE_F_UTF8	0x01	/* RCPT: SMTPUTF8 in effect */

/*
 * Parse one command line (without CRLF).  0 with *cmd_r filled; -1 with
 * cmd_r->err set (cmd_r->verb tells which command, if it was known).
 */
int	smtp_proto_cmd_parse(const char *line, size_t len, int flags,
	    struct smtp_cmd *cmd_r);
/*
 * The inverse, for the client side: append the command line (without
 * CRLF) for a command as smtp_proto_cmd_parse() returns it.  Parameters
 * go in a fixed order.  -1 (out unchanged) for SMTP_VERB_UNKNOWN or when
 * out's maximum would be passed.
 */
int	smtp_proto_cmd_format(struct buf *out, const struct smtp_cmd *);
/* "EHLO" ...; "UNKNOWN" for SMTP_VERB_UNKNOWN. */
const char *smtp_proto_verb_name(enum smtp_verb);

/*
 * Server replies: append "code[-| ][enh ]text\r\n" lines to out; text is
 * split at '\n' into lines, all but the last with "-".  enh may be NULL
 * (greeting and EHLO replies carry none, RFC 2034 §3).  -1 (out
 * unchanged) when code is not a Reply-code (RFC 5321 §4.2: 2-5, 0-5,
 * 0-9), enh is not an RFC 3463 status-code of the code's class, text
 * holds a CR, a line would pass SMTP_REPLY_TEXT_MAX octets, or out's
 * maximum would be passed.
 */
int	smtp_proto_reply_format(struct buf *out, unsigned code,
	    const char *enh, const char *text);
int	smtp_proto_reply_error(struct buf *out, const struct smtp_error *);

enum smtp_parse_result {
	SMTP_PARSE_OK,		/* a whole reply */
	SMTP_PARSE_MORE,	/* all input used, reply incomplete */
	SMTP_PARSE_ERR,		/* malformed; sticky */
};

struct smtp_reply {
	unsigned	 code;		/* Reply-code */
	bool		 has_enh;
	unsigned	 enh[3];	/* class, subject, detail */
	size_t		 nlines;
	/* The lines' texts joined with '\n', enhanced codes removed. */
	const char	*text;
	size_t		 text_len;
};

struct smtp_reply_parser;

struct smtp_reply_parser *smtp_proto_reply_parser_new(void);
void	smtp_proto_reply_parser_free(struct smtp_reply_parser **);
/*
 * Parse from data.  SMTP_PARSE_OK: *reply_r (valid until the next call)
 * and *used_r octets taken, up to the end of that reply; call again with
 * the rest.  SMTP_PARSE_MORE: all len octets taken.  SMTP_PARSE_ERR:
 * *err_r is a static reason, and every later call fails the same way.
 */
enum smtp_parse_result smtp_proto_reply_parse(struct smtp_reply_parser *,
	    const void *data, size_t len, size_t *used_r,
	    const struct smtp_reply **reply_r, const char **err_r);

/* struct smtp_caps.flags: EHLO keywords (RFC 5321 §4.1.1.1). */
#define SMTP_CAP_PIPELINING	0x0001	/* RFC 2920 */
#define SMTP_CAP_SIZE		0x0002	/* RFC 1870 */
#define SMTP_CAP_8BITMIME	0x0004	/* RFC 6152 */
#define SMTP_CAP_SMTPUTF8	0x0008	/* RFC 6531 */
#define SMTP_CAP_STARTTLS	0x0010	/* RFC 3207 */
#define SMTP_CAP_CHUNKING	0x0020	/* RFC 3030 */
#define SMTP_CAP_BINARYMIME	0x0040	/* RFC 3030 */
#define SMTP_CAP_DSN		0x0080	/* RFC 3461 */
#define SMTP_CAP_ENHANCEDSTATUSCODES 0x0100 /* RFC 2034 */
#define SMTP_CAP_AUTH		0x0200	/* RFC 4954 */

struct smtp_caps {
	unsigned	 flags;		/* SMTP_CAP_* */
	uint64_t	 size;		/* SIZE n; 0: none announced */
	/* Valid SASL names, upper case, deduplicated, ' '-separated. */
	char		 auth[SMTP_CAPS_AUTH_MAX];
};

/*
 * Capabilities from a 250 reply to EHLO (its first line is the greeting
 * and is skipped).  Unknown keywords, bad SIZE values and bad SASL names
 * are ignored; the obsolete "AUTH=" form is read too.  0, or -1 when the
 * reply is not a 250.
 */
int	smtp_proto_caps_parse(const struct smtp_reply *, struct smtp_caps *);
bool	smtp_proto_caps_has_auth(const struct smtp_caps *, const char *mech);

#endif
