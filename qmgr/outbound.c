/*
 * qmgr/outbound.c — handing remote recipients to the mta
 * (lib/proto_mta.h) and the per-destination scheduler.
 *
 * A job is one message's recipients at one domain (at most
 * mta_destination_recipient_limit: one SMTP transaction).  Jobs wait in
 * their destination's queue; a destination may have `window` jobs out at
 * once, at most mta_destination_concurrency_limit, and all of them
 * together at most mta_concurrency_limit.  The free slots go round the
 * destinations one job each, so a destination with a long queue cannot
 * starve the others.
 *
 * Slow start: a destination starts with a window of DEST_WINDOW_START and
 * grows by one with each job that reached a server.  A job that reached
 * no server at all (DNS failure, every address refusing) shrinks the
 * window to one and defers the jobs still waiting for that destination
 * with the same reason (Postfix's "dead destination"): the next scan
 * sends one probe, not a flood.
 *
 * The results are recorded per recipient as the reply comes
 * (queue_db.c).  A request whose answer never comes (the mta died, or
 * MTA_TIMEOUT_MS) defers its recipients: they are retried, and the peer
 * may have the message already only if the mta died after the final
 * reply (RFC 5321 6.1's unavoidable window).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "blob.h"
#include "conf.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "proto_mta.h"
#include "service.h"
#include "xmalloc.h"
#include "qmgr.h"

#define MTA_TIMEOUT_MS		(60 * 60 * 1000)
#define RECONNECT_MS		1000
#define DEST_WINDOW_START	5
#define DEST_QUEUED_FACTOR	4	/* jobs waiting: 4 x the limit */
#define REPLY_MAX		2048

struct mta_conn {
	struct mta_conn		*next;
	struct qmgr		*q;
	struct ipc_conn		*conn;
	size_t			 active;
};

struct dest {
	struct dest	*next;
	char		*name;
	struct qjob	*head, **tail;
	size_t		 queued;
	unsigned	 active;
	unsigned	 window;
};

struct mta_req {
	struct mta_conn	*mc;
	struct dest	*d;
	struct qjob	*job;
};

static void	outbound_kick(struct qmgr *);

static unsigned
dest_limit(struct qmgr *q)
{
	return (unsigned)conf_int(q->svc->conf,
	    "mta_destination_concurrency_limit");
}

