/* Unit tests for lib/addr.c: RFC 5321 paths, UTF-8, xtext. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <bsd/string.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"

#define NUL_OK	ADDR_F_NULL_OK
#define PM_OK	ADDR_F_POSTMASTER_OK
#define UTF8	ADDR_F_UTF8

struct path_ok {
	const char		*in;
	int			 flags;
	const char		*local;
	const char		*domain;
	enum addr_domain_type	 type;
	bool			 quoted;
	bool			 utf8;
	const char		*formatted;	/* NULL: same as in */
};

#define NAME	ADDR_DOMAIN_NAME
#define V4	ADDR_DOMAIN_IPV4
#define V6	ADDR_DOMAIN_IPV6
#define NONE	ADDR_DOMAIN_NONE

static const struct path_ok path_ok[] = {
	{ "<a@b>", 0, "a", "b", NAME, false, false, NULL },
	{ "<user@example.com>", 0, "user", "example.com", NAME, false, false,
	    NULL },
	{ "<User.Name@Example.COM>", 0, "User.Name", "Example.COM", NAME,
	    false, false, NULL },
	{ "<a.b.c@d-e.f-g.h>", 0, "a.b.c", "d-e.f-g.h", NAME, false, false,
	    NULL },
	{ "<!#$%&'*+-/=?^_`{|}~@x.y>", 0, "!#$%&'*+-/=?^_`{|}~", "x.y", NAME,
	    false, false, NULL },
	{ "<0@1>", 0, "0", "1", NAME, false, false, NULL },
	{ "<a@9x.0y>", 0, "a", "9x.0y", NAME, false, false, NULL },
	{ "<a@a1-2b>", 0, "a", "a1-2b", NAME, false, false, NULL },
	{ "<a@x--y>", 0, "a", "x--y", NAME, false, false, NULL },
	{ "<a@xn--bcher-kva.example>", 0, "a", "xn--bcher-kva.example", NAME,
	    false, false, NULL },
	{ "<user+tag@example.org>", 0, "user+tag", "example.org", NAME,
	    false, false, NULL },
	/* Quoted-string: kept as sent, quotes and backslashes included. */
	{ "<\"a b\"@c>", 0, "\"a b\"", "c", NAME, true, false, NULL },
	{ "<\"\"@c>", 0, "\"\"", "c", NAME, true, false, NULL },
	{ "<\"a\\\"b\"@c>", 0, "\"a\\\"b\"", "c", NAME, true, false, NULL },
	{ "<\"a\\\\b\"@c>", 0, "\"a\\\\b\"", "c", NAME, true, false, NULL },
	{ "<\"\\a\"@c>", 0, "\"\\a\"", "c", NAME, true, false, NULL },
	{ "<\"a@b\"@c>", 0, "\"a@b\"", "c", NAME, true, false, NULL },
	{ "<\"<>\"@c>", 0, "\"<>\"", "c", NAME, true, false, NULL },
	{ "<\"a..b\"@c>", 0, "\"a..b\"", "c", NAME, true, false, NULL },
	{ "<\".a\"@c>", 0, "\".a\"", "c", NAME, true, false, NULL },
	{ "<\"\\ \"@c>", 0, "\"\\ \"", "c", NAME, true, false, NULL },
	{ "<\"~\\~\"@c>", 0, "\"~\\~\"", "c", NAME, true, false, NULL },
	/* Null path and Postmaster. */
	{ "<>", NUL_OK, "", "", NONE, false, false, NULL },
	{ "<Postmaster>", PM_OK, "Postmaster", "", NONE, false, false, NULL },
	{ "<postMASTER>", PM_OK, "postMASTER", "", NONE, false, false, NULL },
	{ "<Postmaster@example.com>", 0, "Postmaster", "example.com", NAME,
	    false, false, NULL },
	/* Source routes: checked and discarded (RFC 5321 §4.1.1.3). */
	{ "<@a:u@b>", 0, "u", "b", NAME, false, false, "<u@b>" },
	{ "<@a,@b.c:u@d>", 0, "u", "d", NAME, false, false, "<u@d>" },
	{ "<@[1.2.3.4],@x:u@d>", 0, "u", "d", NAME, false, false, "<u@d>" },
	{ "<@a,@b,@c,@d:\"q q\"@e>", 0, "\"q q\"", "e", NAME, true, false,
	    "<\"q q\"@e>" },
	{ "<@bü:u@d>", UTF8, "u", "d", NAME, false, false, "<u@d>" },
	/* Address literals. */
	{ "<a@[1.2.3.4]>", 0, "a", "[1.2.3.4]", V4, false, false, NULL },
	{ "<a@[255.255.255.255]>", 0, "a", "[255.255.255.255]", V4, false,
	    false, NULL },
	{ "<a@[0.0.0.0]>", 0, "a", "[0.0.0.0]", V4, false, false, NULL },
	{ "<a@[IPv6:::1]>", 0, "a", "[IPv6:::1]", V6, false, false, NULL },
	{ "<a@[ipv6:2001:db8::1]>", 0, "a", "[ipv6:2001:db8::1]", V6, false,
	    false, NULL },
	{ "<a@[IPV6:2001:DB8:0:0:0:0:0:1]>", 0, "a",
	    "[IPV6:2001:DB8:0:0:0:0:0:1]", V6, false, false, NULL },
	{ "<a@[IPv6:::ffff:192.0.2.1]>", 0, "a", "[IPv6:::ffff:192.0.2.1]", V6,
	    false, false, NULL },
	{ "<a@[IPv6:fe80::1:2:3:4]>", 0, "a", "[IPv6:fe80::1:2:3:4]", V6,
	    false, false, NULL },
	{ "<a@[IPv6:::]>", 0, "a", "[IPv6:::]", V6, false, false, NULL },
	/* SMTPUTF8 (RFC 6531 §3.3). */
	{ "<jörg@example.com>", UTF8, "jörg", "example.com", NAME, false, true,
	    NULL },
	{ "<a@bücher.example>", UTF8, "a", "bücher.example", NAME, false, true,
	    NULL },
	{ "<用户@例子.广告>", UTF8, "用户", "例子.广告", NAME, false, true,
	    NULL },
	{ "<\"ü ü\"@x>", UTF8, "\"ü ü\"", "x", NAME, true, true, NULL },
	{ "<\xf0\x9f\x98\x80@x>", UTF8, "\xf0\x9f\x98\x80", "x", NAME, false,
	    true, NULL },
	{ "<\xf4\x8f\xbf\xbf@x>", UTF8, "\xf4\x8f\xbf\xbf", "x", NAME, false,
	    true, NULL },
	{ "<\xed\x9f\xbf@x>", UTF8, "\xed\x9f\xbf", "x", NAME, false, true,
	    NULL },
	{ "<\xee\x80\x80@x>", UTF8, "\xee\x80\x80", "x", NAME, false, true,
	    NULL },
	{ "<\xc2\x80@x>", UTF8, "\xc2\x80", "x", NAME, false, true, NULL },
	{ "<a@x-\xc3\xa9>", UTF8, "a", "x-\xc3\xa9", NAME, false, true, NULL },
	{ "<a.b@c>", UTF8, "a.b", "c", NAME, false, false, NULL },
	/* Flags that are not needed do not hurt. */
	{ "<a@b>", NUL_OK | PM_OK | UTF8, "a", "b", NAME, false, false, NULL },
};

