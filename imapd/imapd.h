/* imapd — private header.  See imapd/main.c for the overview. */
#ifndef WHARF_IMAPD_H
#define WHARF_IMAPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include <libpq-fe.h>

#include "buf.h"

struct db;
struct ev_io;
struct ev_timer;
struct imap_arg;
struct imap_parser;
struct imap_range;
struct io;
struct ipc_msg;
struct peer;
struct peer_req;
struct service;
struct session;

struct listener {
	struct imapd	*d;
	int		 fd;
	struct ev_io	*io;
	bool		 implicit_tls;	/* imaps_listen */
};

struct imapd {
	struct service	*svc;
	SSL_CTX		*tls;
	struct listener	*listeners;
	size_t		 nlisteners;
	struct peer	*authd;
	struct db	*db;
	struct session	*sessions;
	size_t		 nsessions;
	uint64_t	 next_id;
	char		*blob_dir;	/* $state_dir/blobs */
	/* settings */
	const char	*hostname;
	size_t		 line_max, literal_max, append_max;
	uint64_t	 login_timeout, timeout;
	size_t		 conn_limit, client_limit, user_limit;
	bool		 plaintext_loopback;
	bool		 fts;		/* imap_fts: SEARCH uses messages.fts */
};

enum imap_state {
	IMAP_STATE_NOTAUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

/* The selected mailbox as this session knows it (RFC 9051 2.3.1). */
struct mbox {
	uint64_t	 id;
	char		*name;		/* UTF-8 */
	bool		 readonly;	/* EXAMINE */
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;	/* as last reported */
	uint64_t	 modseq;	/* changes up to this one are known */
	uint32_t	*uids;		/* sequence number n: uids[n - 1] */
	size_t		 n, cap;
	size_t		 nrecent;	/* \Recent for rev1: see mbox.c */
	bool		 expunge_pending; /* seen, not yet reported */
	struct imap_range *recent;	/* UIDs \Recent here, ascending */
	size_t		 nrecent_ranges;
	bool		 hms_pending;	/* EXPUNGE's OK: [HIGHESTMODSEQ] */
	uint64_t	 told[8];	/* own changes above modseq, answered */
	size_t		 ntold;
	bool		 idle_again;	/* NOTIFY during IDLE's sync */
	struct imap_range *saved;	/* SEARCHRES "$": UID ranges */
	size_t		 nsaved;
};

/* The command being run: one at a time per session (RFC 9051 5.5). */
struct cmd {
	const char		*tag;
	const char		*name;		/* upper case, "UID" dropped */
	bool			 uid;		/* UID FETCH, UID STORE, ... */
	const struct imap_arg	*args;
	size_t			 nargs;
	void			*state;		/* the command's own */
	void			(*state_free)(void *);
	/* Output fell low: a long response (FETCH) writes more. */
	void			(*lowat)(struct session *);
};

enum sess_wait {
	WAIT_NONE,		/* reading commands */
	WAIT_CMD,		/* a command runs (db, authd, output) */
	WAIT_LITERAL,		/* "+ Ready" sent, literal coming */
	WAIT_AUTH,		/* AUTHENTICATE: a response line */
	WAIT_IDLE,		/* IDLE: waiting for DONE */
	WAIT_TLS,		/* STARTTLS handshake */
};

struct session {
	struct session	*next;
	struct imapd	*d;
	char		 id[24];
	struct io	*io;
	enum imap_state	 state;
	enum sess_wait	 wait;
	char		 addr[64];	/* client IP, numeric */
	bool		 tls, implicit_tls, loopback;
	bool		 utf8;		/* ENABLE UTF8=ACCEPT or IMAP4rev2 */
	bool		 rev2;		/* ENABLE IMAP4rev2 */
	bool		 condstore, qresync;
	bool		 closing;
	bool		 counted_ip;	/* by authd: "imap/<addr>" */
	bool		 counted_user;	/* by authd: "imapuser/<id>" */
	uint64_t	 user_id;
	char		*user;		/* "local@domain" */
	struct imap_parser *parser;
	bool		 raw;		/* the parser reads raw lines now */
	struct mbox	*sel;		/* SELECTED state */
	struct cmd	 cmd;
	char		*tag;		/* the running command's */
	struct peer_req	*pending;	/* authd */
	struct ev_timer	*timer;		/* autologout */
	struct ev_timer	*resume;	/* next command, from the loop */
	struct buf	 out;		/* a response being built */
	char		*auth_mech;	/* AUTHENTICATE in progress */
};

/* session.c */
void	session_accept(int fd, unsigned events, void *arg);
void	session_free(struct session *);
void	session_free_all(struct imapd *);
void	session_shutdown(struct session *);
void	session_input(struct session *);
void	session_bye(struct session *, const char *text);
void	session_continue(struct session *);
void	session_uncount(struct session *, const char *prefix,
	    const char *what);
/* Untagged and continuation responses: "* ..." CRLF added. */
void	session_printf(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Write s->out (a response built with buf_* and imap_fmt_*) and reset it. */
void	session_flush_out(struct session *);
/*
 * End the running command with its tagged response ("OK", "NO", "BAD")
 * and text (which may start with a "[CODE]"); reading goes on.
 */
void	cmd_done(struct session *, const char *status, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* cmd_done() after reporting pending mailbox changes (NOOP & co). */
void	cmd_done_sync(struct session *, bool expunges, const char *status,
	    const char *text);

/* commands.c: the command table and the commands of any state */
void	command_run(struct session *);
const char *capability_string(const struct session *);
void	auth_input(struct session *, const char *line, size_t len);
void	idle_input(struct session *, const char *line, size_t len);
void	idle_notify(struct session *);

/* mbox.c: SELECT/EXAMINE, the selected mailbox and its changes */
void	cmd_select(struct session *);
void	cmd_close(struct session *);
void	cmd_unselect(struct session *);
void	mbox_free(struct mbox **);
/*
 * Read the mailbox's changes since s->sel->modseq and report them
 * (taking over s->cmd.state: a command's own is released first):
 * EXPUNGE or VANISHED (only when expunges is true: not during FETCH,
 * STORE, SEARCH, RFC 9051 7.5.1), EXISTS (and RECENT), and FETCH (UID
 * FLAGS [MODSEQ]) for messages changed by others; then fn(s).
 */
void	mbox_sync(struct session *, bool expunges, void (*fn)(struct session *));
/* Sequence number of uid, 0 when not in the view. */
size_t	mbox_seq(const struct mbox *, uint32_t uid);
char	*mbox_name_arg(struct session *, const struct imap_arg *);
int	mbox_set(struct session *, const struct imap_arg *, bool uid,
	    uint32_t **uids_r, size_t *n_r);
char	*mbox_uids_pg(const uint32_t *, size_t);
void	mbox_expunged(struct session *, PGresult *, int col);

/* expunge.c: EXPUNGE, UID EXPUNGE (RFC 4315), CLOSE's silent expunge */
void	cmd_expunge(struct session *);
void	mbox_expunge_silent(struct session *, void (*fn)(struct session *));
void	imapd_notify(const char *channel, const char *payload, void *arg);

/* flags.c */
#define FLAG_SEEN		0x01
#define FLAG_ANSWERED		0x02
#define FLAG_FLAGGED		0x04
#define FLAG_DELETED		0x08
#define FLAG_DRAFT		0x10
#define FLAG_KEYWORD_MAX	100	/* octets of one keyword */
#define FLAG_KEYWORDS_MAX	100	/* keywords in one list */
struct flag_list {
	char	**v;
	size_t	 n;
};
int	flags_pg_array(const char *, void (*fn)(const char *, size_t, void *),
	    void *arg);
void	flags_write(struct buf *, unsigned flags, const char *keywords);
int	flags_parse(const struct imap_arg *, unsigned *bits_r,
	    struct flag_list *);
void	flags_list_free(struct flag_list *);
char	*flags_pg_literal(const struct flag_list *);

/* mailbox_db.c: all of imapd's SQL (role wharf_imapd, sql/005_imapd.sql) */
typedef void mdb_fn(PGresult *res, const char *err, void *arg);
void	mdb_query(struct imapd *, const char *sql, int n,
	    const char *const *params, mdb_fn *, void *arg);
extern const char mdb_select_sql[], mdb_sync_sql[], mdb_expunge_sql[];

/* search_parse.c, search.c, search_match.c: SEARCH (RFC 3501/9051 6.4.4) */
struct imap_range;
struct mime_msg;

enum search_key_type {
	SK_ALL,
	SK_NONE,
	SK_AND,			/* kids: every one (a parenthesised list) */
	SK_OR,			/* kids: two */
	SK_NOT,			/* kids: one */
	SK_FLAG,		/* bits set (ANSWERED, DELETED, ...) */
	SK_UNFLAG,		/* bits clear (UNANSWERED, ...) */
	SK_KEYWORD,		/* str */
	SK_UNKEYWORD,
	SK_LARGER,		/* num: RFC822.SIZE */
	SK_SMALLER,
	SK_BEFORE,		/* num: yyyymmdd of INTERNALDATE */
	SK_ON,
	SK_SINCE,
	SK_SENTBEFORE,		/* num: yyyymmdd of the Date: field */
	SK_SENTON,
	SK_SENTSINCE,
	SK_UID,			/* set: UIDs */
	SK_SEQ,			/* set: sequence numbers */
	SK_HEADER,		/* field, str: FROM, TO, CC, BCC, SUBJECT too */
	SK_BODY,		/* str */
	SK_TEXT,		/* str */
	SK_RECENT,		/* uids: the session's \Recent (RFC 3501) */
	SK_MODSEQ,		/* num: modseq at least (RFC 7162 3.1.5) */
};

#define SEARCH_DEPTH_MAX	64	/* nesting of NOT, OR and lists */
#define SEARCH_MSG_KEYS_MAX	100	/* keys on header, body or Date: */

struct search_key {
	enum search_key_type	 type;
	struct search_key	*kids;		/* AND, OR, NOT */
	struct search_key	*next;		/* the next of its parent's */
	bool			 msg;		/* it or a kid needs the text */
	unsigned		 bits;		/* FLAG, UNFLAG */
	uint64_t		 num;
	char			*field;		/* HEADER: the field's name */
	char			*str;		/* KEYWORD; text: case-folded */
	size_t			 len;
	struct imap_range	*set;		/* UID, SEQ: as sent ("*" 0) */
	size_t			 nset;
	struct imap_range	*uids;		/* UID, SEQ: UIDs of the view */
	size_t			 nuids;
	bool			 saved;		/* UID: "$" (RFC 5182) */
};

/* ESEARCH RETURN options (RFC 4731 3.1) */
#define SEARCH_RET_MIN		0x01
#define SEARCH_RET_MAX		0x02
#define SEARCH_RET_ALL		0x04
#define SEARCH_RET_COUNT	0x08
#define SEARCH_RET_SAVE		0x10	/* SEARCHRES (RFC 5182 2.1) */

struct search_query {
	struct search_key	*root;		/* SK_AND of the keys */
	unsigned		 ret;		/* SEARCH_RET_*; 0: SEARCH */
	bool			 body;		/* BODY or TEXT: all the text */
	bool			 modseq;	/* a MODSEQ key: (MODSEQ n) */
};

/* search_parse() results besides 0 */
#define SEARCH_BAD		-1	/* syntax: BAD err */
#define SEARCH_BADCHARSET	-2	/* NO [BADCHARSET (UTF-8 US-ASCII)] */

/*
 * The arguments of SEARCH: [RETURN (opts)] [CHARSET cs] key... into q
 * (search_query_clear() after 0); no database, no session.
 */
int	search_parse(const struct imap_arg *, size_t n, struct search_query *q,
	    const char **err_r);
void	search_query_clear(struct search_query *);
/* A simple length-preserving lower case of valid UTF-8, in place. */
void	search_fold(char *, size_t);
/* yyyymmdd of an RFC 5322 date-time (time and zone left out), or 0. */
uint32_t search_date_822(const char *, size_t);
void	cmd_search(struct session *);

/* What search_match() is given of one message. */
struct search_msg {
	uint32_t	 uid;
	unsigned	 flags;
	const char	*keywords;	/* text[] in PostgreSQL's text form */
	uint64_t	 size;
	uint32_t	 date;		/* yyyymmdd of INTERNALDATE */
	const uint8_t	*data;		/* prefix + blob (the header at least:
					   all of it when q->body) */
	size_t		 len;
	size_t		 hdr_len;	/* search_header_len(data, len) */
	struct mime_msg	*mime;		/* search_match()'s cache: mime_free */
	uint32_t	 sent;		/* its cache of the Date: field */
	bool		 sent_done;
	uint64_t	 modseq;
};
/* Whether the message matches k (RFC 9051 6.4.4). */
bool	search_match(const struct search_key *k, struct search_msg *);
/*
 * The octets of a message header, up to and including the empty line
 * that ends it; *end_r (may be NULL): whether there is one (else len).
 */
size_t	search_header_len(const uint8_t *, size_t len, bool *end_r);

/*
 * mailbox_db.c: a search's SQL text and parameters for mdb_query():
 * params[1] is the UID after which to go on (batches).
 */
struct search_sql {
	struct buf	 sql;
	char		**params;
	int		 nparams;
};
/*
 * fts: BODY and TEXT keys select candidates by messages.fts.  Returns
 * the batch size used (limit, or more with fts).
 */
unsigned mdb_search_sql(struct search_sql *, const struct search_key *root,
	    uint64_t mailbox_id, uint32_t last_uid, unsigned limit, bool fts);
void	mdb_search_after(struct search_sql *, uint32_t uid);
void	mdb_search_sql_clear(struct search_sql *);

/* fetch.c, store.c: FETCH, UID FETCH, STORE, UID STORE (see fetch.h) */
void	cmd_fetch(struct session *);
void	cmd_store(struct session *);
extern const char mdb_fetch_sql[], mdb_fetch_range_sql[], mdb_store_sql[];

/* mailboxes.c: CREATE, DELETE, RENAME, (UN)SUBSCRIBE; list.c: LIST, LSUB,
   STATUS */
void	cmd_create(struct session *);
void	cmd_delete(struct session *);
void	cmd_rename(struct session *);
void	cmd_subscribe(struct session *);	/* and UNSUBSCRIBE */
void	cmd_list(struct session *);		/* and LSUB */
void	cmd_status(struct session *);
/* After login: make INBOX and the default folders if missing, then fn. */
void	mailboxes_ensure(struct session *, void (*fn)(struct session *));
/*
 * A command's query: fn(s, res, err, data) when it is back (s->cmd.state
 * is the query's until then); if the session went away first,
 * data_free(data) instead.
 */
typedef void mailboxes_fn(struct session *, PGresult *, const char *err,
	    void *data);
void	mailboxes_query(struct session *, const char *sql, int n,
	    const char *const *params, mailboxes_fn *, void *data,
	    void (*data_free)(void *));
/* The user id as a query parameter. */
void	mailboxes_user_str(const struct session *, char *out, size_t size);
/* A name in a response: modified UTF-7 unless UTF8=ACCEPT. */
int	mailboxes_name_write(const struct session *, struct buf *,
	    const char *name);
/* name is below top ("top/..."). */
bool	mailboxes_is_under(const char *name, const char *top);
/* A failed query: logged, and NO [UNAVAILABLE]. */
void	mailboxes_db_failed(struct session *, const char *what,
	    const char *err);
/* Write *b (taken over) as the client reads it, then done(s). */
void	mailboxes_send(struct session *, struct buf *,
	    void (*done)(struct session *));
extern const char mdb_folders_sql[], mdb_create_sql[], mdb_delete_sql[],
	    mdb_rename_sql[], mdb_rename_inbox_sql[], mdb_subscribe_sql[],
	    mdb_list_sql[], mdb_status_sql[];

/* append.c: APPEND (RFC 9051 6.3.12, RFC 4315 APPENDUID) */
void	cmd_append(struct session *);
extern const char mdb_append_sql[];

/* copy.c: COPY, MOVE (RFC 6851) and their UID forms, COPYUID */
void	cmd_copy(struct session *);		/* and MOVE */
extern const char mdb_copy_sql[], mdb_move_sql[];

/*
 * CONDSTORE and QRESYNC (RFC 7162), \Recent (RFC 3501 2.3.2), IMAP4rev2
 * (RFC 9051): mbox.c, mbox_sync.c, fetch*.c, store.c, search*.c
 */
#define FLAG_RECENT	0x20	/* the session's, never stored (flags_write) */

/* mbox.c: ascending numbers written compactly, "1:3,7" (RFC 9051 9). */
struct set_out {
	struct buf	*b;
	uint32_t	 lo, hi;	/* the range not yet written */
	bool		 open;
	size_t		 n;		/* numbers added */
	size_t		 ranges;	/* ranges written */
};
void	set_out_init(struct set_out *, struct buf *);
void	set_out_add(struct set_out *, uint32_t);
void	set_out_end(struct set_out *);	/* writes the last range */

/*
 * mbox.c; mbox_sync(), cmd_done_sync(), mbox_expunged() and
 * imapd_notify() (above) are in mbox_sync.c, which changes the view with:
 */
void	mbox_add_uid(struct mbox *, uint32_t uid);
void	mbox_remove_seq(struct mbox *, size_t seq);
/* UIDs from .. below - 1 are \Recent here (claims ascend). */
void	mbox_recent_add(struct mbox *, uint64_t from, uint64_t below);
/* Whether uid is \Recent in this session (never for IMAP4rev2). */
bool	mbox_recent(const struct mbox *, uint32_t uid);
/*
 * A CONDSTORE enabling command ran (RFC 7162 3.1): MODSEQ in FETCH
 * responses from now on, and "* OK [HIGHESTMODSEQ n]" when a mailbox is
 * selected.
 */
void	mbox_condstore_enable(struct session *);
/* A query of SELECT (QRESYNC) failed: no mailbox is selected. */
void	mbox_select_failed(struct session *);
/* mod-sequence-valzer (RFC 7162 7): digits, 0 .. 2^63 - 1. */
bool	mbox_modseq_arg(const struct imap_arg *, uint64_t *v_r);

/* mbox_sync.c */
/*
 * The session's own change under modseq was answered (FETCH, STORE):
 * the sync need not report it again.
 */
void	mbox_told(struct mbox *, uint64_t modseq);

/* fetch_vanished.c: VANISHED (EARLIER) (RFC 7162 3.2.10.1) */
/*
 * SELECT/EXAMINE (QRESYNC (v modseq [known-uids])) once the view is
 * made (3.2.5.1): VANISHED (EARLIER) for the known UIDs expunged since
 * modseq, then FETCH (UID FLAGS MODSEQ) for those changed since; the
 * command then ends with done_text (a static string).
 */
void	fetch_qresync(struct session *, uint64_t modseq,
	    const struct imap_range *known, size_t nknown,
	    const char *done_text);
extern const char mdb_vanished_sql[];

/* mbox.c, mbox_sync.c: the view and its changes read in batches */
extern const char mdb_select_more_sql[], mdb_sync_expunged_sql[],
	    mdb_sync_changed_sql[];

/*
 * mbox.c: SEARCHRES (RFC 5182, RFC 9051 6.4.4): the saved result "$"
 * of the selected mailbox, kept as UID ranges; it goes with the view
 * (SELECT, EXAMINE, CLOSE, UNSELECT), and a message expunged from the
 * view leaves it (it is read through the view).
 */
/* The saved result is now uids (ascending, all in the view). */
void	mbox_saved_set(struct mbox *, const uint32_t *uids, size_t n);
void	mbox_saved_clear(struct mbox *);
/* The saved result's UIDs in the view, ascending (malloc'd or NULL). */
uint32_t *mbox_saved_uids(const struct mbox *, size_t *n_r);

/* mailboxes.c: subscriptions are names of their own (sql/010) */
extern const char mdb_unsubscribe_sql[];

#endif
