/*
 * db — PostgreSQL through libpq, asynchronously on lib/ev (db.h).
 *
 * One struct db is one connection and a FIFO of queries.  Connecting and
 * query I/O never block: PQconnectStart/PQconnectPoll, then libpq's
 * pipeline mode on a non-blocking connection, results read with
 * PQconsumeInput/PQisBusy/PQgetResult when the socket is readable.
 *
 * Whatever is queued when the connection is free goes out at once (up to
 * DB_PIPELINE_MAX queries), so the server runs them back to back instead
 * of waiting a round trip, and a scheduling delay of this process, between
 * each.  Each query is followed by a Sync, so each is its own transaction
 * as before; on a db in batch mode (db_set_batch) the group shares one
 * Sync and so one transaction, one commit and one WAL flush: a group
 * commit.  A group in which anything failed was rolled back as a whole;
 * its queries are then run again one by one ("alone"), so a caller sees
 * exactly the answer its query gets on its own.  The next group is sent
 * when every answer of the last one is in.
 *
 * A text sent a second time on a connection is prepared (db_stmt.h) and
 * executed by name from then on, which spares the server parsing and
 * planning it again.
 * The one blocking step is the cancel request of a timed-out query
 * (PQcancel opens a second, short connection and waits for it): quick on
 * a UNIX socket or a LAN, and only taken on an already slow path.
 *
 * Queries queued while there is no connection wait for the next one; a
 * failed connection attempt or a lost connection fails everything pending
 * (callback with NULL), so a query waits at most one backoff period.
 * A per-query timeout runs from db_query(), queued or in flight.
 *
 * Callbacks are never called from inside db_query() (a query is sent from
 * the loop, by a zero-delay timer), except on a db that is being freed,
 * where db_query() answers "shutdown" at once.  A callback may call
 * db_query() and db_free(): each entry from the loop counts its depth,
 * db_free() inside one only tears the connection down and fails what is
 * pending, and the struct itself is released when that entry returns.
 */
#include <sys/queue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "buf.h"
#include "db.h"
#include "db_private.h"
#include "db_stmt.h"
#include "ev.h"
#include "log.h"
#include "xmalloc.h"

#define DB_BACKOFF_MIN_MS	1000
#define DB_BACKOFF_MAX_MS	30000
#define DB_CONNECT_TIMEOUT_MS	10000
#define DB_MAX_PARAMS		65535	/* the wire protocol's limit */
#define DB_LOG_MAX		512
#define DB_PIPELINE_MAX		64	/* queries sent in one go */

struct db_query {
	TAILQ_ENTRY(db_query)	 entry;
	struct db		*db;
	char			*sql;
	char			**params;
	int			 nparams;
	struct ev_timer		*timer;	/* deadline; NULL: none */
	db_result_fn		*cb;	/* NULL once answered (timed out) */
	void			*arg;
	bool			 alone;	/* a retry: own transaction, as text */
	bool			 retried; /* after a stray cancel, once */
	bool			 in_flight; /* in db->sent, not db->queue */
	/* While in flight: */
	enum db_stmt_action	 act;	/* how */
	char			 stmt[DB_STMT_NAME];
	unsigned		 ends;	/* query ends (NULL results) still due:
					   2 while a PREPARE is ahead of it */
	bool			 sync;	/* last of its group: a Sync follows */
	unsigned		 cancels; /* db->cancels when sent */
	PGresult		*res;	/* its first result */
	char			*err;	/* or its first error */
	char			 sqlstate[6];	/* err's SQLSTATE, or "" */
};
TAILQ_HEAD(db_queries, db_query);

enum db_state {
	DB_STATE_IDLE,		/* no connection; waiting to (re)connect */
	DB_STATE_CONNECTING,
	DB_STATE_READY,
};

