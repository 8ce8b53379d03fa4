/*
 * Unit tests for lib/imap_utf7.c: RFC 3501 §5.1.3's example and others
 * both ways, every non-canonical or invalid form refused, round trips
 * over the whole code space, out's maximum.
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
#include "imap_utf7.h"

struct pair {
	const char	*utf7;
	const char	*utf8;
};

static const struct pair pairs[] = {
	/* RFC 3501 §5.1.3: 台北 and 日本語. */
	{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "&-", "&" },
	{ "&-&-", "&&" },
	{ "a&-b", "a&b" },
	{ " !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~",
	    " !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~" },
	/* RFC 2152's example, in the modified form. */
	{ "Hi Mom -&Jjo--!", "Hi Mom -\xe2\x98\xba-!" },
	{ "&JjomOg-", "\xe2\x98\xba\xe2\x98\xba" },
	{ "&ZeVnLIqe-&-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e&" },
	{ "&-&ZeVnLIqe-", "&\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	/* Controls are encoded. */
	{ "&AAE-", "\x01" },
	{ "&AAk-", "\t" },
	{ "&AH8-", "\x7f" },
	{ "a&AAkACgAN-b", "a\t\n\rb" },
	/* é, one to three in a run: each padding length. */
	{ "&AOk-", "\xc3\xa9" },
	{ "&AOkA6Q-", "\xc3\xa9\xc3\xa9" },
	{ "&AOkA6QDp-", "\xc3\xa9\xc3\xa9\xc3\xa9" },
	{ "a&TgA-b", "a\xe4\xb8\x80" "b" },
	/* Surrogate pairs: U+1F600, U+10FFFF, U+10000. */
	{ "&2D3eAA-", "\xf0\x9f\x98\x80" },
	{ "&2,,f,w-", "\xf4\x8f\xbf\xbf" },
	{ "&2ADcAA-", "\xf0\x90\x80\x80" },
	{ "x&2D3eAAAJ-y", "x\xf0\x9f\x98\x80\ty" },
	/* The highest BMP code point and the ones beside surrogates. */
	{ "&,,8-", "\xef\xbf\xbf" },
	{ "&1,8-", "\xed\x9f\xbf" },
	{ "&4AA-", "\xee\x80\x80" },
};

/* Not canonical or not valid modified UTF-7. */
static const char *const bad7[] = {
	"&",			/* no "-" */
	"a&",
	"&Jjo",			/* run without "-" */
	"&U,BTFw",
	"&Jjo!-",		/* not in the alphabet */
	"&Jj/-",		/* "/" is "," here */
	"&Jjo=-",		/* no padding */
	"&Jj o-",
	"&AGE-",		/* "a" encoded */
	"&ACY-",		/* "&" encoded */
	"&ACA-",		/* SP encoded */
	"&AH4-",		/* "~" encoded */
	"&AGEAYg-",
	"&AOkAYQ-",		/* é then "a" in one run */
	"&AAA-",		/* U+0000 */
	"&2D0-",		/* lone high surrogate */
	"&3gA-",		/* lone low surrogate */
	"&3gDYPQ-",		/* low then high */
	"&2D1OAA-",		/* high then not low */
	"&2D3YPQ-",		/* high then high */
	"&Jjo-&Jjo-",		/* two runs back to back */
	"&AOk-&AOk-",
	"&Jjp-",		/* non-zero padding bits */
	"&AOl-",
	"&AOkA6R-",
	"&JjoA-",		/* a character too many */
	"&AOkA-",
	"&A-",			/* no whole unit */
	"&AA-",
	"&-&AOk-&AOk-",
	"\x80",			/* raw 8-bit */
	"\xc3\xa9",
	"a\tb",			/* raw controls */
	"\x7f",
	"a\nb",
};

/* Not valid UTF-8 (RFC 3629). */
static const char *const bad8[] = {
	"\x80",
	"\xc3",
	"a\xc3",
	"\xc3\x28",
	"\xc0\xaf",		/* overlong */
	"\xe0\x80\xaf",
	"\xed\xa0\x80",		/* surrogate */
	"\xed\xbf\xbf",
	"\xf4\x90\x80\x80",	/* past U+10FFFF */
	"\xf8\x88\x80\x80\x80",
	"\xff",
};

static void
assert_conv(int (*f)(const char *, struct buf *), const char *in,
    const char *want)
{
	struct buf	 b;
	int		 r;

	buf_init(&b, 4096);
	buf_add_str(&b, "pre:");
	if ((r = f(in, &b)) != 0)
		print_error("refused: \"%s\"\n", in);
	assert_int_equal(r, 0);
	assert_int_equal(b.len, 4 + strlen(want));
	assert_memory_equal(buf_cstr(&b), "pre:", 4);
	assert_string_equal(buf_cstr(&b) + 4, want);
	buf_clear(&b);
}

