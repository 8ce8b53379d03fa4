/*
 * Unit tests for lib/db.c against a real PostgreSQL: the throwaway cluster
 * of tools/test-pg.sh, whose socket directory tools/run-unit.sh exports in
 * WHARF_TEST_PGHOST.  Migration tests each get a database of their own
 * (wharf_test_<pid>_<n>), dropped afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "db.h"
#include "ev.h"
#include "log.h"
#include "xmalloc.h"

static const char	*pghost;
static char		*main_conninfo;		/* dbname=wharf */
static unsigned		 db_seq;
static int		 answered;		/* callbacks run, all tests */
static int		 notifies_seen;
static bool		 in_db_query;		/* a callback must not run */

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *
conninfo_for(const char *dbname)
{
	return xasprintf("host='%s' dbname='%s' user='wharf'", pghost,
	    dbname);
}

static void
log_hook(enum log_level level, const char *msg, void *arg)
{
	if (strstr(msg, "db notify channel=wharf_test") != NULL)
		notifies_seen++;
}

/* Helpers: synchronous */

static PGconn *
connect_ok(const char *conninfo)
{
	char	*err = NULL;
	PGconn	*conn = db_connect_sync(conninfo, &err);

	if (conn == NULL)
		fail_msg("connect: %s", err);
	assert_null(err);
	return conn;
}

static void
exec_ok(PGconn *conn, const char *sql)
{
	char	*err = NULL;

	if (db_exec_sync(conn, sql, 0, NULL, NULL, &err) == -1)
		fail_msg("%s: %s", sql, err);
}

