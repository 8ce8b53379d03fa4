/*
 * net — listening addresses and the sockets bound to them (net.h).
 *
 * Addresses come from main.conf, so parsing is strict and numeric only:
 * no name lookups at startup (a listener must not depend on DNS), no
 * inet_aton() shorthands like "127.1", and a port in 1..65535.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "log.h"
#include "net.h"
#include "xmalloc.h"

#define NET_HOST_MAX	64	/* longer than any numeric address */

static int
net_parse_port(const char *s, in_port_t *port_r, const char **err_r)
{
	uint64_t	 v;
	const char	*err;

	if (*s == '\0') {
		*err_r = "missing port";
		return -1;
	}
	if (str_to_u64(s, 1, 65535, &v, &err) == -1) {
		*err_r = "bad port";
		return -1;
	}
	*port_r = htons((in_port_t)v);
	return 0;
}

static int
net_set_v4(struct net_addr *a, const char *host, in_port_t port,
    const char **err_r)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&a->ss;

	memset(a, 0, sizeof(*a));
	sin->sin_family = AF_INET;
	sin->sin_port = port;
	if (*host == '\0' || strcmp(host, "*") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		*err_r = "bad address";
		return -1;
	}
	a->len = sizeof(*sin);
	return 0;
}

static int
net_set_v6(struct net_addr *a, const char *host, in_port_t port,
    const char **err_r)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = port;
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
		*err_r = "bad address";
		return -1;
	}
	a->len = sizeof(*sin6);
	return 0;
}

/* "[v6]:port": host between the brackets, then ':' and the port. */
static int
net_parse_bracketed(const char *s, struct net_addr *a, const char **err_r)
{
	char		 host[NET_HOST_MAX];
	const char	*close;
	in_port_t	 port;
	size_t		 len;

	if ((close = strchr(s, ']')) == NULL) {
		*err_r = "bad address";
		return -1;
	}
	len = (size_t)(close - s - 1);
	if (close[1] == '\0') {
		*err_r = "missing port";
		return -1;
	}
	if (close[1] != ':' || len == 0 || len >= sizeof(host)) {
		*err_r = "bad address";
		return -1;
	}
	memcpy(host, s + 1, len);
	host[len] = '\0';
	if (net_parse_port(close + 2, &port, err_r) == -1)
		return -1;
	return net_set_v6(a, host, port, err_r);
}

int
net_parse_addr(const char *s, struct net_addr *a, const char **err_r)
{
	char		 host[NET_HOST_MAX];
	const char	*colon;
	in_port_t	 port;
	size_t		 len;

	if (*s == '[')
		return net_parse_bracketed(s, a, err_r);
	if ((colon = strchr(s, ':')) == NULL) {
		*err_r = "missing port";
		return -1;
	}
	if (strchr(colon + 1, ':') != NULL) {
		*err_r = "IPv6 address must be in brackets";
		return -1;
	}
	if ((len = (size_t)(colon - s)) >= sizeof(host)) {
		*err_r = "bad address";
		return -1;
	}
	memcpy(host, s, len);
	host[len] = '\0';
	if (net_parse_port(colon + 1, &port, err_r) == -1)
		return -1;
	return net_set_v4(a, host, port, err_r);
}

/* *err_r = "<what> <addr>: strerror(errno)"; closes fd; returns -1. */
static int
net_listen_fail(const struct net_addr *a, const char *what, int fd,
    char **err_r)
{
	char	 str[NET_HOST_MAX + 16];
	int	 saved = errno;

	if (fd != -1)
		close(fd);
	net_addr_str((const struct sockaddr *)&a->ss, str, sizeof(str));
	*err_r = xasprintf("%s %s: %s", what, str, strerror(saved));
	errno = saved;
	return -1;
}

int
net_listen(const struct net_addr *a, int backlog, char **err_r)
{
	int	 fd, on = 1;
	int	 family = a->ss.ss_family;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return net_listen_fail(a, "socket", -1, err_r);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		return net_listen_fail(a, "SO_REUSEADDR", fd, err_r);
	/* One address, one family: "[::]:25" must not also take 0.0.0.0. */
	if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
	    &on, sizeof(on)) == -1)
		return net_listen_fail(a, "IPV6_V6ONLY", fd, err_r);
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1)
		return net_listen_fail(a, "bind", fd, err_r);
	if (listen(fd, backlog) == -1)
		return net_listen_fail(a, "listen", fd, err_r);
	return fd;
}

