/*
 * mta — the outbound SMTP delivery agent (like Postfix's smtp(8)).
 *
 * SECURITY
 *	Parses bytes from remote SMTP servers and DNS answers, so it holds
 *	nothing worth stealing: it starts as root only to read the
 *	relayhost AUTH file, the tables and the trust anchors and to set up
 *	libunbound, then runs as wharf_null_user chrooted to
 *	$run_dir/private, with no database connection.  Its only other
 *	input is MTA_DELIVER requests from qmgr over
 *	$run_dir/private/mta.sock (bound by the master; peers checked with
 *	SO_PEERCRED: root, wharf_user, our own uid), each with the message
 *	as an open read-only fd; every field is validated.  Untrusted text
 *	(replies, addresses, DNS names) is sanitised before it is logged.
 *	A message going to a peer without 8BITMIME is parsed as MIME
 *	(lib/mime, bounded) to be converted to 7-bit.
 *	The AUTH password is sent only to the relayhost, only over TLS.
 * STANDARDS
 *	RFC 5321 (SMTP; 5.1 MX selection), RFC 7505 (null MX), RFC 3207
 *	(STARTTLS), RFC 7435 (opportunistic TLS), RFC 4954 (AUTH), RFC 1870
 *	(SIZE), RFC 6152 (8BITMIME), RFC 6531 (SMTPUTF8), RFC 3461 (DSN),
 *	RFC 3463 (enhanced status codes), RFC 2920 (PIPELINING), RFC 1652
 *	§3 with RFC 2045 §6 (8-bit messages converted to 7-bit MIME).
 *
 * Each request is one transaction to one destination: the next hop
 * (transport_file, relayhost, else DNS: route.c), then up to
 * MTA_ADDRS_MAX addresses in turn until one takes the transaction
 * (attempt.c, which drives lib/smtp_client), then one result per
 * recipient back to qmgr and one log line each (client.c).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ev.h"
#include "log.h"
#include "proc.h"
#include "service.h"
#include "xmalloc.h"
#include "mta.h"

static struct mta	mta;

static void
mta_settings(struct mta *m, const struct conf *c)
{
	m->helo_name = conf_str(c, "myhostname");
	m->connect_timeout_ms = (uint64_t)conf_int(c, "smtp_connect_timeout");
	m->helo_timeout_ms = (uint64_t)conf_int(c, "smtp_helo_timeout");
	m->data_timeout_ms = (uint64_t)conf_int(c, "smtp_data_timeout");
	m->conv_8bit = conf_bool(c, "smtp_8bit_conversion");
	if (tls_level_parse(conf_str(c, "smtp_tls_security_level"),
	    &m->tls_default) == -1)
		m->tls_default = SMTP_TLS_MAY;	/* conf validated it */
}

static int
mta_dns_new(struct mta *m, char **err_r)
{
	struct dns_config	 cfg = { 0 };
	char *const		*servers;
	size_t			 n;

	servers = conf_list(m->svc->conf, "dns_servers", &n);
	cfg.servers = (const char *const *)servers;
	cfg.nservers = n;
	cfg.dnssec = conf_bool(m->svc->conf, "dns_dnssec");
	cfg.timeout_ms = (unsigned)conf_int(m->svc->conf, "dns_timeout");
	/* Before the chroot: resolv.conf is read here (lib/dns.h). */
	m->dns = dns_new(m->ev, &cfg, err_r);
	return m->dns != NULL ? 0 : -1;
}

static void
mta_add_peer(struct mta *m, const char *key)
{
	uid_t	 uid;
	gid_t	 gid;
	char	*err;

	if (proc_user(conf_str(m->svc->conf, key), &uid, &gid, &err) == 0)
		m->peers[m->npeers++] = uid;
	else
		free(err);	/* not root: that user need not exist */
}

/* As root: the AUTH file and tables may be readable by root only. */
static int
mta_init(struct service *svc, char **err_r)
{
	struct mta	*m = &mta;

	m->svc = svc;
	m->ev = svc->ev;
	svc->arg = m;
	m->listen_fd = -1;
	for (size_t i = 0; i < svc->nlisteners; i++)
		if (strcmp(svc->listeners[i].key, "private") == 0)
			m->listen_fd = svc->listeners[i].fd;
	if (m->listen_fd == -1) {
		*err_r = xstrdup("no private socket from the master");
		return -1;
	}
	mta_settings(m, svc->conf);
	if (tables_load(m, err_r) == -1 || mta_dns_new(m, err_r) == -1)
		return -1;
	m->peers[m->npeers++] = 0;
	mta_add_peer(m, "wharf_user");
	return 0;
}

static int
mta_start(struct service *svc, char **err_r)
{
	struct mta	*m = svc->arg;

	m->peers[m->npeers++] = geteuid();	/* after the privilege drop */
	m->accept_io = ev_io_add(svc->ev, m->listen_fd, EV_READ,
	    client_accept, m);
	if (m->accept_io == NULL) {
		*err_r = xstrdup("cannot watch the private socket");
		return -1;
	}
	return 0;
}

/* Stop accepting; deliveries in flight finish and are answered. */
static void
mta_stop(struct service *svc)
{
	struct mta	*m = svc->arg;

	ev_io_del(&m->accept_io);
	if (m->inflight == 0)
		service_done(svc);
}

static void
mta_cleanup(struct service *svc)
{
	struct mta	*m = svc->arg;

	if (m == NULL)
		return;
	ev_io_del(&m->accept_io);
	client_free_all(m);
	dns_free(&m->dns);
	tables_free(m);
}

static const struct service_ops mta_ops = {
	.name = "mta",
	.user_key = "wharf_null_user",
	.chroot_subdir = "private",
	.init = mta_init,
	.start = mta_start,
	.stop = mta_stop,
	.cleanup = mta_cleanup,
};

int
main(int argc, char *argv[])
{
	return service_main(argc, argv, &mta_ops);
}
