/* Unit tests for lib/sasl.c: strict base64, PLAIN, LOGIN, names, cancel. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "buf.h"
#include "log.h"
#include "sasl.h"

/* A string literal and its length, embedded NULs included. */
#define M(s)	s, sizeof(s) - 1

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static jmp_buf	fatal_jmp;
static int	log_lines;

static void
fatal_hook(void)
{
	longjmp(fatal_jmp, 1);
}

static void
count_hook(enum log_level level, const char *msg, void *arg)
{
	log_lines++;
}

/* All n octets of p are zero. */
static void
assert_zero(const void *p, size_t n)
{
	const uint8_t	*s = p;
	size_t		 i;

	for (i = 0; i < n; i++)
		assert_int_equal(s[i], 0);
}

/* xorshift32: the same "random" bytes on every run. */
static uint32_t
next_rand(uint32_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 17;
	*st ^= *st << 5;
	return *st;
}

/* The 6-bit value of c, by position in the alphabet; -1 if not in it. */
static int
alpha_value(int c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(alphabet, c)) == NULL)
		return -1;
	return (int)(p - alphabet);
}

/*
 * Base64.
 */

struct b64_ok {
	const char	*in;
	const char	*out;
	size_t		 outlen;
};

static const struct b64_ok b64_ok[] = {
	{ "", M("") },
	/* RFC 4648 §10 test vectors. */
	{ "Zg==", M("f") },
	{ "Zm8=", M("fo") },
	{ "Zm9v", M("foo") },
	{ "Zm9vYg==", M("foob") },
	{ "Zm9vYmE=", M("fooba") },
	{ "Zm9vYmFy", M("foobar") },
	{ "QQ==", M("A") },
	{ "QUI=", M("AB") },
	{ "QUJD", M("ABC") },
	{ "QUJDRA==", M("ABCD") },
	{ "AA==", M("\0") },
	{ "AAA=", M("\0\0") },
	{ "AAAA", M("\0\0\0") },
	{ "////", M("\xff\xff\xff") },
	{ "++++", M("\xfb\xef\xbe") },
	{ "/w==", M("\xff") },
	{ "//8=", M("\xff\xff") },
	{ "AGFsaWNlAHNlY3JldA==", M("\0alice\0secret") },
	{ SASL_LOGIN_USER_PROMPT, M("Username:") },
	{ SASL_LOGIN_PASS_PROMPT, M("Password:") },
};

struct b64_bad {
	const char	*in;
	size_t		 len;
};

static const struct b64_bad b64_bad[] = {
	/* Non-zero pad bits: a second encoding of the same octets. */
	{ M("QR==") },
	{ M("QT==") },
	{ M("Q/==") },
	{ M("QUJ=") },
	{ M("QUK=") },
	{ M("QUL=") },
	{ M("Zm9=") },
	{ M("Zh==") },
	{ M("AB==") },
	{ M("AAB=") },
	/* Length. */
	{ M("Q") },
	{ M("QQ") },
	{ M("QQ=") },
	{ M("QUJ") },
	{ M("QUJDR") },
	{ M("QUJD=") },
	{ M("QUJDQQ=") },
	/* '=' where it may not be. */
	{ M("=") },
	{ M("==") },
	{ M("====") },
	{ M("Q===") },
	{ M("=QQQ") },
	{ M("Q=Q=") },
	{ M("QU=D") },
	{ M("QQ==QUJD") },
	{ M("QQ==QQ==") },
	{ M("QUJD====") },
	{ M("=QUJ") },
	/* White space and line ends. */
	{ M(" QQ=") },
	{ M("QQ= ") },
	{ M("Q Q=") },
	{ M("QUJD    ") },
	{ M("QU\tD") },
	{ M("QQ==\r\n") },
	{ M("QUJD\r\n") },
	{ M("QUJD\nQUJD") },
	{ M("QU\rD") },
	/* Outside the alphabet: base64url, NUL, 8-bit, punctuation. */
	{ M("QUJ-") },
	{ M("QUJ_") },
	{ M("QU\0D") },
	{ M("\0\0\0\0") },
	{ M("QUJ\x80") },
	{ M("QUJ\xff") },
	{ M("QUJ.") },
	{ M("QUJ*") },
	{ M("*") },
	{ M("QUJ:") },
};

