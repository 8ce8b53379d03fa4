/*
 * imapd/mailboxes.c — the commands on mailboxes as a whole (RFC 9051
 * 6.3; RFC 3501 6.3 for IMAP4rev1 clients): CREATE, DELETE, RENAME,
 * SUBSCRIBE, UNSUBSCRIBE (LIST, LSUB and STATUS are in list.c); the
 * default folders made at login; and the helpers the other mailbox
 * commands share (a command's query, a long response written as the
 * client reads it, names in responses).
 *
 * Names are UTF-8 with "/" as the hierarchy delimiter (sql/001_initial.sql)
 * and every superior of a mailbox exists: CREATE and RENAME make missing
 * ones, DELETE refuses a mailbox with inferiors (RFC 9051 6.3.5 allows
 * it: [HASCHILDREN]).  So LIST never has to invent \Noselect levels
 * among mailboxes.
 *
 * Subscriptions are a list of names apart from the mailboxes (sql/010,
 * RFC 9051 6.3.7): SUBSCRIBE takes any valid name, DELETE and RENAME
 * leave the list as it is (RFC 9051 says nothing of RENAME; Dovecot does
 * not move subscriptions either, and a client that wants them moved
 * says so with UNSUBSCRIBE and SUBSCRIBE).  What CREATE and the default
 * folders make is subscribed, as every new mailbox was before sql/010.
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

void
mailboxes_user_str(const struct session *s, char *out, size_t size)
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
int
mailboxes_name_write(const struct session *s, struct buf *out, const char *name)
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

bool
mailboxes_is_under(const char *name, const char *top)
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
	mailboxes_user_str(s, user, sizeof(user));
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
	mailboxes_user_str(s, user, sizeof(user));
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

	mailboxes_user_str(s, user, sizeof(user));
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
	    !mailboxes_is_under(s->sel->name, r->from)))
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
	if (strcmp(r->from, "INBOX") != 0 && mailboxes_is_under(r->to, r->from))
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
	mailboxes_user_str(s, user, sizeof(user));
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
	bool	 sub = s->cmd.name[0] == 'S';

	free(data);
	if (res == NULL)
		mailboxes_db_failed(s, sub ? "subscribe" : "unsubscribe", err);
	else if (!sub && PQntuples(res) == 0)	/* 6.3.8: "can't" */
		cmd_done(s, "NO", "[NONEXISTENT] Not subscribed");
	else
		cmd_done_sync(s, true, "OK", sub ? "SUBSCRIBE completed" :
		    "UNSUBSCRIBE completed");
}

/*
 * SUBSCRIBE and UNSUBSCRIBE: the subscriptions are names (sql/010), a
 * mailbox by the name need not exist (RFC 9051 6.3.7); a name no
 * mailbox could have is refused as CREATE refuses it.  UNSUBSCRIBE takes
 * the name as it is, so whatever was subscribed can be removed.
 */
void
cmd_subscribe(struct session *s)
{
	const char	*why;
	char		*name, user[24];
	bool		 sub = s->cmd.name[0] == 'S';

	if (s->cmd.nargs != 1) {
		cmd_done(s, "BAD", "Syntax: %s mailbox", s->cmd.name);
		return;
	}
	if ((name = mbox_name_arg(s, &s->cmd.args[0])) == NULL)
		return;
	if (sub && (why = name_invalid(name)) != NULL) {
		cmd_done(s, "NO", "[CANNOT] %s", why);
		free(name);
		return;
	}
	mailboxes_user_str(s, user, sizeof(user));
	mailboxes_query(s, sub ? mdb_subscribe_sql : mdb_unsubscribe_sql, 2,
	    (const char *const[]){ user, name }, subscribe_result, name, free);
}
