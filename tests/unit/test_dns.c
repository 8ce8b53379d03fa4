/*
 * Unit tests for lib/dns: the rdata parsers, names and server addresses
 * (tables), then libunbound end to end against tests/dns_server.py,
 * started here on 127.0.0.1 with a random port and the zone below.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "ev.h"
#include "log.h"
#include "xmalloc.h"

#define WAIT_MS		15000	/* any test's loop: a hung test fails */

/* Parsers: names */

struct name_case {
	const char	*wire;
	size_t		 len;
	const char	*text;		/* NULL: must fail */
	size_t		 used;
};

#define W(s)	(s), sizeof(s) - 1

static const struct name_case name_cases[] = {
	{ W("\0"), ".", 1 },
	{ W("\3www\7example\3com\0"), "www.example.com", 17 },
	{ W("\3www\7example\3com\0trailing"), "www.example.com", 17 },
	{ W("\1a\0"), "a", 3 },
	{ W("\3a.b\0"), "a\\.b", 5 },
	{ W("\3a\\b\0"), "a\\\\b", 5 },
	{ W("\3a b\0"), "a\\032b", 5 },
	{ W("\2\xff\x01\0"), "\\255\\001", 4 },
	{ W("\5M-x_Y\0"), "M-x_Y", 7 },
	{ W(""), NULL, 0 },			/* nothing */
	{ W("\3www"), NULL, 0 },		/* no root label */
	{ W("\3ww"), NULL, 0 },			/* label past the end */
	{ W("\3www\7example"), NULL, 0 },
	{ W("\xc0\x0c"), NULL, 0 },		/* compression pointer */
	{ W("\3www\xc0\x0c"), NULL, 0 },
	{ W("\x40" "a\0"), NULL, 0 },		/* extended label type */
	{ W("\x80" "a\0"), NULL, 0 },
};

static void
test_name_table(void **state)
{
	char	 out[DNS_NAME_TEXT_SIZE];
	size_t	 i, used;
	int	 r;

	for (i = 0; i < sizeof(name_cases) / sizeof(*name_cases); i++) {
		const struct name_case *c = &name_cases[i];

		used = 0;
		r = dns_name_wire_to_text((const uint8_t *)c->wire, c->len,
		    out, sizeof(out), &used);
		if (c->text == NULL) {
			if (r != -1)
				fail_msg("case %zu parsed as %s", i, out);
			continue;
		}
		if (r != 0)
			fail_msg("case %zu (%s) refused", i, c->text);
		assert_string_equal(out, c->text);
		assert_int_equal(used, c->used);
	}
}

/* A wire name of labels of the given lengths, each octet fill. */
static size_t
make_name(uint8_t *w, const size_t *labels, size_t n, uint8_t fill)
{
	size_t	 i, off = 0;

	for (i = 0; i < n; i++) {
		w[off++] = (uint8_t)labels[i];
		memset(w + off, fill, labels[i]);
		off += labels[i];
	}
	w[off++] = 0;
	return off;
}

static void
test_name_limits(void **state)
{
	static const size_t max[] = { 63, 63, 63, 61 };	/* 255 octets */
	static const size_t over[] = { 63, 63, 63, 62 };	/* 256 */
	static const size_t big[] = { 64 };
	uint8_t	 w[300];
	char	 out[DNS_NAME_TEXT_SIZE], small[8];
	size_t	 len, used;

	len = make_name(w, max, 4, 'a');
	assert_int_equal(len, 255);
	assert_int_equal(dns_name_wire_to_text(w, len, out, sizeof(out),
	    &used), 0);
	assert_int_equal(strlen(out), 253);
	assert_int_equal(used, 255);
	/* The worst case for the text: every octet escaped as \DDD. */
	len = make_name(w, max, 4, 0x01);
	assert_int_equal(dns_name_wire_to_text(w, len, out, sizeof(out),
	    &used), 0);
	assert_int_equal(strlen(out), 250 * 4 + 3);
	assert_int_equal(strlen(out) + 1, DNS_NAME_TEXT_SIZE);
	len = make_name(w, over, 4, 'a');
	assert_int_equal(dns_name_wire_to_text(w, len, out, sizeof(out),
	    &used), -1);
	len = make_name(w, big, 1, 'a');
	assert_int_equal(dns_name_wire_to_text(w, len, out, sizeof(out),
	    &used), -1);
	/* Output too small: refused, not cut. */
	len = make_name(w, max, 1, 'a');
	assert_int_equal(dns_name_wire_to_text(w, len, small, sizeof(small),
	    &used), -1);
	assert_int_equal(dns_name_wire_to_text((const uint8_t *)"\1a\0", 3,
	    small, 1, &used), -1);
	assert_int_equal(dns_name_wire_to_text((const uint8_t *)"\1a\0", 3,
	    small, 2, &used), 0);
	assert_string_equal(small, "a");
	assert_int_equal(dns_name_wire_to_text((const uint8_t *)"\2ab\0", 4,
	    small, 2, &used), -1);
	assert_int_equal(dns_name_wire_to_text((const uint8_t *)"\1a\1b\0",
	    5, small, 3, &used), -1);
	assert_int_equal(dns_name_wire_to_text((const uint8_t *)"\1a\1b\0",
	    5, small, 4, &used), 0);
	assert_string_equal(small, "a.b");
}

/* Parsers: rdata */

struct mx_case {
	const char	*rd;
	size_t		 len;
	int		 rc;
	unsigned	 pref;
	const char	*name;
};

static const struct mx_case mx_cases[] = {
	{ W("\0\12\3mx1\7example\0"), 0, 10, "mx1.example" },
	{ W("\xff\xff\1a\0"), 0, 65535, "a" },
	{ W("\0\0\0"), 0, 0, "." },			/* null MX */
	{ W("\0\12\3mx1\0x"), -1, 0, NULL },		/* trailing octet */
	{ W("\0\12"), -1, 0, NULL },			/* no name */
	{ W("\0"), -1, 0, NULL },
	{ W(""), -1, 0, NULL },
	{ W("\0\12\xc0\x0c"), -1, 0, NULL },		/* compressed */
	{ W("\0\12\5mx1\0"), -1, 0, NULL },		/* label overruns */
};

static void
test_rdata_mx(void **state)
{
	char		 name[DNS_NAME_TEXT_SIZE];
	unsigned	 pref;
	size_t		 i;

	for (i = 0; i < sizeof(mx_cases) / sizeof(*mx_cases); i++) {
		const struct mx_case *c = &mx_cases[i];

		pref = 12345;
		if (dns_rdata_mx((const uint8_t *)c->rd, c->len, &pref, name,
		    sizeof(name)) != c->rc)
			fail_msg("mx case %zu", i);
		if (c->rc != 0)
			continue;
		assert_int_equal(pref, c->pref);
		assert_string_equal(name, c->name);
	}
}

