/*
 * dns — asynchronous DNS on libunbound (dns.h): the context, queries,
 * answers.  MX routes are in dns_mx.c, the rdata parsers in dns_rdata.c.
 *
 * A query is a struct dns_req on one of two lists: `pending' (sent to the
 * helper, deadline armed) or `done' (answered by ub_process(), callback
 * not yet run).  libunbound's callback only moves a request to `done';
 * the user callbacks run after ub_process() has returned, so they may do
 * anything, dns_free() included: each entry from the loop counts its
 * depth, dns_free() inside one cancels what is left and the struct is
 * released when that entry returns (the lib/db pattern).
 *
 * ub_cancel() of a forked context can only fail when the pipe to the
 * helper fails; such a request is kept, without callback, as an orphan
 * until its answer comes or the context goes, because libunbound still
 * holds a pointer to it.
 */
#include <sys/queue.h>

#include <arpa/inet.h>
#include <bsd/string.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "buf.h"
#include "dns.h"
#include "dns_private.h"
#include "ev.h"
#include "log.h"
#include "xmalloc.h"

#define DNS_RESOLV_CONF		"/etc/resolv.conf"
#define DNS_CLASS_IN		1
#define DNS_RCODE_NOERROR	0
#define DNS_RCODE_NXDOMAIN	3
#define DNS_PORT_TEXT_MAX	6	/* "65535" + NUL */

/*
 * The IANA root trust anchors (https://data.iana.org/root-anchors/):
 * KSK-2017 (key tag 20326) and KSK-2024 (key tag 38696).
 */
static const char *const dns_root_anchors[] = {
	". IN DS 20326 8 2 "
	    "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
	". IN DS 38696 8 2 "
	    "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
};

struct dns_req {
	TAILQ_ENTRY(dns_req)	 entry;
	struct dns		*dns;
	char			*name;
	int			 type;
	int			 ub_id;
	struct ev_timer		*timer;
	dns_fn			*cb;	/* NULL: orphan, answer dropped */
	void			*arg;
	bool			 answered;	/* on `done' */
	int			 err;		/* libunbound's */
	const char		*fail;	/* our own failure: "timeout"... */
	struct ub_result	*res;
};
TAILQ_HEAD(dns_reqs, dns_req);

struct dns {
	struct ev		*ev;
	struct ub_ctx		*ctx;
	struct ev_io		*io;
	char			**servers;	/* unbound form */
	size_t			 nservers;
	char			**anchors;	/* dnssec only */
	size_t			 nanchors;
	bool			 dnssec;
	unsigned		 timeout_ms;
	bool			 forked;	/* helper started */
	struct dns_reqs		 pending;
	struct dns_reqs		 done;
	struct dns_route_reqs	 routes;
	unsigned		 depth;		/* loop entries running */
	bool			 dying;		/* dns_free() called */
};

/* A parsed answer's records and the names they own. */
struct dns_parsed {
	struct dns_rr		*rrs;
	char			**names;
	size_t			 n;
	size_t			 nbad;
};

static void	dns_io_cb(int, unsigned, void *);

/* Status words and names */

const char *
dns_status_str(enum dns_status s)
{
	switch (s) {
	case DNS_OK:
		return "ok";
	case DNS_NODATA:
		return "nodata";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_NOHOST:
		return "nohost";
	case DNS_NULLMX:
		return "nullmx";
	case DNS_TEMPFAIL:
		return "tempfail";
	case DNS_BOGUS:
		return "bogus";
	}
	return "unknown";
}

bool
dns_status_permanent(enum dns_status s)
{
	return s == DNS_NXDOMAIN || s == DNS_NOHOST || s == DNS_NULLMX;
}

static bool
dns_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool
dns_name_valid(const char *s)
{
	size_t	 len = strlen(s), label = 0, i;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_HOST_NAME_SIZE - 1)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (!dns_ldh(s[i]) || ++label > 63)
			return false;
	}
	return label > 0;
}

/* Server addresses */

