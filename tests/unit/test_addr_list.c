/* Unit tests for lib/addr_list.c: RFC 5322 address lists. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr_list.h"
#include "xmalloc.h"

#define UTF8	ADDR_LIST_F_UTF8
#define NOGRP	ADDR_LIST_F_NO_GROUPS
#define WANT_MAX	4

struct list_ok {
	const char	*in;
	int		 flags;
	size_t		 n;
	const char	*want[WANT_MAX][2];	/* local, domain */
};

static const struct list_ok list_ok[] = {
	{ "a@b", 0, 1, { { "a", "b" } } },
	{ "user@example.com", 0, 1, { { "user", "example.com" } } },
	{ "  user@example.com\t", 0, 1, { { "user", "example.com" } } },
	{ "User.Name@Example.COM", 0, 1, { { "User.Name", "example.com" } } },
	{ "!#$%&'*+-/=?^_`{|}~@x", 0, 1, { { "!#$%&'*+-/=?^_`{|}~", "x" } } },
	{ "a@b_c.EX-AMPLE", 0, 1, { { "a", "b_c.ex-ample" } } },
	/* name-addr */
	{ "<a@b>", 0, 1, { { "a", "b" } } },
	{ "< a@b >", 0, 1, { { "a", "b" } } },
	{ "John Doe <john@example.com>", 0, 1, { { "john", "example.com" } } },
	{ "John Doe<john@example.com>", 0, 1, { { "john", "example.com" } } },
	{ "\"Doe, John\" <john@example.com>", 0, 1,
	    { { "john", "example.com" } } },
	{ "\"<evil@x>, y\" <c@d>", 0, 1, { { "c", "d" } } },
	{ "\"a\\\"b <x@y>\"<c@d>", 0, 1, { { "c", "d" } } },
	{ "Joe Q. Public <john.q.public@example.com>", 0, 1,
	    { { "john.q.public", "example.com" } } },
	{ "Mr. Smith <s@x>", 0, 1, { { "s", "x" } } },
	{ "\"Joe\" . Q <s@x>", 0, 1, { { "s", "x" } } },
	{ "=?utf-8?q?J=C3=B6rg?= <j@x>", 0, 1, { { "j", "x" } } },
	{ "=?UTF-8?B?SsO2cmc=?= <j@x>", 0, 1, { { "j", "x" } } },
	/* RFC 5322 Appendix A */
	{ "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>", 0,
	    3, { { "mary", "x.test" }, { "jdoe", "example.org" },
	    { "one", "y.test" } } },
	{ "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" "
	    "<sysservices@example.net>", 0, 2, { { "boss", "nil.test" },
	    { "sysservices", "example.net" } } },
	{ "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	    0, 3, { { "c", "a.test" }, { "joe", "where.test" },
	    { "jdoe", "one.test" } } },
	{ "Undisclosed recipients:;", 0, 0, { { NULL, NULL } } },
	{ "undisclosed-recipients:;", 0, 0, { { NULL, NULL } } },
	{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", 0,
	    1, { { "pete", "silly.test" } } },
	{ "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)"
	    "public.example>,\r\n         joe@example.org,\r\n  John "
	    "<jdoe@one.test> (my dear friend); (the end of the group)", 0, 3,
	    { { "c", "public.example" }, { "joe", "example.org" },
	    { "jdoe", "one.test" } } },
	{ "(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
	    0, 0, { { NULL, NULL } } },
	{ "Joe Q. Public\r\n <john.q.public@example.com>", 0, 1,
	    { { "john.q.public", "example.com" } } },
	{ "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
	    0, 2, { { "mary", "example.net" }, { "jdoe", "test.example" } } },
	{ "John Doe <jdoe@machine(comment).  example>", 0, 1,
	    { { "jdoe", "machine.example" } } },
	{ "Mary Smith\r\n   \r\n <mary@example.net>", 0, 1,
	    { { "mary", "example.net" } } },
	/* obs-route */
	{ "<@a.example,@b.example:user@c.example>", 0, 1,
	    { { "user", "c.example" } } },
	{ "X <@a.example:user@c.example>", 0, 1, { { "user", "c.example" } } },
	{ "<,@a,,@b:u@c>", 0, 1, { { "u", "c" } } },
	{ "< , (x) ,@a , @[1.2.3.4] , : u@c>", 0, 1, { { "u", "c" } } },
	/* local parts */
	{ "\"a b\"@x", 0, 1, { { "a b", "x" } } },
	{ "\"a\\\"b\\\\c\"@x", 0, 1, { { "a\"b\\c", "x" } } },
	{ "\"a\\ b\"@x", 0, 1, { { "a b", "x" } } },
	{ "\"\\a\\b\"@x", 0, 1, { { "ab", "x" } } },
	{ "\"a\tb\"@x", 0, 1, { { "a\tb", "x" } } },
	{ "\"a\\\tb\"@x", 0, 1, { { "a\tb", "x" } } },
	{ "\"a@b\"@x", 0, 1, { { "a@b", "x" } } },
	{ "\"a,b<c>\"@x", 0, 1, { { "a,b<c>", "x" } } },
	{ "\"a\".b@x", 0, 1, { { "a.b", "x" } } },
	{ "a.\"b c\".d@x", 0, 1, { { "a.b c.d", "x" } } },
	{ "\"\".\"\"@x", 0, 1, { { ".", "x" } } },
	{ "\"..\"@x", 0, 1, { { "..", "x" } } },
	{ "a . b @ x . y", 0, 1, { { "a.b", "x.y" } } },
	{ "\"a\r\n b\"@x", 0, 1, { { "a b", "x" } } },
	{ "\"a\\\r\n b\"@x", 0, 1, { { "a b", "x" } } },
	/* domains */
	{ "a@EXAMPLE.Com", 0, 1, { { "a", "example.com" } } },
	{ "A@B", 0, 1, { { "A", "b" } } },
	{ "a@[1.2.3.4]", 0, 1, { { "a", "[1.2.3.4]" } } },
	{ "a@[IPv6:2001:DB8::1]", 0, 1, { { "a", "[IPv6:2001:DB8::1]" } } },
	{ "a@[ 1.2.3.4 ]", 0, 1, { { "a", "[1.2.3.4]" } } },
	{ "a@ (c) [1.2.3.4] (d)", 0, 1, { { "a", "[1.2.3.4]" } } },
	{ "<a@[x]>", 0, 1, { { "a", "[x]" } } },
	/* comments */
	{ "(c)a@b", 0, 1, { { "a", "b" } } },
	{ "a(c)@b", 0, 1, { { "a", "b" } } },
	{ "a@(c)b", 0, 1, { { "a", "b" } } },
	{ "a@b(c)", 0, 1, { { "a", "b" } } },
	{ "a@b (c), (d) e@f (g)", 0, 2, { { "a", "b" }, { "e", "f" } } },
	{ "a(b(c(d)))@x", 0, 1, { { "a", "x" } } },
	{ "(a\\)b)x@y", 0, 1, { { "x", "y" } } },
	{ "(a\\(b)x@y", 0, 1, { { "x", "y" } } },
	{ "(\"a)x@y", 0, 1, { { "x", "y" } } },
	{ "(<a@b>, c@d)x@y", 0, 1, { { "x", "y" } } },
	{ "<a@b> (comment)", 0, 1, { { "a", "b" } } },
	{ "J(x)o<a(y)@(z)b(w)>(v)", 0, 1, { { "a", "b" } } },
	{ "a@b (c\r\n d)", 0, 1, { { "a", "b" } } },
	/* lists, folding */
	{ "a@b,c@d", 0, 2, { { "a", "b" }, { "c", "d" } } },
	{ "a@b , c@d", 0, 2, { { "a", "b" }, { "c", "d" } } },
	{ ", a@b,,c@d ,", 0, 2, { { "a", "b" }, { "c", "d" } } },
	{ "a@b,\r\n c@d", 0, 2, { { "a", "b" }, { "c", "d" } } },
	{ "a@b,\n\tc@d", 0, 2, { { "a", "b" }, { "c", "d" } } },
	{ "a\r\n @b", 0, 1, { { "a", "b" } } },
	{ "a@b, C <c@D>, \"e\" <e@f>, g@h", 0, 4, { { "a", "b" },
	    { "c", "d" }, { "e", "f" }, { "g", "h" } } },
	{ "a@b, a@b", 0, 2, { { "a", "b" }, { "a", "b" } } },
	/* groups */
	{ "team: \"A, B\" <a@x>, (c) b@y ;, c@z", 0, 3,
	    { { "a", "x" }, { "b", "y" }, { "c", "z" } } },
	{ "g: a@b;", 0, 1, { { "a", "b" } } },
	{ "g: , a@b , , ;", 0, 1, { { "a", "b" } } },
	{ "g:;, a@b", 0, 1, { { "a", "b" } } },
	{ "\"G: x\": a@b;", 0, 1, { { "a", "b" } } },
	{ "Hidden: ;", 0, 0, { { NULL, NULL } } },
	{ "g: ,;", 0, 0, { { NULL, NULL } } },
	{ "g.h: a@b;", 0, 1, { { "a", "b" } } },
	{ "g: <@r:a@b>;", 0, 1, { { "a", "b" } } },
	/* UTF-8 (RFC 6532) */
	{ "j\xc3\xb6rg@b\xc3\xbc" "cher.example", UTF8, 1,
	    { { "j\xc3\xb6rg", "b\xc3\xbc" "cher.example" } } },
	{ "A@B\xc3\x9c" "CHER.DE", UTF8, 1,
	    { { "A", "b\xc3\x9c" "cher.de" } } },
	{ "J\xc3\xb6rg <j@x>", UTF8, 1, { { "j", "x" } } },
	{ "\"\xc3\xbc \xc3\xbc\"@x", UTF8, 1,
	    { { "\xc3\xbc \xc3\xbc", "x" } } },
	{ "\"\\\xc3\xa9\"@x", UTF8, 1, { { "\xc3\xa9", "x" } } },
	{ "a@b (\xe4\xb8\xad)", UTF8, 1, { { "a", "b" } } },
	{ "\xf0\x9f\x98\x80@[\xe4\xb8\xad]", UTF8, 1,
	    { { "\xf0\x9f\x98\x80", "[\xe4\xb8\xad]" } } },
	{ "a@b", UTF8, 1, { { "a", "b" } } },
	/* No groups: mailboxes still fine. */
	{ "A <a@b>, c@d", NOGRP, 2, { { "a", "b" }, { "c", "d" } } },
};

