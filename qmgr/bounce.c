/*
 * qmgr/bounce.c — delivery status notifications (RFC 3461, 3464): telling
 * the envelope sender that recipients failed, were delivered (NOTIFY=
 * SUCCESS), or are delayed (delay_warning_time).
 *
 * A recipient that bounced, or was delivered with NOTIFY=SUCCESS, has
 * dsn_pending set (queue_db.c).  One queue entry at a time, the notice
 * is written with lib/dsn into a new blob, made durable, and queued as a
 * new message from the null sender to the original sender with
 * NOTIFY=NEVER, in the statement that also clears dsn_pending of the
 * rows it reports on (queue_db.c's commit): a crash leaves either no
 * notice and the rows pending, or both done.  One notice per kind and
 * per pass: failures first, then successes.  Rows whose NOTIFY does not
 * ask for their kind are cleared without a notice.
 *
 * Never a notice to the null sender (RFC 5321 4.5.5, 6.1): a message from
 * <> whose recipients bounced (a bounce that bounced) is held, so the
 * admin sees it in `wharf queue list` and deletes or releases it.
 *
 * Notices are rare: they are written synchronously (a read of the
 * original, capped at DSN_FULL_MAX for the copy, and one fsync).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob.h"
#include "buf.h"
#include "conf.h"
#include "db.h"
#include "dsn.h"
#include "ev.h"
#include "log.h"
#include "proto_queue.h"
#include "service.h"
#include "xmalloc.h"
#include "qmgr.h"

#define DSN_FULL_MAX	(1024 * 1024)	/* bigger originals: headers */
#define NOTICE_ROWS	"1000"

/*
 * Rows of the first queue entry (not held) with a notice due: q.id,
 * queue_id, blob, sender, envid, ret, smtputf8, arrival (epoch), client
 * address, client name, created + maximal_queue_lifetime (epoch), then
 * per row: id, address, orcpt, notify, status, dsn_status, last_reply,
 * relay, last attempt (epoch), relayed.  $1 the lifetime.
 */
#define NOTICE_COLUMNS \
    "SELECT q.id, q.queue_id, b.name, q.sender, coalesce(q.envid, ''), " \
    "  coalesce(q.ret, ''), q.smtputf8, " \
    "  extract(epoch FROM q.created_at)::bigint, " \
    "  coalesce(host(q.client_addr), ''), coalesce(q.client_name, ''), " \
    "  extract(epoch FROM q.created_at + $1::interval)::bigint, " \
    "  r.id, r.address, coalesce(r.orcpt, ''), coalesce(r.notify, ''), " \
    "  r.status, coalesce(r.dsn_status, ''), coalesce(r.last_reply, ''), " \
    "  coalesce(r.relay, ''), " \
    "  coalesce(extract(epoch FROM r.last_attempt_at)::bigint, 0), " \
    "  r.relayed " \
    "FROM queue q JOIN blobs b ON b.id = q.blob_id " \
    "  JOIN queue_recipients r ON r.queue = q.id "

static const char final_sql[] = NOTICE_COLUMNS
    "WHERE q.id = (SELECT r2.queue FROM queue_recipients r2 "
    "    JOIN queue q2 ON q2.id = r2.queue "
    "    WHERE r2.dsn_pending AND r2.status IN ('sent', 'bounced') "
    "    AND NOT q2.held ORDER BY r2.queue LIMIT 1) "
    "  AND r.dsn_pending AND r.status IN ('sent', 'bounced') "
    "ORDER BY r.id LIMIT " NOTICE_ROWS;

/* $2 delay_warning_time */
static const char delay_sql[] = NOTICE_COLUMNS
    "WHERE q.id = (SELECT q2.id FROM queue q2 WHERE NOT q2.delay_warned "
    "    AND NOT q2.held AND q2.created_at + $2::interval <= now() "
    "    AND EXISTS (SELECT 1 FROM queue_recipients r2 "
    "      WHERE r2.queue = q2.id AND r2.status IN ('pending', "
    "      'deferred')) ORDER BY q2.id LIMIT 1) "
    "  AND r.status IN ('pending', 'deferred') "
    "ORDER BY r.id LIMIT " NOTICE_ROWS;