/* Split in into host and port text; port NULL when none. */
static int
dns_server_split(const char *in, char *host, size_t hsize,
    const char **port_r, bool *v6_r, const char **err_r)
{
	const char	*end, *colon;

	*port_r = NULL;
	*v6_r = false;
	if (in[0] == '[') {
		if ((end = strchr(in, ']')) == NULL)
			return *err_r = "missing ]", -1;
		*v6_r = true;
		in++;
		if (end[1] == ':')
			*port_r = end + 2;
		else if (end[1] != '\0')
			return *err_r = "junk after ]", -1;
	} else if ((end = strchr(in, '@')) != NULL)
		*port_r = end + 1;
	else if ((colon = strchr(in, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		end = colon;			/* IPv4:port */
		*port_r = colon + 1;
	} else
		end = in + strlen(in);
	if ((size_t)(end - in) >= hsize || end == in)
		return *err_r = "bad address", -1;
	memcpy(host, in, (size_t)(end - in));
	host[end - in] = '\0';
	return 0;
}

int
dns_server_parse(const char *in, char *out, size_t size, const char **err_r)
{
	char		 host[INET6_ADDRSTRLEN];
	unsigned char	 bin[sizeof(struct in6_addr)];
	const char	*port, *e;
	uint64_t	 p;
	bool		 v6;
	int		 n;

	if (dns_server_split(in, host, sizeof(host), &port, &v6, err_r) == -1)
		return -1;
	if (inet_pton(AF_INET6, host, bin) != 1 &&
	    (v6 || inet_pton(AF_INET, host, bin) != 1))
		return *err_r = "bad address", -1;
	if (port == NULL)
		n = snprintf(out, size, "%s", host);
	else if (str_to_u64(port, 1, 65535, &p, &e) == -1)
		return *err_r = "bad port", -1;
	else
		n = snprintf(out, size, "%s@%u", host, (unsigned)p);
	if (n < 0 || (size_t)n >= size)
		return *err_r = "too long", -1;
	return 0;
}

static void
dns_add_server(struct dns *d, const char *s)
{
	d->servers = xreallocarray(d->servers, d->nservers + 1,
	    sizeof(*d->servers));
	d->servers[d->nservers++] = xstrdup(s);
}

/* "nameserver ADDR" lines, as the C library reads them (scope ids cut,
   no port). */
static void
dns_resolvconf_line(struct dns *d, char *line)
{
	char		 out[INET6_ADDRSTRLEN + DNS_PORT_TEXT_MAX];
	const char	*err;
	char		*addr;

	line = str_trim(line);
	if (!str_has_prefix(line, "nameserver") ||
	    (line[10] != ' ' && line[10] != '\t'))
		return;
	addr = str_trim(line + 10);
	addr[strcspn(addr, " \t%")] = '\0';
	if (dns_server_parse(addr, out, sizeof(out), &err) == 0 &&
	    strchr(out, '@') == NULL && addr[0] != '[')
		dns_add_server(d, out);
	else
		log_warnx("dns: resolv.conf: bad nameserver ignored");
}

static int
dns_load_resolvconf(struct dns *d, const char *path, char **err_r)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;

	if ((f = fopen(path, "re")) == NULL) {
		*err_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) != -1)
		dns_resolvconf_line(d, line);
	free(line);
	fclose(f);
	if (d->nservers == 0)
		dns_add_server(d, "127.0.0.1");	/* resolv.conf(5) */
	return 0;
}

static int
dns_load_servers(struct dns *d, const struct dns_config *cfg,
    char **err_r)
{
	char		 out[INET6_ADDRSTRLEN + DNS_PORT_TEXT_MAX];
	const char	*err;
	size_t		 i;

	if (cfg->nservers == 0)
		return dns_load_resolvconf(d, cfg->resolv_conf != NULL ?
		    cfg->resolv_conf : DNS_RESOLV_CONF, err_r);
	for (i = 0; i < cfg->nservers; i++) {
		if (dns_server_parse(cfg->servers[i], out, sizeof(out),
		    &err) == -1) {
			*err_r = xasprintf("dns server \"%s\": %s",
			    cfg->servers[i], err);
			return -1;
		}
		dns_add_server(d, out);
	}
	return 0;
}

/* Trust anchors */

static void
dns_add_anchor(struct dns *d, const char *s)
{
	d->anchors = xreallocarray(d->anchors, d->nanchors + 1,
	    sizeof(*d->anchors));
	d->anchors[d->nanchors++] = xstrdup(s);
}

/* One zone-file line holding a DS or DNSKEY record (checked loosely:
   libunbound parses it at the first query). */
