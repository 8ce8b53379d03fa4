/*
 * mta/route.c — the next hop of a request and the addresses to try.
 *
 * In this order: transport_file (the domain, or a parent with
 * ".parent"), relayhost (with AUTH when configured), then DNS for the
 * domain itself (RFC 5321 5.1: MX by preference, the implicit MX, RFC
 * 7505 null MX).  A next hop "[host]" means the host's own addresses, a
 * bare "host" its MX records, an IP literal that address.  The TLS level
 * is smtp_tls_security_level unless smtp_tls_policy_file names the
 * domain.  At most MTA_ADDRS_MAX addresses are kept, in the route's
 * order.
 *
 * DNS failures for the destination domain follow Postfix: no such
 * domain or no host is permanent (5.1.2), null MX permanent (5.1.10),
 * anything else temporary (4.4.3).  A configured next hop (transport or
 * relayhost) that does not resolve is always temporary: a typo in a
 * table must defer mail, not bounce it.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "log.h"
#include "proto_mta.h"
#include "xmalloc.h"
#include "mta.h"

#define TEXT_MAX	SMTP_CLIENT_TEXT_MAX

int
route_target_add(struct mta_req *r, const char *name,
    const struct sockaddr_storage *ss, uint16_t port)
{
	struct mta_target	*t;
	const void		*a;

	if (r->ntargets >= MTA_ADDRS_MAX)
		return -1;
	t = &r->targets[r->ntargets];
	memset(t, 0, sizeof(*t));
	t->ss = *ss;
	if (ss->ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&t->ss)->sin6_port = htons(port);
		t->sslen = sizeof(struct sockaddr_in6);
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	} else if (ss->ss_family == AF_INET) {
		((struct sockaddr_in *)&t->ss)->sin_port = htons(port);
		t->sslen = sizeof(struct sockaddr_in);
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	} else
		return -1;
	if (inet_ntop(ss->ss_family, a, t->addr, sizeof(t->addr)) == NULL)
		return -1;
	strlcpy(t->name, name, sizeof(t->name));
	t->port = port;
	r->ntargets++;
	return 0;
}

/* The destination for texts, sanitised. */
static const char *
route_name(const struct mta_req *r, char *out, size_t size)
{
	const char	*n = r->hop_set ? r->hop.host : r->domain;

	return log_safe(out, size, n, strlen(n));
}

