/*
 * qmgr/queue_db.c — the statements of the wharf_qmgr role that commit
 * messages and record results (the scan is in queue_scan.c, notices in
 * bounce.c), to be read against its grants (sql/003_queue.sql).
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
#include "proto_deliver.h"
#include "proto_queue.h"
#include "service.h"
#include "xmalloc.h"
#include "qmgr.h"



struct commit_req {
	struct qmgr	*q;
	char		*params[17];
	struct buf	 rcpts, orcpts, notifies;
	size_t		 nrcpt;
	char		*sender;
	commit_done_fn	*done;
	void		*arg;
};

/*
 * $1 spool name, $2 size, $3 sender, $4 RET, $5 ENVID, $6 BODY, $7 SMTPUTF8,
 * $8..$11 client address, name, HELO, protocol, $12..$14 recipients, ORCPTs
 * and NOTIFYs (text[]), $15 recipient_delimiter; for a notice (bounce.c)
 * $16 the rows it reports on (bigint[], their dsn_pending cleared in the
 * same statement) and $17 the queue row whose delay notice it is.
 * Rows: one per destination (id, transport, status, user_id, address,
 * rcpt, queue row).
 */
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
    "  address, user_id, transport, status, dsn_status, last_reply, "
    "  dsn_pending) "
    "  SELECT q.id, x.rcpt, x.orcpt, x.notify, res.address, res.user_id, "
    "  CASE WHEN res.kind = 'remote' THEN 'remote' ELSE 'local' END, "
    "  CASE WHEN res.kind IN ('unknown', 'loop') THEN 'bounced' "
    "    WHEN res.kind = 'postmaster' THEN 'deferred' ELSE 'pending' END, "
    "  CASE res.kind WHEN 'unknown' THEN '5.1.1' WHEN 'loop' THEN '5.4.6' "
    "    WHEN 'postmaster' THEN '4.3.0' END, "
    "  CASE res.kind WHEN 'unknown' THEN 'no such user' "
    "    WHEN 'loop' THEN 'alias loop' "
    "    WHEN 'postmaster' THEN 'postmaster has no mailbox: add an alias' "
    "  END, "
    "  res.kind IN ('unknown', 'loop') OR (res.kind <> 'remote' AND "
    "    coalesce(x.notify, '') LIKE '%SUCCESS%') "
    "  FROM q, x, LATERAL wharf_resolve(x.rcpt, $15) res "
    "  RETURNING id, transport, status, coalesce(user_id, 0), address, "
    "  rcpt, queue), "
    "n AS (UPDATE queue_recipients SET dsn_pending = false "
    "  WHERE id = ANY($16::bigint[]) AND dsn_pending), "
    "w AS (UPDATE queue SET delay_warned = true WHERE id = $17::bigint) "
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

/* A notice: it reports on rows ("{1,2}"), or is the delay notice of a
   queue entry (delay_warned_row, else 0). */
void
commit_req_notice(struct commit_req *r, const char *rows,
    uint64_t delay_warned_row)
{
	r->params[15] = xstrdup(rows);
	if (delay_warned_row != 0)
		r->params[16] = xasprintf("%llu",
		    (unsigned long long)delay_warned_row);
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
		for (int i = 0; i < PQntuples(res); i++)
			if (strcmp(PQgetvalue(res, i, 1), "remote") == 0 ||
			    strcmp(PQgetvalue(res, i, 2), "bounced") == 0) {
				scan_soon(r->q);
				break;
			}
	}
	r->done(r->q, r->arg, status, status == QUEUE_OK ? r->params[0] :
	    NULL, job);
	commit_req_free(r);
}

void
queue_db_commit(struct qmgr *q, struct commit_req *r)
{
	const char	*p[17];

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
	p[15] = r->params[15] != NULL ? r->params[15] : "{}";
	p[16] = r->params[16];
	db_query(q->db, commit_sql, 17, p, QMGR_DB_TIMEOUT_MS, commit_result,
	    r);
}

/*
 * A delivery's outcome for one recipient row; deliver records its own
 * successes, the mta's are recorded here.  A temporary failure is retried
 * after queue_retry_min, doubling each attempt up to queue_retry_max, and
 * bounces once the message is older than maximal_queue_lifetime.  A
 * bounce, or a success that NOTIFY=SUCCESS asked to hear of and that no
 * DSN-capable next hop took over (relayed), leaves dsn_pending for
 * bounce.c (a local delivery's is set when it is queued).
 */
static const char result_ok_sql[] =
    "UPDATE queue_recipients SET status = 'sent', attempts = attempts + 1, "
    "  last_attempt_at = now(), last_reply = $2, dsn_status = $3, "
    "  relay = $4, relayed = $5, "
    "  dsn_pending = $5 AND coalesce(notify, '') LIKE '%SUCCESS%' "
    "WHERE id = $1 AND status IN ('pending', 'deferred') "
    "RETURNING dsn_pending";