static void
check_ok(const struct list_ok *t)
{
	struct addr_list	 l;
	const char		*why = "unset";
	size_t			 i;
	int			 r;

	r = addr_list_parse(t->in, strlen(t->in), t->flags, &l, &why);
	if (r != 0)
		print_error("case \"%s\": %s\n", t->in, why);
	assert_int_equal(r, 0);
	assert_null(why);
	assert_int_equal(l.n, t->n);
	for (i = 0; i < t->n; i++) {
		assert_string_equal(l.v[i].local, t->want[i][0]);
		assert_string_equal(l.v[i].domain, t->want[i][1]);
	}
	addr_list_clear(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
}

static void
test_ok(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(list_ok) / sizeof(list_ok[0]); i++)
		check_ok(&list_ok[i]);
}

/* Every prefix of a valid value parses or fails cleanly. */
static void
test_prefixes(void **state)
{
	struct addr_list	 l;
	const char		*why;
	size_t			 i, n;
	int			 r;

	for (i = 0; i < sizeof(list_ok) / sizeof(list_ok[0]); i++)
		for (n = 0; n <= strlen(list_ok[i].in); n++) {
			why = "unset";
			r = addr_list_parse(list_ok[i].in, n, list_ok[i].flags,
			    &l, &why);
			if (r == -1) {
				assert_non_null(why);
				assert_null(l.v);
				assert_int_equal(l.n, 0);
			} else
				assert_null(why);
			addr_list_clear(&l);
		}
}