struct db {
	struct ev		*ev;
	char			*conninfo;
	PGconn			*conn;
	enum db_state		 state;
	struct ev_io		*io;
	struct ev_timer		*conn_timer;	/* connect deadline, backoff */
	struct ev_timer		*kick;		/* send from the loop */
	unsigned		 backoff_ms;
	struct db_queries	 queue;		/* not yet sent */
	struct db_queries	 sent;		/* in flight, in order */
	struct db_stmts		*stmts;		/* prepared on this conn */
	bool			 batch;		/* db_set_batch() */
	unsigned		 cancels;	/* cancel requests made */
	unsigned		 depth;		/* loop entries running */
	bool			 dying;		/* db_free() called */
	char			*channel;	/* db_listen(); NULL: none */
	db_notify_fn		*notify_fn;
	void			*notify_arg;
	bool			 was_ready;	/* connected before */
};

static void	db_connect_start(struct db *);
static void	db_listen_again(struct db *);
static void	db_send_next(struct db *);
static void	db_io_cb(int, unsigned, void *);

/* A trimmed malloc'd copy of a libpq message. */
char *
db_errdup(const char *msg)
{
	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	return str_trim(xstrdup(msg));
}

/* libpq messages span lines: log them as one. */
static void
db_log_warn(const char *what, const char *msg)
{
	char	 safe[DB_LOG_MAX];

	log_warnx("db %s: %s", what, log_safe(safe, sizeof(safe), msg,
	    strlen(msg)));
}

/* Notices ("relation already exists, skipping") go to the debug log. */
void
db_notice(void *arg, const char *msg)
{
	char	*m = db_errdup(msg);

	log_debug("db notice: %s", m);
	free(m);
}

/* Queries */

static struct db_query *
db_query_new(struct db *db, const char *sql, int nparams,
    const char *const *params, db_result_fn *cb, void *arg)
{
	struct db_query	*q = xcalloc(1, sizeof(*q));
	int		 i;

	q->db = db;
	q->sql = xstrdup(sql);
	q->nparams = nparams;
	if (nparams > 0)
		q->params = xcalloc((size_t)nparams, sizeof(char *));
	for (i = 0; i < nparams; i++)
		if (params[i] != NULL)
			q->params[i] = xstrdup(params[i]);
	q->cb = cb;
	q->arg = arg;
	return q;
}