static bool
dns_anchor_line_ok(const char *line)
{
	char	**tok;
	size_t	 n, i;
	bool	 ok = false;

	if (strchr(line, '(') != NULL)
		return false;			/* multi-line record */
	tok = str_split(line, " \t", &n);
	for (i = 1; i < n; i++)
		if (strcasecmp(tok[i], "DS") == 0 ||
		    strcasecmp(tok[i], "DNSKEY") == 0)
			ok = true;
	str_list_free(&tok);
	return ok;
}

static int
dns_load_anchor_file(struct dns *d, const char *path, char **err_r)
{
	FILE	*f;
	char	*line = NULL, *s;
	size_t	 cap = 0, lineno = 0;
	int	 rc = 0;

	if ((f = fopen(path, "re")) == NULL) {
		*err_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && getline(&line, &cap, f) != -1) {
		lineno++;
		s = str_trim(line);
		if (*s == '\0' || *s == ';' || *s == '#')
			continue;
		if (dns_anchor_line_ok(s))
			dns_add_anchor(d, s);
		else {
			*err_r = xasprintf("%s:%zu: not a one-line DS or "
			    "DNSKEY record", path, lineno);
			rc = -1;
		}
	}
	free(line);
	fclose(f);
	if (rc == 0 && d->nanchors == 0) {
		*err_r = xasprintf("%s: no trust anchor", path);
		rc = -1;
	}
	return rc;
}

static int
dns_load_anchors(struct dns *d, const struct dns_config *cfg, char **err_r)
{
	size_t	 i;

	if (cfg->trust_anchor_file != NULL)
		return dns_load_anchor_file(d, cfg->trust_anchor_file, err_r);
	for (i = 0; i < sizeof(dns_root_anchors) / sizeof(*dns_root_anchors);
	    i++)
		dns_add_anchor(d, dns_root_anchors[i]);
	return 0;
}

/* The libunbound context */

static int
dns_ctx_configure(const struct dns *d, struct ub_ctx *ctx)
{
	size_t	 i;
	int	 r;

	if ((r = ub_ctx_async(ctx, 0)) != 0)
		return r;
	for (i = 0; i < d->nservers; i++)
		if ((r = ub_ctx_set_fwd(ctx, d->servers[i])) != 0)
			return r;
	if (!d->dnssec)
		return ub_ctx_set_option(ctx, "module-config:", "iterator");
	/* RFC 8145 key tag queries: noise for the forwarders. */
	if ((r = ub_ctx_set_option(ctx, "trust-anchor-signaling:", "no")) != 0)
		return r;
	for (i = 0; i < d->nanchors; i++)
		if ((r = ub_ctx_add_ta(ctx, d->anchors[i])) != 0)
			return r;
	return 0;
}

/* A new context and its fd watch; the helper forks at the first query. */
static int
dns_ctx_start(struct dns *d, char **err_r)
{
	int	 r;

	if ((d->ctx = ub_ctx_create()) == NULL) {
		*err_r = xasprintf("ub_ctx_create: %s", strerror(errno));
		return -1;
	}
	if ((r = dns_ctx_configure(d, d->ctx)) != 0) {
		*err_r = xasprintf("libunbound: %s", ub_strerror(r));
		return -1;
	}
	d->io = ev_io_add(d->ev, ub_fd(d->ctx), EV_READ, dns_io_cb, d);
	if (d->io == NULL) {
		*err_r = xasprintf("dns: watch ub_fd: %s", strerror(errno));
		return -1;
	}
	d->forked = false;
	return 0;
}

static void
dns_ctx_stop(struct dns *d)
{
	ev_io_del(&d->io);
	if (d->ctx != NULL)
		ub_ctx_delete(d->ctx);	/* waits for the helper */
	d->ctx = NULL;
}

/* Requests */

static void
dns_req_free(struct dns_req *q)
{
	ev_timer_del(&q->timer);
	ub_resolve_free(q->res);
	free(q->name);
	free(q);
}

static void
dns_reqs_free(struct dns_reqs *list)
{
	struct dns_req	*q;

	while ((q = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, q, entry);
		dns_req_free(q);
	}
}

/* Withdraw a pending request from libunbound; false: it could not be,
   so libunbound may still answer it (keep it as an orphan). */
