/*
 * imapd/mailboxes.c — the commands on mailboxes as a whole (RFC 9051
 * 6.3; RFC 3501 6.3 for IMAP4rev1 clients): CREATE, DELETE, RENAME,
 * SUBSCRIBE, UNSUBSCRIBE, LIST (with RFC 5258 LIST-EXTENDED, RFC 3348
 * CHILDREN, RFC 6154 SPECIAL-USE, RFC 5819 LIST-STATUS), LSUB and STATUS
 * (RFC 8438 STATUS=SIZE); the default folders made at login; and two
 * helpers the other mailbox commands share (a command's query, a long
 * response written as the client reads it).
 *
 * Names are UTF-8 with "/" as the hierarchy delimiter (sql/001_initial.sql)
 * and every superior of a mailbox exists: CREATE and RENAME make missing
 * ones, DELETE refuses a mailbox with inferiors (RFC 9051 6.3.5 allows
 * it: [HASCHILDREN]).  So LIST never has to invent \Noselect levels.
 * Subscriptions are a flag of the mailbox (they go with it on DELETE).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "imap_fmt.h"
#include "imap_parse.h"
#include "imap_utf7.h"
#include "io.h"
#include "log.h"
#include "xmalloc.h"
#include "imapd.h"

#define NAME_MAX_OCTETS	1000		/* a name a client creates */
#define PATTERN_MAX	2048		/* reference + pattern, octets */
#define PATTERNS_MAX	100		/* patterns of one extended LIST */
/* Octet steps of pattern matching one LIST may take (a few ms each M). */
#define LIST_WORK_MAX	(100 * 1000 * 1000)
#define LIST_RESP_MAX	(64 * 1024 * 1024)
#define SEND_CHUNK	(256 * 1024)
#define SEND_QUEUED_MAX	(1024 * 1024)
#define DELETE_TRIES	5

/* ---- a command's query ---- */

struct mbq {
	struct session	*s;		/* NULL: the session went away */
	mailboxes_fn	*fn;
	void		*data;
	void		(*data_free)(void *);
};

static void
mbq_forget(void *arg)
{
	struct mbq	*q = arg;

	q->s = NULL;	/* the answer comes later: dropped then */
}

static void
mbq_result(PGresult *res, const char *err, void *arg)
{
	struct mbq	*q = arg;
	struct session	*s = q->s;
	mailboxes_fn	*fn = q->fn;
	void		*data = q->data;

	if (s == NULL) {
		if (q->data_free != NULL)
			q->data_free(data);
		free(q);
		return;
	}
	free(q);
	s->cmd.state = NULL;
	s->cmd.state_free = NULL;
	fn(s, res, err, data);
}

/*
 * Run a query for the command: fn(s, res, err, data) when it is back;
 * when the session went away first, data_free(data) instead (the
 * command's arguments are gone then: data must not point into them).
 */
void
mailboxes_query(struct session *s, const char *sql, int n,
    const char *const *params, mailboxes_fn *fn, void *data,
    void (*data_free)(void *))
{
	struct mbq	*q = xcalloc(1, sizeof(*q));

	q->s = s;
	q->fn = fn;
	q->data = data;
	q->data_free = data_free;
	s->cmd.state = q;
	s->cmd.state_free = mbq_forget;
	mdb_query(s->d, sql, n, params, mbq_result, q);
}

/* A failed query: one log line, and NO (the outcome is not known). */
void
mailboxes_db_failed(struct session *s, const char *what, const char *err)
{
	log_warnx("%s %s: %s", s->id, what, err);
	cmd_done(s, "NO", "[UNAVAILABLE] Try again later");
}

static void
user_str(const struct session *s, char *out, size_t size)
{
	snprintf(out, size, "%llu", (unsigned long long)s->user_id);
}

/* ---- a long response, written as the client reads it ---- */

struct send {
	struct buf	 b;
	void		(*done)(struct session *);
};

static void
send_free(void *arg)
{
	struct send	*p = arg;

	buf_clear(&p->b);
	free(p);
}

static void
send_more(struct session *s)
{
	struct send	*p = s->cmd.state;
	void		(*done)(struct session *) = p->done;
	size_t		 n;

	s->cmd.lowat = NULL;
	while (p->b.len > 0 && s->io != NULL) {
		if (io_queued(s->io) > SEND_QUEUED_MAX) {
			s->cmd.lowat = send_more;	/* IO_LOWAT: more */
			return;
		}
		n = p->b.len < SEND_CHUNK ? p->b.len : SEND_CHUNK;
		if (io_write(s->io, BUF_DATA(&p->b), n) == -1)
			break;		/* closing: nobody reads the rest */
		buf_consume(&p->b, n);
	}
	send_free(p);
	s->cmd.state = NULL;
	s->cmd.state_free = NULL;
	done(s);
}

