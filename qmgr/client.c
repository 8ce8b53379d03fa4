/*
 * qmgr/client.c — smtpd's side of the queue (lib/proto_queue.h).
 *
 * QUEUE_SPOOL makes a tmp file in the blob store and passes smtpd a
 * descriptor of it; qmgr keeps its own.  QUEUE_COMMIT makes the file
 * durable (fsync, rename, fsync the directory), inserts the queue rows in
 * one statement, and only then answers QUEUE_OK.  Making and committing
 * the file is done by the spool workers (syncer.c), off this loop.
 * Spools of a connection that goes away uncommitted are removed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bsd/string.h>

#include "blob.h"
#include "conf.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "proto_queue.h"
#include "service.h"
#include "xmalloc.h"
#include "qmgr.h"

#define STR_MAX			1024

struct spool {
	char	 name[BLOB_NAME_LEN + 1];
	int	 fd;
	bool	 creating;	/* a spool worker makes it */
	bool	 committing;
};

struct commit_ctx;
struct spool_ctx;

struct qmgr_client {
	struct qmgr_client	*next;
	struct commit_ctx	*commits;	/* in flight */
	struct spool_ctx	*creates;	/* spools being made */
	struct qmgr		*q;
	struct ipc_conn		*conn;
	bool			 hello;
	pid_t			 pid;
	struct spool		*spools;	/* one per session in DATA */
	size_t			 nspools;	/* smtpd_connection_limit */
};

/* A commit in flight; cl is NULL once the client has gone. */
struct commit_ctx {
	struct commit_ctx	*next;
	struct qmgr_client	*cl;
	uint32_t		 id;
	char			 name[BLOB_NAME_LEN + 1];
	struct qmgr		*q;
	struct commit_req	*req;	/* until the file is durable */
};

/* A spool being made for cl's spools[slot]; cl NULL once it has gone. */
struct spool_ctx {
	struct spool_ctx	*next;
	struct qmgr_client	*cl;
	struct qmgr		*q;
	uint32_t		 id;
	size_t			 slot;
};

static void
spool_drop(struct qmgr *q, struct spool *s, bool unlink_tmp)
{
	if (s->fd == -1)
		return;
	if (unlink_tmp)
		blob_tmp_unlink(q->blobdir, s->name);
	close(s->fd);
	s->fd = -1;
	s->committing = false;
	q->spools_open--;
	qmgr_work_done(q);	/* a stopping qmgr waits for open spools */
}

static void
client_free(struct qmgr_client *cl)
{
	struct qmgr	*q = cl->q;

	for (struct qmgr_client **p = &q->clients; *p != NULL; p = &(*p)->next)
		if (*p == cl) {
			*p = cl->next;
			break;
		}
	for (struct commit_ctx *c = cl->commits; c != NULL; c = c->next)
		c->cl = NULL;
	for (struct spool_ctx *c = cl->creates; c != NULL; c = c->next)
		c->cl = NULL;
	for (size_t i = 0; i < cl->nspools; i++)
		spool_drop(q, &cl->spools[i], !cl->spools[i].committing);
	ipc_conn_free(&cl->conn);
	free(cl->spools);
	free(cl);
}

void
client_free_all(struct qmgr *q)
{
	while (q->clients != NULL) {
		/* Last answers ("queued as") still go out before we exit. */
		ipc_conn_flush_sync(q->clients->conn, 1000);
		client_free(q->clients);
	}
}

static struct spool *
spool_find(struct qmgr_client *cl, const char *name)
{
	for (size_t i = 0; i < cl->nspools; i++)
		if (cl->spools[i].fd != -1 &&
		    strcmp(cl->spools[i].name, name) == 0)
			return &cl->spools[i];
	return NULL;
}

static void
reply_status(struct qmgr_client *cl, uint32_t type, uint32_t id,
    uint32_t status, const char *s, int fd)
{
	struct ipc_out	*o = ipc_msg_begin(cl->conn, type, id, IPC_F_REPLY);

	ipc_put_u32(o, status);
	ipc_put_str(o, s);
	if (fd != -1)
		ipc_put_fd(o, fd);
	if (ipc_msg_end(o) == -1)
		log_warnx("client pid=%ld: reply not sent", (long)cl->pid);
}

