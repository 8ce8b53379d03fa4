/*
 * smtpd — the SMTP server for mail from the Internet (port 25) and from
 * users' mail clients (submission: 587 with STARTTLS, 465 with implicit
 * TLS, both requiring AUTH).
 *
 * SECURITY
 *	The most exposed process: it parses bytes from anyone before any
 *	authentication.  It starts as root only to read the TLS key, then
 *	runs as wharf_null_user, chrooted to $run_dir/private, with no
 *	database connection and no secret but that key.  It asks authd about
 *	recipients and passwords (AUTH: it never sees a password hash) and
 *	hands messages to qmgr over the UNIX sockets in its
 *	chroot; the message body goes straight into a spool file whose
 *	descriptor qmgr passes it.  Every input has a limit (line lengths,
 *	recipients, message size, errors, connections, timeouts): see
 *	main.conf(5).
 * STANDARDS
 *	RFC 5321 (SMTP), RFC 1870 (SIZE), RFC 2034 and 3463 (enhanced status
 *	codes), RFC 2920 (PIPELINING), RFC 3030 (CHUNKING), RFC 3207
 *	(STARTTLS), RFC 3461 (DSN parameters), RFC 3848 (Received protocol
 *	names), RFC 4954 (AUTH), RFC 4616 (PLAIN), RFC 6152 (8BITMIME),
 *	RFC 6409 (message submission), RFC 6531 (SMTPUTF8), RFC 8314
 *	(implicit TLS for submission), RFC 8996 (TLS 1.2 or newer).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ev.h"
#include "io.h"
#include "log.h"
#include "peer.h"
#include "proto_auth.h"
#include "proto_queue.h"
#include "service.h"
#include "tls.h"
#include "xmalloc.h"
#include "smtpd.h"

static struct smtpd	smtpd;

static void
smtpd_settings(struct smtpd *sd, const struct conf *c)
{
	sd->hostname = conf_str(c, "myhostname");
	sd->banner = conf_str(c, "smtpd_banner");
	sd->size_limit = (uint64_t)conf_int(c, "message_size_limit");
	sd->conn_limit = (size_t)conf_int(c, "smtpd_connection_limit");
	sd->client_limit = (size_t)conf_int(c,
	    "smtpd_client_connection_limit");
	sd->rcpt_limit = (size_t)conf_int(c, "smtpd_recipient_limit");
	sd->error_limit = (size_t)conf_int(c, "smtpd_error_limit");
	sd->timeout = (uint64_t)conf_int(c, "smtpd_timeout");
	sd->data_timeout = (uint64_t)conf_int(c, "smtpd_data_timeout");
	sd->normalize_newlines = strcmp(conf_str(c, "smtpd_bare_newline"),
	    "normalize") == 0;
	sd->sender_any = strcmp(conf_str(c, "submission_sender_check"),
	    "any") == 0;
	sd->received_auth = conf_bool(c, "submission_received_auth");
}

/* As root: the TLS key is readable only by root. */
static int
smtpd_init(struct service *svc, char **err_r)
{
	struct smtpd	*sd = &smtpd;
	char		*err;

	sd->svc = svc;
	svc->arg = sd;
	smtpd_settings(sd, svc->conf);
	sd->tls = tls_server_ctx_new(conf_str(svc->conf, "tls_cert_file"),
	    conf_str(svc->conf, "tls_key_file"), &err);
	if (sd->tls == NULL) {
		log_warnx("TLS disabled: %s", err);	/* plaintext still works */
		free(err);
	}
	sd->listeners = xcalloc(svc->nlisteners, sizeof(*sd->listeners));
	for (size_t i = 0; i < svc->nlisteners; i++) {
		struct listener *l = &sd->listeners[sd->nlisteners++];

		l->sd = sd;
		l->fd = svc->listeners[i].fd;
		l->implicit_tls = strcmp(svc->listeners[i].key,
		    "submissions_listen") == 0;
		l->submission = l->implicit_tls || strcmp(svc->listeners[i].key,
		    "submission_listen") == 0;
	}
	if (sd->nlisteners == 0) {
		*err_r = xstrdup("no listening sockets from the master");
		return -1;
	}
	return 0;
}

static int
smtpd_start(struct service *svc, char **err_r)
{
	struct smtpd	*sd = svc->arg;

	sd->authd = peer_new(svc, "authd", AUTH_SOCKET_NAME, AUTH_PROTO,
	    AUTH_PROTO_VERSION);
	sd->qmgr = peer_new(svc, "qmgr", QUEUE_SOCKET_NAME, QUEUE_PROTO,
	    QUEUE_PROTO_VERSION);
	for (size_t i = 0; i < sd->nlisteners; i++) {
		struct listener *l = &sd->listeners[i];

		if ((l->io = ev_io_add(svc->ev, l->fd, EV_READ, session_accept,
		    l)) == NULL) {
			*err_r = xstrdup("cannot watch a listening socket");
			return -1;
		}
	}
	return 0;
}

/* Stop accepting; sessions finish (a transaction in flight completes). */
static void
smtpd_stop(struct service *svc)
{
	struct smtpd	*sd = svc->arg;

	for (size_t i = 0; i < sd->nlisteners; i++)
		ev_io_del(&sd->listeners[i].io);
	for (struct session *s = sd->sessions; s != NULL; s = s->next)
		session_shutdown(s);
	if (sd->nsessions == 0)
		service_done(svc);
}

static void
smtpd_cleanup(struct service *svc)
{
	struct smtpd	*sd = svc->arg;

	if (sd == NULL)
		return;
	session_free_all(sd);
	for (size_t i = 0; i < sd->nlisteners; i++)
		ev_io_del(&sd->listeners[i].io);
	free(sd->listeners);
	peer_free(&sd->authd);
	peer_free(&sd->qmgr);
	tls_ctx_free(&sd->tls);
}

static const struct service_ops smtpd_ops = {
	.name = "smtpd",
	.user_key = "wharf_null_user",
	.chroot_subdir = "private",
	.init = smtpd_init,
	.start = smtpd_start,
	.stop = smtpd_stop,
	.cleanup = smtpd_cleanup,
};

int
main(int argc, char *argv[])
{
	return service_main(argc, argv, &smtpd_ops);
}