/*
 * Write the response lines in *b (taken over: *b is left empty) without
 * passing the output queue's limit, then done(s).
 */
void
mailboxes_send(struct session *s, struct buf *b, void (*done)(struct session *))
{
	struct send	*p = xcalloc(1, sizeof(*p));

	p->b = *b;
	memset(b, 0, sizeof(*b));
	p->done = done;
	if (s->cmd.state != NULL && s->cmd.state_free != NULL)
		s->cmd.state_free(s->cmd.state);
	s->cmd.state = p;
	s->cmd.state_free = send_free;
	send_more(s);
}

/* ---- names ---- */

/* A name in a response: modified UTF-7 unless UTF8=ACCEPT (RFC 6855 3). */
static int
name_write(const struct session *s, struct buf *out, const char *name)
{
	struct buf	 b;
	int		 rc;

	if (s->utf8)
		return imap_fmt_string(out, name, strlen(name), true);
	buf_init(&b, 4 * strlen(name) + 16);
	if (imap_utf8_to_utf7(name, &b) == 0)
		rc = imap_fmt_string(out, (const char *)BUF_DATA(&b), b.len,
		    false);
	else	/* not UTF-8: cannot be, but say something valid */
		rc = imap_fmt_string(out, name, strlen(name), false);
	buf_clear(&b);
	return rc;
}

static void
log_name(char *out, size_t size, const char *name)
{
	log_safe(out, size, name, strlen(name));
}

/* RFC 3501 6.3.3: "a/" declares "a" as a level: the same mailbox. */
static void
strip_delimiter(char *name)
{
	size_t	 n = strlen(name);

	if (n > 1 && name[n - 1] == '/')
		name[n - 1] = '\0';
}

/*
 * Why a client cannot make a mailbox of this name, or NULL: the table's
 * rule (no empty level), no control characters, no LIST wildcards (such
 * a name could not be listed by itself), valid UTF-8, a bounded length.
 */
static const char *
name_invalid(const char *name)
{
	size_t	 n = strlen(name);

	if (n == 0 || name[0] == '/' || name[n - 1] == '/' ||
	    strstr(name, "//") != NULL)
		return "Empty hierarchy level in mailbox name";
	if (n > NAME_MAX_OCTETS)
		return "Mailbox name too long";
	for (const char *p = name; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '*' ||
		    *p == '%')
			return "Mailbox name with control or wildcard "
			    "characters";
	if (!addr_utf8_valid(name, n))
		return "Mailbox name is not valid UTF-8";
	return NULL;
}

static bool
is_under(const char *name, const char *top)
{
	size_t	 n = strlen(top);

	return strncmp(name, top, n) == 0 && name[n] == '/';
}

/* The superiors of a name as a text[] literal: "a/b/c" -> {"a","a/b"}. */
static char *
superiors_pg(const char *name)
{
	struct buf	 b;
	bool		 first = true;

	buf_init(&b, SIZE_MAX / 2);
	buf_add(&b, "{", 1);
	for (const char *p = strchr(name, '/'); p != NULL;
	    p = strchr(p + 1, '/')) {
		buf_add_str(&b, first ? "\"" : ",\"");
		for (const char *c = name; c < p; c++) {
			if (*c == '"' || *c == '\\')
				buf_add(&b, "\\", 1);
			buf_add(&b, c, 1);
		}
		buf_add(&b, "\"", 1);
		first = false;
	}
	buf_add(&b, "}", 1);
	return buf_steal(&b, NULL);
}

static bool
db_bool(PGresult *res, int col)
{
	return strcmp(PQgetvalue(res, 0, col), "t") == 0;
}

/* ---- INBOX and the default folders ---- */

struct ensure {
	void	(*fn)(struct session *);
};

static void
ensure_result(struct session *s, PGresult *res, const char *err, void *data)
{
	struct ensure	*e = data;
	void		(*fn)(struct session *) = e->fn;

	free(e);
	if (res == NULL)	/* not fatal: the next login tries again */
		log_warnx("%s creating the default folders: %s", s->id, err);
	fn(s);
}

/*
 * Right after login: a user who never got mail has no INBOX yet (deliver
 * makes it with the first message), but SELECT and APPEND must work.
 */
void
mailboxes_ensure(struct session *s, void (*fn)(struct session *))
{
	struct ensure	*e = xcalloc(1, sizeof(*e));
	char		 user[24];

	e->fn = fn;
	user_str(s, user, sizeof(user));
	mailboxes_query(s, mdb_folders_sql, 1, (const char *const[]){ user },
	    ensure_result, e, free);
}

/* ---- CREATE (RFC 9051 6.3.4) ---- */

static bool
db_duplicate(const char *err)
{
	return err != NULL && strstr(err, "duplicate key") != NULL;
}

