/* Unit tests for lib/xmalloc.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

/*
 * The out-of-memory cases ask for absurd sizes on purpose.  ASan treats
 * such a request as an error and aborts unless the allocator may return
 * NULL, which is exactly the path under test.
 */
const char	*__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static jmp_buf	 fatal_jmp;
static char	 fatal_msg[256];

static void
fatal_hook(void)
{
	longjmp(fatal_jmp, 1);
}

static void
msg_hook(enum log_level level, const char *msg, void *arg)
{
	snprintf(fatal_msg, sizeof(fatal_msg), "%s", msg);
}

static int
setup(void **state)
{
	fatal_msg[0] = '\0';
	log_set_flags(0);
	log_set_hook(msg_hook, NULL);
	log_set_fatal_hook(fatal_hook);
	return 0;
}

static int
teardown(void **state)
{
	log_set_fatal_hook(NULL);
	log_set_hook(NULL, NULL);
	log_set_flags(LOG_TO_STDERR);
	return 0;
}

static void
test_basic(void **state)
{
	unsigned char	*p;
	char		*s;

	p = xmalloc(0);
	assert_non_null(p);
	free(p);
	p = xmalloc(16);
	memset(p, 0xaa, 16);
	free(p);
	p = xcalloc(4, 8);
	for (int i = 0; i < 32; i++)
		assert_int_equal(p[i], 0);
	free(p);
	assert_non_null(p = xcalloc(0, 8));
	free(p);
	assert_non_null(p = xcalloc(8, 0));
	free(p);

	p = xreallocarray(NULL, 4, 2);
	memcpy(p, "abcdefgh", 8);
	p = xreallocarray(p, 1000, 2);
	assert_memory_equal(p, "abcdefgh", 8);
	p = xreallocarray(p, 0, 8);
	assert_non_null(p);
	free(p);

	s = xstrdup("hello");
	assert_string_equal(s, "hello");
	free(s);
	s = xstrdup("");
	assert_string_equal(s, "");
	free(s);
	s = xstrndup("hello", 3);
	assert_string_equal(s, "hel");
	free(s);
	s = xstrndup("hi", 10);
	assert_string_equal(s, "hi");
	free(s);
	s = xstrndup("hello", 0);
	assert_string_equal(s, "");
	free(s);
	s = xmemdup("a\0b", 3);
	assert_memory_equal(s, "a\0b", 3);
	free(s);
	assert_non_null(s = xmemdup(NULL, 0));
	free(s);
}

static void
test_recallocarray(void **state)
{
	unsigned char	*p;

	p = xrecallocarray(NULL, 0, 4, 4);
	for (int i = 0; i < 16; i++)
		assert_int_equal(p[i], 0);
	memset(p, 0xaa, 16);
	p = xrecallocarray(p, 4, 64, 4);
	for (int i = 0; i < 16; i++)
		assert_int_equal(p[i], 0xaa);
	for (int i = 16; i < 256; i++)
		assert_int_equal(p[i], 0);
	p = xrecallocarray(p, 64, 2, 4);
	for (int i = 0; i < 8; i++)
		assert_int_equal(p[i], 0xaa);
	/* Shrinking to zero members keeps one member's worth. */
	p = xrecallocarray(p, 2, 0, 4);
	assert_non_null(p);
	for (int i = 0; i < 4; i++)
		assert_int_equal(p[i], 0xaa);
	p = xrecallocarray(p, 1, 3, 4);
	for (int i = 4; i < 12; i++)
		assert_int_equal(p[i], 0);
	free(p);
	/* Zero-sized members: nothing to keep, still never NULL. */
	p = xrecallocarray(NULL, 0, 5, 0);
	assert_non_null(p);
	p = xrecallocarray(p, 5, 3, 0);
	assert_non_null(p);
	free(p);
}

static void
test_asprintf(void **state)
{
	char	*s;

	s = xasprintf("%s-%d-%c", "a", 42, 'z');
	assert_string_equal(s, "a-42-z");
	free(s);
	s = xasprintf("%s", "");
	assert_string_equal(s, "");
	free(s);
	s = xasprintf("%0500d", 7);
	assert_int_equal(strlen(s), 500);
	assert_int_equal(s[499], '7');
	free(s);
}

static void
test_freezero(void **state)
{
	char	*p = xstrdup("secret");

	xfreezero(p, strlen("secret") + 1);
	xfreezero(NULL, 0);
	xfreezero(NULL, 100);
}

/* Each call must reach fatalx (and the hook) instead of returning. */
static void
test_oom_fatal(void **state)
{
	volatile size_t	 huge = SIZE_MAX;
	volatile int	 fired = 0;
	void *volatile	 p = NULL;

	if (setjmp(fatal_jmp) == 0)
		p = xmalloc(huge);
	else
		fired++;
	assert_string_equal(fatal_msg,
	    "xmalloc: out of memory (18446744073709551615 bytes)");
	if (setjmp(fatal_jmp) == 0)
		p = xmalloc(huge / 2);
	else
		fired++;
	if (setjmp(fatal_jmp) == 0)
		p = xcalloc(huge / 2, 4);
	else
		fired++;
	assert_non_null(strstr(fatal_msg, "xcalloc: out of memory"));
	if (setjmp(fatal_jmp) == 0)
		p = xreallocarray(NULL, huge / 2, 3);
	else
		fired++;
	assert_non_null(strstr(fatal_msg, "xreallocarray: out of memory"));
	if (setjmp(fatal_jmp) == 0)
		p = xrecallocarray(NULL, 0, huge / 2, 3);
	else
		fired++;
	assert_non_null(strstr(fatal_msg, "xrecallocarray: out of memory"));
	assert_null(p);
	assert_int_equal(fired, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_recallocarray),
		cmocka_unit_test(test_asprintf),
		cmocka_unit_test(test_freezero),
		cmocka_unit_test_setup_teardown(test_oom_fatal, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
