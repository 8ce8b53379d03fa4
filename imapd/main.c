/*
 * imapd — the IMAP server (RFC 9051 IMAP4rev2 / RFC 3501 IMAP4rev1): users'
 * mail clients read and manage their mailboxes through it.
 *
 * SECURITY
 *	Runs as wharf_user, connected to PostgreSQL as the role wharf_imapd
 *	(mailboxes and messages only; no password hashes) and reading the
 *	blob store.  It parses commands from anyone before login, with hard
 *	limits on lines, literals (refused before they are read),
 *	arguments, connections and time (main.conf(5)).  Passwords go to
 *	authd (AUTH_PASSWORD) and are wiped; after login every query is
 *	bound to the user id authd answered.  TLS: STARTTLS on imap_listen
 *	(LOGINDISABLED before it unless imap_plaintext_loopback), implicit
 *	TLS on imaps_listen.
 * STANDARDS
 *	RFC 3501, RFC 9051, RFC 2177 (IDLE), RFC 2342 (NAMESPACE), RFC 2971
 *	(ID), RFC 3348 (CHILDREN), RFC 3516 (BINARY), RFC 3691 (UNSELECT),
 *	RFC 4315 (UIDPLUS), RFC 4731 (ESEARCH), RFC 4959 (SASL-IR), RFC 5161
 *	(ENABLE), RFC 5258 (LIST-EXTENDED), RFC 5819 (LIST-STATUS), RFC 6154
 *	(SPECIAL-USE), RFC 6851 (MOVE), RFC 6855 (UTF8=ACCEPT), RFC 7162
 *	(CONDSTORE, QRESYNC), RFC 7888 (LITERAL+), RFC 7889 (APPENDLIMIT),
 *	RFC 8314 (implicit TLS), RFC 8438 (STATUS=SIZE).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "ev.h"
#include "log.h"
#include "peer.h"
#include "proto_auth.h"
#include "service.h"
#include "tls.h"
#include "xmalloc.h"
#include "imapd.h"

static struct imapd	imapd;

static void
imapd_settings(struct imapd *d, const struct conf *c)
{
	d->hostname = conf_str(c, "myhostname");
	d->line_max = (size_t)conf_int(c, "imap_line_limit");
	d->literal_max = (size_t)conf_int(c, "imap_literal_limit");
	d->append_max = (size_t)conf_int(c, "message_size_limit");
	d->login_timeout = (uint64_t)conf_int(c, "imap_login_timeout");
	d->timeout = (uint64_t)conf_int(c, "imap_timeout");
	d->conn_limit = (size_t)conf_int(c, "imap_connection_limit");
	d->client_limit = (size_t)conf_int(c, "imap_client_connection_limit");
	d->user_limit = (size_t)conf_int(c, "imap_user_connection_limit");
	d->plaintext_loopback = conf_bool(c, "imap_plaintext_loopback");
	d->fts = conf_bool(c, "imap_fts");
}

/* As root: the TLS key is readable only by root. */
static int
imapd_init(struct service *svc, char **err_r)
{
	struct imapd	*d = &imapd;
	char		*err;

	d->svc = svc;
	svc->arg = d;
	imapd_settings(d, svc->conf);
	d->tls = tls_server_ctx_new(conf_str(svc->conf, "tls_cert_file"),
	    conf_str(svc->conf, "tls_key_file"), &err);
	if (d->tls == NULL) {
		log_warnx("TLS disabled: %s", err);
		free(err);
	}
	d->listeners = xcalloc(svc->nlisteners, sizeof(*d->listeners));
	for (size_t i = 0; i < svc->nlisteners; i++) {
		struct listener *l = &d->listeners[d->nlisteners++];

		l->d = d;
		l->fd = svc->listeners[i].fd;
		l->implicit_tls = strcmp(svc->listeners[i].key,
		    "imaps_listen") == 0;
	}
	if (d->nlisteners == 0) {
		*err_r = xstrdup("no listening sockets from the master");
		return -1;
	}
	d->blob_dir = xasprintf("%s/blobs", conf_str(svc->conf, "state_dir"));
	return 0;
}

static int
imapd_start(struct service *svc, char **err_r)
{
	struct imapd	*d = svc->arg;
	char		*ci = db_conninfo(conf_str(svc->conf, "database"),
			    conf_str(svc->conf, "run_dir"), "wharf_imapd");

	d->db = db_new(svc->ev, ci);
	free(ci);
	db_listen(d->db, "wharf_mailbox", imapd_notify, d);
	d->authd = peer_new(svc, "authd", AUTH_SOCKET_NAME, AUTH_PROTO,
	    AUTH_PROTO_VERSION);
	for (size_t i = 0; i < d->nlisteners; i++) {
		struct listener *l = &d->listeners[i];

		if ((l->io = ev_io_add(svc->ev, l->fd, EV_READ, session_accept,
		    l)) == NULL) {
			*err_r = xstrdup("cannot watch a listening socket");
			return -1;
		}
	}
	return 0;
}

/* Stop accepting; idle sessions get BYE, the others after their command. */
static void
imapd_stop(struct service *svc)
{
	struct imapd	*d = svc->arg;

	for (size_t i = 0; i < d->nlisteners; i++)
		ev_io_del(&d->listeners[i].io);
	for (struct session *s = d->sessions; s != NULL; s = s->next)
		session_shutdown(s);
	if (d->nsessions == 0)
		service_done(svc);
}

static void
imapd_cleanup(struct service *svc)
{
	struct imapd	*d = svc->arg;

	if (d == NULL)
		return;
	session_free_all(d);
	for (size_t i = 0; i < d->nlisteners; i++)
		ev_io_del(&d->listeners[i].io);
	free(d->listeners);
	peer_free(&d->authd);
	db_free(&d->db);
	tls_ctx_free(&d->tls);
	free(d->blob_dir);
}

static const struct service_ops imapd_ops = {
	.name = "imapd",
	.user_key = "wharf_user",
	.init = imapd_init,
	.start = imapd_start,
	.stop = imapd_stop,
	.cleanup = imapd_cleanup,
};

int
main(int argc, char *argv[])
{
	return service_main(argc, argv, &imapd_ops);
}