/* A spool worker made the file (fd, name) or could not (err). */
static void
spool_created(int fd, const char *name, const char *err, void *arg)
{
	struct spool_ctx	*c = arg;
	struct qmgr_client	*cl = c->cl;
	struct qmgr		*q = c->q;
	struct spool		*s;
	int			 dup_fd = -1;

	if (cl != NULL)
		for (struct spool_ctx **p = &cl->creates; *p != NULL;
		    p = &(*p)->next)
			if (*p == c) {
				*p = c->next;
				break;
			}
	if (err != NULL)
		log_warnx("spool: %s", err);
	if (cl == NULL || fd == -1 || (dup_fd = dup(fd)) == -1) {
		if (cl != NULL && fd != -1)
			log_warn("spool: dup");
		if (fd != -1) {
			close(fd);
			blob_tmp_unlink(q->blobdir, name);
		}
		if (cl != NULL) {
			cl->spools[c->slot].creating = false;
			reply_status(cl, QUEUE_SPOOL_R, c->id, QUEUE_TEMPFAIL,
			    "", -1);
		}
		q->spools_open--;
		free(c);
		qmgr_work_done(q);
		return;
	}
	s = &cl->spools[c->slot];
	s->creating = false;
	s->fd = fd;
	strlcpy(s->name, name, sizeof(s->name));
	reply_status(cl, QUEUE_SPOOL_R, c->id, QUEUE_OK, s->name, dup_fd);
	free(c);
}

