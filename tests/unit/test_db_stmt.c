/*
 * Unit tests for lib/db_stmt.c: when a statement text is prepared, the
 * bound on the table, forgetting and disabling.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "db_stmt.h"

static void
test_second_use(void **state)
{
	struct db_stmts	*t = db_stmts_new();
	char		 name[DB_STMT_NAME], again[DB_STMT_NAME];

	assert_int_equal(db_stmts_lookup(t, "SELECT 1", name), DB_STMT_PLAIN);
	assert_int_equal(db_stmts_lookup(t, "SELECT 2", name), DB_STMT_PLAIN);
	assert_int_equal(db_stmts_lookup(t, "SELECT 1", name),
	    DB_STMT_PREPARE);
	assert_string_equal(name, "w0");
	/* Not prepared until the server said so: asked again, a new name. */
	assert_int_equal(db_stmts_lookup(t, "SELECT 1", again),
	    DB_STMT_PREPARE);
	assert_string_equal(again, "w1");
	db_stmts_add(t, "SELECT 1", again);
	assert_int_equal(db_stmts_count(t), 1);
	memset(name, 0, sizeof(name));
	assert_int_equal(db_stmts_lookup(t, "SELECT 1", name),
	    DB_STMT_PREPARED);
	assert_string_equal(name, "w1");
	/* A text differing in one byte is another statement. */
	assert_int_equal(db_stmts_lookup(t, "SELECT 1 ", name),
	    DB_STMT_PLAIN);
	assert_int_equal(db_stmts_lookup(t, "SELECT 2", name),
	    DB_STMT_PREPARE);
	db_stmts_free(&t);
	assert_null(t);
	db_stmts_free(&t);
}

static void
test_clear_disable(void **state)
{
	struct db_stmts	*t = db_stmts_new();
	char		 name[DB_STMT_NAME];

	(void)db_stmts_lookup(t, "SELECT 1", name);
	assert_int_equal(db_stmts_lookup(t, "SELECT 1", name),
	    DB_STMT_PREPARE);
	db_stmts_add(t, "SELECT 1", name);
	db_stmts_clear(t);
	assert_int_equal(db_stmts_count(t), 0);
	/* Forgotten, seen-once texts too. */
	assert_int_equal(db_stmts_lookup(t, "SELECT 1", name), DB_STMT_PLAIN);
	db_stmts_disable(t);
	assert_int_equal(db_stmts_lookup(t, "SELECT 1", name), DB_STMT_PLAIN);
	assert_int_equal(db_stmts_lookup(t, "SELECT 1", name), DB_STMT_PLAIN);
	/* A new connection prepares again. */
	db_stmts_clear(t);
	(void)db_stmts_lookup(t, "SELECT 1", name);
	assert_int_equal(db_stmts_lookup(t, "SELECT 1", name),
	    DB_STMT_PREPARE);
	db_stmts_free(&t);
}

static void
test_bounds(void **state)
{
	struct db_stmts	*t = db_stmts_new();
	char		 name[DB_STMT_NAME], sql[64];
	int		 i;

	/* The seen ring forgets its oldest text. */
	for (i = 0; i <= DB_STMT_SEEN; i++) {
		(void)snprintf(sql, sizeof(sql), "SELECT %d", i);
		assert_int_equal(db_stmts_lookup(t, sql, name),
		    DB_STMT_PLAIN);
	}
	assert_int_equal(db_stmts_lookup(t, "SELECT 0", name), DB_STMT_PLAIN);
	assert_int_equal(db_stmts_lookup(t, "SELECT 2", name),
	    DB_STMT_PREPARE);
	db_stmts_clear(t);
	/* A full table prepares nothing more. */
	for (i = 0; i < DB_STMT_MAX; i++) {
		(void)snprintf(sql, sizeof(sql), "SELECT %d", i);
		db_stmts_add(t, sql, "x");
	}
	assert_int_equal(db_stmts_count(t), DB_STMT_MAX);
	db_stmts_add(t, "SELECT 'over'", "y");
	assert_int_equal(db_stmts_count(t), DB_STMT_MAX);
	(void)db_stmts_lookup(t, "SELECT 'new'", name);
	assert_int_equal(db_stmts_lookup(t, "SELECT 'new'", name),
	    DB_STMT_PLAIN);
	(void)snprintf(sql, sizeof(sql), "SELECT %d", DB_STMT_MAX - 1);
	assert_int_equal(db_stmts_lookup(t, sql, name), DB_STMT_PREPARED);
	db_stmts_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_use),
		cmocka_unit_test(test_clear_disable),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
