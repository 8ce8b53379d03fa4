/*
 * Unit tests for lib/mime_text.c: the searchable text of a message (the
 * words of messages.fts) and the tsquery of a search string.
 *
 * Messages are written with "\n" and run with CRLF line ends too (the
 * text must not depend on them).  Every case also goes through the fuzz
 * target's checks (included below), with every room from 0 to past the
 * text's length.
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
#include "mime.h"

#include "../fuzz/fuzz_mime_text.c"

struct tcase {
	const char	*name;
	const char	*msg;
	const char	*want;		/* the whole text */
};

static const struct tcase cases[] = {
	{ "empty", "", "" },
	{ "plain",
	    "From: Alice <alice@example.com>\n"
	    "Subject: Hello, World!\n"
	    "\n"
	    "The quick brown fox.\n",
	    "from alice alice example com subject hello world "
	    "the quick brown fox" },
	{ "encoded-word subject",
	    "Subject: =?UTF-8?B?w4lDT0xF?= =?ISO-8859-1?Q?caf=E9?= x\n"
	    "\n",
	    "subject écolecafé x" },
	{ "base64 body",
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "U2VjcmV0IHdvcmQ6IHBpbmVhcHBsZQ==\n",
	    "content type text plain charset utf 8 "
	    "content transfer encoding base64 secret word pineapple" },
	{ "quoted-printable latin-1",
	    "Content-Type: text/plain; charset=iso-8859-1\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "\n"
	    "Gr=FC=DFe aus K=D6LN, na=EFve=\n"
	    "ly\n",
	    "content type text plain charset iso 8859 1 "
	    "content transfer encoding quoted printable "
	    "grüße aus köln naïvely" },
	{ "html and image parts",
	    "Content-Type: multipart/mixed; boundary=XX\n"
	    "\n"
	    "--XX\n"
	    "Content-Type: text/html\n"
	    "\n"
	    "<p>Bonjour&nbsp;<b>monde</b></p>\n"
	    "--XX\n"
	    "Content-Type: image/png\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "aW1hZ2VkYXRh\n"
	    "--XX--\n",
	    "content type multipart mixed boundary xx "
	    "content type text html p bonjour nbsp b monde b p "
	    "content type image png content transfer encoding base64" },
	{ "message/rfc822 inside",
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "Subject: inner\n"
	    "\n"
	    "inner body\n",
	    "content type message rfc822 subject inner inner body" },
	{ "folded field and case",
	    "X-Long: one\n"
	    "\ttwo THREE\n"
	    "\n"
	    "ΣΟΦΙΑ Ÿ ПРИВЕТ\n",
	    "x long one two three σοφια ÿ привет" },
	{ "leading continuation kept",
	    "\t=?utf-8?q?ab?=\n"
	    " =?utf-8?q?cd?=\n"
	    "Subject: s\n"
	    "\n",
	    "abcd subject s" },
	{ "lines without colon skipped",
	    "From: a\n"
	    "garbage line\n"
	    ": empty name\n"
	    "\n"
	    "b\n",
	    "from a b" },
	{ "no header, no body",
	    "just text\n",
	    "" },
	/* as SEARCH sees them: U+FFFD, a word character */
	{ "invalid octets and controls",
	    "Subject: a\xff" "b\n"
	    "\n"
	    "c\x01" "d e\xc3" "f\n",
	    "subject a\xef\xbf\xbd" "b c d e\xef\xbf\xbd" "f" },
	{ "digits and punctuation",
	    "\n"
	    "v1.2.3-rc_4 [x](y) user+tag@host.example 50%\n",
	    "v1 2 3 rc 4 x y user tag host example 50" },
};
#define NCASES	(sizeof(cases) / sizeof(cases[0]))

/* "\n" to "\r\n". */
static char *
crlf(const char *s)
{
	struct buf	 b;

	buf_init(&b, SIZE_MAX / 2);
	for (; *s != '\0'; s++) {
		if (*s == '\n')
			buf_add_u8(&b, '\r');
		buf_add_u8(&b, (uint8_t)*s);
	}
	return buf_steal(&b, NULL);
}

static void
check_text(const char *msg, const char *want, const char *name)
{
	struct buf	 out;

	buf_init(&out, SIZE_MAX / 2);
	assert_int_equal(mime_search_text((const uint8_t *)msg, strlen(msg),
	    &out, SIZE_MAX / 2), 0);
	if (strcmp(buf_cstr(&out), want) != 0)
		fail_msg("%s: got \"%s\" want \"%s\"", name, buf_cstr(&out),
		    want);
	buf_clear(&out);
	for (size_t room = 0; room <= strlen(want) + 1; room++)
		ft_check_text((const uint8_t *)msg, strlen(msg), room);
	ft_check_query((const uint8_t *)msg, strlen(msg));
}

