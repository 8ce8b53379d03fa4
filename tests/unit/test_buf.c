/* Unit tests for lib/buf.c: bounded buffers and string helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

static jmp_buf	fatal_jmp;

static void
fatal_hook(void)
{
	longjmp(fatal_jmp, 1);
}

/* Data must always be followed by a NUL that len does not count. */
static void
assert_nul(const struct buf *b)
{
	if (b->base == NULL) {
		assert_int_equal(b->len, 0);
		assert_string_equal(buf_cstr(b), "");
		return;
	}
	assert_true(b->off + b->len <= b->cap);
	assert_int_equal(BUF_DATA(b)[b->len], '\0');
	assert_int_equal(strlen(buf_cstr(b)) <= b->len, 1);
}

static void
assert_buf(const struct buf *b, const char *want, size_t len)
{
	assert_int_equal(b->len, len);
	if (len > 0)
		assert_memory_equal(BUF_DATA(b), want, len);
	assert_nul(b);
}

static void
test_empty(void **state)
{
	struct buf	 b;

	buf_init(&b, 16);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_avail(&b), 16);
	assert_int_equal(buf_find_lf(&b), -1);
	/* An empty add to a fresh buffer is not a failure. */
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_int_equal(buf_add_str(&b, ""), 0);
	assert_buf(&b, "", 0);
	buf_clear(&b);
	assert_null(b.base);
	assert_int_equal(b.max, 16);

	buf_init(&b, 16);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_buf(&b, "", 0);
	buf_clear(&b);

	buf_init(&b, 16);
	buf_commit(&b, 0);
	assert_buf(&b, "", 0);
	assert_non_null(buf_reserve(&b, 0));
	assert_nul(&b);
	buf_clear(&b);
}

static void
test_add_max(void **state)
{
	struct buf	 b;

	buf_init(&b, 8);
	assert_int_equal(buf_add_str(&b, "abc"), 0);
	assert_int_equal(buf_add_u8(&b, 'd'), 0);
	assert_buf(&b, "abcd", 4);
	assert_int_equal(buf_avail(&b), 4);
	assert_int_equal(buf_add(&b, "efghi", 5), -1);
	assert_buf(&b, "abcd", 4);
	assert_int_equal(buf_add(&b, "efgh", 4), 0);
	assert_buf(&b, "abcdefgh", 8);
	assert_string_equal(buf_cstr(&b), "abcdefgh");
	assert_int_equal(buf_avail(&b), 0);
	assert_int_equal(buf_add_u8(&b, 'x'), -1);
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_buf(&b, "abcdefgh", 8);
	buf_clear(&b);

	/* max 0: only empty adds succeed. */
	buf_init(&b, 0);
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_int_equal(buf_add_u8(&b, 'a'), -1);
	assert_buf(&b, "", 0);
	buf_clear(&b);
}

static void
test_printf_max(void **state)
{
	struct buf	 b;

	buf_init(&b, 5);
	/* Exactly max bytes of output fits, like buf_add. */
	assert_int_equal(buf_printf(&b, "%s", "hello"), 0);
	assert_buf(&b, "hello", 5);
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%d", 42), 0);
	assert_int_equal(buf_printf(&b, "%s", "abcd"), -1);
	assert_buf(&b, "42", 2);
	assert_int_equal(buf_printf(&b, "%c%c%c", 'x', 'y', 'z'), 0);
	assert_buf(&b, "42xyz", 5);
	assert_int_equal(buf_printf(&b, "%s", "!"), -1);
	assert_buf(&b, "42xyz", 5);
	buf_clear(&b);

	/* Growth across the 64-byte initial allocation. */
	buf_init(&b, 1000);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_printf(&b, "%d,", i % 10), 0);
	assert_int_equal(b.len, 200);
	assert_int_equal(strlen(buf_cstr(&b)), 200);
	assert_memory_equal(buf_cstr(&b) + 196, "8,9,", 4);
	buf_clear(&b);
}

