/*
 * db — PostgreSQL through libpq, asynchronously on lib/ev (db.h).
 *
 * One struct db is one connection and a FIFO of queries, one in flight.
 * Connecting and query I/O never block: PQconnectStart/PQconnectPoll, then
 * PQsendQueryParams + PQflush on a non-blocking connection, results read
 * with PQconsumeInput/PQisBusy/PQgetResult when the socket is readable.
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
#include "ev.h"
#include "log.h"
#include "xmalloc.h"

#define DB_BACKOFF_MIN_MS	1000
#define DB_BACKOFF_MAX_MS	30000
#define DB_CONNECT_TIMEOUT_MS	10000
#define DB_MAX_PARAMS		65535	/* the wire protocol's limit */
/* pg_advisory_lock() key serialising db_migrate(): "Wharf" in ASCII. */
#define DB_MIGRATE_LOCK		"374345675366"
#define DB_LOG_MAX		512

struct db_query {
	TAILQ_ENTRY(db_query)	 entry;
	struct db		*db;
	char			*sql;
	char			**params;
	int			 nparams;
	struct ev_timer		*timer;	/* deadline; NULL: none */
	db_result_fn		*cb;	/* NULL once answered (timed out) */
	void			*arg;
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
	struct db_query		*cur;		/* in flight */
	PGresult		*res;		/* cur's result so far */
	char			*err;		/* cur's error so far */
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
static char *
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
static void
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

static void
db_cur_clear(struct db *db)
{
	db->cur = NULL;
	PQclear(db->res);
	db->res = NULL;
	free(db->err);
	db->err = NULL;
}

/*
 * Fail the query in flight and every queued one.  They are moved to a
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
	if (db->cur != NULL)
		TAILQ_INSERT_TAIL(&doomed, db->cur, entry);
	TAILQ_CONCAT(&doomed, &db->queue, entry);
	db_cur_clear(db);
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
	if (PQsetnonblocking(db->conn, 1) == -1) {
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

static void
db_send_next(struct db *db)
{
	struct db_query	*q;

	if (db->state != DB_STATE_READY || db->cur != NULL ||
	    (q = TAILQ_FIRST(&db->queue)) == NULL)
		return;
	TAILQ_REMOVE(&db->queue, q, entry);
	db->cur = q;
	/* Text parameters, text results. */
	if (PQsendQueryParams(db->conn, q->sql, q->nparams, NULL,
	    (const char *const *)q->params, NULL, NULL, 0) == 0) {
		db_lost(db);
		return;
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

/* Keep the first result (or error) of the query in flight. */
static void
db_keep(struct db *db, PGresult *res)
{
	ExecStatusType	 st = PQresultStatus(res);

	if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT ||
	    st == PGRES_COPY_BOTH) {
		log_warnx("db: COPY is not supported; dropping the connection");
		PQclear(res);
		db_lost(db);
		return;
	}
	if ((st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) &&
	    db->res == NULL) {
		db->res = res;
		return;
	}
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK &&
	    db->err == NULL)
		db->err = db_errdup(st == PGRES_EMPTY_QUERY ? "empty query" :
		    PQresultErrorMessage(res));
	PQclear(res);
}

/* The query in flight is complete: answer it, send the next. */
static void
db_finish(struct db *db)
{
	struct db_query	*q = db->cur;
	PGresult	*res = db->res;
	char		*err = db->err;

	db->cur = NULL;
	db->res = NULL;
	db->err = NULL;
	if (res == NULL && err == NULL)
		err = xstrdup("no result");
	db_query_done(q, err == NULL ? res : NULL, err);
	PQclear(res);
	free(err);
	db_send_next(db);
}

static void
db_collect(struct db *db)
{
	PGresult	*res;

	while (db->state == DB_STATE_READY && !PQisBusy(db->conn)) {
		if ((res = PQgetResult(db->conn)) != NULL)
			db_keep(db, res);
		else if (db->cur != NULL)
			db_finish(db);
		else
			break;
	}
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
	db_drain_notifies(db);
	db_collect(db);
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
	ok = PQcancel(c, errbuf, sizeof(errbuf));
	PQfreeCancel(c);
	if (!ok)
		db_log_warn("cancel failed", errbuf);
	return ok ? 0 : -1;
}