enum { C_QROW, C_QID, C_BLOB, C_SENDER, C_ENVID, C_RET, C_UTF8, C_ARRIVAL,
	C_CADDR, C_CNAME, C_EXPIRES, C_ROW, C_ADDR, C_ORCPT, C_NOTIFY,
	C_STATUS, C_DSN, C_REPLY, C_RELAY, C_LAST, C_RELAYED };

/* One notice being made: what the commit's callback needs. */
struct notice {
	struct qmgr	*q;
	uint64_t	 qrow;
	char		*queue_id;
	char		*blob;
	char		 name[BLOB_NAME_LEN + 1];
	enum dsn_kind	 kind;
};

/* Per row of a notice: the strings lib/dsn borrows. */
struct notice_rcpt {
	char	*orcpt;
	char	*diag;
	char	*mta;
};

static void	bounce_tick(void *);

void
bounce_kick(struct qmgr *q)
{
	if (q->svc->stopping)
		return;
	if (q->bouncing) {
		q->bounce_again = true;
		return;
	}
	if (q->bounce_timer == NULL)
		q->bounce_timer = ev_timer_add(q->svc->ev, 0, bounce_tick, q);
	else if (!ev_timer_pending(q->bounce_timer))
		ev_timer_set(q->bounce_timer, 0);
}

static void
bounce_over(struct qmgr *q)
{
	q->bouncing = false;
	if (q->bounce_again) {
		q->bounce_again = false;
		bounce_kick(q);
	}
}

static uint64_t
col_u64(PGresult *res, int i, int col)
{
	const char	*why;
	uint64_t	 v = 0;

	str_to_u64(PQgetvalue(res, i, col), 0, UINT64_MAX, &v, &why);
	return v;
}

static void
simple_done(PGresult *res, const char *err, void *arg)
{
	struct notice	*n = arg;

	if (res == NULL)
		log_warnx("%s: notice bookkeeping failed: %s", n->queue_id,
		    err);
	else
		queue_db_finish(n->q, n->qrow, n->blob);
	bounce_over(n->q);
	bounce_kick(n->q);
	free(n->queue_id);
	free(n->blob);
	free(n);
}

/* No notice to write: clear the rows (or mark the delay notice sent). */
static void
notice_skip(struct notice *n, const char *rows)
{
	char	 id[32];

	snprintf(id, sizeof(id), "%llu", (unsigned long long)n->qrow);
	if (n->kind == DSN_DELAY)
		db_query(n->q->db, "UPDATE queue SET delay_warned = true "
		    "WHERE id = $1", 1, (const char *const[]){ id },
		    QMGR_DB_TIMEOUT_MS, simple_done, n);
	else
		db_query(n->q->db, "UPDATE queue_recipients SET "
		    "dsn_pending = false WHERE id = ANY($1::bigint[])", 1,
		    (const char *const[]){ rows }, QMGR_DB_TIMEOUT_MS,
		    simple_done, n);
}

static void
notice_hold(struct notice *n)
{
	char	 id[32];

	log_warnx("%s: undeliverable and from the null sender: held for the "
	    "postmaster", n->queue_id);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)n->qrow);
	db_query(n->q->db, "UPDATE queue SET held = true WHERE id = $1", 1,
	    (const char *const[]){ id }, QMGR_DB_TIMEOUT_MS, simple_done, n);
}

/* From <>: hold it if anything bounced, else no notice for the rest. */
static void
notice_null_sender(struct notice *n, PGresult *res)
{
	struct buf	 rows;

	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, C_STATUS), "bounced") == 0) {
			notice_hold(n);
			return;
		}
	buf_init(&rows, 1024 * 1024);
	for (int i = 0; i < PQntuples(res); i++)
		buf_printf(&rows, "%s%s", i == 0 ? "{" : ",",
		    PQgetvalue(res, i, C_ROW));
	buf_add_str(&rows, "}");
	notice_skip(n, buf_cstr(&rows));
	buf_clear(&rows);
}