/* The first cell of a one-parameter query, malloc'd ("<null>" if NULL). */
static char *
exec_value(PGconn *conn, const char *sql, const char *param)
{
	const char	*params[1] = { param };
	PGresult	*res = NULL;
	char		*err = NULL, *v;

	if (db_exec_sync(conn, sql, param != NULL ? 1 : 0,
	    param != NULL ? params : NULL, &res, &err) == -1)
		fail_msg("%s: %s", sql, err);
	assert_int_equal(PQntuples(res), 1);
	v = xstrdup(PQgetisnull(res, 0, 0) ? "<null>" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static void
assert_value(PGconn *conn, const char *sql, const char *param,
    const char *want)
{
	char	*v = exec_value(conn, sql, param);

	assert_string_equal(v, want);
	free(v);
}

static void
exec_fails(PGconn *conn, const char *sql, const char *want_in_err)
{
	char	*err = NULL;

	assert_int_equal(db_exec_sync(conn, sql, 0, NULL, NULL, &err), -1);
	assert_non_null(err);
	if (strstr(err, want_in_err) == NULL)
		fail_msg("%s: error \"%s\" lacks \"%s\"", sql, err,
		    want_in_err);
	free(err);
}

/*
 * A fresh database.  Identifiers cannot be parameters; the name is built
 * from numbers only.
 */
static char *
fresh_db(char **name_r)
{
	PGconn	*conn = connect_ok(main_conninfo);
	char	*sql;

	*name_r = xasprintf("wharf_test_%ld_%u", (long)getpid(), ++db_seq);
	sql = xasprintf("CREATE DATABASE %s", *name_r);
	exec_ok(conn, sql);
	free(sql);
	PQfinish(conn);
	return conninfo_for(*name_r);
}

static void
drop_db(char **name, char **conninfo)
{
	PGconn	*conn = connect_ok(main_conninfo);
	char	*sql = xasprintf("DROP DATABASE %s WITH (FORCE)", *name);

	exec_ok(conn, sql);
	free(sql);
	PQfinish(conn);
	free(*name);
	free(*conninfo);
	*name = *conninfo = NULL;
}

/* Helpers: asynchronous */

struct result {
	int	 called;
	int	 order;
	bool	 ok;
	char	*value;		/* first cell of a result */
	int	 nfields;
	char	*err;
};

static void
result_clear(struct result *r)
{
	free(r->value);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static void
result_cb(PGresult *res, const char *err, void *arg)
{
	struct result	*r = arg;

	assert_false(in_db_query);
	assert_true((res == NULL) != (err == NULL));
	r->called++;
	r->order = ++answered;
	if (res != NULL) {
		r->ok = true;
		r->nfields = PQnfields(res);
		if (PQntuples(res) > 0 && PQnfields(res) > 0)
			r->value = xstrdup(PQgetvalue(res, 0, 0));
	} else
		r->err = xstrdup(err);
}

static void
query(struct db *db, const char *sql, const char *param, unsigned timeout,
    db_result_fn *cb, void *arg)
{
	const char	*params[1] = { param };

	in_db_query = true;
	db_query(db, sql, param != NULL ? 1 : 0,
	    param != NULL ? params : NULL, timeout, cb, arg);
	in_db_query = false;
}

/* Run the loop until *count reaches want or ms pass; true if reached. */
static bool
run_until(struct ev *ev, const int *count, int want, unsigned ms)
{
	uint64_t	 end = now_ms() + ms;

	while (*count < want && now_ms() < end)
		ev_run_once(ev, 20);
	return *count >= want;
}

static void
run_for(struct ev *ev, unsigned ms)
{
	int	 never = 0;

	(void)run_until(ev, &never, 1, ms);
}

static void
assert_ok(const struct result *r, const char *value)
{
	if (!r->ok)
		fail_msg("query failed: %s", r->err != NULL ? r->err : "-");
	assert_int_equal(r->called, 1);
	if (value != NULL) {
		assert_non_null(r->value);
		assert_string_equal(r->value, value);
	}
}

static void
assert_err(const struct result *r, const char *want_in_err)
{
	assert_int_equal(r->called, 1);
	assert_false(r->ok);
	assert_non_null(r->err);
	if (strstr(r->err, want_in_err) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", r->err, want_in_err);
}

/* One query, waited for. */
static void
query_wait(struct ev *ev, struct db *db, const char *sql, const char *param,
    struct result *r)
{
	query(db, sql, param, 0, result_cb, r);
	assert_true(run_until(ev, &r->called, 1, 10000));
}

/* db_conninfo */

static void
test_conninfo(void **state)
{
	static const struct {
		const char	*database, *run_dir, *role, *want;
		const char	*host, *user;	/* parsed back; NULL: skip */
	} t[] = {
		{ "embedded", "/run/wharf", NULL,
		  "host='/run/wharf/pgsql' dbname='wharf' user='wharf'",
		  "/run/wharf/pgsql", "wharf" },
		{ "embedded", "/run/wharf", "wharf-auth",
		  "host='/run/wharf/pgsql' dbname='wharf' user='wharf-auth'",
		  "/run/wharf/pgsql", "wharf-auth" },
		{ "embedded", "/tmp/it's", "o'brien",
		  "host='/tmp/it\\'s/pgsql' dbname='wharf' user='o\\'brien'",
		  "/tmp/it's/pgsql", "o'brien" },
		{ "embedded", "/tmp/back\\slash", "a\\'b",
		  "host='/tmp/back\\\\slash/pgsql' dbname='wharf' "
		  "user='a\\\\\\'b'",
		  "/tmp/back\\slash/pgsql", "a\\'b" },
		{ "embedded", "/tmp/sp ace", "x y",
		  "host='/tmp/sp ace/pgsql' dbname='wharf' user='x y'",
		  "/tmp/sp ace/pgsql", "x y" },
		{ "embedded", "", NULL,
		  "host='/pgsql' dbname='wharf' user='wharf'",
		  "/pgsql", "wharf" },
		{ "host=db.example dbname=mail user=wharf", "/run/wharf", "x",
		  "host=db.example dbname=mail user=wharf",
		  "db.example", "wharf" },
		{ "postgresql://wharf@db.example/mail", "/run/wharf", NULL,
		  "postgresql://wharf@db.example/mail", "db.example", "wharf" },
		{ "Embedded", "/run/wharf", NULL, "Embedded", NULL, NULL },
		{ "", "/run/wharf", NULL, "", NULL, NULL },
	};
	PQconninfoOption	*opts, *o;
	char			*s, *perr;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s = db_conninfo(t[i].database, t[i].run_dir, t[i].role);
		assert_string_equal(s, t[i].want);
		if (t[i].host != NULL) {
			perr = NULL;
			opts = PQconninfoParse(s, &perr);
			if (opts == NULL)
				fail_msg("%s: %s", s, perr);
			for (o = opts; o->keyword != NULL; o++) {
				if (strcmp(o->keyword, "host") == 0)
					assert_string_equal(o->val, t[i].host);
				if (strcmp(o->keyword, "user") == 0)
					assert_string_equal(o->val, t[i].user);
			}
			PQconninfoFree(opts);
		}
		free(s);
	}
}

/* Synchronous helpers */

static void
test_connect_sync(void **state)
{
	PGconn	*conn = connect_ok(main_conninfo);

	assert_value(conn, "SELECT current_user", NULL, "wharf");
	assert_value(conn, "SELECT current_database()", NULL, "wharf");
	PQfinish(conn);
}

static void
test_connect_sync_fail(void **state)
{
	static const struct {
		const char	*conninfo, *want;
	} t[] = {
		{ "host='/nonexistent/wharf' dbname='wharf'",
		  "/nonexistent/wharf" },
		{ "this is not a conninfo", "missing \"=\"" },
		{ "postgresql://%zz", "invalid percent-encoded" },
	};
	PGconn	*conn;
	char	*err;
	size_t	 i, len;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		err = NULL;
		conn = db_connect_sync(t[i].conninfo, &err);
		assert_null(conn);
		assert_non_null(err);
		if (strstr(err, t[i].want) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", t[i].conninfo, err,
			    t[i].want);
		len = strlen(err);
		assert_true(len > 0 && err[len - 1] != '\n' &&
		    err[len - 1] != ' ');
		free(err);
	}
}

static void
test_exec_sync(void **state)
{
	static const char *const values[] = {
		"plain",
		"it's",
		"'); DROP TABLE t; --",
		"back\\slash \\' and \"double\"",
		"$1 ? %s",
		"",
		"utf-8: \xc3\xa9t\xc3\xa9",
	};
	PGconn		*conn = connect_ok(main_conninfo);
	const char	*params[2];
	PGresult	*res;
	char		*err = NULL, n[16];
	size_t		 i;

	exec_ok(conn, "CREATE TEMP TABLE t (n int, v text)");
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		(void)snprintf(n, sizeof(n), "%zu", i);
		params[0] = n;
		params[1] = values[i];
		assert_int_equal(db_exec_sync(conn, "INSERT INTO t (n, v) "
		    "VALUES ($1, $2)", 2, params, NULL, &err), 0);
		assert_null(err);
	}
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		(void)snprintf(n, sizeof(n), "%zu", i);
		assert_value(conn, "SELECT v FROM t WHERE n = $1", n,
		    values[i]);
		assert_value(conn, "SELECT count(*) FROM t WHERE v = $1",
		    values[i], "1");
	}
	/* A NULL parameter is SQL NULL. */
	params[0] = NULL;
	assert_int_equal(db_exec_sync(conn, "SELECT $1::text IS NULL", 1,
	    params, &res, &err), 0);
	assert_non_null(res);
	assert_string_equal(PQgetvalue(res, 0, 0), "t");
	PQclear(res);

	/* Errors: message, no result, connection still usable. */
	res = (PGresult *)1;
	assert_int_equal(db_exec_sync(conn, "SELECT * FROM no_such_table",
	    0, NULL, &res, &err), -1);
	assert_null(res);
	assert_non_null(strstr(err, "no_such_table"));
	assert_int_not_equal(err[strlen(err) - 1], '\n');
	free(err);
	exec_fails(conn, "SELEC 1", "syntax error");
	exec_fails(conn, "SELECT 1; SELECT 2", "multiple commands");
	exec_fails(conn, "", "EMPTY_QUERY");
	exec_fails(conn, "SELECT 1/0", "division by zero");
	assert_value(conn, "SELECT count(*) FROM t", NULL, "7");
	PQfinish(conn);
}

