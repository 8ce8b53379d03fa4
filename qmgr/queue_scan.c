/*
 * qmgr/queue_scan.c — finding the recipients that are due and handing
 * them out: local ones to deliver (dispatch.c), remote ones to the mta
 * (outbound.c).
 *
 * A scan reads every due recipient row in pages of SCAN_BATCH, in row
 * order (keyset on the row id, so a page never repeats and a big queue
 * costs one pass, not one pass per page).  Rows already on their way are
 * skipped by the dispatchers.  When the pass is over the next scan is
 * timed for the earliest retry still waiting, at most SCAN_INTERVAL_MS
 * on; a commit with remote recipients, a deferral due sooner, or NOTIFY
 * wharf_queue (`wharf queue flush`) bring it forward.  Only the row ids
 * of what is in flight are kept in memory, plus the jobs waiting for a
 * free delivery slot (bounded per destination, outbound.c).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "db.h"
#include "ev.h"
#include "log.h"
#include "proto_queue.h"
#include "service.h"
#include "xmalloc.h"
#include "qmgr.h"

#define SCAN_BATCH		500
#define SCAN_BATCH_S		"500"
#define SCAN_INTERVAL_MS	(30 * 1000)
#define SCAN_SOON_MS		20	/* gathers a burst of commits */
#define OPEN_JOBS_MAX		16	/* remote domains of one message */
/* Rows due this soon go with the scan: a message's recipients, deferred
   by one answer in statements a few ms apart, stay one transaction. */
#define SCAN_AHEAD_MS		"250"

/*
 * $1 the last row id seen.  Rows: id, user_id, address, rcpt, queue row,
 * queue_id, blob, size, sender, transport, orcpt, notify, envid, ret,
 * body, smtputf8.
 */
static const char scan_sql[] =
    "SELECT r.id, coalesce(r.user_id, 0), r.address, r.rcpt, q.id, "
    "  q.queue_id, b.name, b.size, q.sender, r.transport, "
    "  coalesce(r.orcpt, ''), coalesce(r.notify, ''), "
    "  coalesce(q.envid, ''), coalesce(q.ret, ''), coalesce(q.body, ''), "
    "  q.smtputf8 "
    "FROM queue_recipients r JOIN queue q ON q.id = r.queue "
    "  JOIN blobs b ON b.id = q.blob_id "
    "WHERE r.status IN ('pending', 'deferred') AND NOT q.held "
    "  AND r.next_attempt_at <= now() + interval '" SCAN_AHEAD_MS "ms' "
    "  AND r.id > $1 "
    "  AND (r.transport = 'remote' OR r.user_id IS NOT NULL) "
    "ORDER BY r.id LIMIT " SCAN_BATCH_S;

/* Milliseconds until the earliest retry that is not due yet; no row:
   NULL. */
static const char next_sql[] =
    "SELECT ceil(extract(epoch FROM min(r.next_attempt_at) - now()) "
    "  * 1000)::bigint "
    "FROM queue_recipients r JOIN queue q ON q.id = r.queue "
    "WHERE r.status IN ('pending', 'deferred') AND NOT q.held "
    "  AND r.next_attempt_at > now() + interval '" SCAN_AHEAD_MS "ms'";

struct scan_page {
	struct qmgr	*q;
	struct qjob	*open[OPEN_JOBS_MAX];	/* of the current message */
	size_t		 nopen;
	uint64_t	 qrow;
};

static void	scan_page(struct qmgr *);

uint32_t
notify_bits(const char *text)
{
	static const struct {
		const char	*word;
		uint32_t	 bit;
	} words[] = {
		{ "NEVER", QUEUE_NOTIFY_NEVER },
		{ "SUCCESS", QUEUE_NOTIFY_SUCCESS },
		{ "FAILURE", QUEUE_NOTIFY_FAILURE },
		{ "DELAY", QUEUE_NOTIFY_DELAY },
	};
	uint32_t	 bits = 0;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(text, words[i].word) != NULL)
			bits |= words[i].bit;
	return bits;
}

