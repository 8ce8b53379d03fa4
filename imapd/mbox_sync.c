/*
 * imapd/mbox_sync.c — keeping a session's view of the selected mailbox in
 * step with the database (RFC 9051 7.4, 7.5.1, 5.2), and the responses
 * that say what changed.
 *
 * What changed since the view was last synced is read by modseq in one
 * statement (mdb_sync_sql): messages with a greater modseq (new or with
 * new flags) and the expunge log.  Expunges are reported only where RFC
 * 9051 7.5.1 allows it — not while FETCH, STORE or SEARCH (by sequence
 * numbers) run — and otherwise kept for later, so sequence numbers never
 * move under a command that uses them.  All expunges go first, then the
 * FETCH responses, then EXISTS (and RECENT for IMAP4rev1, RFC 3501
 * 7.3.2, with the new messages this session claimed as \Recent).
 *
 * CONDSTORE (RFC 7162 3.1.4.1, 3.2.4): the FETCH responses carry MODSEQ
 * once it is enabled; QRESYNC (3.2.10.2): expunges are one VANISHED
 * response instead of EXPUNGE responses.
 *
 * The rows are copied out of the result and answered while the output
 * queue allows (then the command waits for it to drain, s->cmd.lowat),
 * so a mailbox where 100,000 flags changed does not overrun it.  They
 * come in batches of SYNC_BATCH of each kind, by UID: the first
 * statement (which also claims \Recent) gives the mailbox's
 * highestmodseq and the first batch of expunges and of changes; further
 * batches of a kind are read up to that modseq, after the last UID
 * answered, when the kind's batch was full.  The expunges all go out
 * before the changes (the first batch of changes waits for them).
 * Batches are separate snapshots, which is enough: commits reach a
 * mailbox in modseq order (its row lock), so rows up to the first
 * statement's modseq are all there for the later ones; a row changed
 * again since has a greater modseq, is left out and is reported by the
 * next sync, which starts from that modseq.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "buf.h"
#include "io.h"
#include "log.h"
#include "xmalloc.h"
#include "imapd.h"

#define SYNC_HIWAT	(256 * 1024)	/* output queued: wait for it */
#define SYNC_CHUNK	(64 * 1024)	/* built before a write */
#define SYNC_BATCH	5000		/* rows of a kind per query */

static bool
db_u64(const char *s, uint64_t max, uint64_t *v)
{
	const char	*why;

	return str_to_u64(s, 0, max, v, &why) == 0;
}

/* ---- the session's own changes ---- */

void
mbox_told(struct mbox *m, uint64_t modseq)
{
	if (m->ntold < sizeof(m->told) / sizeof(m->told[0]))
		m->told[m->ntold++] = modseq;
}

static bool
mbox_was_told(const struct mbox *m, uint64_t modseq)
{
	for (size_t i = 0; i < m->ntold; i++)
		if (m->told[i] == modseq)
			return true;
	return false;
}

/* ---- expunges ---- */

/* One expunged message in the view: EXPUNGE, or its UID in VANISHED. */
static void
expunge_one(struct session *s, struct set_out *v, uint32_t uid, size_t seq)
{
	if (!s->qresync)
		buf_printf(&s->out, "* %zu EXPUNGE\r\n", seq);
	else {
		if (v->n == 0)
			buf_add_str(&s->out, "* VANISHED ");
		set_out_add(v, uid);
	}
	mbox_remove_seq(s->sel, seq);
}

static void
vanished_end(struct session *s, struct set_out *v)
{
	if (v->n == 0)
		return;
	set_out_end(v);
	buf_add_str(&s->out, "\r\n");
}

/*
 * The session's own (UID) EXPUNGE: the UIDs removed (column col of res,
 * ascending) leave the view, with EXPUNGE for each or one VANISHED
 * (RFC 7162 3.2.10.2); with CONDSTORE the tagged OK says HIGHESTMODSEQ
 * (3.2.7).
 */
void
mbox_expunged(struct session *s, PGresult *res, int col)
{
	struct set_out	 v;
	uint64_t	 uid;
	size_t		 seq;

	set_out_init(&v, &s->out);
	for (int r = 0; r < PQntuples(res); r++) {
		if (!db_u64(PQgetvalue(res, r, col), UINT32_MAX, &uid) ||
		    (seq = mbox_seq(s->sel, (uint32_t)uid)) == 0)
			continue;
		expunge_one(s, &v, (uint32_t)uid, seq);
		s->sel->hms_pending = s->condstore;
	}
	vanished_end(s, &v);
	session_flush_out(s);
}