/* Migrations */

static const struct db_migration test_migs[] = {
	{ 3, "003_c", "INSERT INTO t_a (v) VALUES ('three');\n" },
	{ 1, "001_a", "-- two tables\n"
	  "CREATE TABLE t_a (id serial, v text);\n"
	  "CREATE TABLE t_b (n int);\n" },
	{ 2, "002_b", "INSERT INTO t_b VALUES (2);\n"
	  "INSERT INTO t_a (v) VALUES ('two');\n" },
};
#define NTEST_MIGS	(sizeof(test_migs) / sizeof(test_migs[0]))

static const struct db_migration test_migs_bad[] = {
	{ 1, "001_a", "CREATE TABLE t_a (id serial, v text);\n"
	  "CREATE TABLE t_b (n int);\n" },
	{ 2, "002_b", "INSERT INTO t_b VALUES (2);\n"
	  "INSERT INTO t_a (v) VALUES ('two');\n" },
	{ 3, "003_c", "INSERT INTO t_a (v) VALUES ('three');\n" },
	{ 4, "004_d", "CREATE TABLE t_d (x int);\n" },
	{ 6, "006_after", "CREATE TABLE t_f (x int);\n" },
	{ 5, "005_bad", "CREATE TABLE t_e (x int);\n"
	  "INSERT INTO t_b VALUES (5);\n"
	  "SELECT no_such_function();\n" },
};

static void
assert_versions(PGconn *conn, const char *want)
{
	assert_value(conn, "SELECT string_agg(version || ':' || name, ',' "
	    "ORDER BY version) FROM schema_version", NULL, want);
}

static void
test_migrate(void **state)
{
	char	*name, *ci = fresh_db(&name), *err = NULL;
	PGconn	*conn = connect_ok(ci), *other;

	assert_int_equal(db_migrate(conn, test_migs, NTEST_MIGS, &err), 3);
	assert_null(err);
	assert_versions(conn, "1:001_a,2:002_b,3:003_c");
	assert_value(conn, "SELECT string_agg(v, ',' ORDER BY id) FROM t_a",
	    NULL, "two,three");
	assert_value(conn, "SELECT count(*) FROM schema_version "
	    "WHERE applied_at <= now()", NULL, "3");
	/* Again: nothing to do. */
	assert_int_equal(db_migrate(conn, test_migs, NTEST_MIGS, &err), 0);
	assert_int_equal(db_migrate(conn, test_migs, 1, &err), 0);
	assert_null(err);
	assert_value(conn, "SELECT count(*) FROM t_a", NULL, "2");
	/* The advisory lock was released. */
	assert_value(conn, "SELECT count(*) FROM pg_locks "
	    "WHERE locktype = 'advisory'", NULL, "0");

	/* Another holder of the lock makes db_migrate() wait. */
	other = connect_ok(ci);
	exec_ok(other, "SELECT pg_advisory_lock(374345675366)");
	exec_ok(conn, "SET statement_timeout = 300");
	assert_int_equal(db_migrate(conn, test_migs, NTEST_MIGS, &err), -1);
	assert_non_null(strstr(err, "statement timeout"));
	free(err);
	err = NULL;
	exec_ok(other, "SELECT pg_advisory_unlock(374345675366)");
	assert_int_equal(db_migrate(conn, test_migs, NTEST_MIGS, &err), 0);
	assert_null(err);
	PQfinish(other);
	PQfinish(conn);
	drop_db(&name, &ci);
}

static void
test_migrate_failure(void **state)
{
	char	*name, *ci = fresh_db(&name), *err = NULL;
	PGconn	*conn = connect_ok(ci);

	assert_int_equal(db_migrate(conn, test_migs_bad,
	    sizeof(test_migs_bad) / sizeof(test_migs_bad[0]), &err), -1);
	assert_non_null(err);
	if (strncmp(err, "005_bad: ", 9) != 0 ||
	    strstr(err, "no_such_function") == NULL)
		fail_msg("error: %s", err);
	free(err);
	err = NULL;
	/* 1-4 kept, 5 rolled back entirely, 6 not tried. */
	assert_versions(conn, "1:001_a,2:002_b,3:003_c,4:004_d");
	assert_value(conn, "SELECT to_regclass('t_d') IS NOT NULL", NULL,
	    "t");
	assert_value(conn, "SELECT to_regclass('t_e') IS NULL", NULL, "t");
	assert_value(conn, "SELECT to_regclass('t_f') IS NULL", NULL, "t");
	assert_value(conn, "SELECT string_agg(n::text, ',') FROM t_b", NULL,
	    "2");
	assert_value(conn, "SELECT count(*) FROM pg_locks "
	    "WHERE locktype = 'advisory'", NULL, "0");
	/* The connection is usable and not left in a transaction. */
	assert_int_equal(PQtransactionStatus(conn), PQTRANS_IDLE);
	/* The first four again: nothing to do. */
	assert_int_equal(db_migrate(conn, test_migs_bad, 4, &err), 0);
	PQfinish(conn);
	drop_db(&name, &ci);
}