struct list_bad {
	const char	*in;
	size_t		 len;		/* 0: strlen */
	int		 flags;
	const char	*why;
};

static const struct list_bad list_bad[] = {
	{ "", 0, 0, "no address" },
	{ "  ", 0, 0, "no address" },
	{ ", ,", 0, 0, "no address" },
	{ "(c)", 0, 0, "no address" },
	{ "\r\n ", 0, 0, "no address" },
	/* missing @ */
	{ "root", 0, 0, "missing @" },
	{ "root, a@b", 0, 0, "missing @" },
	{ "a@b, root", 0, 0, "missing @" },
	{ "John <root>", 0, 0, "missing @" },
	{ "g: root;", 0, 0, "missing @" },
	{ "\"a b\"", 0, 0, "missing @" },
	/* angle brackets */
	{ "<a@b", 0, 0, "unclosed <" },
	{ "John <a@b", 0, 0, "unclosed <" },
	{ "<a@b x", 0, 0, "missing >" },
	{ "<a@b, c@d>", 0, 0, "missing >" },
	{ "<<a@b>>", 0, 0, "bad local part" },
	{ "<>", 0, 0, "empty address" },
	{ "John < >", 0, 0, "empty address" },
	{ "<a@b> x", 0, 0, "unexpected text after address" },
	{ "<a@b>x@y", 0, 0, "unexpected text after address" },
	{ "John <a@b> Doe", 0, 0, "unexpected text after address" },
	{ "<a@b> <c@d>", 0, 0, "unexpected text after address" },
	{ "a@b <c@d>", 0, 0, "unexpected text after address" },
	{ "a@b c@d", 0, 0, "unexpected text after address" },
	{ "a@b;", 0, 0, "unexpected text after address" },
	{ "a@b>", 0, 0, "unexpected text after address" },
	{ "a@b)", 0, 0, "unexpected text after address" },
	{ "a@b:c", 0, 0, "unexpected text after address" },
	{ "a@b\\c", 0, 0, "unexpected text after address" },
	{ ".Joe <a@b>", 0, 0, "bad display name" },
	{ "John Doe x@y", 0, 0, "bad local part" },
	{ "Doe, John <j@x>", 0, 0, "missing @" },
	{ "j@x <j@x>", 0, 0, "unexpected text after address" },
	/* quotes, comments */
	{ "\"a@b", 0, 0, "unclosed quoted string" },
	{ "\"John <a@b>", 0, 0, "unclosed quoted string" },
	{ "\"a\\", 0, 0, "unclosed quoted string" },
	{ "\"a\\\"@b", 0, 0, "unclosed quoted string" },
	{ "(a@b", 0, 0, "unclosed comment" },
	{ "a@b (c", 0, 0, "unclosed comment" },
	{ "a@b (c\\", 0, 0, "unclosed comment" },
	{ "a@b (c\\)", 0, 0, "unclosed comment" },
	{ "a@b ((c)", 0, 0, "unclosed comment" },
	{ "<a(@b>", 0, 0, "unclosed comment" },
	/* @ and local part */
	{ "a@b@c", 0, 0, "more than one @" },
	{ "<a@b@c>", 0, 0, "more than one @" },
	{ "a@@b", 0, 0, "bad domain" },
	{ "a@", 0, 0, "missing domain" },
	{ "a@ (c)", 0, 0, "missing domain" },
	{ "<a@>", 0, 0, "missing domain" },
	{ "a@, b@c", 0, 0, "missing domain" },
	{ "@b", 0, 0, "missing local part" },
	{ "<@b>", 0, 0, "bad route" },
	{ "<@b:@c>", 0, 0, "missing local part" },
	{ "a..b@c", 0, 0, "bad local part" },
	{ ".a@b", 0, 0, "bad local part" },
	{ "a.@b", 0, 0, "bad local part" },
	{ "a b@c", 0, 0, "bad local part" },
	{ "\"a\"b@c", 0, 0, "bad local part" },
	{ "a[b]@c", 0, 0, "bad local part" },
	{ "\"\"@b", 0, 0, "empty local part" },
	{ "\"\" <\"\"@b>", 0, 0, "empty local part" },
	/* domains */
	{ "a@b.", 0, 0, "bad domain" },
	{ "a@.b", 0, 0, "bad domain" },
	{ "a@b..c", 0, 0, "bad domain" },
	{ "a@b.\"c\"", 0, 0, "bad domain" },
	{ "a@\"b\"", 0, 0, "bad domain" },
	{ "a@[1.2.3.4", 0, 0, "unclosed domain literal" },
	{ "a@[a[b]", 0, 0, "bad domain literal" },
	{ "a@[a\\]b]", 0, 0, "bad domain literal" },
	{ "a@[]", 0, 0, "empty domain literal" },
	{ "a@[ ]", 0, 0, "empty domain literal" },
	{ "a@[1.2.3.4]x", 0, 0, "unexpected text after address" },
	{ "a@x[1.2.3.4]", 0, 0, "unexpected text after address" },
	{ "a@[1.2.3.4].x", 0, 0, "unexpected text after address" },
	/* routes */
	{ "<@a u@b>", 0, 0, "bad route" },
	{ "<@a,b:u@c>", 0, 0, "bad route" },
	{ "<,u@c>", 0, 0, "bad route" },
	{ "<@a:@b:u@c>", 0, 0, "missing local part" },
	{ "<@:u@c>", 0, 0, "bad domain" },
	/* groups */
	{ ": a@b;", 0, 0, "missing group name" },
	{ ".g: a@b;", 0, 0, "bad group name" },
	{ "g: a@b", 0, 0, "unclosed group" },
	{ "g:", 0, 0, "unclosed group" },
	{ "g: a@b,", 0, 0, "unclosed group" },
	{ "g: a@b x;", 0, 0, "unexpected text after address" },
	{ "g: a@b@c;", 0, 0, "more than one @" },
	{ "g: h: a@b;;", 0, 0, "nested group" },
	{ "g: a@b; x", 0, 0, "unexpected text after address" },
	{ "g: a@b;;", 0, 0, "unexpected text after address" },
	{ "g: a@b;", 0, NOGRP, "group not allowed" },
	{ "undisclosed-recipients:;", 0, NOGRP, "group not allowed" },
	{ "a@b, g:;", 0, NOGRP, "group not allowed" },
	/* line ends */
	{ "a\rb@c", 0, 0, "bare CR" },
	{ "a@b\r", 0, 0, "bare CR" },
	{ "a@b\r ", 0, 0, "bare CR" },
	{ "a@b\r\r\n c@d", 0, 0, "bare CR" },
	{ "a@b\r\n", 0, 0, "line end without folding white space" },
	{ "a@b\n", 0, 0, "line end without folding white space" },
	{ "a@b,\r\nc@d", 0, 0, "line end without folding white space" },
	{ "a@b,\nc@d", 0, 0, "line end without folding white space" },
	{ "a\nb@c", 0, 0, "line end without folding white space" },
	{ "a@b,\r\n\r\n c@d", 0, 0, "line end without folding white space" },
	{ "\"a\r\nb\"@c", 0, 0, "line end without folding white space" },
	/* NUL, controls, 8-bit */
	{ "a@b\0", 4, 0, "NUL octet" },
	{ "a\0@b", 4, 0, "NUL octet" },
	{ "\"a\0\"@b", 6, 0, "NUL octet" },
	{ "(\0)a@b", 6, 0, "NUL octet" },
	{ "a@b\0", 4, UTF8, "NUL octet" },
	{ "a\x01@b", 0, 0, "control character" },
	{ "a@b\x7f", 0, 0, "control character" },
	{ "\"a\x1b\"@b", 0, 0, "control character" },
	{ "(\x0c)a@b", 0, 0, "control character" },
	{ "a@b\x0b", 0, UTF8, "control character" },
	{ "j\xc3\xb6rg@x", 0, 0, "8-bit octet without UTF-8" },
	{ "j@b\xc3\xbc" "cher.de", 0, 0, "8-bit octet without UTF-8" },
	{ "J\xc3\xb6rg <j@x>", 0, 0, "8-bit octet without UTF-8" },
	{ "j@x (\xc3\xb6)", 0, 0, "8-bit octet without UTF-8" },
	{ "j@x (\xff)", 0, 0, "8-bit octet without UTF-8" },
	{ "\xc3@x", 0, UTF8, "invalid UTF-8" },
	{ "a@x\xc3", 0, UTF8, "invalid UTF-8" },
	{ "\xc0\x80@x", 0, UTF8, "invalid UTF-8" },
	{ "\xed\xa0\x80@x", 0, UTF8, "invalid UTF-8" },
	{ "\xf4\x90\x80\x80@x", 0, UTF8, "invalid UTF-8" },
	{ "a@b (\xff)", 0, UTF8, "invalid UTF-8" },
	{ "\xe4\xb8\xad\xe4\xb8@x", 0, UTF8, "invalid UTF-8" },
};