static void
notice_committed(struct qmgr *q, void *arg, int status, const char *qid,
    struct qjob *job)
{
	struct notice	*n = arg;
	static const char *const what[] = { "non-delivery", "delay",
	    "delivery" };

	if (status == QUEUE_OK) {
		log_info("%s: sender %s notification: %s", n->queue_id,
		    what[n->kind], qid);
		if (n->kind != DSN_DELAY)
			queue_db_finish(q, n->qrow, n->blob);
	} else
		blob_remove(q->blobdir, n->name);
	if (job != NULL)
		dispatch_job(q, job);
	q->inflight--;
	bounce_over(q);
	if (status == QUEUE_OK)
		bounce_kick(q);
	free(n->queue_id);
	free(n->blob);
	free(n);
	qmgr_work_done(q);
}

/*
 * The mta's "host mx[192.0.2.1] said: 550 5.1.1 unknown (in reply to
 * RCPT TO command)" becomes the RFC 3464 "smtp; 550 5.1.1 unknown".
 */
static char *
diagnostic(const char *reply)
{
	const char	*said = strstr(reply, " said: ");
	const char	*end;

	if (said == NULL)
		return reply[0] != '\0' ? xstrdup(reply) : NULL;
	said += strlen(" said: ");
	if ((end = strstr(said, " (in reply to ")) == NULL)
		end = said + strlen(said);
	return xasprintf("smtp; %.*s", (int)(end - said), said);
}

/* "mx.example.com[192.0.2.1]:25" -> "dns; mx.example.com" */
static char *
remote_mta(const char *relay)
{
	size_t	 n = strcspn(relay, "[");

	if (n == 0 || relay[n] != '[' || strcmp(relay, "none") == 0)
		return NULL;
	return xasprintf("dns; %.*s", (int)n, relay);
}

static void
rcpt_fill(struct dsn_rcpt *dr, struct notice_rcpt *nr, PGresult *res,
    int i, time_t retry_until)
{
	dr->rcpt = PQgetvalue(res, i, C_ADDR);
	nr->orcpt = PQgetvalue(res, i, C_ORCPT)[0] != '\0' ?
	    xstrdup(PQgetvalue(res, i, C_ORCPT)) : NULL;
	dr->orcpt = nr->orcpt;
	dr->status = PQgetvalue(res, i, C_DSN)[0] != '\0' ?
	    PQgetvalue(res, i, C_DSN) : NULL;
	nr->diag = diagnostic(PQgetvalue(res, i, C_REPLY));
	dr->diagnostic = nr->diag;
	nr->mta = remote_mta(PQgetvalue(res, i, C_RELAY));
	dr->remote_mta = nr->mta;
	dr->last_attempt = (time_t)col_u64(res, i, C_LAST);
	dr->will_retry_until = retry_until;
	dr->relayed = strcmp(PQgetvalue(res, i, C_RELAYED), "t") == 0;
}

/* Write the notice into a durable blob; its size, or -1. */
static int
notice_write(struct notice *n, const struct dsn_msg *msg,
    struct dsn_result *dres)
{
	struct dsn_orig	 orig;
	char		*err = NULL;
	int		 fd, ofd, rc = -1;

	if ((fd = blob_tmp_create(n->q->blobdir, n->name, &err)) == -1) {
		log_warnx("%s: notice: %s", n->queue_id, err);
		free(err);
		return -1;
	}
	if ((ofd = blob_open(n->q->blobdir, n->blob)) == -1)
		log_warn("%s: notice without the original: blob %s",
		    n->queue_id, n->blob);
	dsn_orig_fd(&orig, ofd);
	if (dsn_write_fd(msg, ofd != -1 ? &orig : NULL, fd, dres,
	    &err) == -1)
		log_warnx("%s: notice: %s", n->queue_id, err);
	else if (blob_commit(n->q->blobdir, n->name, fd, &err) == -1)
		log_warnx("%s: notice: %s", n->queue_id, err);
	else
		rc = 0;
	free(err);
	if (ofd != -1)
		close(ofd);
	close(fd);
	if (rc == -1)
		blob_tmp_unlink(n->q->blobdir, n->name);
	return rc;
}