static void
test_rdata_addr(void **state)
{
	struct in_addr	 a;
	struct in6_addr	 a6;
	char		 s[INET6_ADDRSTRLEN];
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

	assert_int_equal(dns_rdata_a((const uint8_t *)"\x7f\0\0\1", 4, &a),
	    0);
	assert_string_equal(inet_ntop(AF_INET, &a, s, sizeof(s)),
	    "127.0.0.1");
	assert_int_equal(dns_rdata_a((const uint8_t *)"\x7f\0\0", 3, &a), -1);
	assert_int_equal(dns_rdata_a((const uint8_t *)"\x7f\0\0\1\0", 5, &a),
	    -1);
	assert_int_equal(dns_rdata_a(v6, 0, &a), -1);
	assert_int_equal(dns_rdata_aaaa(v6, 16, &a6), 0);
	assert_string_equal(inet_ntop(AF_INET6, &a6, s, sizeof(s)),
	    "2001:db8::1");
	assert_int_equal(dns_rdata_aaaa(v6, 15, &a6), -1);
	assert_int_equal(dns_rdata_aaaa(v6, 4, &a6), -1);
}

/* Names we query, server addresses, status words */

static void
test_name_valid(void **state)
{
	static const char *const good[] = { "example.com", "example.com.",
	    "a", "_25._tcp.mx.example", "xn--bcher-kva.example",
	    "1.2.3.4.in-addr.arpa", "A-b.C" };
	static const char *const bad[] = { "", ".", "..", "a..b", ".a",
	    "a b", "a\\.b", "bücher.example", "a/b", "a.b..", "a@b" };
	char	 n[300];
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(*good); i++)
		if (!dns_name_valid(good[i]))
			fail_msg("refused %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (dns_name_valid(bad[i]))
			fail_msg("accepted %s", bad[i]);
	memset(n, 'a', 63);
	n[63] = '\0';
	assert_true(dns_name_valid(n));
	memset(n, 'a', 64);
	n[64] = '\0';
	assert_false(dns_name_valid(n));
	/* 253 octets of text is the most (255 on the wire). */
	for (i = 0; i < 253; i++)
		n[i] = i % 2 == 0 ? 'a' : '.';
	n[253] = '\0';
	assert_true(dns_name_valid(n));
	n[253] = '.';
	n[254] = '\0';
	assert_true(dns_name_valid(n));
	n[253] = 'a';
	n[254] = '\0';
	assert_false(dns_name_valid(n));
}

struct server_case {
	const char	*in;
	const char	*out;	/* NULL: refused */
};

static const struct server_case server_cases[] = {
	{ "127.0.0.1", "127.0.0.1" },
	{ "127.0.0.1:5353", "127.0.0.1@5353" },
	{ "127.0.0.1@5353", "127.0.0.1@5353" },
	{ "::1", "::1" },
	{ "[::1]", "::1" },
	{ "[::1]:53", "::1@53" },
	{ "::1@53", "::1@53" },
	{ "2001:db8::1:53", "2001:db8::1:53" },	/* an address, no port */
	{ "127.0.0.1:053", "127.0.0.1@53" },
	{ "", NULL },
	{ "127.0.0.1:", NULL },
	{ "127.0.0.1:0", NULL },
	{ "127.0.0.1:65536", NULL },
	{ "127.0.0.1:x", NULL },
	{ "127.0.0.1@", NULL },
	{ "[::1", NULL },
	{ "[::1]x", NULL },
	{ "[::1]:", NULL },
	{ "[127.0.0.1]:53", NULL },
	{ "localhost", NULL },
	{ "ns.example:53", NULL },
	{ "1.2.3.4.5", NULL },
	{ "fe80::1%eth0", NULL },
	{ "@53", NULL },
	{ "[]:53", NULL },
	{ "1111:2222:3333:4444:5555:6666:7777:8888:9999", NULL },
};

static void
test_server_parse(void **state)
{
	char		 out[64];
	const char	*err;
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof(server_cases) / sizeof(*server_cases); i++) {
		const struct server_case *c = &server_cases[i];

		err = NULL;
		r = dns_server_parse(c->in, out, sizeof(out), &err);
		if (c->out == NULL) {
			if (r != -1 || err == NULL)
				fail_msg("accepted \"%s\"", c->in);
			continue;
		}
		if (r != 0)
			fail_msg("refused \"%s\": %s", c->in, err);
		assert_string_equal(out, c->out);
	}
	assert_int_equal(dns_server_parse("127.0.0.1@53", out, 8, &err), -1);
	assert_string_equal(err, "too long");
}

static void
test_status(void **state)
{
	assert_string_equal(dns_status_str(DNS_OK), "ok");
	assert_string_equal(dns_status_str(DNS_NODATA), "nodata");
	assert_string_equal(dns_status_str(DNS_NXDOMAIN), "nxdomain");
	assert_string_equal(dns_status_str(DNS_NOHOST), "nohost");
	assert_string_equal(dns_status_str(DNS_NULLMX), "nullmx");
	assert_string_equal(dns_status_str(DNS_TEMPFAIL), "tempfail");
	assert_string_equal(dns_status_str(DNS_BOGUS), "bogus");
	assert_string_equal(dns_status_str((enum dns_status)99), "unknown");
	assert_true(dns_status_permanent(DNS_NXDOMAIN));
	assert_true(dns_status_permanent(DNS_NOHOST));
	assert_true(dns_status_permanent(DNS_NULLMX));
	assert_false(dns_status_permanent(DNS_OK));
	assert_false(dns_status_permanent(DNS_TEMPFAIL));
	assert_false(dns_status_permanent(DNS_BOGUS));
	assert_false(dns_status_permanent(DNS_NODATA));
}

/* Configuration errors and files */