static bool
dns_req_withdraw(struct dns_req *q)
{
	int	 r;

	if (q->dns->ctx == NULL)
		return true;
	r = ub_cancel(q->dns->ctx, q->ub_id);
	if (r == 0 || r == UB_NOID)
		return true;
	log_warnx("dns: cancel: %s", ub_strerror(r));
	return false;
}

static void
dns_orphan(struct dns_req *q)
{
	q->cb = NULL;
	ev_timer_del(&q->timer);
	TAILQ_INSERT_TAIL(&q->dns->pending, q, entry);
}

/* libunbound's callback, inside ub_process(): queue, run nothing. */
static void
dns_ub_cb(void *arg, int err, struct ub_result *res)
{
	struct dns_req	*q = arg;
	struct dns	*d = q->dns;

	TAILQ_REMOVE(&d->pending, q, entry);
	ev_timer_del(&q->timer);
	q->err = err;
	q->res = res;
	if (q->cb == NULL) {
		dns_req_free(q);
		return;
	}
	q->answered = true;
	TAILQ_INSERT_TAIL(&d->done, q, entry);
}

/* Results */

static const char *
dns_rcode_str(int rcode)
{
	static const char *const names[] = { "NOERROR", "FORMERR",
	    "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED" };

	if (rcode >= 0 && rcode < (int)(sizeof(names) / sizeof(*names)))
		return names[rcode];
	return "error rcode";
}

/* Parse one rdata of type into rr; name is the caller's scratch. */
static int
dns_rr_parse(struct dns_rr *rr, int type, const uint8_t *rd, size_t len,
    char *name, size_t size)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&rr->addr;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&rr->addr;
	size_t			 used;

	memset(rr, 0, sizeof(*rr));
	rr->type = (uint16_t)type;
	rr->rdata = rd;
	rr->rdlen = len;
	switch (type) {
	case DNS_T_A:
		sin->sin_family = AF_INET;
		return dns_rdata_a(rd, len, &sin->sin_addr);
	case DNS_T_AAAA:
		sin6->sin6_family = AF_INET6;
		return dns_rdata_aaaa(rd, len, &sin6->sin6_addr);
	case DNS_T_MX:
		return dns_rdata_mx(rd, len, &rr->pref, name, size);
	case DNS_T_CNAME:
	case DNS_T_NS:
	case DNS_T_PTR:
		if (dns_name_wire_to_text(rd, len, name, size, &used) == -1)
			return -1;
		return used == len ? 0 : -1;
	}
	return 0;
}

static bool
dns_type_has_name(int type)
{
	return type == DNS_T_MX || type == DNS_T_CNAME || type == DNS_T_NS ||
	    type == DNS_T_PTR;
}

static void
dns_parse_answer(struct dns_parsed *p, const struct ub_result *res,
    int type)
{
	char	 name[DNS_NAME_TEXT_SIZE];
	size_t	 i;

	for (i = 0; res->data[i] != NULL && p->n < DNS_RR_MAX; i++) {
		if (res->len[i] < 0 || dns_rr_parse(&p->rrs[p->n], type,
		    (const uint8_t *)res->data[i], (size_t)res->len[i], name,
		    sizeof(name)) == -1) {
			p->nbad++;
			continue;
		}
		if (dns_type_has_name(type)) {
			p->names[p->n] = xstrdup(name);
			p->rrs[p->n].name = p->names[p->n];
		}
		p->n++;
	}
}

static void
dns_parsed_clear(struct dns_parsed *p)
{
	size_t	 i;

	for (i = 0; i < p->n; i++)
		free(p->names[i]);
	free(p->names);
	free(p->rrs);
}

/* Status and reason from libunbound's answer (q->res set, q->err 0). */
static void
dns_result_status(struct dns_result *r, const struct ub_result *res,
    const struct dns_parsed *p)
{
	r->rcode = res->rcode;
	r->secure = res->secure != 0;
	r->ttl = res->ttl > 0 ? (unsigned)res->ttl : 0;
	if (res->bogus) {
		r->status = DNS_BOGUS;
		r->why = res->why_bogus != NULL ? res->why_bogus :
		    "DNSSEC validation failed";
	} else if (res->rcode == DNS_RCODE_NXDOMAIN)
		r->status = DNS_NXDOMAIN;
	else if (res->rcode != DNS_RCODE_NOERROR) {
		r->status = DNS_TEMPFAIL;
		r->why = dns_rcode_str(res->rcode);
	} else if (p->n > 0)
		r->status = DNS_OK;
	else if (p->nbad > 0) {
		r->status = DNS_TEMPFAIL;
		r->why = "malformed records";
	} else
		r->status = DNS_NODATA;
}

