/*
 * qmgr/queue_db.c — every statement of the wharf_qmgr role, to be read
 * against its grants (sql/003_queue.sql).
 *
 * A commit is one INSERT statement (blobs, queue and the expanded
 * recipients through data-modifying CTEs), so it is atomic without an
 * explicit transaction, and one round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "blob.h"
#include "buf.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "proto_queue.h"
#include "service.h"
#include "xmalloc.h"
#include "qmgr.h"

#define DB_TIMEOUT_MS	30000
#define SCAN_BATCH	"500"


struct commit_req {
	struct qmgr	*q;
	char		*params[15];
	struct buf	 rcpts, orcpts, notifies;
	size_t		 nrcpt;
	char		*sender;
	commit_done_fn	*done;
	void		*arg;
};

static const char commit_sql[] =
    "WITH b AS (INSERT INTO blobs (name, size, refcount) "
    "  VALUES ($1, $2, 1) RETURNING id), "
    "q AS (INSERT INTO queue (queue_id, blob_id, sender, size, ret, envid, "
    "  body, smtputf8, client_addr, client_name, client_helo, protocol) "
    "  SELECT $1, b.id, $3, $2, nullif($4, ''), nullif($5, ''), $6, $7, "
    "  nullif($8, '')::inet, nullif($9, ''), nullif($10, ''), "
    "  nullif($11, '') FROM b RETURNING id), "
    "x AS (SELECT * FROM unnest($12::text[], $13::text[], $14::text[]) "
    "  AS t(rcpt, orcpt, notify)), "
    "r AS (INSERT INTO queue_recipients (queue, rcpt, orcpt, notify, "
    "  address, user_id, transport, status, dsn_status, last_reply) "
    "  SELECT q.id, x.rcpt, x.orcpt, x.notify, res.address, res.user_id, "
    "  CASE WHEN res.kind = 'remote' THEN 'remote' ELSE 'local' END, "
    "  CASE WHEN res.kind IN ('unknown', 'loop') THEN 'bounced' "
    "    WHEN res.kind = 'postmaster' THEN 'deferred' ELSE 'pending' END, "
    "  CASE res.kind WHEN 'unknown' THEN '5.1.1' WHEN 'loop' THEN '5.4.6' "
    "    WHEN 'postmaster' THEN '4.3.0' END, "
    "  CASE res.kind WHEN 'unknown' THEN 'no such user' "
    "    WHEN 'loop' THEN 'alias loop' "
    "    WHEN 'postmaster' THEN 'postmaster has no mailbox: add an alias' "
    "  END "
    "  FROM q, x, LATERAL wharf_resolve(x.rcpt, $15) res "
    "  RETURNING id, transport, status, coalesce(user_id, 0), address, "
    "  rcpt, queue) "
    "SELECT * FROM r";

/* Append one element to a PostgreSQL array literal; NULL when s is NULL. */
static void
array_add(struct buf *b, const char *s)
{
	buf_add_str(b, b->len == 0 ? "{" : ",");
	if (s == NULL) {
		buf_add_str(b, "NULL");
		return;
	}
	buf_add_u8(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_add_u8(b, '\\');
		buf_add_u8(b, (uint8_t)*s);
	}
	buf_add_u8(b, '"');
}

struct commit_req *
commit_req_new(const char *spool, uint64_t size, commit_done_fn *done,
    void *arg)
{
	struct commit_req	*r = xcalloc(1, sizeof(*r));

	r->params[0] = xstrdup(spool);
	r->params[1] = xasprintf("%llu", (unsigned long long)size);
	buf_init(&r->rcpts, 16 * 1024 * 1024);
	buf_init(&r->orcpts, 16 * 1024 * 1024);
	buf_init(&r->notifies, 1024 * 1024);
	r->done = done;
	r->arg = arg;
	return r;
}

void
commit_req_free(struct commit_req *r)
{
	for (size_t i = 0; i < sizeof(r->params) / sizeof(r->params[0]); i++)
		free(r->params[i]);
	buf_clear(&r->rcpts);
	buf_clear(&r->orcpts);
	buf_clear(&r->notifies);
	free(r);
}