static void
test_reserve_commit(void **state)
{
	struct buf	 b;
	uint8_t		*p;

	buf_init(&b, 10);
	assert_null(buf_reserve(&b, 11));
	assert_null(b.base);
	assert_non_null(p = buf_reserve(&b, 10));
	memcpy(p, "0123", 4);
	buf_commit(&b, 4);
	assert_buf(&b, "0123", 4);
	assert_null(buf_reserve(&b, 7));
	assert_buf(&b, "0123", 4);
	assert_non_null(p = buf_reserve(&b, 6));
	p[0] = 'x';
	buf_commit(&b, 1);
	assert_buf(&b, "0123x", 5);
	buf_commit(&b, 0);
	assert_buf(&b, "0123x", 5);
	buf_clear(&b);
}

static void
test_commit_past_reserve(void **state)
{
	struct buf		 b;
	volatile int		 fired = 0;

	buf_init(&b, 1000);
	assert_non_null(buf_reserve(&b, 4));
	log_set_fatal_hook(fatal_hook);
	log_set_flags(0);
	if (setjmp(fatal_jmp) == 0)
		buf_commit(&b, b.cap + 1);
	else
		fired = 1;
	log_set_flags(LOG_TO_STDERR);
	log_set_fatal_hook(NULL);
	assert_int_equal(fired, 1);
	assert_buf(&b, "", 0);
	buf_clear(&b);
}

static void
test_consume_compact(void **state)
{
	struct buf	 b;
	uint8_t		*p;
	size_t		 cap;

	buf_init(&b, 64);
	assert_int_equal(buf_add_str(&b, "hello world\n"), 0);
	buf_consume(&b, 6);
	assert_buf(&b, "world\n", 6);
	assert_string_equal(buf_cstr(&b), "world\n");
	assert_int_equal(buf_find_lf(&b), 5);
	assert_int_equal(buf_avail(&b), 58);
	buf_consume(&b, 0);
	assert_buf(&b, "world\n", 6);
	buf_consume(&b, 100);
	assert_buf(&b, "", 0);
	assert_int_equal(b.off, 0);

	/* Fill to cap, consume, then a reserve that must compact. */
	buf_reset(&b);
	assert_non_null(buf_reserve(&b, 64));
	cap = b.cap;
	assert_int_equal(cap, 64);
	memset(BUF_DATA(&b), 'a', 40);
	memcpy(BUF_DATA(&b) + 40, "tail", 4);
	buf_commit(&b, 44);
	buf_consume(&b, 40);
	assert_buf(&b, "tail", 4);
	assert_non_null(p = buf_reserve(&b, 30));
	/* Compacted in place, and still a valid C string before commit. */
	assert_int_equal(b.off, 0);
	assert_int_equal(b.cap, cap);
	assert_ptr_equal(p, b.base + 4);
	assert_string_equal(buf_cstr(&b), "tail");
	assert_buf(&b, "tail", 4);
	memcpy(p, "++", 2);
	buf_commit(&b, 2);
	assert_buf(&b, "tail++", 6);
	buf_clear(&b);
}

static void
test_grow_keeps_nul(void **state)
{
	struct buf	 b;

	buf_init(&b, 1 << 20);
	assert_int_equal(buf_add_str(&b, "0123456789"), 0);
	buf_consume(&b, 3);
	/* Grow path with a non-zero offset: data moved with its NUL. */
	assert_non_null(buf_reserve(&b, 1000));
	assert_int_equal(b.off, 0);
	assert_true(b.cap >= 1007);
	assert_buf(&b, "3456789", 7);
	assert_string_equal(buf_cstr(&b), "3456789");
	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_add_u8(&b, 'z'), 0);
	assert_int_equal(b.len, 100007);
	assert_nul(&b);
	buf_clear(&b);
}

static void
test_find_lf(void **state)
{
	struct buf	 b;

	buf_init(&b, 64);
	assert_int_equal(buf_find_lf(&b), -1);
	assert_int_equal(buf_add_str(&b, "abc"), 0);
	assert_int_equal(buf_find_lf(&b), -1);
	assert_int_equal(buf_add(&b, "\n\0x\n", 4), 0);
	assert_int_equal(buf_find_lf(&b), 3);
	buf_consume(&b, 4);
	assert_int_equal(buf_find_lf(&b), 2);
	buf_consume(&b, 3);
	assert_int_equal(buf_find_lf(&b), -1);
	buf_clear(&b);
}