static char *
write_temp(const char *text)
{
	char	*path = xstrdup("/tmp/wharf-test-dns-XXXXXX");
	int	 fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
expect_new_fails(const struct dns_config *cfg, const char *needle)
{
	struct ev	*ev = ev_new();
	struct dns	*d;
	char		*err = NULL;

	d = dns_new(ev, cfg, &err);
	assert_null(d);
	assert_non_null(err);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
	free(err);
	ev_free(&ev);
}

static void
test_config_errors(void **state)
{
	const char		*bad[] = { "127.0.0.1", "nope" };
	struct dns_config	 cfg = { .servers = bad, .nservers = 2 };
	char			*ta;

	expect_new_fails(&cfg, "dns server \"nope\"");
	memset(&cfg, 0, sizeof(cfg));
	cfg.resolv_conf = "/nonexistent/resolv.conf";
	expect_new_fails(&cfg, "/nonexistent/resolv.conf");
	cfg.resolv_conf = NULL;
	cfg.servers = bad;
	cfg.nservers = 1;
	cfg.dnssec = true;
	cfg.trust_anchor_file = "/nonexistent/root.key";
	expect_new_fails(&cfg, "/nonexistent/root.key");
	ta = write_temp("; only a comment\n\n");
	cfg.trust_anchor_file = ta;
	expect_new_fails(&cfg, "no trust anchor");
	unlink(ta);
	free(ta);
	ta = write_temp(". IN DS 20326 8 2 (\n E06D44B8 )\n");
	cfg.trust_anchor_file = ta;
	expect_new_fails(&cfg, ":1: not a one-line DS or DNSKEY");
	unlink(ta);
	free(ta);
	ta = write_temp("# anchors\n. IN A 127.0.0.1\n");
	cfg.trust_anchor_file = ta;
	expect_new_fails(&cfg, ":2: not a one-line");
	unlink(ta);
	free(ta);
}

static void
test_config_files(void **state)
{
	struct ev		*ev = ev_new();
	struct dns_config	 cfg = { 0 };
	struct dns		*d;
	const char *const	*list;
	char			*rc, *ta, *err = NULL;
	size_t			 n;

	rc = write_temp("# resolv.conf\nsearch example\n"
	    "nameserver 192.0.2.1\n  nameserver\t2001:db8::53 # x\n"
	    "nameserver fe80::1%eth0\nnameserver bogus\n"
	    "nameserver 192.0.2.2:53\nnameservers 192.0.2.9\n");
	cfg.resolv_conf = rc;
	d = dns_new(ev, &cfg, &err);
	assert_non_null(d);
	list = dns_servers(d, &n);
	assert_int_equal(n, 3);
	assert_string_equal(list[0], "192.0.2.1");
	assert_string_equal(list[1], "2001:db8::53");
	assert_string_equal(list[2], "fe80::1");
	dns_free(&d);
	assert_null(d);
	dns_free(&d);
	unlink(rc);
	free(rc);
	/* No nameserver line: 127.0.0.1, as resolv.conf(5) says. */
	rc = write_temp("search example\n");
	cfg.resolv_conf = rc;
	d = dns_new(ev, &cfg, &err);
	assert_non_null(d);
	list = dns_servers(d, &n);
	assert_int_equal(n, 1);
	assert_string_equal(list[0], "127.0.0.1");
	dns_free(&d);
	unlink(rc);
	free(rc);
	ta = write_temp("; root\n. 172800 IN DS 20326 8 2 "
	    "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"
	    "\n");
	cfg.resolv_conf = NULL;
	cfg.dnssec = true;
	cfg.trust_anchor_file = ta;
	cfg.servers = (const char *[]){ "[::1]:5353" };
	cfg.nservers = 1;
	d = dns_new(ev, &cfg, &err);
	assert_non_null(d);
	list = dns_servers(d, &n);
	assert_string_equal(list[0], "::1@5353");
	dns_free(&d);
	unlink(ta);
	free(ta);
	ev_free(&ev);
}

/* The test server */

static const char zone_json[] =
"{\n"
"  \".\": {},\n"
"  \"multi.example\": {\"MX\": [[10, \"mx-a.multi.example.\"],"
    " [10, \"mx-b.multi.example\"], [20, \"mx-c.multi.example.\"]]},\n"
"  \"mx-a.multi.example\": {\"A\": [\"127.0.1.1\"]},\n"
"  \"mx-b.multi.example\": {\"A\": [\"127.0.1.2\"]},\n"
"  \"mx-c.multi.example\": {\"AAAA\": [\"2001:db8::c\"]},\n"
"  \"cname.example\": {\"MX\": [[5, \"alias.cname.example.\"]]},\n"
"  \"alias.cname.example\": {\"CNAME\": \"real.cname.example.\"},\n"
"  \"real.cname.example\": {\"A\": [\"127.0.2.1\"]},\n"
"  \"amx.example\": {\"A\": [\"127.0.3.1\"], \"AAAA\": [\"2001:db8::3\"]},\n"
"  \"nohost.example\": {\"TXT\": [\"no mail here\"]},\n"
"  \"nullmx.example\": {\"MX\": [[0, \".\"]]},\n"
"  \"nullplus.example\": {\"MX\": [[0, \".\"],"
    " [10, \"mx.nullplus.example.\"]]},\n"
"  \"mx.nullplus.example\": {\"A\": [\"127.0.5.1\"]},\n"
"  \"dotonly.example\": {\"MX\": [[10, \".\"]]},\n"
"  \"fail.example\": {\"SERVFAIL\": true},\n"
"  \"refused.example\": {\"REFUSED\": true},\n"
"  \"slow.example\": {\"TIMEOUT\": true},\n"
"  \"slowhost.example\": {\"MX\": [[10, \"slow.example.\"]]},\n"
"  \"v6only.example\": {\"MX\": [[10, \"v6.v6only.example.\"]]},\n"
"  \"v6.v6only.example\": {\"AAAA\": [\"2001:db8::6\"]},\n"
"  \"both.example\": {\"MX\": [[10, \"dual.both.example.\"]]},\n"
"  \"dual.both.example\": {\"A\": [\"127.0.4.1\", \"127.0.4.2\"],"
    " \"AAAA\": [\"2001:db8::41\"]},\n"
"  \"mixed.example\": {\"MX\": [[10, \"dead.mixed.example.\"],"
    " [20, \"ok.mixed.example.\"]]},\n"
"  \"dead.mixed.example\": {\"SERVFAIL\": true},\n"
"  \"ok.mixed.example\": {\"A\": [\"127.0.6.1\"]},\n"
"  \"alldead.example\": {\"MX\": [[10, \"dead.alldead.example.\"],"
    " [20, \"gone.alldead.example.\"]]},\n"
"  \"dead.alldead.example\": {\"SERVFAIL\": true},\n"
"  \"allgone.example\": {\"MX\": [[10, \"gone.allgone.example.\"]]},\n"
"  \"dup.example\": {\"MX\": [[20, \"H.dup.example.\"],"
    " [10, \"h.dup.example.\"]]},\n"
"  \"h.dup.example\": {\"A\": [\"127.0.7.1\"]},\n"
"  \"badtarget.example\": {\"MX\": [[10, \"bad target.example.\"]]},\n"
"  \"bad target.example\": {\"A\": [\"127.0.8.1\"]},\n"
"  \"tcp.example\": {\"A\": [\"127.0.9.1\"], \"TCP\": true},\n"
"  \"txt.example\": {\"TXT\": [\"hello\"]},\n"
"  \"many.example\": {\"MX\": [[12, \"m12.many.example.\"],"
    " [1, \"m1.many.example.\"], [2, \"m2.many.example.\"],"
    " [3, \"m3.many.example.\"], [4, \"m4.many.example.\"],"
    " [5, \"m5.many.example.\"], [6, \"m6.many.example.\"],"
    " [7, \"m7.many.example.\"], [8, \"m8.many.example.\"],"
    " [9, \"m9.many.example.\"], [10, \"m10.many.example.\"],"
    " [11, \"m11.many.example.\"]]}\n"
"}\n";

struct server {
	pid_t	 pid;
	int	 in;		/* its stdin: closing it stops it */
	int	 port;
	char	*zone;
};

static struct server srv;

static const char *
server_script(void)
{
	const char	*env = getenv("WHARF_TEST_DNS_SERVER");

	if (env != NULL)
		return env;
	if (access("tests/dns_server.py", R_OK) == 0)
		return "tests/dns_server.py";
	return "../../tests/dns_server.py";
}

static void
server_child(int in[2], int out[2], const char *zone)
{
	dup2(in[0], 0);
	dup2(out[1], 1);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	execl("/usr/bin/python3", "python3", server_script(), "--port", "0",
	    "--zone", zone, (char *)NULL);
	_exit(127);
}

static int
server_read_port(int fd)
{
	char	 line[64];
	size_t	 n = 0;
	ssize_t	 r;

	while (n < sizeof(line) - 1 && (n == 0 || line[n - 1] != '\n')) {
		if ((r = read(fd, line + n, sizeof(line) - 1 - n)) <= 0)
			return -1;
		n += (size_t)r;
	}
	line[n] = '\0';
	if (strncmp(line, "ready ", 6) != 0)
		return -1;
	return (int)strtol(line + 6, NULL, 10);
}

static int
server_start(void **state)
{
	int	 in[2], out[2];

	signal(SIGPIPE, SIG_IGN);
	srv.zone = write_temp(zone_json);
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
		return -1;
	if ((srv.pid = fork()) == -1)
		return -1;
	if (srv.pid == 0)
		server_child(in, out, srv.zone);
	close(in[0]);
	close(out[1]);
	srv.in = in[1];
	srv.port = server_read_port(out[0]);
	close(out[0]);
	return srv.port > 0 ? 0 : -1;
}

static int
server_stop(void **state)
{
	close(srv.in);
	kill(srv.pid, SIGTERM);
	waitpid(srv.pid, NULL, 0);
	unlink(srv.zone);
	free(srv.zone);
	return 0;
}

/* Loop helpers */

struct ctx {
	struct ev	*ev;
	struct dns	*dns;
	char		 server[64];
};

static void
ctx_open(struct ctx *c, bool dnssec, unsigned timeout_ms)
{
	const char		*servers[1];
	struct dns_config	 cfg = { 0 };
	char			*err = NULL;

	snprintf(c->server, sizeof(c->server), "127.0.0.1:%d", srv.port);
	servers[0] = c->server;
	cfg.servers = servers;
	cfg.nservers = 1;
	cfg.dnssec = dnssec;
	cfg.timeout_ms = timeout_ms;
	c->ev = ev_new();
	c->dns = dns_new(c->ev, &cfg, &err);
	if (c->dns == NULL)
		fail_msg("dns_new: %s", err);
}

static void
ctx_close(struct ctx *c)
{
	dns_free(&c->dns);
	ev_free(&c->ev);
}

static void
run_until(struct ctx *c, const int *flag, int want)
{
	uint64_t	 end = ev_clock_ms() + WAIT_MS;

	while (*flag < want) {
		if (ev_clock_ms() > end)
			fail_msg("timed out waiting for a callback");
		ev_run_once(c->ev, 100);
	}
}

/* Let the loop run ms milliseconds. */
static void
run_for(struct ctx *c, unsigned ms)
{
	uint64_t	 end = ev_clock_ms() + ms;

	while (ev_clock_ms() < end)
		ev_run_once(c->ev, 20);
}

/* Low-level queries */

struct qrec {
	int		 calls;
	enum dns_status	 status;
	int		 rcode;
	size_t		 nrrs;
	bool		 secure;
	char		 why[256];
	char		 canon[256];
	char		 names[4][64];
	unsigned	 prefs[4];
	char		 addrs[4][INET6_ADDRSTRLEN];
	uint8_t		 rdata[64];
	size_t		 rdlen;
};

static void
rec_addr(const struct sockaddr_storage *ss, char *out, size_t size)
{
	const void	*a;

	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	assert_non_null(inet_ntop(ss->ss_family, a, out, (socklen_t)size));
}

static void
qrec_cb(const struct dns_result *r, void *arg)
{
	struct qrec	*q = arg;
	size_t		 i;

	q->calls++;
	q->status = r->status;
	q->rcode = r->rcode;
	q->nrrs = r->nrrs;
	q->secure = r->secure;
	snprintf(q->why, sizeof(q->why), "%s", r->why ? r->why : "");
	snprintf(q->canon, sizeof(q->canon), "%s",
	    r->canonname ? r->canonname : "");
	if (r->status != DNS_OK)
		assert_int_equal(r->nrrs, 0);
	for (i = 0; i < r->nrrs && i < 4; i++) {
		assert_int_equal(r->rrs[i].type, r->qtype);
		if (r->rrs[i].name != NULL)
			snprintf(q->names[i], sizeof(q->names[i]), "%s",
			    r->rrs[i].name);
		q->prefs[i] = r->rrs[i].pref;
		if (r->qtype == DNS_T_A || r->qtype == DNS_T_AAAA)
			rec_addr(&r->rrs[i].addr, q->addrs[i],
			    sizeof(q->addrs[i]));
		if (i == 0 && r->rrs[0].rdlen <= sizeof(q->rdata)) {
			memcpy(q->rdata, r->rrs[0].rdata, r->rrs[0].rdlen);
			q->rdlen = r->rrs[0].rdlen;
		}
	}
}

static void
query(struct ctx *c, const char *name, int type, struct qrec *q)
{
	char	*err = NULL;

	memset(q, 0, sizeof(*q));
	if (dns_query(c->dns, name, type, qrec_cb, q, NULL, &err) != 0)
		fail_msg("dns_query %s: %s", name, err);
	run_until(c, &q->calls, 1);
	assert_int_equal(q->calls, 1);
}

static void
test_query_answers(void **state)
{
	struct ctx	 c;
	struct qrec	 q;

	ctx_open(&c, false, 5000);
	query(&c, "real.cname.example", DNS_T_A, &q);
	assert_int_equal(q.status, DNS_OK);
	assert_int_equal(q.rcode, 0);
	assert_int_equal(q.nrrs, 1);
	assert_string_equal(q.addrs[0], "127.0.2.1");
	assert_string_equal(q.canon, "");
	assert_false(q.secure);
	query(&c, "alias.cname.example.", DNS_T_A, &q);
	assert_int_equal(q.status, DNS_OK);
	assert_string_equal(q.addrs[0], "127.0.2.1");
	assert_string_equal(q.canon, "real.cname.example");
	query(&c, "dual.both.example", DNS_T_AAAA, &q);
	assert_int_equal(q.status, DNS_OK);
	assert_string_equal(q.addrs[0], "2001:db8::41");
	query(&c, "nullmx.example", DNS_T_MX, &q);
	assert_int_equal(q.status, DNS_OK);
	assert_int_equal(q.nrrs, 1);
	assert_string_equal(q.names[0], ".");
	assert_int_equal(q.prefs[0], 0);
	query(&c, "cname.example", DNS_T_MX, &q);
	assert_string_equal(q.names[0], "alias.cname.example");
	assert_int_equal(q.prefs[0], 5);
	query(&c, "txt.example", DNS_T_TXT, &q);
	assert_int_equal(q.status, DNS_OK);
	assert_int_equal(q.rdlen, 6);
	assert_memory_equal(q.rdata, "\5hello", 6);
	query(&c, "alias.cname.example", DNS_T_CNAME, &q);
	assert_int_equal(q.status, DNS_OK);
	assert_string_equal(q.names[0], "real.cname.example");
	/* Truncated over UDP: libunbound retries over TCP. */
	query(&c, "tcp.example", DNS_T_A, &q);
	assert_int_equal(q.status, DNS_OK);
	assert_string_equal(q.addrs[0], "127.0.9.1");
	ctx_close(&c);
}

static void
test_query_failures(void **state)
{
	struct ctx	 c;
	struct qrec	 q;
	uint64_t	 t0;

	ctx_open(&c, false, 600);
	query(&c, "nx.example", DNS_T_A, &q);
	assert_int_equal(q.status, DNS_NXDOMAIN);
	assert_int_equal(q.rcode, 3);
	query(&c, "nohost.example", DNS_T_A, &q);
	assert_int_equal(q.status, DNS_NODATA);
	assert_int_equal(q.rcode, 0);
	query(&c, "fail.example", DNS_T_A, &q);
	assert_int_equal(q.status, DNS_TEMPFAIL);
	assert_int_equal(q.rcode, 2);
	assert_string_equal(q.why, "SERVFAIL");
	query(&c, "refused.example", DNS_T_A, &q);
	assert_int_equal(q.status, DNS_TEMPFAIL);
	t0 = ev_clock_ms();
	query(&c, "slow.example", DNS_T_A, &q);
	assert_int_equal(q.status, DNS_TEMPFAIL);
	assert_int_equal(q.rcode, -1);
	assert_string_equal(q.why, "timeout");
	assert_true(ev_clock_ms() - t0 >= 550);
	assert_true(ev_clock_ms() - t0 < 3000);
	ctx_close(&c);
}

static void
test_query_bad_args(void **state)
{
	struct ctx	 c;
	struct dns_req	*req = (struct dns_req *)&c;
	struct qrec	 q = { 0 };
	char		*err = NULL;

	ctx_open(&c, false, 1000);
	assert_int_equal(dns_query(c.dns, "bad name", DNS_T_A, qrec_cb, &q,
	    &req, &err), -1);
	assert_null(req);
	assert_non_null(err);
	free(err);
	err = NULL;
	assert_int_equal(dns_query(c.dns, "ok.example", 0, qrec_cb, &q, NULL,
	    &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(dns_query(c.dns, "ok.example", 65536, qrec_cb, &q,
	    NULL, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(dns_mx_route(c.dns, "a..b", NULL, NULL, NULL, &err),
	    -1);
	free(err);
	run_for(&c, 50);
	assert_int_equal(q.calls, 0);
	ctx_close(&c);
}

/* No answer at all from the server: TEMPFAIL at the deadline. */
static void
test_query_silent_server(void **state)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	socklen_t		 len = sizeof(sin);
	const char		*servers[1];
	struct dns_config	 cfg = { 0 };
	struct ctx		 c;
	struct qrec		 q;
	char			 addr[64], *err = NULL;
	uint64_t		 t0;
	int			 fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1@%u", ntohs(sin.sin_port));
	servers[0] = addr;
	cfg.servers = servers;
	cfg.nservers = 1;
	cfg.timeout_ms = 400;
	c.ev = ev_new();
	c.dns = dns_new(c.ev, &cfg, &err);
	assert_non_null(c.dns);
	t0 = ev_clock_ms();
	query(&c, "example.com", DNS_T_MX, &q);
	assert_int_equal(q.status, DNS_TEMPFAIL);
	assert_string_equal(q.why, "timeout");
	assert_true(ev_clock_ms() - t0 < 2000);
	ctx_close(&c);
	close(fd);
}

/* Routes */

struct rrec {
	int			 calls;
	struct dns_route	*route;
};

static void
rrec_cb(struct dns_route *r, void *arg)
{
	struct rrec	*q = arg;

	q->calls++;
	dns_route_free(&q->route);
	q->route = r;
}

static struct dns_route *
route(struct ctx *c, const char *domain, struct rrec *q)
{
	char	*err = NULL;

	memset(q, 0, sizeof(*q));
	if (dns_mx_route(c->dns, domain, rrec_cb, q, NULL, &err) != 0)
		fail_msg("dns_mx_route %s: %s", domain, err);
	run_until(c, &q->calls, 1);
	assert_int_equal(q->calls, 1);
	if (q->route->status == DNS_OK)
		assert_null(q->route->why);
	else
		assert_non_null(q->route->why);
	return q->route;
}

static void
assert_host(const struct dns_host *h, const char *name, unsigned pref,
    enum dns_status st, size_t naddrs)
{
	assert_string_equal(h->name, name);
	assert_int_equal(h->pref, pref);
	assert_int_equal(h->status, st);
	assert_int_equal(h->naddrs, naddrs);
}

static void
assert_addr(const struct dns_host *h, size_t i, const char *want)
{
	char	 s[INET6_ADDRSTRLEN];

	assert_true(i < h->naddrs);
	rec_addr(&h->addrs[i], s, sizeof(s));
	assert_string_equal(s, want);
}

static void
test_route_mx_order(void **state)
{
	struct ctx		 c;
	struct rrec		 q;
	struct dns_route	*r;
	int			 a_first = 0, b_first = 0, i;

	ctx_open(&c, false, 5000);
	for (i = 0; i < 40; i++) {
		r = route(&c, "multi.example.", &q);
		assert_int_equal(r->status, DNS_OK);
		assert_string_equal(r->domain, "multi.example");
		assert_false(r->implicit);
		assert_false(r->secure);
		assert_int_equal(r->nhosts, 3);
		assert_int_equal(r->hosts[0].pref, 10);
		assert_int_equal(r->hosts[1].pref, 10);
		if (strcmp(r->hosts[0].name, "mx-a.multi.example") == 0) {
			a_first++;
			assert_host(&r->hosts[1], "mx-b.multi.example", 10,
			    DNS_OK, 1);
			assert_addr(&r->hosts[0], 0, "127.0.1.1");
		} else {
			b_first++;
			assert_host(&r->hosts[0], "mx-b.multi.example", 10,
			    DNS_OK, 1);
			assert_addr(&r->hosts[0], 0, "127.0.1.2");
		}
		assert_host(&r->hosts[2], "mx-c.multi.example", 20, DNS_OK, 1);
		assert_addr(&r->hosts[2], 0, "2001:db8::c");
		dns_route_free(&q.route);
		assert_null(q.route);
	}
	/* Equal preferences are shuffled: both orders show up. */
	assert_true(a_first > 0);
	assert_true(b_first > 0);
	ctx_close(&c);
}

static void
test_route_shapes(void **state)
{
	struct ctx		 c;
	struct rrec		 q;
	struct dns_route	*r;

	ctx_open(&c, false, 5000);
	/* The MX target is an alias: libunbound follows it. */
	r = route(&c, "cname.example", &q);
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->nhosts, 1);
	assert_host(&r->hosts[0], "alias.cname.example", 5, DNS_OK, 1);
	assert_addr(&r->hosts[0], 0, "127.0.2.1");
	dns_route_free(&q.route);
	/* No MX: the domain itself, both families, v6 first. */
	r = route(&c, "amx.example", &q);
	assert_int_equal(r->status, DNS_OK);
	assert_true(r->implicit);
	assert_int_equal(r->nhosts, 1);
	assert_host(&r->hosts[0], "amx.example", 0, DNS_OK, 2);
	assert_addr(&r->hosts[0], 0, "2001:db8::3");
	assert_addr(&r->hosts[0], 1, "127.0.3.1");
	dns_route_free(&q.route);
	/* IPv6 only. */
	r = route(&c, "v6only.example", &q);
	assert_int_equal(r->status, DNS_OK);
	assert_host(&r->hosts[0], "v6.v6only.example", 10, DNS_OK, 1);
	assert_int_equal(r->hosts[0].addrs[0].ss_family, AF_INET6);
	dns_route_free(&q.route);
	/* Both families, interleaved: v6, v4, then the rest of v4. */
	r = route(&c, "both.example", &q);
	assert_int_equal(r->status, DNS_OK);
	assert_host(&r->hosts[0], "dual.both.example", 10, DNS_OK, 3);
	assert_addr(&r->hosts[0], 0, "2001:db8::41");
	assert_int_equal(r->hosts[0].addrs[1].ss_family, AF_INET);
	assert_int_equal(r->hosts[0].addrs[2].ss_family, AF_INET);
	dns_route_free(&q.route);
	/* A null MX among others is just dropped. */
	r = route(&c, "nullplus.example", &q);
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->nhosts, 1);
	assert_host(&r->hosts[0], "mx.nullplus.example", 10, DNS_OK, 1);
	dns_route_free(&q.route);
	/* The same host twice: once, with the better preference. */
	r = route(&c, "dup.example", &q);
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->nhosts, 1);
	assert_int_equal(r->hosts[0].pref, 10);
	dns_route_free(&q.route);
	ctx_close(&c);
}

static void
test_route_permanent(void **state)
{
	struct ctx		 c;
	struct rrec		 q;
	struct dns_route	*r;
	size_t			 i;

	ctx_open(&c, false, 5000);
	r = route(&c, "nullmx.example", &q);
	assert_int_equal(r->status, DNS_NULLMX);
	assert_int_equal(r->nhosts, 0);
	assert_non_null(strstr(r->why, "RFC 7505"));
	dns_route_free(&q.route);
	r = route(&c, "nx.example", &q);
	assert_int_equal(r->status, DNS_NXDOMAIN);
	assert_string_equal(r->why, "MX lookup for nx.example: no such domain");
	dns_route_free(&q.route);
	r = route(&c, "nohost.example", &q);
	assert_int_equal(r->status, DNS_NOHOST);
	assert_true(r->implicit);
	assert_int_equal(r->nhosts, 1);
	assert_host(&r->hosts[0], "nohost.example", 0, DNS_NOHOST, 0);
	dns_route_free(&q.route);
	r = route(&c, "dotonly.example", &q);
	assert_int_equal(r->status, DNS_NOHOST);
	assert_int_equal(r->nhosts, 0);
	dns_route_free(&q.route);
	r = route(&c, "allgone.example", &q);
	assert_int_equal(r->status, DNS_NOHOST);
	assert_int_equal(r->nhosts, 1);
	assert_false(r->implicit);
	dns_route_free(&q.route);
	/* An MX target that is no host name is skipped. */
	r = route(&c, "badtarget.example", &q);
	assert_int_equal(r->status, DNS_NOHOST);
	assert_int_equal(r->nhosts, 0);
	dns_route_free(&q.route);
	/* Twelve MX: the best DNS_ROUTE_HOSTS_MAX are kept, in order. */
	r = route(&c, "many.example", &q);
	assert_int_equal(r->status, DNS_NOHOST);
	assert_int_equal(r->nhosts, DNS_ROUTE_HOSTS_MAX);
	for (i = 0; i < r->nhosts; i++)
		assert_int_equal(r->hosts[i].pref, i + 1);
	dns_route_free(&q.route);
	ctx_close(&c);
}

static void
test_route_temporary(void **state)
{
	struct ctx		 c;
	struct rrec		 q;
	struct dns_route	*r;
	uint64_t		 t0;

	ctx_open(&c, false, 500);
	r = route(&c, "fail.example", &q);
	assert_int_equal(r->status, DNS_TEMPFAIL);
	assert_string_equal(r->why, "MX lookup for fail.example: SERVFAIL");
	dns_route_free(&q.route);
	/* One host fails, the other has an address: OK, both listed. */
	r = route(&c, "mixed.example", &q);
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->nhosts, 2);
	assert_host(&r->hosts[0], "dead.mixed.example", 10, DNS_TEMPFAIL, 0);
	assert_host(&r->hosts[1], "ok.mixed.example", 20, DNS_OK, 1);
	dns_route_free(&q.route);
	/* No address anywhere and one failure: TEMPFAIL, not NOHOST. */
	r = route(&c, "alldead.example", &q);
	assert_int_equal(r->status, DNS_TEMPFAIL);
	assert_host(&r->hosts[0], "dead.alldead.example", 10, DNS_TEMPFAIL, 0);
	assert_host(&r->hosts[1], "gone.alldead.example", 20, DNS_NOHOST, 0);
	assert_non_null(strstr(r->why, "dead.alldead.example"));
	dns_route_free(&q.route);
	t0 = ev_clock_ms();
	r = route(&c, "slow.example", &q);
	assert_int_equal(r->status, DNS_TEMPFAIL);
	assert_string_equal(r->why, "MX lookup for slow.example: timeout");
	assert_true(ev_clock_ms() - t0 < 2500);
	dns_route_free(&q.route);
	ctx_close(&c);
}