static void
test_b64_decode_ok(void **state)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 1024);
	for (i = 0; i < sizeof(b64_ok) / sizeof(b64_ok[0]); i++) {
		buf_reset(&b);
		if (sasl_b64_decode(b64_ok[i].in, strlen(b64_ok[i].in),
		    &b) != 0)
			fail_msg("decode \"%s\"", b64_ok[i].in);
		assert_int_equal(b.len, b64_ok[i].outlen);
		if (b.len > 0)
			assert_memory_equal(BUF_DATA(&b), b64_ok[i].out,
			    b.len);
		/* And it is the one encoding of those octets. */
		buf_reset(&b);
		assert_int_equal(sasl_b64_encode(b64_ok[i].out,
		    b64_ok[i].outlen, &b), 0);
		assert_string_equal(buf_cstr(&b), b64_ok[i].in);
		assert_int_equal(b.len, SASL_B64_LEN(b64_ok[i].outlen));
	}
	buf_clear(&b);
}

static void
test_b64_decode_bad(void **state)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 1024);
	assert_int_equal(buf_add_str(&b, "keep"), 0);
	for (i = 0; i < sizeof(b64_bad) / sizeof(b64_bad[0]); i++) {
		if (sasl_b64_decode(b64_bad[i].in, b64_bad[i].len, &b) != -1)
			fail_msg("accepted bad base64 #%zu", i);
		/* All or nothing: what was there stays, nothing added. */
		assert_int_equal(b.len, 4);
		assert_string_equal(buf_cstr(&b), "keep");
	}
	buf_clear(&b);
}

/* Decoding appends to what the buffer holds. */
static void
test_b64_append(void **state)
{
	struct buf	 b;

	buf_init(&b, 64);
	assert_int_equal(buf_add_str(&b, "x:"), 0);
	assert_int_equal(sasl_b64_decode(M("QUJD"), &b), 0);
	assert_int_equal(sasl_b64_encode(M("A"), &b), 0);
	assert_int_equal(sasl_b64_decode(M(""), &b), 0);
	assert_int_equal(sasl_b64_encode(M(""), &b), 0);
	assert_string_equal(buf_cstr(&b), "x:ABCQQ==");
	buf_clear(&b);
}