static void
db_query_free(struct db_query *q)
{
	int	 i;

	ev_timer_del(&q->timer);
	PQclear(q->res);
	free(q->err);
	for (i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	free(q);
}

/* Free a query, then answer it if it was not answered yet. */
static void
db_query_done(struct db_query *q, PGresult *res, const char *err)
{
	db_result_fn	*cb = q->cb;
	void		*arg = q->arg;

	db_query_free(q);
	if (cb != NULL)
		cb(res, err, arg);
}

/* Answer a query with what the server said, freeing it. */
static void
db_query_answer(struct db_query *q)
{
	PGresult	*res = q->res;
	char		*err = q->err;

	q->res = NULL;
	q->err = NULL;
	if (res == NULL && err == NULL)
		err = xstrdup("no result");
	db_query_done(q, err == NULL ? res : NULL, err);
	PQclear(res);
	free(err);
}

/* Forget what a sent query got, to send it again. */
static void
db_query_unsend(struct db_query *q)
{
	PQclear(q->res);
	q->res = NULL;
	free(q->err);
	q->err = NULL;
	q->sqlstate[0] = '\0';
	q->sync = false;
	q->in_flight = false;
}

/*
 * Fail the queries in flight and every queued one.  They are moved to a
 * private list first: a callback's db_query() lands in the (now empty)
 * queue and waits for the next connection instead of failing here too.
 * Callers do nothing after this: a callback may have freed the db.
 */
static void
db_fail_all(struct db *db, const char *err)
{
	struct db_queries	 doomed;
	struct db_query		*q;

	TAILQ_INIT(&doomed);
	TAILQ_CONCAT(&doomed, &db->sent, entry);
	TAILQ_CONCAT(&doomed, &db->queue, entry);
	while ((q = TAILQ_FIRST(&doomed)) != NULL) {
		TAILQ_REMOVE(&doomed, q, entry);
		db_query_done(q, NULL, err);
	}
}

/* Loop entries: a db freed inside a callback is released on the way out. */
static void
db_enter(struct db *db)
{
	db->depth++;
}

static void
db_destroy(struct db *db)
{
	free(db->conninfo);
	free(db->channel);
	db_stmts_free(&db->stmts);
	free(db);
}

static void
db_leave(struct db *db)
{
	if (--db->depth == 0 && db->dying)
		db_destroy(db);
}

/* Connection */

static void
db_close(struct db *db)
{
	ev_io_del(&db->io);
	PQfinish(db->conn);
	db->conn = NULL;
	db->state = DB_STATE_IDLE;
	db_stmts_clear(db->stmts);
}

static void
db_schedule_reconnect(struct db *db)
{
	ev_timer_set(db->conn_timer, db->backoff_ms);
	db->backoff_ms *= 2;
	if (db->backoff_ms > DB_BACKOFF_MAX_MS)
		db->backoff_ms = DB_BACKOFF_MAX_MS;
}

static void
db_connect_failed(struct db *db, const char *why)
{
	char	*err = xasprintf("connection failed: %s", why);

	db_log_warn("connect failed", why);
	db_close(db);
	db_schedule_reconnect(db);
	db_fail_all(db, err);
	free(err);
}

static void
db_connect_failed_conn(struct db *db)
{
	char	*why = db_errdup(PQerrorMessage(db->conn));

	db_connect_failed(db, why);
	free(why);
}

static void
db_lost(struct db *db)
{
	char	*why = db_errdup(PQerrorMessage(db->conn));

	db_log_warn("connection lost", why);
	free(why);
	db_close(db);
	db_schedule_reconnect(db);
	db_fail_all(db, "connection lost");
}

/*
 * While connecting, libpq may close its socket and open another (next
 * host, SSL retry), possibly under the same number, which epoll would have
 * forgotten: register afresh at every step.
 */
static int
db_watch(struct db *db, unsigned events)
{
	int	 fd = PQsocket(db->conn);

	ev_io_del(&db->io);
	if (fd < 0)
		return -1;
	db->io = ev_io_add(db->ev, fd, events, db_io_cb, db);
	return db->io == NULL ? -1 : 0;
}

static void
db_connect_start(struct db *db)
{
	db->conn = PQconnectStart(db->conninfo);
	if (db->conn == NULL)
		fatalx("db: out of memory");
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	db->state = DB_STATE_CONNECTING;
	ev_timer_set(db->conn_timer, DB_CONNECT_TIMEOUT_MS);
	/* Before the first PQconnectPoll() the socket is awaited writable. */
	if (PQstatus(db->conn) == CONNECTION_BAD ||
	    db_watch(db, EV_WRITE) == -1)
		db_connect_failed_conn(db);
}

static void
db_ready(struct db *db)
{
	if (PQsetnonblocking(db->conn, 1) == -1 ||
	    PQenterPipelineMode(db->conn) != 1) {
		db_connect_failed_conn(db);
		return;
	}
	ev_timer_stop(db->conn_timer);
	ev_io_set(db->io, EV_READ);
	db->state = DB_STATE_READY;
	db->backoff_ms = DB_BACKOFF_MIN_MS;
	log_debug("db connected");
	db_listen_again(db);
	db_send_next(db);
}

static void
db_connect_poll(struct db *db)
{
	PostgresPollingStatusType	 st;

	st = PQconnectPoll(db->conn);
	if (st == PGRES_POLLING_OK)
		db_ready(db);
	else if (st == PGRES_POLLING_FAILED || db_watch(db,
	    st == PGRES_POLLING_READING ? EV_READ : EV_WRITE) == -1)
		db_connect_failed_conn(db);
}

static void
db_conn_timer_cb(void *arg)
{
	struct db	*db = arg;

	db_enter(db);
	if (db->state == DB_STATE_IDLE)
		db_connect_start(db);
	else if (db->state == DB_STATE_CONNECTING)
		db_connect_failed(db, "timed out");
	db_leave(db);
}

/* Results */

/* Wait for writability only while libpq has output it could not send. */
static void
db_flush(struct db *db)
{
	int	 r;

	if ((r = PQflush(db->conn)) == -1) {
		db_lost(db);
		return;
	}
	ev_io_set(db->io, r == 1 ? EV_READ | EV_WRITE : EV_READ);
}

/*
 * Send one query: text parameters, text results; prepared first when its
 * text comes a second time.  The statement is entered at once, so that a
 * same text later in this pipeline runs it by name too.
 */
static int
db_send_query(struct db *db, struct db_query *q)
{
	const char *const	*params = (const char *const *)q->params;

	q->act = q->alone ? DB_STMT_PLAIN : db_stmts_lookup(db->stmts, q->sql,
	    q->stmt);
	q->ends = 1;
	q->cancels = db->cancels;
	if (q->act == DB_STMT_PREPARE) {
		if (PQsendPrepare(db->conn, q->stmt, q->sql, q->nparams,
		    NULL) == 0)
			return -1;
		db_stmts_add(db->stmts, q->sql, q->stmt);
		q->ends = 2;
	}
	if (q->act == DB_STMT_PLAIN)
		return PQsendQueryParams(db->conn, q->sql, q->nparams, NULL,
		    params, NULL, NULL, 0) == 0 ? -1 : 0;
	return PQsendQueryPrepared(db->conn, q->stmt, q->nparams, params,
	    NULL, NULL, 0) == 0 ? -1 : 0;
}

/*
 * Send what is queued, once every answer of the last group is in: each
 * query with its own Sync, or (batch) all up to a retry with one Sync.
 */
static void
db_send_next(struct db *db)
{
	struct db_query	*q, *last = NULL;
	unsigned	 n;

	if (db->state != DB_STATE_READY || !TAILQ_EMPTY(&db->sent))
		return;
	for (n = 0; n < DB_PIPELINE_MAX &&
	    (q = TAILQ_FIRST(&db->queue)) != NULL; n++) {
		if (q->alone && last != NULL && !last->sync)
			break;
		TAILQ_REMOVE(&db->queue, q, entry);
		TAILQ_INSERT_TAIL(&db->sent, q, entry);
		q->in_flight = true;
		last = q;
		q->sync = !db->batch || q->alone;
		if (db_send_query(db, q) == -1 ||
		    (q->sync && PQpipelineSync(db->conn) != 1)) {
			db_lost(db);
			return;
		}
	}
	if (last == NULL)
		return;
	if (!last->sync) {
		last->sync = true;
		if (PQpipelineSync(db->conn) != 1) {
			db_lost(db);
			return;
		}
	}
	db_flush(db);
}

static void
db_kick_cb(void *arg)
{
	struct db	*db = arg;

	db_enter(db);
	db_send_next(db);
	db_leave(db);
}

/* Keep the first result (or error) of a query. */
static void
db_keep(struct db *db, struct db_query *q, PGresult *res)
{
	ExecStatusType	 st = PQresultStatus(res);
	const char	*state;

	if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT ||
	    st == PGRES_COPY_BOTH) {
		log_warnx("db: COPY is not supported; dropping the connection");
		PQclear(res);
		db_lost(db);
		return;
	}
	/* A PREPARE's own result says nothing but whether it failed. */
	if ((st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) &&
	    q->res == NULL && q->ends == 1) {
		q->res = res;
		return;
	}
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK &&
	    q->err == NULL) {
		q->err = db_errdup(st == PGRES_EMPTY_QUERY ? "empty query" :
		    st == PGRES_PIPELINE_ABORTED ? "batch aborted" :
		    PQresultErrorMessage(res));
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		(void)snprintf(q->sqlstate, sizeof(q->sqlstate), "%s",
		    state != NULL ? state : "");
	}
	PQclear(res);
}

