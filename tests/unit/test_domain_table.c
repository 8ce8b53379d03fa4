/*
 * Unit tests for lib/domain_table.c: table lines (valid and invalid),
 * matching rules (exact, .parent, most specific, case), next-hop syntax
 * (brackets, ports, IPv6 literals), files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain_table.h"

static struct domain_table *
parse_ok(const char *text, domain_table_check_fn *check)
{
	struct domain_table	*t = NULL;
	char			*err = NULL;

	if (domain_table_parse(text, strlen(text), "t", check, &t,
	    &err) == -1)
		fail_msg("parse \"%s\": %s", text, err);
	assert_null(err);
	assert_non_null(t);
	return t;
}

static void
parse_bad(const char *text, domain_table_check_fn *check, const char *want)
{
	struct domain_table	*t = (struct domain_table *)1;
	char			*err = NULL;

	assert_int_equal(domain_table_parse(text, strlen(text), "t", check,
	    &t, &err), -1);
	assert_null(t);
	assert_non_null(err);
	if (strcmp(err, want) != 0)
		fail_msg("\"%s\": error \"%s\", want \"%s\"", text, err, want);
	free(err);
}

static void
test_valid(void **state)
{
	static const struct {
		const char	*text;
		size_t		 n;
	} cases[] = {
		{ "", 0 },
		{ "\n\n  \n", 0 },
		{ "# only a comment\n", 0 },
		{ "   # indented comment\n", 0 },
		{ "example.org [127.0.0.1]:2525\n", 1 },
		{ "example.org\t[127.0.0.1]:2525", 1 },
		{ "example.org host # comment\n", 1 },
		{ "example.org a\r\n.example.org b\r\n", 2 },
		{ "Example.ORG. a\nexample.net b\n\n# x\n.net c\n", 3 },
		{ "a_b-c.example x\n", 1 },
	};
	struct domain_table	*t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = parse_ok(cases[i].text, NULL);
		assert_int_equal(domain_table_count(t), cases[i].n);
		domain_table_free(&t);
		assert_null(t);
	}
	(void)state;
}

static void
test_invalid(void **state)
{
	static const struct {
		const char	*text;
		const char	*err;
	} cases[] = {
		{ "example.org\n", "t:1: expected \"domain value\"" },
		{ "a x\nexample.org\n", "t:2: expected \"domain value\"" },
		{ "example.org a b\n", "t:1: expected \"domain value\"" },
		{ "exa mple.org a\n", "t:1: expected \"domain value\"" },
		{ "exa!mple.org a\n", "t:1: bad domain" },
		{ "..example.org a\n", "t:1: bad domain" },
		{ "example..org a\n", "t:1: bad domain" },
		{ ". a\n", "t:1: bad domain" },
		{ "@ a\n", "t:1: bad domain" },
		{ "[127.0.0.1] a\n", "t:1: bad domain" },
		{ "a.org x\nA.ORG y\n", "t: domain a.org given twice" },
		{ "a.org x\na.org. y\n", "t: domain a.org given twice" },
		{ ".a.org x\n.A.org y\n", "t: domain .a.org given twice" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_bad(cases[i].text, NULL, cases[i].err);
	(void)state;
}

static void
test_nul_byte(void **state)
{
	struct domain_table	*t = NULL;
	char			*err = NULL;
	static const char	 text[] = "a.org x\nb.o\0rg y\n";

	assert_int_equal(domain_table_parse(text, sizeof(text) - 1, "t", NULL,
	    &t, &err), -1);
	assert_string_equal(err, "t:2: NUL byte");
	free(err);
	(void)state;
}

static void
test_long_names(void **state)
{
	char	 label[70], name[300], text[700], *err = NULL;
	struct domain_table *t = NULL;

	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(text, sizeof(text), "%s.org x\n", label);
	t = parse_ok(text, NULL);
	domain_table_free(&t);
	memset(label, 'a', 64);
	label[64] = '\0';
	snprintf(text, sizeof(text), "%s.org x\n", label);
	parse_bad(text, NULL, "t:1: bad domain");
	/* 253 octets: 4 labels of 62 + 3 dots + "b" + ... */
	memset(name, 'a', 253);
	for (size_t i = 50; i < 253; i += 51)
		name[i] = '.';
	name[253] = '\0';
	snprintf(text, sizeof(text), "%s x\n", name);
	t = parse_ok(text, NULL);
	domain_table_free(&t);
	name[253] = 'a';
	name[254] = '\0';
	snprintf(text, sizeof(text), "%s x\n", name);
	parse_bad(text, NULL, "t:1: bad domain");
	memset(text, 'v', 600);
	memcpy(text, "a.org ", 6);
	text[600] = '\0';
	assert_int_equal(domain_table_parse(text, strlen(text), "t", NULL,
	    &t, &err), -1);
	assert_string_equal(err, "t:1: value too long");
	free(err);
	(void)state;
}