/* ---- changes ---- */

/* A row of mdb_sync_sql: 'x' expunged, 'm' added or changed. */
struct sync_row {
	char		 kind;
	uint32_t	 uid;
	unsigned	 flags;
	uint64_t	 modseq;
	char		*keywords;	/* NULL: none */
};

struct sync {
	struct session	*s;
	bool		 busy;		/* the query is out */
	bool		 expunges;	/* may be reported */
	void		(*fn)(struct session *);
	char		 status[4];	/* fn NULL: cmd_done() with these */
	char		*text;
	/* the answer */
	struct sync_row	*rows;		/* the batch being answered */
	size_t		 nrows;
	struct sync_row	*later;		/* first changes, for pass 1 */
	size_t		 nlater;
	bool		 more;		/* the batch was full: read on */
	bool		 later_more;	/* so was the first of changes */
	uint64_t	 known;		/* the view's modseq at the start */
	uint64_t	 top, next;	/* highestmodseq, uidnext */
	uint64_t	 first;		/* first \Recent UID, 0: none */
	/* answering it: expunges (pass 0), then the rest (pass 1) */
	int		 pass;
	size_t		 row, before;
	bool		 held;
	struct set_out	 vanished;
};

static void
sync_rows_free(struct sync_row **rows, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*rows)[i].keywords);
	free(*rows);
	*rows = NULL;
	*n = 0;
}

static void
sync_free(struct sync *y)
{
	sync_rows_free(&y->rows, &y->nrows);
	sync_rows_free(&y->later, &y->nlater);
	free(y->text);
	free(y);
}

/* The command ends or the session goes, maybe while the query runs. */
static void
sync_state_free(void *arg)
{
	struct sync	*y = arg;

	if (y->busy) {
		y->s = NULL;	/* the answer comes later: freed then */
		return;
	}
	sync_free(y);
}

static void
sync_load_row(struct sync_row *row, PGresult *res, int r)
{
	uint64_t	 uid = 0, flags = 0, modseq = 0;
	const char	*kw = PQgetvalue(res, r, 3);

	(void)db_u64(PQgetvalue(res, r, 1), UINT32_MAX, &uid);
	(void)db_u64(PQgetvalue(res, r, 2), 31, &flags);
	(void)db_u64(PQgetvalue(res, r, 4), INT64_MAX, &modseq);
	row->kind = PQgetvalue(res, r, 0)[0];
	row->uid = (uint32_t)uid;
	row->flags = (unsigned)flags;
	row->modseq = modseq;
	row->keywords = row->kind == 'm' && strcmp(kw, "{}") != 0 ?
	    xstrdup(kw) : NULL;
}

/*
 * The first answer: the mailbox's values, the expunges into rows (pass
 * 0), the changes into later (pass 1); 'b' left out.
 */
static void
sync_load(struct sync *y, PGresult *res)
{
	int	 n = PQntuples(res);
	char	 k;

	(void)db_u64(PQgetvalue(res, 0, 5), INT64_MAX, &y->top);
	(void)db_u64(PQgetvalue(res, 0, 6), (uint64_t)UINT32_MAX + 1,
	    &y->next);
	if (!PQgetisnull(res, 0, 7))
		(void)db_u64(PQgetvalue(res, 0, 7), INT64_MAX, &y->first);
	y->rows = xcalloc((size_t)n, sizeof(*y->rows));
	y->later = xcalloc((size_t)n, sizeof(*y->later));
	for (int r = 0; r < n; r++) {
		if ((k = PQgetvalue(res, r, 0)[0]) == 'x')
			sync_load_row(&y->rows[y->nrows++], res, r);
		else if (k == 'm')
			sync_load_row(&y->later[y->nlater++], res, r);
	}
	y->more = y->nrows == SYNC_BATCH;
	y->later_more = y->nlater == SYNC_BATCH;
}

/* A further batch of the pass's kind replaces the rows answered. */
static void
sync_load_more(struct sync *y, PGresult *res)
{
	int	 n = PQntuples(res);

	sync_rows_free(&y->rows, &y->nrows);
	y->rows = xcalloc((size_t)n, sizeof(*y->rows));
	for (int r = 0; r < n; r++)
		sync_load_row(&y->rows[y->nrows++], res, r);
	y->row = 0;
	y->more = n == SYNC_BATCH;
}