static void
check_bad(const struct list_bad *t)
{
	struct addr_list	 l = { NULL, 0 };
	const char		*why = NULL;
	size_t			 len = t->len ? t->len : strlen(t->in);
	int			 r;

	r = addr_list_parse(t->in, len, t->flags, &l, &why);
	if (r != -1 || why == NULL || strcmp(why, t->why) != 0)
		print_error("case \"%s\": got %d \"%s\", want \"%s\"\n",
		    t->in, r, why ? why : "(null)", t->why);
	assert_int_equal(r, -1);
	assert_non_null(why);
	assert_string_equal(why, t->why);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	/* why_r is optional. */
	assert_int_equal(addr_list_parse(t->in, len, t->flags, &l, NULL), -1);
	assert_null(l.v);
}

static void
test_bad(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(list_bad) / sizeof(list_bad[0]); i++)
		check_bad(&list_bad[i]);
}

static int
parse_str(const char *s, int flags, struct addr_list *l, const char **why)
{
	return addr_list_parse(s, strlen(s), flags, l, why);
}

/* "x0@d, x1@d, ..." with n addresses. */
static char *
many(size_t n)
{
	char	*s = xcalloc(n, 16), *p = s;
	size_t	 i;

	for (i = 0; i < n; i++)
		p += snprintf(p, 16, "%sx%zu@d", i ? ", " : "", i);
	return s;
}