static void
create_result(struct session *s, PGresult *res, const char *err, void *data)
{
	char	*name = data, logged[300];

	if (res == NULL && db_duplicate(err))
		cmd_done(s, "NO", "[ALREADYEXISTS] Mailbox exists");
	else if (res == NULL)
		mailboxes_db_failed(s, "create", err);
	else if (PQntuples(res) == 0)
		cmd_done(s, "NO", "[ALREADYEXISTS] Mailbox exists");
	else {
		log_name(logged, sizeof(logged), name);
		log_info("%s create %s", s->id, logged);
		cmd_done_sync(s, true, "OK", "CREATE completed");
	}
	free(name);
}

void
cmd_create(struct session *s)
{
	const char	*why;
	char		*name, *sup, user[24];

	if (s->cmd.nargs != 1) {
		cmd_done(s, "BAD", "Syntax: CREATE mailbox");
		return;
	}
	if ((name = mbox_name_arg(s, &s->cmd.args[0])) == NULL)
		return;
	strip_delimiter(name);
	if (strcmp(name, "INBOX") == 0) {
		cmd_done(s, "NO", "[ALREADYEXISTS] INBOX always exists");
		free(name);
		return;
	}
	if ((why = name_invalid(name)) != NULL) {
		cmd_done(s, "NO", "[CANNOT] %s", why);
		free(name);
		return;
	}
	user_str(s, user, sizeof(user));
	sup = superiors_pg(name);
	mailboxes_query(s, mdb_create_sql, 3, (const char *const[]){ user,
	    name, sup }, create_result, name, free);
	free(sup);
}

/* ---- DELETE (RFC 9051 6.3.5) ---- */

struct del {
	char	*name;
	int	 tries;
};

static void
del_free(void *arg)
{
	struct del	*x = arg;

	free(x->name);
	free(x);
}

static void	delete_run(struct session *, struct del *);

/* This session had the mailbox selected: it is not any more. */
static void
delete_selected(struct session *s)
{
	mbox_free(&s->sel);
	s->state = IMAP_STATE_AUTH;
	session_printf(s, "* OK [CLOSED] The selected mailbox was deleted");
}

static void
delete_result(struct session *s, PGresult *res, const char *err, void *data)
{
	struct del	*x = data;
	char		 logged[300];

	if (res == NULL || PQntuples(res) != 1)
		mailboxes_db_failed(s, "delete", res == NULL ? err : "no row");
	else if (PQgetisnull(res, 0, 0))
		cmd_done(s, "NO", "[NONEXISTENT] No such mailbox");
	else if (db_bool(res, 1))
		cmd_done(s, "NO", "[HASCHILDREN] Mailbox has inferior "
		    "mailboxes: delete them first");
	else if (PQgetisnull(res, 0, 2) && ++x->tries < DELETE_TRIES) {
		delete_run(s, x);	/* it changed meanwhile */
		return;
	} else if (PQgetisnull(res, 0, 2))
		cmd_done(s, "NO", "[INUSE] Mailbox busy, try again");
	else {
		log_name(logged, sizeof(logged), x->name);
		log_info("%s delete %s", s->id, logged);
		if (s->sel != NULL &&
		    strtoull(PQgetvalue(res, 0, 2), NULL, 10) == s->sel->id)
			delete_selected(s);
		cmd_done_sync(s, true, "OK", "DELETE completed");
	}
	del_free(x);
}

static void
delete_run(struct session *s, struct del *x)
{
	char	 user[24];

	user_str(s, user, sizeof(user));
	mailboxes_query(s, mdb_delete_sql, 2, (const char *const[]){ user,
	    x->name }, delete_result, x, del_free);
}

void
cmd_delete(struct session *s)
{
	struct del	*x;
	char		*name;

	if (s->cmd.nargs != 1) {
		cmd_done(s, "BAD", "Syntax: DELETE mailbox");
		return;
	}
	if ((name = mbox_name_arg(s, &s->cmd.args[0])) == NULL)
		return;
	if (strcmp(name, "INBOX") == 0) {
		cmd_done(s, "NO", "[CANNOT] INBOX cannot be deleted");
		free(name);
		return;
	}
	x = xcalloc(1, sizeof(*x));
	x->name = name;
	delete_run(s, x);
}

/* ---- RENAME (RFC 9051 6.3.6, RFC 3501 6.3.5 for INBOX) ---- */

struct ren {
	char	*from, *to;
};

static void
ren_free(void *arg)
{
	struct ren	*r = arg;

	free(r->from);
	free(r->to);
	free(r);
}

/* Keep the selected mailbox's name (for the logs) right. */
static void
rename_selected(struct session *s, const struct ren *r)
{
	char	*name;

	if (s->sel == NULL || (strcmp(s->sel->name, r->from) != 0 &&
	    !is_under(s->sel->name, r->from)))
		return;
	name = xasprintf("%s%s", r->to, s->sel->name + strlen(r->from));
	free(s->sel->name);
	s->sel->name = name;
}