static void
test_pairs(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		assert_conv(imap_utf7_to_utf8, pairs[i].utf7, pairs[i].utf8);
		assert_conv(imap_utf8_to_utf7, pairs[i].utf8, pairs[i].utf7);
	}
}

static void
assert_refused(int (*f)(const char *, struct buf *), const char *in)
{
	struct buf	 b;
	int		 r;

	buf_init(&b, 4096);
	buf_add_str(&b, "keep");
	if ((r = f(in, &b)) != -1)
		print_error("accepted: \"%s\"\n", in);
	assert_int_equal(r, -1);
	assert_string_equal(buf_cstr(&b), "keep");
	assert_int_equal(b.len, 4);
	buf_clear(&b);
}

static void
test_bad(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(bad7) / sizeof(bad7[0]); i++)
		assert_refused(imap_utf7_to_utf8, bad7[i]);
	for (i = 0; i < sizeof(bad8) / sizeof(bad8[0]); i++)
		assert_refused(imap_utf8_to_utf7, bad8[i]);
}

/* out's maximum: all-or-nothing. */
static void
test_max(void **state)
{
	struct buf	 b;
	const char	*u8 = "~peter/\xe6\x97\xa5";	/* -> ~peter/&ZeU- */

	buf_init(&b, 13);
	assert_int_equal(imap_utf8_to_utf7(u8, &b), 0);
	assert_string_equal(buf_cstr(&b), "~peter/&ZeU-");
	buf_clear(&b);
	buf_init(&b, 11);
	assert_int_equal(imap_utf8_to_utf7(u8, &b), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(imap_utf8_to_utf7("a&", &b), 0);
	assert_string_equal(buf_cstr(&b), "a&-");
	buf_clear(&b);
	buf_init(&b, 10);
	assert_int_equal(imap_utf7_to_utf8("~peter/&ZeU-", &b), 0);
	assert_string_equal(buf_cstr(&b), u8);
	buf_clear(&b);
	buf_init(&b, 9);
	assert_int_equal(imap_utf7_to_utf8("~peter/&ZeU-", &b), -1);
	assert_int_equal(b.len, 0);
	buf_clear(&b);
}

static size_t
put_cp(char *s, uint32_t cp)
{
	if (cp < 0x80) {
		s[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		s[0] = (char)(0xc0 | cp >> 6);
		s[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		s[0] = (char)(0xe0 | cp >> 12);
		s[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	s[0] = (char)(0xf0 | cp >> 18);
	s[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	s[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	s[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* utf8 -> utf7 -> utf8 and back for every scalar value, alone and in
 * runs of one to three between ASCII. */
static void
test_round_trip_all(void **state)
{
	struct buf	 a, b;
	char		 s[32];
	uint32_t	 cp;
	size_t		 n, k, r;

	buf_init(&a, 256);
	buf_init(&b, 256);
	for (cp = 1; cp <= 0x10ffff; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		r = 1 + cp % 3;
		n = 0;
		s[n++] = 'x';
		for (k = 0; k < r; k++)
			n += put_cp(s + n, cp);
		s[n++] = '&';
		s[n] = '\0';
		buf_reset(&a);
		buf_reset(&b);
		assert_int_equal(imap_utf8_to_utf7(s, &a), 0);
		assert_int_equal(imap_utf7_to_utf8(buf_cstr(&a), &b), 0);
		assert_string_equal(buf_cstr(&b), s);
	}
	buf_clear(&a);
	buf_clear(&b);
}

/* Every utf7 string of up to 4 characters from a small alphabet that
 * decodes must encode back to itself. */
static void
test_round_trip_utf7(void **state)
{
	static const char	 alpha[] = "&-AJjoZ,+9a";
	struct buf		 a, b;
	char			 s[8];
	size_t			 na = sizeof(alpha) - 1, len, i, k, x, total;
	size_t			 ok = 0;

	buf_init(&a, 256);
	buf_init(&b, 256);
	for (len = 1; len <= 5; len++) {
		total = 1;
		for (i = 0; i < len; i++)
			total *= na;
		for (k = 0; k < total; k++) {
			for (i = 0, x = k; i < len; i++, x /= na)
				s[i] = alpha[x % na];
			s[len] = '\0';
			buf_reset(&a);
			buf_reset(&b);
			if (imap_utf7_to_utf8(s, &a) == -1)
				continue;
			ok++;
			assert_int_equal(imap_utf8_to_utf7(buf_cstr(&a), &b),
			    0);
			assert_string_equal(buf_cstr(&b), s);
		}
	}
	assert_true(ok > 1000);
	buf_clear(&a);
	buf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_max),
		cmocka_unit_test(test_round_trip_all),
		cmocka_unit_test(test_round_trip_utf7),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
