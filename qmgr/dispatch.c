/*
 * qmgr/dispatch.c — handing local recipients to deliver.
 *
 * qmgr keeps one connection per deliver process (process_limit) to
 * $run_dir/private/deliver.sock and gives each one message at a time.
 * Rows in flight are remembered so a scan does not hand them out twice;
 * a delivery whose answer never comes is simply scanned again later, and
 * deliver's exactly-once rule (proto_deliver.h) makes that safe.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "proto_deliver.h"
#include "service.h"
#include "xmalloc.h"
#include "qmgr.h"

#define DELIVER_TIMEOUT_MS	(10 * 60 * 1000)
#define RECONNECT_MS		1000
#define JOB_RETRIES		3	/* then a scan takes over */

struct deliver_conn {
	struct deliver_conn	*next;
	struct qmgr		*q;
	struct ipc_conn		*conn;
	struct qjob		*job;		/* in flight */
};

static struct qjob	*jobs_head, **jobs_tail = &jobs_head;
static uint64_t		*inflight;
static size_t		 ninflight;

bool
dispatch_row_inflight(uint64_t row)
{
	for (size_t i = 0; i < ninflight; i++)
		if (inflight[i] == row)
			return true;
	return false;
}

void
dispatch_rows_mark(struct qjob *job, bool on)
{
	for (size_t i = 0; i < job->nrcpt; i++) {
		if (on) {
			inflight = xreallocarray(inflight, ninflight + 1,
			    sizeof(*inflight));
			inflight[ninflight++] = job->rcpts[i].row;
			continue;
		}
		for (size_t j = 0; j < ninflight; j++)
			if (inflight[j] == job->rcpts[i].row) {
				inflight[j] = inflight[--ninflight];
				break;
			}
	}
}

void
qjob_free(struct qjob *job)
{
	for (size_t i = 0; i < job->nrcpt; i++) {
		free(job->rcpts[i].address);
		free(job->rcpts[i].rcpt);
		free(job->rcpts[i].orcpt);
	}
	free(job->rcpts);
	free(job->queue_id);
	free(job->blob);
	free(job->sender);
	free(job->domain);
	free(job->envid);
	free(job);
}

static void	dispatch_kick(struct qmgr *);

static void
deliver_reply(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct deliver_conn	*dc = arg;
	struct qjob		*job = dc->job;
	struct qmgr		*q = dc->q;
	uint32_t		 n = 0, status;
	uint64_t		 row;
	const char		*reply;

	dc->job = NULL;
	if (msg == NULL && job->retries++ < JOB_RETRIES && !q->svc->stopping) {
		/* deliver died or hung up: hand the same job to the next
		   one (exactly-once makes a second try safe). */
		log_warnx("%s: no answer from deliver; trying again",
		    job->queue_id);
		q->inflight--;
		*jobs_tail = job;
		jobs_tail = &job->next;
		dispatch_kick(q);
		return;
	}
	if (msg == NULL) {
		log_warnx("%s: no answer from deliver; left for the next scan",
		    job->queue_id);
		/* soon, once deliver is back: not a whole scan interval */
		scan_wake_in(q, 2 * RECONNECT_MS);
	}
	else if (msg->hdr.type != DELIVER_MSG_R || ipc_get_u32(msg, &n) == -1)
		log_warnx("%s: bad answer from deliver", job->queue_id);
	for (uint32_t i = 0; msg != NULL && i < n; i++) {
		ipc_get_u64(msg, &row);
		ipc_get_u32(msg, &status);
		if (ipc_get_str(msg, &reply) == -1)
			break;
		if (status != DELIVER_OK)
			queue_db_result(q, row, job->queue_id, status, NULL,
			    reply, "local", false);
	}
	dispatch_rows_mark(job, false);
	queue_db_finish(q, job->queue_row, job->blob);
	qjob_free(job);
	q->inflight--;
	qmgr_work_done(q);
	dispatch_kick(q);
	(void)conn;
}

static void
deliver_send(struct deliver_conn *dc, struct qjob *job)
{
	uint32_t	 id = ipc_conn_next_id(dc->conn);
	struct ipc_out	*o = ipc_msg_begin(dc->conn, DELIVER_MSG, id, 0);

	ipc_put_str(o, job->queue_id);
	ipc_put_str(o, job->blob);
	ipc_put_u64(o, job->size);
	ipc_put_str(o, job->sender);
	ipc_put_u32(o, (uint32_t)job->nrcpt);
	for (size_t i = 0; i < job->nrcpt; i++) {
		ipc_put_u64(o, job->rcpts[i].row);
		ipc_put_u64(o, job->rcpts[i].user_id);
		ipc_put_str(o, job->rcpts[i].address);
		ipc_put_str(o, job->rcpts[i].rcpt);
	}
	dc->job = job;
	dc->q->inflight++;
	if (ipc_msg_end(o) == -1) {
		log_warnx("%s: too many recipients for one message to deliver",
		    job->queue_id);
		deliver_reply(dc->conn, NULL, dc);
		return;
	}
	ipc_conn_expect(dc->conn, id, DELIVER_TIMEOUT_MS, deliver_reply, dc);
}

