/*
 * dns_mx — where to deliver mail for a domain (dns.h, RFC 5321 5.1).
 *
 * Two rounds of queries on dns_query(): the MX RRset, then AAAA and A
 * for every host at once (at most DNS_ROUTE_HOSTS_MAX hosts, so at most
 * 2 x DNS_ROUTE_HOSTS_MAX queries in flight for one route); a route
 * therefore takes at most two query timeouts.  Each address query is a
 * `sub' holding its own answer until the last one is in, then the hosts
 * are assembled and the route handed to the caller.
 *
 * Everything here comes from the network: MX targets that are not host
 * names are dropped (and logged), counts are capped, and every text that
 * goes into route->why has been through log_safe().
 */
#include <sys/queue.h>

#include <bsd/stdlib.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns.h"
#include "dns_private.h"
#include "log.h"
#include "xmalloc.h"

#define DNS_WHY_MAX	256

struct dns_route_sub {
	struct dns_route_req	*rq;
	size_t			 host;
	int			 type;		/* DNS_T_AAAA or DNS_T_A */
	struct dns_req		*req;		/* NULL once answered */
	enum dns_status		 status;
	bool			 secure;
	struct sockaddr_storage	*addrs;
	size_t			 naddrs;
};

struct dns_route_req {
	TAILQ_ENTRY(dns_route_req) entry;
	struct dns		*dns;
	dns_route_fn		*cb;
	void			*arg;
	struct dns_route	*route;
	struct dns_req		*mx_req;
	struct dns_route_sub	*subs;		/* [2i] AAAA, [2i+1] A */
	size_t			 nsubs;
	size_t			 npending;
	char			*fail_why;	/* first temporary failure */
};

/* Freeing */

static void
dns_host_clear(struct dns_host *h)
{
	free(h->name);
	free(h->addrs);
}

void
dns_route_free(struct dns_route **rp)
{
	struct dns_route	*r = *rp;
	size_t			 i;

	*rp = NULL;
	if (r == NULL)
		return;
	for (i = 0; i < r->nhosts; i++)
		dns_host_clear(&r->hosts[i]);
	free(r->hosts);
	free(r->domain);
	free(r->why);
	free(r);
}

static void
dns_route_req_free(struct dns_route_req *rq)
{
	size_t	 i;

	dns_cancel(&rq->mx_req);
	for (i = 0; i < rq->nsubs; i++) {
		dns_cancel(&rq->subs[i].req);
		free(rq->subs[i].addrs);
	}
	free(rq->subs);
	free(rq->fail_why);
	dns_route_free(&rq->route);
	TAILQ_REMOVE(dns_routes(rq->dns), rq, entry);
	free(rq);
}

void
dns_route_cancel(struct dns_route_req **rqp)
{
	struct dns_route_req	*rq = *rqp;

	*rqp = NULL;
	if (rq != NULL)
		dns_route_req_free(rq);
}

void
dns_route_cancel_all(struct dns *d)
{
	struct dns_route_req	*rq;

	while ((rq = TAILQ_FIRST(dns_routes(d))) != NULL)
		dns_route_req_free(rq);
}

/* The end: hand the route over. */

static char *
dns_why(const char *what, const char *name, const char *detail)
{
	char	 n[DNS_WHY_MAX], dt[DNS_WHY_MAX];

	return xasprintf("%s %s: %s", what, log_safe(n, sizeof(n), name,
	    strlen(name)), log_safe(dt, sizeof(dt), detail, strlen(detail)));
}

static void
dns_route_done(struct dns_route_req *rq, enum dns_status status,
    char *why)
{
	struct dns_route	*route = rq->route;
	dns_route_fn		*cb = rq->cb;
	void			*arg = rq->arg;

	route->status = status;
	route->why = why;
	rq->route = NULL;
	dns_route_req_free(rq);
	log_debug("dns route %s status=%s hosts=%zu", route->domain,
	    dns_status_str(status), route->nhosts);
	cb(route, arg);
}

/* v6, v4, v6, v4... then the rest of the longer list. */
static void
dns_host_interleave(struct dns_host *h, const struct dns_route_sub *v6,
    const struct dns_route_sub *v4)
{
	size_t	 i;

	h->addrs = xcalloc(v6->naddrs + v4->naddrs, sizeof(*h->addrs));
	for (i = 0; i < v6->naddrs || i < v4->naddrs; i++) {
		if (i < v6->naddrs)
			h->addrs[h->naddrs++] = v6->addrs[i];
		if (i < v4->naddrs)
			h->addrs[h->naddrs++] = v4->addrs[i];
	}
}