/* One of q's results has ended (libpq's NULL). */
static void
db_query_end(struct db *db, struct db_query *q)
{
	q->ends--;
	/* The PREPARE failed (the text itself is wrong): not a statement. */
	if (q->ends == 1 && q->err != NULL)
		db_stmts_remove(db->stmts, q->stmt);
}

/*
 * Did q fail because its prepared statement went stale (26000: gone after
 * a DISCARD ALL or behind a transaction-pooling proxy; 0A000: a schema
 * change altered its result type)?  Then forget the statements (after a
 * 26000, prepare no more on this connection).
 */
static bool
db_stale(struct db *db, struct db_query *q)
{
	bool	 gone = strcmp(q->sqlstate, "26000") == 0;

	if (q->err == NULL || q->act != DB_STMT_PREPARED ||
	    (!gone && strcmp(q->sqlstate, "0A000") != 0))
		return false;
	log_info("db: prepared statement %s failed (%s), running it as text",
	    q->stmt, q->sqlstate);
	db_stmts_clear(db->stmts);
	if (gone)
		db_stmts_disable(db->stmts);
	return true;
}

/*
 * Should q, answered on its own, rather run again (alone, as text)?  When
 * its prepared statement went stale, or the cancel meant for a timed-out
 * neighbour reached it (57014 while a cancel was made).  The failed
 * attempt did not change anything.
 */
