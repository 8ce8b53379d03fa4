/* Unit tests for lib/net.c: address parsing, listening sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"

static void
test_parse_valid(void **state)
{
	static const struct {
		const char	*in;
		int		 family;
		const char	*str;
	} cases[] = {
		{ "1.2.3.4:25", AF_INET, "1.2.3.4:25" },
		{ "127.0.0.1:587", AF_INET, "127.0.0.1:587" },
		{ "0.0.0.0:1", AF_INET, "0.0.0.0:1" },
		{ "255.255.255.255:65535", AF_INET, "255.255.255.255:65535" },
		{ "10.0.0.1:025", AF_INET, "10.0.0.1:25" },
		{ "*:25", AF_INET, "0.0.0.0:25" },
		{ ":465", AF_INET, "0.0.0.0:465" },
		{ "[::1]:25", AF_INET6, "[::1]:25" },
		{ "[::]:143", AF_INET6, "[::]:143" },
		{ "[2001:db8::1]:993", AF_INET6, "[2001:db8::1]:993" },
		{ "[2001:DB8:0:0:0:0:0:1]:1", AF_INET6, "[2001:db8::1]:1" },
		{ "[::ffff:1.2.3.4]:25", AF_INET6, "[::ffff:1.2.3.4]:25" },
	};
	struct net_addr	 a, b;
	const char	*err;
	char		 str[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = NULL;
		assert_int_equal(net_parse_addr(cases[i].in, &a, &err), 0);
		assert_null(err);
		assert_int_equal(a.ss.ss_family, cases[i].family);
		assert_int_equal(a.len, cases[i].family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		assert_string_equal(net_addr_str((struct sockaddr *)&a.ss,
		    str, sizeof(str)), cases[i].str);
		/* Round trip: the printed form parses to the same address. */
		assert_int_equal(net_parse_addr(str, &b, &err), 0);
		assert_int_equal(b.len, a.len);
		assert_memory_equal(&a.ss, &b.ss, a.len);
	}
}

static void
test_parse_fields(void **state)
{
	struct net_addr		 a;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&a.ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a.ss;
	const char		*err;

	assert_int_equal(net_parse_addr("192.0.2.7:2525", &a, &err), 0);
	assert_int_equal(ntohs(sin->sin_port), 2525);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc0000207);
	assert_int_equal(net_parse_addr("*:25", &a, &err), 0);
	assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(net_parse_addr("[::1]:110", &a, &err), 0);
	assert_int_equal(ntohs(sin6->sin6_port), 110);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_int_equal(sin6->sin6_scope_id, 0);
	assert_int_equal(sin6->sin6_flowinfo, 0);
}

