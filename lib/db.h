/*
 * db — PostgreSQL through libpq, asynchronously on lib/ev, parameters only.
 *
 * struct db is one connection: connecting with PQconnectStart/Poll, queries
 * queued and sent in pipeline mode, parameters apart from the text (never
 * string-built SQL), a text used twice prepared, results delivered to
 * callbacks in the order queued (but for a query run again: after its
 * prepared statement went stale, a stray cancel, or a failed batch).  A lost connection fails the query
 * in flight and those queued (their callbacks see a NULL result), then
 * reconnects with backoff (1 s doubling to 30 s).
 *
 * The synchronous helpers are for startup (migrations) and the admin
 * command, where blocking is fine.
 */
#ifndef WHARF_DB_H
#define WHARF_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

struct ev;
struct db;

/*
 * res: the PGresult of the query (owned by db, valid during the call) or
 * NULL with err set (connection lost, server error text, timeout).  A
 * server-side error (PGRES_FATAL_ERROR) is reported as res == NULL with
 * err = the server's message.  Other err values: "timeout", "connection
 * lost", "connection failed: ...", "shutdown" (db_free).  Each query's
 * callback runs exactly once, from the loop or from db_free(), never from
 * inside db_query() (except "shutdown" on a db being freed).  It may call
 * db_query() and db_free().
 */
typedef void db_result_fn(PGresult *res, const char *err, void *arg);

struct db *db_new(struct ev *, const char *conninfo);
void	db_free(struct db **);	/* pending callbacks are called with NULL */
bool	db_connected(const struct db *);
/* Queue a query; params are copied.  Per-query timeout in ms (0: none). */
void	db_query(struct db *, const char *sql, int nparams,
	    const char *const *params, unsigned timeout_ms,
	    db_result_fn *, void *arg);
size_t	db_queued(const struct db *);
/*
 * Batch mode: the queries queued while the last group was in flight run
 * as one transaction, one commit for all (a group commit); if any fails,
 * each runs again on its own, so every caller gets the answer its query
 * alone would get.  For a daemon whose statements are independent single
 * statements touching rows in no particular order of locking (qmgr); not
 * for one whose concurrent transactions could deadlock when grouped.
 */
void	db_set_batch(struct db *, bool);

/*
 * LISTEN on channel (lower-case letters and '_': it is written into the
 * statement) now and after every reconnect; fn gets each notification
 * (channel, payload) from the loop.  After a reconnect fn is called once
 * with (NULL, NULL): notifications sent meanwhile were lost, so re-read
 * the state.  One channel per connection.
 */
typedef void db_notify_fn(const char *channel, const char *payload,
	    void *arg);
void	db_listen(struct db *, const char *channel, db_notify_fn *, void *arg);

/*
 * The libpq conninfo for the main.conf `database` value and a role (NULL:
 * the owner role "wharf"): "embedded" -> host=<run_dir>/pgsql dbname=wharf
 * user=<role>, values quoted as libpq wants; anything else is returned as
 * given (a conninfo string or URI).  Malloc'd.
 */
char	*db_conninfo(const char *database, const char *run_dir,
	    const char *role);

/* Blocking. */
PGconn	*db_connect_sync(const char *conninfo, char **err_r);
/*
 * PQexecParams; 0 with *res_r (caller PQclear; res_r may be NULL) or -1
 * with *err_r.
 */
int	db_exec_sync(PGconn *, const char *sql, int nparams,
	    const char *const *params, PGresult **res_r, char **err_r);

/* Migrations: sql/NNN_name.sql, embedded at build (tools/embed-sql.sh). */
struct db_migration {
	int		 version;
	const char	*name;
	const char	*sql;
};
extern const struct db_migration db_migrations[];
extern const size_t db_migrations_count;

/*
 * Apply, in version order, every migration whose version is not yet in
 * schema_version(version, name, applied_at) — each in its own transaction
 * together with its schema_version row.  Serialised across concurrent
 * callers with an advisory lock.  Returns the number applied or -1.
 */
int	db_migrate(PGconn *, const struct db_migration *, size_t n,
	    char **err_r);

#endif