static void
test_too_many(void **state)
{
	struct addr_list	 l;
	const char		*why;
	char			*s;

	s = many(ADDR_LIST_ENTRIES_MAX);
	assert_int_equal(parse_str(s, 0, &l, &why), 0);
	assert_int_equal(l.n, ADDR_LIST_ENTRIES_MAX);
	assert_string_equal(l.v[99].local, "x99");
	addr_list_clear(&l);
	free(s);
	s = many(ADDR_LIST_ENTRIES_MAX + 1);
	assert_int_equal(parse_str(s, 0, &l, &why), -1);
	assert_string_equal(why, "too many addresses");
	assert_null(l.v);
	free(s);
}

/* Groups count their members toward the limit. */
static void
test_too_many_group(void **state)
{
	struct addr_list	 l;
	const char		*why;
	char			*m, *s;

	m = many(ADDR_LIST_ENTRIES_MAX);
	s = xasprintf("g: %s;, y@d", m);
	assert_int_equal(parse_str(s, 0, &l, &why), -1);
	assert_string_equal(why, "too many addresses");
	free(s);
	s = xasprintf("g: %s;, h:;", m);
	assert_int_equal(parse_str(s, 0, &l, &why), 0);
	assert_int_equal(l.n, ADDR_LIST_ENTRIES_MAX);
	addr_list_clear(&l);
	free(s);
	free(m);
}