static void
test_parse_invalid(void **state)
{
	static const struct {
		const char	*in;
		const char	*err;
	} cases[] = {
		{ "", "missing port" },
		{ "1.2.3.4", "missing port" },
		{ "1.2.3.4:", "missing port" },
		{ "*", "missing port" },
		{ ":", "missing port" },
		{ "1.2.3.4:0", "bad port" },
		{ "1.2.3.4:65536", "bad port" },
		{ "1.2.3.4:99999999999999999999999", "bad port" },
		{ "1.2.3.4:-1", "bad port" },
		{ "1.2.3.4:+25", "bad port" },
		{ "1.2.3.4: 25", "bad port" },
		{ "1.2.3.4:25 ", "bad port" },
		{ "1.2.3.4:2a", "bad port" },
		{ "1.2.3.4:smtp", "bad port" },
		{ "1.2.3.4:0x19", "bad port" },
		{ "localhost:25", "bad address" },
		{ "mail.example.com:25", "bad address" },
		{ "127.1:25", "bad address" },
		{ "0x7f.0.0.1:25", "bad address" },
		{ "1.2.3.256:25", "bad address" },
		{ "1.2.3.4.5:25", "bad address" },
		{ " 1.2.3.4:25", "bad address" },
		{ "1.2.3.4 :25", "bad address" },
		{ "**:25", "bad address" },
		{ "11111111111111111111111111111111111111111111111111111111111"
		    "11111111111:25", "bad address" },
		{ "::1:25", "IPv6 address must be in brackets" },
		{ "::1", "IPv6 address must be in brackets" },
		{ "2001:db8::1:25", "IPv6 address must be in brackets" },
		{ "1.2.3.4:25:25", "IPv6 address must be in brackets" },
		{ "[::1]", "missing port" },
		{ "[::1]:", "missing port" },
		{ "[::1]25", "bad address" },
		{ "[::1]x:25", "bad address" },
		{ "[::1:25", "bad address" },
		{ "[]:25", "bad address" },
		{ "[1.2.3.4]:25", "bad address" },
		{ "[*]:25", "bad address" },
		{ "[localhost]:25", "bad address" },
		{ "[fe80::1%lo]:25", "bad address" },
		{ "[::g]:25", "bad address" },
		{ "[::1]:0", "bad port" },
		{ "[::1]:65536", "bad port" },
		{ "[::1]:25:", "bad port" },
		{ "[::1]:[25]", "bad port" },
	};
	struct net_addr	 a;
	const char	*err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = NULL;
		if (net_parse_addr(cases[i].in, &a, &err) != -1)
			fail_msg("\"%s\" parsed", cases[i].in);
		assert_non_null(err);
		if (strcmp(err, cases[i].err) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
			    cases[i].in, err, cases[i].err);
	}
}

/* Parse, then set port 0 (the parser refuses it; the kernel picks). */
static void
any_port(const char *s, struct net_addr *a)
{
	const char	*err;

	assert_int_equal(net_parse_addr(s, a, &err), 0);
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&a->ss)->sin6_port = 0;
}