void
commit_req_envelope(struct commit_req *r, const char *sender,
    const char *envid, uint32_t ret, uint32_t body, bool smtputf8,
    const char *client_addr, const char *client_name, const char *helo,
    const char *protocol)
{
	static const char *const rets[] = { "", "FULL", "HDRS" };
	static const char *const bodies[] = { "7BIT", "8BITMIME",
	    "BINARYMIME" };

	r->params[2] = xstrdup(sender);
	r->params[3] = xstrdup(rets[ret]);
	r->params[4] = xstrdup(envid);
	r->params[5] = xstrdup(bodies[body]);
	r->params[6] = xstrdup(smtputf8 ? "true" : "false");
	r->params[7] = xstrdup(client_addr);
	r->params[8] = xstrdup(client_name);
	r->params[9] = xstrdup(helo);
	r->params[10] = xstrdup(protocol);
}

/* RFC 3461 4.1 NOTIFY as the text the schema keeps; NULL if not given. */
static const char *
notify_text(uint32_t notify, char *out, size_t size)
{
	if (notify == 0)
		return NULL;
	if (notify & QUEUE_NOTIFY_NEVER)
		return "NEVER";
	snprintf(out, size, "%s%s%s%s%s",
	    notify & QUEUE_NOTIFY_SUCCESS ? "SUCCESS" : "",
	    (notify & QUEUE_NOTIFY_SUCCESS) && (notify & ~QUEUE_NOTIFY_SUCCESS &
	    (QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY)) ? "," : "",
	    notify & QUEUE_NOTIFY_FAILURE ? "FAILURE" : "",
	    (notify & QUEUE_NOTIFY_FAILURE) && (notify & QUEUE_NOTIFY_DELAY) ?
	    "," : "",
	    notify & QUEUE_NOTIFY_DELAY ? "DELAY" : "");
	return out[0] != '\0' ? out : NULL;
}

void
commit_req_rcpt(struct commit_req *r, const char *rcpt, const char *orcpt,
    uint32_t notify)
{
	char	 nbuf[64];

	array_add(&r->rcpts, rcpt);
	array_add(&r->orcpts, orcpt[0] != '\0' ? orcpt : NULL);
	array_add(&r->notifies, notify_text(notify, nbuf, sizeof(nbuf)));
	r->nrcpt++;
}

static struct qjob *
job_from_commit(struct commit_req *r, PGresult *res)
{
	struct qjob	*job = xcalloc(1, sizeof(*job));
	const char	*why;
	int		 n = PQntuples(res);

	job->queue_id = xstrdup(r->params[0]);
	job->blob = xstrdup(r->params[0]);
	str_to_u64(r->params[1], 0, UINT64_MAX, &job->size, &why);
	job->sender = xstrdup(r->params[2]);
	job->rcpts = xcalloc((size_t)n, sizeof(*job->rcpts));
	for (int i = 0; i < n; i++) {
		struct qrcpt *qr;

		str_to_u64(PQgetvalue(res, i, 6), 0, UINT64_MAX,
		    &job->queue_row, &why);
		if (strcmp(PQgetvalue(res, i, 1), "local") != 0 ||
		    strcmp(PQgetvalue(res, i, 2), "pending") != 0)
			continue;
		qr = &job->rcpts[job->nrcpt++];
		str_to_u64(PQgetvalue(res, i, 0), 0, UINT64_MAX, &qr->row, &why);
		str_to_u64(PQgetvalue(res, i, 3), 0, UINT64_MAX, &qr->user_id,
		    &why);
		qr->address = xstrdup(PQgetvalue(res, i, 4));
		qr->rcpt = xstrdup(PQgetvalue(res, i, 5));
	}
	return job;
}