static void
rename_done(struct session *s, const struct ren *r)
{
	char	 from[300], to[300];

	log_name(from, sizeof(from), r->from);
	log_name(to, sizeof(to), r->to);
	log_info("%s rename %s to %s", s->id, from, to);
	cmd_done_sync(s, true, "OK", "RENAME completed");
}

/* Rows of mdb_rename_sql: src exists, clash, renamed. */
static void
rename_result(struct session *s, PGresult *res, const char *err, void *data)
{
	struct ren	*r = data;

	if (res == NULL && db_duplicate(err))
		cmd_done(s, "NO", "[ALREADYEXISTS] Target mailbox exists");
	else if (res == NULL || PQntuples(res) != 1)
		mailboxes_db_failed(s, "rename", res == NULL ? err : "no row");
	else if (!db_bool(res, 0))
		cmd_done(s, "NO", "[NONEXISTENT] No such mailbox");
	else if (db_bool(res, 1))
		cmd_done(s, "NO", "[ALREADYEXISTS] Target mailbox exists");
	else {
		rename_selected(s, r);
		rename_done(s, r);
	}
	ren_free(r);
}

/* Rows of mdb_rename_inbox_sql: clash, made, moved, notified. */
static void
rename_inbox_result(struct session *s, PGresult *res, const char *err,
    void *data)
{
	struct ren	*r = data;

	if (res == NULL && db_duplicate(err))
		cmd_done(s, "NO", "[ALREADYEXISTS] Target mailbox exists");
	else if (res == NULL || PQntuples(res) != 1)
		mailboxes_db_failed(s, "rename", res == NULL ? err : "no row");
	else if (db_bool(res, 0))
		cmd_done(s, "NO", "[ALREADYEXISTS] Target mailbox exists");
	else if (!db_bool(res, 1))
		cmd_done(s, "NO", "[UNAVAILABLE] INBOX is missing");
	else
		rename_done(s, r);
	ren_free(r);
}

/* Why the rename cannot be done, or NULL. */
static const char *
rename_invalid(const struct ren *r)
{
	const char	*why;

	if (strcmp(r->to, "INBOX") == 0 || strcmp(r->from, r->to) == 0)
		return "[ALREADYEXISTS] Target mailbox exists";
	if ((why = name_invalid(r->to)) != NULL)
		return why;
	/* RENAME INBOX INBOX/old moves INBOX's messages: fine. */
	if (strcmp(r->from, "INBOX") != 0 && is_under(r->to, r->from))
		return "[CANNOT] Cannot move a mailbox under itself";
	return NULL;
}

void
cmd_rename(struct session *s)
{
	struct ren	*r;
	const char	*why;
	char		*sup, user[24];
	bool		 inbox;

	if (s->cmd.nargs != 2) {
		cmd_done(s, "BAD", "Syntax: RENAME mailbox new-name");
		return;
	}
	r = xcalloc(1, sizeof(*r));
	if ((r->from = mbox_name_arg(s, &s->cmd.args[0])) == NULL ||
	    (r->to = mbox_name_arg(s, &s->cmd.args[1])) == NULL) {
		ren_free(r);
		return;
	}
	strip_delimiter(r->to);
	if ((why = rename_invalid(r)) != NULL) {
		cmd_done(s, "NO", "%s%s", why[0] == '[' ? "" : "[CANNOT] ",
		    why);
		ren_free(r);
		return;
	}
	user_str(s, user, sizeof(user));
	sup = superiors_pg(r->to);
	inbox = strcmp(r->from, "INBOX") == 0;
	if (inbox)
		mailboxes_query(s, mdb_rename_inbox_sql, 3, (const char *const[])
		    { user, r->to, sup }, rename_inbox_result, r, ren_free);
	else
		mailboxes_query(s, mdb_rename_sql, 4, (const char *const[]){
		    user, r->from, r->to, sup }, rename_result, r, ren_free);
	free(sup);
}

/* ---- SUBSCRIBE, UNSUBSCRIBE (RFC 9051 6.3.7, 6.3.8) ---- */

static void
subscribe_result(struct session *s, PGresult *res, const char *err,
    void *data)
{
	free(data);
	if (res == NULL)
		mailboxes_db_failed(s, "subscribe", err);
	else if (PQntuples(res) == 0)
		cmd_done(s, "NO", "[NONEXISTENT] No such mailbox");
	else
		cmd_done_sync(s, true, "OK", s->cmd.name[0] == 'S' ?
		    "SUBSCRIBE completed" : "UNSUBSCRIBE completed");
}

/* SUBSCRIBE and UNSUBSCRIBE: only existing mailboxes are subscribed. */
void
cmd_subscribe(struct session *s)
{
	char	*name, user[24];

	if (s->cmd.nargs != 1) {
		cmd_done(s, "BAD", "Syntax: %s mailbox", s->cmd.name);
		return;
	}
	if ((name = mbox_name_arg(s, &s->cmd.args[0])) == NULL)
		return;
	user_str(s, user, sizeof(user));
	mailboxes_query(s, mdb_subscribe_sql, 3, (const char *const[]){ user,
	    name, s->cmd.name[0] == 'S' ? "true" : "false" },
	    subscribe_result, name, free);
}

