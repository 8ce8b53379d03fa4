/*
 * smtp_client — the SMTP client engine of the outbound mta: one
 * transaction (one message to one or more recipients at one destination)
 * over one connected socket, on a lib/ev loop, through lib/io.
 *
 * The conversation (RFC 5321 §3, §4):
 *	greeting -> EHLO (HELO after a 5xx) -> [STARTTLS -> EHLO]
 *	-> [AUTH] -> checks -> MAIL, RCPT..., DATA -> body "." -> QUIT
 * With PIPELINING, MAIL, every RCPT and DATA leave in one write and the
 * replies are matched in order (RFC 2920 §3.1); without, one at a time.
 *
 * Decisions:
 *  - TLS (RFC 3207): NONE never asks; MAY uses STARTTLS when offered and
 *    goes on in plaintext when it is not, or when STARTTLS is refused; a
 *    failed handshake ends the session with a temporary error and
 *    result.tls_failed, so the mta may retry without TLS (Postfix does
 *    the same).  ENCRYPT and VERIFY need STARTTLS (else 4.7.4) and a
 *    handshake (else 4.7.5); VERIFY also needs the peer's chain and name
 *    to verify.  The connection's verify mode is set here per policy
 *    (SSL_VERIFY_PEER only for VERIFY), so one context with trust anchors
 *    (tls_client_ctx_new) serves every policy; the name to verify is
 *    always set (SSL_set1_host), so result.tls.verified says whether a
 *    MAY/ENCRYPT peer would have passed too.  SNI is sent for names that
 *    are not IP literals.  Capabilities from before TLS are forgotten
 *    (RFC 3207 §4.2), and plaintext that follows the 220 is discarded
 *    (lib/io).
 *  - AUTH (RFC 4954) PLAIN (RFC 4616, with an initial response) or LOGIN,
 *    only over TLS: configured AUTH without TLS, or not offered, or no
 *    common mechanism is a temporary failure; so is a refused AUTH
 *    (5.x.x becomes 4.x.x, like Postfix's smtp_sasl_auth_soft_bounce).
 *  - Before MAIL, in this order: SMTPUTF8 needed (tx.smtputf8, or a
 *    non-ASCII address) but not offered: every recipient 5.6.7 (RFC 6531
 *    §3.2); SIZE offered and the message bigger: 5.3.4 (RFC 1870 §6);
 *    8BITMIME needed but not offered: status SMTP_CLIENT_NEED_7BIT and
 *    every recipient 5.6.3, for the caller to convert and retry, or to
 *    bounce with those results.  QUIT follows, nothing is sent.
 *  - MAIL carries SIZE= when SIZE is offered, BODY=8BITMIME for 8-bit
 *    bodies, SMTPUTF8 when needed; RET= and ENVID= (MAIL), NOTIFY= and
 *    ORCPT= (RCPT) only when DSN is offered (RFC 3461 §4).  An invalid
 *    ENVID or ORCPT is left out rather than failing the delivery.
 *  - Addresses come as mailboxes ("local@domain", the local part as
 *    transmitted; "" for the null sender) and are checked with lib/addr:
 *    a bad sender fails every recipient with 5.1.7, a bad recipient
 *    itself with 5.1.3 (never sent).
 *  - When every RCPT failed no body is sent: without PIPELINING DATA is
 *    not sent; with it, a 354 (which a correct server does not give) is
 *    answered with "." alone.  Then QUIT.
 *  - The body comes from prefix then msg_fd (read with pread(2) in 16 KiB
 *    blocks while the output queue drains: never whole in memory).  On
 *    the way: a line starting with "." gets another (RFC 5321 §4.5.2); a
 *    bare LF becomes CRLF; a CR not followed by LF becomes a space (no
 *    bare CR or LF leaves us: SMTP smuggling, cf. Postfix 3.9
 *    cleanup_replace_stray_cr_lf); a missing final CRLF is added (a
 *    lone final CR counts as one); then ".".  A read error or a file
 *    shorter than msg_len aborts the connection without the "." (a
 *    truncated message must not be delivered): temporary failure.
 *  - Replies: 2xx good, 4xx temporary, 5xx permanent; a 3xx where none
 *    is due, a malformed reply (lib/smtp_proto), a lost connection or a
 *    timeout before the final reply: temporary for every recipient not
 *    yet decided.  A reply that comes while the body is being sent (a
 *    server that refuses mid-body) decides the accepted recipients ("in
 *    reply to message body") and the connection is closed.
 *  - Timeouts are per wait (RFC 5321 §4.5.3.2): greeting, each command,
 *    DATA initiation, each body block (re-armed whenever the queue has
 *    drained to its low-water mark and is refilled), the final reply
 *    (from when the "." has been written); QUIT waits briefly.
 *  - The done callback comes once, from the event loop (never from
 *    inside smtp_client_new()), after QUIT has been answered (or has
 *    timed out, or the connection is gone): the connection is then
 *    closed.  The callback may free the client.  After
 *    smtp_client_free() no callback comes.
 *  - Texts are Postfix's where admins know them: "host mx[192.0.2.1]
 *    said: 550 5.1.1 ... (in reply to RCPT TO command)", "lost connection
 *    with mx[192.0.2.1] while sending message body", "conversation with
 *    ... timed out while ...".  Server text is sanitised (strnvis via
 *    log_safe, lines joined with a space) and capped.
 *
 * Not here: connecting and MX selection (the caller's), CHUNKING/BDAT,
 * 8-bit to 7-bit conversion, several transactions per connection, DANE
 * and MTA-STS (the caller picks the policy and the name to verify).
 */