static void
test_migrate_invalid(void **state)
{
	static const struct db_migration dup[] = {
		{ 1, "001_a", "CREATE TABLE t_a (x int);" },
		{ 2, "002_b", "CREATE TABLE t_b (x int);" },
		{ 1, "001_again", "CREATE TABLE t_c (x int);" },
	};
	static const struct db_migration zero[] = {
		{ 0, "000_zero", "CREATE TABLE t_z (x int);" },
	};
	static const struct db_migration commits[] = {
		{ 1, "001_commits", "CREATE TABLE t_g (x int); COMMIT;" },
	};
	static const struct db_migration empty[] = {
		{ 1, "001_empty", "-- nothing yet\n" },
	};
	char	*name, *ci = fresh_db(&name), *err = NULL;
	PGconn	*conn = connect_ok(ci);

	assert_int_equal(db_migrate(conn, dup, 3, &err), -1);
	assert_non_null(strstr(err, "duplicate migration version 1"));
	free(err);
	err = NULL;
	assert_int_equal(db_migrate(conn, zero, 1, &err), -1);
	assert_non_null(strstr(err, "invalid"));
	free(err);
	err = NULL;
	/* Rejected before touching the database. */
	assert_value(conn, "SELECT to_regclass('schema_version') IS NULL",
	    NULL, "t");
	assert_value(conn, "SELECT to_regclass('t_a') IS NULL", NULL, "t");

	/* A migration may not end its own transaction. */
	assert_int_equal(db_migrate(conn, commits, 1, &err), -1);
	assert_non_null(strstr(err, "001_commits: migration ended"));
	free(err);
	err = NULL;
	assert_value(conn, "SELECT count(*) FROM schema_version", NULL, "0");

	/* None, then one that is only a comment. */
	assert_int_equal(db_migrate(conn, NULL, 0, &err), 0);
	assert_int_equal(db_migrate(conn, empty, 1, &err), 1);
	assert_null(err);
	assert_versions(conn, "1:001_empty");
	PQfinish(conn);
	drop_db(&name, &ci);
}

/* The schema in sql/: applies, and its constraints hold. */
static void
check_schema(PGconn *conn)
{
	exec_ok(conn, "INSERT INTO domains (name) VALUES ('example.com')");
	exec_fails(conn, "INSERT INTO domains (name) VALUES ('Example.ORG')",
	    "domains_name_check");
	exec_fails(conn, "INSERT INTO domains (name) VALUES ('example.com')",
	    "domains_name_key");
	exec_ok(conn, "INSERT INTO users (domain_id, localpart, "
	    "password_hash) SELECT id, 'alice', '$argon2id$x' FROM domains");
	exec_fails(conn, "INSERT INTO users (domain_id, localpart) "
	    "SELECT id, 'alice' FROM domains", "users_domain_id_localpart_key");
	exec_ok(conn, "INSERT INTO aliases (domain_id, localpart, target) "
	    "SELECT id, '', 'alice@example.com' FROM domains");
	exec_ok(conn, "INSERT INTO mailboxes (user_id, name, uidvalidity, "
	    "special_use) SELECT id, 'Sent', 1700000000, '\\Sent' FROM users");
	exec_fails(conn, "INSERT INTO mailboxes (user_id, name, uidvalidity, "
	    "special_use) SELECT id, 'X', 1, '\\Bogus' FROM users",
	    "mailboxes_special_use_check");
	exec_fails(conn, "INSERT INTO mailboxes (user_id, name, uidvalidity) "
	    "SELECT id, 'a//b', 1 FROM users", "mailboxes_name_check");
	exec_ok(conn, "INSERT INTO blobs (name, size, refcount) "
	    "VALUES ('0123456789abcdef', 100, 2)");
	exec_ok(conn, "INSERT INTO messages (mailbox_id, uid, modseq, size, "
	    "blob_id, flags, keywords) SELECT m.id, 1, 2, 120, b.id, 1, "
	    "'{$Forwarded}' FROM mailboxes m, blobs b");
	exec_fails(conn, "INSERT INTO messages (mailbox_id, uid, modseq, "
	    "size, blob_id) SELECT m.id, 1, 3, 120, b.id "
	    "FROM mailboxes m, blobs b", "messages_mailbox_id_uid_key");
	exec_ok(conn, "INSERT INTO queue (queue_id, blob_id, sender, size) "
	    "SELECT 'Q1', id, '', 100 FROM blobs");
	exec_ok(conn, "INSERT INTO queue_recipients (queue, rcpt, address, "
	    "notify) SELECT id, 'bob@example.net', 'bob@example.net', "
	    "'SUCCESS,FAILURE' FROM queue");
	exec_fails(conn, "INSERT INTO queue_recipients (queue, rcpt, address, "
	    "status) SELECT id, 'x@example.net', 'x@example.net', 'lost' "
	    "FROM queue", "queue_recipients_status_check");
	exec_fails(conn, "INSERT INTO queue_recipients (queue, rcpt, address, "
	    "notify) SELECT id, 'x@example.net', 'x@example.net', 'SOMETIMES' "
	    "FROM queue", "queue_recipients_notify_check");
	exec_fails(conn, "INSERT INTO queue_recipients (queue, rcpt, address, "
	    "transport) SELECT id, 'x@example.net', 'x@example.net', 'uucp' "
	    "FROM queue", "queue_recipients_transport_check");
	exec_ok(conn, "INSERT INTO queue_recipients (queue, rcpt, address, "
	    "notify) SELECT id, 'y@example.net', 'y@example.net', 'NEVER' "
	    "FROM queue");
	exec_ok(conn, "INSERT INTO audit_log (service, account, client_ip, "
	    "result) VALUES ('imapd', 'alice@example.com', '192.0.2.1', "
	    "'ok')");
	/* Cascades: a user's mailboxes and messages; a queue's recipients. */
	exec_ok(conn, "DELETE FROM queue");
	assert_value(conn, "SELECT count(*) FROM queue_recipients", NULL, "0");
	exec_ok(conn, "DELETE FROM users");
	assert_value(conn, "SELECT count(*) FROM messages", NULL, "0");
}