static void
notice_queue(struct notice *n, const char *sender, const char *rows,
    const struct dsn_result *dres)
{
	struct commit_req	*req;

	req = commit_req_new(n->name, dres->size, notice_committed, n);
	commit_req_envelope(req, "", "", QUEUE_RET_NONE, dres->eightbit ?
	    QUEUE_BODY_8BITMIME : QUEUE_BODY_7BIT, dres->utf8, "", "", "",
	    "local");
	commit_req_rcpt(req, sender, "", QUEUE_NOTIFY_NEVER);
	if (n->kind == DSN_DELAY)
		commit_req_notice(req, "{}", n->qrow);
	else
		commit_req_notice(req, rows, 0);
	n->q->inflight++;
	queue_db_commit(n->q, req);
}

/*
 * Which rows the notice reports on (wanted[i]) and which it only clears;
 * the kind: failures first, then successes.
 */
static size_t
notice_pick(struct notice *n, PGresult *res, bool *wanted,
    struct buf *rows)
{
	int		 nrows = PQntuples(res);
	size_t		 nwanted = 0;
	bool		 failed = false;

	if (n->kind != DSN_DELAY) {
		for (int i = 0; i < nrows; i++)
			if (strcmp(PQgetvalue(res, i, C_STATUS), "bounced") ==
			    0 && dsn_wanted(notify_bits(PQgetvalue(res, i,
			    C_NOTIFY)), DSN_FAILURE))
				failed = true;
		n->kind = failed ? DSN_FAILURE : DSN_SUCCESS;
	}
	for (int i = 0; i < nrows; i++) {
		bool fail = strcmp(PQgetvalue(res, i, C_STATUS), "bounced") ==
		    0;
		enum dsn_kind k = n->kind == DSN_DELAY ? DSN_DELAY :
		    fail ? DSN_FAILURE : DSN_SUCCESS;
		bool want = dsn_wanted(notify_bits(PQgetvalue(res, i,
		    C_NOTIFY)), k);

		wanted[i] = want && k == n->kind;
		nwanted += wanted[i];
		/* a success waits for its own notice after the failures' */
		if (wanted[i] || !want)
			buf_printf(rows, "%s%s", rows->len == 0 ? "{" : ",",
			    PQgetvalue(res, i, C_ROW));
	}
	buf_add_str(rows, rows->len == 0 ? "{}" : "}");
	return nwanted;
}

static void
notice_make(struct notice *n, PGresult *res)
{
	struct qmgr		*q = n->q;
	const char		*sender = PQgetvalue(res, 0, C_SENDER);
	const char		*host = conf_str(q->svc->conf, "myhostname");
	int			 nrows = PQntuples(res);
	bool			*wanted = xcalloc((size_t)nrows, sizeof(bool));
	struct dsn_rcpt		*dr = xcalloc((size_t)nrows, sizeof(*dr));
	struct notice_rcpt	*nr = xcalloc((size_t)nrows, sizeof(*nr));
	struct dsn_msg		 msg = { 0 };
	struct dsn_result	 dres;
	struct buf		 rows;
	char			*pm = xasprintf("MAILER-DAEMON@%s", host);
	char			*from = NULL;
	size_t			 nd = 0;

	buf_init(&rows, 1024 * 1024);
	if (notice_pick(n, res, wanted, &rows) == 0) {
		notice_skip(n, buf_cstr(&rows));
		goto out;
	}
	for (int i = 0; i < nrows; i++) {
		if (!wanted[i])
			continue;
		rcpt_fill(&dr[nd], &nr[nd], res, i, n->kind == DSN_DELAY ?
		    (time_t)col_u64(res, 0, C_EXPIRES) : 0);
		nd++;
	}
	if (PQgetvalue(res, 0, C_CADDR)[0] != '\0')
		from = xasprintf("dns; %s ([%s])", PQgetvalue(res, 0,
		    C_CNAME)[0] != '\0' ? PQgetvalue(res, 0, C_CNAME) :
		    "unknown", PQgetvalue(res, 0, C_CADDR));
	msg.reporting_mta = host;
	msg.queue_id = n->queue_id;
	msg.envid = PQgetvalue(res, 0, C_ENVID)[0] != '\0' ?
	    PQgetvalue(res, 0, C_ENVID) : NULL;
	msg.sender = sender;
	msg.postmaster = pm;
	msg.received_from = from;
	msg.arrival = (time_t)col_u64(res, 0, C_ARRIVAL);
	msg.kind = n->kind;
	msg.ret = strcmp(PQgetvalue(res, 0, C_RET), "FULL") == 0 ?
	    DSN_RET_FULL : strcmp(PQgetvalue(res, 0, C_RET), "HDRS") == 0 ?
	    DSN_RET_HDRS : DSN_RET_DEFAULT;
	msg.full_max = DSN_FULL_MAX;
	msg.smtputf8 = strcmp(PQgetvalue(res, 0, C_UTF8), "t") == 0;
	msg.rcpts = dr;
	msg.nrcpts = nd;
	if (notice_write(n, &msg, &dres) == -1) {
		/* left pending: the next pass tries again */
		bounce_over(q);
		free(n->queue_id);
		free(n->blob);
		free(n);
		goto out;
	}
	notice_queue(n, sender, buf_cstr(&rows), &dres);
out:
	for (size_t i = 0; i < nd; i++) {
		free(nr[i].orcpt);
		free(nr[i].diag);
		free(nr[i].mta);
	}
	free(nr);
	free(dr);
	free(wanted);
	free(pm);
	free(from);
	buf_clear(&rows);
}

