/*
 * db_sync.c — the blocking side of lib/db (db.h): the conninfo of the
 * main.conf `database` value, connecting and executing synchronously, and
 * migrations.  For startup and the admin command, where blocking is fine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "buf.h"
#include "db.h"
#include "db_private.h"
#include "log.h"
#include "xmalloc.h"

/* pg_advisory_lock() key serialising db_migrate(): "Wharf" in ASCII. */
#define DB_MIGRATE_LOCK		"374345675366"

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