/* Arm the scan timer for ms from now unless it fires sooner already. */
void
scan_wake_in(struct qmgr *q, uint64_t ms)
{
	uint64_t	 at = ev_now(q->svc->ev) + ms;

	if (q->scan_timer == NULL || q->svc->stopping)
		return;
	if (ev_timer_pending(q->scan_timer) && q->scan_at <= at)
		return;
	q->scan_at = at;
	ev_timer_set(q->scan_timer, ms);
}

void
scan_soon(struct qmgr *q)
{
	if (q->scanning)
		q->rescan = true;
	else
		scan_wake_in(q, SCAN_SOON_MS);
}

static void
page_flush(struct scan_page *p)
{
	for (size_t i = 0; i < p->nopen; i++) {
		struct qjob *job = p->open[i];

		if (job->domain != NULL)
			outbound_job(p->q, job);
		else
			dispatch_job(p->q, job);
	}
	p->nopen = 0;
}

static uint32_t
word_index(const char *s, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return (uint32_t)i;
	return 0;
}

static struct qjob *
job_new(PGresult *res, int i, const char *domain)
{
	static const char *const rets[] = { "", "FULL", "HDRS" };
	static const char *const bodies[] = { "7BIT", "8BITMIME",
	    "BINARYMIME" };
	struct qjob	*job = xcalloc(1, sizeof(*job));
	const char	*why;

	str_to_u64(PQgetvalue(res, i, 4), 0, UINT64_MAX, &job->queue_row,
	    &why);
	job->queue_id = xstrdup(PQgetvalue(res, i, 5));
	job->blob = xstrdup(PQgetvalue(res, i, 6));
	str_to_u64(PQgetvalue(res, i, 7), 0, UINT64_MAX, &job->size, &why);
	job->sender = xstrdup(PQgetvalue(res, i, 8));
	if (domain != NULL) {
		job->domain = xstrdup(domain);
		job->envid = xstrdup(PQgetvalue(res, i, 12));
		job->ret = word_index(PQgetvalue(res, i, 13), rets, 3);
		job->body = word_index(PQgetvalue(res, i, 14), bodies, 3);
		job->smtputf8 = strcmp(PQgetvalue(res, i, 15), "t") == 0;
	}
	return job;
}

/* The open job of this message for the row's transport and domain. */
static struct qjob *
page_job(struct scan_page *p, PGresult *res, int i, const char *domain)
{
	size_t		 limit = domain == NULL ? SCAN_BATCH :
	    (size_t)conf_int(p->q->svc->conf,
	    "mta_destination_recipient_limit");
	struct qjob	*job;

	for (size_t j = 0; j < p->nopen; j++) {
		job = p->open[j];
		if ((job->domain == NULL) != (domain == NULL) ||
		    (domain != NULL && strcmp(job->domain, domain) != 0))
			continue;
		if (job->nrcpt < limit)
			return job;
		/* full: send it, open another in its place */
		p->open[j] = p->open[--p->nopen];
		if (domain != NULL)
			outbound_job(p->q, job);
		else
			dispatch_job(p->q, job);
		break;
	}
	if (p->nopen == OPEN_JOBS_MAX)
		page_flush(p);
	job = job_new(res, i, domain);
	p->open[p->nopen++] = job;
	return job;
}

