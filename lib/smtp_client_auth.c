/*
 * smtp_client_auth — AUTH for the SMTP client engine (smtp_client.h):
 * PLAIN with an initial response (RFC 4616, RFC 4954 §4) or LOGIN, only
 * over TLS.  The credentials are wiped from our buffers once queued.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "buf.h"
#include "io.h"
#include "log.h"
#include "sasl.h"
#include "smtp_client.h"
#include "smtp_client_private.h"
#include "smtp_proto.h"

static void
auth_send_b64(struct smtp_client *c, const char *prefix, const void *v,
    size_t len)
{
	struct buf	 b;

	buf_init(&b, SMTP_CMD_PARAM_LINE_MAX);
	if (buf_add_str(&b, prefix) == -1 ||
	    sasl_b64_encode(v, len, &b) == -1 || buf_add(&b, "\r\n", 2) == -1)
		fatalx("smtp_client: AUTH line too long");
	smtp_client_send(c, (const char *)BUF_DATA(&b), b.len);
	buf_wipe(&b);
}

static void
auth_plain(struct smtp_client *c)
{
	const char	*u = c->params.auth_user, *p = c->params.auth_pass;
	size_t		 ul = strlen(u), pl = strlen(p);
	char		 msg[2 * SMTP_CLIENT_CRED_MAX + 2];

	/* message = [authzid] NUL authcid NUL passwd (RFC 4616 §2) */
	msg[0] = '\0';
	memcpy(msg + 1, u, ul);
	msg[1 + ul] = '\0';
	memcpy(msg + 2 + ul, p, pl);
	auth_send_b64(c, "AUTH PLAIN ", msg, 2 + ul + pl);
	explicit_bzero(msg, sizeof(msg));
	smtp_client_wait(c, SC_AUTH_PLAIN, c->params.timeout_cmd_ms);
}

static bool
auth_may(const struct smtp_client *c, enum smtp_client_auth want,
    const char *mech)
{
	return (c->params.auth == want ||
	    c->params.auth == SMTP_CLIENT_AUTH_ANY) &&
	    smtp_proto_caps_has_auth(&c->result.caps, mech);
}

void
smtp_client_auth_start(struct smtp_client *c)
{
	c->state = SC_AUTH;
	if (!io_is_tls(c->io))
		smtp_client_fail_local(c, "4.7.0", "SASL authentication "
		    "with %s needs TLS, which is not in use", c->peer);
	else if (!(c->result.caps.flags & SMTP_CAP_AUTH))
		smtp_client_fail_local(c, "4.7.0", "AUTH not offered by "
		    "host %s", c->peer);
	else if (auth_may(c, SMTP_CLIENT_AUTH_PLAIN, "PLAIN"))
		auth_plain(c);
	else if (auth_may(c, SMTP_CLIENT_AUTH_LOGIN, "LOGIN")) {
		smtp_client_send(c, "AUTH LOGIN\r\n", 12);
		smtp_client_wait(c, SC_AUTH_LOGIN, c->params.timeout_cmd_ms);
	} else
		smtp_client_fail_local(c, "4.7.0", "no SASL mechanism in "
		    "common with host %s (offered: %s)", c->peer,
		    c->result.caps.auth);
}

static void
auth_failed(struct smtp_client *c, const struct smtp_reply *r)
{
	struct smtp_client_dsn	 d;
	char			 t[SMTP_CLIENT_TEXT_MAX];

	/* Soft bounce: a refused login is our configuration's problem. */
	smtp_client_dsn_reply(c, &d, r, true, "AUTH command");
	strlcpy(t, "SASL authentication failed; ", sizeof(t));
	strlcat(t, d.text, sizeof(t));
	strlcpy(d.text, t, sizeof(d.text));
	smtp_client_fail(c, &d, true);
}

void
smtp_client_auth_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	const char	*v;

	if (c->state == SC_AUTH_PLAIN || c->state == SC_AUTH_PASS) {
		if (r->code / 100 != 2) {
			auth_failed(c, r);
			return;
		}
		c->result.auth_used = true;
		smtp_client_tx_start(c);
		return;
	}
	if (r->code != 334) {
		auth_failed(c, r);
		return;
	}
	/* LOGIN: the prompts' text is not looked at. */
	v = c->state == SC_AUTH_LOGIN ? c->params.auth_user :
	    c->params.auth_pass;
	auth_send_b64(c, "", v, strlen(v));
	smtp_client_wait(c, c->state == SC_AUTH_LOGIN ? SC_AUTH_USER :
	    SC_AUTH_PASS, c->params.timeout_cmd_ms);
}