static bool
db_retry(struct db *db, struct db_query *q)
{
	if (q->err == NULL || q->cb == NULL)
		return false;
	if (db_stale(db, q))
		return true;
	if (strcmp(q->sqlstate, "57014") == 0 && !q->retried &&
	    q->cancels != db->cancels) {
		q->retried = true;
		return true;
	}
	return false;
}

/* Put q back at the head of the queue, to run alone. */
static void
db_requeue(struct db *db, struct db_query *q)
{
	db_query_unsend(q);
	q->alone = true;
	TAILQ_INSERT_HEAD(&db->queue, q, entry);
}

/*
 * A group's Sync is in: its transaction is over.  If it held several
 * queries and one failed, all were rolled back: each runs again alone.
 * Otherwise each is answered (or retried, db_retry()).
 */
static void
db_group_done(struct db *db, struct db_query *last)
{
	struct db_queries	 group;
	struct db_query		*q;
	bool			 failed = false, several;

	TAILQ_INIT(&group);
	do {
		q = TAILQ_FIRST(&db->sent);
		TAILQ_REMOVE(&db->sent, q, entry);
		TAILQ_INSERT_TAIL(&group, q, entry);
		failed = failed || q->err != NULL;
	} while (q != last);
	several = TAILQ_FIRST(&group) != last;
	if (several && failed) {
		log_debug("db: a batch failed; running its queries alone");
		while ((q = TAILQ_LAST(&group, db_queries)) != NULL) {
			TAILQ_REMOVE(&group, q, entry);
			(void)db_stale(db, q);
			if (q->cb == NULL)
				db_query_free(q);
			else
				db_requeue(db, q);
		}
	}
	while ((q = TAILQ_FIRST(&group)) != NULL) {
		TAILQ_REMOVE(&group, q, entry);
		if (!db->dying && db_retry(db, q))
			db_requeue(db, q);
		else
			db_query_answer(q);
	}
}

/* The query whose results come next: the first not complete. */
static struct db_query *
db_reading(struct db *db)
{
	struct db_query	*q;

	TAILQ_FOREACH(q, &db->sent, entry)
		if (q->ends > 0 || q->sync)
			return q;
	return NULL;
}

/* A Sync's result ends q's group. */
static int
db_sync_result(struct db *db, struct db_query *q, PGresult *res)
{
	ExecStatusType	 st = PQresultStatus(res);

	PQclear(res);
	if (st != PGRES_PIPELINE_SYNC) {
		log_warnx("db: %s where a pipeline sync was due; dropping the "
		    "connection", PQresStatus(st));
		db_lost(db);
		return -1;
	}
	db_group_done(db, q);
	return 0;
}

