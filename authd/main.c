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
 *	Passwords arrive in AUTH_PASSWORD requests; they are wiped from
 *	memory once hashed and never logged.  The hashing runs in
 *	authd_workers child processes of authd (same user, no database
 *	connection, nothing but a socketpair to authd).
 * STANDARDS
 *	RFC 5321 4.5.1 (postmaster is always accepted), RFC 5233
 *	(subaddresses: user+tag), RFC 9106 (Argon2), RFC 6409 (who may
 *	submit as which sender).
 *
 * Answers: is a domain ours, where does an address go after aliases,
 * may a client relay (mynetworks), is this password right (login.c, with
 * the hashing done by worker processes, pwpool.c), may this user send as
 * that address and this much (rate.c).  Recipient answers are cached for
 * authd_cache_ttl.
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
#include "pwhash.h"
#include "service.h"
#include "xmalloc.h"
#include "authd.h"

#define THROTTLE_MAX	100000		/* addresses and names remembered */
#define RATE_MAX	100000		/* users with a rate */
#define RATE_TTL_MS	(2 * 3600 * 1000)	/* two windows of an hour */
#define POOL_QUEUE_MAX	1000		/* logins waiting for a worker */

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

static void
authd_settings(struct authd *a, const struct conf *c)
{
	a->rehash = conf_bool(c, "auth_rehash");
	a->sender_any = strcmp(conf_str(c, "submission_sender_check"),
	    "any") == 0;
	a->fail_delay = (uint64_t)conf_int(c, "auth_failure_delay");
	a->fail_delay_max = (uint64_t)conf_int(c, "auth_failure_delay_max");
	a->lockout_time = (uint64_t)conf_int(c, "auth_lockout_time");
	a->lockout_failures = (unsigned)conf_int(c, "auth_lockout_failures");
	a->ip_lockout_failures = (unsigned)conf_int(c,
	    "auth_ip_lockout_failures");
	a->message_rate = (unsigned)conf_int(c,
	    "submission_message_rate_limit");
	a->rcpt_rate = (unsigned)conf_int(c,
	    "submission_recipient_rate_limit");
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
	authd_settings(a, svc->conf);
	return authd_parse_networks(a, err_r);
}

/*
 * argon2_* keys are bounded by the key table; argon2 takes KiB.  The
 * dummy hash (for missing users) is made here, once, so that bad costs
 * stop authd at start and the workers inherit it.
 */
static int
authd_start_pool(struct authd *a, const struct conf *c, char **err_r)
{
	struct pwhash_params	 p;
	char			*err;

	p.t_cost = (uint32_t)conf_int(c, "argon2_time_cost");
	p.m_cost_kib = (uint32_t)(conf_int(c, "argon2_memory_cost") / 1024);
	p.parallelism = (uint32_t)conf_int(c, "argon2_parallelism");
	if (pwhash_dummy(&p, &err) == NULL) {
		*err_r = xasprintf("argon2_*: %s", err);
		free(err);
		return -1;
	}
	a->pool = pwpool_new(a->svc->ev, (size_t)conf_int(c, "authd_workers"),
	    POOL_QUEUE_MAX, &p);
	return 0;
}

static int
authd_start(struct service *svc, char **err_r)
{
	struct authd	*a = svc->arg;
	char		*ci = db_conninfo(conf_str(svc->conf, "database"),
			    conf_str(svc->conf, "run_dir"), "wharf_authd");

	if (authd_start_pool(a, svc->conf, err_r) == -1) {	/* forks: */
		free(ci);				/* before the db */
		return -1;
	}
	a->db = db_new(svc->ev, ci);
	free(ci);
	a->cache = cache_new((uint64_t)conf_int(svc->conf, "authd_cache_ttl"),
	    (size_t)conf_int(svc->conf, "authd_cache_size"));
	a->throttle = cache_new(a->lockout_time, THROTTLE_MAX);
	a->rates = cache_new(RATE_TTL_MS, RATE_MAX);
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
	login_flush(a);
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
	pwpool_free(&a->pool);
	pwhash_dummy_free();
	db_free(&a->db);
	cache_free(&a->cache);
	cache_free(&a->throttle);
	cache_free(&a->rates);
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