static void
test_steal(void **state)
{
	struct buf	 b;
	char		*s;
	size_t		 len = 99;

	buf_init(&b, 64);
	s = buf_steal(&b, &len);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);

	assert_int_equal(buf_add_str(&b, "header: value"), 0);
	buf_consume(&b, 8);
	s = buf_steal(&b, &len);
	assert_string_equal(s, "value");
	assert_int_equal(len, 5);
	free(s);
	assert_null(b.base);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 64);
	/* Usable again after a steal. */
	assert_int_equal(buf_add_str(&b, "again"), 0);
	s = buf_steal(&b, NULL);
	assert_string_equal(s, "again");
	free(s);
}

static void
test_wipe_new_free(void **state)
{
	struct buf	*bp;
	struct buf	 b;

	buf_init(&b, 32);
	assert_int_equal(buf_add_str(&b, "secret"), 0);
	buf_wipe(&b);
	assert_null(b.base);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 32);
	buf_wipe(&b);
	assert_int_equal(buf_add_str(&b, "x"), 0);
	buf_wipe(&b);

	bp = buf_new(8);
	assert_int_equal(bp->max, 8);
	assert_int_equal(buf_add_str(bp, "12345678"), 0);
	assert_int_equal(buf_add_str(bp, "9"), -1);
	buf_free(&bp);
	assert_null(bp);
	buf_free(&bp);
	assert_null(bp);
}

/* Reference model: a plain array holding exactly the live bytes. */
struct model {
	uint8_t	 data[512];
	size_t	 len;
};

static void
model_check(const struct buf *b, const struct model *m)
{
	assert_buf(b, (const char *)m->data, m->len);
	assert_int_equal(buf_avail(b), b->max - m->len);
}

static void
random_step(struct buf *b, struct model *m, unsigned op, size_t n)
{
	uint8_t	 src[64], *p;
	int	 rc;
	bool	 fits = m->len + n <= b->max;

	for (size_t i = 0; i < n; i++)
		src[i] = (uint8_t)(rand() & 0xff);
	switch (op) {
	case 0:
		assert_int_equal(buf_add(b, src, n), fits ? 0 : -1);
		break;
	case 1:
		memset(src, 'p', n);
		rc = buf_printf(b, "%.*s", (int)n, (const char *)src);
		assert_int_equal(rc, fits ? 0 : -1);
		break;
	case 2:
		p = buf_reserve(b, n);
		assert_int_equal(p != NULL, fits);
		if (p == NULL)
			return;
		assert_nul(b);
		memcpy(p, src, n);
		buf_commit(b, n / 2);
		n /= 2;
		break;
	case 3:
		buf_consume(b, n);
		n = n > m->len ? m->len : n;
		memmove(m->data, m->data + n, m->len - n);
		m->len -= n;
		return;
	default:
		buf_reset(b);
		m->len = 0;
		return;
	}
	if (fits) {
		memcpy(m->data + m->len, src, n);
		m->len += n;
	}
}

static void
test_random_model(void **state)
{
	struct buf	 b;
	struct model	 m;

	srand(12345);
	for (int round = 0; round < 20; round++) {
		buf_init(&b, (size_t)(rand() % 300) + 1);
		memset(&m, 0, sizeof(m));
		for (int i = 0; i < 2000; i++) {
			unsigned op = (unsigned)(rand() % 4);

			random_step(&b, &m, op, (size_t)(rand() % 64));
			if (rand() % 500 == 0)
				random_step(&b, &m, 4, 0);
			model_check(&b, &m);
		}
		buf_clear(&b);
	}
}