static void
page_row(struct scan_page *p, PGresult *res, int i)
{
	const char	*why, *address = PQgetvalue(res, i, 2), *at;
	char		 domain[256];
	bool		 remote = strcmp(PQgetvalue(res, i, 9), "remote") == 0;
	uint64_t	 qrow, row;
	struct qjob	*job;
	struct qrcpt	*qr;

	str_to_u64(PQgetvalue(res, i, 0), 0, UINT64_MAX, &row, &why);
	str_to_u64(PQgetvalue(res, i, 4), 0, UINT64_MAX, &qrow, &why);
	if (qrow != p->qrow)
		page_flush(p);
	p->qrow = qrow;
	if (dispatch_row_inflight(row))
		return;
	if (remote) {
		if ((at = strrchr(address, '@')) == NULL ||
		    strlen(at + 1) >= sizeof(domain) || at[1] == '\0') {
			log_warnx("%s: remote recipient without a domain: "
			    "row %llu skipped", PQgetvalue(res, i, 5),
			    (unsigned long long)row);
			return;
		}
		for (size_t k = 0; k <= strlen(at + 1); k++)
			domain[k] = (char)tolower((unsigned char)at[k + 1]);
	}
	job = page_job(p, res, i, remote ? domain : NULL);
	if (job->nrcpt == job->ncap) {
		job->ncap = job->ncap == 0 ? 4 : job->ncap * 2;
		job->rcpts = xreallocarray(job->rcpts, job->ncap,
		    sizeof(*job->rcpts));
	}
	qr = &job->rcpts[job->nrcpt++];
	qr->row = row;
	str_to_u64(PQgetvalue(res, i, 1), 0, UINT64_MAX, &qr->user_id, &why);
	qr->address = xstrdup(address);
	qr->rcpt = xstrdup(PQgetvalue(res, i, 3));
	qr->orcpt = xstrdup(PQgetvalue(res, i, 10));
	qr->notify = notify_bits(PQgetvalue(res, i, 11));
}

static void
scan_over(struct qmgr *q)
{
	q->scanning = false;
	if (q->rescan) {
		q->rescan = false;
		scan_wake_in(q, SCAN_SOON_MS);
	}
	bounce_kick(q);
	blob_gc(q);
}

static void
next_result(PGresult *res, const char *err, void *arg)
{
	struct qmgr	*q = arg;
	const char	*why;
	uint64_t	 ms = SCAN_INTERVAL_MS;

	if (res == NULL)
		log_warnx("queue scan: %s", err);
	else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
	    str_to_u64(PQgetvalue(res, 0, 0), 0, UINT64_MAX, &ms, &why) ==
	    0 && ms > SCAN_INTERVAL_MS)
		ms = SCAN_INTERVAL_MS;
	scan_wake_in(q, ms);
	scan_over(q);
}

static void
page_result(PGresult *res, const char *err, void *arg)
{
	struct qmgr	*q = arg;
	struct scan_page p = { .q = q };
	const char	*why;
	int		 n;

	if (res == NULL) {
		log_warnx("queue scan failed: %s", err);
		scan_over(q);
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n && !q->svc->stopping; i++)
		page_row(&p, res, i);
	page_flush(&p);
	if (n == SCAN_BATCH && !q->svc->stopping) {
		str_to_u64(PQgetvalue(res, n - 1, 0), 0, UINT64_MAX,
		    &q->scan_after, &why);
		scan_page(q);
		return;
	}
	db_query(q->db, next_sql, 0, NULL, QMGR_DB_TIMEOUT_MS, next_result,
	    q);
}

static void
scan_page(struct qmgr *q)
{
	char	 after[32];

	snprintf(after, sizeof(after), "%llu",
	    (unsigned long long)q->scan_after);
	db_query(q->db, scan_sql, 1, (const char *const[]){ after },
	    QMGR_DB_TIMEOUT_MS, page_result, q);
}

static void
scan_tick(void *arg)
{
	struct qmgr	*q = arg;

	if (q->scanning) {
		q->rescan = true;
		return;
	}
	q->scanning = true;
	q->scan_after = 0;
	/* If the database never answers, look again later all the same. */
	q->scan_at = ev_now(q->svc->ev) + SCAN_INTERVAL_MS;
	ev_timer_set(q->scan_timer, SCAN_INTERVAL_MS);
	scan_page(q);
}

void
queue_scan_start(struct qmgr *q)
{
	q->scan_at = ev_now(q->svc->ev);
	q->scan_timer = ev_timer_add(q->svc->ev, 0, scan_tick, q);
}
