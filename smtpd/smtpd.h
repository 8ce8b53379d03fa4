/* smtpd — private header.  See smtpd/main.c for the overview. */
#ifndef WHARF_SMTPD_H
#define WHARF_SMTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "addr.h"
#include "buf.h"
#include "smtp_proto.h"

struct ev_io;
struct ev_timer;
struct io;
struct ipc_conn;
struct ipc_msg;
struct peer;
struct peer_req;
struct service;
struct session;
struct submit;

struct listener {
	struct smtpd	*sd;
	int		 fd;
	struct ev_io	*io;
	bool		 implicit_tls;	/* submissions_listen (RFC 8314) */
	bool		 submission;	/* submission(s)_listen: AUTH, RFC 6409 */
};

struct smtpd {
	struct service	*svc;
	SSL_CTX		*tls;
	struct listener	*listeners;
	size_t		 nlisteners;
	struct peer	*authd, *qmgr;	/* lib/peer */
	struct session	*sessions;
	size_t		 nsessions;
	uint64_t	 next_id;
	/* settings */
	const char	*hostname;
	const char	*banner;
	uint64_t	 size_limit;
	size_t		 conn_limit, client_limit, rcpt_limit, error_limit;
	uint64_t	 timeout, data_timeout;
	bool		 normalize_newlines;
	bool		 sender_any;	/* submission_sender_check = any */
	bool		 received_auth;	/* submission_received_auth */
};

enum smtp_state {
	SMTP_STATE_CMD,		/* reading commands */
	SMTP_STATE_WAIT,	/* a command waits for authd or qmgr */
	SMTP_STATE_DATA,	/* reading the DATA body */
	SMTP_STATE_BDAT,	/* reading a BDAT chunk */
	SMTP_STATE_TLS,		/* STARTTLS handshake */
	SMTP_STATE_AUTH,	/* reading an AUTH response line */
	SMTP_STATE_CLOSING,	/* final reply queued */
};

struct rcpt {
	char		*address;	/* local@domain as sent */
	char		*orcpt;		/* "rfc822;xtext" or "" */
	unsigned	 notify;
};

struct session {
	struct session	*next;
	struct smtpd	*sd;
	char		 id[24];
	struct io	*io;
	enum smtp_state	 state;
	char		 addr[64];	/* client IP, numeric */
	char		 helo[256];
	bool		 esmtp, tls, relay_ok, implicit_tls, greeted;
	bool		 counted;	/* by authd: AUTH_DISCONNECT at the end */
	bool		 submission;	/* on a submission listener */
	unsigned	 errors;
	/* AUTH (auth.c) */
	uint64_t	 auth_id;	/* authd's user id once authenticated */
	char		*auth_user;	/* the account, "local@domain" */
	int		 auth_mech;	/* enum sasl_mech of the exchange */
	char		*auth_login;	/* LOGIN: the user name given */
	struct ev_timer	*cmd_timer, *data_timer;
	struct peer_req	*pending;	/* the one request in flight */
	/* the transaction */
	bool		 in_tx;
	struct addr	 from;
	struct smtp_params from_params;
	struct rcpt	*rcpts;
	size_t		 nrcpt;
	char		*spool;		/* qmgr's spool id */
	int		 spool_fd;
	uint64_t	 msg_size;
	struct buf	 out;		/* body bytes not yet written */
	const char	*data_error;	/* reply for the end of data */
	bool		 prev_crlf;	/* last DATA line ended in CRLF */
	bool		 bdat_last;
	uint64_t	 bdat_left;
	struct submit	*submit;	/* submission: header checks */
	struct smtp_cmd	 cmd;		/* the command being handled */
};

/* session.c */
void	session_accept(int fd, unsigned events, void *arg);
void	session_free(struct session *);
void	session_free_all(struct smtpd *);
void	session_reply(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	session_error(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	session_resume(struct session *);
void	session_tx_reset(struct session *);
void	session_input(struct session *);
void	session_shutdown(struct session *);

/* commands.c */
void	session_command(struct session *, char *, size_t);

/* data.c: DATA and BDAT bodies into the spool file */
void	data_start(struct session *);
void	data_input(struct session *);
void	bdat_input(struct session *);
void	data_received_header(struct session *);
void	data_finish(struct session *);
void	data_commit(struct session *);
/* Bytes of ours into the spool (not counted against the size limit). */
void	data_put(struct session *, const void *, size_t);

/* auth.c: AUTH (RFC 4954) on submission */
void	auth_command(struct session *);
bool	auth_allowed(struct session *);
void	auth_input(struct session *, const char *line, size_t len);
void	auth_reset(struct session *);

/* submit.c: the message header on submission (RFC 6409 8) */
void	submit_start(struct session *);
void	submit_feed(struct session *, const uint8_t *, size_t);
bool	submit_in_header(const struct session *);
/* The body is complete: finish the header, check the senders, then
   data_commit() or reject. */
void	submit_finish(struct session *);
void	submit_free(struct session *);

#endif