static void
test_lookup(void **state)
{
	static const struct {
		const char	*domain;
		const char	*value;
	} cases[] = {
		{ "example.org", "exact" },
		{ "EXAMPLE.org", "exact" },
		{ "example.org.", "exact" },
		{ "a.example.org", "sub" },
		{ "x.y.example.org", "sub" },
		{ "b.sub.example.org", "deeper" },
		{ "sub.example.org", "sub" },
		{ "special.sub.example.org", "special" },
		{ "x.special.sub.example.org", "deeper" },
		{ "example.net", NULL },
		{ "a.example.net", "net" },
		{ "org", NULL },
		{ "xexample.org", NULL },
		{ "other.com", "com" },
		{ "", NULL },
		{ ".", NULL },
		{ "example.org..", NULL },
	};
	struct domain_table	*t;
	const char		*v;

	t = parse_ok("example.org exact\n.example.org sub\n"
	    ".sub.example.org deeper\nspecial.sub.example.org special\n"
	    ".example.net net\n.com com\n", NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = domain_table_lookup(t, cases[i].domain);
		if (cases[i].value == NULL && v != NULL)
			fail_msg("%s: got %s", cases[i].domain, v);
		if (cases[i].value != NULL && (v == NULL ||
		    strcmp(v, cases[i].value) != 0))
			fail_msg("%s: got %s, want %s", cases[i].domain,
			    v != NULL ? v : "NULL", cases[i].value);
	}
	domain_table_free(&t);
	assert_null(domain_table_lookup(NULL, "example.org"));
	domain_table_free(&t);		/* NULL-safe */
	(void)state;
}

static void
test_hop_valid(void **state)
{
	static const struct {
		const char	*in;
		const char	*host;
		unsigned	 port;
		bool		 mx;
		bool		 literal;
	} cases[] = {
		{ "[127.0.0.1]:2525", "127.0.0.1", 2525, false, true },
		{ "[127.0.0.1]", "127.0.0.1", 25, false, true },
		{ "[::1]:2525", "::1", 2525, false, true },
		{ "[::1]", "::1", 25, false, true },
		{ "[2001:db8::1]:587", "2001:db8::1", 587, false, true },
		{ "[IPv6:2001:db8::1]", "2001:db8::1", 25, false, true },
		{ "[ipv6:::1]:1", "::1", 1, false, true },
		{ "[relay.example.com]:587", "relay.example.com", 587, false,
		  false },
		{ "[relay.example.com]", "relay.example.com", 25, false,
		  false },
		{ "relay.example.com:2525", "relay.example.com", 2525, true,
		  false },
		{ "relay.example.com", "relay.example.com", 25, true, false },
		{ "relay.example.com.", "relay.example.com", 25, true, false },
		{ "mx:65535", "mx", 65535, true, false },
	};
	struct domain_table_hop	 h;
	const char		*err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = NULL;
		if (domain_table_parse_hop(cases[i].in, &h, &err) == -1)
			fail_msg("%s: %s", cases[i].in, err);
		assert_string_equal(h.host, cases[i].host);
		assert_int_equal(h.port, cases[i].port);
		assert_int_equal(h.mx_lookup, cases[i].mx);
		assert_int_equal(h.literal, cases[i].literal);
		assert_int_equal(domain_table_check_hop(cases[i].in, &err), 0);
	}
	(void)state;
}