static struct dest *
dest_get(struct qmgr *q, const char *name)
{
	struct dest	*d;

	for (d = q->dests; d != NULL; d = d->next)
		if (strcmp(d->name, name) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	d->tail = &d->head;
	d->window = DEST_WINDOW_START < dest_limit(q) ? DEST_WINDOW_START :
	    dest_limit(q);
	d->next = q->dests;
	q->dests = d;
	return d;
}

/* Forget a destination with nothing waiting and nothing out. */
static void
dest_gc(struct qmgr *q, struct dest *d)
{
	if (d->head != NULL || d->active != 0)
		return;
	for (struct dest **p = &q->dests; *p != NULL; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	free(d->name);
	free(d);
}

static struct qjob *
dest_pop(struct dest *d)
{
	struct qjob	*job = d->head;

	if ((d->head = job->next) == NULL)
		d->tail = &d->head;
	job->next = NULL;
	d->queued--;
	return job;
}

/* The job is over: its rows may be handed out again. */
static void
job_done(struct qmgr *q, struct qjob *job, bool finish)
{
	dispatch_rows_mark(job, false);
	if (finish)
		queue_db_finish(q, job->queue_row, job->blob);
	qjob_free(job);
}

/* Every recipient of the job: temporarily failed for this reason. */
static void
job_defer(struct qmgr *q, struct qjob *job, const char *dsn,
    const char *reply)
{
	for (size_t i = 0; i < job->nrcpt; i++)
		queue_db_result(q, job->rcpts[i].row, job->queue_id,
		    MTA_TEMPFAIL, dsn, reply, "none", false);
	job_done(q, job, false);
}

void
outbound_job(struct qmgr *q, struct qjob *job)
{
	struct dest	*d;
	size_t		 keep = 0;

	for (size_t i = 0; i < job->nrcpt; i++)
		if (!dispatch_row_inflight(job->rcpts[i].row))
			job->rcpts[keep++] = job->rcpts[i];
		else {
			free(job->rcpts[i].address);
			free(job->rcpts[i].rcpt);
			free(job->rcpts[i].orcpt);
		}
	job->nrcpt = keep;
	if (keep == 0 || q->svc->stopping) {
		qjob_free(job);
		return;
	}
	d = dest_get(q, job->domain);
	if (d->queued >= DEST_QUEUED_FACTOR * (size_t)dest_limit(q)) {
		/* Enough waits for this destination: these rows stay due
		   in the database for a scan once the queue has moved. */
		q->scan_skipped = true;
		qjob_free(job);
		return;
	}
	dispatch_rows_mark(job, true);
	*d->tail = job;
	d->tail = &job->next;
	d->queued++;
	outbound_kick(q);
}

/* After a job that reached no server: defer what waits behind it. */
static void
dest_failed(struct qmgr *q, struct dest *d, const char *dsn,
    const char *reply)
{
	char	*why = xasprintf("delivery temporarily suspended: %s", reply);

	d->window = 1;
	while (d->head != NULL)
		job_defer(q, dest_pop(d), dsn, why);
	free(why);
}

static void
mta_reply(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct mta_req	*r = arg;
	struct qmgr	*q = r->mc->q;
	struct qjob	*job = r->job;
	struct dest	*d = r->d;
	const char	*dsn = "", *reply = "", *relay = "";
	uint32_t	 n = 0, status, flags;
	uint64_t	 row;
	bool		 reached = false, bad = false;

	r->mc->active--;
	q->mta_active--;
	q->inflight--;
	d->active--;
	if (msg == NULL && q->svc->stopping) {
		job_done(q, job, false);	/* rows stay due: next start */
		goto out;
	}
	if (msg == NULL) {
		log_warnx("%s: no answer from the mta for %s; deferred",
		    job->queue_id, d->name);
		job_defer(q, job, "4.3.0", "lost connection with the mta");
		goto out;
	}
	if (msg->hdr.type != MTA_DELIVER_R || ipc_get_u32(msg, &n) == -1 ||
	    n > job->nrcpt)
		bad = true;
	for (uint32_t i = 0; !bad && i < n; i++) {
		ipc_get_u64(msg, &row);
		ipc_get_u32(msg, &status);
		ipc_get_str(msg, &dsn);
		ipc_get_str(msg, &reply);
		ipc_get_str(msg, &relay);
		if (ipc_get_u32(msg, &flags) == -1 || status > MTA_PERMFAIL ||
		    strlen(reply) > REPLY_MAX || strlen(dsn) > 16) {
			bad = true;
			break;
		}
		reached = reached || strcmp(relay, "none") != 0 ||
		    status == MTA_PERMFAIL;
		queue_db_result(q, row, job->queue_id, status, dsn, reply,
		    relay, (flags & MTA_F_RELAYED) != 0);
	}
	if (bad)
		log_warnx("%s: malformed answer from the mta; the rest of its "
		    "recipients stay queued", job->queue_id);
	if (!bad && n > 0 && !reached)
		dest_failed(q, d, dsn[0] != '\0' ? dsn : "4.4.1", reply);
	else if (reached && d->window < dest_limit(q))
		d->window++;
	job_done(q, job, true);
out:
	free(r);
	dest_gc(q, d);
	if (q->scan_skipped) {
		q->scan_skipped = false;
		scan_soon(q);
	}
	qmgr_work_done(q);
	outbound_kick(q);
	(void)conn;
}

/* Send the job; false (the job deferred, nothing out) if it cannot go. */
static bool
mta_send(struct qmgr *q, struct mta_conn *mc, struct dest *d,
    struct qjob *job)
{
	struct mta_req	*r;
	struct ipc_out	*o;
	uint32_t	 id = ipc_conn_next_id(mc->conn);
	int		 fd;

	if ((fd = blob_open(q->blobdir, job->blob)) == -1) {
		log_warn("%s: blob %s", job->queue_id, job->blob);
		job_defer(q, job, "4.3.0", "queue file unreadable");
		return false;
	}
	o = ipc_msg_begin(mc->conn, MTA_DELIVER, id, 0);
	ipc_put_fd(o, fd);
	ipc_put_str(o, job->queue_id);
	ipc_put_u64(o, job->size);
	ipc_put_str(o, job->sender);
	ipc_put_str(o, job->envid);
	ipc_put_u32(o, job->ret);
	ipc_put_u32(o, job->body);
	ipc_put_u32(o, job->smtputf8 ? 1 : 0);
	ipc_put_str(o, job->domain);
	ipc_put_u32(o, (uint32_t)job->nrcpt);
	for (size_t i = 0; i < job->nrcpt; i++) {
		ipc_put_u64(o, job->rcpts[i].row);
		ipc_put_str(o, job->rcpts[i].address);
		ipc_put_str(o, job->rcpts[i].orcpt);
		ipc_put_u32(o, job->rcpts[i].notify);
	}
	if (ipc_msg_end(o) == -1) {
		log_warnx("%s: cannot send the request to the mta",
		    job->queue_id);
		job_defer(q, job, "4.3.0", "request to the mta failed");
		return false;
	}
	r = xcalloc(1, sizeof(*r));
	r->mc = mc;
	r->d = d;
	r->job = job;
	mc->active++;
	q->mta_active++;
	q->inflight++;
	d->active++;
	ipc_conn_expect(mc->conn, id, MTA_TIMEOUT_MS, mta_reply, r);
	return true;
}

/* The connection with the fewest requests out; NULL if none is up. */
static struct mta_conn *
mta_pick(struct qmgr *q)
{
	struct mta_conn	*best = NULL;

	for (struct mta_conn *mc = q->mtas; mc != NULL; mc = mc->next)
		if (mc->conn != NULL && (best == NULL ||
		    mc->active < best->active))
			best = mc;
	return best;
}

/* Hand out free slots, one job per destination per round. */
static void
outbound_kick(struct qmgr *q)
{
	size_t		 limit = (size_t)conf_int(q->svc->conf,
	    "mta_concurrency_limit");
	struct mta_conn	*mc;
	struct dest	*d, *first;
	bool		 sent = true;

	while (sent && !q->svc->stopping && q->mta_active < limit) {
		sent = false;
		for (d = q->dests; d != NULL && q->mta_active < limit;
		    d = d->next) {
			if (d->head == NULL || d->active >= d->window)
				continue;
			if ((mc = mta_pick(q)) == NULL)
				return;
			if (mta_send(q, mc, d, dest_pop(d)))
				sent = true;
		}
	}
	/* Next time another destination is first. */
	if ((first = q->dests) != NULL && first->next != NULL) {
		struct dest **tail = &q->dests;

		q->dests = first->next;
		while (*tail != NULL)
			tail = &(*tail)->next;
		*tail = first;
		first->next = NULL;
	}
}

static void	mta_connect_all(void *);

static void
mta_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	log_warnx("mta: unexpected message type=%u", msg->hdr.type);
	(void)conn;
	(void)arg;
}

static void
mta_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	struct mta_conn	*mc = arg;
	struct qmgr	*q = mc->q;
	struct ipc_conn	*dead = mc->conn;

	log_info("mta connection closed: %s", reason);
	mc->conn = NULL;
	ipc_conn_free(&dead);		/* pending replies get NULL */
	if (!q->svc->stopping && q->mta_timer == NULL)
		q->mta_timer = ev_timer_add(q->svc->ev, RECONNECT_MS,
		    mta_connect_all, q);
	(void)conn;
}

