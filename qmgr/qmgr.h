/* qmgr — private header.  See qmgr/main.c for the overview. */
#ifndef WHARF_QMGR_H
#define WHARF_QMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct db;
struct ev;
struct ev_io;
struct ev_timer;
struct ipc_conn;
struct service;

#define QMGR_DB_TIMEOUT_MS	30000

struct qmgr_client;
struct deliver_conn;
struct mta_conn;
struct dest;

struct qmgr {
	struct service		*svc;
	struct db		*db;
	char			*blobdir;
	int			 listen_fd;
	int			 lock_fd;	/* flock: spool cleanup */
	char			*deliver_path;
	char			*mta_path;
	struct ev_io		*accept_io;
	struct qmgr_client	*clients;
	struct deliver_conn	*delivers;
	struct mta_conn		*mtas;
	struct dest		*dests;		/* outbound destinations */
	size_t			 mta_active;	/* requests out */
	struct ev_timer		*mta_timer;	/* reconnect */
	struct ev_timer		*bounce_timer;
	bool			 bouncing;	/* a notice in the making */
	bool			 bounce_again;	/* kicked meanwhile */
	bool			 scan_skipped;	/* rows left for a rescan */
	bool			 mta_warned;	/* mta.sock unreachable */
	bool			 collecting;	/* blob_gc() under way */
	unsigned		 ndeliver_want;
	struct ev_timer		*scan_timer;
	struct ev_timer		*reconnect_timer;
	size_t			 inflight;	/* commits + deliveries */
	size_t			 spools_open;	/* handed out, not yet done */
	struct syncers		*sync;		/* spool workers */
	bool			 scanning;
	bool			 rescan;	/* once the scan is over */
	uint64_t		 scan_after;	/* keyset: last row seen */
	uint64_t		 scan_at;	/* ev_now() the timer fires */
	uid_t			 peers[3];
	size_t			 npeers;
};

/* One recipient row as the commit or the scan returns it. */
struct qrcpt {
	uint64_t	 row;
	uint64_t	 user_id;
	char		*address;
	char		*rcpt;
	char		*orcpt;		/* remote: ORCPT, "" if none */
	uint32_t	 notify;	/* remote: QUEUE_NOTIFY_* bits */
};

/*
 * A batch for deliver (one message, its local recipients) or for the mta
 * (one message, its recipients at one domain: `domain` set).
 */
struct qjob {
	struct qjob	*next;
	uint64_t	 queue_row;
	char		*queue_id;
	char		*blob;
	uint64_t	 size;
	char		*sender;
	struct qrcpt	*rcpts;
	size_t		 nrcpt;
	size_t		 ncap;		/* rcpts allocated (scan) */
	unsigned	 retries;	/* deliver went away mid-job */
	char		*domain;	/* remote only, lower case */
	char		*envid;
	uint32_t	 ret, body;	/* QUEUE_RET_*, QUEUE_BODY_* */
	bool		 smtputf8;
};

/* client.c: smtpd connections */
void	client_accept(int fd, unsigned events, void *arg);
void	client_free_all(struct qmgr *);

/* queue_db.c: every statement of the qmgr role */
struct commit_req;
typedef void commit_done_fn(struct qmgr *, void *arg, int status,
	    const char *queue_id, struct qjob *job);
void	queue_db_commit(struct qmgr *, struct commit_req *);

/* syncer.c: spool files made and committed by worker processes. */
struct syncers;
/* The new tmp file (fd, name), or fd -1 and err. */
typedef void syncer_create_fn(int fd, const char *name, const char *err,
	    void *arg);
/* err NULL: the file is durable in the blob store. */
typedef void syncer_commit_fn(const char *err, void *arg);
struct syncers	*syncers_new(struct ev *, const char *blobdir);
void	syncers_free(struct syncers **);
/* fn is called once: at once (a file made ahead, or no worker alive:
   then qmgr does the work itself) or from the loop. */
void	syncers_create(struct syncers *, syncer_create_fn *, void *);
/* blob_commit() of tmp/name; takes fd (a descriptor of the file). */
void	syncers_commit(struct syncers *, const char *name, int fd,
	    syncer_commit_fn *, void *);
struct commit_req *commit_req_new(const char *spool, uint64_t size,
	    commit_done_fn *, void *arg);
void	commit_req_envelope(struct commit_req *, const char *sender,
	    const char *envid, uint32_t ret, uint32_t body, bool smtputf8,
	    const char *client_addr, const char *client_name,
	    const char *helo, const char *protocol);
void	commit_req_rcpt(struct commit_req *, const char *rcpt,
	    const char *orcpt, uint32_t notify);
void	commit_req_free(struct commit_req *);
void	commit_req_notice(struct commit_req *, const char *rows,
	    uint64_t delay_warned_row);
/* status: DELIVER_* (= MTA_* values); dsn NULL: the reply's first word */
void	queue_db_result(struct qmgr *, uint64_t row, const char *queue_id,
	    uint32_t status, const char *dsn, const char *reply,
	    const char *relay, bool relayed);
void	queue_db_finish(struct qmgr *, uint64_t queue_row, const char *blob);

/* queue_scan.c: finding the recipients that are due */
uint32_t notify_bits(const char *text);
void	queue_scan_start(struct qmgr *);
void	scan_soon(struct qmgr *);
void	scan_wake_in(struct qmgr *, uint64_t ms);

/* dispatch.c: deliver connections and the retry schedule */
void	dispatch_start(struct qmgr *);
void	dispatch_notify(const char *, const char *, void *);
void	dispatch_job(struct qmgr *, struct qjob *);
bool	dispatch_row_inflight(uint64_t row);
void	dispatch_rows_mark(struct qjob *, bool on);
void	dispatch_stop(struct qmgr *);
void	qjob_free(struct qjob *);

/* outbound.c: mta connections and the per-destination scheduler */
void	outbound_start(struct qmgr *);
void	outbound_job(struct qmgr *, struct qjob *);
void	outbound_stop(struct qmgr *);

/* blob_gc.c: removing blobs nothing refers to */
void	blob_gc(struct qmgr *);

/* bounce.c: delivery status notifications */
void	bounce_kick(struct qmgr *);
void	bounce_stop(struct qmgr *);

/* main.c */
void	qmgr_work_done(struct qmgr *);

#endif
