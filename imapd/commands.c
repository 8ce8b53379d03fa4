/*
 * imapd/commands.c — the command table, and the commands of the
 * not-authenticated state and of any state (RFC 9051 6.1, 6.2): CAPABILITY,
 * NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE (SASL PLAIN, RFC 4959
 * SASL-IR), ENABLE (RFC 5161: UTF8=ACCEPT, CONDSTORE and QRESYNC of RFC
 * 7162, IMAP4rev2), ID (RFC 2971), NAMESPACE (RFC 2342), IDLE (RFC 2177),
 * CHECK.
 *
 * IMAP4rev2 (RFC 9051) is offered next to IMAP4rev1 (RFC 9051 7.2.2:
 * the client picks): a session is IMAP4rev1's until ENABLE IMAP4rev2,
 * which turns on the rev2 forms (no RECENT, no \Recent, ESEARCH, UTF-8
 * names, LIST in SELECT's answer).  What rev2 folds in from extensions
 * is offered to both: SEARCHRES, BINARY, LIST-EXTENDED, LIST-STATUS,
 * STATUS=SIZE (and DELETED), MOVE, UIDPLUS, ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "auth_client.h"
#include "buf.h"
#include "imap_parse.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "peer.h"
#include "proto_auth.h"
#include "sasl.h"
#include "xmalloc.h"
#include "imapd.h"

#define S_NOTAUTH	(1u << IMAP_STATE_NOTAUTH)
#define S_AUTH		(1u << IMAP_STATE_AUTH)
#define S_SELECTED	(1u << IMAP_STATE_SELECTED)
#define S_ANY		(S_NOTAUTH | S_AUTH | S_SELECTED)
#define S_LOGGEDIN	(S_AUTH | S_SELECTED)

/* What is offered in every state (RFC 9051 7.2.2), and after login. */
#define CAPS_COMMON	"IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE " \
			"NAMESPACE UNSELECT"
#define CAPS_LOGGEDIN	"UTF8=ACCEPT ESEARCH SEARCHRES BINARY CONDSTORE " \
			"QRESYNC"
/* mailboxes.c, append.c, copy.c; APPENDLIMIT (RFC 7889) follows. */
#define CAPS_MAILBOXES	"CHILDREN LIST-EXTENDED SPECIAL-USE LIST-STATUS " \
			"STATUS=SIZE UIDPLUS MOVE"

const char *
capability_string(const struct session *s)
{
	static char	 caps[512];
	bool		 plain_ok = s->tls || (s->loopback &&
			    s->d->plaintext_loopback);

	if (s->state != IMAP_STATE_NOTAUTH) {
		snprintf(caps, sizeof(caps), "%s %s %s APPENDLIMIT=%zu",
		    CAPS_COMMON, CAPS_LOGGEDIN, CAPS_MAILBOXES,
		    s->d->append_max);
		return caps;
	}
	if (!s->tls && s->d->tls != NULL)
		return plain_ok ? CAPS_COMMON " STARTTLS AUTH=PLAIN" :
		    CAPS_COMMON " STARTTLS LOGINDISABLED";
	return plain_ok ? CAPS_COMMON " AUTH=PLAIN" :
	    CAPS_COMMON " LOGINDISABLED";
}

static bool
login_allowed(struct session *s)
{
	return s->tls || (s->loopback && s->d->plaintext_loopback);
}

static bool
no_args(struct session *s)
{
	if (s->cmd.nargs == 0)
		return true;
	cmd_done(s, "BAD", "%s takes no arguments", s->cmd.name);
	return false;
}

static void
cmd_capability(struct session *s)
{
	if (!no_args(s))
		return;
	session_printf(s, "* CAPABILITY %s", capability_string(s));
	cmd_done(s, "OK", "CAPABILITY completed");
}

static void
noop_done(struct session *s)
{
	cmd_done(s, "OK", "%s completed", s->cmd.name);
}