/* "(" x depth, "x@y", ")" x depth. */
static char *
nested(size_t depth)
{
	char	*s = xmalloc(2 * depth + 4);

	memset(s, '(', depth);
	memcpy(s + depth, "x@y", 3);
	memset(s + depth + 3, ')', depth);
	s[2 * depth + 3] = '\0';
	return s;
}

static void
test_depth_limit(void **state)
{
	struct addr_list	 l;
	const char		*why;
	char			*c, *s;

	/* 32 levels of comment ("((x@y))") before an address: fine. */
	c = nested(ADDR_LIST_DEPTH_MAX);
	s = xasprintf("%sa@b", c);
	assert_int_equal(parse_str(s, 0, &l, &why), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].local, "a");
	addr_list_clear(&l);
	free(s);
	/* Only a comment: no address. */
	assert_int_equal(parse_str(c, 0, &l, &why), -1);
	assert_string_equal(why, "no address");
	free(c);
	/* 33: too deep, even when closed. */
	c = nested(ADDR_LIST_DEPTH_MAX + 1);
	s = xasprintf("%sa@b", c);
	assert_int_equal(parse_str(s, 0, &l, &why), -1);
	assert_string_equal(why, "comments nested too deep");
	assert_null(l.v);
	free(s);
	free(c);
}

