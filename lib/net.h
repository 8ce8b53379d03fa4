/*
 * net — listening addresses from main.conf and the sockets bound to them.
 *
 * An address is "host:port", "[v6]:port", "*:port" or ":port" (all IPv4
 * and IPv6 wildcards).  Sockets are created CLOEXEC and non-blocking, with
 * SO_REUSEADDR, IPV6_V6ONLY for v6 addresses.
 */
#ifndef WHARF_NET_H
#define WHARF_NET_H

#include <stddef.h>
#include <sys/socket.h>

struct net_addr {
	struct sockaddr_storage	ss;
	socklen_t		len;
};

/* Parse one address; 0 or -1 with a static *err_r. */
int	net_parse_addr(const char *, struct net_addr *, const char **err_r);
/* Bind and listen; fd or -1 with *err_r. */
int	net_listen(const struct net_addr *, int backlog, char **err_r);
/* "1.2.3.4:25" / "[::1]:25" into out. */
const char *net_addr_str(const struct sockaddr *, char *out, size_t size);
int	net_set_nonblock(int fd);
int	net_set_cloexec(int fd, int on);

#endif
