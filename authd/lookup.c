/*
 * authd/lookup.c — recipient and domain lookups (the cache, then the
 * database), accounts for logins, senders for submission.  All of authd's
 * SQL is here, to be read against the grants of the wharf_authd role
 * (sql/002_authd.sql, sql/004_submission.sql).
 */
#include <stdio.h>
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
	uint32_t		 type;		/* AUTH_MAIL, AUTH_SENDER */
	uint64_t		 user_id;
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

/* ---- logins (login.c) ---- */

struct user_q {
	lookup_user_fn	*fn;
	void		*arg;
};

static void
user_result(PGresult *res, const char *err, void *arg)
{
	struct user_q	*q = arg;
	lookup_user_fn	*fn = q->fn;
	void		*fn_arg = q->arg;
	uint64_t	 id = 0;
	const char	*why;

	free(q);
	if (res == NULL) {
		log_warnx("lookup user failed: %s", err);
		fn(-1, 0, NULL, NULL, false, false, fn_arg);
		return;
	}
	if (PQntuples(res) != 1 || str_to_u64(PQgetvalue(res, 0, 0), 1,
	    UINT64_MAX, &id, &why) == -1) {
		fn(0, 0, NULL, NULL, false, false, fn_arg);
		return;
	}
	fn(1, id, PQgetvalue(res, 0, 1), PQgetisnull(res, 0, 2) ? NULL :
	    PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3)[0] == 't',
	    PQgetvalue(res, 0, 4)[0] == 't', fn_arg);
}

/* user is "local@domain", lower case; the domain is after the last @. */
void
lookup_user(struct authd *a, const char *user, lookup_user_fn *fn, void *arg)
{
	struct user_q	*q = xcalloc(1, sizeof(*q));

	q->fn = fn;
	q->arg = arg;
	db_query(a->db, "SELECT u.id, u.localpart || '@' || d.name, "
	    "u.password_hash, u.enabled, "
	    "coalesce(u.locked_until > now(), false) "
	    "FROM users u JOIN domains d ON d.id = u.domain_id "
	    "WHERE d.name = substring($1 from '@([^@]*)$') "
	    "AND u.localpart = substring($1 from '^(.*)@[^@]*$')", 1,
	    (const char *const[]){ user }, LOOKUP_TIMEOUT_MS, user_result, q);
}

static void
update_result(PGresult *res, const char *err, void *arg)
{
	struct authd_req	*r = arg;

	if (res == NULL)
		log_warnx("%s: %s", r->arg, err);
	req_done(r);
}

/* Also ends a count of failures; a rehash replaces only the old hash. */
void
lookup_login_ok(struct authd *a, uint64_t user_id, const char *old_hash,
    const char *new_hash)
{
	char	 id[24];

	snprintf(id, sizeof(id), "%llu", (unsigned long long)user_id);
	db_query(a->db, "UPDATE users SET failed_logins = 0, "
	    "locked_until = NULL, last_failed_at = NULL, "
	    "last_login_at = now(), password_hash = CASE "
	    "WHEN $2::text IS NOT NULL AND password_hash = $3 THEN $2 "
	    "ELSE password_hash END WHERE id = $1", 3,
	    (const char *const[]){ id, new_hash, old_hash },
	    LOOKUP_TIMEOUT_MS, update_result,
	    req_new(a, NULL, 0, "", "recording a login"));
}

struct failed_q {
	lookup_failed_fn *fn;
	void		*arg;
};

static void
failed_result(PGresult *res, const char *err, void *arg)
{
	struct failed_q	*q = arg;
	lookup_failed_fn *fn = q->fn;
	void		*fn_arg = q->arg;
	uint64_t	 n = 0;
	const char	*why;

	free(q);
	if (res == NULL || PQntuples(res) != 1 ||
	    str_to_u64(PQgetvalue(res, 0, 0), 0, INT32_MAX, &n, &why) == -1) {
		if (res == NULL)
			log_warnx("recording a failed login: %s", err);
		fn(-1, false, fn_arg);
		return;
	}
	fn((int)n, PQgetvalue(res, 0, 1)[0] == 't', fn_arg);
}