static void
test_cases(void **state)
{
	char	*m;

	(void)state;
	for (size_t i = 0; i < NCASES; i++) {
		check_text(cases[i].msg, cases[i].want, cases[i].name);
		m = crlf(cases[i].msg);
		check_text(m, cases[i].want, cases[i].name);
		free(m);
	}
}

/* A cut text: -1, a prefix of the whole within the room. */
static void
test_room(void **state)
{
	const char	*msg = "Subject: alpha beta gamma\n\n";
	struct buf	 out;

	(void)state;
	buf_init(&out, SIZE_MAX / 2);
	assert_int_equal(mime_search_text((const uint8_t *)msg, strlen(msg),
	    &out, 13), -1);
	assert_string_equal(buf_cstr(&out), "subject alpha");
	buf_reset(&out);
	assert_int_equal(mime_search_text((const uint8_t *)msg, strlen(msg),
	    &out, 30), 0);
	assert_string_equal(buf_cstr(&out), "subject alpha beta gamma");
	buf_reset(&out);
	assert_int_equal(mime_search_text((const uint8_t *)msg, strlen(msg),
	    &out, 24), 0);		/* exactly */
	buf_reset(&out);
	assert_int_equal(mime_search_text((const uint8_t *)msg, strlen(msg),
	    &out, 23), -1);
	buf_clear(&out);
	/* out's own maximum counts too */
	buf_init(&out, 10);
	assert_int_equal(mime_search_text((const uint8_t *)msg, strlen(msg),
	    &out, 1000), -1);
	assert_true(out.len <= 10);
	buf_clear(&out);
}

/* Appending: a space between what was there and the words. */
static void
test_append(void **state)
{
	const char	*msg = "Subject: b\n\nc\n";
	struct buf	 out;

	(void)state;
	buf_init(&out, SIZE_MAX / 2);
	buf_add_str(&out, "a");
	assert_int_equal(mime_search_text((const uint8_t *)msg, strlen(msg),
	    &out, 100), 0);
	assert_string_equal(buf_cstr(&out), "a subject b c");
	assert_int_equal(mime_text_words(&out, "--D--", 5, 100), 0);
	assert_string_equal(buf_cstr(&out), "a subject b c d");
	assert_int_equal(mime_text_words(&out, "...", 3, 100), 0);
	assert_string_equal(buf_cstr(&out), "a subject b c d");
	assert_int_equal(mime_text_words(&out, "e f", 3, 2), -1);
	buf_clear(&out);
}

/* NUL in a body is U+FFFD (lib/mime), in a name a separator. */
static void
test_nul(void **state)
{
	static const char	 msg[] = "X\0Y: v\n\na\0b\n";
	struct buf		 out;

	(void)state;
	buf_init(&out, SIZE_MAX / 2);
	assert_int_equal(mime_search_text((const uint8_t *)msg,
	    sizeof(msg) - 1, &out, 100), 0);
	assert_string_equal(buf_cstr(&out), "x y v a\xef\xbf\xbd" "b");
	buf_clear(&out);
	ft_check_text((const uint8_t *)msg, sizeof(msg) - 1, 5);
	ft_check_query((const uint8_t *)msg, sizeof(msg) - 1);
}

/* Long words: pieces of at most MIME_TEXT_WORD_MAX, whole characters. */
static void
test_long_words(void **state)
{
	struct buf	 in, out;
	const char	*p;

	(void)state;
	buf_init(&in, SIZE_MAX / 2);
	buf_init(&out, SIZE_MAX / 2);
	buf_add_str(&in, "x");
	for (int i = 0; i < MIME_TEXT_WORD_MAX; i++)
		buf_add_str(&in, "\xc3\x89");		/* É */
	assert_int_equal(mime_text_words(&out, BUF_DATA(&in), in.len,
	    SIZE_MAX / 2), 0);
	p = buf_cstr(&out);
	/* "x" + 99 é = 199 octets, then a space, 100 é, a space, 1 é */
	assert_int_equal(out.len, 1 + 2 * MIME_TEXT_WORD_MAX + 2);
	assert_int_equal(p[1 + 2 * 99], ' ');
	assert_memory_equal(p + 1, "\xc3\xa9", 2);
	assert_true(ft_words_ok(BUF_DATA(&out), out.len));
	buf_reset(&out);
	buf_reset(&in);
	for (int i = 0; i < MIME_TEXT_WORD_MAX + 1; i++)
		buf_add_str(&in, "a");
	assert_int_equal(mime_text_words(&out, BUF_DATA(&in), in.len,
	    SIZE_MAX / 2), 0);
	assert_int_equal(out.len, MIME_TEXT_WORD_MAX + 2);
	assert_int_equal(buf_cstr(&out)[MIME_TEXT_WORD_MAX], ' ');
	buf_clear(&in);
	buf_clear(&out);
}