static void
test_migrate_embedded(void **state)
{
	char	*name, *ci = fresh_db(&name), *err = NULL, count[16];
	PGconn	*conn = connect_ok(ci);

	assert_true(db_migrations_count >= 1);
	assert_int_equal(db_migrations[0].version, 1);
	assert_string_equal(db_migrations[0].name, "001_initial");
	if (db_migrate(conn, db_migrations, db_migrations_count, &err) !=
	    (int)db_migrations_count)
		fail_msg("embedded migrations: %s", err ? err : "count");
	assert_int_equal(db_migrate(conn, db_migrations, db_migrations_count,
	    &err), 0);
	assert_null(err);
	(void)snprintf(count, sizeof(count), "%zu", db_migrations_count);
	assert_value(conn, "SELECT count(*) FROM schema_version", NULL,
	    count);
	check_schema(conn);
	PQfinish(conn);
	drop_db(&name, &ci);
}

/* Asynchronous */

static void
test_async_order(void **state)
{
	struct ev	*ev = ev_new();
	struct db	*db = db_new(ev, main_conninfo);
	struct result	 r[5];
	char		 v[16], want[16];
	int		 i, base = answered;

	memset(r, 0, sizeof(r));
	/* Queued before the connection is up; params reuse one buffer. */
	for (i = 0; i < 5; i++) {
		(void)snprintf(v, sizeof(v), "%d", i);
		query(db, "SELECT $1::int * 10", v, 0, result_cb, &r[i]);
	}
	assert_int_equal(db_queued(db), 5);
	assert_true(run_until(ev, &r[4].called, 1, 10000));
	assert_true(db_connected(db));
	assert_int_equal(db_queued(db), 0);
	for (i = 0; i < 5; i++) {
		(void)snprintf(want, sizeof(want), "%d", i * 10);
		assert_ok(&r[i], want);
		assert_int_equal(r[i].order, base + i + 1);
		result_clear(&r[i]);
	}
	/* Statements without rows, and several rows. */
	query_wait(ev, db, "SET application_name = 'test_db'", NULL, &r[0]);
	assert_ok(&r[0], NULL);
	query_wait(ev, db, "SELECT generate_series(7, 9)", NULL, &r[1]);
	assert_ok(&r[1], "7");
	result_clear(&r[0]);
	result_clear(&r[1]);
	db_free(&db);
	assert_null(db);
	ev_free(&ev);
}

static void
test_async_error(void **state)
{
	struct ev	*ev = ev_new();
	struct db	*db = db_new(ev, main_conninfo);
	struct result	 r[4];

	memset(r, 0, sizeof(r));
	query(db, "SELECT 1/0", NULL, 0, result_cb, &r[0]);
	query(db, "SELEC 1", NULL, 0, result_cb, &r[1]);
	query(db, "", NULL, 0, result_cb, &r[2]);
	query(db, "SELECT 'still fine'", NULL, 0, result_cb, &r[3]);
	assert_true(run_until(ev, &r[3].called, 1, 10000));
	assert_err(&r[0], "division by zero");
	assert_int_not_equal(r[0].err[strlen(r[0].err) - 1], '\n');
	assert_err(&r[1], "syntax error");
	assert_err(&r[2], "empty query");
	assert_ok(&r[3], "still fine");
	for (int i = 0; i < 4; i++)
		result_clear(&r[i]);
	db_free(&db);
	ev_free(&ev);
}

struct chain {
	struct db	*db;
	struct result	 first, second;
};

static void
chain_cb(PGresult *res, const char *err, void *arg)
{
	struct chain	*c = arg;

	result_cb(res, err, &c->first);
	assert_non_null(res);
	query(c->db, "SELECT $1 || ' and then'", PQgetvalue(res, 0, 0), 0,
	    result_cb, &c->second);
}

static void
test_async_from_callback(void **state)
{
	struct ev	*ev = ev_new();
	struct chain	 c;
	struct result	 last;

	memset(&c, 0, sizeof(c));
	memset(&last, 0, sizeof(last));
	c.db = db_new(ev, main_conninfo);
	query(c.db, "SELECT 'first'", NULL, 0, chain_cb, &c);
	/* Queued behind the first; the callback's query comes after it. */
	query(c.db, "SELECT 'queued'", NULL, 0, result_cb, &last);
	assert_true(run_until(ev, &c.second.called, 1, 10000));
	assert_ok(&c.first, "first");
	assert_ok(&last, "queued");
	assert_ok(&c.second, "first and then");
	assert_true(last.order < c.second.order);
	result_clear(&c.first);
	result_clear(&c.second);
	result_clear(&last);
	db_free(&c.db);
	ev_free(&ev);
}

static void
test_async_timeout(void **state)
{
	struct ev	*ev = ev_new();
	struct db	*db = db_new(ev, main_conninfo);
	struct result	 sleep, queued, after, later;
	uint64_t	 start;

	memset(&sleep, 0, sizeof(sleep));
	memset(&queued, 0, sizeof(queued));
	memset(&after, 0, sizeof(after));
	memset(&later, 0, sizeof(later));
	query_wait(ev, db, "SELECT 1", NULL, &later);
	result_clear(&later);
	start = now_ms();
	query(db, "SELECT pg_sleep(5)", NULL, 200, result_cb, &sleep);
	/* Times out while still queued behind the sleep. */
	query(db, "SELECT 'queued'", NULL, 100, result_cb, &queued);
	query(db, "SELECT 'after'", NULL, 0, result_cb, &after);
	assert_true(run_until(ev, &after.called, 1, 4000));
	assert_true(now_ms() - start < 3000);
	assert_err(&queued, "timeout");
	assert_string_equal(queued.err, "timeout");
	assert_err(&sleep, "timeout");
	assert_string_equal(sleep.err, "timeout");
	assert_true(queued.order < sleep.order);
	assert_ok(&after, "after");
	/* The cancelled query's late error is not delivered again. */
	run_for(ev, 200);
	assert_int_equal(sleep.called, 1);
	query_wait(ev, db, "SELECT 'later'", NULL, &later);
	assert_ok(&later, "later");
	assert_true(db_connected(db));
	result_clear(&sleep);
	result_clear(&queued);
	result_clear(&after);
	result_clear(&later);
	db_free(&db);
	ev_free(&ev);
}