/* DNSSEC on, against a server that signs nothing: everything is bogus. */
static void
test_route_bogus(void **state)
{
	struct ctx		 c;
	struct rrec		 q;
	struct qrec		 a;
	struct dns_route	*r;

	ctx_open(&c, true, 5000);
	r = route(&c, "multi.example", &q);
	assert_int_equal(r->status, DNS_BOGUS);
	assert_false(r->secure);
	assert_int_equal(r->nhosts, 0);
	assert_non_null(strstr(r->why, "MX lookup for multi.example"));
	assert_false(dns_status_permanent(r->status));
	dns_route_free(&q.route);
	query(&c, "real.cname.example", DNS_T_A, &a);
	assert_int_equal(a.status, DNS_BOGUS);
	assert_int_equal(a.nrrs, 0);
	assert_true(strlen(a.why) > 0);
	ctx_close(&c);
}

/* Lifetime: cancel, free with work pending, free from a callback */

static void
test_cancel(void **state)
{
	struct ctx		 c;
	struct qrec		 q = { 0 }, q2;
	struct rrec		 rr = { 0 };
	struct dns_req		*req;
	struct dns_route_req	*rreq;
	char			*err = NULL;

	ctx_open(&c, false, 300);
	assert_int_equal(dns_query(c.dns, "real.cname.example", DNS_T_A,
	    qrec_cb, &q, &req, &err), 0);
	assert_non_null(req);
	dns_cancel(&req);
	assert_null(req);
	dns_cancel(&req);
	assert_int_equal(dns_query(c.dns, "slow.example", DNS_T_A, qrec_cb, &q,
	    &req, &err), 0);
	dns_cancel(&req);
	assert_int_equal(dns_mx_route(c.dns, "slowhost.example", rrec_cb, &rr,
	    &rreq, &err), 0);
	assert_non_null(rreq);
	/* Cancel the route in its second round (addresses in flight). */
	run_for(&c, 30);
	dns_route_cancel(&rreq);
	assert_null(rreq);
	dns_route_cancel(&rreq);
	run_for(&c, 600);
	assert_int_equal(q.calls, 0);
	assert_int_equal(rr.calls, 0);
	query(&c, "real.cname.example", DNS_T_A, &q2);
	assert_int_equal(q2.status, DNS_OK);
	ctx_close(&c);
}