/* NOOP, CHECK: a chance for the server to say what changed. */
static void
cmd_noop(struct session *s)
{
	if (!no_args(s))
		return;
	if (s->state == IMAP_STATE_SELECTED)
		mbox_sync(s, true, noop_done);
	else
		noop_done(s);
}

static void
cmd_logout(struct session *s)
{
	if (!no_args(s))
		return;
	session_printf(s, "* BYE Logging out");
	cmd_done(s, "OK", "LOGOUT completed");
	s->closing = true;
	s->state = IMAP_STATE_LOGOUT;
	io_pause_read(s->io);
	io_close_after_flush(s->io);
}

static void
cmd_starttls(struct session *s)
{
	if (!no_args(s))
		return;
	if (s->tls || s->d->tls == NULL) {
		cmd_done(s, "BAD", "TLS %s", s->tls ? "already active" :
		    "not available");
		return;
	}
	session_printf(s, "%s OK Begin TLS negotiation now", s->cmd.tag);
	s->wait = WAIT_TLS;
	/* RFC 9051 6.2.1: anything pipelined after STARTTLS is dropped. */
	io_starttls(s->io, s->d->tls, true);
}

/* ---- LOGIN and AUTHENTICATE: authd checks the password ---- */

static void	login_count(struct session *);

static void
login_done(struct session *s)
{
	cmd_done(s, "OK", "[CAPABILITY %s] Logged in", capability_string(s));
}

static void
login_reply(void *arg, struct ipc_msg *msg)
{
	struct session	*s = arg;
	uint64_t	 id;
	const char	*account;
	uint32_t	 status = auth_client_password_reply(msg, &id, &account);

	if (status == AUTH_OK) {
		s->user_id = id;
		s->user = xstrdup(account);
		login_count(s);
	} else if (status == AUTH_FAILED)
		cmd_done(s, "NO", "[AUTHENTICATIONFAILED] Authentication "
		    "failed");
	else
		cmd_done(s, "NO", "[UNAVAILABLE] Temporary authentication "
		    "failure, try again later");
}

/* The user's sessions over every imapd: imap_user_connection_limit. */
static void
login_counted(void *arg, struct ipc_msg *msg)
{
	struct session	*s = arg;
	uint32_t	 status = auth_client_connect_reply(msg, NULL);

	if (status == AUTH_TOOMANY) {
		log_info("%s login user=%s [%s] refused: too many sessions",
		    s->id, s->user, s->addr);
		free(s->user);
		s->user = NULL;
		s->user_id = 0;
		cmd_done(s, "NO", "[LIMIT] Too many sessions for this user");
		return;
	}
	s->counted_user = status == AUTH_OK;
	s->state = IMAP_STATE_AUTH;
	log_info("%s login user=%s [%s]", s->id, s->user, s->addr);
	mailboxes_ensure(s, login_done);	/* INBOX and the defaults */
}

static void
login_count(struct session *s)
{
	struct ipc_out	*o;
	uint32_t	 id;
	char		 key[80];

	snprintf(key, sizeof(key), "imapuser/%llu",
	    (unsigned long long)s->user_id);
	if ((o = peer_begin(s->d->authd, AUTH_CONNECT, &id)) != NULL) {
		ipc_put_str(o, key);
		ipc_put_u32(o, (uint32_t)s->d->user_limit);
		if (peer_send(s->d->authd, o, id, s, &s->pending,
		    login_counted) == 0)
			return;
	}
	login_counted(s, NULL);
}

static void
login_check(struct session *s, const char *user, const char *pw,
    const char *mech)
{
	struct ipc_out	*o;
	uint32_t	 id;

	if ((o = peer_begin(s->d->authd, AUTH_PASSWORD, &id)) != NULL) {
		ipc_put_str(o, "imapd");
		ipc_put_str(o, user);
		ipc_put_str(o, pw);
		ipc_put_str(o, s->addr);
		ipc_put_str(o, mech);
		if (peer_send(s->d->authd, o, id, s, &s->pending,
		    login_reply) == 0)
			return;
	}
	login_reply(s, NULL);
}

