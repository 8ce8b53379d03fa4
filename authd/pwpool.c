/*
 * authd/pwpool.c — password hashing off the event loop.
 *
 * A password hash costs ~100 ms of CPU and argon2_memory_cost of memory
 * by design, so authd's loop never computes one: authd_workers processes,
 * forked at start after the privilege drop, each take one job at a time
 * over a socketpair, in the IPC framing.  Jobs wait in a bounded FIFO for
 * a free worker.  A worker that dies fails its job (TEMPFAIL) and is
 * replaced; a worker whose authd dies gets EOF (or SIGKILL, by
 * PR_SET_PDEATHSIG) and exits.
 *
 *	PW_VERIFY	request	str stored, str password, u32 rehash
 *	    stored	= the hash from the database, or "" for the dummy hash
 *			  (a missing user costs what a wrong password costs)
 *	PW_VERIFY_R	reply	u32 result, str new_hash
 *	    result	= PW_MATCH | PW_NOMATCH | PW_ERROR (stored unusable)
 *	    new_hash	= on a match with rehash set and a hash that is not
 *			  argon2id with the configured costs: the password
 *			  hashed anew; "" otherwise
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "pwhash.h"
#include "worker.h"
#include "xmalloc.h"
#include "authd.h"

#define PW_VERIFY	0x0381
#define PW_VERIFY_R	0x0382

#define PW_JOB_TIMEOUT_MS	60000
#define PW_RESPAWN_MS		1000

struct pwjob {
	struct pwjob	*next;
	char		*stored;
	char		*pw;
	bool		 rehash;
	pwpool_fn	*fn;
	void		*arg;
};

struct pwworker {
	struct pwpool	*pool;
	pid_t		 pid;
	struct ipc_conn	*conn;
	struct pwjob	*job;		/* the one it works on */
	struct ev_timer	*respawn;
};

struct pwpool {
	struct ev		*ev;
	struct pwhash_params	 params;
	struct pwworker		*w;
	size_t			 nw;
	struct pwjob		*head, **tail;
	size_t			 queued, max_queued;
};

static void	worker_spawn(void *);
static void	pool_dispatch(struct pwpool *);

/* ---- the worker process ---- */

static void
worker_verify(struct ipc_conn *conn, struct ipc_msg *msg,
    const struct pwhash_params *params)
{
	const char	*stored, *pw;
	uint32_t	 rehash = 0, result;
	char		*err = NULL, *fresh = NULL;
	struct ipc_out	*o;
	int		 r;

	if (ipc_get_str(msg, &stored) == -1 || ipc_get_str(msg, &pw) == -1 ||
	    ipc_get_u32(msg, &rehash) == -1 || ipc_get_end(msg) == -1) {
		log_warnx("worker: malformed job");
		_exit(1);
	}
	if (stored[0] == '\0' && (stored = pwhash_dummy(params, &err)) ==
	    NULL) {
		log_warnx("worker: dummy hash: %s", err);	/* costs */
		_exit(1);
	}
	r = pwhash_verify(stored, pw, strlen(pw), &err);
	result = r == 1 ? PW_MATCH : r == 0 ? PW_NOMATCH : PW_ERROR;
	if (r == -1) {
		log_warnx("worker: stored hash unusable: %s", err);
		free(err);
	}
	if (r == 1 && rehash && pwhash_needs_rehash(stored, params) &&
	    (fresh = pwhash_new(params, pw, strlen(pw), &err)) == NULL) {
		log_warnx("worker: rehash: %s", err);
		free(err);
	}
	explicit_bzero((char *)pw, strlen(pw));
	o = ipc_msg_begin(conn, PW_VERIFY_R, msg->hdr.id, IPC_F_REPLY);
	ipc_put_u32(o, result);
	ipc_put_str(o, fresh != NULL ? fresh : "");
	ipc_msg_end(o);
	free(fresh);
}

struct worker_ctx {
	struct pwhash_params	 params;
};

static void
worker_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct worker_ctx	*ctx = arg;

	if (msg->hdr.type != PW_VERIFY) {
		log_warnx("worker: unexpected message type=%u", msg->hdr.type);
		_exit(1);
	}
	worker_verify(conn, msg, &ctx->params);
}

static void
worker_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	_exit(0);	/* authd is gone or closed us */
}

static const struct ipc_handler worker_handler = {
	worker_on_msg, worker_on_close,
};

/* ---- the pool, in authd ---- */

static void
job_finish(struct pwjob *j, int result, const char *fresh)
{
	j->fn(result, fresh, j->arg);
	xfreezero(j->pw, strlen(j->pw) + 1);
	free(j->stored);
	free(j);
}

static void
worker_lost(struct pwworker *w, const char *why)
{
	struct pwjob	*j = w->job;

	log_warnx("password worker pid=%ld lost: %s", (long)w->pid, why);
	w->job = NULL;		/* job_reply() from ipc_conn_free: ignored */
	ipc_conn_free(&w->conn);
	if (w->pid > 0 && kill(w->pid, SIGKILL) == 0)
		waitpid(w->pid, NULL, 0);
	w->pid = 0;
	if (j != NULL)
		job_finish(j, PW_LOST, NULL);
	if (w->respawn == NULL)
		w->respawn = ev_timer_add(w->pool->ev, PW_RESPAWN_MS,
		    worker_spawn, w);
}