/* Give queued jobs to idle deliver connections. */
static void
dispatch_kick(struct qmgr *q)
{
	struct qjob	*job;

	for (struct deliver_conn *dc = q->delivers; dc != NULL;
	    dc = dc->next) {
		if (dc->conn == NULL || dc->job != NULL || jobs_head == NULL)
			continue;
		job = jobs_head;
		if ((jobs_head = job->next) == NULL)
			jobs_tail = &jobs_head;
		job->next = NULL;
		deliver_send(dc, job);
	}
}

void
dispatch_job(struct qmgr *q, struct qjob *job)
{
	size_t	 keep = 0;

	/* Drop rows already on their way (a scan racing a delivery). */
	for (size_t i = 0; i < job->nrcpt; i++) {
		if (dispatch_row_inflight(job->rcpts[i].row)) {
			free(job->rcpts[i].address);
			free(job->rcpts[i].rcpt);
			free(job->rcpts[i].orcpt);
			continue;
		}
		job->rcpts[keep++] = job->rcpts[i];
	}
	job->nrcpt = keep;
	if (keep == 0 || q->svc->stopping) {
		qjob_free(job);
		return;
	}
	dispatch_rows_mark(job, true);
	*jobs_tail = job;
	jobs_tail = &job->next;
	dispatch_kick(q);
}

static void	deliver_connect_all(void *);

static void
deliver_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	log_warnx("deliver: unexpected message type=%u", msg->hdr.type);
	(void)conn;
	(void)arg;
}

static void
deliver_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	struct deliver_conn	*dc = arg;
	struct qmgr		*q = dc->q;
	struct ipc_conn		*dead = dc->conn;

	log_info("deliver connection closed: %s", reason);
	dc->conn = NULL;		/* not a candidate for the retry */
	ipc_conn_free(&dead);		/* a pending reply gets NULL */
	if (!q->svc->stopping && q->reconnect_timer == NULL)
		q->reconnect_timer = ev_timer_add(q->svc->ev, RECONNECT_MS,
		    deliver_connect_all, q);
	(void)conn;
}

static const struct ipc_handler deliver_handler = {
	deliver_on_msg, deliver_on_close,
};

static void
deliver_connect(struct qmgr *q, struct deliver_conn *dc)
{
	char		*err;
	int		 fd;

	if ((fd = ipc_connect_unix(q->deliver_path, &err)) == -1) {
		log_warnx("deliver: %s", err);
		free(err);
		return;
	}
	if ((dc->conn = ipc_conn_new(q->svc->ev, fd, &deliver_handler,
	    dc)) == NULL)
		return;
	ipc_send_hello(dc->conn, DELIVER_PROTO, DELIVER_PROTO_VERSION);
}

static void
deliver_connect_all(void *arg)
{
	struct qmgr	*q = arg;
	bool		 missing = false;

	ev_timer_del(&q->reconnect_timer);
	for (struct deliver_conn *dc = q->delivers; dc != NULL; dc = dc->next) {
		if (dc->conn == NULL)
			deliver_connect(q, dc);
		missing = missing || dc->conn == NULL;
	}
	if (missing && !q->svc->stopping)
		q->reconnect_timer = ev_timer_add(q->svc->ev, RECONNECT_MS,
		    deliver_connect_all, q);
	dispatch_kick(q);
}

/*
 * NOTIFY wharf_queue (wharf queue flush/release) or a reconnect (maybe
 * missed one): scan now rather than at the next interval.
 */
void
dispatch_notify(const char *channel, const char *payload, void *arg)
{
	struct qmgr	*q = arg;

	scan_soon(q);
	(void)channel;
	(void)payload;
}

void
dispatch_start(struct qmgr *q)
{
	unsigned	 n = (unsigned)conf_int(q->svc->conf, "process_limit");

	for (unsigned i = 0; i < n; i++) {
		struct deliver_conn *dc = xcalloc(1, sizeof(*dc));

		dc->q = q;
		dc->next = q->delivers;
		q->delivers = dc;
	}
	deliver_connect_all(q);
}

void
dispatch_stop(struct qmgr *q)
{
	struct deliver_conn	*dc;
	struct qjob		*job;

	ev_timer_del(&q->scan_timer);
	ev_timer_del(&q->reconnect_timer);
	/* Connections first: a job they give back joins the list below. */
	while ((dc = q->delivers) != NULL) {
		struct ipc_conn *c = dc->conn;

		q->delivers = dc->next;
		dc->conn = NULL;
		ipc_conn_free(&c);
		free(dc);
	}
	while ((job = jobs_head) != NULL) {
		jobs_head = job->next;
		dispatch_rows_mark(job, false);
		qjob_free(job);
	}
	jobs_tail = &jobs_head;
	free(inflight);
	inflight = NULL;
	ninflight = 0;
}