static void
db_collect(struct db *db)
{
	struct db_query	*q;
	PGresult	*res;

	while (db->state == DB_STATE_READY && !PQisBusy(db->conn) &&
	    (q = db_reading(db)) != NULL) {
		res = PQgetResult(db->conn);
		if (q->ends > 0) {
			if (res == NULL)
				db_query_end(db, q);
			else
				db_keep(db, q, res);
		} else if (res == NULL)
			break;
		else if (db_sync_result(db, q, res) == -1)
			return;
	}
	if (db->state == DB_STATE_READY && TAILQ_EMPTY(&db->sent))
		db_send_next(db);
}

/* Notifications go to the listener; without one they are dropped. */
static void
db_drain_notifies(struct db *db)
{
	PGnotify	*n;

	while (db->state == DB_STATE_READY && !db->dying &&
	    (n = PQnotifies(db->conn)) != NULL) {
		if (db->notify_fn != NULL)
			db->notify_fn(n->relname, n->extra, db->notify_arg);
		PQfreemem(n);
	}
}

static void
db_read(struct db *db)
{
	if (PQconsumeInput(db->conn) == 0) {
		db_lost(db);
		return;
	}
	/* Notifications come between results: before and after them. */
	db_drain_notifies(db);
	db_collect(db);
	db_drain_notifies(db);
}

static void
db_io_cb(int fd, unsigned events, void *arg)
{
	struct db	*db = arg;

	db_enter(db);
	if (db->state == DB_STATE_CONNECTING)
		db_connect_poll(db);
	else if (db->state == DB_STATE_READY) {
		if (events & (EV_READ | EV_ERROR))
			db_read(db);
		/* libpq: keep flushing while output is pending. */
		if (db->state == DB_STATE_READY &&
		    (ev_io_events(db->io) & EV_WRITE))
			db_flush(db);
	}
	db_leave(db);
}

/* Timeouts */

static int
db_cancel(struct db *db)
{
	char		 errbuf[256];
	PGcancel	*c;
	int		 ok;

	if ((c = PQgetCancel(db->conn)) == NULL)
		return -1;
	db->cancels++;
	ok = PQcancel(c, errbuf, sizeof(errbuf));
	PQfreeCancel(c);
	if (!ok)
		db_log_warn("cancel failed", errbuf);
	return ok ? 0 : -1;
}

/*
 * Drop the connection under a query that could not be cancelled: the
 * others in flight fail (whether they ran is unknown), the queued ones
 * wait for the new connection.
 */
static void
db_reset(struct db *db)
{
	struct db_queries	 doomed;
	struct db_query		*q;

	TAILQ_INIT(&doomed);
	TAILQ_CONCAT(&doomed, &db->sent, entry);
	db_close(db);
	db_connect_start(db);
	while ((q = TAILQ_FIRST(&doomed)) != NULL) {
		TAILQ_REMOVE(&doomed, q, entry);
		db_query_done(q, NULL, "connection lost");
	}
}

/*
 * A query in flight timed out: answer it now and keep it in flight,
 * unanswerable, until its result arrives.  If its results are the next
 * due, the server is running it: cancel it.  (The cancel stops whatever
 * the server runs then: should that be the next query already, it runs
 * again, db_retry.)  One further back has not started: it will run, but
 * the wait for it is over.
 */
static void
db_timeout_sent(struct db *db, struct db_query *q)
{
	db_result_fn	*cb = q->cb;
	void		*arg = q->arg;

	q->cb = NULL;
	if (q == db_reading(db) && db_cancel(db) == -1)
		db_reset(db);
	if (cb != NULL)
		cb(NULL, "timeout", arg);
}

static void
db_query_timeout_cb(void *arg)
{
	struct db_query	*q = arg;
	struct db	*db = q->db;

	db_enter(db);
	if (q->in_flight)
		db_timeout_sent(db, q);
	else {
		TAILQ_REMOVE(&db->queue, q, entry);
		db_query_done(q, NULL, "timeout");
	}
	db_leave(db);
}

/* API */