/* A query's answer checked, then cleared. */
static void
query_is(struct ev *ev, struct db *db, const char *sql, const char *param,
    const char *want)
{
	struct result	 r;

	memset(&r, 0, sizeof(r));
	query_wait(ev, db, sql, param, &r);
	assert_ok(&r, want);
	result_clear(&r);
}

static void
query_fails(struct ev *ev, struct db *db, const char *sql, const char *param,
    const char *want_in_err)
{
	struct result	 r;

	memset(&r, 0, sizeof(r));
	query_wait(ev, db, sql, param, &r);
	assert_err(&r, want_in_err);
	result_clear(&r);
}

/* The connection's prepared statements whose text has the marker. */
#define PREPARED_COUNT	"SELECT count(*) FROM pg_prepared_statements " \
	"WHERE statement LIKE '%' || $1 || '%'"

static void
test_async_prepared(void **state)
{
	struct ev	*ev = ev_new();
	struct db	*db = db_new(ev, main_conninfo);
	const char	*sql = "SELECT 10 / $1::int AS prep_marker";
	struct result	 r;

	memset(&r, 0, sizeof(r));
	/* Sent as text once, prepared at its second use, then by name. */
	query_is(ev, db, sql, "1", "10");
	query_is(ev, db, PREPARED_COUNT, "prep_marker", "0");
	query_is(ev, db, sql, "2", "5");
	query_is(ev, db, PREPARED_COUNT, "prep_marker", "1");
	query_is(ev, db, sql, "5", "2");
	query_is(ev, db, PREPARED_COUNT, "prep_marker", "1");
	/* An error from a prepared statement, then the next one works. */
	query_fails(ev, db, sql, "0", "division by zero");
	query_is(ev, db, sql, "10", "1");
	/* A text that does not parse fails alike when it is prepared. */
	query_fails(ev, db, "SELEC 2", NULL, "syntax error");
	query_fails(ev, db, "SELEC 2", NULL, "syntax error");

	/* The result type changed under a prepared statement: run again. */
	query_is(ev, db, "CREATE TEMPORARY TABLE prep_t (a int)", NULL, NULL);
	query_is(ev, db, "INSERT INTO prep_t VALUES (7)", NULL, NULL);
	query_is(ev, db, "SELECT * FROM prep_t", NULL, "7");
	query_is(ev, db, "SELECT * FROM prep_t", NULL, "7");
	query_is(ev, db, "ALTER TABLE prep_t ADD COLUMN b int", NULL, NULL);
	query_wait(ev, db, "SELECT * FROM prep_t", NULL, &r);
	assert_ok(&r, "7");
	assert_int_equal(r.nfields, 2);
	result_clear(&r);

	/* Statements dropped behind our back: answered, then no more. */
	query_is(ev, db, sql, "2", "5");
	query_is(ev, db, sql, "2", "5");
	query_is(ev, db, "DEALLOCATE ALL", NULL, NULL);
	query_is(ev, db, sql, "2", "5");
	query_is(ev, db, sql, "5", "2");
	query_is(ev, db, sql, "5", "2");
	query_is(ev, db, PREPARED_COUNT, "prep_marker", "0");
	db_free(&db);
	ev_free(&ev);
}

/* Queued together: one transaction in batch mode, one each otherwise. */
static void
test_async_batch(void **state)
{
	struct ev	*ev = ev_new();
	struct db	*db = db_new(ev, main_conninfo);
	struct result	 r[4];
	int		 i;

	memset(r, 0, sizeof(r));
	query_is(ev, db, "SELECT 1", NULL, "1");
	for (i = 0; i < 3; i++)
		query(db, "SELECT txid_current()::text", NULL, 0, result_cb,
		    &r[i]);
	assert_true(run_until(ev, &r[2].called, 1, 10000));
	assert_string_not_equal(r[0].value, r[1].value);
	assert_string_not_equal(r[1].value, r[2].value);
	for (i = 0; i < 3; i++)
		result_clear(&r[i]);

	db_set_batch(db, true);
	for (i = 0; i < 3; i++)
		query(db, "SELECT txid_current()::text", NULL, 0, result_cb,
		    &r[i]);
	assert_true(run_until(ev, &r[2].called, 1, 10000));
	assert_string_equal(r[0].value, r[1].value);
	assert_string_equal(r[1].value, r[2].value);
	for (i = 0; i < 3; i++)
		result_clear(&r[i]);

	/*
	 * One failure rolls the batch back; each runs again alone, so the
	 * others take effect exactly once and the failure is its own.
	 */
	query_is(ev, db, "CREATE TEMPORARY TABLE batch_t (a int)", NULL, NULL);
	query(db, "INSERT INTO batch_t VALUES ($1) RETURNING a", "1", 0,
	    result_cb, &r[0]);
	query(db, "SELECT 1 / $1::int", "0", 0, result_cb, &r[1]);
	query(db, "INSERT INTO batch_t VALUES ($1) RETURNING a", "2", 0,
	    result_cb, &r[2]);
	query(db, "SELECT string_agg(a::text, ',' ORDER BY a) FROM batch_t",
	    NULL, 0, result_cb, &r[3]);
	assert_true(run_until(ev, &r[3].called, 1, 10000));
	assert_ok(&r[0], "1");
	assert_err(&r[1], "division by zero");
	assert_ok(&r[2], "2");
	assert_ok(&r[3], "1,2");
	assert_true(r[0].order < r[1].order && r[1].order < r[2].order &&
	    r[2].order < r[3].order);
	for (i = 0; i < 4; i++)
		result_clear(&r[i]);
	query_is(ev, db, "SELECT count(*) FROM batch_t", NULL, "2");

	/* A statement gone stale in a batch: each runs again, as text. */
	query_is(ev, db, "SELECT $1::int + 1", "1", "2");
	query_is(ev, db, "SELECT $1::int + 1", "2", "3");
	query_is(ev, db, "DEALLOCATE ALL", NULL, NULL);
	for (i = 0; i < 3; i++)
		query(db, "SELECT $1::int + 1", "4", 0, result_cb, &r[i]);
	assert_true(run_until(ev, &r[2].called, 1, 10000));
	for (i = 0; i < 3; i++) {
		assert_ok(&r[i], "5");
		result_clear(&r[i]);
	}
	query_is(ev, db, PREPARED_COUNT, "int + 1", "0");
	db_free(&db);
	ev_free(&ev);
}