/* Over the buffer's maximum: -1, buffer unchanged. */
static void
test_b64_max(void **state)
{
	struct buf	 b;

	buf_init(&b, 4);
	assert_int_equal(buf_add_str(&b, "z"), 0);
	assert_int_equal(sasl_b64_decode(M("QUJDRA=="), &b), -1);
	assert_string_equal(buf_cstr(&b), "z");
	assert_int_equal(sasl_b64_decode(M("QUJD"), &b), 0);
	assert_string_equal(buf_cstr(&b), "zABC");
	assert_int_equal(sasl_b64_decode(M("QQ=="), &b), -1);
	assert_string_equal(buf_cstr(&b), "zABC");
	buf_reset(&b);
	assert_int_equal(sasl_b64_encode(M("ABCD"), &b), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(sasl_b64_encode(M("ABC"), &b), 0);
	assert_string_equal(buf_cstr(&b), "QUJD");
	assert_int_equal(sasl_b64_encode(M("A"), &b), -1);
	assert_string_equal(buf_cstr(&b), "QUJD");
	buf_clear(&b);
	/* A size whose encoding does not fit in size_t. */
	buf_init(&b, SIZE_MAX);
	assert_int_equal(sasl_b64_encode("", SIZE_MAX / 4 * 3 + 3, &b), -1);
	assert_int_equal(b.len, 0);
	buf_clear(&b);
}

/* Every octet in every position of a full quantum. */
static void
test_b64_every_octet(void **state)
{
	struct buf	 b;
	char		 q[4];
	size_t		 pos;
	int		 c, rc;

	buf_init(&b, 16);
	for (pos = 0; pos < 4; pos++) {
		for (c = 0; c < 256; c++) {
			memcpy(q, "QUJD", 4);
			q[pos] = (char)c;
			buf_reset(&b);
			rc = sasl_b64_decode(q, 4, &b);
			if (alpha_value(c) >= 0)
				assert_int_equal(rc, 0);
			else if (rc != -1)
				fail_msg("accepted octet %d at %zu", c, pos);
		}
	}
	buf_clear(&b);
}

/*
 * All "XY==" and "XYZ=": accepted exactly when the pad bits are zero,
 * and then the encoding of the result gives the input back.
 */
static void
test_b64_padding_exhaustive(void **state)
{
	struct buf	 d, e;
	char		 q[5];
	int		 x, y, z, rc, accepted = 0;

	buf_init(&d, 16);
	buf_init(&e, 16);
	q[4] = '\0';
	for (x = 0; x < 64; x++)
		for (y = 0; y < 64; y++)
			for (z = -1; z < 64; z++) {
				q[0] = alphabet[x];
				q[1] = alphabet[y];
				q[2] = z == -1 ? '=' : alphabet[z];
				q[3] = '=';
				buf_reset(&d);
				buf_reset(&e);
				rc = sasl_b64_decode(q, 4, &d);
				if (rc != ((z == -1 ? (y & 0x0f) : (z & 0x03))
				    == 0 ? 0 : -1))
					fail_msg("\"%s\" rc %d", q, rc);
				if (rc != 0)
					continue;
				accepted++;
				assert_int_equal(d.len, z == -1 ? 1 : 2);
				assert_int_equal(sasl_b64_encode(BUF_DATA(&d),
				    d.len, &e), 0);
				assert_string_equal(buf_cstr(&e), q);
			}
	/* 256 one-octet strings, 65536 two-octet strings: one each. */
	assert_int_equal(accepted, 256 + 65536);
	buf_clear(&d);
	buf_clear(&e);
}

/* Random octets of every length 0..64, checked against OpenSSL. */
static void
test_b64_round_trip(void **state)
{
	struct buf	 e, d;
	uint8_t		 in[64];
	unsigned char	 ref[SASL_B64_LEN(64) + 1];
	uint32_t	 st = 0x9e3779b9;
	size_t		 len, i, round;
	int		 n;

	buf_init(&e, SASL_B64_LEN(64));
	buf_init(&d, 64);
	for (round = 0; round < 16; round++) {
		for (len = 0; len <= 64; len++) {
			for (i = 0; i < len; i++)
				in[i] = (uint8_t)next_rand(&st);
			buf_reset(&e);
			buf_reset(&d);
			assert_int_equal(sasl_b64_encode(in, len, &e), 0);
			assert_int_equal(e.len, SASL_B64_LEN(len));
			n = EVP_EncodeBlock(ref, in, (int)len);
			assert_int_equal((size_t)n, e.len);
			assert_string_equal(buf_cstr(&e), (char *)ref);
			assert_int_equal(sasl_b64_decode((char *)BUF_DATA(&e),
			    e.len, &d), 0);
			assert_int_equal(d.len, len);
			if (len > 0)
				assert_memory_equal(BUF_DATA(&d), in, len);
		}
	}
	buf_clear(&e);
	buf_clear(&d);
}

/*
 * PLAIN.
 */

struct plain_ok {
	const char	*msg;
	size_t		 len;
	const char	*authzid;
	const char	*authcid;
	const char	*passwd;
};

static const struct plain_ok plain_ok[] = {
	{ M("\0alice\0secret"), "", "alice", "secret" },
	{ M("bob\0alice\0secret"), "bob", "alice", "secret" },
	{ M("alice\0alice\0secret"), "alice", "alice", "secret" },
	{ M("\0a\0b"), "", "a", "b" },
	{ M("\0alice@example.com\0s3cr3t"), "", "alice@example.com",
	    "s3cr3t" },
	{ M("\0al ice\0pass word"), "", "al ice", "pass word" },
	{ M("\0j\xc3\xbcrgen\0pw"), "", "j\xc3\xbcrgen", "pw" },
	{ M("\xe2\x82\xac\0\xf0\x9f\x93\xa7\0pw"), "\xe2\x82\xac",
	    "\xf0\x9f\x93\xa7", "pw" },
	/* The password: any octet but NUL (8-bit, controls, bad UTF-8). */
	{ M("\0alice\0\xff\xfe\x01\x7f"), "", "alice", "\xff\xfe\x01\x7f" },
	{ M("\0alice\0p\xe4sswort"), "", "alice", "p\xe4sswort" },
	{ M("\0alice\0\r\n\t"), "", "alice", "\r\n\t" },
	{ M("\0alice\0 "), "", "alice", " " },
	{ M("\0*\0*"), "", "*", "*" },
};

struct plain_bad {
	const char	*msg;
	size_t		 len;
	const char	*why;
};

static const struct plain_bad plain_bad[] = {
	{ M(""), "missing NUL" },
	{ M("alice"), "missing NUL" },
	{ M("alice\0secret"), "missing NUL" },
	{ M("\0alice"), "missing NUL" },
	{ M("\0"), "missing NUL" },
	{ M("\0alice\0secret\0"), "extra NUL" },
	{ M("\0alice\0sec\0ret"), "extra NUL" },
	{ M("a\0b\0c\0d"), "extra NUL" },
	{ M("\0a\0b\0\0"), "extra NUL" },
	{ M("\0\0secret"), "empty authcid" },
	{ M("\0\0"), "empty authcid" },
	{ M("\0\0\0"), "empty authcid" },
	{ M("bob\0\0secret"), "empty authcid" },
	{ M("\0alice\0"), "empty password" },
	{ M("bob\0alice\0"), "empty password" },
	{ M("\0al\xffice\0pw"), "authcid not UTF-8" },
	{ M("\0\xc0\xaf\0pw"), "authcid not UTF-8" },		/* overlong */
	{ M("\0\xed\xa0\x80\0pw"), "authcid not UTF-8" },	/* surrogate */
	{ M("\0\xf4\x90\x80\x80\0pw"), "authcid not UTF-8" },	/* > 10FFFF */
	{ M("\0al\xc3\0pw"), "authcid not UTF-8" },		/* truncated */
	{ M("\0\x80\0pw"), "authcid not UTF-8" },
	{ M("z\xff\0alice\0pw"), "authzid not UTF-8" },
	{ M("\xe2\x82\0alice\0pw"), "authzid not UTF-8" },
	{ M("\0al\tice\0pw"), "control character in authcid" },
	{ M("\0alice\x7f\0pw"), "control character in authcid" },
	{ M("\0alice\r\n\0pw"), "control character in authcid" },
	{ M("\0\x1b[0m\0pw"), "control character in authcid" },
	{ M("a\x01\0alice\0pw"), "control character in authzid" },
	{ M("\n\0alice\0pw"), "control character in authzid" },
};

static void
fill(struct sasl_plain *p)
{
	memset(p, 0xa5, sizeof(*p));
}

static void
test_plain_ok(void **state)
{
	struct sasl_plain	 p;
	const char		*why;
	size_t			 i;

	for (i = 0; i < sizeof(plain_ok) / sizeof(plain_ok[0]); i++) {
		fill(&p);
		why = NULL;
		if (sasl_plain_parse((const uint8_t *)plain_ok[i].msg,
		    plain_ok[i].len, &p, &why) != 0)
			fail_msg("case %zu: %s", i, why);
		assert_null(why);
		assert_string_equal(p.authzid, plain_ok[i].authzid);
		assert_string_equal(p.authcid, plain_ok[i].authcid);
		assert_string_equal(p.passwd, plain_ok[i].passwd);
		/* why_r may be NULL. */
		assert_int_equal(sasl_plain_parse((const uint8_t *)
		    plain_ok[i].msg, plain_ok[i].len, &p, NULL), 0);
		sasl_plain_clear(&p);
		assert_zero(&p, sizeof(p));
	}
}

static void
test_plain_bad(void **state)
{
	struct sasl_plain	 p;
	const char		*why;
	size_t			 i;

	for (i = 0; i < sizeof(plain_bad) / sizeof(plain_bad[0]); i++) {
		fill(&p);
		why = NULL;
		if (sasl_plain_parse((const uint8_t *)plain_bad[i].msg,
		    plain_bad[i].len, &p, &why) != -1)
			fail_msg("case %zu accepted", i);
		assert_non_null(why);
		assert_string_equal(why, plain_bad[i].why);
		assert_zero(&p, sizeof(p));
		fill(&p);
		assert_int_equal(sasl_plain_parse((const uint8_t *)
		    plain_bad[i].msg, plain_bad[i].len, &p, NULL), -1);
		assert_zero(&p, sizeof(p));
	}
}

/*
 * Build authzid NUL authcid NUL passwd of the given field lengths
 * (filled with 'z', 'c', 'p') into msg; returns the length.
 */
static size_t
plain_build(uint8_t *msg, size_t zlen, size_t clen, size_t plen)
{
	memset(msg, 'z', zlen);
	msg[zlen] = '\0';
	memset(msg + zlen + 1, 'c', clen);
	msg[zlen + 1 + clen] = '\0';
	memset(msg + zlen + clen + 2, 'p', plen);
	return zlen + clen + plen + 2;
}

struct plain_len {
	size_t		 zlen, clen, plen;
	const char	*why;		/* NULL: accepted */
};

static const struct plain_len plain_len[] = {
	{ SASL_FIELD_MAX, SASL_FIELD_MAX, SASL_PASSWORD_MAX, NULL },
	{ 0, SASL_FIELD_MAX, 1, NULL },
	{ SASL_FIELD_MAX + 1, 1, 1, "authzid too long" },
	{ 1, SASL_FIELD_MAX + 1, 1, "authcid too long" },
	{ 0, 1, SASL_PASSWORD_MAX + 1, "password too long" },
	{ 4000, 4000, 4000, "authzid too long" },
	{ 0, 1, 4000, "password too long" },
};

static void
test_plain_lengths(void **state)
{
	static uint8_t		 msg[3 * 4000 + 2];
	struct sasl_plain	 p;
	const struct plain_len	*t;
	const char		*why;
	size_t			 i, len;
	int			 rc;

	for (i = 0; i < sizeof(plain_len) / sizeof(plain_len[0]); i++) {
		t = &plain_len[i];
		len = plain_build(msg, t->zlen, t->clen, t->plen);
		fill(&p);
		why = NULL;
		rc = sasl_plain_parse(msg, len, &p, &why);
		if (t->why != NULL) {
			assert_int_equal(rc, -1);
			assert_string_equal(why, t->why);
			assert_zero(&p, sizeof(p));
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(len <= SASL_PLAIN_MSG_MAX, 1);
		assert_int_equal(strlen(p.authzid), t->zlen);
		assert_int_equal(strlen(p.authcid), t->clen);
		assert_int_equal(strlen(p.passwd), t->plen);
		sasl_plain_clear(&p);
	}
}

/* What smtpd does: decode the AUTH PLAIN response, then parse it. */
static void
test_plain_from_base64(void **state)
{
	struct buf		 b;
	struct sasl_plain	 p;
	const char		*why = NULL;

	buf_init(&b, SASL_PLAIN_MSG_MAX);
	assert_int_equal(sasl_b64_decode(M("dGVzdAB0ZXN0AHRlc3RwYXNz"), &b),
	    0);
	assert_int_equal(sasl_plain_parse(BUF_DATA(&b), b.len, &p, &why), 0);
	assert_string_equal(p.authzid, "test");
	assert_string_equal(p.authcid, "test");
	assert_string_equal(p.passwd, "testpass");
	sasl_plain_clear(&p);
	buf_wipe(&b);
}

/*
 * LOGIN.
 */

struct login_case {
	const char	*msg;
	size_t		 len;
	bool		 password;
	const char	*why;		/* NULL: accepted as msg */
};

static const struct login_case login_cases[] = {
	{ M("alice"), false, NULL },
	{ M("alice@example.com"), false, NULL },
	{ M("al ice"), false, NULL },
	{ M("j\xc3\xbcrgen"), false, NULL },
	{ M("*"), false, NULL },
	{ M(""), false, "empty user name" },
	{ M("al\0ice"), false, "NUL in user name" },
	{ M("alice\0"), false, "NUL in user name" },
	{ M("\0"), false, "NUL in user name" },
	{ M("al\xffice"), false, "user name not UTF-8" },
	{ M("\xc0\xaf"), false, "user name not UTF-8" },
	{ M("\xed\xa0\x80"), false, "user name not UTF-8" },
	{ M("a\tb"), false, "control character in user name" },
	{ M("alice\r\n"), false, "control character in user name" },
	{ M("a\x7f"), false, "control character in user name" },
	{ M("secret"), true, NULL },
	{ M(" "), true, NULL },
	{ M("\xff\x01\x7f"), true, NULL },
	{ M("p\xe4sswort"), true, NULL },
	{ M("pass\r\n"), true, NULL },
	{ M(""), true, "empty password" },
	{ M("se\0cret"), true, "NUL in password" },
	{ M("secret\0"), true, "NUL in password" },
};

static void
test_login_cases(void **state)
{
	const struct login_case	*t;
	char			 out[SASL_PASSWORD_MAX + 1];
	const char		*why;
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof(login_cases) / sizeof(login_cases[0]); i++) {
		t = &login_cases[i];
		memset(out, 0xa5, sizeof(out));
		why = NULL;
		rc = sasl_login_field((const uint8_t *)t->msg, t->len, out,
		    sizeof(out), t->password, &why);
		if (t->why == NULL) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, why);
			assert_null(why);
			assert_int_equal(strlen(out), t->len);
			assert_memory_equal(out, t->msg, t->len);
		} else {
			if (rc != -1)
				fail_msg("case %zu accepted", i);
			assert_string_equal(why, t->why);
			assert_zero(out, sizeof(out));
		}
		assert_int_equal(sasl_login_field((const uint8_t *)t->msg,
		    t->len, out, sizeof(out), t->password, NULL), rc);
	}
}