#ifndef WHARF_SMTP_CLIENT_H
#define WHARF_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "smtp_proto.h"
#include "tls.h"

struct ev;
struct smtp_client;

#define SMTP_CLIENT_TEXT_MAX	512	/* result texts, NUL included */
#define SMTP_CLIENT_ENH_SIZE	16	/* "5.1.1", NUL included */
#define SMTP_CLIENT_RCPTS_MAX	1000	/* recipients per transaction */
#define SMTP_CLIENT_CRED_MAX	255	/* AUTH user name and password */

/* Default timeouts, ms (RFC 5321 §4.5.3.2; QUIT is ours). */
#define SMTP_CLIENT_TIMEOUT_GREETING	(300 * 1000)
#define SMTP_CLIENT_TIMEOUT_CMD		(300 * 1000)
#define SMTP_CLIENT_TIMEOUT_DATA_INIT	(120 * 1000)
#define SMTP_CLIENT_TIMEOUT_DATA_BLOCK	(180 * 1000)
#define SMTP_CLIENT_TIMEOUT_FINAL	(600 * 1000)
#define SMTP_CLIENT_TIMEOUT_QUIT	(10 * 1000)

enum smtp_tls_policy {
	SMTP_TLS_NONE,
	SMTP_TLS_MAY,		/* opportunistic (RFC 7435) */
	SMTP_TLS_ENCRYPT,	/* STARTTLS required, peer not verified */
	SMTP_TLS_VERIFY,	/* required, chain and peer_name verified */
};

enum smtp_client_auth {
	SMTP_CLIENT_AUTH_NONE,
	SMTP_CLIENT_AUTH_ANY,	/* PLAIN if offered, else LOGIN */
	SMTP_CLIENT_AUTH_PLAIN,
	SMTP_CLIENT_AUTH_LOGIN,
};

/*
 * Per connection.  Strings are copied by smtp_client_new() (the password
 * is wiped on free); tls_ctx is borrowed and must outlive the client.
 * Timeouts of 0 take the defaults above.
 */
struct smtp_client_params {
	const char		*helo_name;	/* our myhostname */
	const char		*peer_name;	/* "mx.example.com": SNI,
						   verification, texts */
	const char		*peer_addr;	/* "192.0.2.1", NULL: texts */
	enum smtp_tls_policy	 tls;
	SSL_CTX			*tls_ctx;	/* client side; unless NONE */
	enum smtp_client_auth	 auth;
	const char		*auth_user;
	const char		*auth_pass;
	uint64_t		 timeout_greeting_ms;
	uint64_t		 timeout_cmd_ms;	/* EHLO...RCPT, TLS */
	uint64_t		 timeout_data_init_ms;	/* DATA -> 354 */
	uint64_t		 timeout_data_block_ms;
	uint64_t		 timeout_final_ms;	/* "." -> reply */
	uint64_t		 timeout_quit_ms;
};

enum smtp_client_status {
	SMTP_CLIENT_NONE,	/* not decided (never in a final result) */
	SMTP_CLIENT_OK,
	SMTP_CLIENT_TEMP,
	SMTP_CLIENT_PERM,
	SMTP_CLIENT_NEED_7BIT,	/* overall only, see above */
};

/* An outcome: the server's reply, or one decided here (code 0). */
struct smtp_client_dsn {
	enum smtp_client_status	 status;
	unsigned		 code;		/* reply code; 0: ours */
	char			 enh[SMTP_CLIENT_ENH_SIZE]; /* always set */
	char			 text[SMTP_CLIENT_TEXT_MAX];
};