static void
sync_fetch(struct session *s, size_t seq, const struct sync_row *row)
{
	unsigned	 flags = row->flags;

	if (mbox_recent(s->sel, row->uid))
		flags |= FLAG_RECENT;
	buf_printf(&s->out, "* %zu FETCH (UID %u FLAGS ", seq, row->uid);
	flags_write(&s->out, flags, row->keywords);
	if (s->condstore)	/* RFC 7162 3.1.4.1 */
		buf_printf(&s->out, " MODSEQ (%llu)",
		    (unsigned long long)row->modseq);
	buf_add_str(&s->out, ")\r\n");
}

/* One row of the pass: pass 0 the expunges, pass 1 the rest. */
static void
sync_row(struct session *s, struct sync *y, const struct sync_row *row)
{
	struct mbox	*m = s->sel;
	size_t		 seq = mbox_seq(m, row->uid);

	if (y->pass == 0 && row->kind == 'x' && seq != 0) {
		if (y->expunges)
			expunge_one(s, &y->vanished, row->uid, seq);
		else
			y->held = true;
	} else if (y->pass == 1 && row->kind == 'm' && seq != 0) {
		if (!mbox_was_told(m, row->modseq))
			sync_fetch(s, seq, row);
	} else if (y->pass == 1 && row->kind == 'm' &&
	    (m->n == 0 || row->uid > m->uids[m->n - 1]))
		mbox_add_uid(m, row->uid);
}

/* New messages in the view (pass 1): EXISTS, and RECENT for rev1. */
static void
sync_exists(struct session *s, struct sync *y)
{
	struct mbox	*m = s->sel;
	uint64_t	 first = y->first > m->uidnext ? y->first : m->uidnext;

	if (m->n != y->before) {
		if (y->first != 0 && !s->rev2)	/* claimed by this sync */
			mbox_recent_add(m, first, y->next);
		buf_printf(&s->out, "* %zu EXISTS\r\n", m->n);
		if (!s->rev2)	/* RFC 3501 7.3.2 */
			buf_printf(&s->out, "* %zu RECENT\r\n", m->nrecent);
	}
	session_flush_out(s);
	m->expunge_pending = y->held;
}

/* What is left once every row is answered. */
static void
sync_end(struct session *s, struct sync *y)
{
	struct mbox	*m = s->sel;

	sync_exists(s, y);
	if (!y->held && y->top > m->modseq) {	/* else read it again */
		m->modseq = y->top;
		m->ntold = 0;
	}
	if (y->next > m->uidnext)
		m->uidnext = y->next > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)y->next;
}

/*
 * The tagged OK of what expunged (mbox_expunged()) gets HIGHESTMODSEQ
 * (RFC 7162 3.2.7), unless it has a response code of its own.
 */
static void
sync_done(struct session *s, const char *status, const char *text)
{
	bool	 hms = s->sel != NULL && s->sel->hms_pending;

	if (s->sel != NULL)
		s->sel->hms_pending = false;
	if (hms && strcmp(status, "OK") == 0 && text[0] != '[') {
		cmd_done(s, status, "[HIGHESTMODSEQ %llu] %s",
		    (unsigned long long)s->sel->modseq, text);
		return;
	}
	cmd_done(s, status, "%s", text);
}

/* The sync is over: the command goes on (fn) or ends. */
static void
sync_finish(struct session *s, struct sync *y)
{
	void	(*fn)(struct session *) = y->fn;
	char	 status[4], *text = y->text;

	memcpy(status, y->status, sizeof(status));
	y->text = NULL;
	s->cmd.state = NULL;
	s->cmd.state_free = NULL;
	s->cmd.lowat = NULL;
	sync_free(y);
	if (fn != NULL)
		fn(s);
	else
		sync_done(s, status, text != NULL ? text : "");
	free(text);
}

static void	sync_lowat(struct session *);

/* Answer rows while the output allows; false: wait for it to drain. */
static bool
sync_rows(struct session *s, struct sync *y)
{
	while (y->row < y->nrows) {
		sync_row(s, y, &y->rows[y->row++]);
		if (s->out.len < SYNC_CHUNK)
			continue;
		session_flush_out(s);
		if (io_queued(s->io) >= SYNC_HIWAT) {
			s->cmd.lowat = sync_lowat;
			return false;
		}
	}
	return true;
}

static void	sync_more(struct session *, struct sync *);

/* The expunges are all answered: the changes come next. */
static void
sync_pass1(struct session *s, struct sync *y)
{
	vanished_end(s, &y->vanished);
	y->before = s->sel->n;
	y->pass = 1;
	sync_rows_free(&y->rows, &y->nrows);
	y->rows = y->later;
	y->nrows = y->nlater;
	y->more = y->later_more;
	y->later = NULL;
	y->nlater = 0;
	y->row = 0;
}