static void
terminate(const char *pid)
{
	PGconn	*conn = connect_ok(main_conninfo);

	assert_value(conn, "SELECT pg_terminate_backend($1::int)", pid, "t");
	PQfinish(conn);
}

static void
test_async_lost(void **state)
{
	struct ev	*ev = ev_new();
	struct db	*db = db_new(ev, main_conninfo);
	struct result	 pid, sleep, queued, back, pid2;

	memset(&pid, 0, sizeof(pid));
	memset(&sleep, 0, sizeof(sleep));
	memset(&queued, 0, sizeof(queued));
	memset(&back, 0, sizeof(back));
	memset(&pid2, 0, sizeof(pid2));
	query_wait(ev, db, "SELECT pg_backend_pid()", NULL, &pid);
	assert_ok(&pid, NULL);

	/* Lost with a query in flight and one queued. */
	query(db, "SELECT pg_sleep(10)", NULL, 0, result_cb, &sleep);
	query(db, "SELECT 'queued'", NULL, 0, result_cb, &queued);
	run_for(ev, 200);
	assert_int_equal(sleep.called, 0);
	terminate(pid.value);
	assert_true(run_until(ev, &queued.called, 1, 5000));
	assert_int_equal(sleep.called, 1);
	assert_false(sleep.ok);
	assert_non_null(sleep.err);
	assert_err(&queued, "connection lost");
	assert_false(db_connected(db));

	/* Reconnects (after 1 s) and serves queries again. */
	query_wait(ev, db, "SELECT 'back'", NULL, &back);
	assert_ok(&back, "back");
	assert_true(db_connected(db));

	/* Lost while idle. */
	query_wait(ev, db, "SELECT pg_backend_pid()", NULL, &pid2);
	assert_ok(&pid2, NULL);
	assert_string_not_equal(pid.value, pid2.value);
	terminate(pid2.value);
	run_for(ev, 300);
	assert_false(db_connected(db));
	result_clear(&back);
	query_wait(ev, db, "SELECT 'back again'", NULL, &back);
	assert_ok(&back, "back again");

	result_clear(&pid);
	result_clear(&sleep);
	result_clear(&queued);
	result_clear(&back);
	result_clear(&pid2);
	db_free(&db);
	ev_free(&ev);
}

static void
test_async_connect_fail(void **state)
{
	struct ev	*ev = ev_new();
	struct db	*db;
	struct result	 r, r2;
	char		*ci;

	memset(&r, 0, sizeof(r));
	memset(&r2, 0, sizeof(r2));
	db = db_new(ev, "host='/nonexistent/wharf' dbname='wharf'");
	query(db, "SELECT 1", NULL, 0, result_cb, &r);
	assert_true(run_until(ev, &r.called, 1, 5000));
	assert_err(&r, "connection failed: ");
	assert_non_null(strstr(r.err, "/nonexistent/wharf"));
	assert_false(db_connected(db));
	db_free(&db);

	/* Several hosts: the socket changes while connecting. */
	ci = xasprintf("host='/nonexistent/wharf,%s' dbname='wharf' "
	    "user='wharf'", pghost);
	db = db_new(ev, ci);
	query_wait(ev, db, "SELECT 'second host'", NULL, &r2);
	assert_ok(&r2, "second host");
	free(ci);
	result_clear(&r);
	result_clear(&r2);
	db_free(&db);
	ev_free(&ev);
}

/* What a db_listen() listener heard. */
struct heard {
	int	 n, resync;
	char	 last[64];
};

static void
heard_cb(const char *channel, const char *payload, void *arg)
{
	struct heard	*h = arg;

	if (channel == NULL) {
		h->resync++;
		return;
	}
	assert_string_equal(channel, "wharf_test");
	snprintf(h->last, sizeof(h->last), "%s", payload);
	h->n++;
}

