/*
 * imapd/fetch.h — private to fetch.c, fetch_parse.c, fetch_body.c and
 * store.c: the FETCH data items a command asked for, and the engine that
 * answers a message set in batches, one message at a time, as the
 * client's output drains.
 */
#ifndef WHARF_IMAPD_FETCH_H
#define WHARF_IMAPD_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct imap_arg;
struct mime_msg;
struct mime_part;
struct session;

/* One fetch-att (RFC 9051 6.4.5, 9). */
enum fetch_att {
	FA_FLAGS,
	FA_INTERNALDATE,
	FA_SIZE,		/* RFC822.SIZE */
	FA_ENVELOPE,
	FA_BODYSTRUCTURE,
	FA_BODY,		/* non-extensible BODYSTRUCTURE */
	FA_UID,
	FA_SECTION,		/* BODY[..], BINARY[..], RFC822, RFC822.* */
	FA_BINARY_SIZE,
	FA_MODSEQ,		/* RFC 7162 3.1.4.2 */
};

/* What a section names in its part (RFC 9051 6.4.5 section-spec). */
enum fetch_spec {
	SPEC_PART,		/* "" (whole message) or "1.2": the body */
	SPEC_HEADER,
	SPEC_FIELDS,		/* HEADER.FIELDS (...) */
	SPEC_FIELDS_NOT,	/* HEADER.FIELDS.NOT (...) */
	SPEC_TEXT,
	SPEC_MIME,
};

struct fetch_item {
	enum fetch_att	 att;
	char		*label;		/* as answered, without <origin> */
	bool		 binary;	/* BINARY[..], BINARY.SIZE[..] */
	bool		 peek;		/* does not set \Seen */
	char		*part;		/* "" or "1.2.3" */
	enum fetch_spec	 spec;
	char		**fields;	/* HEADER.FIELDS names */
	size_t		 nfields;
	bool		 partial;	/* <origin.count> */
	uint32_t	 origin, count;
};

/* Columns the engine needs loaded for the items (fetch_need()). */
#define NEED_ENVELOPE	0x01
#define NEED_BODYSTRUCT	0x02
#define NEED_BLOB	0x04	/* the message octets */
#define NEED_SEEN	0x08	/* some item sets \Seen */

/* fetch_parse.c */
/*
 * The data items of FETCH (args: the fetch-att, macro or list).  0, or
 * -1 with a static reason for the BAD.
 */
int	fetch_items_parse(const struct imap_arg *, struct fetch_item **items_r,
	    size_t *n_r, const char **why_r);
void	fetch_items_free(struct fetch_item *, size_t);
unsigned fetch_need(const struct fetch_item *, size_t);

/* One message row of a batch (the columns of mdb_fetch_sql). */
struct fetch_row {
	uint32_t	 uid;
	unsigned	 flags;
	char		*keywords;	/* text[] as text */
	int64_t		 internaldate;	/* Unix time */
	uint64_t	 size;
	char		*envelope;	/* NULL: not loaded or not cached */
	char		*bodystructure;
	uint8_t		*prefix;	/* per-recipient header lines */
	size_t		 prefix_len;
	char		*blob;		/* blob name, NULL: not loaded */
	uint64_t	 modseq;
	bool		 seen_set;	/* \Seen set by this command (STORE:
					   the row changed) */
	bool		 modified;	/* failed UNCHANGEDSINCE */
};

/*
 * A message being answered: its octets are prefix then blob (mapped), and
 * offsets into that whole are "message offsets".
 */
struct fetch_msg {
	const struct fetch_row	*row;
	const uint8_t		*blob;
	size_t			 blob_len;
	void			*map;
	struct mime_msg		*mime;	/* parsed from the blob, when needed */
};

/* A piece of output: octets owned by the plan or by the message. */
struct fetch_seg {
	const uint8_t	*p;
	size_t		 len;
};

/* What one data item writes, in segments, before it is sent. */
struct fetch_plan {
	struct fetch_seg *segs;
	size_t		  nsegs, cap;
	size_t		  cur, done;	/* sending: segment, octets of it */
	struct buf	**bufs;		/* owned */
	size_t		  nbufs;
	struct buf	 *text;		/* the open text buffer, or NULL */
};

/* fetch_body.c */
/* Map the blob (parsed later if an item needs it); -1 with errno. */
int	fetch_msg_open(struct fetch_msg *, const char *blob_dir,
	    const struct fetch_row *);
void	fetch_msg_close(struct fetch_msg *);
/*
 * A BINARY item that cannot be decoded (RFC 3516 UNKNOWN-CTE): true when
 * the message's answer must be left out.
 */
bool	fetch_msg_unknown_cte(struct fetch_msg *,
	    const struct fetch_item *, size_t);
/* Append one section item ("BODY[..] " and its value) to the plan. */
void	fetch_section(struct fetch_plan *, struct fetch_msg *,
	    const struct fetch_item *);
void	fetch_binary_size(struct fetch_plan *, struct fetch_msg *,
	    const struct fetch_item *);
/* BODY, and ENVELOPE / BODYSTRUCTURE when not cached. */
void	fetch_structure(struct fetch_plan *, struct fetch_msg *,
	    enum fetch_att);

/* fetch.c: plans */
/* The text being built (a plan owns its buffers). */
struct buf *fetch_plan_text(struct fetch_plan *);
/* Octets that stay valid until the plan is sent. */
void	fetch_plan_octets(struct fetch_plan *, const uint8_t *, size_t);
/* b's octets [off, off + len), b taken over (left empty). */
void	fetch_plan_adopt(struct fetch_plan *, struct buf *b, size_t off,
	    size_t len);

/*
 * The engine, shared by FETCH and STORE: the UIDs are answered in
 * batches, each one query (job.sql) with parameters $1 mailbox id, $2 a
 * bigint[] of UIDs, then job.extra[], returning the columns of
 * mdb_fetch_sql; each row gets "* n FETCH (...)" with the items (and UID
 * for UID commands) unless silent.  Once CONDSTORE is enabled, the
 * answers of STORE (store: also .SILENT ones for the rows it changed)
 * and those where FETCH set \Seen carry UID and MODSEQ too (RFC 7162
 * 3.1, 3.1.3).  Rows that failed UNCHANGEDSINCE are not answered but
 * listed in the tagged OK's [MODIFIED set].  The command ends with
 * cmd_done_sync().  Takes over items and uids; copies the rest.
 */
#define FETCH_EXTRA_MAX	5
struct fetch_job {
	const char		*sql;
	/* Optional: sql for a batch of UIDs that is a run of the view, with
	   the first and last UID after the extra parameters. */
	const char		*range_sql;
	const char		*extra[FETCH_EXTRA_MAX];
	int			 nextra;
	struct fetch_item	*items;
	size_t			 nitems;
	size_t			 batch;		/* UIDs per query */
	bool			 silent;	/* STORE .SILENT: no answers */
	bool			 store;
	const char		*done_text;	/* "FETCH completed" */
};
void	fetch_job_run(struct session *, struct fetch_job *, uint32_t *uids,
	    size_t n);

/*
 * fetch_vanished.c: UID FETCH ... (CHANGEDSINCE modseq VANISHED) (RFC
 * 7162 3.2.6): VANISHED (EARLIER) for the UIDs of set (ranges, "*" as
 * 4294967295) expunged since modseq, then the job.  Takes over what
 * fetch_job_run() does.
 */
void	fetch_vanished(struct session *, struct fetch_job *, uint32_t *uids,
	    size_t n, uint64_t modseq, const struct imap_range *set,
	    size_t nset);

#endif