struct path_bad {
	const char	*in;
	size_t		 len;		/* 0: strlen */
	int		 flags;
	enum addr_err	 err;
};

static const struct path_bad path_bad[] = {
	{ "", 0, 0, ADDR_ERR_SYNTAX },
	{ "<", 0, 0, ADDR_ERR_SYNTAX },
	{ ">", 0, 0, ADDR_ERR_SYNTAX },
	{ "a@b", 0, 0, ADDR_ERR_SYNTAX },		/* no brackets */
	{ "<a@b", 0, 0, ADDR_ERR_SYNTAX },
	{ "a@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ " <a@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b> ", 0, 0, ADDR_ERR_SYNTAX },		/* trailing data */
	{ "<a@b>x", 0, 0, ADDR_ERR_SYNTAX },
	{ "<<a@b>>", 0, 0, ADDR_ERR_SYNTAX },
	{ "< a@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b >", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a @b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<@>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<.a@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a.@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a..b@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<.@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a(b)@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a,b@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a;b@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a:b@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a[b@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a\\b@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a\"b\"@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<\"a\"b@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<\"a\".b@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<\"a@c>", 0, 0, ADDR_ERR_SYNTAX },		/* unterminated */
	{ "<\"a\\\"@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<\"a\tb\"@c>", 0, 0, ADDR_ERR_SYNTAX },	/* HT not qtext */
	{ "<\"a\\\tb\"@c>", 0, 0, ADDR_ERR_SYNTAX },	/* nor quoted */
	{ "<\"\x7f\"@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<\"\\\x7f\"@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a\x7f@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a\x01@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b\x01>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a\0b@c>", 6, 0, ADDR_ERR_SYNTAX },
	{ "<a@b\0>", 6, 0, ADDR_ERR_SYNTAX },
	{ "<\"a\0\"@b>", 8, 0, ADDR_ERR_SYNTAX },
	{ "<a@b>\0", 6, 0, ADDR_ERR_SYNTAX },
	/* Domains. */
	{ "<a@-b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b->", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b.-c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b.c->", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@.b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b.>", 0, 0, ADDR_ERR_SYNTAX },	/* no root dot */
	{ "<a@b..c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b_c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b/c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@-->", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b,c>", 0, 0, ADDR_ERR_SYNTAX },
	/* Literals. */
	{ "<a@[1.2.3.4>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@[]>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@[1.2.3.4]x>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@x[1.2.3.4]>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@[1.2.3.4].x>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@[1.2 .3.4]>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@[1.2.[3].4]>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@[1.2.3\\.4]>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@[1.2.3]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[1.2.3.4.5]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[256.1.1.1]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[1.2.3.04]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[1.2.3.a]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[example.com]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[::1]>", 0, 0, ADDR_ERR_LITERAL },	/* needs the tag */
	{ "<a@[IPv6:]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[IPv6:1.2.3.4]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[IPv6:::1::2]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[IPv6:12345::]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[IPv6:g::]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[IPv6:fe80::1%eth0]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[IPv4:1.2.3.4]>", 0, 0, ADDR_ERR_LITERAL },	/* general */
	{ "<a@[x400:c=us;a=x]>", 0, 0, ADDR_ERR_LITERAL },
	{ "<a@[IPv6:1111:2222:3333:4444:5555:6666:7777:8888:9999:0000]>", 0, 0,
	    ADDR_ERR_LITERAL },
	/* Null path, Postmaster. */
	{ "<>", 0, 0, ADDR_ERR_NULL },
	{ "<>", 0, PM_OK | UTF8, ADDR_ERR_NULL },
	{ "<>x", 0, NUL_OK, ADDR_ERR_SYNTAX },
	{ "< >", 0, NUL_OK, ADDR_ERR_SYNTAX },
	{ "<Postmaster>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<Postmaster>", 0, NUL_OK | UTF8, ADDR_ERR_SYNTAX },
	{ "<Postmistress>", 0, PM_OK, ADDR_ERR_SYNTAX },
	{ "<\"Postmaster\">", 0, PM_OK, ADDR_ERR_SYNTAX },
	{ "<@a:Postmaster>", 0, PM_OK, ADDR_ERR_SYNTAX },
	/* Source routes. */
	{ "<@a u@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<@a:>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<@:u@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<@a,:u@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<@a,b:u@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<@a;@b:u@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<@a::u@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<@-a:u@b>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<@[1.2.3]:u@b>", 0, 0, ADDR_ERR_LITERAL },
	{ "<@a:@b:u@c>", 0, 0, ADDR_ERR_SYNTAX },
	{ "<a@b:c@d>", 0, 0, ADDR_ERR_SYNTAX },
	/* Non-ASCII without SMTPUTF8. */
	{ "<jörg@example.com>", 0, NUL_OK | PM_OK, ADDR_ERR_UTF8 },
	{ "<a@bücher.example>", 0, 0, ADDR_ERR_UTF8 },
	{ "<\"ü\"@x>", 0, 0, ADDR_ERR_UTF8 },
	{ "<@bü:u@d>", 0, 0, ADDR_ERR_UTF8 },
	/* Invalid UTF-8, with or without SMTPUTF8 (RFC 3629 §4). */
	{ "<\x80@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<\xbf@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<\xc0\x80@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },		/* overlong */
	{ "<\xc1\xbf@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },		/* overlong */
	{ "<\xe0\x80\x80@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },	/* overlong */
	{ "<\xe0\x9f\xbf@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },	/* overlong */
	{ "<\xf0\x80\x80\x80@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<\xf0\x8f\xbf\xbf@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<\xed\xa0\x80@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },	/* D800 */
	{ "<\xed\xbf\xbf@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },	/* DFFF */
	{ "<\xf4\x90\x80\x80@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },	/* 110000 */
	{ "<\xf5\x80\x80\x80@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<\xf8\x88\x80\x80\x80@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<\xfe@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<\xff@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<\xc3@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },		/* truncated */
	{ "<\xe4\xb8@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<\xf0\x9f\x98@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<\xc3\xc3\xa9@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<a@\xc3>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<a@b\xed\xa0\x80>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<\"\xc0\xaf\"@x>", 0, UTF8, ADDR_ERR_BAD_UTF8 },
	{ "<\xc0\x80@x>", 0, 0, ADDR_ERR_BAD_UTF8 },
	{ "<\"a\\\xc3\xa9\"@x>", 0, UTF8, ADDR_ERR_SYNTAX },	/* \ + UTF-8 */
};

static void
check_path_ok(const struct path_ok *t)
{
	struct addr	 a, b;
	enum addr_err	 err = ADDR_ERR_SYNTAX;
	char		 out[ADDR_FORMAT_SIZE];
	size_t		 end = 0, len = strlen(t->in);

	if (addr_parse_path(t->in, len, t->flags, &a, NULL, &err) != 0)
		fail_msg("\"%s\": %s", t->in, addr_strerror(err));
	assert_int_equal(err, ADDR_OK);
	assert_string_equal(a.local, t->local);
	assert_string_equal(a.domain, t->domain);
	assert_int_equal(a.domain_type, t->type);
	assert_int_equal(a.null, t->type == NONE && t->local[0] == '\0');
	assert_int_equal(a.quoted, t->quoted);
	assert_int_equal(a.utf8, t->utf8);
	assert_int_equal(addr_is_utf8(&a), t->utf8);
	/* With end_r: the same, and trailing data is left alone. */
	assert_int_equal(addr_parse_path(t->in, len, t->flags, &b, &end,
	    &err), 0);
	assert_int_equal(end, len);
	assert_true(addr_equal(&a, &b));
	/* Round trip. */
	assert_int_equal(addr_format(&a, out, sizeof(out)), 0);
	assert_string_equal(out, t->formatted != NULL ? t->formatted : t->in);
	assert_int_equal(addr_parse_path(out, strlen(out), t->flags, &b, NULL,
	    &err), 0);
	assert_true(addr_equal(&a, &b));
	assert_int_equal(memcmp(&a, &b, sizeof(a)), 0);
}

static void
test_path_ok(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(path_ok) / sizeof(path_ok[0]); i++)
		check_path_ok(&path_ok[i]);
}

static void
check_path_bad(const struct path_bad *t)
{
	struct addr	 a;
	enum addr_err	 err = ADDR_OK;
	size_t		 len = t->len != 0 ? t->len : strlen(t->in);
	size_t		 end = 12345;
	static const struct addr zero;

	memset(&a, 'x', sizeof(a));
	if (addr_parse_path(t->in, len, t->flags, &a, NULL, &err) != -1)
		fail_msg("\"%s\" parsed", t->in);
	if (err != t->err)
		fail_msg("\"%s\": %s, want %s", t->in, addr_strerror(err),
		    addr_strerror(t->err));
	assert_int_equal(memcmp(&a, &zero, sizeof(a)), 0);
	/* end_r only changes what may follow the '>'. */
	if (addr_parse_path(t->in, len, t->flags, &a, &end, &err) == 0) {
		assert_int_equal(t->err, ADDR_ERR_SYNTAX);
		assert_true(end < len);
	} else
		assert_int_equal(end, 12345);
}

static void
test_path_bad(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(path_bad) / sizeof(path_bad[0]); i++)
		check_path_bad(&path_bad[i]);
}

/* The path parser stops after '>' when asked (MAIL FROM:<a@b> SIZE=1). */
static void
test_path_end(void **state)
{
	struct addr	 a;
	enum addr_err	 err;
	size_t		 end;
	const char	*s = "<a@b> SIZE=10";

	assert_int_equal(addr_parse_path(s, strlen(s), 0, &a, &end, &err), 0);
	assert_int_equal(end, 5);
	assert_string_equal(a.domain, "b");
	s = "<> BODY=8BITMIME";
	assert_int_equal(addr_parse_path(s, strlen(s), NUL_OK, &a, &end,
	    &err), 0);
	assert_int_equal(end, 2);
	assert_true(a.null);
	s = "<\"a> b\"@c> X";
	assert_int_equal(addr_parse_path(s, strlen(s), 0, &a, &end, &err), 0);
	assert_int_equal(end, 10);
	assert_string_equal(a.local, "\"a> b\"");
	/* len bounds the scan: no reading past it. */
	s = "<a@b>";
	assert_int_equal(addr_parse_path(s, 4, 0, &a, &end, &err), -1);
	assert_int_equal(err, ADDR_ERR_SYNTAX);
	assert_int_equal(addr_parse_path(s, 0, 0, &a, &end, &err), -1);
}

static char *
repeat(char c, size_t n)
{
	char	*s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A domain of n octets: labels of 50 'd's separated by dots. */
static char *
domain_of(size_t n)
{
	char	*s = repeat('d', n);
	size_t	 i;

	for (i = 50; i < n - 1; i += 51)
		s[i] = '.';
	return s;
}

static int
parse_str(const char *s, int flags, struct addr *a, enum addr_err *err)
{
	return addr_parse_path(s, strlen(s), flags, a, NULL, err);
}

static void
expect_path(const char *local, const char *domain, int want,
    enum addr_err want_err)
{
	char		 s[1024];
	struct addr	 a;
	enum addr_err	 err;

	snprintf(s, sizeof(s), "<%s@%s>", local, domain);
	assert_int_equal(parse_str(s, 0, &a, &err), want);
	assert_int_equal(err, want_err);
	if (want == 0) {
		assert_string_equal(a.local, local);
		assert_string_equal(a.domain, domain);
	}
}

static void
test_limits(void **state)
{
	char		*l64 = repeat('l', 64), *l65 = repeat('l', 65);
	char		*d255 = domain_of(255), *d256 = domain_of(256);
	char		*d189 = domain_of(189), *d190 = domain_of(190);
	char		*lab63 = repeat('x', 63), *lab64 = repeat('x', 64);
	char		 q[80], s[600];
	struct addr	 a;
	enum addr_err	 err;

	/* Local part: 64 octets (RFC 5321 §4.5.3.1.1). */
	expect_path(l64, "b", 0, ADDR_OK);
	expect_path(l65, "b", -1, ADDR_ERR_LOCAL_LONG);
	/* Quotes count: "" + 62 = 64. */
	snprintf(q, sizeof(q), "\"%.62s\"", l64);
	expect_path(q, "b", 0, ADDR_OK);
	snprintf(q, sizeof(q), "\"%.63s\"", l64);
	expect_path(q, "b", -1, ADDR_ERR_LOCAL_LONG);
	/* Domain: 255 octets (§4.5.3.1.2), label 63 (RFC 1035 §2.3.4). */
	assert_int_equal(strlen(d255), 255);
	assert_int_equal(d255[50], '.');
	assert_int_equal(d255[254], 'd');
	/* In a path, 255 octets of domain pass the path's limit... */
	expect_path("a", d255, -1, ADDR_ERR_PATH_LONG);
	/* ... but 256 is the domain's fault, found first. */
	expect_path("a", d256, -1, ADDR_ERR_DOMAIN_LONG);
	expect_path("a", lab63, 0, ADDR_OK);
	expect_path("a", lab64, -1, ADDR_ERR_LABEL_LONG);
	snprintf(s, sizeof(s), "a.%s.b", lab64);
	expect_path("a", s, -1, ADDR_ERR_LABEL_LONG);
	/* Path: 256 octets with the brackets (§4.5.3.1.3). */
	expect_path(l64, d189, 0, ADDR_OK);
	expect_path(l64, d190, -1, ADDR_ERR_PATH_LONG);
	snprintf(s, sizeof(s), "<%s@%s>", l64, d189);
	assert_int_equal(strlen(s), 256);
	assert_int_equal(parse_str(s, 0, &a, &err), 0);
	/* A source route counts towards the path. */
	snprintf(s, sizeof(s), "<@%s:%s@%s>", "r", l64, d189);
	assert_int_equal(parse_str(s, 0, &a, &err), -1);
	assert_int_equal(err, ADDR_ERR_PATH_LONG);
	snprintf(s, sizeof(s), "<@%s:a@b>", d256);
	assert_int_equal(parse_str(s, 0, &a, &err), -1);
	assert_int_equal(err, ADDR_ERR_DOMAIN_LONG);
	/* A U-label is not measured against 63 octets; the domain is. */
	snprintf(s, sizeof(s), "<a@%s>", "ééééééééééééééééééééééééééééééééé");
	assert_int_equal(parse_str(s, UTF8, &a, &err), 0);
	free(l64);
	free(l65);
	free(d255);
	free(d256);
	free(d189);
	free(d190);
	free(lab63);
	free(lab64);
}

struct dom_case {
	const char		*in;
	int			 flags;
	int			 ret;
	enum addr_domain_type	 type;
	enum addr_err		 err;
};

static const struct dom_case dom_cases[] = {
	{ "example.com", 0, 0, NAME, ADDR_OK },
	{ "a", 0, 0, NAME, ADDR_OK },
	{ "[192.0.2.1]", 0, 0, V4, ADDR_OK },
	{ "[IPv6:2001:db8::5]", 0, 0, V6, ADDR_OK },
	{ "bücher.de", UTF8, 0, NAME, ADDR_OK },
	{ "bücher.de", 0, -1, NAME, ADDR_ERR_UTF8 },
	{ "b\xc0\x80.de", UTF8, -1, NAME, ADDR_ERR_BAD_UTF8 },
	{ "", 0, -1, NAME, ADDR_ERR_SYNTAX },
	{ "a b", 0, -1, NAME, ADDR_ERR_SYNTAX },
	{ "a.", 0, -1, NAME, ADDR_ERR_SYNTAX },
	{ "a_b", 0, -1, NAME, ADDR_ERR_SYNTAX },
	{ "1.2.3.4", 0, 0, NAME, ADDR_OK },	/* grammatical as a name */
	{ "[1.2.3.4", 0, -1, V4, ADDR_ERR_SYNTAX },
	{ "[300.2.3.4]", 0, -1, V4, ADDR_ERR_LITERAL },
	{ "[1.2.3.4]x", 0, -1, V4, ADDR_ERR_SYNTAX },
	{ "user@host", 0, -1, NAME, ADDR_ERR_SYNTAX },
};

static void
test_parse_domain(void **state)
{
	enum addr_domain_type	 type;
	enum addr_err		 err;
	const struct dom_case	*t;
	size_t			 i;
	char			*d;

	for (i = 0; i < sizeof(dom_cases) / sizeof(dom_cases[0]); i++) {
		t = &dom_cases[i];
		err = ADDR_OK;
		if (addr_parse_domain(t->in, strlen(t->in), t->flags, &type,
		    &err) != t->ret || err != t->err)
			fail_msg("domain \"%s\": %s", t->in,
			    addr_strerror(err));
		if (t->ret == 0)
			assert_int_equal(type, t->type);
	}
	/* Flags other than ADDR_F_UTF8 are ignored. */
	assert_int_equal(addr_parse_domain("a", 1, NUL_OK | PM_OK, &type,
	    &err), 0);
	d = domain_of(255);
	assert_int_equal(addr_parse_domain(d, 255, 0, &type, &err), 0);
	free(d);
	d = domain_of(256);
	assert_int_equal(addr_parse_domain(d, 256, 0, &type, &err), -1);
	assert_int_equal(err, ADDR_ERR_DOMAIN_LONG);
	free(d);
	assert_int_equal(addr_parse_domain("a\0b", 3, 0, &type, &err), -1);
}

static void
test_strerror(void **state)
{
	int	 e;

	for (e = ADDR_OK; e <= ADDR_ERR_BAD_UTF8; e++)
		assert_true(strlen(addr_strerror((enum addr_err)e)) > 0);
	assert_string_equal(addr_strerror(ADDR_ERR_LOCAL_LONG),
	    "local part too long");
	assert_string_equal(addr_strerror((enum addr_err)99),
	    "unknown error");
}

static void
test_format(void **state)
{
	struct addr	 a;
	enum addr_err	 err;
	char		 out[ADDR_FORMAT_SIZE], small[6];

	assert_int_equal(parse_str("<a@b.c>", 0, &a, &err), 0);
	assert_int_equal(addr_format(&a, small, sizeof(small)), -1);
	assert_string_equal(small, "");
	assert_int_equal(addr_format(&a, small, 0), -1);
	assert_int_equal(addr_mailbox(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "a@b.c");
	assert_int_equal(addr_mailbox(&a, small, sizeof(small)), 0);
	assert_string_equal(small, "a@b.c");
	assert_int_equal(addr_mailbox(&a, small, 5), -1);
	assert_string_equal(small, "");
	assert_int_equal(parse_str("<>", NUL_OK, &a, &err), 0);
	assert_int_equal(addr_format(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "<>");
	assert_int_equal(addr_mailbox(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(parse_str("<POSTMASTER>", PM_OK, &a, &err), 0);
	assert_int_equal(addr_mailbox(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "POSTMASTER");
	assert_int_equal(addr_format(&a, small, 3), -1);
}

struct unq_case {
	const char	*path;
	const char	*unquoted;
};

static const struct unq_case unq_cases[] = {
	{ "<a.b@c>", "a.b" },
	{ "<\"a b\"@c>", "a b" },
	{ "<\"\"@c>", "" },
	{ "<\"a\\\"b\"@c>", "a\"b" },
	{ "<\"a\\\\b\"@c>", "a\\b" },
	{ "<\"\\a\\b\\c\"@c>", "abc" },
	{ "<\"\\\\\"@c>", "\\" },
	{ "<\"a.b\"@c>", "a.b" },
	{ "<\"ü\"@c>", "ü" },
};

static void
test_unquoted(void **state)
{
	struct addr	 a;
	enum addr_err	 err;
	char		 out[ADDR_LOCAL_MAX + 1], q[ADDR_LOCAL_MAX + 1];
	size_t		 i;

	for (i = 0; i < sizeof(unq_cases) / sizeof(unq_cases[0]); i++) {
		assert_int_equal(parse_str(unq_cases[i].path, UTF8, &a, &err),
		    0);
		assert_int_equal(addr_local_unquoted(&a, out, sizeof(out)), 0);
		assert_string_equal(out, unq_cases[i].unquoted);
		/* Quoting the unquoted form gives a parsable local part. */
		assert_int_equal(addr_quote_local(out, strlen(out), UTF8, q,
		    sizeof(q)), 0);
	}
	assert_int_equal(parse_str("<\"a b\"@c>", 0, &a, &err), 0);
	assert_int_equal(addr_local_unquoted(&a, out, 4), 0);
	assert_string_equal(out, "a b");
	assert_int_equal(addr_local_unquoted(&a, out, 3), -1);
	assert_string_equal(out, "");
	assert_int_equal(addr_local_unquoted(&a, out, 0), -1);
	assert_int_equal(parse_str("<abc@c>", 0, &a, &err), 0);
	assert_int_equal(addr_local_unquoted(&a, out, 3), -1);
	assert_string_equal(out, "");
	assert_int_equal(addr_local_unquoted(&a, out, 4), 0);
	assert_string_equal(out, "abc");
	/* A struct not made by the parser does not send it astray. */
	memset(&a, 0, sizeof(a));
	a.quoted = true;
	assert_int_equal(addr_local_unquoted(&a, out, sizeof(out)), -1);
	strlcpy(a.local, "\"\\\"", sizeof(a.local));	/* "\" */
	assert_int_equal(addr_local_unquoted(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "\\");
}

struct quote_case {
	const char	*in;
	size_t		 len;		/* 0: strlen */
	int		 flags;
	const char	*out;		/* NULL: -1 */
};

static const struct quote_case quote_cases[] = {
	{ "abc", 0, 0, "abc" },
	{ "a.b", 0, 0, "a.b" },
	{ "a+b", 0, 0, "a+b" },
	{ "", 0, 0, "\"\"" },
	{ "a b", 0, 0, "\"a b\"" },
	{ ".a", 0, 0, "\".a\"" },
	{ "a.", 0, 0, "\"a.\"" },
	{ "a..b", 0, 0, "\"a..b\"" },
	{ "a\"b", 0, 0, "\"a\\\"b\"" },
	{ "a\\b", 0, 0, "\"a\\\\b\"" },
	{ "a@b", 0, 0, "\"a@b\"" },
	{ "ü", 0, UTF8, "ü" },
	{ "ü ü", 0, UTF8, "\"ü ü\"" },
	{ "ü", 0, 0, NULL },
	{ "\xc0\x80", 0, UTF8, NULL },
	{ "a\tb", 0, 0, NULL },
	{ "a\x7f", 0, 0, NULL },
	{ "a\0b", 3, 0, NULL },
	{ "a\nb", 0, 0, NULL },
};

static void
test_quote_local(void **state)
{
	const struct quote_case	*t;
	char			 out[ADDR_LOCAL_MAX + 1], s[128];
	char			*l64 = repeat('a', 64), *l63 = repeat(' ', 62);
	struct addr		 a;
	enum addr_err		 err;
	size_t			 i, len;

	for (i = 0; i < sizeof(quote_cases) / sizeof(quote_cases[0]); i++) {
		t = &quote_cases[i];
		len = t->len != 0 ? t->len : strlen(t->in);
		if (t->out == NULL) {
			assert_int_equal(addr_quote_local(t->in, len, t->flags,
			    out, sizeof(out)), -1);
			assert_string_equal(out, "");
			continue;
		}
		assert_int_equal(addr_quote_local(t->in, len, t->flags, out,
		    sizeof(out)), 0);
		assert_string_equal(out, t->out);
		/* ... and it is a local part that parses back. */
		snprintf(s, sizeof(s), "<%s@x>", out);
		assert_int_equal(parse_str(s, t->flags, &a, &err), 0);
		assert_int_equal(addr_local_unquoted(&a, s, sizeof(s)), 0);
		assert_int_equal(strlen(s), len);
		assert_memory_equal(s, t->in, len);
	}
	/* Limits: 64 as a Dot-string; quoting pushes 62 spaces to 64. */
	assert_int_equal(addr_quote_local(l64, 64, 0, out, sizeof(out)), 0);
	assert_int_equal(addr_quote_local(l64, 65, 0, out, sizeof(out)), -1);
	assert_int_equal(addr_quote_local(l63, 62, 0, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 64);
	l63[62] = ' ';
	assert_int_equal(addr_quote_local(l63, 63, 0, out, sizeof(out)), -1);
	assert_int_equal(addr_quote_local("a\"", 2, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "\"a\\\"\"");
	assert_int_equal(addr_quote_local("abc", 3, 0, out, 3), -1);
	assert_int_equal(addr_quote_local("abc", 3, 0, out, 4), 0);
	free(l64);
	free(l63);
}

static void
test_equal_lower(void **state)
{
	struct addr	 a, b;
	enum addr_err	 err;

	assert_int_equal(parse_str("<User@Example.COM>", 0, &a, &err), 0);
	assert_int_equal(parse_str("<User@example.com>", 0, &b, &err), 0);
	assert_true(addr_equal(&a, &b));
	assert_int_equal(parse_str("<user@example.com>", 0, &b, &err), 0);
	assert_false(addr_equal(&a, &b));	/* local part is exact */
	assert_int_equal(parse_str("<User@example.co>", 0, &b, &err), 0);
	assert_false(addr_equal(&a, &b));
	assert_int_equal(parse_str("<User@Example.COM.>", 0, &b, &err), -1);
	assert_int_equal(parse_str("<\"User\"@Example.COM>", 0, &b, &err), 0);
	assert_false(addr_equal(&a, &b));
	addr_domain_lower(&a);
	assert_string_equal(a.domain, "example.com");
	assert_string_equal(a.local, "User");
	assert_int_equal(parse_str("<a@BÜCHER.DE>", UTF8, &a, &err), 0);
	addr_domain_lower(&a);
	assert_string_equal(a.domain, "bÜcher.de");	/* ASCII only */
	assert_int_equal(parse_str("<a@[IPv6:::A]>", 0, &a, &err), 0);
	addr_domain_lower(&a);
	assert_string_equal(a.domain, "[ipv6:::a]");
	assert_int_equal(parse_str("<>", NUL_OK, &a, &err), 0);
	assert_int_equal(parse_str("<a@b>", 0, &b, &err), 0);
	assert_false(addr_equal(&a, &b));
	assert_int_equal(parse_str("<>", NUL_OK, &b, &err), 0);
	assert_true(addr_equal(&a, &b));
}

struct tag_case {
	const char	*local;
	const char	*seps;
	bool		 split;
	size_t		 base_len;
	const char	*tag;
};

static const struct tag_case tag_cases[] = {
	{ "user+tag", "+", true, 4, "tag" },
	{ "user+tag+more", "+", true, 4, "tag+more" },
	{ "user-tag", "+-", true, 4, "tag" },
	{ "a-b+c", "+-", true, 1, "b+c" },
	{ "user+", "+", true, 4, "" },
	{ "+tag", "+", false, 4, NULL },
	{ "++tag", "+", true, 1, "tag" },
	{ "user", "+", false, 4, NULL },
	{ "user+tag", "", false, 8, NULL },
	{ "user+tag", "-", false, 8, NULL },
	{ "", "+", false, 0, NULL },
	{ "ü+x", "+", true, 2, "x" },
	{ "a\xc3\xbc", "\xbc", false, 3, NULL },	/* no UTF-8 split */
};

static void
test_split_tag(void **state)
{
	const struct tag_case	*t;
	const char		*tag;
	size_t			 i, base;

	for (i = 0; i < sizeof(tag_cases) / sizeof(tag_cases[0]); i++) {
		t = &tag_cases[i];
		tag = "garbage";
		assert_int_equal(addr_split_tag(t->local, t->seps, &base, &tag),
		    t->split);
		assert_int_equal(base, t->base_len);
		if (t->tag == NULL)
			assert_null(tag);
		else
			assert_string_equal(tag, t->tag);
	}
}

struct utf8_case {
	const char	*s;
	size_t		 len;
	bool		 valid;
};

static const struct utf8_case utf8_cases[] = {
	{ "", 0, true },
	{ "ascii", 5, true },
	{ "a\0b", 3, true },
	{ "\xc2\x80", 2, true },		/* U+0080 */
	{ "\xdf\xbf", 2, true },		/* U+07FF */
	{ "\xe0\xa0\x80", 3, true },		/* U+0800 */
	{ "\xed\x9f\xbf", 3, true },		/* U+D7FF */
	{ "\xee\x80\x80", 3, true },		/* U+E000 */
	{ "\xef\xbf\xbf", 3, true },		/* U+FFFF */
	{ "\xf0\x90\x80\x80", 4, true },	/* U+10000 */
	{ "\xf4\x8f\xbf\xbf", 4, true },	/* U+10FFFF */
	{ "\x80", 1, false },
	{ "\xc0\x80", 2, false },
	{ "\xc1\xbf", 2, false },
	{ "\xc2", 1, false },
	{ "\xc2\x7f", 2, false },
	{ "\xc2\xc0", 2, false },
	{ "\xe0\x9f\xbf", 3, false },
	{ "\xed\xa0\x80", 3, false },
	{ "\xed\xbf\xbf", 3, false },
	{ "\xe1\x80", 2, false },
	{ "\xe1\x80\x7f", 3, false },
	{ "\xf0\x8f\xbf\xbf", 4, false },
	{ "\xf4\x90\x80\x80", 4, false },
	{ "\xf5\x80\x80\x80", 4, false },
	{ "\xf1\x80\x80", 3, false },
	{ "\xf1\x80\x80\xc0", 4, false },
	{ "\xff", 1, false },
	{ "a\xc3\xa9z\xe2\x82\xac", 7, true },
	{ "a\xc3\xa9z\xe2\x82", 6, false },
};

static void
test_utf8(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++)
		if (addr_utf8_valid(utf8_cases[i].s, utf8_cases[i].len) !=
		    utf8_cases[i].valid)
			fail_msg("utf8 case %zu", i);
}

struct xtext_case {
	const char	*enc;
	const char	*dec;		/* NULL: invalid */
	size_t		 dec_len;
};

static const struct xtext_case xtext_cases[] = {
	{ "", "", 0 },
	{ "abc", "abc", 3 },
	{ "a+2Bb", "a+b", 3 },
	{ "a+3Db", "a=b", 3 },
	{ "+20", " ", 1 },
	{ "+00", "\0", 1 },
	{ "+FF+80", "\xff\x80", 2 },
	{ "+41", "A", 1 },		/* needless but allowed */
	{ "<>", "<>", 2 },
	{ "!~\"", "!~\"", 3 },
	{ "rfc822;a@b", "rfc822;a@b", 10 },
	{ "+", NULL, 0 },
	{ "+2", NULL, 0 },
	{ "+2b", NULL, 0 },		/* upper-case hex only */
	{ "+G0", NULL, 0 },
	{ "a=b", NULL, 0 },
	{ "a b", NULL, 0 },
	{ "a\tb", NULL, 0 },
	{ "\x7f", NULL, 0 },
	{ "\xc3\xa9", NULL, 0 },
	{ "a+", NULL, 0 },
	{ "++2B", NULL, 0 },
};

static void
test_xtext(void **state)
{
	const struct xtext_case	*t;
	struct buf		 b;
	size_t			 i;

	buf_init(&b, 64);
	for (i = 0; i < sizeof(xtext_cases) / sizeof(xtext_cases[0]); i++) {
		t = &xtext_cases[i];
		buf_reset(&b);
		assert_true(buf_add_str(&b, "X") == 0);
		assert_int_equal(addr_xtext_valid(t->enc, strlen(t->enc)),
		    t->dec != NULL);
		if (t->dec == NULL) {
			assert_int_equal(addr_xtext_decode(&b, t->enc,
			    strlen(t->enc)), -1);
			assert_int_equal(b.len, 1);
			continue;
		}
		assert_int_equal(addr_xtext_decode(&b, t->enc, strlen(t->enc)),
		    0);
		assert_int_equal(b.len, 1 + t->dec_len);
		assert_memory_equal(BUF_DATA(&b) + 1, t->dec, t->dec_len);
		/* Encoding the decoded value decodes to it again. */
		buf_reset(&b);
		assert_int_equal(addr_xtext_encode(&b, t->dec, t->dec_len), 0);
		assert_true(addr_xtext_valid((const char *)BUF_DATA(&b),
		    b.len));
	}
	buf_clear(&b);
}

static void
test_xtext_encode(void **state)
{
	struct buf	 b;
	unsigned char	 all[256];
	size_t		 i;

	buf_init(&b, 1024);
	assert_int_equal(addr_xtext_encode(&b, "a+b=c d", 7), 0);
	assert_string_equal(buf_cstr(&b), "a+2Bb+3Dc+20d");
	buf_reset(&b);
	assert_int_equal(addr_xtext_encode(&b, "\0\x7f\xff~!", 5), 0);
	assert_string_equal(buf_cstr(&b), "+00+7F+FF~!");
	/* Every octet round-trips. */
	for (i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	buf_reset(&b);
	assert_int_equal(addr_xtext_encode(&b, all, 256), 0);
	assert_true(addr_xtext_valid(buf_cstr(&b), b.len));
	{
		struct buf	 d;

		buf_init(&d, 256);
		assert_int_equal(addr_xtext_decode(&d, buf_cstr(&b), b.len),
		    0);
		assert_int_equal(d.len, 256);
		assert_memory_equal(BUF_DATA(&d), all, 256);
		buf_clear(&d);
	}
	buf_clear(&b);
	/* All or nothing at the buffer's maximum. */
	buf_init(&b, 5);
	assert_int_equal(addr_xtext_encode(&b, "ab", 2), 0);
	assert_int_equal(addr_xtext_encode(&b, "+", 1), 0);
	assert_string_equal(buf_cstr(&b), "ab+2B");
	assert_int_equal(addr_xtext_encode(&b, "c", 1), -1);
	assert_int_equal(b.len, 5);
	buf_reset(&b);
	assert_int_equal(addr_xtext_encode(&b, "abcd+", 5), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(addr_xtext_decode(&b, "abcde+2B", 8), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(addr_xtext_decode(&b, "abc+2B", 6), 0);
	assert_string_equal(buf_cstr(&b), "abc+");
	buf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_ok),
		cmocka_unit_test(test_path_bad),
		cmocka_unit_test(test_path_end),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_parse_domain),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_unquoted),
		cmocka_unit_test(test_quote_local),
		cmocka_unit_test(test_equal_lower),
		cmocka_unit_test(test_split_tag),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_xtext_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