static void
test_hop_invalid(void **state)
{
	static const struct {
		const char	*in;
		const char	*err;
	} cases[] = {
		{ "", "bad host name" },
		{ "[]", "bad host name" },
		{ "[]:25", "bad host name" },
		{ "[127.0.0.1", "missing ]" },
		{ "[127.0.0.1]x", "junk after ]" },
		{ "[127.0.0.1]:", "bad port" },
		{ "[127.0.0.1]:0", "bad port" },
		{ "[127.0.0.1]:65536", "bad port" },
		{ "[127.0.0.1]:99999999999999999999", "bad port" },
		{ "[127.0.0.1]:-1", "bad port" },
		{ "[127.0.0.1]:2x", "bad port" },
		{ "[127.0.0.1]: 25", "bad port" },
		{ "host:0", "bad port" },
		{ "host:", "bad port" },
		{ "host:abc", "bad port" },
		{ "127.0.0.1", "an IP address must be in brackets" },
		{ "127.0.0.1:25", "an IP address must be in brackets" },
		{ "::1", "an IP address must be in brackets" },
		{ "2001:db8::1:25", "an IP address must be in brackets" },
		{ "[IPv6:127.0.0.1]", "bad IPv6 address" },
		{ "[IPv6:]", "bad IPv6 address" },
		{ "[fe80::1%eth0]", "bad host name" },
		{ "[2001:db8::zz]", "bad host name" },
		{ "ho st", "bad host name" },
		{ "host..example", "bad host name" },
		{ ":25", "bad host name" },
		{ "[host]]", "junk after ]" },
	};
	struct domain_table_hop	 h;
	const char		*err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = NULL;
		if (domain_table_parse_hop(cases[i].in, &h, &err) == 0)
			fail_msg("%s: accepted", cases[i].in);
		if (strcmp(err, cases[i].err) != 0)
			fail_msg("%s: \"%s\", want \"%s\"", cases[i].in, err,
			    cases[i].err);
	}
	(void)state;
}

static void
test_check(void **state)
{
	struct domain_table	*t;

	parse_bad("a.org [127.0.0.1]:0\n", domain_table_check_hop,
	    "t:1: bad port");
	parse_bad("a.org x\n\nb.org 127.0.0.1\n", domain_table_check_hop,
	    "t:3: an IP address must be in brackets");
	t = parse_ok("a.org [127.0.0.1]:2525\n.b.org relay:587\n",
	    domain_table_check_hop);
	assert_string_equal(domain_table_lookup(t, "A.ORG"),
	    "[127.0.0.1]:2525");
	assert_string_equal(domain_table_lookup(t, "x.b.org"), "relay:587");
	assert_true(domain_table_has_value(t, "RELAY:587"));
	assert_false(domain_table_has_value(t, "relay"));
	assert_false(domain_table_has_value(NULL, "relay:587"));
	domain_table_free(&t);
	(void)state;
}

static void
test_load(void **state)
{
	char			 path[] = "/tmp/test_domain_table.XXXXXX";
	struct domain_table	*t = NULL;
	char			*err = NULL;
	FILE			*f;
	int			 fd;

	assert_true((fd = mkstemp(path)) != -1);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "# transport\nexample.org [127.0.0.1]:2525\n");
	fclose(f);
	assert_int_equal(domain_table_load(path, domain_table_check_hop, &t,
	    &err), 0);
	assert_int_equal(domain_table_count(t), 1);
	domain_table_free(&t);
	assert_non_null(f = fopen(path, "a"));
	fprintf(f, "bad 127.0.0.1\n");
	fclose(f);
	assert_int_equal(domain_table_load(path, domain_table_check_hop, &t,
	    &err), -1);
	assert_non_null(strstr(err, ":3: an IP address must be in brackets"));
	assert_non_null(strstr(err, path));
	free(err);
	unlink(path);
	assert_int_equal(domain_table_load(path, NULL, &t, &err), -1);
	assert_non_null(strstr(err, "No such file"));
	free(err);
	assert_int_equal(domain_table_load("/", NULL, &t, &err), -1);
	assert_non_null(strstr(err, "Is a directory"));
	free(err);
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_hop_valid),
		cmocka_unit_test(test_hop_invalid),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
