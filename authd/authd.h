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
struct login;
struct pwpool;

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
	struct pwpool	*pool;		/* password hashing workers */
	struct cache	*throttle;	/* failed logins: "i:ip", "a:name" */
	struct cache	*rates;		/* submissions per user */
	struct login	*logins;	/* in progress */
	/* settings */
	bool		 rehash, sender_any;
	uint64_t	 fail_delay, fail_delay_max, lockout_time;
	unsigned	 lockout_failures, ip_lockout_failures;
	unsigned	 message_rate, rcpt_rate;
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

/* login.c: AUTH_PASSWORD, the delays and lockouts around it */
void	login_start(struct authd *, struct authd_client *, uint32_t id,
	    const char *service, const char *user, const char *pw,
	    const char *ip, const char *mech);
void	login_client_gone(struct authd *, struct authd_client *);
void	login_flush(struct authd *);	/* stopping: answer delayed now */
void	client_reply_login(struct authd_client *, uint32_t id,
	    uint32_t status, uint64_t user_id, const char *account);

/* lookup.c: the account SQL of logins and submission */
typedef void lookup_user_fn(int found, uint64_t user_id, const char *account,
	    const char *hash, bool enabled, bool locked, void *arg);
/* found: 1 a user, 0 none, -1 the database failed */
void	lookup_user(struct authd *, const char *user, lookup_user_fn *,
	    void *arg);
void	lookup_login_ok(struct authd *, uint64_t user_id, const char *old_hash,
	    const char *new_hash);
typedef void lookup_failed_fn(int failures, bool locked_now, void *arg);
/* failures -1: the database failed */
void	lookup_login_failed(struct authd *, uint64_t user_id,
	    lookup_failed_fn *, void *arg);
void	lookup_audit(struct authd *, const char *service, const char *account,
	    const char *ip, const char *result, const char *detail);
void	lookup_sender(struct authd *, struct authd_client *, uint32_t type,
	    uint32_t id, uint64_t user_id, const char *address);

/* rate.c: submission_*_rate_limit per user, over a sliding hour */
bool	rate_take(struct authd *, uint64_t user_id, unsigned messages,
	    unsigned recipients);

/* pwpool.c: hashing in worker processes */
#define PW_MATCH	1
#define PW_NOMATCH	0
#define PW_ERROR	2	/* the stored hash is unusable */
#define PW_LOST		3	/* no worker answered: temporary */
struct pwhash_params;
typedef void pwpool_fn(int result, const char *new_hash, void *arg);
struct pwpool *pwpool_new(struct ev *, size_t nworkers, size_t max_queued,
	    const struct pwhash_params *);
/* -1 when too many jobs wait; else fn is called exactly once. */
int	pwpool_verify(struct pwpool *, const char *stored, const char *pw,
	    bool rehash, pwpool_fn *, void *arg);
void	pwpool_free(struct pwpool **);

/* main.c */
void	authd_request_done(struct authd *);

#endif