static void
sync_pump(struct session *s, struct sync *y)
{
	s->cmd.lowat = NULL;
	for (;;) {
		if (!sync_rows(s, y))
			return;
		if (y->more && y->nrows > 0) {
			sync_more(s, y);
			return;
		}
		if (y->pass == 1)
			break;
		sync_pass1(s, y);
	}
	sync_end(s, y);
	sync_finish(s, y);
}

static void
sync_lowat(struct session *s)
{
	struct sync	*y = s->cmd.state;

	if (y != NULL && !y->busy)
		sync_pump(s, y);
}

/*
 * A further batch failed: what was answered stays true, EXISTS says what
 * the view gained (RFC 9051 7.4.1), and the next sync starts from the
 * modseq known before.  UIDs this sync claimed as \Recent and did not
 * add are left without it.
 */
static void
sync_failed(struct session *s, struct sync *y)
{
	if (y->pass == 0) {
		vanished_end(s, &y->vanished);
		y->before = s->sel->n;
	}
	sync_exists(s, y);
	sync_finish(s, y);
}

static void
sync_more_result(PGresult *res, const char *err, void *arg)
{
	struct sync	*y = arg;
	struct session	*s = y->s;

	y->busy = false;
	if (s == NULL) {
		sync_free(y);
		return;
	}
	if (res == NULL) {
		log_warnx("%s sync: %s", s->id, err);
		sync_failed(s, y);
		return;
	}
	sync_load_more(y, res);
	sync_pump(s, y);
}

/* The next batch of the pass's kind, after the last UID answered. */
static void
sync_more(struct session *s, struct sync *y)
{
	char	 id[24], known[24], top[24], after[16], batch[16];

	snprintf(id, sizeof(id), "%llu", (unsigned long long)s->sel->id);
	snprintf(known, sizeof(known), "%llu", (unsigned long long)y->known);
	snprintf(top, sizeof(top), "%llu", (unsigned long long)y->top);
	snprintf(after, sizeof(after), "%u", y->rows[y->nrows - 1].uid);
	snprintf(batch, sizeof(batch), "%d", SYNC_BATCH);
	y->busy = true;
	mdb_query(s->d, y->pass == 0 ? mdb_sync_expunged_sql :
	    mdb_sync_changed_sql, 5, (const char *const[]){ id, known, top,
	    after, batch }, sync_more_result, y);
}

static void
sync_result(PGresult *res, const char *err, void *arg)
{
	struct sync	*y = arg;
	struct session	*s = y->s;

	y->busy = false;
	if (s == NULL) {
		sync_free(y);
		return;
	}
	if (res == NULL) {
		log_warnx("%s sync: %s", s->id, err);
		sync_finish(s, y);
		return;
	}
	if (PQntuples(res) == 0) {
		s->cmd.state = NULL;
		s->cmd.state_free = NULL;
		sync_free(y);
		session_bye(s, "The selected mailbox was deleted");
		return;
	}
	sync_load(y, res);
	set_out_init(&y->vanished, &s->out);
	sync_pump(s, y);
}

void
mbox_sync(struct session *s, bool expunges, void (*fn)(struct session *))
{
	struct sync	*y = xcalloc(1, sizeof(*y));
	struct mbox	*m = s->sel;
	char		 id[24], modseq[24], uidnext[16], batch[16];
	/* \Recent is claimed by read-write IMAP4rev1 sessions only */
	const char	*claim = !m->readonly && !s->rev2 ? "t" : "f";

	y->s = s;
	y->busy = true;
	y->expunges = expunges;
	y->fn = fn;
	if (s->cmd.state != NULL && s->cmd.state_free != NULL)
		s->cmd.state_free(s->cmd.state);
	s->cmd.state = y;
	s->cmd.state_free = sync_state_free;
	snprintf(id, sizeof(id), "%llu", (unsigned long long)m->id);
	snprintf(modseq, sizeof(modseq), "%llu",
	    (unsigned long long)m->modseq);
	snprintf(uidnext, sizeof(uidnext), "%u", m->uidnext);
	snprintf(batch, sizeof(batch), "%d", SYNC_BATCH);
	y->known = m->modseq;
	mdb_query(s->d, mdb_sync_sql, 5, (const char *const[]){ id, modseq,
	    claim, uidnext, batch }, sync_result, y);
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