static void
test_length(void **state)
{
	struct addr_list	 l;
	const char		*why;
	char			*s;

	s = xmalloc(ADDR_LIST_VALUE_MAX + 1);
	memset(s, ' ', ADDR_LIST_VALUE_MAX + 1);
	memcpy(s, "a@b", 3);
	assert_int_equal(addr_list_parse(s, ADDR_LIST_VALUE_MAX, 0, &l, &why),
	    0);
	assert_int_equal(l.n, 1);
	addr_list_clear(&l);
	assert_int_equal(addr_list_parse(s, ADDR_LIST_VALUE_MAX + 1, 0, &l,
	    &why), -1);
	assert_string_equal(why, "field too long");
	assert_null(l.v);
	free(s);
}

/* "<local>@<domain>" with parts of n octets ('l', 'd'). */
static char *
sized(size_t nl, size_t nd, bool literal)
{
	char	*s = xmalloc(nl + nd + 2), *p = s;

	memset(p, 'l', nl);
	p += nl;
	*p++ = '@';
	memset(p, 'd', nd);
	if (literal) {
		p[0] = '[';
		p[nd - 1] = ']';
	}
	p[nd] = '\0';
	return s;
}

static void
check_sized(size_t nl, size_t nd, bool literal, const char *want)
{
	struct addr_list	 l;
	const char		*why;
	char			*s = sized(nl, nd, literal);

	if (want == NULL) {
		assert_int_equal(parse_str(s, 0, &l, &why), 0);
		assert_int_equal(strlen(l.v[0].local), nl);
		assert_int_equal(strlen(l.v[0].domain), nd);
		addr_list_clear(&l);
	} else {
		assert_int_equal(parse_str(s, 0, &l, &why), -1);
		assert_string_equal(why, want);
	}
	free(s);
}

