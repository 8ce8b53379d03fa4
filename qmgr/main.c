/*
 * qmgr — the queue manager: durable enqueue, scheduling, retries and
 * notices.
 *
 * SECURITY
 *	Runs as wharf_user, connected to PostgreSQL as wharf_qmgr (queue,
 *	blobs, and the account tables except password hashes).  Its input
 *	is requests from smtpd over $run_dir/private/qmgr.sock, bound by the
 *	master and checked with SO_PEERCRED; envelope strings in them come
 *	from the Internet: they are length-checked, passed only as query
 *	parameters, and sanitised in logs.  It never parses message content.
 * STANDARDS
 *	RFC 5321 6.1 (reliable delivery: "queued" means durable), RFC 3461
 *	(DSN parameters kept with the queue entry).
 *
 * The life of a message (ARCHITECTURE.md): a spool file in the blob
 * store's tmp/, fsynced and renamed into place at commit, then one INSERT
 * of the queue rows with each recipient expanded through aliases; only
 * then does smtpd hear QUEUE_OK.  Local recipients go to deliver; those
 * that fail temporarily are retried with backoff; a restart reschedules
 * everything pending and removes uncommitted spool files.  Remote
 * recipients go to the mta, grouped by destination domain
 * (outbound.c); failures and delays are reported to the sender with
 * delivery status notifications (bounce.c).
 */
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>

#include "blob.h"
#include "conf.h"
#include "db.h"
#include "ev.h"
#include "log.h"
#include "proc.h"
#include "proto_deliver.h"
#include "proto_mta.h"
#include "service.h"
#include "xmalloc.h"
#include "qmgr.h"

static struct qmgr	qmgr;

static void
qmgr_add_peer(struct qmgr *q, const char *key)
{
	uid_t	 uid;
	gid_t	 gid;
	char	*err;

	if (proc_user(conf_str(q->svc->conf, key), &uid, &gid, &err) == 0)
		q->peers[q->npeers++] = uid;
	else
		free(err);	/* not root: that user need not exist */
}

static int
qmgr_init(struct service *svc, char **err_r)
{
	struct qmgr	*q = &qmgr;

	q->svc = svc;
	svc->arg = q;
	q->listen_fd = -1;
	q->lock_fd = -1;
	for (size_t i = 0; i < svc->nlisteners; i++)
		if (strcmp(svc->listeners[i].key, "private") == 0)
			q->listen_fd = svc->listeners[i].fd;
	if (q->listen_fd == -1) {
		*err_r = xstrdup("no private socket from the master");
		return -1;
	}
	q->peers[q->npeers++] = 0;
	q->peers[q->npeers++] = geteuid();
	qmgr_add_peer(q, "wharf_null_user");
	q->blobdir = xasprintf("%s/blobs", conf_str(svc->conf, "state_dir"));
	q->deliver_path = xasprintf("%s/private/%s", conf_str(svc->conf,
	    "run_dir"), DELIVER_SOCKET_NAME);
	q->mta_path = xasprintf("%s/private/%s", conf_str(svc->conf,
	    "run_dir"), MTA_SOCKET_NAME);
	return 0;
}

static int
qmgr_start(struct service *svc, char **err_r)
{
	struct qmgr	*q = svc->arg;
	char		*ci, *lock;
	int		 n;

	if (blob_store_init(q->blobdir, err_r) == -1)
		return -1;
	/*
	 * Uncommitted spools are garbage only when no other qmgr is alive:
	 * after a reload the old generation is still finishing its
	 * messages.  Every qmgr holds this lock; the first takes it.
	 */
	lock = xasprintf("%s/.qmgr.lock", q->blobdir);
	q->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (q->lock_fd != -1 && flock(q->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		if ((n = blob_tmp_clean(q->blobdir)) > 0)
			log_info("removed %d uncommitted spool file(s)", n);
	} else
		log_info("another qmgr is running: spool cleanup skipped");
	q->sync = syncers_new(svc->ev, q->blobdir);
	ci = db_conninfo(conf_str(svc->conf, "database"),
	    conf_str(svc->conf, "run_dir"), "wharf_qmgr");
	q->db = db_new(svc->ev, ci);
	free(ci);
	/* Commits and results queued meanwhile share one transaction: one
	   WAL flush for many messages (each is still answered only after
	   it is durable). */
	db_set_batch(q->db, true);
	db_listen(q->db, "wharf_queue", dispatch_notify, q);
	q->accept_io = ev_io_add(svc->ev, q->listen_fd, EV_READ,
	    client_accept, q);
	if (q->accept_io == NULL) {
		*err_r = xstrdup("cannot watch the private socket");
		return -1;
	}
	dispatch_start(q);
	outbound_start(q);
	queue_scan_start(q);
	return 0;
}

void
qmgr_work_done(struct qmgr *q)
{
	if (q->svc->stopping && q->inflight == 0 && q->spools_open == 0)
		service_done(q->svc);
}

/*
 * Take no new connections; finish the messages being written, the
 * commits and the deliveries in flight (the master's shutdown_timeout
 * bounds the wait).
 */
static void
qmgr_stop(struct service *svc)
{
	struct qmgr	*q = svc->arg;

	ev_io_del(&q->accept_io);
	ev_timer_del(&q->scan_timer);
	bounce_stop(q);
	qmgr_work_done(q);
}

static void
qmgr_cleanup(struct service *svc)
{
	struct qmgr	*q = svc->arg;

	if (q == NULL)
		return;
	ev_io_del(&q->accept_io);
	ev_timer_del(&q->scan_timer);
	bounce_stop(q);
	outbound_stop(q);
	dispatch_stop(q);
	client_free_all(q);
	syncers_free(&q->sync);
	db_free(&q->db);
	free(q->blobdir);
	free(q->deliver_path);
	free(q->mta_path);
	if (q->lock_fd != -1)
		close(q->lock_fd);
}

static const struct service_ops qmgr_ops = {
	.name = "qmgr",
	.user_key = "wharf_user",
	.init = qmgr_init,
	.start = qmgr_start,
	.stop = qmgr_stop,
	.cleanup = qmgr_cleanup,
};

int
main(int argc, char *argv[])
{
	return service_main(argc, argv, &qmgr_ops);
}
