/*
 * test_mime_7bit — 8-bit to 7-bit MIME conversion (lib/mime_7bit.c).
 *
 * Every case also goes through the fuzz target's checks (included
 * below): output 7-bit with lines <= 998, the same part tree, and each
 * body decoding back (mime_qp_decode, mime_base64_decode) to the
 * original octets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "mime.h"

#include "../fuzz/fuzz_mime_7bit.c"

#define OUT_MAX		(1024 * 1024)

struct m7_case {
	const char	*name;
	const char	*in;
	int		 rc;
	const char	*err;		/* a substring of the error */
	const char	*has[6];	/* substrings of the output */
	const char	*hasnt[4];
};

static const struct m7_case cases[] = {
	{ "7-bit message left alone",
	  "From: a@b\r\nSubject: hi\r\n\r\nhello\r\n", 0, NULL,
	  { NULL }, { NULL } },
	{ "empty input", "", 0, NULL, { NULL }, { NULL } },
	{ "text/plain without MIME fields",
	  "From: a@b\r\n\r\ncaf\xc3\xa9 = ok \r\n", 1, NULL,
	  { "From: a@b\r\nMIME-Version: 1.0\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "caf=C3=A9 =3D ok=20\r\n" }, { NULL } },
	{ "LF line ends become CRLF hard breaks",
	  "Subject: lf\n\nl\xe9\nend\n", 1, NULL,
	  { "Subject: lf\n", "\n\nl=E9\r\nend\r\n" }, { NULL } },
	{ "8bit label replaced, MIME-Version kept",
	  "MIME-Version: 1.0\r\nContent-Transfer-Encoding:\r\n 8bit\r\n"
	  "Content-Type: text/plain; charset=iso-8859-1\r\n\r\n\xe9t\xe9\r\n",
	  1, NULL,
	  { "MIME-Version: 1.0\r\nContent-Type: text/plain; "
	    "charset=iso-8859-1\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\n\r\n=E9t=E9\r\n" },
	  { "8bit", "MIME-Version: 1.0\r\nMIME-Version" } },
	{ "control octets, lone CR, tab at the end",
	  "Subject: c\r\n\r\n\xe9\ra\x7f" "b\t\r\n", 1, NULL,
	  { "\r\n\r\n=E9=0Da=7Fb=09\r\n" }, { NULL } },
	{ "long line of a 7-bit message",
	  "Subject: long\r\n\r\n"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "4567890123456789012345678901234567890123456789012345678901234567"
	  "8901234567890123456789012345678901234567890123456789012345678901"
	  "2345678901234567890123456789012345678901234567890123456789012345"
	  "6789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "4567890123456789012345678901234567890123456789012345678901234567"
	  "8901234567890123456789012345678901234567890123456789012345678901"
	  "2345678901234567890123456789012345678901234567890123456789012345"
	  "6789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "4567890123456789012345678901234567890123456789012345678901234567"
	  "8901234567890123456789012345678901234567890123456789012345678901"
	  "2345678901234567890123456789012345678901234567890123456789012345"
	  "6789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "\r\n", 1, NULL,
	  { "quoted-printable", "=\r\n" }, { NULL } },
	{ "a soft break never starts a line with --",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"
	  "\xe9xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxx--b\r\n--b\r\n\r\n--b--\r\n--b\r\n", 1, NULL,
	  { "xxx=\r\n=2D-b\r\n--b\r\n" }, { NULL } },
	{ "application/octet-stream as base64",
	  "Content-Type: application/octet-stream\r\n\r\n\x01\xff\xfe\r\n",
	  1, NULL,
	  { "Content-Transfer-Encoding: base64\r\n\r\nAf/+DQo=\r\n" },
	  { NULL } },
	{ "multipart: QP, base64, copies, preamble, epilogue",
	  "Content-Type: multipart/mixed; boundary=\"=_b\"\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n"
	  "pr\xe9" "ambule\r\nplain preamble\r\n"
	  "--=_b\r\nContent-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9t\xc3\xa9\r\n"
	  "--=_b\r\nContent-Type: application/octet-stream\r\n\r\n"
	  "\x80\x81\r\n"
	  "--=_b\r\nContent-Type: text/plain\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\naGk=\r\n"
	  "--=_b\r\n\r\nascii part\r\n"
	  "--=_b--\r\n\xff\r\nplain epilogue\r\n", 1, NULL,
	  { "Content-Transfer-Encoding: 7bit\r\n\r\n\r\nplain preamble\r\n"
	    "--=_b\r\n",
	    "utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "=C3=A9t=C3=A9\r\n--=_b\r\n",
	    "octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	    "gIE=\r\n--=_b\r\n",
	    "Content-Transfer-Encoding: base64\r\n\r\naGk=\r\n--=_b\r\n",
	    "--=_b\r\n\r\nascii part\r\n--=_b--\r\n\r\nplain epilogue\r\n" },
	  { "8bit" } },
	{ "missing close delimiter",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	  "Content-Type: image/png\r\n\r\n\x89PNG", 1, NULL,
	  { "Content-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n" },
	  { NULL } },
	{ "message/rfc822 converted inside",
	  "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n"
	  "\r\nSubject: inner\r\nContent-Type: text/html\r\n\r\n"
	  "<p>\xe9</p>\r\n", 1, NULL,
	  { "Content-Type: message/rfc822\r\nMIME-Version: 1.0\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\nSubject: inner\r\n"
	    "Content-Type: text/html\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\n\r\n<p>=E9</p>\r\n" }, { NULL } },
	{ "message/global-delivery-status as QP",
	  "Content-Type: message/global-delivery-status\r\n\r\n"
	  "Final-Recipient: utf-8;\xc3\xa9@x\r\n", 1, NULL,
	  { "quoted-printable\r\n\r\nFinal-Recipient: utf-8;=C3=A9@x" },
	  { NULL } },
	{ "opaque base64 multipart copied",
	  "Content-Type: multipart/mixed; boundary=b\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\nLS1i\r\n"
	  "\r\n", 0, NULL, { NULL }, { NULL } },
	/* failures */
	{ "8-bit top-level header",
	  "Subject: \xc3\xa9t\xc3\xa9\r\n\r\n\xe9\r\n", -1, "8-bit header",
	  { NULL }, { NULL } },
	{ "8-bit header of a body part",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	  "Content-Description: \xe9\r\n\r\nx\r\n--b--\r\n", -1,
	  "8-bit header", { NULL }, { NULL } },
	{ "8-bit header of an enclosed message",
	  "Content-Type: message/rfc822\r\n\r\nSubject: \xe9\r\n\r\nx\r\n",
	  -1, "8-bit header", { NULL }, { NULL } },
	{ "header line over 998 octets",
	  "Subject: "
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "4567890123456789012345678901234567890123456789012345678901234567"
	  "8901234567890123456789012345678901234567890123456789012345678901"
	  "2345678901234567890123456789012345678901234567890123456789012345"
	  "6789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "4567890123456789012345678901234567890123456789012345678901234567"
	  "8901234567890123456789012345678901234567890123456789012345678901"
	  "2345678901234567890123456789012345678901234567890123456789012345"
	  "6789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "4567890123456789012345678901234567890123456789012345678901234567"
	  "8901234567890123456789012345678901234567890123456789012345678901"
	  "2345678901234567890123456789012345678901234567890123456789012345"
	  "6789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "\r\n\r\n\xe9\r\n", -1, "header line over 998", { NULL },
	  { NULL } },
	{ "message/global",
	  "Content-Type: message/global\r\n\r\nSubject: \xc3\xa9\r\n\r\nx\r\n",
	  -1, "message/global", { NULL }, { NULL } },
	{ "message/delivery-status",
	  "Content-Type: message/delivery-status\r\n\r\nX: \xe9\r\n", -1,
	  "message/delivery-status", { NULL }, { NULL } },
	{ "base64 part with 8-bit octets",
	  "Content-Transfer-Encoding: base64\r\n\r\naGk\xe9\r\n", -1,
	  "already encoded with base64", { NULL }, { NULL } },
	{ "quoted-printable part with 8-bit octets",
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n\xe9=\r\n", -1,
	  "already encoded with quoted-printable", { NULL }, { NULL } },
	{ "x-uuencode part with 8-bit octets",
	  "Content-Transfer-Encoding: x-uuencode\r\n\r\n\xe9\r\n", -1,
	  "already encoded with x-uuencode", { NULL }, { NULL } },
	{ "multipart without a boundary",
	  "Content-Type: multipart/mixed\r\n\r\n\xe9\r\n", -1,
	  "without a usable boundary", { NULL }, { NULL } },
	{ "multipart without body parts",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n\xe9\r\n", -1,
	  "without body parts", { NULL }, { NULL } },
};

#define NCASES	(sizeof(cases) / sizeof(cases[0]))

static void
test_table(void **state)
{
	for (size_t i = 0; i < NCASES; i++) {
		const struct m7_case	*t = &cases[i];
		size_t			 len = strlen(t->in);
		struct buf		 out;
		char			*err = NULL;
		int			 rc;

		print_message("%s\n", t->name);
		buf_init(&out, OUT_MAX);
		rc = mime_7bit(&out, (const uint8_t *)t->in, len, &err);
		assert_int_equal(rc, t->rc);
		if (t->err != NULL) {
			assert_non_null(err);
			assert_non_null(strstr(err, t->err));
		} else
			assert_null(err);
		for (size_t j = 0; j < 6 && t->has[j] != NULL; j++)
			assert_non_null(strstr(buf_cstr(&out), t->has[j]));
		for (size_t j = 0; j < 4 && t->hasnt[j] != NULL; j++)
			assert_null(strstr(buf_cstr(&out), t->hasnt[j]));
		assert_int_equal(m7_check((const uint8_t *)t->in, len), rc);
		free(err);
		buf_clear(&out);
	}
	(void)state;
}

/* Every encoded line within 76 octets (RFC 2045 §6.7, §6.8). */
static void
assert_lines_within(const struct buf *b, size_t from, size_t max)
{
	const char	*s = (const char *)BUF_DATA(b);
	size_t		 col = 0;

	for (size_t i = from; i < b->len; i++) {
		if (s[i] == '\r' || s[i] == '\n') {
			col = 0;
			continue;
		}
		assert_true(++col <= max);
	}
}

static void
long_body(struct buf *in, const char *hdr, size_t n)
{
	buf_add_str(in, hdr);
	for (size_t i = 0; i < n; i++)
		buf_add_u8(in, i % 97 == 0 ? '\n' : (uint8_t)(i * 7 + 3));
}

static void
test_line_lengths(void **state)
{
	const char	*hdrs[] = { "Subject: qp\r\n\r\n",
			    "Content-Type: audio/basic\r\n\r\n" };
	struct buf	 in, out;
	char		*err = NULL;
	const char	*body;

	for (size_t h = 0; h < 2; h++) {
		buf_init(&in, OUT_MAX);
		buf_init(&out, OUT_MAX);
		long_body(&in, hdrs[h], 20000);
		assert_int_equal(mime_7bit(&out, BUF_DATA(&in), in.len, &err),
		    1);
		body = strstr(buf_cstr(&out), "\r\n\r\n");
		assert_non_null(body);
		assert_lines_within(&out,
		    (size_t)(body - (const char *)BUF_DATA(&out)), 76);
		assert_int_equal(m7_check(BUF_DATA(&in), in.len), 1);
		buf_clear(&in);
		buf_clear(&out);
	}
	(void)state;
}

/* NUL octets are data like any other. */
static void
test_nul(void **state)
{
	static const uint8_t	 in[] = "Subject: n\r\n\r\na\0\xe9\r\n";
	struct buf		 out;
	char			*err = NULL;

	buf_init(&out, OUT_MAX);
	assert_int_equal(mime_7bit(&out, in, sizeof(in) - 1, &err), 1);
	assert_non_null(strstr(buf_cstr(&out), "\r\n\r\na=00=E9\r\n"));
	assert_int_equal(m7_check(in, sizeof(in) - 1), 1);
	buf_clear(&out);
	(void)state;
}

/* Deeper than MIME_DEPTH_MAX: the parser stops, so do we. */
static void
test_depth_limit(void **state)
{
	struct buf	 in, out;
	char		*err = NULL;

	buf_init(&in, OUT_MAX);
	buf_init(&out, OUT_MAX);
	for (int i = 0; i <= MIME_DEPTH_MAX + 1; i++)
		buf_printf(&in, "Content-Type: multipart/mixed; boundary=b%d"
		    "\r\n\r\n--b%d\r\n", i, i);
	buf_add_str(&in, "\r\n\xe9\r\n");
	assert_int_equal(mime_7bit(&out, BUF_DATA(&in), in.len, &err), -1);
	assert_non_null(strstr(err, "too complex"));
	assert_int_equal(m7_check(BUF_DATA(&in), in.len), -1);
	free(err);
	buf_clear(&in);
	buf_clear(&out);
	(void)state;
}

static void
test_out_max(void **state)
{
	static const char	 in[] = "Subject: x\r\n\r\n\xe9\xe9\xe9\r\n";
	struct buf		 out;
	char			*err = NULL;

	buf_init(&out, 20);
	assert_int_equal(mime_7bit(&out, (const uint8_t *)in, strlen(in),
	    &err), -1);
	assert_string_equal(err, "converted message too large");
	free(err);
	buf_clear(&out);
	(void)state;
}

/* The fd form: same octets (m7_check), write errors reported. */
static void
test_fd(void **state)
{
	static const char	 in[] = "Subject: x\r\n\r\n\xe9\r\n";
	char			*err = NULL;
	int			 fd;

	fd = open("/dev/null", O_RDONLY);
	assert_true(fd != -1);
	assert_int_equal(mime_7bit_fd(fd, (const uint8_t *)in, strlen(in),
	    &err), -1);
	assert_non_null(strstr(err, "write: "));
	free(err);
	err = NULL;
	assert_int_equal(mime_7bit_fd(fd, (const uint8_t *)"a\r\n", 3, &err),
	    0);
	assert_null(err);
	close(fd);
	(void)state;
}

/* Bigger than the fd form's buffer: flushed along the way. */
static void
test_fd_large(void **state)
{
	struct buf	 in;

	buf_init(&in, 4 * OUT_MAX);
	buf_add_str(&in, "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\n\r\n");
	long_body(&in, "", 300000);
	buf_add_str(&in, "\r\n--b\r\nContent-Type: application/x\r\n\r\n");
	long_body(&in, "", 300000);
	buf_add_str(&in, "\r\n--b--\r\n");
	assert_int_equal(m7_check(BUF_DATA(&in), in.len), 1);
	buf_clear(&in);
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_line_lengths),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_out_max),
		cmocka_unit_test(test_fd),
		cmocka_unit_test(test_fd_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
