/* Unit tests for lib/blob: the blob store. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "blob.h"

static char	 dir[256];

static int
setup(void **state)
{
	char	 tmpl[] = "/tmp/wharf-blob.XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/blobs", tmpl);
	(void)state;
	return 0;
}

static int
teardown(void **state)
{
	char	 cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strrchr(dir, '/') -
	    dir), dir);
	(void)state;
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_names(void **state)
{
	static const struct {
		const char	*name;
		bool		 ok;
	} cases[] = {
		{ "abcdefgh", true }, { "0123456789abcdefghij", true },
		{ "abcdefg", false }, { "ABCDEFGH", false },
		{ "abcd/efgh", false }, { "../../etc", false }, { "", false },
		{ "abcdefgh\n", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(blob_name_valid(cases[i].name), cases[i].ok);
	(void)state;
}

static void
test_write_commit_open(void **state)
{
	char	 name[BLOB_NAME_LEN + 1], *err = NULL, buf[64], path[512];
	int	 fd, rfd;
	struct stat st;

	assert_int_equal(blob_store_init(dir, &err), 0);
	fd = blob_tmp_create(dir, name, &err);
	assert_true(fd >= 0);
	assert_int_equal(strlen(name), BLOB_NAME_LEN);
	assert_true(blob_name_valid(name));
	assert_int_equal(write(fd, "hello\r\n", 7), 7);
	/* Not visible before commit. */
	assert_int_equal(blob_open(dir, name), -1);
	assert_int_equal(blob_commit(dir, name, fd, &err), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/%.2s/%s", dir, name, name);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/tmp/%s", dir, name);
	assert_int_equal(stat(path, &st), -1);
	rfd = blob_open(dir, name);
	assert_true(rfd >= 0);
	assert_int_equal(read(rfd, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "hello\r\n", 7);
	close(rfd);
	assert_int_equal(blob_remove(dir, name), 0);
	assert_int_equal(blob_open(dir, name), -1);
	assert_int_equal(blob_open(dir, "../../x"), -1);
	assert_int_equal(errno, EINVAL);
	(void)state;
}

static void
test_names_differ_and_clean(void **state)
{
	char	 a[BLOB_NAME_LEN + 1], b[BLOB_NAME_LEN + 1], *err = NULL;
	int	 fa, fb;

	assert_int_equal(blob_store_init(dir, &err), 0);
	fa = blob_tmp_create(dir, a, &err);
	fb = blob_tmp_create(dir, b, &err);
	assert_true(fa >= 0 && fb >= 0);
	assert_string_not_equal(a, b);
	close(fa);
	close(fb);
	assert_int_equal(blob_tmp_clean(dir), 2);
	assert_int_equal(blob_tmp_clean(dir), 0);
	(void)state;
}

/* Made unnamed, invisible in tmp/ until named; then a spool like any. */
static void
test_unnamed(void **state)
{
	char		 name[BLOB_NAME_LEN + 1], *err = NULL, buf[16];
	int		 fd, rfd;

	assert_int_equal(blob_store_init(dir, &err), 0);
	fd = blob_tmp_anon(dir, &err);
	if (fd == -1)
		fail_msg("%s", err);
	assert_int_equal(write(fd, "spool", 5), 5);
	assert_int_equal(blob_tmp_clean(dir), 0);	/* nothing to see */
	assert_int_equal(blob_tmp_name(dir, fd, name, &err), 0);
	assert_true(blob_name_valid(name));
	assert_int_equal(blob_commit(dir, name, fd, &err), 0);
	close(fd);
	rfd = blob_open(dir, name);
	assert_true(rfd >= 0);
	assert_int_equal(read(rfd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "spool", 5);
	close(rfd);
	/* Named but not committed: an ordinary leftover spool. */
	fd = blob_tmp_anon(dir, &err);
	assert_true(fd >= 0);
	assert_int_equal(blob_tmp_name(dir, fd, name, &err), 0);
	close(fd);
	assert_int_equal(blob_tmp_clean(dir), 1);
	assert_int_equal(blob_tmp_anon("/nonexistent/blobs", &err), -1);
	assert_non_null(strstr(err, "unnamed"));
	free(err);
	(void)state;
}

static void
test_errors(void **state)
{
	char	 name[BLOB_NAME_LEN + 1], *err = NULL;

	assert_int_equal(blob_store_init("/nonexistent/x/blobs", &err), -1);
	assert_non_null(strstr(err, "mkdir"));
	free(err);
	err = NULL;
	assert_int_equal(blob_tmp_create("/nonexistent/blobs", name, &err), -1);
	assert_non_null(strstr(err, "create"));
	free(err);
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_write_commit_open, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_names_differ_and_clean,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unnamed, setup, teardown),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