/* libunbound's canonical name, without the trailing dot, into canon. */
static const char *
dns_canon(const char *name, char *canon, size_t size)
{
	size_t	 len;

	if (name == NULL || strlcpy(canon, name, size) >= size)
		return NULL;
	len = strlen(canon);
	if (len > 1 && canon[len - 1] == '.')
		canon[len - 1] = '\0';
	return canon;
}

/* Run q's callback with its result; q stays ours. */
static void
dns_req_report(struct dns_req *q)
{
	struct dns_result	 r;
	struct dns_parsed	 p;
	struct ub_result	*res = q->res;
	char			 canon[DNS_NAME_TEXT_SIZE];

	memset(&r, 0, sizeof(r));
	memset(&p, 0, sizeof(p));
	r.qname = q->name;
	r.qtype = q->type;
	r.rcode = -1;
	if (q->fail != NULL || q->err != 0 || res == NULL) {
		r.status = DNS_TEMPFAIL;
		r.why = q->fail != NULL ? q->fail : ub_strerror(q->err);
	} else {
		p.rrs = xcalloc(DNS_RR_MAX, sizeof(*p.rrs));
		p.names = xcalloc(DNS_RR_MAX, sizeof(*p.names));
		if (!res->bogus && res->rcode == DNS_RCODE_NOERROR)
			dns_parse_answer(&p, res, q->type);
		dns_result_status(&r, res, &p);
		r.canonname = dns_canon(res->canonname, canon, sizeof(canon));
		if (r.status == DNS_OK) {
			r.rrs = p.rrs;
			r.nrrs = p.n;
		}
		r.nbad = p.nbad;
	}
	log_debug("dns %s type=%d status=%s rrs=%zu", q->name, q->type,
	    dns_status_str(r.status), r.nrrs);
	q->cb(&r, q->arg);
	dns_parsed_clear(&p);
}

/* Run the callbacks of answered requests, until none or dns_free(). */
static void
dns_run_done(struct dns *d)
{
	struct dns_req	*q;

	while (!d->dying && (q = TAILQ_FIRST(&d->done)) != NULL) {
		TAILQ_REMOVE(&d->done, q, entry);
		dns_req_report(q);
		dns_req_free(q);
	}
}

/* Loop entries */

static void
dns_destroy(struct dns *d)
{
	size_t	 i;

	dns_route_cancel_all(d);
	dns_reqs_free(&d->done);
	dns_reqs_free(&d->pending);
	dns_ctx_stop(d);
	for (i = 0; i < d->nservers; i++)
		free(d->servers[i]);
	free(d->servers);
	for (i = 0; i < d->nanchors; i++)
		free(d->anchors[i]);
	free(d->anchors);
	free(d);
}

static void
dns_leave(struct dns *d)
{
	if (--d->depth == 0 && d->dying)
		dns_destroy(d);
}

/*
 * The helper is gone (or talks nonsense): every request it held fails,
 * and a new context takes over.  If that cannot be made now, dns_query()
 * tries again.
 */
static void
dns_helper_lost(struct dns *d, int r)
{
	struct dns_req	*q;
	char		*err = NULL;

	log_warnx("dns: resolver process lost (%s); starting a new one",
	    ub_strerror(r));
	dns_ctx_stop(d);
	while ((q = TAILQ_FIRST(&d->pending)) != NULL) {
		TAILQ_REMOVE(&d->pending, q, entry);
		if (q->cb == NULL) {
			dns_req_free(q);
			continue;
		}
		ev_timer_del(&q->timer);
		q->fail = "resolver process lost";
		q->answered = true;
		TAILQ_INSERT_TAIL(&d->done, q, entry);
	}
	if (dns_ctx_start(d, &err) == -1) {
		log_warnx("dns: %s", err);
		free(err);
		dns_ctx_stop(d);
	}
}

static void
dns_io_cb(int fd, unsigned events, void *arg)
{
	struct dns	*d = arg;
	int		 r;

	d->depth++;
	r = ub_process(d->ctx);
	if (r != 0)
		dns_helper_lost(d, r);
	dns_run_done(d);
	dns_leave(d);
}