/* Drop the connection under a query that could not be cancelled. */
static void
db_reset(struct db *db)
{
	db_query_free(db->cur);
	db_cur_clear(db);
	db_close(db);
	db_connect_start(db);
}

/*
 * The query in flight timed out: answer it now, cancel it on the server
 * and keep it in flight, unanswerable, until its error result arrives.
 */
static void
db_timeout_cur(struct db *db)
{
	struct db_query	*q = db->cur;
	db_result_fn	*cb = q->cb;
	void		*arg = q->arg;

	q->cb = NULL;
	if (db_cancel(db) == -1)
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
	if (q == db->cur)
		db_timeout_cur(db);
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
	if (db->state == DB_STATE_READY && db->cur == NULL)
		ev_timer_set(db->kick, 0);
}

/* Queries not answered yet: queued plus the one in flight. */
size_t
db_queued(const struct db *db)
{
	const struct db_query	*q;
	size_t			 n = 0;

	if (db->cur != NULL && db->cur->cb != NULL)
		n++;
	TAILQ_FOREACH(q, &db->queue, entry)
		n++;
	return n;
}

/* Conninfo */

/* A libpq conninfo value: in single quotes, \ and ' backslash-escaped. */
static char *
db_quote(const char *s)
{
	char	*out = xmalloc(2 * strlen(s) + 3), *p = out;

	*p++ = '\'';
	for (; *s != '\0'; s++) {
		if (*s == '\'' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p++ = '\'';
	*p = '\0';
	return out;
}

char *
db_conninfo(const char *database, const char *run_dir, const char *role)
{
	char	*dir, *host, *user, *s;

	if (strcmp(database, "embedded") != 0)
		return xstrdup(database);
	dir = xasprintf("%s/pgsql", run_dir);
	host = db_quote(dir);
	user = db_quote(role != NULL ? role : "wharf");
	s = xasprintf("host=%s dbname='wharf' user=%s", host, user);
	free(user);
	free(host);
	free(dir);
	return s;
}

/* Synchronous */

PGconn *
db_connect_sync(const char *conninfo, char **err_r)
{
	PGconn	*conn;

	if ((conn = PQconnectdb(conninfo)) == NULL)
		fatalx("db: out of memory");
	if (PQstatus(conn) != CONNECTION_OK) {
		*err_r = db_errdup(PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, db_notice, NULL);
	return conn;
}

/* Hand over a COMMAND_OK/TUPLES_OK result (res_r may be NULL), else fail. */
static int
db_check_sync(PGconn *conn, PGresult *res, PGresult **res_r, char **err_r)
{
	ExecStatusType	 st = PQresultStatus(res);
	const char	*msg;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (res_r != NULL)
			*res_r = res;
		else
			PQclear(res);
		return 0;
	}
	msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn);
	*err_r = db_errdup(*msg != '\0' ? msg : PQresStatus(st));
	PQclear(res);
	return -1;
}

int
db_exec_sync(PGconn *conn, const char *sql, int nparams,
    const char *const *params, PGresult **res_r, char **err_r)
{
	PGresult	*res;

	if (res_r != NULL)
		*res_r = NULL;
	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	return db_check_sync(conn, res, res_r, err_r);
}

/* Migrations */

static int
db_migration_cmp(const void *a, const void *b)
{
	const struct db_migration *const	*x = a, *const *y = b;

	return ((*x)->version > (*y)->version) -
	    ((*x)->version < (*y)->version);
}

/* Pointers to the migrations in version order; NULL on a bad array. */
static const struct db_migration **
db_migrations_sort(const struct db_migration *m, size_t n, char **err_r)
{
	const struct db_migration	**v = xcalloc(n + 1, sizeof(*v));
	size_t				  i;

	for (i = 0; i < n; i++)
		v[i] = &m[i];
	qsort(v, n, sizeof(*v), db_migration_cmp);
	for (i = 0; i < n; i++) {
		if (v[i]->version < 1 || v[i]->name == NULL ||
		    v[i]->sql == NULL) {
			*err_r = xasprintf("migration %d: invalid",
			    v[i]->version);
			break;
		}
		if (i > 0 && v[i]->version == v[i - 1]->version) {
			*err_r = xasprintf("duplicate migration version %d "
			    "(%s, %s)", v[i]->version, v[i - 1]->name,
			    v[i]->name);
			break;
		}
	}
	if (i == n)
		return v;
	free(v);
	return NULL;
}

static int
db_migration_applied(PGconn *conn, int version, bool *applied_r,
    char **err_r)
{
	char		 ver[16];
	const char	*params[1] = { ver };
	PGresult	*res;

	(void)snprintf(ver, sizeof(ver), "%d", version);
	if (db_exec_sync(conn, "SELECT 1 FROM schema_version "
	    "WHERE version = $1", 1, params, &res, err_r) == -1)
		return -1;
	*applied_r = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

/*
 * A migration body is trusted SQL embedded at build time, several
 * statements and no parameters: the one place that uses PQexec (the
 * simple query protocol runs several statements; PQexecParams only one).
 * It must not end the transaction it runs in.
 */
static int
db_exec_body(PGconn *conn, const char *sql, char **err_r)
{
	PGresult	*res = PQexec(conn, sql);

	if (PQresultStatus(res) == PGRES_EMPTY_QUERY) {
		PQclear(res);
		return 0;
	}
	if (db_check_sync(conn, res, NULL, err_r) == -1)
		return -1;
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
		*err_r = xstrdup("migration ended its transaction");
		return -1;
	}
	return 0;
}

static int
db_migrate_one(PGconn *conn, const struct db_migration *m, char **err_r)
{
	char		 ver[16], *err = NULL;
	const char	*params[2] = { ver, m->name };

	(void)snprintf(ver, sizeof(ver), "%d", m->version);
	if (db_exec_sync(conn, "BEGIN", 0, NULL, NULL, &err) == -1 ||
	    db_exec_body(conn, m->sql, &err) == -1 ||
	    db_exec_sync(conn, "INSERT INTO schema_version (version, name) "
	    "VALUES ($1, $2)", 2, params, NULL, &err) == -1 ||
	    db_exec_sync(conn, "COMMIT", 0, NULL, NULL, &err) == -1) {
		PQclear(PQexec(conn, "ROLLBACK"));
		*err_r = xasprintf("%s: %s", m->name, err);
		free(err);
		return -1;
	}
	log_info("db migration applied name=%s", m->name);
	return 0;
}

static int
db_migrate_locked(PGconn *conn, const struct db_migration **v, size_t n,
    char **err_r)
{
	size_t	 i;
	int	 applied = 0;
	bool	 done;

	if (db_exec_sync(conn, "CREATE TABLE IF NOT EXISTS schema_version ("
	    "version int PRIMARY KEY, name text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())",
	    0, NULL, NULL, err_r) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (db_migration_applied(conn, v[i]->version, &done,
		    err_r) == -1)
			return -1;
		if (done)
			continue;
		if (db_migrate_one(conn, v[i], err_r) == -1)
			return -1;
		applied++;
	}
	return applied;
}

int
db_migrate(PGconn *conn, const struct db_migration *m, size_t n,
    char **err_r)
{
	const struct db_migration	**v;
	char				 *err = NULL;
	int				  applied;

	if ((v = db_migrations_sort(m, n, err_r)) == NULL)
		return -1;
	if (db_exec_sync(conn, "SELECT pg_advisory_lock(" DB_MIGRATE_LOCK ")",
	    0, NULL, NULL, err_r) == -1) {
		free(v);
		return -1;
	}
	applied = db_migrate_locked(conn, v, n, err_r);
	if (db_exec_sync(conn, "SELECT pg_advisory_unlock("
	    DB_MIGRATE_LOCK ")", 0, NULL, NULL, &err) == -1) {
		if (applied != -1) {
			*err_r = err;
			err = NULL;
			applied = -1;
		}
		free(err);
	}
	free(v);
	return applied;
}