static const char result_perm_sql[] =
    "UPDATE queue_recipients SET status = 'bounced', "
    "  attempts = attempts + 1, last_attempt_at = now(), "
    "  last_reply = $2, dsn_status = $3, relay = $4, dsn_pending = true "
    "WHERE id = $1 AND status IN ('pending', 'deferred') "
    "RETURNING dsn_pending";
static const char result_temp_sql[] =
    "UPDATE queue_recipients r SET "
    "  status = CASE WHEN q.created_at + $7::interval <= now() "
    "    THEN 'bounced' ELSE 'deferred' END, "
    "  dsn_pending = q.created_at + $7::interval <= now(), "
    "  attempts = r.attempts + 1, last_attempt_at = now(), "
    "  next_attempt_at = now() + least($6::interval, "
    "    $5::interval * power(2, least(r.attempts, 30))), "
    "  last_reply = $2, dsn_status = $3, relay = $4 "
    "FROM queue q WHERE r.id = $1 AND q.id = r.queue "
    "  AND r.status IN ('pending', 'deferred') "
    "RETURNING r.dsn_pending, greatest(0, ceil(extract(epoch FROM "
    "  r.next_attempt_at - now()) * 1000))::bigint";

struct result_ctx {
	struct qmgr	*q;
	char		*queue_id;
};

static void
result_done(PGresult *res, const char *err, void *arg)
{
	struct result_ctx	*c = arg;
	const char		*why;
	uint64_t		 ms;

	if (res == NULL)
		log_warnx("%s: recording the delivery result failed: %s",
		    c->queue_id, err);
	else if (PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		bounce_kick(c->q);
	else if (PQntuples(res) == 1 && PQnfields(res) == 2 &&
	    str_to_u64(PQgetvalue(res, 0, 1), 0, UINT64_MAX, &ms, &why) == 0)
		scan_wake_in(c->q, ms);	/* the retry, on time */
	free(c->queue_id);
	free(c);
}

/* "5.1.1" from "5.1.1 no such user"; "" when the reply has none. */
static void
reply_status_code(const char *reply, char *out, size_t size)
{
	size_t	 n = strcspn(reply, " ");

	out[0] = '\0';
	if (n >= 5 && n < size && (reply[0] == '2' || reply[0] == '4' ||
	    reply[0] == '5') && reply[1] == '.') {
		memcpy(out, reply, n);
		out[n] = '\0';
	}
}

void
queue_db_result(struct qmgr *q, uint64_t row, const char *queue_id,
    uint32_t status, const char *dsn, const char *reply, const char *relay,
    bool relayed)
{
	struct result_ctx	*c = xcalloc(1, sizeof(*c));
	char			 id[32], lo[32], hi[32], life[32], code[32];
	const char		*p[7];

	snprintf(id, sizeof(id), "%llu", (unsigned long long)row);
	if (dsn == NULL) {
		reply_status_code(reply, code, sizeof(code));
		dsn = code;
	}
	snprintf(lo, sizeof(lo), "%lld milliseconds",
	    (long long)conf_int(q->svc->conf, "queue_retry_min"));
	snprintf(hi, sizeof(hi), "%lld milliseconds",
	    (long long)conf_int(q->svc->conf, "queue_retry_max"));
	snprintf(life, sizeof(life), "%lld milliseconds",
	    (long long)conf_int(q->svc->conf, "maximal_queue_lifetime"));
	p[0] = id;
	p[1] = reply;
	p[2] = dsn[0] != '\0' ? dsn : NULL;
	p[3] = relay;
	c->q = q;
	c->queue_id = xstrdup(queue_id);
	switch (status) {
	case DELIVER_OK:
		p[4] = relayed ? "t" : "f";
		db_query(q->db, result_ok_sql, 5, p, QMGR_DB_TIMEOUT_MS,
		    result_done, c);
		break;
	case DELIVER_PERMFAIL:
		db_query(q->db, result_perm_sql, 4, p, QMGR_DB_TIMEOUT_MS,
		    result_done, c);
		break;
	default:
		p[4] = lo;
		p[5] = hi;
		p[6] = life;
		db_query(q->db, result_temp_sql, 7, p, QMGR_DB_TIMEOUT_MS,
		    result_done, c);
		break;
	}
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
	    "RETURNING id", 1, (const char *const[]){ id }, QMGR_DB_TIMEOUT_MS,
	    finish_blob_deleted, f);
}

/* Every recipient is done and reported on: drop the queue entry and its
   blob reference. */
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
	    "   AND (status IN ('pending', 'deferred') OR dsn_pending)) "
	    "  RETURNING blob_id) "
	    "UPDATE blobs SET refcount = refcount - 1 "
	    "WHERE id IN (SELECT blob_id FROM d) RETURNING id, refcount",
	    1, (const char *const[]){ id }, QMGR_DB_TIMEOUT_MS, finish_result, f);
}