static void
cmd_login(struct session *s)
{
	const char	*user, *pw;
	size_t		 ulen, plen;

	if (s->cmd.nargs != 2 ||
	    !imap_arg_astring(&s->cmd.args[0], &user, &ulen) ||
	    !imap_arg_astring(&s->cmd.args[1], &pw, &plen)) {
		cmd_done(s, "BAD", "Syntax: LOGIN user password");
		return;
	}
	if (!login_allowed(s)) {
		cmd_done(s, "NO", "[PRIVACYREQUIRED] LOGIN needs TLS "
		    "(STARTTLS) first");
		return;
	}
	if (strlen(user) != ulen || strlen(pw) != plen ||
	    plen > SASL_PASSWORD_MAX || ulen > SASL_FIELD_MAX) {
		cmd_done(s, "NO", "[AUTHENTICATIONFAILED] Authentication "
		    "failed");
		return;
	}
	login_check(s, user, pw, "LOGIN");
}

/* The decoded PLAIN message (RFC 4616); proxy authorization refused. */
static void
auth_plain(struct session *s, const char *b64, size_t len)
{
	struct buf		 msg;
	struct sasl_plain	 p;

	buf_init(&msg, SASL_PLAIN_MSG_MAX + 1);
	if ((len != 1 || b64[0] != '=') &&
	    sasl_b64_decode(b64, len, &msg) == -1) {
		buf_wipe(&msg);
		cmd_done(s, "BAD", "Invalid base64 response");
		return;
	}
	if (sasl_plain_parse(BUF_DATA(&msg), msg.len, &p, NULL) == -1 ||
	    (p.authzid[0] != '\0' && strcasecmp(p.authzid, p.authcid) != 0)) {
		buf_wipe(&msg);
		sasl_plain_clear(&p);
		cmd_done(s, "NO", "[AUTHENTICATIONFAILED] Authentication "
		    "failed");
		return;
	}
	buf_wipe(&msg);
	s->wait = WAIT_CMD;
	login_check(s, p.authcid, p.passwd, "PLAIN");
	sasl_plain_clear(&p);
}

static void
cmd_authenticate(struct session *s)
{
	const char	*mech, *ir;

	if (s->cmd.nargs < 1 || s->cmd.nargs > 2 ||
	    !imap_arg_atom(&s->cmd.args[0], &mech) || (s->cmd.nargs == 2 &&
	    !imap_arg_atom(&s->cmd.args[1], &ir))) {
		cmd_done(s, "BAD", "Syntax: AUTHENTICATE mechanism "
		    "[initial-response]");
		return;
	}
	if (sasl_mech_parse(mech) != SASL_MECH_PLAIN) {
		cmd_done(s, "NO", "Unsupported authentication mechanism");
		return;
	}
	if (!login_allowed(s)) {
		cmd_done(s, "NO", "[PRIVACYREQUIRED] Authentication needs TLS "
		    "(STARTTLS) first");
		return;
	}
	if (s->cmd.nargs == 2) {		/* RFC 4959 SASL-IR */
		auth_plain(s, ir, strlen(ir));
		return;
	}
	session_printf(s, "+ ");
	s->wait = WAIT_AUTH;
}

/* The client's response line to "+ " (RFC 9051 6.2.2). */
void
auth_input(struct session *s, const char *line, size_t len)
{
	if (sasl_is_cancel(line, len)) {
		cmd_done(s, "BAD", "Authentication cancelled");
		return;
	}
	auth_plain(s, line, len);
}

/* ---- any state ---- */

static void
cmd_id(struct session *s)
{
	if (s->cmd.nargs != 1 || (s->cmd.args[0].type != IMAP_ARG_NIL &&
	    s->cmd.args[0].type != IMAP_ARG_LIST)) {
		cmd_done(s, "BAD", "Syntax: ID (field value ...) or ID NIL");
		return;
	}
	session_printf(s, "* ID (\"name\" \"Wharf\" \"vendor\" \"Wharf\")");
	cmd_done(s, "OK", "ID completed");
}