static void
test_free_pending(void **state)
{
	struct ctx	 c;
	struct qrec	 q = { 0 };
	struct rrec	 rr = { 0 };
	char		*err = NULL;

	ctx_open(&c, false, 5000);
	assert_int_equal(dns_query(c.dns, "slow.example", DNS_T_A, qrec_cb, &q,
	    NULL, &err), 0);
	assert_int_equal(dns_mx_route(c.dns, "slowhost.example", rrec_cb, &rr,
	    NULL, &err), 0);
	assert_int_equal(dns_mx_route(c.dns, "slow.example", rrec_cb, &rr,
	    NULL, &err), 0);
	run_for(&c, 50);
	dns_free(&c.dns);
	assert_null(c.dns);
	run_for(&c, 100);
	assert_int_equal(q.calls, 0);
	assert_int_equal(rr.calls, 0);
	ev_free(&c.ev);
	/* Never queried: no helper was started; free is immediate. */
	ctx_open(&c, false, 5000);
	ctx_close(&c);
}

struct chain {
	struct ctx	*c;
	int		 calls;
	struct qrec	 other;
	struct dns_req	*other_req;
	struct qrec	 next;
};

/* First answer: cancel the other query, start a new one. */
static void
chain_cb(const struct dns_result *r, void *arg)
{
	struct chain	*ch = arg;
	char		*err = NULL;

	ch->calls++;
	assert_int_equal(r->status, DNS_OK);
	dns_cancel(&ch->other_req);
	assert_int_equal(dns_query(ch->c->dns, "amx.example", DNS_T_AAAA,
	    qrec_cb, &ch->next, NULL, &err), 0);
}

