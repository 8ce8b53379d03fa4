/*
 * authd — the one place that answers questions about accounts.
 *
 * SECURITY
 *	Runs as wharf_auth_user, connected to PostgreSQL as the role
 *	wharf_authd, the only role allowed to read password hashes.  Its
 *	input is requests from the other Wharf daemons over
 *	$run_dir/private/authd.sock (bound by the master), whose peers are
 *	checked with SO_PEERCRED; strings in requests come from the Internet
 *	(smtpd passes RCPT addresses through), so they are length-checked,
 *	used only as query parameters and sanitised before they are logged.
 *	It never parses mail.
 * STANDARDS
 *	RFC 5321 4.5.1 (postmaster is always accepted), RFC 5233
 *	(subaddresses: user+tag).
 *
 * Answers: is a domain ours, where does an address go after aliases,
 * may a client relay (mynetworks).  Recipient answers are cached for
 * authd_cache_ttl.  Password checks come with submission (issue 4).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "ev.h"
#include "log.h"
#include "net.h"
#include "proc.h"
#include "service.h"
#include "xmalloc.h"
#include "authd.h"

static struct authd	authd;

static int
authd_parse_networks(struct authd *a, char **err_r)
{
	char *const	*list;
	size_t		 n;
	const char	*why;

	list = conf_list(a->svc->conf, "mynetworks", &n);
	a->nets = xcalloc(n, sizeof(*a->nets));
	for (size_t i = 0; i < n; i++) {
		if (net_parse_cidr(list[i], &a->nets[i], &why) == -1) {
			*err_r = xasprintf("mynetworks: %s: %s", list[i], why);
			return -1;
		}
	}
	a->nnets = n;
	return 0;
}

/* Who may ask: root, ourselves, and the daemons' users. */
static void
authd_add_peer(struct authd *a, const char *key)
{
	uid_t	 uid;
	gid_t	 gid;
	char	*err;

	if (key == NULL) {
		a->peers[a->npeers++] = geteuid();
		return;
	}
	if (proc_user(conf_str(a->svc->conf, key), &uid, &gid, &err) == 0)
		a->peers[a->npeers++] = uid;
	else
		free(err);	/* not root: that user need not exist */
}

static int
authd_init(struct service *svc, char **err_r)
{
	struct authd	*a = &authd;

	a->svc = svc;
	svc->arg = a;
	a->listen_fd = -1;
	for (size_t i = 0; i < svc->nlisteners; i++)
		if (strcmp(svc->listeners[i].key, "private") == 0)
			a->listen_fd = svc->listeners[i].fd;
	if (a->listen_fd == -1) {
		*err_r = xstrdup("no private socket from the master");
		return -1;
	}
	a->peers[a->npeers++] = 0;
	authd_add_peer(a, NULL);
	authd_add_peer(a, "wharf_user");
	authd_add_peer(a, "wharf_null_user");
	a->delimiters = conf_str(svc->conf, "recipient_delimiter");
	return authd_parse_networks(a, err_r);
}

static int
authd_start(struct service *svc, char **err_r)
{
	struct authd	*a = svc->arg;
	char		*ci = db_conninfo(conf_str(svc->conf, "database"),
			    conf_str(svc->conf, "run_dir"), "wharf_authd");

	a->db = db_new(svc->ev, ci);
	free(ci);
	a->cache = cache_new((uint64_t)conf_int(svc->conf, "authd_cache_ttl"),
	    (size_t)conf_int(svc->conf, "authd_cache_size"));
	a->accept_io = ev_io_add(svc->ev, a->listen_fd, EV_READ,
	    client_accept, a);
	if (a->accept_io == NULL) {
		*err_r = xstrdup("cannot watch the private socket");
		return -1;
	}
	return 0;
}

void
authd_request_done(struct authd *a)
{
	if (a->svc->stopping && a->pending == 0)
		service_done(a->svc);
}

/* Stop taking connections; leave once the queries in flight answered. */
static void
authd_stop(struct service *svc)
{
	struct authd	*a = svc->arg;

	ev_io_del(&a->accept_io);
	authd_request_done(a);
}

static void
authd_cleanup(struct service *svc)
{
	struct authd	*a = svc->arg;

	if (a == NULL)
		return;
	ev_io_del(&a->accept_io);
	client_free_all(a);
	conncount_free_all();
	db_free(&a->db);
	cache_free(&a->cache);
	free(a->nets);
}

static const struct service_ops authd_ops = {
	.name = "authd",
	.user_key = "wharf_auth_user",
	.init = authd_init,
	.start = authd_start,
	.stop = authd_stop,
	.cleanup = authd_cleanup,
};

int
main(int argc, char *argv[])
{
	return service_main(argc, argv, &authd_ops);
}