struct login_len {
	size_t		 len;
	size_t		 outsize;
	bool		 password;
	const char	*why;
};

static const struct login_len login_len[] = {
	{ SASL_FIELD_MAX, SASL_FIELD_MAX + 1, false, NULL },
	{ SASL_FIELD_MAX + 1, SASL_PASSWORD_MAX + 1, false,
	    "user name too long" },
	{ SASL_PASSWORD_MAX, SASL_PASSWORD_MAX + 1, true, NULL },
	{ SASL_PASSWORD_MAX + 1, SASL_PASSWORD_MAX + 1, true,
	    "password too long" },
	{ 5000, SASL_PASSWORD_MAX + 1, true, "password too long" },
	/* A smaller output than the field's maximum limits it. */
	{ 5, 6, false, NULL },
	{ 5, 5, false, "user name too long" },
	{ 5, 2, true, "password too long" },
	{ 1, 2, true, NULL },
	{ 1, 1, true, "password too long" },
};

static void
test_login_lengths(void **state)
{
	static uint8_t		 msg[5000];
	static char		 out[SASL_PASSWORD_MAX + 2];
	const struct login_len	*t;
	const char		*why;
	size_t			 i;
	int			 rc;

	memset(msg, 'x', sizeof(msg));
	for (i = 0; i < sizeof(login_len) / sizeof(login_len[0]); i++) {
		t = &login_len[i];
		memset(out, 0xa5, sizeof(out));
		why = NULL;
		rc = sasl_login_field(msg, t->len, out, t->outsize,
		    t->password, &why);
		if (t->why == NULL) {
			assert_int_equal(rc, 0);
			assert_int_equal(strlen(out), t->len);
		} else {
			assert_int_equal(rc, -1);
			assert_string_equal(why, t->why);
			assert_zero(out, t->outsize);
		}
		/* Nothing is written past outsize. */
		assert_int_equal((uint8_t)out[t->outsize], 0xa5);
	}
}