/* An answer whose callback frees the whole struct dns. */
static void
free_cb(const struct dns_result *r, void *arg)
{
	struct chain	*ch = arg;

	ch->calls++;
	dns_free(&ch->c->dns);
}

static void
route_free_cb(struct dns_route *r, void *arg)
{
	struct chain	*ch = arg;

	ch->calls++;
	dns_route_free(&r);
	dns_free(&ch->c->dns);
}

static void
test_callbacks_reenter(void **state)
{
	struct ctx	 c;
	struct chain	 ch = { .c = &c };
	struct qrec	 late = { 0 };
	char		*err = NULL;

	ctx_open(&c, false, 3000);
	assert_int_equal(dns_query(c.dns, "slow.example", DNS_T_A, qrec_cb,
	    &ch.other, &ch.other_req, &err), 0);
	assert_int_equal(dns_query(c.dns, "real.cname.example", DNS_T_A,
	    chain_cb, &ch, NULL, &err), 0);
	run_until(&c, &ch.next.calls, 1);
	assert_int_equal(ch.calls, 1);
	assert_int_equal(ch.other.calls, 0);
	assert_int_equal(ch.next.status, DNS_OK);
	assert_string_equal(ch.next.addrs[0], "2001:db8::3");
	/* dns_free() inside a callback, with other work pending. */
	ch.calls = 0;
	assert_int_equal(dns_query(c.dns, "slow.example", DNS_T_A, qrec_cb,
	    &late, NULL, &err), 0);
	assert_int_equal(dns_query(c.dns, "real.cname.example", DNS_T_A,
	    free_cb, &ch, NULL, &err), 0);
	run_until(&c, &ch.calls, 1);
	assert_null(c.dns);
	run_for(&c, 100);
	assert_int_equal(late.calls, 0);
	ev_free(&c.ev);
	/* ... and inside a route's callback. */
	ctx_open(&c, false, 3000);
	ch.calls = 0;
	assert_int_equal(dns_mx_route(c.dns, "multi.example", route_free_cb,
	    &ch, NULL, &err), 0);
	assert_int_equal(dns_query(c.dns, "slow.example", DNS_T_A, qrec_cb,
	    &late, NULL, &err), 0);
	run_until(&c, &ch.calls, 1);
	assert_null(c.dns);
	ev_free(&c.ev);
	/* ... and inside a timeout. */
	ctx_open(&c, false, 200);
	ch.calls = 0;
	assert_int_equal(dns_query(c.dns, "slow.example", DNS_T_A, free_cb, &ch,
	    NULL, &err), 0);
	assert_int_equal(dns_query(c.dns, "slow.example", DNS_T_AAAA, qrec_cb,
	    &late, NULL, &err), 0);
	run_until(&c, &ch.calls, 1);
	assert_null(c.dns);
	assert_int_equal(late.calls, 0);
	ev_free(&c.ev);
}

