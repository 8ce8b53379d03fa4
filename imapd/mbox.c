/*
 * imapd/mbox.c — SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3), CLOSE and
 * UNSELECT (6.4.1, RFC 3691), and keeping a session's view of the selected
 * mailbox in step with the database (RFC 9051 7.4, 7.5.1, 5.2).
 *
 * The view is the list of UIDs in sequence order.  What changed since the
 * view was last synced is read by modseq: messages with a greater modseq
 * (new or with new flags) and the expunge log.  Expunges are reported
 * only where RFC 9051 7.5.1 allows it — not while FETCH, STORE or SEARCH
 * (by sequence numbers) run — and otherwise kept for later, so sequence
 * numbers never move under a command that uses them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "buf.h"
#include "imap_parse.h"
#include "imap_utf7.h"
#include "log.h"
#include "xmalloc.h"
#include "imapd.h"

void
mbox_free(struct mbox **mp)
{
	struct mbox	*m = *mp;

	if (m == NULL)
		return;
	free(m->name);
	free(m->uids);
	free(m);
	*mp = NULL;
}

static void
mbox_add_uid(struct mbox *m, uint32_t uid)
{
	if (m->n == m->cap) {
		m->cap = m->cap == 0 ? 64 : m->cap * 2;
		m->uids = xreallocarray(m->uids, m->cap, sizeof(*m->uids));
	}
	m->uids[m->n++] = uid;
}

/* The index of the first UID >= uid (m->n if none): uids ascend. */
static size_t
mbox_lower_bound(const struct mbox *m, uint32_t uid)
{
	size_t	 lo = 0, hi = m->n;

	while (lo < hi) {
		size_t	 mid = lo + (hi - lo) / 2;

		if (m->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t
mbox_seq(const struct mbox *m, uint32_t uid)
{
	size_t	 i = mbox_lower_bound(m, uid);

	return i < m->n && m->uids[i] == uid ? i + 1 : 0;
}

static void
mbox_remove_seq(struct mbox *m, size_t seq)
{
	memmove(&m->uids[seq - 1], &m->uids[seq], (m->n - seq) *
	    sizeof(*m->uids));
	m->n--;
}

static bool
db_u64(const char *s, uint64_t max, uint64_t *v)
{
	const char	*why;

	return str_to_u64(s, 0, max, v, &why) == 0;
}

/*
 * A mailbox name argument to UTF-8 (RFC 9051 5.1): modified UTF-7 unless
 * the client enabled UTF8=ACCEPT; "INBOX" in any case is INBOX, also as
 * the first level ("inbox/x").  NULL (after BAD) when it is not a valid
 * name.
 */
char *
mbox_name_arg(struct session *s, const struct imap_arg *arg)
{
	const char	*name;
	size_t		 len;
	struct buf	 b;
	char		*r;

	if (!imap_arg_astring(arg, &name, &len) || strlen(name) != len) {
		cmd_done(s, "BAD", "Invalid mailbox name");
		return NULL;
	}
	if (s->utf8)
		r = xstrdup(name);
	else {
		buf_init(&b, 4096);
		if (imap_utf7_to_utf8(name, &b) == -1) {
			buf_clear(&b);
			cmd_done(s, "BAD", "Invalid modified UTF-7 in mailbox "
			    "name");
			return NULL;
		}
		r = buf_steal(&b, NULL);
	}
	if (strncasecmp(r, "INBOX", 5) == 0 && (r[5] == '\0' || r[5] == '/'))
		memcpy(r, "INBOX", 5);
	return r;
}

/* ---- message sets ---- */

/*
 * The messages of a sequence set (RFC 9051 9 sequence-set) as UIDs in
 * the view, ascending: by sequence number, or by UID for UID commands
 * (UIDs that are not in the view are left out, RFC 9051 6.4.9).  0, or
 * -1 after BAD.  *uids_r is malloc'd (NULL when empty).
 */
int
mbox_set(struct session *s, const struct imap_arg *arg, bool uid,
    uint32_t **uids_r, size_t *n_r)
{
	struct mbox		*m = s->sel;
	struct imap_seqset	 set;
	struct imap_range	*r = NULL;
	const char		*atom;
	size_t			 nr = 0, n = 0;

	*uids_r = NULL;
	*n_r = 0;
	if (!imap_arg_atom(arg, &atom) || imap_seqset_parse(atom, &set) == -1 ||
	    set.saved) {
		if (set.saved)
			imap_seqset_free(&set);
		cmd_done(s, "BAD", "Invalid sequence set");
		return -1;
	}
	imap_seqset_resolve(&set, m->n == 0 ? 0 : uid ? m->uids[m->n - 1] :
	    (uint32_t)m->n, &r, &nr);
	imap_seqset_free(&set);
	for (size_t i = 0; i < nr; i++) {
		if (!uid && r[i].hi > m->n) {
			free(r);
			free(*uids_r);
			*uids_r = NULL;
			cmd_done(s, "BAD", "Invalid message sequence number");
			return -1;
		}
		size_t	 k = uid ? mbox_lower_bound(m, r[i].lo) : r[i].lo - 1;

		for (; k < m->n && (uid ? m->uids[k] : k + 1) <= r[i].hi; k++) {
			if (n % 1024 == 0)
				*uids_r = xreallocarray(*uids_r, n + 1024,
				    sizeof(**uids_r));
			(*uids_r)[n++] = m->uids[k];
		}
	}
	free(r);
	*n_r = n;
	return 0;
}

/* UIDs as a PostgreSQL bigint[] literal, "{1,2,3}". */
char *
mbox_uids_pg(const uint32_t *uids, size_t n)
{
	struct buf	 b;

	buf_init(&b, SIZE_MAX / 2);
	buf_add(&b, "{", 1);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%u", i > 0 ? "," : "", uids[i]);
	buf_add(&b, "}", 1);
	return buf_steal(&b, NULL);
}

/* Drop expunged UIDs from the view, saying EXPUNGE for each. */
void
mbox_expunged(struct session *s, PGresult *res, int col)
{
	uint64_t	 uid;
	size_t		 seq;

	for (int r = 0; r < PQntuples(res); r++)
		if (db_u64(PQgetvalue(res, r, col), UINT32_MAX, &uid) &&
		    (seq = mbox_seq(s->sel, (uint32_t)uid)) != 0) {
			buf_printf(&s->out, "* %zu EXPUNGE\r\n", seq);
			mbox_remove_seq(s->sel, seq);
		}
	session_flush_out(s);
}

/* ---- changes ---- */

struct sync {
	struct session	*s;
	bool		 expunges;
	void		(*fn)(struct session *);
	char		 status[4];	/* fn NULL: cmd_done() with these */
	char		*text;
};

static void
sync_fetch(struct session *s, size_t seq, uint32_t uid, PGresult *res,
    int row)
{
	unsigned long	 flags = strtoul(PQgetvalue(res, row, 2), NULL, 10);

	buf_printf(&s->out, "* %zu FETCH (UID %u FLAGS ", seq, uid);
	flags_write(&s->out, (unsigned)flags, PQgetvalue(res, row, 3));
	buf_add_str(&s->out, ")\r\n");
}

/* Apply the rows of mdb_sync_sql to the view and say what changed. */
static void
sync_apply(struct session *s, PGresult *res, bool expunges)
{
	struct mbox	*m = s->sel;
	size_t		 before = m->n, seq;
	uint64_t	 uid, top = 0, next = 0;
	bool		 held = false;

	for (int r = 0; r < PQntuples(res); r++) {
		const char	*k = PQgetvalue(res, r, 0);

		if (!db_u64(PQgetvalue(res, r, 1), UINT32_MAX, &uid) ||
		    !db_u64(PQgetvalue(res, r, 5), INT64_MAX, &top) ||
		    !db_u64(PQgetvalue(res, r, 6), UINT32_MAX, &next))
			continue;
		seq = mbox_seq(m, (uint32_t)uid);
		if (k[0] == 'x' && seq != 0 && !expunges)
			held = true;
		else if (k[0] == 'x' && seq != 0) {
			buf_printf(&s->out, "* %zu EXPUNGE\r\n", seq);
			mbox_remove_seq(m, seq);
			before--;
		} else if (k[0] == 'm' && seq != 0)
			sync_fetch(s, seq, (uint32_t)uid, res, r);
		else if (k[0] == 'm' && (m->n == 0 || uid > m->uids[m->n - 1]))
			mbox_add_uid(m, (uint32_t)uid);
	}
	if (m->n != before)
		buf_printf(&s->out, "* %zu EXISTS\r\n", m->n);
	session_flush_out(s);
	m->expunge_pending = held;
	if (!held && top > m->modseq)	/* else read again next time */
		m->modseq = top;
	if (next > m->uidnext)
		m->uidnext = (uint32_t)next;
}

static void
sync_result(PGresult *res, const char *err, void *arg)
{
	struct sync	*y = arg;
	struct session	*s = y->s;
	void		(*fn)(struct session *) = y->fn;
	bool		 expunges = y->expunges;
	char		 status[4], *text = y->text;

	memcpy(status, y->status, sizeof(status));
	free(y);
	if (s == NULL) {
		free(text);
		return;
	}
	s->cmd.state = NULL;
	if (res == NULL)
		log_warnx("%s sync: %s", s->id, err);
	else if (PQntuples(res) == 0) {
		free(text);
		session_bye(s, "The selected mailbox was deleted");
		return;
	} else
		sync_apply(s, res, expunges);
	if (fn != NULL)
		fn(s);
	else
		cmd_done(s, status, "%s", text);
	free(text);
}

static void
sync_forget(void *arg)
{
	struct sync	*y = arg;

	y->s = NULL;	/* the answer comes later; drop it then */
}

void
mbox_sync(struct session *s, bool expunges, void (*fn)(struct session *))
{
	struct sync	*y = xcalloc(1, sizeof(*y));
	char		 id[24], modseq[24];

	y->s = s;
	y->expunges = expunges;
	y->fn = fn;
	if (s->cmd.state != NULL && s->cmd.state_free != NULL)
		s->cmd.state_free(s->cmd.state);
	s->cmd.state = y;
	s->cmd.state_free = sync_forget;
	snprintf(id, sizeof(id), "%llu", (unsigned long long)s->sel->id);
	snprintf(modseq, sizeof(modseq), "%llu",
	    (unsigned long long)s->sel->modseq);
	mdb_query(s->d, mdb_sync_sql, 2, (const char *const[]){ id, modseq },
	    sync_result, y);
}

void
cmd_done_sync(struct session *s, bool expunges, const char *status,
    const char *text)
{
	struct sync	*y;

	if (s->sel == NULL) {
		cmd_done(s, status, "%s", text);
		return;
	}
	mbox_sync(s, expunges, NULL);
	y = s->cmd.state;
	strlcpy(y->status, status, sizeof(y->status));
	y->text = xstrdup(text);
}

/* NOTIFY wharf_mailbox: payload the mailbox id; NULL: maybe missed. */
void
imapd_notify(const char *channel, const char *payload, void *arg)
{
	struct imapd	*d = arg;
	uint64_t	 id = 0;

	if (payload != NULL && !db_u64(payload, INT64_MAX, &id))
		return;
	for (struct session *s = d->sessions; s != NULL; s = s->next)
		if (s->sel != NULL && (channel == NULL || s->sel->id == id))
			idle_notify(s);
}

/* ---- SELECT, EXAMINE ---- */

struct select {
	struct session	*s;
	struct mbox	*m;
	struct buf	 keywords;	/* " kw1 kw2 " seen in the mailbox */
	size_t		 unseen;	/* first unseen sequence number */
	bool		 answered;	/* the query came back */
};

/* Keywords seen, as " kw1 kw2 " (a mailbox has few distinct ones). */
static void
select_keyword(const char *kw, size_t len, void *arg)
{
	struct select	*sel = arg;
	char		 word[FLAG_KEYWORD_MAX + 3];

	if (len > FLAG_KEYWORD_MAX)
		return;
	snprintf(word, sizeof(word), " %.*s ", (int)len, kw);
	if (strstr(buf_cstr(&sel->keywords), word) == NULL)
		buf_add_str(&sel->keywords, word + 1);
}

static void
select_row(struct select *sel, PGresult *res, int r)
{
	uint64_t	 uid, flags;

	if (PQgetisnull(res, r, 4) ||
	    !db_u64(PQgetvalue(res, r, 4), UINT32_MAX, &uid) ||
	    !db_u64(PQgetvalue(res, r, 5), 31, &flags))
		return;
	mbox_add_uid(sel->m, (uint32_t)uid);
	if (!(flags & FLAG_SEEN) && sel->unseen == 0)
		sel->unseen = sel->m->n;
	(void)flags_pg_array(PQgetvalue(res, r, 6), select_keyword, sel);
}

static void
select_report(struct session *s, struct select *sel)
{
	struct mbox	*m = sel->m;
	size_t		 n = sel->keywords.len;

	/* " kw1 kw2 ": without its last space it follows \Draft. */
	session_printf(s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft%.*s)", n > 1 ? (int)n - 1 : 0,
	    (const char *)BUF_DATA(&sel->keywords));
	session_printf(s, "* OK [PERMANENTFLAGS (%s)] Flags permitted",
	    m->readonly ? "" : "\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft \\*");
	session_printf(s, "* %zu EXISTS", m->n);
	session_printf(s, "* 0 RECENT");
	if (sel->unseen != 0)
		session_printf(s, "* OK [UNSEEN %zu] First unseen",
		    sel->unseen);
	session_printf(s, "* OK [UIDVALIDITY %u] UIDs valid",
	    m->uidvalidity);
	session_printf(s, "* OK [UIDNEXT %u] Predicted next UID", m->uidnext);
}

/* The command ends (answered) or the session goes (maybe not yet). */
static void
select_free(void *arg)
{
	struct select	*sel = arg;

	mbox_free(&sel->m);
	buf_clear(&sel->keywords);
	if (!sel->answered) {
		sel->s = NULL;	/* the answer comes later: freed then */
		return;
	}
	free(sel);
}

static void
select_result(PGresult *res, const char *err, void *arg)
{
	struct select	*sel = arg;
	struct session	*s = sel->s;
	struct mbox	*m = sel->m;
	uint64_t	 id, v, next, modseq;

	if (s == NULL) {	/* the session went away */
		free(sel);
		return;
	}
	sel->answered = true;
	if (res == NULL || PQntuples(res) == 0) {
		if (res == NULL)
			log_warnx("%s select: %s", s->id, err);
		cmd_done(s, "NO", res == NULL ? "[UNAVAILABLE] Try again "
		    "later" : "[NONEXISTENT] No such mailbox");
		return;
	}
	if (!db_u64(PQgetvalue(res, 0, 0), INT64_MAX, &id) ||
	    !db_u64(PQgetvalue(res, 0, 1), UINT32_MAX, &v) ||
	    !db_u64(PQgetvalue(res, 0, 2), UINT32_MAX, &next) ||
	    !db_u64(PQgetvalue(res, 0, 3), INT64_MAX, &modseq)) {
		cmd_done(s, "NO", "[SERVERBUG] Bad mailbox row");
		return;
	}
	m->id = id;
	m->uidvalidity = (uint32_t)v;
	m->uidnext = (uint32_t)next;
	m->modseq = modseq;
	for (int r = 0; r < PQntuples(res); r++)
		select_row(sel, res, r);
	select_report(s, sel);
	s->sel = m;
	sel->m = NULL;
	s->state = IMAP_STATE_SELECTED;
	log_info("%s %s %s", s->id, m->readonly ? "examine" : "select",
	    m->name);
	cmd_done(s, "OK", "[%s] %s completed", m->readonly ? "READ-ONLY" :
	    "READ-WRITE", s->cmd.name);
}

void
cmd_select(struct session *s)
{
	struct select	*sel;
	char		*name, uid[24];

	if (s->cmd.nargs < 1 || s->cmd.nargs > 2) {
		cmd_done(s, "BAD", "Syntax: %s mailbox", s->cmd.name);
		return;
	}
	if ((name = mbox_name_arg(s, &s->cmd.args[0])) == NULL)
		return;
	/* RFC 9051 6.3.2: a failed SELECT leaves no mailbox selected. */
	mbox_free(&s->sel);
	s->state = IMAP_STATE_AUTH;
	sel = xcalloc(1, sizeof(*sel));
	sel->s = s;
	sel->m = xcalloc(1, sizeof(*sel->m));
	sel->m->name = name;
	sel->m->readonly = strcmp(s->cmd.name, "EXAMINE") == 0;
	buf_init(&sel->keywords, 64 * 1024);
	buf_add(&sel->keywords, " ", 1);
	s->cmd.state = sel;
	s->cmd.state_free = select_free;
	snprintf(uid, sizeof(uid), "%llu", (unsigned long long)s->user_id);
	mdb_query(s->d, mdb_select_sql, 2, (const char *const[]){ uid, name },
	    select_result, sel);
}

/* ---- CLOSE, UNSELECT ---- */

static void
close_done(struct session *s)
{
	mbox_free(&s->sel);
	s->state = IMAP_STATE_AUTH;
	cmd_done(s, "OK", "%s completed", s->cmd.name);
}

/*
 * CLOSE expunges silently (RFC 9051 6.4.1) unless read-only; the
 * expunge itself is expunge.c's (mbox_expunge_silent).
 */
void
cmd_close(struct session *s)
{
	if (s->cmd.nargs != 0) {
		cmd_done(s, "BAD", "CLOSE takes no arguments");
		return;
	}
	if (s->sel->readonly)
		close_done(s);
	else
		mbox_expunge_silent(s, close_done);
}

void
cmd_unselect(struct session *s)
{
	if (s->cmd.nargs != 0) {
		cmd_done(s, "BAD", "UNSELECT takes no arguments");
		return;
	}
	close_done(s);
}
