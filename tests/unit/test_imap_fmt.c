/*
 * Unit tests for lib/imap_fmt.c: the form each value takes, what cannot
 * be written, out's maximum, and a round trip through lib/imap_parse.c
 * (format an astring or nstring into a command, parse it back, get the
 * same octets).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_fmt.h"
#include "imap_parse.h"

struct fcase {
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	bool		 utf8;
	const char	*want;		/* NULL: refused */
	size_t		 wlen;		/* 0: strlen(want) */
};

#define BIN(s)	.in = (s), .len = sizeof(s) - 1

static const struct fcase astrings[] = {
	{ .in = "INBOX", .want = "INBOX" },
	{ .in = "", .want = "\"\"" },
	{ .in = "NIL", .want = "\"NIL\"" },
	{ .in = "nil", .want = "\"nil\"" },
	{ .in = "NILS", .want = "NILS" },
	{ .in = "a b", .want = "\"a b\"" },
	{ .in = "a\"b", .want = "\"a\\\"b\"" },
	{ .in = "a\\b", .want = "\"a\\\\b\"" },
	{ .in = "\\Seen", .want = "\"\\\\Seen\"" },
	{ .in = "a]b", .want = "a]b" },
	{ .in = "[Gmail]/Sent", .want = "[Gmail]/Sent" },
	{ .in = "%", .want = "\"%\"" },
	{ .in = "a*", .want = "\"a*\"" },
	{ .in = "a(b", .want = "\"a(b\"" },
	{ .in = "a)", .want = "\"a)\"" },
	{ .in = "{5}", .want = "\"{5}\"" },
	{ .in = "a\tb", .want = "\"a\tb\"" },
	{ .in = "\x7f", .want = "\"\x7f\"" },
	{ .in = "~peter/mail/&U,BTFw-", .want = "~peter/mail/&U,BTFw-" },
	{ .in = "line\r\n", .want = "{6}\r\nline\r\n" },
	{ .in = "a\rb", .want = "{3}\r\na\rb" },
	{ .in = "\n", .want = "{1}\r\n\n" },
	{ .in = "\xc3\xa9", .want = "{2}\r\n\xc3\xa9" },
	{ .in = "\xc3\xa9", .utf8 = true, .want = "\"\xc3\xa9\"" },
	{ .in = "a\xc3", .utf8 = true, .want = "{2}\r\na\xc3" },
	{ .in = "\xed\xa0\x80", .utf8 = true, .want = "{3}\r\n\xed\xa0\x80" },
	{ BIN("a\0b"), .want = NULL },
	{ BIN("a\0\r\n"), .want = NULL },
	{ BIN("\0"), .utf8 = true, .want = NULL },
};

static void
check_one(int (*f)(struct buf *, const char *, size_t, bool),
    const struct fcase *c)
{
	struct buf	 b;
	size_t		 len = c->len ? c->len : strlen(c->in);
	size_t		 wlen;
	int		 r;

	buf_init(&b, 8192);
	buf_add_str(&b, "x ");
	r = f(&b, c->in, len, c->utf8);
	if (c->want == NULL) {
		assert_int_equal(r, -1);
		assert_string_equal(buf_cstr(&b), "x ");
	} else {
		wlen = c->wlen ? c->wlen : strlen(c->want);
		if (r != 0 || b.len != 2 + wlen ||
		    memcmp(buf_cstr(&b) + 2, c->want, wlen) != 0)
			print_error("in \"%s\": got \"%s\"\n", c->in,
			    buf_cstr(&b));
		assert_int_equal(r, 0);
		assert_int_equal(b.len, 2 + wlen);
		assert_memory_equal(buf_cstr(&b) + 2, c->want, wlen);
	}
	buf_clear(&b);
}

static void
test_astring(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(astrings) / sizeof(astrings[0]); i++)
		check_one(imap_fmt_astring, &astrings[i]);
}

static const struct fcase strings[] = {
	{ .in = "INBOX", .want = "\"INBOX\"" },
	{ .in = "", .want = "\"\"" },
	{ .in = "NIL", .want = "\"NIL\"" },
	{ .in = "\\Seen", .want = "\"\\\\Seen\"" },
	{ .in = "a\r\n", .want = "{3}\r\na\r\n" },
	{ .in = "\xc3\xa9", .want = "{2}\r\n\xc3\xa9" },
	{ .in = "\xc3\xa9", .utf8 = true, .want = "\"\xc3\xa9\"" },
	{ BIN("a\0"), .want = NULL },
};

