/* deliver — private header.  See deliver/main.c for the overview. */
#ifndef WHARF_DELIVER_H
#define WHARF_DELIVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct db;
struct ev_io;
struct ipc_conn;
struct service;

struct dclient;

struct deliver {
	struct service	*svc;
	struct db	*db;
	char		*blobdir;
	int		 listen_fd;
	struct ev_io	*accept_io;
	struct dclient	*clients;
	size_t		 inflight;
	uid_t		 peers[2];
	size_t		 npeers;
};

/* One recipient of a DELIVER_MSG and, once known, its result. */
struct drcpt {
	uint64_t	 row;
	uint64_t	 user_id;
	char		*address;
	char		*orig;
	uint32_t	 status;
	char		*reply;
};

/* A DELIVER_MSG in progress. */
struct dmsg {
	struct deliver	*d;
	struct dclient	*cl;		/* NULL once the client is gone */
	uint32_t	 id;
	char		*queue_id;
	char		*blob;
	uint64_t	 size;
	char		*sender;
	struct drcpt	*rcpts;
	size_t		 nrcpt;
	size_t		 next;		/* recipient being delivered */
	char		*envelope;	/* cached IMAP ENVELOPE, or NULL */
	char		*bodystructure;	/* cached BODYSTRUCTURE, or NULL */
	char		*fts_text;	/* searchable words (lib/mime), NULL:
					   too much for a vector */
};

/* mailbox_db.c: every statement of the wharf_deliver role */
void	mailbox_db_deliver(struct dmsg *, struct drcpt *,
	    void (*done)(struct dmsg *));

/* parse.c */
void	dmsg_parse(struct dmsg *, const char *blobdir);

/* main.c */
void	dmsg_step(struct dmsg *);

#endif