/*
 * Enable one capability: its name for ENABLED, or NULL when it is not
 * ours or was on before this ENABLE.
 */
static const char *
enable_one(struct session *s, const char *cap, bool condstore_before)
{
	if (strcasecmp(cap, "UTF8=ACCEPT") == 0 && !s->utf8) {
		s->utf8 = true;
		imap_parser_set_utf8(s->parser, true);
		return "UTF8=ACCEPT";
	}
	if (strcasecmp(cap, "CONDSTORE") == 0 && !condstore_before) {
		mbox_condstore_enable(s);
		return "CONDSTORE";
	}
	if (strcasecmp(cap, "QRESYNC") == 0 && !s->qresync) {
		s->qresync = true;	/* RFC 7162 3.2.3: CONDSTORE too */
		mbox_condstore_enable(s);
		return "QRESYNC";
	}
	if (strcasecmp(cap, "IMAP4rev2") == 0 && !s->rev2) {
		s->rev2 = true;		/* RFC 9051 5.1: UTF-8 names */
		s->utf8 = true;
		imap_parser_set_utf8(s->parser, true);
		return "IMAP4rev2";
	}
	return NULL;
}

static bool
all_atoms(const struct session *s)
{
	const char	*atom;

	for (size_t i = 0; i < s->cmd.nargs; i++)
		if (!imap_arg_atom(&s->cmd.args[i], &atom))
			return false;
	return s->cmd.nargs > 0;
}

/* RFC 5161; only what is implemented is enabled. */
static void
cmd_enable(struct session *s)
{
	char		 enabled[200] = "", word[40];
	const char	*cap, *on;
	bool		 condstore = s->condstore;

	if (!all_atoms(s)) {
		cmd_done(s, "BAD", "Syntax: ENABLE capability ...");
		return;
	}
	for (size_t i = 0; i < s->cmd.nargs; i++) {
		(void)imap_arg_atom(&s->cmd.args[i], &cap);
		if ((on = enable_one(s, cap, condstore)) == NULL)
			continue;
		snprintf(word, sizeof(word), " %s", on);
		if (strstr(enabled, word) == NULL)	/* CONDSTORE twice */
			strlcat(enabled, word, sizeof(enabled));
	}
	session_printf(s, "* ENABLED%s", enabled);
	cmd_done(s, "OK", "ENABLE completed");
}