static void
test_part_limits(void **state)
{
	struct addr_list	 l;
	const char		*why;
	char			 q[ADDR_LIST_PART_MAX + 8];

	check_sized(ADDR_LIST_PART_MAX, ADDR_LIST_PART_MAX, false, NULL);
	check_sized(ADDR_LIST_PART_MAX, ADDR_LIST_PART_MAX, true, NULL);
	check_sized(ADDR_LIST_PART_MAX + 1, 1, false, "local part too long");
	check_sized(1, ADDR_LIST_PART_MAX + 1, false, "domain too long");
	check_sized(1, ADDR_LIST_PART_MAX + 1, true, "domain too long");
	check_sized(1000, 1, false, "local part too long");
	/* The limit is on what is kept: quotes and escapes do not count. */
	memset(q, 'x', sizeof(q));
	q[0] = '"';
	q[1] = '\\';
	q[ADDR_LIST_PART_MAX + 2] = '"';
	memcpy(q + ADDR_LIST_PART_MAX + 3, "@b", 3);
	assert_int_equal(parse_str(q, 0, &l, &why), 0);
	assert_int_equal(strlen(l.v[0].local), ADDR_LIST_PART_MAX);
	addr_list_clear(&l);
}

/* A route's domain has the same limit, though it is thrown away. */
static void
test_route_limit(void **state)
{
	struct addr_list	 l;
	const char		*why;
	char			*s, *r;

	s = sized(1, ADDR_LIST_PART_MAX, false);
	r = xasprintf("<@%s:a@b>", s + 2);
	assert_int_equal(parse_str(r, 0, &l, &why), 0);
	assert_int_equal(l.n, 1);
	addr_list_clear(&l);
	free(r);
	free(s);
	s = sized(1, ADDR_LIST_PART_MAX + 1, false);
	r = xasprintf("<@%s:a@b>", s + 2);
	assert_int_equal(parse_str(r, 0, &l, &why), -1);
	assert_string_equal(why, "domain too long");
	free(r);
	free(s);
}

/* An error after some entries leaves nothing behind. */
static void
test_error_after_entries(void **state)
{
	struct addr_list	 l;
	const char		*why;

	assert_int_equal(parse_str("a@b, c@d, g: e@f, root;", 0, &l, &why),
	    -1);
	assert_string_equal(why, "missing @");
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	addr_list_clear(&l);
	addr_list_clear(&l);
	assert_null(l.v);
}

/* A value needs no NUL terminator: only len octets are read. */
static void
test_not_terminated(void **state)
{
	struct addr_list	 l;
	const char		*why;
	char			*s = xmemdup("a@bc(", 5);

	assert_int_equal(addr_list_parse(s, 3, 0, &l, &why), 0);
	assert_string_equal(l.v[0].domain, "b");
	addr_list_clear(&l);
	free(s);
}

/* What passes without the UTF-8 flag passes with it, the same. */
static void
test_utf8_superset(void **state)
{
	struct addr_list	 a, b;
	const char		*why;
	size_t			 i, j;

	for (i = 0; i < sizeof(list_ok) / sizeof(list_ok[0]); i++) {
		if (list_ok[i].flags & UTF8)
			continue;
		assert_int_equal(parse_str(list_ok[i].in, list_ok[i].flags,
		    &a, &why), 0);
		assert_int_equal(parse_str(list_ok[i].in,
		    list_ok[i].flags | UTF8, &b, &why), 0);
		assert_int_equal(a.n, b.n);
		for (j = 0; j < a.n; j++) {
			assert_string_equal(a.v[j].local, b.v[j].local);
			assert_string_equal(a.v[j].domain, b.v[j].domain);
		}
		addr_list_clear(&a);
		addr_list_clear(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_too_many_group),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_part_limits),
		cmocka_unit_test(test_route_limit),
		cmocka_unit_test(test_error_after_entries),
		cmocka_unit_test(test_not_terminated),
		cmocka_unit_test(test_utf8_superset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