const char *
net_addr_str(const struct sockaddr *sa, char *out, size_t size)
{
	const struct sockaddr_in	*v4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*v6 = (const struct sockaddr_in6 *)sa;
	const struct sockaddr_un	*un = (const struct sockaddr_un *)sa;
	char				 host[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET:
		inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
		snprintf(out, size, "%s:%u", host, ntohs(v4->sin_port));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
		snprintf(out, size, "[%s]:%u", host, ntohs(v6->sin6_port));
		break;
	case AF_UNIX:
		/* sun_path need not be NUL-terminated when full. */
		snprintf(out, size, "unix:%.*s", (int)sizeof(un->sun_path),
		    un->sun_path);
		break;
	default:
		snprintf(out, size, "family-%d", sa->sa_family);
		break;
	}
	return out;
}

int
net_set_nonblock(int fd)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return -1;
	if (flags & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int
net_set_cloexec(int fd, int on)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFD)) == -1)
		return -1;
	flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, flags);
}

/* Strip optional brackets and the "/prefix" into out; prefix -1 if none. */
static int
cidr_split(const char *s, char *out, size_t size, long *prefix,
    const char **err_r)
{
	const char	*slash = strrchr(s, '/');
	size_t		 len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	uint64_t	 v;

	*prefix = -1;
	if (slash != NULL) {
		if (str_to_u64(slash + 1, 0, 128, &v, err_r) == -1) {
			*err_r = "bad prefix length";
			return -1;
		}
		*prefix = (long)v;
	}
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= size) {
		*err_r = "bad address";
		return -1;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static bool
cidr_host_bits_zero(const struct net_cidr *c)
{
	unsigned	 bytes = c->family == AF_INET ? 4 : 16;

	for (unsigned bit = c->prefix; bit < bytes * 8; bit++)
		if (c->addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

int
net_parse_cidr(const char *s, struct net_cidr *c, const char **err_r)
{
	char	 host[INET6_ADDRSTRLEN + 1];
	long	 prefix;

	memset(c, 0, sizeof(*c));
	if (cidr_split(s, host, sizeof(host), &prefix, err_r) == -1)
		return -1;
	if (inet_pton(AF_INET, host, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, host, c->addr) == 1)
		c->family = AF_INET6;
	else {
		*err_r = "bad address";
		return -1;
	}
	if (prefix == -1)
		prefix = c->family == AF_INET ? 32 : 128;
	if (c->family == AF_INET && prefix > 32) {
		*err_r = "bad prefix length";
		return -1;
	}
	c->prefix = (unsigned)prefix;
	if (!cidr_host_bits_zero(c)) {
		*err_r = "address has bits set past the prefix";
		return -1;
	}
	return 0;
}

static bool
prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned	 full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	return rest == 0 ||
	    ((a[full] ^ b[full]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

bool
net_cidr_match(const struct net_cidr *c, const char *addr)
{
	unsigned char	 a[16];
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	};

	if (c->family == AF_INET && inet_pton(AF_INET, addr, a) == 1)
		return prefix_equal(a, c->addr, c->prefix);
	if (inet_pton(AF_INET6, addr, a) != 1)
		return false;
	if (c->family == AF_INET6)
		return prefix_equal(a, c->addr, c->prefix);
	/* ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1. */
	return memcmp(a, mapped, 12) == 0 &&
	    prefix_equal(a + 12, c->addr, c->prefix);
}

/*
 * Accept one connection from a listening socket (non-blocking and
 * close-on-exec): its fd, with the client's numeric address (no port, no
 * brackets) in addr; -1 when there is none now (a real error is logged).
 */
int
net_accept(int listen_fd, char *addr, size_t size)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 buf[INET6_ADDRSTRLEN + 16];
	char			*p;
	int			 c;

	c = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC |
	    SOCK_NONBLOCK);
	if (c == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
		return -1;
	}
	/*
	 * lib/io already gathers what one turn of the loop writes into one
	 * write(2); Nagle would hold a reply back until the peer ACKs the
	 * previous one, which a delayed ACK makes 40 ms.
	 */
	if ((ss.ss_family == AF_INET || ss.ss_family == AF_INET6) &&
	    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int)) == -1)
		log_warn("setsockopt TCP_NODELAY");
	net_addr_str((struct sockaddr *)&ss, buf, sizeof(buf));
	if ((p = strrchr(buf, ':')) != NULL)
		*p = '\0';		/* the port */
	p = buf;
	if (*p == '[') {		/* [v6] */
		p++;
		p[strlen(p) - 1] = '\0';
	}
	strlcpy(addr, p, size);
	return c;
}