static enum dns_status
dns_worst(enum dns_status a, enum dns_status b)
{
	if (a == DNS_TEMPFAIL || b == DNS_TEMPFAIL)
		return DNS_TEMPFAIL;
	if (a == DNS_BOGUS || b == DNS_BOGUS)
		return DNS_BOGUS;
	return DNS_NOHOST;
}

static void
dns_host_finish(struct dns_host *h, const struct dns_route_sub *v6,
    const struct dns_route_sub *v4)
{
	dns_host_interleave(h, v6, v4);
	h->secure = v6->secure && v4->secure;
	h->status = h->naddrs > 0 ? DNS_OK :
	    dns_worst(v6->status, v4->status);
}

static void
dns_route_finish(struct dns_route_req *rq)
{
	struct dns_route	*r = rq->route;
	enum dns_status		 st = DNS_NOHOST;
	size_t			 i;
	bool			 any = false;

	r->secure = r->mx_secure;
	for (i = 0; i < r->nhosts; i++) {
		dns_host_finish(&r->hosts[i], &rq->subs[2 * i],
		    &rq->subs[2 * i + 1]);
		r->secure = r->secure && r->hosts[i].secure;
		if (r->hosts[i].naddrs > 0)
			any = true;
		else if (r->hosts[i].status != DNS_NOHOST)
			st = dns_worst(st, r->hosts[i].status);
	}
	if (any)
		dns_route_done(rq, DNS_OK, NULL);
	else if (st != DNS_NOHOST)
		dns_route_done(rq, st, rq->fail_why != NULL ?
		    xstrdup(rq->fail_why) : xstrdup("address lookup failed"));
	else
		dns_route_done(rq, DNS_NOHOST, xstrdup(r->implicit ?
		    "no MX and no address record" :
		    "no address for any MX host"));
}

/* Round two: the hosts' addresses */

static void
dns_sub_failed(struct dns_route_req *rq, const char *host, const char *why)
{
	if (rq->fail_why == NULL)
		rq->fail_why = dns_why("address lookup for", host, why);
}

static void
dns_sub_cb(const struct dns_result *res, void *arg)
{
	struct dns_route_sub	*sub = arg;
	struct dns_route_req	*rq = sub->rq;
	size_t			 i;

	sub->req = NULL;
	sub->status = res->status;
	sub->secure = res->secure;
	if (res->status == DNS_TEMPFAIL || res->status == DNS_BOGUS)
		dns_sub_failed(rq, res->qname, res->why);
	sub->addrs = xcalloc(DNS_HOST_ADDRS_MAX, sizeof(*sub->addrs));
	for (i = 0; i < res->nrrs && sub->naddrs < DNS_HOST_ADDRS_MAX; i++)
		sub->addrs[sub->naddrs++] = res->rrs[i].addr;
	if (--rq->npending == 0)
		dns_route_finish(rq);
}

static void
dns_sub_start(struct dns_route_req *rq, struct dns_route_sub *sub)
{
	const char	*host = rq->route->hosts[sub->host].name;
	char		*err = NULL;

	if (dns_query(rq->dns, host, sub->type, dns_sub_cb, sub, &sub->req,
	    &err) == 0) {
		rq->npending++;
		return;
	}
	sub->status = DNS_TEMPFAIL;
	dns_sub_failed(rq, host, err);
	free(err);
}

static void
dns_route_lookup_hosts(struct dns_route_req *rq)
{
	size_t	 i;

	rq->nsubs = 2 * rq->route->nhosts;
	rq->subs = xcalloc(rq->nsubs, sizeof(*rq->subs));
	for (i = 0; i < rq->nsubs; i++) {
		rq->subs[i].rq = rq;
		rq->subs[i].host = i / 2;
		rq->subs[i].type = i % 2 == 0 ? DNS_T_AAAA : DNS_T_A;
		rq->subs[i].status = DNS_TEMPFAIL;
	}
	for (i = 0; i < rq->nsubs; i++)
		dns_sub_start(rq, &rq->subs[i]);
	if (rq->npending == 0)
		dns_route_finish(rq);
}

/* Round one: the MX RRset */

static int
dns_host_cmp(const void *a, const void *b)
{
	const struct dns_host	*x = a, *y = b;

	return (x->pref > y->pref) - (x->pref < y->pref);
}

/* Shuffle each run of equal preference (RFC 5321 5.1: "randomize"). */
static void
dns_hosts_shuffle(struct dns_host *h, size_t n)
{
	struct dns_host	 t;
	size_t		 start, end, i, j;

	for (start = 0; start < n; start = end) {
		for (end = start + 1; end < n && h[end].pref == h[start].pref;
		    end++)
			;
		for (i = end - 1; i > start; i--) {
			j = start +
			    arc4random_uniform((uint32_t)(i - start + 1));
			t = h[i];
			h[i] = h[j];
			h[j] = t;
		}
	}
}