static void
worker_on_close_parent(struct ipc_conn *conn, const char *reason, void *arg)
{
	worker_lost(arg, reason);
}

static void
worker_on_msg_parent(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	worker_lost(arg, "unexpected message");
}

static const struct ipc_handler parent_handler = {
	worker_on_msg_parent, worker_on_close_parent,
};

static void
worker_spawn(void *arg)
{
	static struct worker_ctx	 ctx;
	struct pwworker			*w = arg;

	ev_timer_del(&w->respawn);
	ctx.params = w->pool->params;
	w->conn = worker_fork(w->pool->ev, "authd password worker",
	    &worker_handler, &ctx, &parent_handler, w, &w->pid);
	if (w->conn == NULL) {
		w->pid = 0;
		w->respawn = ev_timer_add(w->pool->ev, PW_RESPAWN_MS,
		    worker_spawn, w);
		return;
	}
	pool_dispatch(w->pool);
}

static void
job_reply(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct pwworker	*w = arg;
	struct pwjob	*j = w->job;
	uint32_t	 result = PW_LOST;
	const char	*fresh = "";

	if (j == NULL)
		return;		/* the worker was lost meanwhile */
	if (msg == NULL || msg->hdr.type != PW_VERIFY_R ||
	    ipc_get_u32(msg, &result) == -1 ||
	    ipc_get_str(msg, &fresh) == -1 || ipc_get_end(msg) == -1 ||
	    result > PW_ERROR) {
		worker_lost(w, msg == NULL ? "no answer in time" :
		    "malformed answer");
		return;
	}
	w->job = NULL;
	job_finish(j, (int)result, fresh[0] != '\0' ? fresh : NULL);
	pool_dispatch(w->pool);
}

static bool
worker_take(struct pwworker *w, struct pwjob *j)
{
	struct ipc_out	*o;
	uint32_t	 id;

	id = ipc_conn_next_id(w->conn);
	o = ipc_msg_begin(w->conn, PW_VERIFY, id, 0);
	ipc_put_str(o, j->stored);
	ipc_put_str(o, j->pw);
	ipc_put_u32(o, j->rehash);
	if (ipc_msg_end(o) == -1)
		return false;
	w->job = j;
	ipc_conn_expect(w->conn, id, PW_JOB_TIMEOUT_MS, job_reply, w);
	return true;
}

static void
pool_dispatch(struct pwpool *p)
{
	for (size_t i = 0; i < p->nw && p->head != NULL; i++) {
		struct pwworker	*w = &p->w[i];
		struct pwjob	*j = p->head;

		if (w->conn == NULL || w->job != NULL)
			continue;
		if ((p->head = j->next) == NULL)
			p->tail = &p->head;
		p->queued--;
		if (!worker_take(w, j))
			job_finish(j, PW_LOST, NULL);
	}
}

struct pwpool *
pwpool_new(struct ev *ev, size_t nworkers, size_t max_queued,
    const struct pwhash_params *params)
{
	struct pwpool	*p = xcalloc(1, sizeof(*p));

	p->ev = ev;
	p->params = *params;
	p->tail = &p->head;
	p->max_queued = max_queued;
	p->nw = nworkers;
	p->w = xcalloc(nworkers, sizeof(*p->w));
	for (size_t i = 0; i < nworkers; i++) {
		p->w[i].pool = p;
		worker_spawn(&p->w[i]);
	}
	return p;
}

int
pwpool_verify(struct pwpool *p, const char *stored, const char *pw,
    bool rehash, pwpool_fn *fn, void *arg)
{
	struct pwjob	*j;

	if (p->queued >= p->max_queued)
		return -1;
	j = xcalloc(1, sizeof(*j));
	j->stored = xstrdup(stored != NULL ? stored : "");
	j->pw = xstrdup(pw);
	j->rehash = rehash;
	j->fn = fn;
	j->arg = arg;
	*p->tail = j;
	p->tail = &j->next;
	p->queued++;
	pool_dispatch(p);
	return 0;
}

/* Jobs not done yet are answered PW_LOST; the workers get EOF. */
void
pwpool_free(struct pwpool **pp)
{
	struct pwpool	*p = *pp;
	struct pwjob	*j;

	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nw; i++) {
		struct pwworker	*w = &p->w[i];

		ev_timer_del(&w->respawn);
		j = w->job;
		w->job = NULL;
		ipc_conn_free(&w->conn);
		if (j != NULL)
			job_finish(j, PW_LOST, NULL);
		if (w->pid > 0)
			waitpid(w->pid, NULL, 0);
	}
	while ((j = p->head) != NULL) {
		p->head = j->next;
		job_finish(j, PW_LOST, NULL);
	}
	free(p->w);
	free(p);
	*pp = NULL;
}