/* No room even for the NUL is the caller's bug: fatal. */
static void
test_login_outsize_zero(void **state)
{
	char		 out[1] = { 'q' };
	volatile int	 fatal = 0;

	log_set_fatal_hook(fatal_hook);
	if (setjmp(fatal_jmp) == 0)
		(void)sasl_login_field((const uint8_t *)"a", 1, out, 0,
		    false, NULL);
	else
		fatal = 1;
	log_set_fatal_hook(NULL);
	assert_int_equal(fatal, 1);
	assert_int_equal(out[0], 'q');
}

/* The LOGIN exchange as smtpd runs it: prompt, response, prompt. */
static void
test_login_exchange(void **state)
{
	struct buf	 b;
	char		 user[SASL_FIELD_MAX + 1];
	char		 pass[SASL_PASSWORD_MAX + 1];

	buf_init(&b, SASL_PASSWORD_MAX);
	assert_int_equal(sasl_b64_decode(M(SASL_LOGIN_USER_PROMPT), &b), 0);
	assert_string_equal(buf_cstr(&b), "Username:");
	buf_reset(&b);
	assert_int_equal(sasl_b64_decode(M("YWxpY2U="), &b), 0);
	assert_int_equal(sasl_login_field(BUF_DATA(&b), b.len, user,
	    sizeof(user), false, NULL), 0);
	assert_string_equal(user, "alice");
	buf_reset(&b);
	assert_int_equal(sasl_b64_decode(M(SASL_LOGIN_PASS_PROMPT), &b), 0);
	assert_string_equal(buf_cstr(&b), "Password:");
	buf_reset(&b);
	assert_int_equal(sasl_b64_decode(M("c2VjcmV0"), &b), 0);
	assert_int_equal(sasl_login_field(BUF_DATA(&b), b.len, pass,
	    sizeof(pass), true, NULL), 0);
	assert_string_equal(pass, "secret");
	explicit_bzero(pass, sizeof(pass));
	buf_wipe(&b);
}