static void
cmd_namespace(struct session *s)
{
	if (!no_args(s))
		return;
	session_printf(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	cmd_done(s, "OK", "NAMESPACE completed");
}

/* ---- IDLE (RFC 2177): changes are pushed until DONE ---- */

static void	idle_synced(struct session *);

/* A NOTIFY came while IDLE's sync ran: one more sync (it may be news). */
static bool
idle_again(struct session *s)
{
	if (s->sel == NULL || !s->sel->idle_again)
		return false;
	s->sel->idle_again = false;
	s->wait = WAIT_CMD;
	mbox_sync(s, true, idle_synced);
	return true;
}

static void
idle_started(struct session *s)
{
	session_printf(s, "+ idling");
	if (idle_again(s))
		return;
	s->wait = WAIT_IDLE;
	session_continue(s);	/* read the DONE */
}

static void
cmd_idle(struct session *s)
{
	if (!no_args(s))
		return;
	if (s->state == IMAP_STATE_SELECTED)
		mbox_sync(s, true, idle_started);
	else
		idle_started(s);
}

/* A NOTIFY for the selected mailbox while idling: reported; wait on. */
static void
idle_synced(struct session *s)
{
	if (s->wait != WAIT_CMD || idle_again(s))
		return;
	s->wait = WAIT_IDLE;
	session_continue(s);	/* a DONE may have come meanwhile */
}

void
idle_notify(struct session *s)
{
	if (s->wait == WAIT_CMD && s->cmd.name != NULL &&
	    strcmp(s->cmd.name, "IDLE") == 0) {
		s->sel->idle_again = true;	/* its sync may not see it */
		return;
	}
	if (s->wait != WAIT_IDLE)
		return;
	s->wait = WAIT_CMD;	/* one sync at a time */
	mbox_sync(s, true, idle_synced);
}

void
idle_input(struct session *s, const char *line, size_t len)
{
	if (len != 4 || strncasecmp(line, "DONE", 4) != 0) {
		cmd_done(s, "BAD", "Expected DONE");
		return;
	}
	cmd_done(s, "OK", "IDLE terminated");
}

/* ---- the table ---- */

static const struct command {
	const char	*name;
	unsigned	 states;
	bool		 uid;		/* may follow UID */
	void		(*fn)(struct session *);
} commands[] = {
	{ "CAPABILITY", S_ANY, false, cmd_capability },
	{ "NOOP", S_ANY, false, cmd_noop },
	{ "LOGOUT", S_ANY, false, cmd_logout },
	{ "STARTTLS", S_NOTAUTH, false, cmd_starttls },
	{ "LOGIN", S_NOTAUTH, false, cmd_login },
	{ "AUTHENTICATE", S_NOTAUTH, false, cmd_authenticate },
	{ "ID", S_ANY, false, cmd_id },
	{ "ENABLE", S_LOGGEDIN, false, cmd_enable },
	{ "NAMESPACE", S_LOGGEDIN, false, cmd_namespace },
	{ "IDLE", S_LOGGEDIN, false, cmd_idle },
	{ "SELECT", S_LOGGEDIN, false, cmd_select },
	{ "EXAMINE", S_LOGGEDIN, false, cmd_select },
	{ "CHECK", S_SELECTED, false, cmd_noop },
	{ "CLOSE", S_SELECTED, false, cmd_close },
	{ "UNSELECT", S_SELECTED, false, cmd_unselect },
	{ "EXPUNGE", S_SELECTED, true, cmd_expunge },
	{ "SEARCH", S_SELECTED, true, cmd_search },
	{ "FETCH", S_SELECTED, true, cmd_fetch },
	{ "STORE", S_SELECTED, true, cmd_store },
	{ "CREATE", S_LOGGEDIN, false, cmd_create },
	{ "DELETE", S_LOGGEDIN, false, cmd_delete },
	{ "RENAME", S_LOGGEDIN, false, cmd_rename },
	{ "SUBSCRIBE", S_LOGGEDIN, false, cmd_subscribe },
	{ "UNSUBSCRIBE", S_LOGGEDIN, false, cmd_subscribe },
	{ "LIST", S_LOGGEDIN, false, cmd_list },
	{ "LSUB", S_LOGGEDIN, false, cmd_list },
	{ "STATUS", S_LOGGEDIN, false, cmd_status },
	{ "APPEND", S_LOGGEDIN, false, cmd_append },
	{ "COPY", S_SELECTED, true, cmd_copy },
	{ "MOVE", S_SELECTED, true, cmd_copy },
};

static const struct command *
command_find(const char *name, bool uid)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcasecmp(commands[i].name, name) == 0 &&
		    (!uid || commands[i].uid))
			return &commands[i];
	return NULL;
}

void
command_run(struct session *s)
{
	const struct command	*c;
	const char		*name = s->cmd.name;

	if (strcmp(name, "UID") == 0) {
		if (s->cmd.nargs == 0 || !imap_arg_atom(&s->cmd.args[0],
		    &name)) {
			cmd_done(s, "BAD", "Syntax: UID command arguments");
			return;
		}
		s->cmd.uid = true;
		s->cmd.args++;
		s->cmd.nargs--;
	}
	if ((c = command_find(name, s->cmd.uid)) == NULL) {
		cmd_done(s, "BAD", "Unknown command");
		return;
	}
	if (!(c->states & (1u << s->state))) {
		cmd_done(s, "BAD", "%s not allowed %s", c->name,
		    s->state == IMAP_STATE_NOTAUTH ? "before login" :
		    s->state == IMAP_STATE_AUTH ? "without a selected mailbox" :
		    "after login");
		return;
	}
	s->cmd.name = c->name;
	c->fn(s);
}