static const struct ipc_handler mta_handler = {
	mta_on_msg, mta_on_close,
};

static void
mta_connect_all(void *arg)
{
	struct qmgr	*q = arg;
	bool		 missing = false;
	char		*err;
	int		 fd;

	ev_timer_del(&q->mta_timer);
	for (struct mta_conn *mc = q->mtas; mc != NULL; mc = mc->next) {
		if (mc->conn != NULL)
			continue;
		if ((fd = ipc_connect_unix(q->mta_path, &err)) == -1) {
			if (!q->mta_warned)
				log_warnx("mta: %s", err);
			q->mta_warned = true;
			free(err);
		} else if ((mc->conn = ipc_conn_new(q->svc->ev, fd,
		    &mta_handler, mc)) != NULL) {
			ipc_send_hello(mc->conn, MTA_PROTO, MTA_PROTO_VERSION);
			q->mta_warned = false;
		}
		missing = missing || mc->conn == NULL;
	}
	if (missing && !q->svc->stopping)
		q->mta_timer = ev_timer_add(q->svc->ev, RECONNECT_MS,
		    mta_connect_all, q);
	outbound_kick(q);
}

void
outbound_start(struct qmgr *q)
{
	unsigned	 n = (unsigned)conf_int(q->svc->conf, "process_limit");

	for (unsigned i = 0; i < n; i++) {
		struct mta_conn *mc = xcalloc(1, sizeof(*mc));

		mc->q = q;
		mc->next = q->mtas;
		q->mtas = mc;
	}
	mta_connect_all(q);
}

void
outbound_stop(struct qmgr *q)
{
	struct mta_conn	*mc;
	struct dest	*d;

	ev_timer_del(&q->mta_timer);
	while ((mc = q->mtas) != NULL) {
		struct ipc_conn *c = mc->conn;

		mc->conn = NULL;
		ipc_conn_free(&c);	/* replies to come: NULL, freed */
		q->mtas = mc->next;
		free(mc);
	}
	while ((d = q->dests) != NULL) {
		while (d->head != NULL)
			job_done(q, dest_pop(d), false);
		q->dests = d->next;
		free(d->name);
		free(d);
	}
}