static void
log_queued(struct commit_req *r, PGresult *res)
{
	char	 from[300];

	log_info("%s: queued from=<%s> size=%s nrcpt=%zu destinations=%d",
	    r->params[0], log_safe(from, sizeof(from), r->params[2],
	    strlen(r->params[2])), r->params[1], r->nrcpt, PQntuples(res));
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 2), "bounced") == 0)
			log_info("%s: to=<%s> status=bounced (%s)",
			    r->params[0], log_safe(from, sizeof(from),
			    PQgetvalue(res, i, 4), strlen(PQgetvalue(res, i, 4))),
			    "no such user or alias loop");
}

static void
commit_result(PGresult *res, const char *err, void *arg)
{
	struct commit_req	*r = arg;
	struct qjob		*job = NULL;
	int			 status = QUEUE_OK;

	if (res == NULL) {
		log_warnx("%s: commit failed: %s", r->params[0], err);
		status = QUEUE_TEMPFAIL;
	} else {
		log_queued(r, res);
		job = job_from_commit(r, res);
	}
	r->done(r->q, r->arg, status, status == QUEUE_OK ? r->params[0] :
	    NULL, job);
	commit_req_free(r);
}

void
queue_db_commit(struct qmgr *q, struct commit_req *r)
{
	const char	*p[15];

	r->q = q;
	buf_add_str(&r->rcpts, "}");
	buf_add_str(&r->orcpts, "}");
	buf_add_str(&r->notifies, "}");
	for (int i = 0; i < 11; i++)
		p[i] = r->params[i];
	p[11] = buf_cstr(&r->rcpts);
	p[12] = buf_cstr(&r->orcpts);
	p[13] = buf_cstr(&r->notifies);
	p[14] = conf_str(q->svc->conf, "recipient_delimiter");
	db_query(q->db, commit_sql, 15, p, DB_TIMEOUT_MS, commit_result, r);
}

/* Group scan rows (ordered by queue row) into one job per message. */
static void
scan_result(PGresult *res, const char *err, void *arg)
{
	struct qmgr	*q = arg;
	struct qjob	*job = NULL;
	const char	*why;
	uint64_t	 qrow;
	int		 n;

	q->scanning = false;
	if (res == NULL) {
		log_warnx("queue scan failed: %s", err);
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		struct qrcpt *qr;

		str_to_u64(PQgetvalue(res, i, 4), 0, UINT64_MAX, &qrow, &why);
		if (job != NULL && job->queue_row != qrow) {
			dispatch_job(q, job);
			job = NULL;
		}
		if (job == NULL) {
			job = xcalloc(1, sizeof(*job));
			job->queue_row = qrow;
			job->queue_id = xstrdup(PQgetvalue(res, i, 5));
			job->blob = xstrdup(PQgetvalue(res, i, 6));
			str_to_u64(PQgetvalue(res, i, 7), 0, UINT64_MAX,
			    &job->size, &why);
			job->sender = xstrdup(PQgetvalue(res, i, 8));
			job->rcpts = xcalloc((size_t)n, sizeof(*job->rcpts));
		}
		qr = &job->rcpts[job->nrcpt++];
		str_to_u64(PQgetvalue(res, i, 0), 0, UINT64_MAX, &qr->row, &why);
		str_to_u64(PQgetvalue(res, i, 1), 0, UINT64_MAX, &qr->user_id,
		    &why);
		qr->address = xstrdup(PQgetvalue(res, i, 2));
		qr->rcpt = xstrdup(PQgetvalue(res, i, 3));
	}
	if (job != NULL)
		dispatch_job(q, job);
}

/* Local recipients that are due: after a restart, all of them. */
void
queue_db_scan(struct qmgr *q)
{
	if (q->scanning)
		return;
	q->scanning = true;
	db_query(q->db,
	    "SELECT r.id, r.user_id, r.address, r.rcpt, q.id, q.queue_id, "
	    "  b.name, b.size, q.sender "
	    "FROM queue_recipients r JOIN queue q ON q.id = r.queue "
	    "  JOIN blobs b ON b.id = q.blob_id "
	    "WHERE r.transport = 'local' AND r.status IN ('pending', "
	    "  'deferred') AND r.user_id IS NOT NULL AND NOT q.held "
	    "  AND r.next_attempt_at <= now() "
	    "ORDER BY q.id, r.id LIMIT " SCAN_BATCH, 0, NULL, DB_TIMEOUT_MS,
	    scan_result, q);
}

