/* authd — private header.  See authd/main.c for the overview. */
#ifndef WHARF_AUTHD_H
#define WHARF_AUTHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct db;
struct ev;
struct ev_io;
struct ipc_conn;
struct net_cidr;
struct service;

/* One destination of an address after aliases (proto_auth.h). */
struct auth_dest {
	uint32_t	 kind;
	char		*address;
	uint64_t	 user_id;
};

/* A recipient answer, kept in the cache and sent to clients. */
struct rcpt_answer {
	uint32_t	 status;
	size_t		 ndest;
	struct auth_dest *dest;
};

struct authd_req;
struct authd_client;
struct cache;

struct authd {
	struct service	*svc;
	struct db	*db;
	int		 listen_fd;
	struct ev_io	*accept_io;
	struct authd_client *clients;
	size_t		 pending;	/* requests waiting for the db */
	struct cache	*cache;
	struct net_cidr	*nets;
	size_t		 nnets;
	const char	*delimiters;
	uid_t		 peers[4];	/* uids allowed to ask */
	size_t		 npeers;
};

/* client.c */
void	client_accept(int fd, unsigned events, void *arg);
void	client_free_all(struct authd *);
void	client_reply_rcpt(struct authd_client *, uint32_t id,
	    const struct rcpt_answer *);
void	client_reply_status(struct authd_client *, uint32_t type,
	    uint32_t id, uint32_t status);

/* lookup.c: answers from the cache or the database (all the SQL). */
void	lookup_rcpt(struct authd *, struct authd_client *, uint32_t id,
	    const char *address);
void	lookup_domain(struct authd *, struct authd_client *, uint32_t id,
	    const char *domain);
void	lookup_client_gone(struct authd_client *);
void	rcpt_answer_free(void *);

/* cache.c: a bounded map from key to answer, entries expire after ttl. */
struct cache *cache_new(uint64_t ttl_ms, size_t max);
void	cache_free(struct cache **);
const void *cache_get(struct cache *, const char *key, uint64_t now);
/* Takes ownership of value; free_fn releases it on eviction. */
void	cache_put(struct cache *, const char *key, void *value,
	    void (*free_fn)(void *), uint64_t now);

/* conncount.c: connections per client address over every smtpd */
struct conn_ip {
	char		 ip[64];
	unsigned	 n;
};
struct conn_ips {
	struct conn_ip	*v;
	size_t		 n;
};
bool	conncount_connect(struct conn_ips *, const char *ip, unsigned limit);
void	conncount_disconnect(struct conn_ips *, const char *ip);
void	conncount_forget(struct conn_ips *);
void	conncount_free_all(void);

/* main.c */
void	authd_request_done(struct authd *);

#endif