static int
fmt_nstring(struct buf *b, const char *s, size_t len, bool utf8)
{
	return imap_fmt_nstring(b, s, len, utf8);
}

static void
test_string(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		check_one(imap_fmt_string, &strings[i]);
		check_one(fmt_nstring, &strings[i]);
	}
}

static void
test_nstring_nil(void **state)
{
	struct buf	 b;

	buf_init(&b, 3);
	assert_int_equal(imap_fmt_nstring(&b, NULL, 0, false), 0);
	assert_string_equal(buf_cstr(&b), "NIL");
	assert_int_equal(imap_fmt_nstring(&b, NULL, 0, true), -1);
	assert_string_equal(buf_cstr(&b), "NIL");
	buf_clear(&b);
}

/* The 1000-octet line between quoted (or atom) and literal. */
static void
test_long(void **state)
{
	char		 s[IMAP_FMT_QUOTED_MAX + 2];
	struct buf	 b;
	char		 hdr[32];

	buf_init(&b, 4096);
	memset(s, 'a', sizeof(s));
	assert_int_equal(imap_fmt_astring(&b, s, IMAP_FMT_QUOTED_MAX, false),
	    0);
	assert_int_equal(b.len, IMAP_FMT_QUOTED_MAX);
	buf_reset(&b);
	assert_int_equal(imap_fmt_astring(&b, s, IMAP_FMT_QUOTED_MAX + 1,
	    false), 0);
	snprintf(hdr, sizeof(hdr), "{%d}\r\n", IMAP_FMT_QUOTED_MAX + 1);
	assert_int_equal(b.len, strlen(hdr) + IMAP_FMT_QUOTED_MAX + 1);
	assert_memory_equal(buf_cstr(&b), hdr, strlen(hdr));
	buf_reset(&b);
	s[0] = ' ';
	assert_int_equal(imap_fmt_astring(&b, s, IMAP_FMT_QUOTED_MAX, false),
	    0);
	assert_int_equal(b.len, IMAP_FMT_QUOTED_MAX + 2);
	assert_int_equal(buf_cstr(&b)[0], '"');
	buf_reset(&b);
	assert_int_equal(imap_fmt_string(&b, s, IMAP_FMT_QUOTED_MAX + 1,
	    true), 0);
	assert_memory_equal(buf_cstr(&b), hdr, strlen(hdr));
	buf_reset(&b);
	/* imap_fmt_quoted() does not switch. */
	assert_int_equal(imap_fmt_quoted(&b, s, IMAP_FMT_QUOTED_MAX + 1), 0);
	assert_int_equal(b.len, IMAP_FMT_QUOTED_MAX + 3);
	buf_clear(&b);
}