/*
 * One more failure, or the first of a new count when the last one is
 * older than auth_lockout_time; at auth_lockout_failures the account is
 * locked for auth_lockout_time.  Returns the count and whether this
 * failure locked it.
 */
void
lookup_login_failed(struct authd *a, uint64_t user_id, lookup_failed_fn *fn,
    void *arg)
{
	struct failed_q	*q = xcalloc(1, sizeof(*q));
	char		 id[24], ms[24], max[24];

	q->fn = fn;
	q->arg = arg;
	snprintf(id, sizeof(id), "%llu", (unsigned long long)user_id);
	snprintf(ms, sizeof(ms), "%llu", (unsigned long long)a->lockout_time);
	snprintf(max, sizeof(max), "%u", a->lockout_failures);
	db_query(a->db, "WITH c AS (SELECT id, CASE WHEN last_failed_at > "
	    "now() - $2::bigint * interval '1 millisecond' "
	    "THEN failed_logins + 1 ELSE 1 END AS n FROM users WHERE id = $1) "
	    "UPDATE users u SET failed_logins = c.n, last_failed_at = now(), "
	    "locked_until = CASE WHEN $3::int > 0 AND c.n >= $3::int "
	    "THEN now() + $2::bigint * interval '1 millisecond' "
	    "ELSE u.locked_until END FROM c WHERE u.id = c.id "
	    "RETURNING c.n, $3::int > 0 AND c.n >= $3::int", 3,
	    (const char *const[]){ id, ms, max }, LOOKUP_TIMEOUT_MS,
	    failed_result, q);
}

/* Written in the background: a login is not held up by its audit row. */
void
lookup_audit(struct authd *a, const char *service, const char *account,
    const char *ip, const char *result, const char *detail)
{
	db_query(a->db, "INSERT INTO audit_log (service, account, client_ip, "
	    "result, detail) VALUES ($1, $2, $3::inet, $4, $5)", 5,
	    (const char *const[]){ service, account, ip[0] != '\0' ? ip :
	    NULL, result, detail }, LOOKUP_TIMEOUT_MS, update_result,
	    req_new(a, NULL, 0, "", "writing the audit log"));
}

/* ---- submission senders ---- */

static void
sender_reply(struct authd_req *r, uint32_t status)
{
	if (status == AUTH_OK && r->type == AUTH_MAIL &&
	    !rate_take(r->a, r->user_id, 1, 0)) {
		log_info("user id=%llu over submission_message_rate_limit",
		    (unsigned long long)r->user_id);
		status = AUTH_TOOMANY;
	}
	if (r->cl != NULL)
		client_reply_status(r->cl, r->type == AUTH_MAIL ?
		    AUTH_MAIL_R : AUTH_SENDER_R, r->id, status);
	req_done(r);
}

static void
sender_result(PGresult *res, const char *err, void *arg)
{
	struct authd_req	*r = arg;

	if (res == NULL) {
		log_warnx("lookup sender failed: %s", err);
		sender_reply(r, AUTH_TEMPFAIL);
		return;
	}
	sender_reply(r, PQntuples(res) == 1 &&
	    PQgetvalue(res, 0, 0)[0] == 't' ? AUTH_OK : AUTH_DENIED);
}

/*
 * AUTH_MAIL (sender "" is <>) and AUTH_SENDER: is address the user's
 * (sql/004_submission.sql)?  AUTH_MAIL then counts the message.
 */
void
lookup_sender(struct authd *a, struct authd_client *cl, uint32_t type,
    uint32_t id, uint64_t user_id, const char *address)
{
	struct authd_req	*r = req_new(a, cl, id, "", address);
	char			 uid[24];

	r->type = type;
	r->user_id = user_id;
	if (a->sender_any || (type == AUTH_MAIL && address[0] == '\0')) {
		sender_reply(r, AUTH_OK);
		return;
	}
	snprintf(uid, sizeof(uid), "%llu", (unsigned long long)user_id);
	db_query(a->db, "SELECT wharf_sender_owned($1, $2, $3)", 3,
	    (const char *const[]){ address, uid, a->delimiters },
	    LOOKUP_TIMEOUT_MS, sender_result, r);
}
