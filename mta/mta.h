/* mta — the outbound SMTP delivery agent: private declarations. */
#ifndef WHARF_MTA_H
#define WHARF_MTA_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "dns.h"
#include "domain_table.h"
#include "smtp_client.h"

struct ev_io;
struct ev_timer;
struct ipc_conn;
struct service;

#define MTA_ADDRS_MAX		5	/* smtp_mx_address_limit */
#define MTA_CLIENT_INFLIGHT_MAX	1024	/* requests per connection */
#define MTA_ADDR_STR_SIZE	64	/* "2001:db8::1" */
/* "name[addr]:port" */
#define MTA_RELAY_SIZE	(DNS_HOST_NAME_SIZE + MTA_ADDR_STR_SIZE + 16)

/* The settings, tables and shared contexts: loaded once at start. */
struct mta {
	struct service		*svc;
	struct ev		*ev;
	struct dns		*dns;
	SSL_CTX			*tls_ctx;	/* NULL: no TLS */
	struct domain_table	*transport;
	struct domain_table	*tls_policy;
	struct domain_table_hop	 relay;
	bool			 relay_set;
	char			*auth_user;	/* NULL: no AUTH */
	char			*auth_pass;
	enum smtp_tls_policy	 tls_default;
	const char		*helo_name;
	uint64_t		 connect_timeout_ms;
	uint64_t		 helo_timeout_ms;
	uint64_t		 data_timeout_ms;
	bool			 conv_8bit;	/* smtp_8bit_conversion */
	int			 listen_fd;
	struct ev_io		*accept_io;
	uid_t			 peers[3];
	size_t			 npeers;
	struct mta_client	*clients;
	size_t			 inflight;
};

/* One qmgr connection. */
struct mta_client {
	struct mta_client	*next;
	struct mta		*m;
	struct ipc_conn		*conn;
	bool			 hello;
	pid_t			 pid;
	struct mta_req		*reqs;		/* in flight */
	size_t			 nreqs;
};

struct mta_rcpt {
	uint64_t	 row;
	char		*address;
	char		*orcpt;		/* NULL: none */
	uint32_t	 notify;	/* QUEUE_NOTIFY_* */
	uint32_t	 status;	/* MTA_OK... */
	char		 dsn[SMTP_CLIENT_ENH_SIZE];
	char		*reply;
	uint32_t	 flags;		/* MTA_F_* */
};

/* One address to try, in the route's order. */
struct mta_target {
	char			 name[DNS_HOST_NAME_SIZE];
	char			 addr[MTA_ADDR_STR_SIZE];
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	uint16_t		 port;
};

/* One MTA_DELIVER request, from its frame to its reply. */
struct mta_req {
	struct mta_req		*next;
	struct mta		*m;
	struct mta_client	*cl;		/* NULL once it is gone */
	uint32_t		 id;
	uint64_t		 start_ms;
	char			*queue_id;
	char			*sender;
	char			*envid;		/* NULL: none */
	char			*domain;
	uint64_t		 size;
	uint32_t		 ret;
	uint32_t		 body;
	bool			 smtputf8;
	int			 fd;		/* the message */
	int			 conv_fd;	/* its 7-bit MIME form, -1 */
	bool			 converted;	/* tx is 7BIT now */
	struct mta_rcpt		*rcpts;
	size_t			 nrcpts;

	/* The route. */
	struct domain_table_hop	 hop;
	bool			 hop_set;	/* transport, relayhost */
	bool			 auth;		/* to the relayhost */
	enum smtp_tls_policy	 tls;
	struct dns_route_req	*route_req;
	struct dns_req		*addr_req[2];	/* [host]: AAAA, A */
	int			 addr_status[2];
	struct sockaddr_storage	 addrs[2][MTA_ADDRS_MAX];
	size_t			 naddrs[2];
	struct mta_target	 targets[MTA_ADDRS_MAX];
	size_t			 ntargets;

	/* The attempt. */
	size_t			 cur;		/* target tried */
	bool			 no_tls;	/* MAY retry without TLS */
	int			 sock;
	struct ev_io		*conn_io;
	struct ev_timer		*conn_timer;
	struct smtp_client	*sc;
	struct smtp_client_tx	 tx;
	struct smtp_client_rcpt	*srcpts;
	char			 relay[MTA_RELAY_SIZE];	/* "none" */
	struct smtp_client_dsn	 last;		/* last failure */
	bool			 all_perm;	/* all failures 5xx */
	bool			 finished;
};

/* client.c */
void	client_accept(int fd, unsigned events, void *arg);
void	client_free_all(struct mta *);
/* The request's results are final: reply, log, free. */
void	req_done(struct mta_req *);
/* Every recipient not decided gets this outcome, then req_done(). */
void	req_fail_all(struct mta_req *, uint32_t status, const char *dsn,
	    const char *text);

/* route.c */
void	route_start(struct mta_req *);
void	route_cancel(struct mta_req *);
int	route_target_add(struct mta_req *, const char *name,
	    const struct sockaddr_storage *, uint16_t port);

/* attempt.c */
void	attempt_start(struct mta_req *);
void	attempt_cancel(struct mta_req *);

/* tables.c */
int	tables_load(struct mta *, char **err_r);
void	tables_free(struct mta *);
int	tls_level_parse(const char *, enum smtp_tls_policy *);

#endif