/* ---- STATUS items (RFC 9051 6.3.11, RFC 8438) ---- */

/*
 * The items in the order asked, each once; value: the column of the
 * STATUS columns in mailbox_db.c.  RECENT counts the messages no session
 * has claimed as \Recent yet; HIGHESTMODSEQ is RFC 7162 3.1.6.
 */
static const struct {
	const char	*name;
	int		 col;
} status_names[] = {
	{ "UIDNEXT", 0 }, { "UIDVALIDITY", 1 }, { "MESSAGES", 2 },
	{ "UNSEEN", 3 }, { "SIZE", 4 }, { "DELETED", 5 },
	{ "HIGHESTMODSEQ", 6 }, { "RECENT", 7 },
};
#define STATUS_HMS	6	/* its index: asking for it enables CONDSTORE */
#define NSTATUS	(sizeof(status_names) / sizeof(status_names[0]))

struct status_items {
	unsigned char	 v[NSTATUS];
	size_t		 n;
};

/* 0, or -1 for an unknown item (or none). */
static int
status_items_parse(struct session *s, const struct imap_arg *arg,
    struct status_items *it)
{
	const struct imap_arg	*v;
	const char		*atom;
	size_t			 n, k, j;

	memset(it, 0, sizeof(*it));
	if (!imap_arg_list(arg, &v, &n) || n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!imap_arg_atom(&v[i], &atom))
			return -1;
		for (k = 0; k < NSTATUS; k++)
			if (strcasecmp(atom, status_names[k].name) == 0)
				break;
		if (k == NSTATUS)
			return -1;
		if (k == STATUS_HMS)	/* RFC 7162 3.1: enables CONDSTORE */
			mbox_condstore_enable(s);
		for (j = 0; j < it->n && it->v[j] != k; j++)
			;
		if (j == it->n)
			it->v[it->n++] = (unsigned char)k;
	}
	return 0;
}

/* "* STATUS name (ITEM n ...)" CRLF from the STATUS columns at col. */
static void
status_write(const struct session *s, struct buf *out,
    const struct status_items *it, const char *name, PGresult *res, int row,
    int col)
{
	buf_add_str(out, "* STATUS ");
	name_write(s, out, name);
	buf_add_str(out, " (");
	for (size_t i = 0; i < it->n; i++) {
		int	 c = status_names[it->v[i]].col;

		buf_printf(out, "%s%s %s", i > 0 ? " " : "",
		    status_names[it->v[i]].name, PQgetvalue(res, row, col + c));
	}
	buf_add_str(out, ")\r\n");
}

/* ---- STATUS ---- */

struct status {
	char			*name;
	struct status_items	 it;
};

static void
status_free(void *arg)
{
	struct status	*st = arg;

	free(st->name);
	free(st);
}

static void
status_result(struct session *s, PGresult *res, const char *err, void *data)
{
	struct status	*st = data;

	if (res == NULL)
		mailboxes_db_failed(s, "status", err);
	else if (PQntuples(res) == 0)
		cmd_done(s, "NO", "[NONEXISTENT] No such mailbox");
	else {
		status_write(s, &s->out, &st->it, st->name, res, 0, 0);
		session_flush_out(s);
		cmd_done_sync(s, true, "OK", "STATUS completed");
	}
	status_free(st);
}

void
cmd_status(struct session *s)
{
	struct status	*st;
	char		*name, user[24];

	if (s->cmd.nargs != 2) {
		cmd_done(s, "BAD", "Syntax: STATUS mailbox (items)");
		return;
	}
	if ((name = mbox_name_arg(s, &s->cmd.args[0])) == NULL)
		return;
	st = xcalloc(1, sizeof(*st));
	st->name = name;
	if (status_items_parse(s, &s->cmd.args[1], &st->it) == -1) {
		cmd_done(s, "BAD", "Unknown or missing STATUS item");
		status_free(st);
		return;
	}
	user_str(s, user, sizeof(user));
	mailboxes_query(s, mdb_status_sql, 3, (const char *const[]){ user, "t",
	    name }, status_result, st, status_free);
}

/* ---- LIST and LSUB (RFC 9051 6.3.9, RFC 3501 6.3.8, 6.3.9) ---- */

#define SEL_SUBSCRIBED		0x01
#define SEL_RECURSIVEMATCH	0x02
#define SEL_SPECIALUSE		0x04
#define RET_SUBSCRIBED		0x01
#define RET_STATUS		0x02