/* The parsers log nothing, so no password can reach a log. */
static void
test_no_logging(void **state)
{
	struct sasl_plain	 p;
	char			 out[SASL_PASSWORD_MAX + 1];
	size_t			 i;

	log_lines = 0;
	log_set_hook(count_hook, NULL);
	for (i = 0; i < sizeof(plain_ok) / sizeof(plain_ok[0]); i++)
		(void)sasl_plain_parse((const uint8_t *)plain_ok[i].msg,
		    plain_ok[i].len, &p, NULL);
	for (i = 0; i < sizeof(plain_bad) / sizeof(plain_bad[0]); i++)
		(void)sasl_plain_parse((const uint8_t *)plain_bad[i].msg,
		    plain_bad[i].len, &p, NULL);
	for (i = 0; i < sizeof(login_cases) / sizeof(login_cases[0]); i++)
		(void)sasl_login_field((const uint8_t *)login_cases[i].msg,
		    login_cases[i].len, out, sizeof(out),
		    login_cases[i].password, NULL);
	log_set_hook(NULL, NULL);
	sasl_plain_clear(&p);
	assert_int_equal(log_lines, 0);
}

/*
 * Mechanism names and cancel.
 */

struct mech_case {
	const char	*name;
	enum sasl_mech	 mech;
};

