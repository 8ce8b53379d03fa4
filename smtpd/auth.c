/*
 * smtpd/auth.c — AUTH on the submission ports (RFC 4954), mechanisms
 * PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login), only after
 * TLS (RFC 8314, RFC 4954 4: 538 before it).
 *
 * smtpd decodes the exchange and asks authd (AUTH_PASSWORD); it never sees
 * a password hash.  The decoded secret is wiped as soon as it is sent,
 * and nothing of an AUTH exchange is logged but the user name.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_client.h"
#include "buf.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "peer.h"
#include "proto_auth.h"
#include "sasl.h"
#include "xmalloc.h"
#include "smtpd.h"

#define AUTH_MSG_MAX	(SASL_PLAIN_MSG_MAX + 1)

void
auth_reset(struct session *s)
{
	if (s->auth_login != NULL)
		xfreezero(s->auth_login, strlen(s->auth_login) + 1);
	s->auth_login = NULL;
	s->auth_mech = SASL_MECH_UNKNOWN;
}

static void
auth_done(struct session *s)
{
	auth_reset(s);
	if (s->state == SMTP_STATE_AUTH || s->state == SMTP_STATE_WAIT)
		s->state = SMTP_STATE_CMD;
}

static void
auth_reply(void *arg, struct ipc_msg *msg)
{
	struct session	*s = arg;
	uint64_t	 id;
	const char	*account;
	uint32_t	 status = auth_client_password_reply(msg, &id, &account);

	if (status == AUTH_OK) {
		s->auth_id = id;
		s->auth_user = xstrdup(account);
		log_info("%s authenticated user=%s mech=%s", s->id, account,
		    sasl_mech_name(s->auth_mech));
		session_reply(s, "235 2.7.0 Authentication successful");
	} else if (status == AUTH_FAILED)
		session_error(s, "535 5.7.8 Error: authentication failed");
	else
		session_reply(s, "454 4.7.0 Temporary authentication failure");
	auth_done(s);
	session_resume(s);
}

/* Ask authd; user and password are wiped by the caller. */
static void
auth_check(struct session *s, const char *user, const char *pw)
{
	struct ipc_out	*o;
	uint32_t	 id;

	s->state = SMTP_STATE_WAIT;
	io_pause_read(s->io);
	if ((o = peer_begin(s->sd->authd, AUTH_PASSWORD, &id)) != NULL) {
		ipc_put_str(o, "smtpd");
		ipc_put_str(o, user);
		ipc_put_str(o, pw);
		ipc_put_str(o, s->addr);
		ipc_put_str(o, sasl_mech_name(s->auth_mech));
		if (peer_send(s->sd->authd, o, id, s, &s->pending, auth_reply) == 0)
			return;
	}
	auth_reply(s, NULL);
}

static void
auth_fail_syntax(struct session *s, const char *reply)
{
	session_error(s, "%s", reply);
	auth_done(s);
}

/* PLAIN: [authzid] NUL authcid NUL passwd; no proxy authorization. */
static void
auth_plain(struct session *s, const uint8_t *msg, size_t len)
{
	struct sasl_plain	 p;

	if (sasl_plain_parse(msg, len, &p, NULL) == -1) {
		auth_fail_syntax(s, "501 5.5.2 Error: malformed PLAIN "
		    "response");
		return;
	}
	if (p.authzid[0] != '\0' && strcasecmp(p.authzid, p.authcid) != 0) {
		log_info("%s AUTH PLAIN: authorization identity refused",
		    s->id);
		sasl_plain_clear(&p);
		session_error(s, "535 5.7.8 Error: authentication failed");
		auth_done(s);
		return;
	}
	auth_check(s, p.authcid, p.passwd);
	sasl_plain_clear(&p);
}

/* LOGIN: the user name, then the password, each asked for. */
static void
auth_login(struct session *s, const uint8_t *msg, size_t len)
{
	char	 pw[SASL_PASSWORD_MAX + 1];

	if (s->auth_login == NULL) {
		s->auth_login = xcalloc(1, SASL_FIELD_MAX + 1);
		if (sasl_login_field(msg, len, s->auth_login,
		    SASL_FIELD_MAX + 1, false, NULL) == -1) {
			auth_fail_syntax(s, "501 5.5.2 Error: malformed LOGIN "
			    "user name");
			return;
		}
		session_reply(s, "334 " SASL_LOGIN_PASS_PROMPT);
		s->state = SMTP_STATE_AUTH;
		return;
	}
	if (sasl_login_field(msg, len, pw, sizeof(pw), true, NULL) == -1) {
		auth_fail_syntax(s, "501 5.5.2 Error: malformed LOGIN "
		    "password");
		return;
	}
	auth_check(s, s->auth_login, pw);
	explicit_bzero(pw, sizeof(pw));
}

/* One client response, base64 (RFC 4954 4); "=" is an empty one. */
static void
auth_response(struct session *s, const char *b64, size_t len)
{
	struct buf	 msg;

	buf_init(&msg, AUTH_MSG_MAX);
	if ((len != 1 || b64[0] != '=') &&
	    sasl_b64_decode(b64, len, &msg) == -1) {
		buf_wipe(&msg);
		auth_fail_syntax(s, "501 5.5.2 Error: cannot decode response");
		return;
	}
	if (s->auth_mech == SASL_MECH_PLAIN)
		auth_plain(s, BUF_DATA(&msg), msg.len);
	else
		auth_login(s, BUF_DATA(&msg), msg.len);
	buf_wipe(&msg);
}

/*
 * Whether AUTH may be used now; else the reply is sent.  Checked before
 * the command's arguments, so a port without AUTH or a session without
 * TLS says so whatever the argument looks like.
 */
bool
auth_allowed(struct session *s)
{
	if (!s->submission) {
		session_error(s, "503 5.5.1 Error: authentication not enabled");
		return false;
	}
	if (!s->tls) {		/* RFC 4954 4 */
		session_error(s, "538 5.7.11 Encryption required for "
		    "requested authentication mechanism");
		return false;
	}
	if (s->helo[0] == '\0' || !s->esmtp) {	/* RFC 4954 4: after EHLO */
		session_error(s, "503 5.5.1 Error: send EHLO first");
		return false;
	}
	if (s->auth_id != 0) {
		session_error(s, "503 5.5.1 Error: already authenticated");
		return false;
	}
	if (s->in_tx) {
		session_error(s, "503 5.5.1 Error: MAIL transaction in "
		    "progress");
		return false;
	}
	return true;
}

void
auth_command(struct session *s)
{
	if (!auth_allowed(s))
		return;
	if ((s->auth_mech = sasl_mech_parse(s->cmd.mech)) ==
	    SASL_MECH_UNKNOWN) {
		session_error(s, "504 5.5.4 Error: unsupported "
		    "authentication mechanism");
		return;
	}
	if (s->cmd.arg[0] != '\0') {
		auth_response(s, s->cmd.arg, strlen(s->cmd.arg));
		explicit_bzero(s->cmd.arg, sizeof(s->cmd.arg));
		return;
	}
	session_reply(s, "334 %s", s->auth_mech == SASL_MECH_PLAIN ? "" :
	    SASL_LOGIN_USER_PROMPT);
	s->state = SMTP_STATE_AUTH;
}

/* A response line in SMTP_STATE_AUTH, without its CRLF. */
void
auth_input(struct session *s, const char *line, size_t len)
{
	if (sasl_is_cancel(line, len)) {
		session_error(s, "501 5.0.0 Error: authentication cancelled");
		auth_done(s);
		return;
	}
	s->state = SMTP_STATE_CMD;
	auth_response(s, line, len);
}
