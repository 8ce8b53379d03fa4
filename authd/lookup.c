/*
 * authd/lookup.c — recipient and domain lookups: the cache, then the
 * database.  All of authd's SQL is here, to be read against the grants of
 * the wharf_authd role (sql/002_authd.sql).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "db.h"
#include "ev.h"
#include "log.h"
#include "proto_auth.h"
#include "service.h"
#include "xmalloc.h"
#include "authd.h"

#define LOOKUP_TIMEOUT_MS	5000

/* A query in flight; cl becomes NULL if the client goes away first. */
struct authd_req {
	struct authd_req	*next;
	struct authd		*a;
	struct authd_client	*cl;
	uint32_t		 id;
	char			*key;		/* cache key */
	char			*arg;		/* address or domain */
};

static struct authd_req *reqs;

static struct authd_req *
req_new(struct authd *a, struct authd_client *cl, uint32_t id,
    const char *key, const char *arg)
{
	struct authd_req	*r = xcalloc(1, sizeof(*r));

	r->a = a;
	r->cl = cl;
	r->id = id;
	r->key = xstrdup(key);
	r->arg = xstrdup(arg);
	r->next = reqs;
	reqs = r;
	a->pending++;
	return r;
}

static void
req_done(struct authd_req *r)
{
	struct authd	*a = r->a;

	for (struct authd_req **p = &reqs; *p != NULL; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	free(r->key);
	free(r->arg);
	free(r);
	a->pending--;
	authd_request_done(a);
}

void
lookup_client_gone(struct authd_client *cl)
{
	for (struct authd_req *r = reqs; r != NULL; r = r->next)
		if (r->cl == cl)
			r->cl = NULL;
}

void
rcpt_answer_free(void *p)
{
	struct rcpt_answer	*ans = p;

	for (size_t i = 0; i < ans->ndest; i++)
		free(ans->dest[i].address);
	free(ans->dest);
	free(ans);
}

static uint32_t
dest_kind(const char *kind)
{
	static const struct {
		const char	*name;
		uint32_t	 kind;
	} kinds[] = {
		{ "local", AUTH_DEST_LOCAL }, { "remote", AUTH_DEST_REMOTE },
		{ "unknown", AUTH_DEST_UNKNOWN }, { "loop", AUTH_DEST_LOOP },
		{ "postmaster", AUTH_DEST_POSTMASTER },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i].name) == 0)
			return kinds[i].kind;
	return AUTH_DEST_UNKNOWN;
}

/* The whole answer is about the address itself: not ours, or nobody. */
static uint32_t
rcpt_status(const struct rcpt_answer *ans, const char *address)
{
	if (ans->ndest == 1 && strcasecmp(ans->dest[0].address, address) == 0) {
		if (ans->dest[0].kind == AUTH_DEST_REMOTE)
			return AUTH_NOTLOCAL;
		if (ans->dest[0].kind == AUTH_DEST_UNKNOWN)
			return AUTH_NOUSER;
	}
	return ans->ndest == 0 ? AUTH_NOUSER : AUTH_OK;
}

static struct rcpt_answer *
rcpt_answer_from(PGresult *res, const char *address)
{
	struct rcpt_answer	*ans = xcalloc(1, sizeof(*ans));
	const char		*why;
	int			 n = PQntuples(res);

	ans->dest = xcalloc((size_t)n, sizeof(*ans->dest));
	for (int i = 0; i < n; i++) {
		struct auth_dest *d = &ans->dest[ans->ndest++];

		d->kind = dest_kind(PQgetvalue(res, i, 0));
		d->address = xstrdup(PQgetvalue(res, i, 1));
		if (str_to_u64(PQgetvalue(res, i, 2), 0, UINT64_MAX,
		    &d->user_id, &why) == -1)
			d->user_id = 0;
	}
	ans->status = rcpt_status(ans, address);
	return ans;
}

static void
rcpt_result(PGresult *res, const char *err, void *arg)
{
	struct authd_req	*r = arg;
	struct rcpt_answer	*ans;
	struct rcpt_answer	 fail = { AUTH_TEMPFAIL, 0, NULL };
	char			 safe[256];

	if (res == NULL) {
		log_warnx("lookup rcpt=<%s> failed: %s", log_safe(safe,
		    sizeof(safe), r->arg, strlen(r->arg)), err);
		if (r->cl != NULL)
			client_reply_rcpt(r->cl, r->id, &fail);
		req_done(r);
		return;
	}
	ans = rcpt_answer_from(res, r->arg);
	if (r->cl != NULL)
		client_reply_rcpt(r->cl, r->id, ans);
	cache_put(r->a->cache, r->key, ans, rcpt_answer_free,
	    ev_now(r->a->svc->ev));
	req_done(r);
}

void
lookup_rcpt(struct authd *a, struct authd_client *cl, uint32_t id,
    const char *address)
{
	char			*key = xasprintf("r:%s", address);
	const struct rcpt_answer *hit;
	struct authd_req	*r;

	if ((hit = cache_get(a->cache, key, ev_now(a->svc->ev))) != NULL) {
		client_reply_rcpt(cl, id, hit);
		free(key);
		return;
	}
	r = req_new(a, cl, id, key, address);
	free(key);
	db_query(a->db, "SELECT kind, address, coalesce(user_id, 0) "
	    "FROM wharf_resolve($1, $2)", 2,
	    (const char *const[]){ address, a->delimiters },
	    LOOKUP_TIMEOUT_MS, rcpt_result, r);
}

static void
free_status(void *p)
{
	free(p);
}

static void
domain_result(PGresult *res, const char *err, void *arg)
{
	struct authd_req	*r = arg;
	uint32_t		*status;

	if (res == NULL) {
		log_warnx("lookup domain failed: %s", err);
		if (r->cl != NULL)
			client_reply_status(r->cl, AUTH_DOMAIN_R, r->id,
			    AUTH_TEMPFAIL);
		req_done(r);
		return;
	}
	status = xmalloc(sizeof(*status));
	*status = PQntuples(res) > 0 ? AUTH_OK : AUTH_NOTLOCAL;
	if (r->cl != NULL)
		client_reply_status(r->cl, AUTH_DOMAIN_R, r->id, *status);
	cache_put(r->a->cache, r->key, status, free_status,
	    ev_now(r->a->svc->ev));
	req_done(r);
}

void
lookup_domain(struct authd *a, struct authd_client *cl, uint32_t id,
    const char *domain)
{
	char		*key = xasprintf("d:%s", domain);
	const uint32_t	*hit;
	struct authd_req *r;

	if ((hit = cache_get(a->cache, key, ev_now(a->svc->ev))) != NULL) {
		client_reply_status(cl, AUTH_DOMAIN_R, id, *hit);
		free(key);
		return;
	}
	r = req_new(a, cl, id, key, domain);
	free(key);
	db_query(a->db, "SELECT 1 FROM domains WHERE name = lower($1)", 1,
	    (const char *const[]){ domain }, LOOKUP_TIMEOUT_MS,
	    domain_result, r);
}