static void
dns_timeout_cb(void *arg)
{
	struct dns_req	*q = arg;
	struct dns	*d = q->dns;
	bool		 gone;

	d->depth++;
	ev_timer_del(&q->timer);
	TAILQ_REMOVE(&d->pending, q, entry);
	gone = dns_req_withdraw(q);
	q->fail = "timeout";
	dns_req_report(q);
	if (gone || d->dying)
		dns_req_free(q);
	else
		dns_orphan(q);
	dns_leave(d);
}

/* API */

struct dns *
dns_new(struct ev *ev, const struct dns_config *cfg, char **err_r)
{
	struct dns	*d = xcalloc(1, sizeof(*d));

	d->ev = ev;
	d->dnssec = cfg->dnssec;
	d->timeout_ms = cfg->timeout_ms != 0 ? cfg->timeout_ms :
	    DNS_TIMEOUT_DEFAULT_MS;
	TAILQ_INIT(&d->pending);
	TAILQ_INIT(&d->done);
	TAILQ_INIT(&d->routes);
	if (dns_load_servers(d, cfg, err_r) == -1 ||
	    (d->dnssec && dns_load_anchors(d, cfg, err_r) == -1) ||
	    dns_ctx_start(d, err_r) == -1) {
		dns_destroy(d);
		return NULL;
	}
	return d;
}

void
dns_free(struct dns **dp)
{
	struct dns	*d = *dp;

	*dp = NULL;
	if (d == NULL || d->dying)
		return;
	d->dying = true;
	dns_route_cancel_all(d);
	dns_reqs_free(&d->done);
	dns_reqs_free(&d->pending);
	ev_io_del(&d->io);
	if (d->depth == 0)
		dns_destroy(d);
}

const char *const *
dns_servers(const struct dns *d, size_t *n_r)
{
	*n_r = d->nservers;
	return (const char *const *)d->servers;
}

struct dns_route_reqs *
dns_routes(struct dns *d)
{
	return &d->routes;
}

/* Send one query to the helper (forked now if this is the first). */
static int
dns_send(struct dns *d, struct dns_req *q, char **err_r)
{
	int	 r;

	if (d->ctx == NULL && dns_ctx_start(d, err_r) == -1) {
		dns_ctx_stop(d);
		return -1;
	}
	if (!d->forked) {
		(void)fflush(NULL);	/* or the helper writes it again */
		log_debug("dns: starting the resolver process");
	}
	r = ub_resolve_async(d->ctx, q->name, q->type, DNS_CLASS_IN, q,
	    dns_ub_cb, &q->ub_id);
	if (r != 0) {
		*err_r = xasprintf("dns: %s", ub_strerror(r));
		return -1;
	}
	d->forked = true;
	return 0;
}

int
dns_query(struct dns *d, const char *name, int rrtype, dns_fn *cb,
    void *arg, struct dns_req **req_r, char **err_r)
{
	struct dns_req	*q;

	if (req_r != NULL)
		*req_r = NULL;
	if (!dns_name_valid(name) || rrtype < 1 || rrtype > 65535) {
		*err_r = xstrdup("dns: bad name or type");
		return -1;
	}
	if (d->dying) {
		*err_r = xstrdup("dns: shutting down");
		return -1;
	}
	q = xcalloc(1, sizeof(*q));
	q->dns = d;
	q->name = xstrdup(name);
	q->type = rrtype;
	q->cb = cb;
	q->arg = arg;
	if (dns_send(d, q, err_r) == -1) {
		dns_req_free(q);
		return -1;
	}
	q->timer = ev_timer_add(d->ev, d->timeout_ms, dns_timeout_cb, q);
	TAILQ_INSERT_TAIL(&d->pending, q, entry);
	if (req_r != NULL)
		*req_r = q;
	return 0;
}

void
dns_cancel(struct dns_req **qp)
{
	struct dns_req	*q = *qp;
	struct dns	*d;

	*qp = NULL;
	if (q == NULL)
		return;
	d = q->dns;
	if (q->answered) {
		TAILQ_REMOVE(&d->done, q, entry);
		dns_req_free(q);
		return;
	}
	TAILQ_REMOVE(&d->pending, q, entry);
	if (dns_req_withdraw(q))
		dns_req_free(q);
	else
		dns_orphan(q);
}
