/*
 * qmgr/syncer.c — spool files made, and made durable, off qmgr's loop.
 *
 * Creating a spool file (ext4 looks for a free inode) and committing it
 * (fsync, rename into the blob store, fsync of the directory) block on
 * the disk.  Done in qmgr's one loop they bounded the whole inbound path:
 * every message's fsyncs waited for the last one's.  SYNC_WORKERS worker
 * processes (lib/worker) do them instead, each request going to the
 * worker with the fewest in hand, so several wait for the disk at once.
 * So that a new message need not wait for a round trip to a worker, up
 * to SYNC_STOCK empty spool files are made ahead, unnamed (O_TMPFILE:
 * nothing is left behind if qmgr dies), and named when handed out.  While no worker is
 * alive (all being replaced) qmgr does the work itself, as it did before.  A worker that dies or
 * does not answer in SYNC_TIMEOUT_MS fails what it had (the client gets
 * TEMPFAIL) and is replaced.  The workers are qmgr's
 * children, its user, and touch nothing but the blob store.
 *
 *	SYNC_CREATE	request	u32 unnamed
 *	SYNC_CREATE_R	reply	u32 ok, str name ("" if unnamed) or error;
 *				fd if ok
 *	SYNC_COMMIT	request	str name, fd of the spool file
 *	SYNC_COMMIT_R	reply	u32 ok, str error ("" if ok)
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "blob.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "worker.h"
#include "xmalloc.h"
#include "qmgr.h"

#define SYNC_CREATE	0x0a01
#define SYNC_CREATE_R	0x0a02
#define SYNC_COMMIT	0x0a03
#define SYNC_COMMIT_R	0x0a04

#define SYNC_WORKERS	4
#define SYNC_STOCK	8	/* spool files made ahead */
#define SYNC_TIMEOUT_MS	60000
#define SYNC_RESPAWN_MS	1000

struct syncer {
	struct syncers	*pool;
	pid_t		 pid;
	struct ipc_conn	*conn;
	size_t		 busy;		/* requests it has */
	struct ev_timer	*respawn;
};

struct syncers {
	struct ev		*ev;
	char			*blobdir;
	struct syncer		 w[SYNC_WORKERS];
	int			 stock[SYNC_STOCK];	/* unnamed files */
	size_t			 nstock;
	size_t			 refilling;	/* creates asked for it */
	bool			 no_stock;	/* no O_TMPFILE here */
};

/* Failures of the workers, not of the file system (compared by address). */
static const char	 err_lost[] = "spool worker lost";
static const char	 err_malformed[] = "malformed answer of a spool worker";
static const char	 err_none[] = "no spool worker";

struct sync_req {
	struct syncer		*w;
	bool			 unnamed;
	syncer_create_fn	*created;	/* or: */
	syncer_commit_fn	*committed;
	void			*arg;
};

/* ---- in the worker ---- */

static void
reply(struct ipc_conn *conn, uint32_t type, uint32_t id, const char *err,
    const char *ok_text, int fd)
{
	struct ipc_out	*o = ipc_msg_begin(conn, type, id, IPC_F_REPLY);

	ipc_put_u32(o, err == NULL);
	ipc_put_str(o, err != NULL ? err : ok_text);
	if (fd != -1)
		ipc_put_fd(o, fd);
	if (ipc_msg_end(o) == -1)
		_exit(1);
}

static void
serve_create(struct ipc_conn *conn, struct ipc_msg *msg, const char *dir)
{
	char		 name[BLOB_NAME_LEN + 1] = "";
	char		*err = NULL;
	uint32_t	 unnamed = 0;
	int		 fd;

	if (ipc_get_u32(msg, &unnamed) == -1 || ipc_get_end(msg) == -1)
		_exit(1);
	fd = unnamed ? blob_tmp_anon(dir, &err) :
	    blob_tmp_create(dir, name, &err);
	if (fd == -1) {
		reply(conn, SYNC_CREATE_R, msg->hdr.id, err, "", -1);
		free(err);
		return;
	}
	reply(conn, SYNC_CREATE_R, msg->hdr.id, NULL, name, fd);
}

static void
serve_commit(struct ipc_conn *conn, struct ipc_msg *msg, const char *dir)
{
	const char	*name = "";
	char		*err = NULL;
	int		 fd = ipc_msg_take_fd(msg);

	if (ipc_get_str(msg, &name) == -1 || ipc_get_end(msg) == -1 ||
	    fd == -1 || !blob_name_valid(name))
		err = xstrdup("malformed commit request");
	else if (blob_commit(dir, name, fd, &err) == 0)
		err = NULL;
	if (fd != -1)
		close(fd);
	reply(conn, SYNC_COMMIT_R, msg->hdr.id, err, "", -1);
	free(err);
}