/* Keep the first (best) of each name; returns the new count. */
static size_t
dns_hosts_dedup(struct dns_host *h, size_t n)
{
	size_t	 i, j, out = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < out; j++)
			if (strcasecmp(h[j].name, h[i].name) == 0)
				break;
		if (j < out)
			dns_host_clear(&h[i]);
		else
			h[out++] = h[i];
	}
	return out;
}

static bool
dns_mx_target_ok(const struct dns_route *r, const char *name)
{
	char	 s[DNS_WHY_MAX], n[DNS_WHY_MAX];

	if (strcmp(name, ".") == 0)
		return false;
	if (dns_name_valid(name))
		return true;
	log_warnx("dns %s: MX target %s is not a host name, skipped",
	    log_safe(s, sizeof(s), r->domain, strlen(r->domain)),
	    log_safe(n, sizeof(n), name, strlen(name)));
	return false;
}

static void
dns_route_from_mx(struct dns_route_req *rq, const struct dns_result *res)
{
	struct dns_route	*r = rq->route;
	size_t			 i;

	if (res->nrrs == 1 && res->nbad == 0 &&
	    strcmp(res->rrs[0].name, ".") == 0 && res->rrs[0].pref == 0) {
		dns_route_done(rq, DNS_NULLMX, xstrdup("null MX: the domain "
		    "accepts no mail (RFC 7505)"));
		return;
	}
	r->hosts = xcalloc(res->nrrs, sizeof(*r->hosts));
	for (i = 0; i < res->nrrs; i++) {
		if (!dns_mx_target_ok(r, res->rrs[i].name))
			continue;
		r->hosts[r->nhosts].name = xstrdup(res->rrs[i].name);
		r->hosts[r->nhosts++].pref = res->rrs[i].pref;
	}
	qsort(r->hosts, r->nhosts, sizeof(*r->hosts), dns_host_cmp);
	dns_hosts_shuffle(r->hosts, r->nhosts);
	r->nhosts = dns_hosts_dedup(r->hosts, r->nhosts);
	while (r->nhosts > DNS_ROUTE_HOSTS_MAX)
		dns_host_clear(&r->hosts[--r->nhosts]);
	if (r->nhosts == 0) {
		dns_route_done(rq, DNS_NOHOST, xstrdup("no usable MX host"));
		return;
	}
	dns_route_lookup_hosts(rq);
}

/* No MX: the domain is its own MX, preference 0 (RFC 5321 5.1). */
static void
dns_route_implicit(struct dns_route_req *rq)
{
	struct dns_route	*r = rq->route;

	r->implicit = true;
	r->hosts = xcalloc(1, sizeof(*r->hosts));
	r->hosts[0].name = xstrdup(r->domain);
	r->nhosts = 1;
	dns_route_lookup_hosts(rq);
}

static void
dns_mx_cb(const struct dns_result *res, void *arg)
{
	struct dns_route_req	*rq = arg;

	rq->mx_req = NULL;
	rq->route->mx_secure = res->secure;
	switch (res->status) {
	case DNS_OK:
		dns_route_from_mx(rq, res);
		break;
	case DNS_NODATA:
		dns_route_implicit(rq);
		break;
	case DNS_NXDOMAIN:
		dns_route_done(rq, DNS_NXDOMAIN, dns_why("MX lookup for",
		    res->qname, "no such domain"));
		break;
	default:
		dns_route_done(rq, res->status == DNS_BOGUS ? DNS_BOGUS :
		    DNS_TEMPFAIL, dns_why("MX lookup for", res->qname,
		    res->why != NULL ? res->why : "failed"));
		break;
	}
}

int
dns_mx_route(struct dns *d, const char *domain, dns_route_fn *cb,
    void *arg, struct dns_route_req **req_r, char **err_r)
{
	struct dns_route_req	*rq;
	size_t			 len = strlen(domain);

	if (req_r != NULL)
		*req_r = NULL;
	rq = xcalloc(1, sizeof(*rq));
	rq->dns = d;
	rq->cb = cb;
	rq->arg = arg;
	rq->route = xcalloc(1, sizeof(*rq->route));
	if (len > 1 && domain[len - 1] == '.')
		len--;
	rq->route->domain = xstrndup(domain, len);
	TAILQ_INSERT_TAIL(dns_routes(d), rq, entry);
	if (dns_query(d, domain, DNS_T_MX, dns_mx_cb, rq, &rq->mx_req,
	    err_r) == -1) {
		dns_route_req_free(rq);
		return -1;
	}
	if (req_r != NULL)
		*req_r = rq;
	return 0;
}