static void	delay_query(struct qmgr *);

static void
notice_result(PGresult *res, const char *err, void *arg, enum dsn_kind kind)
{
	struct qmgr	*q = arg;
	struct notice	*n;

	if (res == NULL) {
		log_warnx("notices: %s", err);
		bounce_over(q);
		return;
	}
	if (PQntuples(res) == 0) {
		if (kind != DSN_DELAY && conf_int(q->svc->conf,
		    "delay_warning_time") > 0)
			delay_query(q);
		else
			bounce_over(q);
		return;
	}
	n = xcalloc(1, sizeof(*n));
	n->q = q;
	n->qrow = col_u64(res, 0, C_QROW);
	n->queue_id = xstrdup(PQgetvalue(res, 0, C_QID));
	n->blob = xstrdup(PQgetvalue(res, 0, C_BLOB));
	n->kind = kind;
	if (dsn_may_bounce(PQgetvalue(res, 0, C_SENDER))) {
		notice_make(n, res);
		return;
	}
	if (kind == DSN_DELAY) {
		notice_skip(n, "{}");
		return;
	}
	notice_null_sender(n, res);
}

static void
final_result(PGresult *res, const char *err, void *arg)
{
	notice_result(res, err, arg, DSN_FAILURE);
}

static void
delay_result(PGresult *res, const char *err, void *arg)
{
	notice_result(res, err, arg, DSN_DELAY);
}

static void
lifetime(struct qmgr *q, const char *key, char *out, size_t size)
{
	snprintf(out, size, "%lld milliseconds",
	    (long long)conf_int(q->svc->conf, key));
}

static void
delay_query(struct qmgr *q)
{
	char	 life[48], warn[48];

	lifetime(q, "maximal_queue_lifetime", life, sizeof(life));
	lifetime(q, "delay_warning_time", warn, sizeof(warn));
	db_query(q->db, delay_sql, 2, (const char *const[]){ life, warn },
	    QMGR_DB_TIMEOUT_MS, delay_result, q);
}

static void
bounce_tick(void *arg)
{
	struct qmgr	*q = arg;
	char		 life[48];

	if (q->bouncing || q->svc->stopping)
		return;
	q->bouncing = true;
	lifetime(q, "maximal_queue_lifetime", life, sizeof(life));
	db_query(q->db, final_sql, 1, (const char *const[]){ life },
	    QMGR_DB_TIMEOUT_MS, final_result, q);
}

void
bounce_stop(struct qmgr *q)
{
	ev_timer_del(&q->bounce_timer);
}