static void
serve_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	const char	*dir = arg;

	if (msg->hdr.type == SYNC_CREATE)
		serve_create(conn, msg, dir);
	else if (msg->hdr.type == SYNC_COMMIT)
		serve_commit(conn, msg, dir);
	else {
		log_warnx("spool worker: unexpected message type=%u",
		    msg->hdr.type);
		_exit(1);
	}
}

static void
serve_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	_exit(0);	/* qmgr is gone or closed us */
}

static const struct ipc_handler serve_handler = {
	serve_on_msg, serve_on_close,
};

/* ---- in qmgr ---- */

static void	syncer_spawn(void *);

static void
syncer_lost(struct syncer *w, const char *why)
{
	log_warnx("spool worker pid=%ld lost: %s", (long)w->pid, why);
	ipc_conn_free(&w->conn);	/* its requests fail */
	if (w->pid > 0 && kill(w->pid, SIGKILL) == 0)
		waitpid(w->pid, NULL, 0);
	w->pid = 0;
	if (w->respawn == NULL)
		w->respawn = ev_timer_add(w->pool->ev, SYNC_RESPAWN_MS,
		    syncer_spawn, w);
}

static void
parent_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	syncer_lost(arg, "unexpected message");
}

static void
parent_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	syncer_lost(arg, reason);
}

static const struct ipc_handler parent_handler = {
	parent_on_msg, parent_on_close,
};

static void
syncer_spawn(void *arg)
{
	struct syncer	*w = arg;

	ev_timer_del(&w->respawn);
	w->conn = worker_fork(w->pool->ev, "qmgr spool worker",
	    &serve_handler, w->pool->blobdir, &parent_handler, w, &w->pid);
	if (w->conn == NULL) {
		w->pid = 0;
		w->respawn = ev_timer_add(w->pool->ev, SYNC_RESPAWN_MS,
		    syncer_spawn, w);
	}
}

static void
req_finish(struct sync_req *r, int fd, const char *text, const char *err)
{
	if (r->created != NULL)
		r->created(fd, err == NULL ? text : NULL, err, r->arg);
	else
		r->committed(err, r->arg);
	free(r);
}

static void
req_reply(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct sync_req	*r = arg;
	struct syncer	*w = r->w;
	uint32_t	 ok = 0, want = r->created != NULL ? SYNC_CREATE_R :
			    SYNC_COMMIT_R;
	const char	*text = "";
	int		 fd = -1;

	w->busy--;
	if (msg == NULL) {
		/* A timeout while the worker lives: it is stuck. */
		if (w->conn != NULL)
			syncer_lost(w, "no answer in time");
		req_finish(r, -1, NULL, err_lost);
		return;
	}
	fd = ipc_msg_take_fd(msg);
	if (msg->hdr.type != want || ipc_get_u32(msg, &ok) == -1 ||
	    ipc_get_str(msg, &text) == -1 || ipc_get_end(msg) == -1 ||
	    (ok && r->created != NULL && (fd == -1 || (r->unnamed ?
	    text[0] != '\0' : !blob_name_valid(text))))) {
		if (fd != -1)
			close(fd);
		req_finish(r, -1, NULL, err_malformed);
		syncer_lost(w, "malformed answer");
		return;
	}
	if (!ok && fd != -1) {
		close(fd);
		fd = -1;
	}
	req_finish(r, fd, text, ok ? NULL : text);
}

/* The live worker with the fewest requests; NULL if none lives. */
static struct syncer *
syncer_pick(struct syncers *s)
{
	struct syncer	*best = NULL;

	for (size_t i = 0; i < SYNC_WORKERS; i++)
		if (s->w[i].conn != NULL &&
		    (best == NULL || s->w[i].busy < best->busy))
			best = &s->w[i];
	return best;
}

/*
 * Send r (type, and name + fd for a commit: the fd is passed on, or
 * closed if r could not go; r->unnamed for a create); false if it could
 * not go.
 */