static void
client_spool(struct qmgr_client *cl, struct ipc_msg *msg)
{
	struct spool_ctx	*c;
	size_t			 i;

	for (i = 0; i < cl->nspools; i++)
		if (cl->spools[i].fd == -1 && !cl->spools[i].creating)
			break;
	if (ipc_get_end(msg) == -1 || i == cl->nspools) {
		reply_status(cl, QUEUE_SPOOL_R, msg->hdr.id, QUEUE_TEMPFAIL,
		    "", -1);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->cl = cl;
	c->q = cl->q;
	c->id = msg->hdr.id;
	c->slot = i;
	c->next = cl->creates;
	cl->creates = c;
	cl->spools[i].creating = true;
	cl->q->spools_open++;
	syncers_create(cl->q->sync, spool_created, c);
}

static void
commit_done(struct qmgr *q, void *arg, int status, const char *queue_id,
    struct qjob *job)
{
	struct commit_ctx	*ctx = arg;
	struct spool		*s;

	if (ctx->cl != NULL)
		for (struct commit_ctx **p = &ctx->cl->commits; *p != NULL;
		    p = &(*p)->next)
			if (*p == ctx) {
				*p = ctx->next;
				break;
			}
	if (status != QUEUE_OK)
		blob_remove(q->blobdir, ctx->name);
	if (ctx->cl != NULL) {
		if ((s = spool_find(ctx->cl, ctx->name)) != NULL)
			spool_drop(q, s, false);
		reply_status(ctx->cl, QUEUE_COMMIT_R, ctx->id, (uint32_t)status,
		    queue_id != NULL ? queue_id : "", -1);
	}
	free(ctx);
	if (job != NULL)
		dispatch_job(q, job);
	q->inflight--;
	qmgr_work_done(q);
}

/*
 * Read the envelope of QUEUE_COMMIT (proto_queue.h) into req; -1 on a
 * malformed message.
 */
static int
read_envelope(struct ipc_msg *msg, struct commit_req *req)
{
	const char	*sender, *envid, *addr, *name, *helo, *proto, *auth;
	const char	*rcpt, *orcpt;
	uint32_t	 ret, body, utf8, n, notify;

	ipc_get_str(msg, &sender);
	ipc_get_str(msg, &envid);
	ipc_get_u32(msg, &ret);
	ipc_get_u32(msg, &body);
	ipc_get_u32(msg, &utf8);
	ipc_get_str(msg, &addr);
	ipc_get_str(msg, &name);
	ipc_get_str(msg, &helo);
	ipc_get_str(msg, &proto);
	ipc_get_str(msg, &auth);
	if (ipc_get_u32(msg, &n) == -1 || n == 0 || n > QUEUE_RCPT_MAX ||
	    ret > QUEUE_RET_HDRS || body > QUEUE_BODY_BINARYMIME ||
	    strlen(sender) > STR_MAX || strlen(envid) > STR_MAX ||
	    strlen(helo) > STR_MAX || strlen(name) > STR_MAX)
		return -1;
	commit_req_envelope(req, sender, envid, ret, body, utf8 != 0, addr,
	    name, helo, proto);
	for (uint32_t i = 0; i < n; i++) {
		ipc_get_str(msg, &rcpt);
		ipc_get_str(msg, &orcpt);
		if (ipc_get_u32(msg, &notify) == -1 || rcpt[0] == '\0' ||
		    strlen(rcpt) > STR_MAX || strlen(orcpt) > STR_MAX)
			return -1;
		commit_req_rcpt(req, rcpt, orcpt, notify);
	}
	(void)auth;	/* submission (issue 4) records it */
	return ipc_get_end(msg);
}

/*
 * A spool worker made the file durable (err NULL): insert the rows.  If
 * it could not, the commit fails; the file goes, wherever it got to.
 */
static void
commit_synced(const char *err, void *arg)
{
	struct commit_ctx	*ctx = arg;
	struct qmgr		*q = ctx->q;

	if (err == NULL) {
		queue_db_commit(q, ctx->req);
		ctx->req = NULL;
		return;
	}
	log_warnx("commit %s: %s", ctx->name, err);
	commit_req_free(ctx->req);
	ctx->req = NULL;
	blob_tmp_unlink(q->blobdir, ctx->name);
	commit_done(q, ctx, QUEUE_TEMPFAIL, NULL, NULL);
}

static void
client_commit(struct qmgr_client *cl, struct ipc_msg *msg)
{
	struct commit_ctx	*ctx = xcalloc(1, sizeof(*ctx));
	struct commit_req	*req;
	struct spool		*s;
	const char		*name;
	struct stat		 st;
	int			 fd;

	ctx->cl = cl;
	ctx->id = msg->hdr.id;
	if (ipc_get_str(msg, &name) == -1 || (s = spool_find(cl, name)) ==
	    NULL || s->committing || fstat(s->fd, &st) == -1) {
		log_warnx("client pid=%ld: commit of an unknown spool",
		    (long)cl->pid);
		reply_status(cl, QUEUE_COMMIT_R, ctx->id, QUEUE_REJECT, "", -1);
		free(ctx);
		return;
	}
	strlcpy(ctx->name, name, sizeof(ctx->name));
	req = commit_req_new(name, (uint64_t)st.st_size, commit_done, ctx);
	if (read_envelope(msg, req) == -1) {
		log_warnx("client pid=%ld: malformed commit", (long)cl->pid);
		commit_req_free(req);
		spool_drop(cl->q, s, true);
		reply_status(cl, QUEUE_COMMIT_R, ctx->id, QUEUE_REJECT, "", -1);
		free(ctx);
		return;
	}
	/* Durable before the rows exist: nothing may point at a tmp file. */
	s->committing = true;
	ctx->next = cl->commits;
	cl->commits = ctx;
	ctx->req = req;
	ctx->q = cl->q;
	cl->q->inflight++;
	if ((fd = dup(s->fd)) == -1)
		commit_synced("dup failed", ctx);
	else
		syncers_commit(cl->q->sync, name, fd, commit_synced, ctx);
}

static void
client_abort(struct qmgr_client *cl, struct ipc_msg *msg)
{
	const char	*name;
	struct spool	*s;

	if (ipc_get_str(msg, &name) == -1 || ipc_get_end(msg) == -1 ||
	    (s = spool_find(cl, name)) == NULL || s->committing)
		return;
	spool_drop(cl->q, s, true);
}

static void
client_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct qmgr_client	*cl = arg;

	if (!cl->hello) {
		if (!ipc_hello_ok(msg, QUEUE_PROTO, QUEUE_PROTO_VERSION)) {
			log_warnx("client pid=%ld: bad hello", (long)cl->pid);
			client_free(cl);
			return;
		}
		cl->hello = true;
		return;
	}
	switch (msg->hdr.type) {
	case QUEUE_SPOOL:
		client_spool(cl, msg);
		break;
	case QUEUE_COMMIT:
		client_commit(cl, msg);
		break;
	case QUEUE_ABORT:
		client_abort(cl, msg);
		break;
	default:
		log_warnx("client pid=%ld: unknown request type=%u",
		    (long)cl->pid, msg->hdr.type);
		break;
	}
	(void)conn;
}

static void
client_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	struct qmgr_client	*cl = arg;

	log_debug("client pid=%ld closed: %s", (long)cl->pid, reason);
	client_free(cl);
	(void)conn;
}

static const struct ipc_handler client_handler = {
	client_on_msg, client_on_close,
};

void
client_accept(int fd, unsigned events, void *arg)
{
	struct qmgr		*q = arg;
	struct qmgr_client	*cl = xcalloc(1, sizeof(*cl));

	cl->q = q;
	/* Every session of an smtpd may be in DATA at once. */
	cl->nspools = (size_t)conf_int(q->svc->conf, "smtpd_connection_limit");
	cl->spools = xcalloc(cl->nspools, sizeof(*cl->spools));
	for (size_t i = 0; i < cl->nspools; i++)
		cl->spools[i].fd = -1;
	if ((cl->conn = ipc_accept(q->svc->ev, fd, q->peers, q->npeers,
	    &client_handler, cl, &cl->pid)) == NULL) {
		free(cl->spools);
		free(cl);
		return;
	}
	cl->next = q->clients;
	q->clients = cl;
	(void)events;
}