struct list {
	bool			 lsub;
	unsigned		 sel, ret;
	struct status_items	 st;
	char			**pats;		/* reference + pattern */
	size_t			 npats;
	struct buf		 out;
	PGresult		*res;		/* during list_result */
	int			*rows;		/* sorted by name */
	int			 n;
	uint64_t		 work;		/* LIST_WORK_MAX */
};

static void
list_free(void *arg)
{
	struct list	*l = arg;

	for (size_t i = 0; i < l->npats; i++)
		free(l->pats[i]);
	free(l->pats);
	buf_clear(&l->out);
	free(l->rows);
	free(l);
}

/*
 * Whether name matches a LIST pattern (RFC 9051 6.3.9): "*" matches
 * anything, "%" anything but the delimiter; the "INBOX" that starts a
 * name matches in any case (5.1).  The pattern runs as an NFA over the
 * name, so time is length(name) * length(pattern) whatever the
 * wildcards.  Octets: both are UTF-8 and the wildcards are ASCII.
 */
static bool
pattern_match(const char *pat, const char *name)
{
	bool	 a[PATTERN_MAX + 1], b[PATTERN_MAX + 1], *cur = a, *nxt = b, *t;
	size_t	 m = strlen(pat), j, ci;
	bool	 live;

	ci = strncmp(name, "INBOX", 5) == 0 && (name[5] == '\0' ||
	    name[5] == '/') ? 5 : 0;
	memset(a, 0, (m + 1) * sizeof(bool));
	cur[0] = true;
	for (size_t i = 0; ; i++) {
		for (j = 0; j < m; j++)		/* wildcards match "" */
			if (cur[j] && (pat[j] == '*' || pat[j] == '%'))
				cur[j + 1] = true;
		if (name[i] == '\0')
			return cur[m];
		memset(nxt, 0, (m + 1) * sizeof(bool));
		live = false;
		for (j = 0; j < m; j++) {
			if (!cur[j])
				continue;
			if (pat[j] == '*' || (pat[j] == '%' && name[i] != '/'))
				nxt[j] = live = true;
			else if (pat[j] == name[i] || (i < ci &&
			    (pat[j] | 0x20) == (name[i] | 0x20)))
				nxt[j + 1] = live = true;
		}
		if (!live)
			return false;
		t = cur;
		cur = nxt;
		nxt = t;
	}
}

/* Matching costs at most length(name) * length(pattern) steps. */
static bool
list_match(struct list *l, const char *name)
{
	size_t	 n = strlen(name) + 1;

	for (size_t i = 0; i < l->npats; i++) {
		l->work += n * (strlen(l->pats[i]) + 1);
		if (l->work > LIST_WORK_MAX)
			return false;
		if (pattern_match(l->pats[i], name))
			return true;
	}
	return false;
}

static const char *
row_name(const struct list *l, int i)
{
	return PQgetvalue(l->res, l->rows[i], 0);
}

static bool
row_subscribed(const struct list *l, int i)
{
	return PQgetvalue(l->res, l->rows[i], 2)[0] == 't';
}

static int
name_cmp(const void *a, const void *b, void *arg)
{
	PGresult	*res = arg;

	return strcmp(PQgetvalue(res, *(const int *)a, 0),
	    PQgetvalue(res, *(const int *)b, 0));
}

/*
 * The first inferior of row i, or l->n: names under "x" are exactly
 * those that start with "x/", a contiguous run in octet order that
 * starts at the first name >= "x/".
 */