static bool
req_send(struct syncers *s, struct sync_req *r, uint32_t type,
    const char *name, int fd)
{
	struct ipc_out	*o;
	uint32_t	 id;

	if ((r->w = syncer_pick(s)) == NULL) {
		if (fd != -1)
			close(fd);
		return false;
	}
	id = ipc_conn_next_id(r->w->conn);
	o = ipc_msg_begin(r->w->conn, type, id, 0);
	if (name != NULL) {
		ipc_put_str(o, name);
		ipc_put_fd(o, fd);
	} else
		ipc_put_u32(o, r->unnamed);
	if (ipc_msg_end(o) == -1)
		return false;
	r->w->busy++;
	ipc_conn_expect(r->w->conn, id, SYNC_TIMEOUT_MS, req_reply, r);
	return true;
}

/*
 * A spool file made ahead.  If the file system could not make it (no
 * O_TMPFILE), none is made ahead again; a lost worker is no reason.
 */
static void
stock_add(int fd, const char *name, const char *err, void *arg)
{
	struct syncers	*s = arg;

	s->refilling--;
	if (fd == -1 && (err == err_lost || err == err_malformed ||
	    err == err_none))
		return;
	if (fd == -1) {
		if (!s->no_stock)
			log_info("spool files are not made ahead: %s", err);
		s->no_stock = true;
		return;
	}
	s->stock[s->nstock++] = fd;
}

static void
stock_refill(struct syncers *s)
{
	struct sync_req	*r;

	while (!s->no_stock && s->nstock + s->refilling < SYNC_STOCK) {
		r = xcalloc(1, sizeof(*r));
		r->created = stock_add;
		r->unnamed = true;
		r->arg = s;
		s->refilling++;
		if (!req_send(s, r, SYNC_CREATE, NULL, -1)) {
			s->refilling--;
			free(r);
			return;
		}
	}
}

struct syncers *
syncers_new(struct ev *ev, const char *blobdir)
{
	struct syncers	*s = xcalloc(1, sizeof(*s));

	s->ev = ev;
	s->blobdir = xstrdup(blobdir);
	for (size_t i = 0; i < SYNC_WORKERS; i++) {
		s->w[i].pool = s;
		syncer_spawn(&s->w[i]);
	}
	stock_refill(s);
	return s;
}

/* Requests in hand fail; the workers get EOF and exit. */
void
syncers_free(struct syncers **sp)
{
	struct syncers	*s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	for (size_t i = 0; i < SYNC_WORKERS; i++) {
		struct syncer	*w = &s->w[i];

		ev_timer_del(&w->respawn);
		ipc_conn_free(&w->conn);
		if (w->pid > 0)
			waitpid(w->pid, NULL, 0);
	}
	while (s->nstock > 0)
		close(s->stock[--s->nstock]);
	free(s->blobdir);
	free(s);
}

/* In qmgr's loop, as before the workers: while none is alive. */
static void
create_here(struct syncers *s, syncer_create_fn *fn, void *arg)
{
	char	 name[BLOB_NAME_LEN + 1];
	char	*err = NULL;
	int	 fd;

	fd = blob_tmp_create(s->blobdir, name, &err);
	fn(fd, fd == -1 ? NULL : name, err, arg);
	free(err);
}

void
syncers_create(struct syncers *s, syncer_create_fn *fn, void *arg)
{
	struct sync_req		*r;
	char			 name[BLOB_NAME_LEN + 1], *err = NULL;
	int			 fd;

	if (s->nstock > 0) {
		fd = s->stock[--s->nstock];
		stock_refill(s);
		if (blob_tmp_name(s->blobdir, fd, name, &err) == 0) {
			fn(fd, name, NULL, arg);
			return;
		}
		log_warnx("spool: %s", err);
		free(err);
		close(fd);
	}
	if (syncer_pick(s) == NULL) {	/* all being replaced: do it here */
		create_here(s, fn, arg);
		return;
	}
	r = xcalloc(1, sizeof(*r));
	r->created = fn;
	r->arg = arg;
	if (!req_send(s, r, SYNC_CREATE, NULL, -1))
		req_finish(r, -1, NULL, err_none);
	stock_refill(s);
}

void
syncers_commit(struct syncers *s, const char *name, int fd,
    syncer_commit_fn *fn, void *arg)
{
	struct sync_req	*r;
	char		*err = NULL;

	if (syncer_pick(s) == NULL) {	/* all being replaced: do it here */
		if (blob_commit(s->blobdir, name, fd, &err) == 0)
			err = NULL;
		close(fd);
		fn(err, arg);
		free(err);
		return;
	}
	r = xcalloc(1, sizeof(*r));
	r->committed = fn;
	r->arg = arg;
	if (!req_send(s, r, SYNC_COMMIT, name, fd))
		req_finish(r, -1, NULL, err_none);
}
