/*
 * net — listening addresses from main.conf and the sockets bound to them.
 *
 * An address is "a.b.c.d:port", "[v6]:port", "*:port" or ":port"; hosts
 * are numeric only (no DNS at startup, no scope ids), the port is decimal
 * 1..65535.  "*:port" and ":port" are the IPv4 wildcard 0.0.0.0 only: one
 * address is one socket of one family, so listen on "[::]:port" as well
 * for IPv6.  Sockets are created CLOEXEC and non-blocking, with
 * SO_REUSEADDR, IPV6_V6ONLY for v6 addresses (so both can be bound).
 */
#ifndef WHARF_NET_H
#define WHARF_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct net_addr {
	struct sockaddr_storage	ss;
	socklen_t		len;
};

/*
 * Parse one address; 0 or -1 with a static *err_r: "missing port",
 * "bad port", "bad address", "IPv6 address must be in brackets".
 */
int	net_parse_addr(const char *, struct net_addr *, const char **err_r);
/* Bind and listen; fd or -1 with *err_r ("bind 1.2.3.4:25: Address
   already in use"), errno preserved. */
int	net_listen(const struct net_addr *, int backlog, char **err_r);
/* "1.2.3.4:25" / "[::1]:25" (AF_UNIX: "unix:path") into out; returns
   out. */
const char *net_addr_str(const struct sockaddr *, char *out, size_t size);
int	net_accept(int listen_fd, char *addr, size_t size);
/* 0 or -1 (errno from fcntl). */
/*
 * Networks for access rules (mynetworks): "192.0.2.0/24", "[2001:db8::]/32"
 * or a bare address (a /32 or /128).  Brackets around IPv6 are optional.
 * Bits past the prefix must be zero.
 */
struct net_cidr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];
	unsigned	prefix;
};
int	net_parse_cidr(const char *, struct net_cidr *, const char **err_r);
/* Is the numeric address string (IPv4, IPv6, or v4-mapped v6) inside? */
bool	net_cidr_match(const struct net_cidr *, const char *addr);
int	net_set_nonblock(int fd);
int	net_set_cloexec(int fd, int on);

#endif