static void
test_str_trim(void **state)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "", "" }, { "   ", "" }, { "abc", "abc" }, { " a ", "a" },
		{ "\t\r\n a b \v\f", "a b" }, { "x  ", "x" }, { "  x", "x" },
		{ "a\tb", "a\tb" },
	};
	char	 s[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(s, sizeof(s), "%s", cases[i].in);
		assert_ptr_equal(str_trim(s), s);
		assert_string_equal(s, cases[i].out);
	}
}

static void
test_str_has_prefix(void **state)
{
	assert_true(str_has_prefix("abc", ""));
	assert_true(str_has_prefix("abc", "ab"));
	assert_true(str_has_prefix("abc", "abc"));
	assert_false(str_has_prefix("ab", "abc"));
	assert_false(str_has_prefix("abc", "b"));
	assert_true(str_has_prefix("", ""));
	assert_false(str_has_prefix("", "a"));
}

static void
test_str_to_u64(void **state)
{
	static const struct {
		const char	*in;
		uint64_t	 min, max, want;
		const char	*err;
	} cases[] = {
		{ "0", 0, UINT64_MAX, 0, NULL },
		{ "1", 0, UINT64_MAX, 1, NULL },
		{ "007", 0, UINT64_MAX, 7, NULL },
		{ "18446744073709551615", 0, UINT64_MAX, UINT64_MAX, NULL },
		{ "18446744073709551616", 0, UINT64_MAX, 0, "too large" },
		{ "18446744073709551620", 0, UINT64_MAX, 0, "too large" },
		{ "99999999999999999999", 0, UINT64_MAX, 0, "too large" },
		{ "1844674407370955161", 0, UINT64_MAX, 1844674407370955161ULL,
		    NULL },
		{ "", 0, UINT64_MAX, 0, "not a number" },
		{ "-1", 0, UINT64_MAX, 0, "not a number" },
		{ "+1", 0, UINT64_MAX, 0, "not a number" },
		{ " 1", 0, UINT64_MAX, 0, "not a number" },
		{ "1 ", 0, UINT64_MAX, 0, "not a number" },
		{ "1a", 0, UINT64_MAX, 0, "not a number" },
		{ "0x10", 0, UINT64_MAX, 0, "not a number" },
		{ "9", 10, 20, 0, "too small" },
		{ "10", 10, 20, 10, NULL },
		{ "20", 10, 20, 20, NULL },
		{ "21", 10, 20, 0, "too large" },
		{ "65535", 1, 65535, 65535, NULL },
		{ "65536", 1, 65535, 0, "too large" },
		{ "0", 1, 65535, 0, "too small" },
	};
	uint64_t	 v;
	const char	*err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 4242;
		err = NULL;
		if (cases[i].err == NULL) {
			assert_int_equal(str_to_u64(cases[i].in, cases[i].min,
			    cases[i].max, &v, &err), 0);
			assert_true(v == cases[i].want);
		} else {
			assert_int_equal(str_to_u64(cases[i].in, cases[i].min,
			    cases[i].max, &v, &err), -1);
			assert_string_equal(err, cases[i].err);
			assert_true(v == 4242);
		}
	}
}