static const struct mech_case mech_cases[] = {
	{ "PLAIN", SASL_MECH_PLAIN },
	{ "plain", SASL_MECH_PLAIN },
	{ "Plain", SASL_MECH_PLAIN },
	{ "pLaIn", SASL_MECH_PLAIN },
	{ "LOGIN", SASL_MECH_LOGIN },
	{ "login", SASL_MECH_LOGIN },
	{ "LoGiN", SASL_MECH_LOGIN },
	/* Good names we do not implement. */
	{ "CRAM-MD5", SASL_MECH_UNKNOWN },
	{ "SCRAM-SHA-256", SASL_MECH_UNKNOWN },
	{ "SCRAM-SHA-256-PLUS", SASL_MECH_UNKNOWN },
	{ "XOAUTH2", SASL_MECH_UNKNOWN },
	{ "EXTERNAL", SASL_MECH_UNKNOWN },
	{ "ANONYMOUS", SASL_MECH_UNKNOWN },
	{ "PLAI", SASL_MECH_UNKNOWN },
	{ "PLAINX", SASL_MECH_UNKNOWN },
	{ "LOGIN_", SASL_MECH_UNKNOWN },
	{ "ABCDEFGHIJKLMNOPQRST", SASL_MECH_UNKNOWN },	/* 20 */
	/* Not sasl-mech at all. */
	{ "", SASL_MECH_UNKNOWN },
	{ "PLAIN ", SASL_MECH_UNKNOWN },
	{ " PLAIN", SASL_MECH_UNKNOWN },
	{ "PLA IN", SASL_MECH_UNKNOWN },
	{ "PLAIN\r\n", SASL_MECH_UNKNOWN },
	{ "PLAIN*", SASL_MECH_UNKNOWN },
	{ "PLAIN.", SASL_MECH_UNKNOWN },
	{ "PL\xc3\x84IN", SASL_MECH_UNKNOWN },
	{ "ABCDEFGHIJKLMNOPQRSTU", SASL_MECH_UNKNOWN },	/* 21 */
	{ "PLAINPLAINPLAINPLAINPLAIN", SASL_MECH_UNKNOWN },
	{ NULL, SASL_MECH_UNKNOWN },
};

