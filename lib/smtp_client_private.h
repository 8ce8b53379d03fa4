/*
 * smtp_client_private — shared by lib/smtp_client*.c only; see
 * smtp_client.h for the API.  smtp_client.c runs the session (greeting,
 * EHLO/HELO, STARTTLS, results, the end), smtp_client_auth.c AUTH,
 * smtp_client_tx.c the transaction (checks, MAIL/RCPT/DATA, the body).
 */
#ifndef WHARF_SMTP_CLIENT_PRIVATE_H
#define WHARF_SMTP_CLIENT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_client.h"
#include "smtp_proto.h"

struct ev_timer;
struct io;

/* What the next reply answers (or what we wait for). */
enum smtp_client_state {
	SC_GREETING,
	SC_EHLO,
	SC_HELO,
	SC_STARTTLS,
	SC_HANDSHAKE,		/* no reply: IO_TLSREADY */
	SC_AUTH,		/* about to authenticate: no reply */
	SC_AUTH_PLAIN,
	SC_AUTH_LOGIN,
	SC_AUTH_USER,
	SC_AUTH_PASS,
	SC_MAIL,
	SC_RCPT,		/* the reply to sent[nreplied] */
	SC_DATA,
	SC_BODY,		/* no reply due: an early one ends it */
	SC_DOT,
	SC_DOT_DISCARD,		/* "." after a 354 nobody needed */
	SC_QUIT,
	SC_DONE,
};

struct smtp_client {
	struct ev			*ev;
	struct io			*io;
	struct ev_timer			*timer;
	struct smtp_reply_parser	*parser;
	smtp_client_done_fn		*done;
	void				*arg;
	struct smtp_client_params	 params;	/* strings: copies */
	char				 peer[300];	/* "name[addr]" */
	struct smtp_client_tx		*tx;
	struct smtp_client_result	 result;
	enum smtp_client_state		 state;
	int				 busy;
	bool				 dead;		/* freed while busy */
	bool				 finished;	/* done was called */
	bool				 tls_tried;	/* STARTTLS sent */

	/* The transaction. */
	size_t				*sent;	/* rcpts sent, in order */
	size_t				 nsent;
	size_t				 nreplied;
	size_t				 naccepted;
	bool				 mail_ok;
	bool				 need_utf8;

	/* The body: a position in prefix + msg and the stuffing state. */
	uint64_t			 body_off;
	uint64_t			 body_len;
	bool				 bol;		/* at a line's start */
	bool				 cr;		/* a CR is pending */
	bool				 dot_flushed;
};

/* smtp_client.c */
void	smtp_client_send(struct smtp_client *, const char *, size_t);
void	smtp_client_send_cmd(struct smtp_client *, const struct smtp_cmd *);
void	smtp_client_wait(struct smtp_client *, enum smtp_client_state,
	    uint64_t ms);
void	smtp_client_dsn_reply(struct smtp_client *, struct smtp_client_dsn *,
	    const struct smtp_reply *, bool force_temp, const char *what);
void	smtp_client_dsn_local(struct smtp_client_dsn *,
	    enum smtp_client_status, const char *enh, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
void	smtp_client_decide(struct smtp_client *,
	    const struct smtp_client_dsn *);
void	smtp_client_fail(struct smtp_client *, const struct smtp_client_dsn *,
	    bool quit);
void	smtp_client_fail_local(struct smtp_client *, const char *enh,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	smtp_client_quit(struct smtp_client *);
void	smtp_client_end(struct smtp_client *);

/* smtp_client_auth.c */
void	smtp_client_auth_start(struct smtp_client *);
void	smtp_client_auth_reply(struct smtp_client *, const struct smtp_reply *);

/* smtp_client_tx.c */
void	smtp_client_tx_start(struct smtp_client *);
void	smtp_client_tx_reply(struct smtp_client *, const struct smtp_reply *);
void	smtp_client_tx_lowat(struct smtp_client *);
size_t	smtp_client_tx_outmax(size_t nrcpts);

#endif