static void
test_str_to_i64(void **state)
{
	static const struct {
		const char	*in;
		int64_t		 min, max, want;
		const char	*err;
	} cases[] = {
		{ "0", INT64_MIN, INT64_MAX, 0, NULL },
		{ "-0", INT64_MIN, INT64_MAX, 0, NULL },
		{ "-1", INT64_MIN, INT64_MAX, -1, NULL },
		{ "42", INT64_MIN, INT64_MAX, 42, NULL },
		{ "9223372036854775807", INT64_MIN, INT64_MAX, INT64_MAX,
		    NULL },
		{ "9223372036854775808", INT64_MIN, INT64_MAX, 0, "too large" },
		{ "-9223372036854775808", INT64_MIN, INT64_MAX, INT64_MIN,
		    NULL },
		{ "-9223372036854775809", INT64_MIN, INT64_MAX, 0,
		    "too small" },
		{ "-18446744073709551616", INT64_MIN, INT64_MAX, 0,
		    "too small" },
		{ "18446744073709551615", INT64_MIN, INT64_MAX, 0,
		    "too large" },
		{ "", INT64_MIN, INT64_MAX, 0, "not a number" },
		{ "-", INT64_MIN, INT64_MAX, 0, "not a number" },
		{ "--1", INT64_MIN, INT64_MAX, 0, "not a number" },
		{ "+1", INT64_MIN, INT64_MAX, 0, "not a number" },
		{ " -1", INT64_MIN, INT64_MAX, 0, "not a number" },
		{ "- 1", INT64_MIN, INT64_MAX, 0, "not a number" },
		{ "1-", INT64_MIN, INT64_MAX, 0, "not a number" },
		{ "-11", -10, 10, 0, "too small" },
		{ "-10", -10, 10, -10, NULL },
		{ "10", -10, 10, 10, NULL },
		{ "11", -10, 10, 0, "too large" },
		{ "-1", 0, 10, 0, "too small" },
	};
	int64_t		 v;
	const char	*err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 4242;
		err = NULL;
		if (cases[i].err == NULL) {
			assert_int_equal(str_to_i64(cases[i].in, cases[i].min,
			    cases[i].max, &v, &err), 0);
			assert_true(v == cases[i].want);
		} else {
			assert_int_equal(str_to_i64(cases[i].in, cases[i].min,
			    cases[i].max, &v, &err), -1);
			assert_string_equal(err, cases[i].err);
			assert_true(v == 4242);
		}
	}
}

static void
check_split(const char *s, const char *seps, const char *const want[],
    size_t nwant)
{
	char	**list;
	size_t	  n = 99;

	list = str_split(s, seps, &n);
	assert_non_null(list);
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < nwant; i++)
		assert_string_equal(list[i], want[i]);
	assert_null(list[nwant]);
	str_list_free(&list);
	assert_null(list);
}

static void
test_str_split(void **state)
{
	static const char *const abc[] = { "a", "b", "c" };
	static const char *const one[] = { "one item" };
	static const char *const mixed[] = { "smtp", "imap", "submission" };
	char	**list;

	check_split("a,b,c", ", ", abc, 3);
	check_split("a b c", ", ", abc, 3);
	check_split(",, a ,,b , c,,", ", ", abc, 3);
	check_split("  smtp,imap \t submission ", ", \t", mixed, 3);
	check_split("one item", ",", one, 1);
	check_split("", ", ", NULL, 0);
	check_split(" , ,, ", ", ", NULL, 0);
	check_split("a,b,c", ",", abc, 3);
	/* No separators at all: the whole string is one item. */
	check_split("one item", "", one, 1);

	list = str_split("x y", " ", NULL);
	assert_string_equal(list[0], "x");
	assert_string_equal(list[1], "y");
	assert_null(list[2]);
	str_list_free(&list);
	str_list_free(&list);
	assert_null(list);
}

static void
test_str_ct_equal(void **state)
{
	assert_true(str_ct_equal("abcdef", "abcdef", 6));
	assert_false(str_ct_equal("abcdef", "abcdeg", 6));
	assert_false(str_ct_equal("xbcdef", "abcdef", 6));
	assert_true(str_ct_equal("abcdef", "abcxyz", 3));
	assert_true(str_ct_equal("a", "b", 0));
	assert_false(str_ct_equal("a\0b", "a\0c", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_add_max),
		cmocka_unit_test(test_printf_max),
		cmocka_unit_test(test_reserve_commit),
		cmocka_unit_test(test_commit_past_reserve),
		cmocka_unit_test(test_consume_compact),
		cmocka_unit_test(test_grow_keeps_nul),
		cmocka_unit_test(test_find_lf),
		cmocka_unit_test(test_steal),
		cmocka_unit_test(test_wipe_new_free),
		cmocka_unit_test(test_random_model),
		cmocka_unit_test(test_str_trim),
		cmocka_unit_test(test_str_has_prefix),
		cmocka_unit_test(test_str_to_u64),
		cmocka_unit_test(test_str_to_i64),
		cmocka_unit_test(test_str_split),
		cmocka_unit_test(test_str_ct_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