static int
first_child(const struct list *l, int i)
{
	const char	*name = row_name(l, i);
	size_t		 n = strlen(name);
	int		 lo = i + 1, hi = l->n;

	while (lo < hi) {
		int		 mid = lo + (hi - lo) / 2;
		const char	*m = row_name(l, mid);
		int		 c = strncmp(m, name, n);

		if (c == 0)
			c = (unsigned char)m[n] - '/';
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->n && is_under(row_name(l, lo), name) ? lo : l->n;
}

/* An inferior of row i is subscribed (RFC 5258 CHILDINFO, 3.5). */
static bool
child_subscribed(struct list *l, int i, int child)
{
	const char	*name = row_name(l, i);

	for (int j = child; j < l->n && is_under(row_name(l, j), name); j++) {
		l->work += strlen(name) + 1;
		if (row_subscribed(l, j))
			return true;
	}
	return false;
}

static void
list_attrs(struct list *l, int i, bool children)
{
	const char	*use = PQgetvalue(l->res, l->rows[i], 1);

	buf_add_str(&l->out, "(");
	buf_add_str(&l->out, children ? "\\HasChildren" : "\\HasNoChildren");
	if (!PQgetisnull(l->res, l->rows[i], 1))
		buf_printf(&l->out, " %s", use);
	if ((l->ret & RET_SUBSCRIBED) && row_subscribed(l, i))
		buf_add_str(&l->out, " \\Subscribed");
	buf_add_str(&l->out, ")");
}

static bool
ends_with_percent(const char *pat)
{
	size_t	 n = strlen(pat);

	return n > 0 && pat[n - 1] == '%';
}

/* The LIST or LSUB response for row i, if it is to be listed. */
static void
list_row(const struct session *s, struct list *l, int i)
{
	const char	*name = row_name(l, i);
	bool		 sub = row_subscribed(l, i), kids, kidsub = false;
	int		 child;

	if (!list_match(l, name))
		return;
	if ((l->sel & SEL_SPECIALUSE) &&
	    PQgetisnull(l->res, l->rows[i], 1))
		return;
	child = first_child(l, i);
	kids = child < l->n;
	if (l->lsub || (l->sel & SEL_RECURSIVEMATCH &&
	    l->sel & SEL_SUBSCRIBED))
		kidsub = kids && child_subscribed(l, i, child);
	if (l->lsub) {
		/* RFC 3501 6.3.9: a level above subscribed ones, for "%". */
		if (!sub && !(kidsub && ends_with_percent(l->pats[0])))
			return;
		buf_printf(&l->out, "* LSUB (%s) \"/\" ", sub ? "" :
		    "\\Noselect");
		name_write(s, &l->out, name);
		buf_add_str(&l->out, "\r\n");
		return;
	}
	if ((l->sel & SEL_SUBSCRIBED) && !sub && !kidsub)
		return;
	buf_add_str(&l->out, "* LIST ");
	list_attrs(l, i, kids);
	buf_add_str(&l->out, " \"/\" ");
	name_write(s, &l->out, name);
	if (kidsub && (l->sel & SEL_RECURSIVEMATCH))
		buf_add_str(&l->out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	buf_add_str(&l->out, "\r\n");
	if (l->ret & RET_STATUS)
		status_write(s, &l->out, &l->st, name, l->res, l->rows[i], 3);
}

static void
list_sent(struct session *s)
{
	cmd_done_sync(s, true, "OK", s->cmd.name[1] == 'S' ?
	    "LSUB completed" : "LIST completed");
}

static void
list_result(struct session *s, PGresult *res, const char *err, void *data)
{
	struct list	*l = data;

	if (res == NULL) {
		mailboxes_db_failed(s, "list", err);
		list_free(l);
		return;
	}
	l->res = res;
	l->n = PQntuples(res);
	l->rows = xreallocarray(NULL, (size_t)l->n + 1, sizeof(*l->rows));
	for (int i = 0; i < l->n; i++)
		l->rows[i] = i;
	qsort_r(l->rows, (size_t)l->n, sizeof(*l->rows), name_cmp, res);
	for (int i = 0; i < l->n; i++)		/* INBOX first */
		if (strcmp(row_name(l, i), "INBOX") == 0)
			list_row(s, l, i);
	for (int i = 0; i < l->n; i++)
		if (strcmp(row_name(l, i), "INBOX") != 0)
			list_row(s, l, i);
	l->res = NULL;
	if (l->work > LIST_WORK_MAX)
		cmd_done(s, "NO", "[LIMIT] Too many mailboxes for these "
		    "patterns");
	else
		mailboxes_send(s, &l->out, list_sent);
	list_free(l);
}

/* A list-mailbox (RFC 9051 9): an atom with wildcards, or a string. */
static bool
pattern_arg(const struct imap_arg *arg, const char **s_r)
{
	size_t	 len;

	if ((arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) &&
	    arg->len > 0) {
		*s_r = arg->str;
		return true;
	}
	return imap_arg_string(arg, s_r, &len) && strlen(*s_r) == len;
}

/*
 * reference + pattern in UTF-8 (RFC 3501 6.3.8: the reference is put in
 * front).  A pattern that is not modified UTF-7 is taken as it is.  NULL
 * when it is too long.
 */
static char *
pattern_make(const struct session *s, const char *ref, const char *pat)
{
	struct buf	 b;
	int		 rc;

	buf_init(&b, PATTERN_MAX - 1);
	rc = s->utf8 ? -1 : imap_utf7_to_utf8(ref, &b);
	if (rc == 0)
		rc = imap_utf7_to_utf8(pat, &b);
	if (rc == -1) {
		buf_reset(&b);
		rc = buf_printf(&b, "%s%s", ref, pat);
	}
	if (rc == -1) {
		buf_clear(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

/* Selection options (RFC 5258 3.1, RFC 6154 5.1); -1: BAD. */
static int
list_select_parse(const struct imap_arg *arg, struct list *l)
{
	const struct imap_arg	*v;
	const char		*opt;
	size_t			 n;

	if (!imap_arg_list(arg, &v, &n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!imap_arg_atom(&v[i], &opt))
			return -1;
		if (strcasecmp(opt, "SUBSCRIBED") == 0) {
			l->sel |= SEL_SUBSCRIBED;
			l->ret |= RET_SUBSCRIBED;	/* implied */
		} else if (strcasecmp(opt, "RECURSIVEMATCH") == 0)
			l->sel |= SEL_RECURSIVEMATCH;
		else if (strcasecmp(opt, "SPECIAL-USE") == 0)
			l->sel |= SEL_SPECIALUSE;
		else if (strcasecmp(opt, "REMOTE") != 0)  /* none: no-op */
			return -1;
	}
	/* RFC 5258 3.1: never alone (or with REMOTE only). */
	if ((l->sel & SEL_RECURSIVEMATCH) && l->sel == SEL_RECURSIVEMATCH)
		return -1;
	return 0;
}

/*
 * Return options (RFC 5258 3.2, RFC 6154 5.2, RFC 5819): CHILDREN and
 * SPECIAL-USE attributes are always given; -1: BAD.
 */
static int
list_return_parse(struct session *s, const struct imap_arg *arg,
    struct list *l)
{
	const struct imap_arg	*v;
	const char		*opt;
	size_t			 n;

	if (!imap_arg_list(arg, &v, &n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!imap_arg_atom(&v[i], &opt))
			return -1;
		if (strcasecmp(opt, "SUBSCRIBED") == 0)
			l->ret |= RET_SUBSCRIBED;
		else if (strcasecmp(opt, "STATUS") == 0 && i + 1 < n &&
		    status_items_parse(s, &v[i + 1], &l->st) == 0) {
			l->ret |= RET_STATUS;
			i++;
		} else if (strcasecmp(opt, "CHILDREN") != 0 &&
		    strcasecmp(opt, "SPECIAL-USE") != 0)
			return -1;
	}
	return 0;
}

static int
list_add_pattern(const struct session *s, struct list *l, const char *ref,
    const struct imap_arg *arg)
{
	const char	*pat;
	char		*p;

	if (!pattern_arg(arg, &pat) || l->npats >= PATTERNS_MAX ||
	    (p = pattern_make(s, ref, pat)) == NULL)
		return -1;
	l->pats = xreallocarray(l->pats, l->npats + 1, sizeof(*l->pats));
	l->pats[l->npats++] = p;
	return 0;
}

/* The mailbox-or-pattern(s) argument: one, or a list (RFC 5258). */
static int
list_patterns(const struct session *s, struct list *l, const char *ref,
    const struct imap_arg *arg)
{
	const struct imap_arg	*v;
	size_t			 n;

	if (arg->type != IMAP_ARG_LIST || l->lsub)
		return list_add_pattern(s, l, ref, arg);
	if (!imap_arg_list(arg, &v, &n) || n == 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (list_add_pattern(s, l, ref, &v[i]) == -1)
			return -1;
	return 0;
}

/*
 * LIST [(select-opts)] reference pattern(s) [RETURN (return-opts)],
 * LSUB reference pattern.  0, or -1 for BAD.
 */
static int
list_parse(struct session *s, struct list *l, bool *plain_empty)
{
	const struct imap_arg	*a = s->cmd.args;
	size_t			 n = s->cmd.nargs, i = 0, len;
	const char		*ref, *pat;

	if (!l->lsub && n > 0 && a[0].type == IMAP_ARG_LIST &&
	    list_select_parse(&a[i++], l) == -1)
		return -1;
	if (n < i + 2 || !imap_arg_astring(&a[i], &ref, &len) ||
	    strlen(ref) != len)
		return -1;
	*plain_empty = i == 0 && n == 2 && pattern_arg(&a[1], &pat) &&
	    pat[0] == '\0';
	if (list_patterns(s, l, ref, &a[i + 1]) == -1)
		return -1;
	i += 2;
	if (i == n)
		return 0;
	if (l->lsub || n != i + 2 || !imap_arg_atom_equals(&a[i], "RETURN"))
		return -1;
	return list_return_parse(s, &a[i + 1], l);
}

/* LIST and LSUB. */
void
cmd_list(struct session *s)
{
	struct list	*l = xcalloc(1, sizeof(*l));
	char		 user[24];
	bool		 plain_empty = false;

	l->lsub = strcmp(s->cmd.name, "LSUB") == 0;
	buf_init(&l->out, LIST_RESP_MAX);
	if (list_parse(s, l, &plain_empty) == -1) {
		cmd_done(s, "BAD", "Syntax: %s", l->lsub ? "LSUB reference "
		    "pattern" : "LIST [(options)] reference pattern(s) "
		    "[RETURN (options)]");
		list_free(l);
		return;
	}
	if (plain_empty) {	/* RFC 9051 6.3.9: the delimiter */
		if (!l->lsub)
			session_printf(s, "* LIST (\\Noselect) \"/\" \"\"");
		list_free(l);
		list_sent(s);
		return;
	}
	user_str(s, user, sizeof(user));
	mailboxes_query(s, mdb_list_sql, 2, (const char *const[]){ user,
	    (l->ret & RET_STATUS) ? "t" : "f" }, list_result, l, list_free);
}