struct db *
db_new(struct ev *ev, const char *conninfo)
{
	struct db	*db = xcalloc(1, sizeof(*db));

	db->ev = ev;
	db->conninfo = xstrdup(conninfo);
	TAILQ_INIT(&db->queue);
	TAILQ_INIT(&db->sent);
	db->stmts = db_stmts_new();
	db->backoff_ms = DB_BACKOFF_MIN_MS;
	db->conn_timer = ev_timer_add(ev, 0, db_conn_timer_cb, db);
	ev_timer_stop(db->conn_timer);
	db->kick = ev_timer_add(ev, 0, db_kick_cb, db);
	ev_timer_stop(db->kick);
	db_connect_start(db);
	return db;
}

static void
db_listen_result(PGresult *res, const char *err, void *arg)
{
	struct db	*db = arg;

	if (res == NULL && strcmp(err, "shutdown") != 0)
		db_log_warn("LISTEN failed", err);
	(void)db;
}

/*
 * (Re)issue LISTEN ahead of everything queued.  After a reconnect the
 * listener hears (NULL, NULL): notifications may have been missed.
 */
static void
db_listen_again(struct db *db)
{
	struct db_query	*q;
	char		*sql;

	if (db->channel == NULL) {
		db->was_ready = true;
		return;
	}
	/* The channel is an identifier checked by db_listen(): LISTEN takes
	   no parameters. */
	sql = xasprintf("LISTEN %s", db->channel);
	q = db_query_new(db, sql, 0, NULL, db_listen_result, db);
	free(sql);
	TAILQ_INSERT_HEAD(&db->queue, q, entry);
	if (db->was_ready)
		db->notify_fn(NULL, NULL, db->notify_arg);
	db->was_ready = true;
}

void
db_listen(struct db *db, const char *channel, db_notify_fn *fn, void *arg)
{
	for (const char *c = channel; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || *c == '_'))
			fatalx("db_listen: bad channel name");
	if (db->channel != NULL)
		fatalx("db_listen: one channel per connection");
	db->channel = xstrdup(channel);
	db->notify_fn = fn;
	db->notify_arg = arg;
	if (db->state == DB_STATE_READY) {
		db->was_ready = false;
		db_listen_again(db);
		db_send_next(db);
	}
}

void
db_free(struct db **dbp)
{
	struct db	*db = *dbp;

	if (db == NULL)
		return;
	*dbp = NULL;
	if (db->dying)
		return;
	db->dying = true;
	db_close(db);
	ev_timer_del(&db->conn_timer);
	ev_timer_del(&db->kick);
	db_fail_all(db, "shutdown");
	if (db->depth == 0)
		db_destroy(db);
}

bool
db_connected(const struct db *db)
{
	return db->state == DB_STATE_READY;
}

void
db_query(struct db *db, const char *sql, int nparams,
    const char *const *params, unsigned timeout_ms, db_result_fn *cb,
    void *arg)
{
	struct db_query	*q;

	if (nparams < 0 || nparams > DB_MAX_PARAMS ||
	    (nparams > 0 && params == NULL))
		fatalx("db_query: %d parameters", nparams);
	if (db->dying) {
		if (cb != NULL)
			cb(NULL, "shutdown", arg);
		return;
	}
	q = db_query_new(db, sql, nparams, params, cb, arg);
	if (timeout_ms > 0)
		q->timer = ev_timer_add(db->ev, timeout_ms,
		    db_query_timeout_cb, q);
	TAILQ_INSERT_TAIL(&db->queue, q, entry);
	if (db->state == DB_STATE_READY && TAILQ_EMPTY(&db->sent))
		ev_timer_set(db->kick, 0);
}

void
db_set_batch(struct db *db, bool on)
{
	db->batch = on;
}

/* Queries not answered yet: queued plus those in flight. */
size_t
db_queued(const struct db *db)
{
	const struct db_query	*q;
	size_t			 n = 0;

	TAILQ_FOREACH(q, &db->sent, entry)
		if (q->cb != NULL)
			n++;
	TAILQ_FOREACH(q, &db->queue, entry)
		n++;
	return n;
}