struct smtp_client_rcpt {
	const char		*address;	/* "local@domain" */
	unsigned		 notify;	/* SMTP_NOTIFY_*; 0: none */
	const char		*orcpt;		/* "rfc822;xtext", NULL */
	struct smtp_client_dsn	 result;	/* written by the engine */
};

enum smtp_client_body {
	SMTP_CLIENT_BODY_7BIT,
	SMTP_CLIENT_BODY_8BITMIME,
};

/*
 * Owned by the caller, unchanged (but for rcpts[].result) and alive until
 * the done callback or smtp_client_free().
 */
struct smtp_client_tx {
	const char		*mail_from;	/* "" for <> */
	uint64_t		 size;		/* SIZE=; 0: prefix + msg */
	enum smtp_client_body	 body;
	bool			 smtputf8;	/* the message needs it */
	const char		*envid;		/* xtext, NULL */
	enum smtp_ret		 ret;		/* SMTP_RET_NONE/FULL/HDRS */
	struct smtp_client_rcpt	*rcpts;
	size_t			 nrcpts;	/* 1..SMTP_CLIENT_RCPTS_MAX */
	/* The message as stored (CRLF lines, our Received: included):
	   prefix_len bytes of prefix, then msg_len bytes of msg_fd (a
	   regular file or memfd, read with pread from msg_off; -1 when
	   msg_len is 0).  The fd stays the caller's. */
	const void		*prefix;
	size_t			 prefix_len;
	int			 msg_fd;
	off_t			 msg_off;
	off_t			 msg_len;
};

/* Where the session was when it ended (in texts: "while ..."). */
enum smtp_client_stage {
	SMTP_CLIENT_STAGE_GREETING,
	SMTP_CLIENT_STAGE_EHLO,		/* and HELO */
	SMTP_CLIENT_STAGE_STARTTLS,
	SMTP_CLIENT_STAGE_TLS,		/* the handshake */
	SMTP_CLIENT_STAGE_AUTH,
	SMTP_CLIENT_STAGE_MAIL,
	SMTP_CLIENT_STAGE_RCPT,
	SMTP_CLIENT_STAGE_DATA,
	SMTP_CLIENT_STAGE_BODY,
	SMTP_CLIENT_STAGE_DOT,		/* "." sent: delivery unknown */
	SMTP_CLIENT_STAGE_QUIT,
};

/*
 * The outcome.  status:
 *  OK: the transaction ran to its end; each recipient's result says
 *	what became of it (delivered, or refused by RCPT, DATA or the
 *	final reply, or by a local check).  dsn is the reply to the end
 *	of data (or code 0, "2.0.0" when there was none).
 *  TEMP, PERM: the session failed as a whole (greeting, EHLO/HELO,
 *	TLS, AUTH, MAIL FROM refused; lost connection, timeout, malformed
 *	reply; SMTPUTF8/SIZE checks are PERM); dsn says why, and every
 *	recipient not decided before has the same result.  After TEMP the
 *	mta may try another host.
 *  NEED_7BIT: see above.
 */
struct smtp_client_result {
	enum smtp_client_status	 status;
	enum smtp_client_stage	 stage;
	struct smtp_client_dsn	 dsn;		/* the session's outcome */
	bool			 esmtp;		/* EHLO accepted */
	struct smtp_caps	 caps;		/* the last EHLO's */
	bool			 tls_used;	/* handshake done */
	bool			 tls_failed;	/* STARTTLS handshake failed */
	struct tls_info		 tls;		/* when tls_used */
	bool			 auth_used;	/* AUTH succeeded */
	size_t			 ndelivered;	/* recipients OK */
};

typedef void smtp_client_done_fn(struct smtp_client *,
	    const struct smtp_client_result *, void *arg);

/*
 * Start the session on fd (connected; the client owns it from now on,
 * closed on success and failure alike).  tx is used as said above.  NULL
 * with errno set when lib/io refuses the fd.  Bad arguments (no
 * recipient, too many, no helo_name or peer_name, a TLS policy without
 * tls_ctx, AUTH without credentials or with credentials over
 * SMTP_CLIENT_CRED_MAX) are bugs: fatalx.
 */
struct smtp_client *smtp_client_new(struct ev *, int fd,
	    const struct smtp_client_params *, struct smtp_client_tx *,
	    smtp_client_done_fn *, void *arg);
/* Accepts NULL, sets NULL; may be called from the done callback. */
void	smtp_client_free(struct smtp_client **);

const char *smtp_client_status_str(enum smtp_client_status);
/* "receiving the initial server greeting", "sending message body"... */
const char *smtp_client_stage_str(enum smtp_client_stage);

#endif