static void
test_mech(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(mech_cases) / sizeof(mech_cases[0]); i++)
		if (sasl_mech_parse(mech_cases[i].name) != mech_cases[i].mech)
			fail_msg("mech \"%s\"", mech_cases[i].name == NULL ?
			    "(null)" : mech_cases[i].name);
	assert_string_equal(sasl_mech_name(SASL_MECH_PLAIN), "PLAIN");
	assert_string_equal(sasl_mech_name(SASL_MECH_LOGIN), "LOGIN");
	assert_null(sasl_mech_name(SASL_MECH_UNKNOWN));
	assert_int_equal(sasl_mech_parse(sasl_mech_name(SASL_MECH_PLAIN)),
	    SASL_MECH_PLAIN);
	assert_int_equal(sasl_mech_parse(sasl_mech_name(SASL_MECH_LOGIN)),
	    SASL_MECH_LOGIN);
}

struct cancel_case {
	const char	*line;
	size_t		 len;
	bool		 cancel;
};

static const struct cancel_case cancel_cases[] = {
	{ "*", 1, true },
	{ "*abc", 1, true },		/* only len octets count */
	{ "*", 0, false },
	{ "", 0, false },
	{ "**", 2, false },
	{ "* ", 2, false },
	{ " *", 2, false },
	{ "*\r\n", 3, false },
	{ "*\n", 2, false },
	{ "=", 1, false },
	{ "Kg==", 4, false },		/* base64 of "*" is a response */
	{ "x", 1, false },
};

static void
test_cancel(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(cancel_cases) / sizeof(cancel_cases[0]); i++)
		if (sasl_is_cancel(cancel_cases[i].line,
		    cancel_cases[i].len) != cancel_cases[i].cancel)
			fail_msg("cancel case %zu", i);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_decode_ok),
		cmocka_unit_test(test_b64_decode_bad),
		cmocka_unit_test(test_b64_append),
		cmocka_unit_test(test_b64_max),
		cmocka_unit_test(test_b64_every_octet),
		cmocka_unit_test(test_b64_padding_exhaustive),
		cmocka_unit_test(test_b64_round_trip),
		cmocka_unit_test(test_plain_ok),
		cmocka_unit_test(test_plain_bad),
		cmocka_unit_test(test_plain_lengths),
		cmocka_unit_test(test_plain_from_base64),
		cmocka_unit_test(test_login_cases),
		cmocka_unit_test(test_login_lengths),
		cmocka_unit_test(test_login_outsize_zero),
		cmocka_unit_test(test_login_exchange),
		cmocka_unit_test(test_no_logging),
		cmocka_unit_test(test_mech),
		cmocka_unit_test(test_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