/* The helper process: our child other than the test server. */
static pid_t
find_helper(void)
{
	DIR		*dir = opendir("/proc");
	struct dirent	*de;
	char		 path[64], buf[512], *p;
	pid_t		 found = -1, pid;
	FILE		*f;
	long		 ppid;

	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		pid = (pid_t)strtol(de->d_name, &p, 10);
		if (*p != '\0' || pid <= 0 || pid == srv.pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %ld", &ppid) == 1 && ppid == getpid())
			found = pid;
		fclose(f);
	}
	closedir(dir);
	return found;
}

static void
test_helper_lost(void **state)
{
	struct ctx	 c;
	struct qrec	 q = { 0 }, q2;
	pid_t		 helper;
	char		*err = NULL;

	ctx_open(&c, false, 5000);
	assert_int_equal(find_helper(), -1);	/* forked lazily */
	query(&c, "real.cname.example", DNS_T_A, &q2);
	helper = find_helper();
	assert_true(helper > 0);
	assert_int_equal(dns_query(c.dns, "slow.example", DNS_T_A, qrec_cb, &q,
	    NULL, &err), 0);
	assert_int_equal(kill(helper, SIGKILL), 0);
	run_until(&c, &q.calls, 1);
	assert_int_equal(q.status, DNS_TEMPFAIL);
	assert_string_equal(q.why, "resolver process lost");
	/* A new context and helper serve the next query. */
	query(&c, "real.cname.example", DNS_T_A, &q2);
	assert_int_equal(q2.status, DNS_OK);
	assert_true(find_helper() > 0);
	assert_true(find_helper() != helper);
	ctx_close(&c);
	assert_int_equal(find_helper(), -1);	/* reaped by ub_ctx_delete */
}