static void
test_quoted_literal(void **state)
{
	struct buf	 b;

	buf_init(&b, 64);
	assert_int_equal(imap_fmt_quoted(&b, "a\"b\\c", 5), 0);
	assert_string_equal(buf_cstr(&b), "\"a\\\"b\\\\c\"");
	buf_reset(&b);
	assert_int_equal(imap_fmt_quoted(&b, "\xff", 1), 0);
	assert_string_equal(buf_cstr(&b), "\"\xff\"");
	buf_reset(&b);
	assert_int_equal(imap_fmt_quoted(&b, "", 0), 0);
	assert_string_equal(buf_cstr(&b), "\"\"");
	buf_reset(&b);
	assert_int_equal(imap_fmt_quoted(&b, "a\rb", 3), -1);
	assert_int_equal(imap_fmt_quoted(&b, "a\nb", 3), -1);
	assert_int_equal(imap_fmt_quoted(&b, "a\0b", 3), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(imap_fmt_literal(&b, "abc", 3), 0);
	assert_string_equal(buf_cstr(&b), "{3}\r\nabc");
	buf_reset(&b);
	assert_int_equal(imap_fmt_literal(&b, "", 0), 0);
	assert_string_equal(buf_cstr(&b), "{0}\r\n");
	buf_reset(&b);
	assert_int_equal(imap_fmt_literal(&b, NULL, 0), 0);
	assert_string_equal(buf_cstr(&b), "{0}\r\n");
	buf_reset(&b);
	assert_int_equal(imap_fmt_literal(&b, "a\0b", 3), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(imap_fmt_literal8(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 9);
	assert_memory_equal(buf_cstr(&b), "~{3}\r\na\0b", 9);
	buf_clear(&b);
}

/* out's maximum: every writer all-or-nothing. */
static void
test_max(void **state)
{
	struct buf	 b;
	size_t		 max;
	int		 r;

	for (max = 0; max < 12; max++) {
		buf_init(&b, max);
		r = imap_fmt_astring(&b, "INBOX", 5, false);
		assert_true(max >= 5 ? r == 0 : r == -1 && b.len == 0);
		buf_clear(&b);
		r = imap_fmt_astring(&b, "a b", 3, false);
		assert_true(max >= 5 ? r == 0 : r == -1 && b.len == 0);
		buf_clear(&b);
		r = imap_fmt_quoted(&b, "a\"b", 3);
		assert_true(max >= 6 ? r == 0 : r == -1 && b.len == 0);
		buf_clear(&b);
		r = imap_fmt_literal(&b, "abcd", 4);
		assert_true(max >= 9 ? r == 0 : r == -1 && b.len == 0);
		buf_clear(&b);
		r = imap_fmt_literal8(&b, "abcd", 4);
		assert_true(max >= 10 ? r == 0 : r == -1 && b.len == 0);
		buf_clear(&b);
		r = imap_fmt_nstring(&b, NULL, 0, false);
		assert_true(max >= 3 ? r == 0 : r == -1 && b.len == 0);
		buf_clear(&b);
	}
}

/* ---- round trip through the parser ---- */

static uint32_t	 rng = 12345;

static uint32_t
rnd(void)
{
	rng = rng * 1103515245 + 12345;
	return rng >> 8;
}

/* "t X " value "\r\n" parsed; the argument's octets come back. */
static void
trip(const char *s, size_t len, bool utf8, bool nstring)
{
	struct buf		 b;
	struct imap_parser	*p = imap_parser_new(NULL);
	enum imap_parse_result	 r;
	const struct imap_arg	*a;
	const char		*tag, *name, *got;
	size_t			 pos = 0, used, n, glen;

	imap_parser_set_utf8(p, utf8);
	buf_init(&b, 1 << 16);
	buf_add_str(&b, "t X ");
	if (nstring)
		assert_int_equal(imap_fmt_nstring(&b, s, len, utf8), 0);
	else
		assert_int_equal(imap_fmt_astring(&b, s, len, utf8), 0);
	buf_add_str(&b, "\r\n");
	while ((r = imap_parse_feed(p, BUF_DATA(&b) + pos, b.len - pos,
	    &used)) == IMAP_PARSE_LITERAL) {
		pos += used;
		imap_parse_literal_accept(p);
	}
	if (r != IMAP_PARSE_OK)
		print_error("did not parse: %s\n", buf_cstr(&b));
	assert_int_equal(r, IMAP_PARSE_OK);
	assert_int_equal(pos + used, b.len);
	assert_int_equal(imap_parse_command(p, &tag, &name, &a, &n), 0);
	assert_int_equal(n, 1);
	if (nstring)
		assert_true(imap_arg_nstring(&a[0], &got, &glen));
	else
		assert_true(imap_arg_astring(&a[0], &got, &glen));
	if (s == NULL) {
		assert_null(got);
	} else {
		assert_int_equal(glen, len);
		assert_memory_equal(got, s, len);
	}
	buf_clear(&b);
	imap_parser_free(&p);
}

static void
test_parse_trip(void **state)
{
	static const char	 alpha[] = "aZ09 ()\"\\{}%*]~&+\r\n\t\x7f\x01"
	    "\xc3\xa9\xe6\x97\xa5\xff";
	char			 s[1200];
	size_t			 i, k, len;

	trip(NULL, 0, false, true);
	for (i = 0; i < sizeof(astrings) / sizeof(astrings[0]); i++) {
		if (astrings[i].want == NULL)
			continue;
		trip(astrings[i].in, strlen(astrings[i].in),
		    astrings[i].utf8, false);
	}
	for (i = 0; i < 3000; i++) {
		len = rnd() % (i % 10 == 0 ? sizeof(s) : 12);
		for (k = 0; k < len; k++)
			s[k] = alpha[rnd() % (sizeof(alpha) - 1)];
		trip(s, len, i % 2, false);
		trip(s, len, i % 3 == 0, true);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_astring),
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_nstring_nil),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_quoted_literal),
		cmocka_unit_test(test_max),
		cmocka_unit_test(test_parse_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