static void
test_async_notify(void **state)
{
	struct ev	*ev = ev_new();
	struct db	*db = db_new(ev, main_conninfo);
	struct result	 r[3], pid;
	struct heard	 h = { 0, 0, "" };
	int		 i, seen = notifies_seen;

	memset(r, 0, sizeof(r));
	memset(&pid, 0, sizeof(pid));
	db_listen(db, "wharf_test", heard_cb, &h);
	query(db, "SELECT pg_notify('wharf_test', $1)", "x", 0, result_cb,
	    &r[1]);
	query(db, "NOTIFY wharf_test, 'y'", NULL, 0, result_cb, &r[2]);
	assert_true(run_until(ev, &r[2].called, 1, 10000));
	for (i = 1; i < 3; i++) {
		assert_ok(&r[i], NULL);
		result_clear(&r[i]);
	}
	assert_true(run_until(ev, &h.n, 2, 10000));
	assert_string_equal(h.last, "y");
	assert_int_equal(h.resync, 0);
	assert_int_equal(notifies_seen, seen);	/* not logged, delivered */
	/* After a lost connection: LISTEN again, and one resync call. */
	query_wait(ev, db, "SELECT pg_backend_pid()::text", NULL, &pid);
	terminate(pid.value);
	memset(r, 0, sizeof(r));
	assert_true(run_until(ev, &h.resync, 1, 20000));
	query(db, "NOTIFY wharf_test, 'z'", NULL, 0, result_cb, &r[0]);
	assert_true(run_until(ev, &h.n, 3, 10000));
	assert_string_equal(h.last, "z");
	assert_true(run_until(ev, &r[0].called, 1, 10000));
	result_clear(&r[0]);
	result_clear(&pid);
	db_free(&db);
	ev_free(&ev);
}

static void
test_free_pending(void **state)
{
	struct ev	*ev = ev_new();
	struct db	*db = db_new(ev, main_conninfo);
	struct result	 r[3];
	uint64_t	 start;
	int		 i;

	/* Before the connection is up. */
	memset(r, 0, sizeof(r));
	for (i = 0; i < 3; i++)
		query(db, "SELECT 1", NULL, i * 100, result_cb, &r[i]);
	db_free(&db);
	assert_null(db);
	for (i = 0; i < 3; i++) {
		assert_err(&r[i], "shutdown");
		result_clear(&r[i]);
	}
	run_for(ev, 300);	/* no timer of theirs fires */

	/* One in flight, two queued. */
	db = db_new(ev, main_conninfo);
	query_wait(ev, db, "SELECT 1", NULL, &r[0]);
	result_clear(&r[0]);
	query(db, "SELECT pg_sleep(5)", NULL, 0, result_cb, &r[0]);
	query(db, "SELECT 2", NULL, 1000, result_cb, &r[1]);
	query(db, "SELECT 3", NULL, 0, result_cb, &r[2]);
	run_for(ev, 100);
	assert_int_equal(db_queued(db), 3);
	start = now_ms();
	db_free(&db);
	assert_true(now_ms() - start < 1000);
	for (i = 0; i < 3; i++) {
		assert_err(&r[i], "shutdown");
		result_clear(&r[i]);
	}
	run_for(ev, 100);
	db_free(&db);		/* NULL is fine */
	ev_free(&ev);
}

struct freeing {
	struct db	*db;		/* set NULL by db_free */
	struct db	*raw;		/* the same, kept */
	struct result	 first, rest[2], late;
};

static void
freeing_cb(PGresult *res, const char *err, void *arg)
{
	struct freeing	*f = arg;

	result_cb(res, err, &f->first);
	db_free(&f->db);
	assert_null(f->db);
}

/* After db_free: answered at once, from inside db_query. */
static void
late_cb(PGresult *res, const char *err, void *arg)
{
	struct freeing	*f = arg;

	result_cb(res, err, &f->rest[0]);
	db_query(f->raw, "SELECT 'late'", 0, NULL, 0, result_cb, &f->late);
}

static void
test_free_in_callback(void **state)
{
	struct ev	*ev = ev_new();
	struct freeing	 f;

	memset(&f, 0, sizeof(f));
	f.db = f.raw = db_new(ev, main_conninfo);
	query(f.db, "SELECT 'first'", NULL, 0, freeing_cb, &f);
	query(f.db, "SELECT 'second'", NULL, 500, late_cb, &f);
	query(f.db, "SELECT 'third'", NULL, 0, result_cb, &f.rest[1]);
	assert_true(run_until(ev, &f.first.called, 1, 10000));
	assert_null(f.db);
	assert_ok(&f.first, "first");
	assert_err(&f.rest[0], "shutdown");
	assert_err(&f.late, "shutdown");
	assert_err(&f.rest[1], "shutdown");
	run_for(ev, 700);	/* nothing fires after the free */
	assert_int_equal(f.rest[0].called, 1);
	result_clear(&f.first);
	result_clear(&f.rest[0]);
	result_clear(&f.rest[1]);
	result_clear(&f.late);
	ev_free(&ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conninfo),
		cmocka_unit_test(test_connect_sync),
		cmocka_unit_test(test_connect_sync_fail),
		cmocka_unit_test(test_exec_sync),
		cmocka_unit_test(test_migrate),
		cmocka_unit_test(test_migrate_failure),
		cmocka_unit_test(test_migrate_invalid),
		cmocka_unit_test(test_migrate_embedded),
		cmocka_unit_test(test_async_order),
		cmocka_unit_test(test_async_error),
		cmocka_unit_test(test_async_from_callback),
		cmocka_unit_test(test_async_timeout),
		cmocka_unit_test(test_async_prepared),
		cmocka_unit_test(test_async_batch),
		cmocka_unit_test(test_async_lost),
		cmocka_unit_test(test_async_connect_fail),
		cmocka_unit_test(test_async_notify),
		cmocka_unit_test(test_free_pending),
		cmocka_unit_test(test_free_in_callback),
	};
	int	 rc;

	pghost = getenv("WHARF_TEST_PGHOST");
	if (pghost == NULL || *pghost == '\0') {
		fprintf(stderr, "test_db: WHARF_TEST_PGHOST is not set: run "
		    "through `make unit` (tools/run-unit.sh starts a test "
		    "PostgreSQL), or start one with tools/test-pg.sh start\n");
		return 1;
	}
	log_init("test_db", LOG_TO_STDERR, LOG_LEVEL_ERR);
	log_set_hook(log_hook, NULL);
	main_conninfo = conninfo_for("wharf");
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(main_conninfo);
	return rc;
}