static void
result_done(PGresult *res, const char *err, void *arg)
{
	char	*what = arg;

	if (res == NULL)
		log_warnx("%s: recording the delivery result failed: %s", what,
		    err);
	free(what);
}

/* A deliver answer other than success (success is recorded by deliver). */
void
queue_db_result(struct qmgr *q, uint64_t row, const char *queue_id,
    uint32_t status, const char *reply)
{
	char		 id[32], lo[32], hi[32];
	bool		 perm = status == 2;	/* DELIVER_PERMFAIL */

	snprintf(id, sizeof(id), "%llu", (unsigned long long)row);
	/* queue_retry_min, doubling each attempt, at most queue_retry_max */
	snprintf(lo, sizeof(lo), "%lld milliseconds",
	    (long long)conf_int(q->svc->conf, "queue_retry_min"));
	snprintf(hi, sizeof(hi), "%lld milliseconds",
	    (long long)conf_int(q->svc->conf, "queue_retry_max"));
	db_query(q->db, perm ?
	    "UPDATE queue_recipients SET status = 'bounced', "
	    "  attempts = attempts + 1, last_attempt_at = now(), "
	    "  last_reply = $2, dsn_status = split_part($2, ' ', 1) "
	    "WHERE id = $1 AND status IN ('pending', 'deferred')" :
	    "UPDATE queue_recipients SET status = 'deferred', "
	    "  attempts = attempts + 1, last_attempt_at = now(), "
	    "  next_attempt_at = now() + least($4::interval, "
	    "    $3::interval * power(2, least(attempts, 30))), "
	    "  last_reply = $2, dsn_status = split_part($2, ' ', 1) "
	    "WHERE id = $1 AND status IN ('pending', 'deferred')",
	    perm ? 2 : 4, (const char *const[]){ id, reply, lo, hi },
	    DB_TIMEOUT_MS, result_done, xstrdup(queue_id));
}

struct finish_ctx {
	struct qmgr	*q;
	char		*blob;
	uint64_t	 blob_row;
};

static void
finish_blob_deleted(PGresult *res, const char *err, void *arg)
{
	struct finish_ctx	*f = arg;

	/* Row first, then the file: never a row pointing at nothing. */
	if (res != NULL && PQntuples(res) == 1)
		blob_remove(f->q->blobdir, f->blob);
	free(f->blob);
	free(f);
}

static void
finish_result(PGresult *res, const char *err, void *arg)
{
	struct finish_ctx	*f = arg;
	char			 id[32];

	if (res == NULL || PQntuples(res) != 1 ||
	    strcmp(PQgetvalue(res, 0, 1), "0") != 0) {
		if (res == NULL)
			log_warnx("queue cleanup failed: %s", err);
		free(f->blob);
		free(f);
		return;
	}
	strlcpy(id, PQgetvalue(res, 0, 0), sizeof(id));
	db_query(f->q->db, "DELETE FROM blobs WHERE id = $1 AND refcount = 0 "
	    "RETURNING id", 1, (const char *const[]){ id }, DB_TIMEOUT_MS,
	    finish_blob_deleted, f);
}

/* Every recipient is done: drop the queue entry and its blob reference. */
void
queue_db_finish(struct qmgr *q, uint64_t queue_row, const char *blob)
{
	struct finish_ctx	*f = xcalloc(1, sizeof(*f));
	char			 id[32];

	f->q = q;
	f->blob = xstrdup(blob);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)queue_row);
	db_query(q->db,
	    "WITH d AS (DELETE FROM queue WHERE id = $1 AND NOT EXISTS "
	    "  (SELECT 1 FROM queue_recipients WHERE queue = $1 "
	    "   AND status <> 'sent') RETURNING blob_id) "
	    "UPDATE blobs SET refcount = refcount - 1 "
	    "WHERE id IN (SELECT blob_id FROM d) RETURNING id, refcount",
	    1, (const char *const[]){ id }, DB_TIMEOUT_MS, finish_result, f);
}
