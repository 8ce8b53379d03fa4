/* qmgr — private header.  See qmgr/main.c for the overview. */
#ifndef WHARF_QMGR_H
#define WHARF_QMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct db;
struct ev_io;
struct ev_timer;
struct ipc_conn;
struct service;

struct qmgr_client;
struct deliver_conn;

struct qmgr {
	struct service		*svc;
	struct db		*db;
	char			*blobdir;
	int			 listen_fd;
	int			 lock_fd;	/* flock: spool cleanup */
	char			*deliver_path;
	struct ev_io		*accept_io;
	struct qmgr_client	*clients;
	struct deliver_conn	*delivers;
	unsigned		 ndeliver_want;
	struct ev_timer		*scan_timer;
	struct ev_timer		*reconnect_timer;
	size_t			 inflight;	/* commits + deliveries */
	size_t			 spools_open;	/* handed out, not yet done */
	bool			 scanning;
	uid_t			 peers[3];
	size_t			 npeers;
};

/* One recipient row as the commit or the scan returns it. */
struct qrcpt {
	uint64_t	 row;
	uint64_t	 user_id;
	char		*address;
	char		*rcpt;
};

/* A batch for deliver: one message, its local recipients. */
struct qjob {
	struct qjob	*next;
	uint64_t	 queue_row;
	char		*queue_id;
	char		*blob;
	uint64_t	 size;
	char		*sender;
	struct qrcpt	*rcpts;
	size_t		 nrcpt;
	unsigned	 retries;	/* deliver went away mid-job */
};

/* client.c: smtpd connections */
void	client_accept(int fd, unsigned events, void *arg);
void	client_free_all(struct qmgr *);

/* queue_db.c: every statement of the qmgr role */
struct commit_req;
typedef void commit_done_fn(struct qmgr *, void *arg, int status,
	    const char *queue_id, struct qjob *job);
void	queue_db_commit(struct qmgr *, struct commit_req *);
struct commit_req *commit_req_new(const char *spool, uint64_t size,
	    commit_done_fn *, void *arg);
void	commit_req_envelope(struct commit_req *, const char *sender,
	    const char *envid, uint32_t ret, uint32_t body, bool smtputf8,
	    const char *client_addr, const char *client_name,
	    const char *helo, const char *protocol);
void	commit_req_rcpt(struct commit_req *, const char *rcpt,
	    const char *orcpt, uint32_t notify);
void	commit_req_free(struct commit_req *);
void	queue_db_scan(struct qmgr *);
void	queue_db_result(struct qmgr *, uint64_t row, const char *queue_id,
	    uint32_t status, const char *reply);
void	queue_db_finish(struct qmgr *, uint64_t queue_row, const char *blob);

/* dispatch.c: deliver connections and the retry schedule */
void	dispatch_start(struct qmgr *);
void	dispatch_notify(const char *, const char *, void *);
void	dispatch_job(struct qmgr *, struct qjob *);
void	dispatch_stop(struct qmgr *);
void	qjob_free(struct qjob *);

/* main.c */
void	qmgr_work_done(struct qmgr *);

#endif