struct qcase {
	const char	*in;
	int		 n;
	const char	*want;
};

static const struct qcase qcases[] = {
	{ "hello", 1, "'hello':*" },
	{ "Hello World", 2, "'hello':* & 'world':*" },
	{ "a & b", 2, "'a':* & 'b':*" },
	{ "x:*", 1, "'x':*" },
	{ "!", 0, "" },
	{ "'", 0, "" },
	{ "\\", 0, "" },
	{ "", 0, "" },
	{ "' | !x <-> (y)", 2, "'x':* & 'y':*" },
	{ "it's", 2, "'it':* & 's':*" },
	{ "a\\'b", 2, "'a':* & 'b':*" },
	{ "user@example.com", 3, "'user':* & 'example':* & 'com':*" },
	{ "CAFÉ", 1, "'café':*" },
	{ "\xff\xfe", 0, "" },
};
#define NQCASES	(sizeof(qcases) / sizeof(qcases[0]))

static void
test_tsquery(void **state)
{
	struct buf	 out;

	(void)state;
	for (size_t i = 0; i < NQCASES; i++) {
		buf_init(&out, SIZE_MAX / 2);
		assert_int_equal(mime_text_tsquery(&out, qcases[i].in,
		    strlen(qcases[i].in)), qcases[i].n);
		if (strcmp(buf_cstr(&out), qcases[i].want) != 0)
			fail_msg("%s: got \"%s\"", qcases[i].in,
			    buf_cstr(&out));
		buf_clear(&out);
		ft_check_query((const uint8_t *)qcases[i].in,
		    strlen(qcases[i].in));
	}
}

/* Only the first MIME_TEXT_QUERY_WORDS words. */
static void
test_tsquery_many(void **state)
{
	struct buf	 in, out;

	(void)state;
	buf_init(&in, SIZE_MAX / 2);
	buf_init(&out, SIZE_MAX / 2);
	for (int i = 0; i < 100; i++)
		buf_printf(&in, "w%d ", i);
	assert_int_equal(mime_text_tsquery(&out, buf_cstr(&in), in.len),
	    MIME_TEXT_QUERY_WORDS);
	assert_non_null(strstr(buf_cstr(&out), "'w31':*"));
	assert_null(strstr(buf_cstr(&out), "'w32':*"));
	ft_check_query(BUF_DATA(&in), in.len);
	buf_clear(&in);
	buf_clear(&out);
}

/* The checks themselves catch what they must. */
static void
test_checks(void **state)
{
	(void)state;
	assert_true(ft_words_ok((const uint8_t *)"a b", 3));
	assert_true(ft_words_ok((const uint8_t *)"", 0));
	assert_false(ft_words_ok((const uint8_t *)"a  b", 4));
	assert_false(ft_words_ok((const uint8_t *)" a", 2));
	assert_false(ft_words_ok((const uint8_t *)"a ", 2));
	assert_false(ft_words_ok((const uint8_t *)"A", 1));
	assert_false(ft_words_ok((const uint8_t *)"a-b", 3));
	assert_false(ft_words_ok((const uint8_t *)"\xc3", 1));
	assert_false(ft_words_ok((const uint8_t *)"\xed\xa0\x80", 3));
	assert_true(ft_tsquery_ok("'a':* & 'b':*", 13, "a b", 3, 2));
	assert_false(ft_tsquery_ok("'a':* | 'b':*", 13, "a b", 3, 2));
	assert_false(ft_tsquery_ok("'a':*", 5, "a b", 3, 1));
	assert_false(ft_tsquery_ok("'ab':*", 6, "a b", 3, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_room),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_long_words),
		cmocka_unit_test(test_tsquery),
		cmocka_unit_test(test_tsquery_many),
		cmocka_unit_test(test_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