static void
route_fail(struct mta_req *r, uint32_t status, const char *dsn,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
route_fail(struct mta_req *r, uint32_t status, const char *dsn,
    const char *fmt, ...)
{
	char	 text[TEXT_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	req_fail_all(r, status, dsn, text);
}

/* A route that gave no address to try. */
static void
route_dns_fail(struct mta_req *r, enum dns_status st, const char *type,
    const char *why)
{
	char	 name[DNS_HOST_NAME_SIZE * 2];
	bool	 perm = dns_status_permanent(st) && !r->hop_set;

	route_name(r, name, sizeof(name));
	if (st == DNS_NULLMX && !r->hop_set)
		route_fail(r, MTA_PERMFAIL, "5.1.10",
		    "Domain %s does not accept mail (nullMX)", name);
	else if (dns_status_permanent(st))
		route_fail(r, perm ? MTA_PERMFAIL : MTA_TEMPFAIL,
		    perm ? "5.1.2" : "4.4.3", "Host or domain name not "
		    "found. Name service error for name=%s type=%s: Host not "
		    "found", name, st == DNS_NXDOMAIN ? type : "A");
	else
		route_fail(r, MTA_TEMPFAIL, "4.4.3", "Host or domain name not "
		    "found. Name service error for name=%s type=%s: Host not "
		    "found, try again (%s)", name, type,
		    why != NULL ? why : dns_status_str(st));
}

/* ---- MX routes (the domain, or a "host" next hop) ---- */

/* Whether a DNS name is ours (myhostname), case and final dot aside. */
static bool
route_is_self(const struct mta *m, const char *name)
{
	size_t	 n = strlen(name), h = strlen(m->helo_name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (h > 0 && m->helo_name[h - 1] == '.')
		h--;
	return n == h && strncasecmp(name, m->helo_name, n) == 0;
}

/*
 * RFC 5321 5.1: when we are one of the MX hosts, only hosts preferred to
 * us may be tried.  The preference bound (UINT_MAX: no bound), or 0 when
 * we are the best host: the mail would loop back to us.
 */
static unsigned
route_self_pref(const struct mta_req *r, const struct dns_route *route)
{
	unsigned	 limit = UINT_MAX;

	for (size_t i = 0; i < route->nhosts; i++)
		if (route_is_self(r->m, route->hosts[i].name) &&
		    route->hosts[i].pref < limit)
			limit = route->hosts[i].pref;
	for (size_t i = 0; limit != UINT_MAX && i < route->nhosts; i++)
		if (route->hosts[i].pref < limit &&
		    route->hosts[i].naddrs > 0)
			return limit;
	return limit == UINT_MAX ? UINT_MAX : 0;
}

static void
route_mx_cb(struct dns_route *route, void *arg)
{
	struct mta_req	*r = arg;
	uint16_t	 port = r->hop_set ? r->hop.port : 25;
	unsigned	 limit;

	r->route_req = NULL;
	if (route->status != DNS_OK) {
		route_dns_fail(r, route->status, "MX", route->why);
		dns_route_free(&route);
		return;
	}
	if ((limit = route_self_pref(r, route)) == 0) {
		char name[DNS_HOST_NAME_SIZE * 2];

		route_fail(r, MTA_PERMFAIL, "5.4.6", "mail for %s loops back "
		    "to myself", route_name(r, name, sizeof(name)));
		dns_route_free(&route);
		return;
	}
	for (size_t i = 0; i < route->nhosts; i++) {
		struct dns_host *h = &route->hosts[i];

		for (size_t k = 0; k < h->naddrs && h->pref < limit; k++)
			(void)route_target_add(r, h->name, &h->addrs[k],
			    port);
	}
	dns_route_free(&route);
	attempt_start(r);
}

static void
route_mx(struct mta_req *r, const char *name)
{
	char	*err = NULL;

	if (dns_mx_route(r->m->dns, name, route_mx_cb, r, &r->route_req,
	    &err) == 0)
		return;
	/* A name libunbound will not ask for. */
	route_dns_fail(r, DNS_NXDOMAIN, "MX", err);
	free(err);
}

/* ---- "[host]": its AAAA and A records, no MX ---- */

static void
route_addr_finish(struct mta_req *r)
{
	struct sockaddr_storage	*v6 = r->addrs[0], *v4 = r->addrs[1];

	for (size_t i = 0; i < r->naddrs[0] || i < r->naddrs[1]; i++) {
		if (i < r->naddrs[0])
			(void)route_target_add(r, r->hop.host, &v6[i],
			    r->hop.port);
		if (i < r->naddrs[1])
			(void)route_target_add(r, r->hop.host, &v4[i],
			    r->hop.port);
	}
	if (r->ntargets > 0) {
		attempt_start(r);
		return;
	}
	if (r->addr_status[0] == DNS_TEMPFAIL ||
	    r->addr_status[1] == DNS_TEMPFAIL ||
	    r->addr_status[0] == DNS_BOGUS || r->addr_status[1] == DNS_BOGUS)
		route_dns_fail(r, DNS_TEMPFAIL, "A", NULL);
	else
		route_dns_fail(r, DNS_NOHOST, "A", NULL);
}

static void
route_addr_cb(const struct dns_result *res, void *arg)
{
	struct mta_req	*r = arg;
	size_t		 k = res->qtype == DNS_T_AAAA ? 0 : 1;

	r->addr_req[k] = NULL;
	r->addr_status[k] = res->status;
	for (size_t i = 0; i < res->nrrs && r->naddrs[k] < MTA_ADDRS_MAX;
	    i++)
		r->addrs[k][r->naddrs[k]++] = res->rrs[i].addr;
	if (r->addr_req[0] == NULL && r->addr_req[1] == NULL)
		route_addr_finish(r);
}

static void
route_addr(struct mta_req *r)
{
	static const int types[2] = { DNS_T_AAAA, DNS_T_A };
	char		*err = NULL;

	for (size_t k = 0; k < 2; k++)
		if (dns_query(r->m->dns, r->hop.host, types[k], route_addr_cb,
		    r, &r->addr_req[k], &err) == -1) {
			dns_cancel(&r->addr_req[0]);
			route_dns_fail(r, DNS_NOHOST, "A", err);
			free(err);
			return;
		}
}

/* ---- choosing the next hop ---- */

static void
route_literal(struct mta_req *r)
{
	struct sockaddr_storage	 ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET6, r->hop.host,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else if (inet_pton(AF_INET, r->hop.host,
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	(void)route_target_add(r, r->hop.host, &ss, r->hop.port);
	attempt_start(r);
}

/* A recipient domain "[192.0.2.1]" or "[IPv6:...]" (RFC 5321 4.1.3). */
static int
route_domain_literal(struct mta_req *r)
{
	const char	*why;
	char		 name[DNS_HOST_NAME_SIZE * 2];

	if (domain_table_parse_hop(r->domain, &r->hop, &why) == -1 ||
	    !r->hop.literal || r->hop.port != 25 ||
	    r->domain[strlen(r->domain) - 1] != ']') {
		route_name(r, name, sizeof(name));
		route_fail(r, MTA_PERMFAIL, "5.1.2", "bad address literal "
		    "%s", name);
		return -1;
	}
	return 0;
}

static void
route_policy(struct mta_req *r)
{
	struct mta	*m = r->m;
	const char	*v;

	r->tls = m->tls_default;
	if ((v = domain_table_lookup(m->tls_policy, r->domain)) != NULL)
		(void)tls_level_parse(v, &r->tls);
	if ((v = domain_table_lookup(m->transport, r->domain)) != NULL) {
		const char *why;

		if (domain_table_parse_hop(v, &r->hop, &why) == 0)
			r->hop_set = true;	/* checked at load */
	} else if (m->relay_set) {
		r->hop = m->relay;
		r->hop_set = true;
		r->auth = m->auth_user != NULL;
	}
}

void
route_start(struct mta_req *r)
{
	route_policy(r);
	if (!r->hop_set && r->domain[0] == '[') {
		if (route_domain_literal(r) == 0)
			route_literal(r);
		return;
	}
	if (!r->hop_set)
		route_mx(r, r->domain);
	else if (r->hop.literal)
		route_literal(r);
	else if (r->hop.mx_lookup)
		route_mx(r, r->hop.host);
	else
		route_addr(r);
}

void
route_cancel(struct mta_req *r)
{
	dns_route_cancel(&r->route_req);
	dns_cancel(&r->addr_req[0]);
	dns_cancel(&r->addr_req[1]);
}