/* Wait until pid is a zombie: dead, not yet reaped. */
static void
wait_zombie(pid_t pid)
{
	char	 path[64], buf[512], *p;
	FILE	*f;
	int	 i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (i = 0; i < 500; i++) {
		assert_non_null(f = fopen(path, "r"));
		assert_non_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		p = strrchr(buf, ')');
		if (p != NULL && p[2] == 'Z')
			return;
		usleep(10000);
	}
	fail_msg("helper %d did not die", (int)pid);
}

/*
 * A cancel that cannot reach the dead helper: the request is kept as an
 * orphan (libunbound still points at it) and freed with the context.
 */
static void
test_cancel_orphan(void **state)
{
	struct ctx	 c;
	struct qrec	 q = { 0 }, q2 = { 0 };
	struct dns_req	*req;
	pid_t		 helper;
	char		*err = NULL;

	ctx_open(&c, false, 5000);
	assert_int_equal(dns_query(c.dns, "slow.example", DNS_T_A, qrec_cb, &q,
	    &req, &err), 0);
	assert_int_equal(dns_query(c.dns, "slow.example", DNS_T_MX, qrec_cb,
	    &q2, NULL, &err), 0);
	run_for(&c, 50);
	helper = find_helper();
	assert_true(helper > 0);
	assert_int_equal(kill(helper, SIGKILL), 0);
	wait_zombie(helper);
	dns_cancel(&req);
	assert_null(req);
	run_until(&c, &q2.calls, 1);
	assert_int_equal(q2.status, DNS_TEMPFAIL);
	assert_int_equal(q.calls, 0);
	query(&c, "amx.example", DNS_T_A, &q2);
	assert_int_equal(q2.status, DNS_OK);
	ctx_close(&c);
}

/* A trust anchor libunbound refuses: the first query fails, no callback. */
static void
test_bad_anchor(void **state)
{
	const char		*servers[] = { "127.0.0.1" };
	struct dns_config	 cfg = { .servers = servers, .nservers = 1,
				    .dnssec = true };
	struct ev		*ev = ev_new();
	struct dns		*d;
	struct qrec		 q = { 0 };
	char			*ta, *err = NULL;

	ta = write_temp(". IN DS 20326 8 2 not-hex\n");
	cfg.trust_anchor_file = ta;
	d = dns_new(ev, &cfg, &err);
	assert_non_null(d);
	assert_int_equal(dns_query(d, "amx.example", DNS_T_A, qrec_cb, &q,
	    NULL, &err), -1);
	assert_string_equal(err, "dns: initialization failure");
	free(err);
	err = NULL;
	assert_int_equal(dns_mx_route(d, "amx.example", rrec_cb, NULL, NULL,
	    &err), -1);
	free(err);
	dns_free(&d);
	assert_int_equal(q.calls, 0);
	unlink(ta);
	free(ta);
	ev_free(&ev);
}

int
main(void)
{
	const struct CMUnitTest parsers[] = {
		cmocka_unit_test(test_name_table),
		cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_rdata_mx),
		cmocka_unit_test(test_rdata_addr),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_server_parse),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_files),
	};
	const struct CMUnitTest live[] = {
		cmocka_unit_test(test_query_answers),
		cmocka_unit_test(test_query_failures),
		cmocka_unit_test(test_query_bad_args),
		cmocka_unit_test(test_query_silent_server),
		cmocka_unit_test(test_route_mx_order),
		cmocka_unit_test(test_route_shapes),
		cmocka_unit_test(test_route_permanent),
		cmocka_unit_test(test_route_temporary),
		cmocka_unit_test(test_route_bogus),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_free_pending),
		cmocka_unit_test(test_callbacks_reenter),
		cmocka_unit_test(test_helper_lost),
		cmocka_unit_test(test_cancel_orphan),
		cmocka_unit_test(test_bad_anchor),
	};
	int	 fails;

	log_init("test_dns", LOG_TO_STDERR, LOG_LEVEL_WARN);
	fails = cmocka_run_group_tests_name("dns parsers", parsers, NULL,
	    NULL);
	fails += cmocka_run_group_tests_name("dns live", live, server_start,
	    server_stop);
	return fails != 0;
}