static int
sockopt(int fd, int level, int name)
{
	int		 v = -1;
	socklen_t	 len = sizeof(v);

	assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

/* A bound listener: flags, options, and a client can connect. */
static void
check_listener(int fd, int family, struct net_addr *bound)
{
	int	 c, s;

	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(sockopt(fd, SOL_SOCKET, SO_REUSEADDR), 1);
	assert_int_equal(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
	assert_int_equal(sockopt(fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
	if (family == AF_INET6)
		assert_int_equal(sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
	bound->len = sizeof(bound->ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&bound->ss,
	    &bound->len), 0);
	assert_int_equal(bound->ss.ss_family, family);
	assert_true((c = socket(family, SOCK_STREAM, 0)) != -1);
	assert_int_equal(connect(c, (struct sockaddr *)&bound->ss,
	    bound->len), 0);
	assert_true((s = accept(fd, NULL, NULL)) != -1);
	close(s);
	close(c);
	/* Non-blocking: nothing more to accept. */
	assert_int_equal(accept(fd, NULL, NULL), -1);
	assert_int_equal(errno, EAGAIN);
}

static void
test_listen_v4(void **state)
{
	struct net_addr	 a, bound;
	char		*err = NULL;
	char		 str[64];
	int		 fd;

	any_port("127.0.0.1:1", &a);
	fd = net_listen(&a, 16, &err);
	assert_null(err);
	check_listener(fd, AF_INET, &bound);
	net_addr_str((struct sockaddr *)&bound.ss, str, sizeof(str));
	assert_true(strncmp(str, "127.0.0.1:", 10) == 0);
	assert_true(strcmp(str, "127.0.0.1:0") != 0);
	close(fd);
}

static bool
have_ipv6(void)
{
	int	 fd;

	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) == -1)
		return errno != EAFNOSUPPORT;
	close(fd);
	return true;
}

static void
test_listen_v6(void **state)
{
	struct net_addr	 a, bound;
	char		*err = NULL;
	char		 str[64];
	int		 fd;

	if (!have_ipv6())
		skip();
	any_port("[::1]:1", &a);
	fd = net_listen(&a, 16, &err);
	if (err != NULL)
		fail_msg("%s", err);
	check_listener(fd, AF_INET6, &bound);
	net_addr_str((struct sockaddr *)&bound.ss, str, sizeof(str));
	assert_true(strncmp(str, "[::1]:", 6) == 0);
	close(fd);
}

/* IPV6_V6ONLY: "[::]:P" and "0.0.0.0:P" are two separate sockets. */
static void
test_listen_both_wildcards(void **state)
{
	struct net_addr	 a, bound;
	char		*err = NULL;
	char		 str[64];
	int		 fd4, fd6;

	if (!have_ipv6())
		skip();
	any_port("*:1", &a);
	assert_true((fd4 = net_listen(&a, 16, &err)) != -1);
	bound.len = sizeof(bound.ss);
	assert_int_equal(getsockname(fd4, (struct sockaddr *)&bound.ss,
	    &bound.len), 0);
	snprintf(str, sizeof(str), "[::]:%u",
	    ntohs(((struct sockaddr_in *)&bound.ss)->sin_port));
	assert_int_equal(net_parse_addr(str, &a, &(const char *){ NULL }), 0);
	fd6 = net_listen(&a, 16, &err);
	if (fd6 == -1)
		fail_msg("%s", err);
	close(fd6);
	close(fd4);
}

static void
test_listen_conflict(void **state)
{
	struct net_addr	 a, bound;
	char		*err = NULL;
	char		 str[64], want[128];
	const char	*perr;
	int		 fd;

	any_port("127.0.0.1:1", &a);
	assert_true((fd = net_listen(&a, 16, &err)) != -1);
	bound.len = sizeof(bound.ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&bound.ss,
	    &bound.len), 0);
	net_addr_str((struct sockaddr *)&bound.ss, str, sizeof(str));
	assert_int_equal(net_parse_addr(str, &a, &perr), 0);
	errno = 0;
	assert_int_equal(net_listen(&a, 16, &err), -1);
	assert_int_equal(errno, EADDRINUSE);
	snprintf(want, sizeof(want), "bind %s: Address already in use", str);
	assert_string_equal(err, want);
	free(err);
	close(fd);
}

static void
test_listen_errors(void **state)
{
	struct net_addr	 a;
	char		*err = NULL;

	/* No such family: the socket step fails and says so. */
	memset(&a, 0, sizeof(a));
	a.ss.ss_family = AF_UNSPEC;
	a.len = sizeof(a.ss);
	assert_int_equal(net_listen(&a, 16, &err), -1);
	assert_string_equal(err,
	    "socket family-0: Address family not supported by protocol");
	free(err);
	err = NULL;

	/* An address this host does not have. */
	assert_int_equal(net_parse_addr("192.0.2.1:2525", &a,
	    &(const char *){ NULL }), 0);
	assert_int_equal(net_listen(&a, 16, &err), -1);
	assert_string_equal(err,
	    "bind 192.0.2.1:2525: Cannot assign requested address");
	free(err);
}

static void
test_addr_str(void **state)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	struct sockaddr_in6	 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct sockaddr		 sa = { .sa_family = 12345 };
	char			 out[128];

	sin.sin_port = htons(25);
	sin.sin_addr.s_addr = htonl(0x7f000001);
	assert_ptr_equal(net_addr_str((struct sockaddr *)&sin, out,
	    sizeof(out)), out);
	assert_string_equal(out, "127.0.0.1:25");
	/* Truncated, still terminated. */
	net_addr_str((struct sockaddr *)&sin, out, 6);
	assert_string_equal(out, "127.0");

	sin6.sin6_port = htons(65535);
	inet_pton(AF_INET6, "2001:db8::25", &sin6.sin6_addr);
	net_addr_str((struct sockaddr *)&sin6, out, sizeof(out));
	assert_string_equal(out, "[2001:db8::25]:65535");
	memset(&sin6.sin6_addr, 0xff, sizeof(sin6.sin6_addr));
	net_addr_str((struct sockaddr *)&sin6, out, sizeof(out));
	assert_string_equal(out,
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");

	snprintf(sun.sun_path, sizeof(sun.sun_path), "/run/wharf/qmgr");
	net_addr_str((struct sockaddr *)&sun, out, sizeof(out));
	assert_string_equal(out, "unix:/run/wharf/qmgr");
	/* A full sun_path has no NUL: never read past it. */
	memset(sun.sun_path, 'p', sizeof(sun.sun_path));
	net_addr_str((struct sockaddr *)&sun, out, sizeof(out));
	assert_int_equal(strlen(out), 5 + sizeof(sun.sun_path));

	net_addr_str(&sa, out, sizeof(out));
	assert_string_equal(out, "family-12345");
}

static void
test_fd_flags(void **state)
{
	int	 p[2];

	assert_int_equal(pipe(p), 0);
	assert_false(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(net_set_nonblock(p[0]), 0);
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(net_set_nonblock(p[0]), 0);
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(read(p[0], &(char){ 0 }, 1), -1);
	assert_int_equal(errno, EAGAIN);

	assert_false(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(net_set_cloexec(p[1], 1), 0);
	assert_true(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(net_set_cloexec(p[1], 1), 0);
	assert_true(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(net_set_cloexec(p[1], 0), 0);
	assert_false(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	close(p[0]);
	close(p[1]);

	errno = 0;
	assert_int_equal(net_set_nonblock(p[0]), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(net_set_cloexec(-1, 1), -1);
	assert_int_equal(errno, EBADF);
}

static void
test_cidr(void **state)
{
	static const struct {
		const char	*net;
		const char	*addr;
		int		 parse;	/* 0 or -1 */
		bool		 match;
	} cases[] = {
		{ "127.0.0.0/8", "127.1.2.3", 0, true },
		{ "127.0.0.0/8", "128.0.0.1", 0, false },
		{ "127.0.0.0/8", "::ffff:127.0.0.1", 0, true },
		{ "127.0.0.0/8", "::1", 0, false },
		{ "[::1]/128", "::1", 0, true },
		{ "[::1]/128", "::2", 0, false },
		{ "::1", "::1", 0, true },
		{ "2001:db8::/32", "2001:db8:ffff::1", 0, true },
		{ "2001:db8::/33", "2001:db8:8000::1", 0, false },
		{ "192.0.2.1", "192.0.2.1", 0, true },
		{ "192.0.2.1", "192.0.2.2", 0, false },
		{ "192.0.2.128/25", "192.0.2.200", 0, true },
		{ "192.0.2.128/25", "192.0.2.127", 0, false },
		{ "0.0.0.0/0", "203.0.113.9", 0, true },
		{ "10.0.0.0/7", "11.255.0.1", 0, true },
		{ "192.0.2.1/24", "", -1, false },	/* host bits set */
		{ "192.0.2.0/33", "", -1, false },
		{ "[::]/129", "", -1, false },
		{ "192.0.2.0/", "", -1, false },
		{ "192.0.2.0/x", "", -1, false },
		{ "example.org/24", "", -1, false },
		{ "", "", -1, false },
		{ "[]", "", -1, false },
		{ "192.0.2.0/24", "not an address", 0, false },
	};
	struct net_cidr	 c;
	const char	*err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = net_parse_cidr(cases[i].net, &c, &err);

		assert_int_equal(rc, cases[i].parse);
		if (rc == 0)
			assert_int_equal(net_cidr_match(&c, cases[i].addr),
			    cases[i].match);
	}
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_listen_v4),
		cmocka_unit_test(test_listen_v6),
		cmocka_unit_test(test_listen_both_wildcards),
		cmocka_unit_test(test_listen_conflict),
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_addr_str),
		cmocka_unit_test(test_fd_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
