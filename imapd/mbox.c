/*
 * imapd/mbox.c — SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3), CLOSE and
 * UNSELECT (6.4.1, RFC 3691), and a session's view of the selected
 * mailbox: the list of UIDs in sequence order, and the UIDs \Recent in
 * it.  Keeping the view in step with the database is mbox_sync.c's.
 *
 * \Recent (RFC 3501 2.3.2; not in IMAP4rev2): a message is recent in
 * the one read-write IMAP4rev1 session that first sees it — the session
 * claims the UIDs from mailboxes.recent_uid up to the uidnext it saw, in
 * the statement that reads the mailbox (mdb_select_sql, mdb_sync_sql).
 * EXAMINE and read-only views claim nothing and show the unclaimed ones
 * as recent.  The session keeps its recent UIDs as ranges.
 *
 * CONDSTORE and QRESYNC (RFC 7162) here: the select parameters,
 * HIGHESTMODSEQ, [CLOSED] when SELECT closes a mailbox (3.2.11), the
 * resynchronisation that follows a QRESYNC SELECT (fetch_vanished.c).
 * IMAP4rev2 sessions (RFC 9051 6.3.2) get no RECENT and no UNSEEN, and
 * a LIST response of the mailbox with the attributes LIST gives it.
 *
 * The view is read in batches of SELECT_BATCH UIDs (keyset: after the
 * last UID read), never as one result (10 MB for 100,000 messages), and
 * built as they come, 4 octets per message.  The first statement takes
 * the mailbox's uidnext and highestmodseq and claims \Recent; the others
 * read only UIDs below that uidnext, each in a snapshot of its own.  Not
 * one REPEATABLE READ transaction: imapd's one database connection
 * serves every session's queries in turn, so a transaction cannot stay
 * open across callbacks.  Changes between batches are harmless because
 * the view's modseq is the first statement's: a message expunged before
 * its batch was read is simply not in the view (the sync that follows
 * ignores its expunge), one expunged after is reported by that sync,
 * messages added since have UIDs from that uidnext on and come with the
 * sync, and flags changed meanwhile are reported again.  At most the
 * first-unseen number and the keyword list may mix the two moments, as
 * they would a moment later anyway.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "buf.h"
#include "imap_fmt.h"
#include "imap_parse.h"
#include "imap_utf7.h"
#include "log.h"
#include "xmalloc.h"
#include "imapd.h"

#define SELECT_BATCH	10000	/* UIDs per query */

void
mbox_free(struct mbox **mp)
{
	struct mbox	*m = *mp;

	if (m == NULL)
		return;
	free(m->name);
	free(m->uids);
	free(m->recent);
	free(m->saved);
	free(m);
	*mp = NULL;
}

void
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

/* ---- \Recent ---- */

bool
mbox_recent(const struct mbox *m, uint32_t uid)
{
	size_t	 lo = 0, hi = m->nrecent_ranges;

	while (lo < hi) {
		size_t	 mid = lo + (hi - lo) / 2;

		if (uid < m->recent[mid].lo)
			hi = mid;
		else if (uid > m->recent[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/*
 * UIDs from .. below - 1 are recent here (a claim: they ascend over the
 * calls); nrecent counts those in the view.
 */
void
mbox_recent_add(struct mbox *m, uint64_t from, uint64_t below)
{
	struct imap_range	*last;
	size_t			 i, j;

	last = m->nrecent_ranges > 0 ? &m->recent[m->nrecent_ranges - 1] :
	    NULL;
	if (last != NULL && from <= last->hi)
		from = (uint64_t)last->hi + 1;
	if (below > (uint64_t)UINT32_MAX + 1)
		below = (uint64_t)UINT32_MAX + 1;
	if (from == 0 || from >= below)
		return;
	i = mbox_lower_bound(m, (uint32_t)from);
	j = below > UINT32_MAX ? m->n : mbox_lower_bound(m, (uint32_t)below);
	m->nrecent += j - i;
	if (last != NULL && (uint64_t)last->hi + 1 == from) {
		last->hi = (uint32_t)(below - 1);	/* they touch */
		return;
	}
	m->recent = xreallocarray(m->recent, m->nrecent_ranges + 1,
	    sizeof(*m->recent));
	m->recent[m->nrecent_ranges].lo = (uint32_t)from;
	m->recent[m->nrecent_ranges++].hi = (uint32_t)(below - 1);
}

void
mbox_remove_seq(struct mbox *m, size_t seq)
{
	if (mbox_recent(m, m->uids[seq - 1]))
		m->nrecent--;
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

/* ---- the saved result, SEARCHRES (RFC 5182) ---- */

void
mbox_saved_clear(struct mbox *m)
{
	free(m->saved);
	m->saved = NULL;
	m->nsaved = 0;
}

/*
 * Messages next to each other in the view make one range: no UID
 * between them can come into the view later (new messages get higher
 * UIDs), so a whole SEARCH ALL is one range.
 */
void
mbox_saved_set(struct mbox *m, const uint32_t *uids, size_t n)
{
	size_t	 prev = 0, seq;

	mbox_saved_clear(m);
	for (size_t i = 0; i < n; i++) {
		seq = mbox_seq(m, uids[i]);
		if (m->nsaved > 0 && seq != 0 && seq == prev + 1) {
			m->saved[m->nsaved - 1].hi = uids[i];
			prev = seq;
			continue;
		}
		m->saved = xreallocarray(m->saved, m->nsaved + 1,
		    sizeof(*m->saved));
		m->saved[m->nsaved].lo = m->saved[m->nsaved].hi = uids[i];
		m->nsaved++;
		prev = seq;
	}
}

uint32_t *
mbox_saved_uids(const struct mbox *m, size_t *n_r)
{
	uint32_t	*uids = NULL;
	size_t		 n = 0, k;

	for (size_t i = 0; i < m->nsaved; i++)
		for (k = mbox_lower_bound(m, m->saved[i].lo);
		    k < m->n && m->uids[k] <= m->saved[i].hi; k++) {
			if (n % 1024 == 0)
				uids = xreallocarray(uids, n + 1024,
				    sizeof(*uids));
			uids[n++] = m->uids[k];
		}
	*n_r = n;
	return uids;
}

/* ---- message sets ---- */

/* The view's UIDs in ranges r (numbers of the kind uid says). */
static int
mbox_set_ranges(struct session *s, const struct imap_range *r, size_t nr,
    bool uid, uint32_t **uids_r, size_t *n_r)
{
	struct mbox	*m = s->sel;
	size_t		 n = 0, k;

	for (size_t i = 0; i < nr; i++) {
		if (!uid && r[i].hi > m->n) {
			free(*uids_r);
			*uids_r = NULL;
			cmd_done(s, "BAD", "Invalid message sequence number");
			return -1;
		}
		k = uid ? mbox_lower_bound(m, r[i].lo) : r[i].lo - 1;
		for (; k < m->n && (uid ? m->uids[k] : k + 1) <= r[i].hi; k++) {
			if (n % 1024 == 0)
				*uids_r = xreallocarray(*uids_r, n + 1024,
				    sizeof(**uids_r));
			(*uids_r)[n++] = m->uids[k];
		}
	}
	*n_r = n;
	return 0;
}

/*
 * The messages of a sequence set (RFC 9051 9 sequence-set) as UIDs in
 * the view, ascending: by sequence number, or by UID for UID commands
 * (UIDs that are not in the view are left out, RFC 9051 6.4.9); "$" is
 * the saved result for both (RFC 5182 2.1: empty before any SAVE).  0,
 * or -1 after BAD.  *uids_r is malloc'd (NULL when empty).
 */
int
mbox_set(struct session *s, const struct imap_arg *arg, bool uid,
    uint32_t **uids_r, size_t *n_r)
{
	struct mbox		*m = s->sel;
	struct imap_seqset	 set;
	struct imap_range	*r = NULL;
	const char		*atom;
	size_t			 nr = 0;
	int			 rc;

	*uids_r = NULL;
	*n_r = 0;
	if (!imap_arg_atom(arg, &atom) || imap_seqset_parse(atom, &set) == -1) {
		cmd_done(s, "BAD", "Invalid sequence set");
		return -1;
	}
	if (set.saved) {
		imap_seqset_free(&set);
		*uids_r = mbox_saved_uids(m, n_r);
		return 0;
	}
	imap_seqset_resolve(&set, m->n == 0 ? 0 : uid ? m->uids[m->n - 1] :
	    (uint32_t)m->n, &r, &nr);
	imap_seqset_free(&set);
	rc = mbox_set_ranges(s, r, nr, uid, uids_r, n_r);
	free(r);
	return rc;
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

/* ---- sets written out ---- */

void
set_out_init(struct set_out *o, struct buf *b)
{
	memset(o, 0, sizeof(*o));
	o->b = b;
}

/* The open range goes out: ",lo" or ",lo:hi". */
static void
set_out_flush(struct set_out *o)
{
	if (!o->open)
		return;
	buf_printf(o->b, "%s%u", o->ranges++ > 0 ? "," : "", o->lo);
	if (o->hi != o->lo)
		buf_printf(o->b, ":%u", o->hi);
	o->open = false;
}

void
set_out_add(struct set_out *o, uint32_t v)
{
	o->n++;
	if (o->open && o->hi != UINT32_MAX && v == o->hi + 1) {
		o->hi = v;
		return;
	}
	set_out_flush(o);
	o->lo = o->hi = v;
	o->open = true;
}

void
set_out_end(struct set_out *o)
{
	set_out_flush(o);
}

/* ---- CONDSTORE ---- */

void
mbox_condstore_enable(struct session *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	/* RFC 7162 3.1: the first enabling command in a selected state */
	if (s->sel != NULL)
		session_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest",
		    (unsigned long long)s->sel->modseq);
}

bool
mbox_modseq_arg(const struct imap_arg *arg, uint64_t *v_r)
{
	const char	*a, *why;

	return imap_arg_atom(arg, &a) && a[0] >= '0' && a[0] <= '9' &&
	    str_to_u64(a, 0, INT64_MAX, v_r, &why) == 0;
}

/* ---- SELECT, EXAMINE ---- */

struct select {
	struct session	*s;
	struct mbox	*m;
	struct buf	 keywords;	/* " kw1 kw2 " seen in the mailbox */
	size_t		 unseen;	/* first unseen sequence number */
	bool		 answered;	/* the query came back */
	uint64_t	 next;		/* uidnext of the first snapshot */
	uint64_t	 recent;	/* first \Recent UID, 0: none */
	char		 attrs[64];	/* of the IMAP4rev2 LIST line */
	/* select-params (RFC 7162 3.1.8, 3.2.5) */
	bool		 condstore, qresync;
	uint32_t	 qr_uidvalidity;
	uint64_t	 qr_modseq;
	struct imap_range *qr_known;	/* NULL: every UID */
	size_t		 qr_nknown;
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

/* A message row: uid, flags, keywords from column col on. */
static void
select_row(struct select *sel, PGresult *res, int r, int col)
{
	uint64_t	 uid, flags;
	struct mbox	*m = sel->m;

	if (PQgetisnull(res, r, col) ||
	    !db_u64(PQgetvalue(res, r, col), UINT32_MAX, &uid) ||
	    !db_u64(PQgetvalue(res, r, col + 1), 31, &flags) ||
	    (m->n > 0 && uid <= m->uids[m->n - 1]))
		return;
	mbox_add_uid(m, (uint32_t)uid);
	if (!(flags & FLAG_SEEN) && sel->unseen == 0)
		sel->unseen = m->n;
	(void)flags_pg_array(PQgetvalue(res, r, col + 2), select_keyword,
	    sel);
}

/*
 * The attributes LIST gives the mailbox (list.c), from the mailbox row:
 * special_use (column 8), subscribed (9), has inferiors (10).
 */
static void
select_attrs(struct select *sel, PGresult *res)
{
	const char	*use = PQgetvalue(res, 0, 8);	/* "" when NULL */

	snprintf(sel->attrs, sizeof(sel->attrs), "%s%s%s%s",
	    PQgetvalue(res, 0, 10)[0] == 't' ? "\\HasChildren" :
	    "\\HasNoChildren", use[0] != '\0' ? " " : "", use,
	    PQgetvalue(res, 0, 9)[0] == 't' ? " \\Subscribed" : "");
}

/* RFC 9051 6.3.2: the mailbox's LIST response, for IMAP4rev2. */
static void
select_list(struct session *s, const struct select *sel)
{
	const struct mbox	*m = sel->m;

	buf_printf(&s->out, "* LIST (%s) \"/\" ", sel->attrs);
	imap_fmt_astring(&s->out, m->name, strlen(m->name), true);
	buf_add_str(&s->out, "\r\n");
	session_flush_out(s);
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
	if (!s->rev2)
		session_printf(s, "* %zu RECENT", m->nrecent);
	if (sel->unseen != 0 && !s->rev2)
		session_printf(s, "* OK [UNSEEN %zu] First unseen",
		    sel->unseen);
	session_printf(s, "* OK [UIDVALIDITY %u] UIDs valid",
	    m->uidvalidity);
	session_printf(s, "* OK [UIDNEXT %u] Predicted next UID", m->uidnext);
	if (s->condstore)	/* RFC 7162 3.1.2.1 */
		session_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest",
		    (unsigned long long)m->modseq);
	if (s->rev2)
		select_list(s, sel);
}

/* The command ends (answered) or the session goes (maybe not yet). */
static void
select_free(void *arg)
{
	struct select	*sel = arg;

	mbox_free(&sel->m);
	buf_clear(&sel->keywords);
	free(sel->qr_known);
	sel->qr_known = NULL;
	if (!sel->answered) {
		sel->s = NULL;	/* the answer comes later: freed then */
		return;
	}
	free(sel);
}

/* The mailbox row (row 0): false when it is not what it must be. */
static bool
select_mailbox(struct select *sel, PGresult *res)
{
	struct mbox	*m = sel->m;
	uint64_t	 id, v, next, modseq;

	if (!db_u64(PQgetvalue(res, 0, 0), INT64_MAX, &id) ||
	    !db_u64(PQgetvalue(res, 0, 1), UINT32_MAX, &v) ||
	    !db_u64(PQgetvalue(res, 0, 2), (uint64_t)UINT32_MAX + 1, &next) ||
	    !db_u64(PQgetvalue(res, 0, 3), INT64_MAX, &modseq))
		return false;
	m->id = id;
	m->uidvalidity = (uint32_t)v;
	m->uidnext = next > UINT32_MAX ? UINT32_MAX : (uint32_t)next;
	m->modseq = modseq;
	sel->next = next;
	/* The first recent UID (column 7; NULL: none) up to uidnext. */
	if (PQgetisnull(res, 0, 7) ||
	    !db_u64(PQgetvalue(res, 0, 7), INT64_MAX, &sel->recent))
		sel->recent = 0;
	select_attrs(sel, res);
	return true;
}

/*
 * The mailbox is selected: with QRESYNC and the same UIDVALIDITY the
 * changes since the client's modseq follow (fetch_vanished.c), else the
 * command ends (RFC 7162 3.2.5.1).
 */
static void
select_done(struct session *s, struct select *sel)
{
	const char		*text = sel->m->readonly ?
				    "[READ-ONLY] EXAMINE completed" :
				    "[READ-WRITE] SELECT completed";
	struct imap_range	*known = sel->qr_known;
	size_t			 nknown = sel->qr_nknown;
	uint64_t		 modseq = sel->qr_modseq;
	bool			 resync = sel->qresync &&
				    sel->qr_uidvalidity == sel->m->uidvalidity;

	s->sel = sel->m;
	sel->m = NULL;
	s->state = IMAP_STATE_SELECTED;
	log_info("%s %s %s", s->id, s->sel->readonly ? "examine" : "select",
	    s->sel->name);
	if (!resync) {
		cmd_done(s, "OK", "%s", text);
		return;
	}
	sel->qr_known = NULL;
	s->cmd.state_free(s->cmd.state);	/* sel (answered) */
	s->cmd.state = NULL;
	s->cmd.state_free = NULL;
	fetch_qresync(s, modseq, known, nknown, text);
	free(known);
}

/* Every batch is in: the view is made. */
static void
select_view_done(struct session *s, struct select *sel)
{
	if (!s->rev2 && sel->recent != 0)
		mbox_recent_add(sel->m, sel->recent, sel->next);
	select_report(s, sel);
	select_done(s, sel);
}

static void	select_more(struct select *);

/* A batch of n rows is in: the next one, or the view is made. */
static void
select_batch_done(struct session *s, struct select *sel, int n)
{
	if (n < SELECT_BATCH || sel->m->n == 0 ||
	    (uint64_t)sel->m->uids[sel->m->n - 1] + 1 >= sel->next)
		select_view_done(s, sel);
	else
		select_more(sel);
}

static void
select_more_result(PGresult *res, const char *err, void *arg)
{
	struct select	*sel = arg;
	struct session	*s = sel->s;

	if (s == NULL) {	/* the session went away */
		free(sel);
		return;
	}
	sel->answered = true;
	if (res == NULL) {
		log_warnx("%s select: %s", s->id, err);
		cmd_done(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	for (int r = 0; r < PQntuples(res); r++)
		select_row(sel, res, r, 0);
	select_batch_done(s, sel, PQntuples(res));
}

/* The UIDs after the last one read, below the first snapshot's uidnext. */
static void
select_more(struct select *sel)
{
	char	 id[24], after[16], below[24], batch[16];

	snprintf(id, sizeof(id), "%llu", (unsigned long long)sel->m->id);
	snprintf(after, sizeof(after), "%u", sel->m->uids[sel->m->n - 1]);
	snprintf(below, sizeof(below), "%llu", (unsigned long long)sel->next);
	snprintf(batch, sizeof(batch), "%d", SELECT_BATCH);
	sel->answered = false;
	mdb_query(sel->s->d, mdb_select_more_sql, 4, (const char *const[]){
	    id, after, below, batch }, select_more_result, sel);
}

static void
select_result(PGresult *res, const char *err, void *arg)
{
	struct select	*sel = arg;
	struct session	*s = sel->s;

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
	if (!select_mailbox(sel, res)) {
		cmd_done(s, "NO", "[SERVERBUG] Bad mailbox row");
		return;
	}
	for (int r = 0; r < PQntuples(res); r++)
		select_row(sel, res, r, 4);
	select_batch_done(s, sel, PQntuples(res));
}

/* number (RFC 9051 9) from min to max. */
static bool
select_number(const struct imap_arg *arg, uint64_t min, uint64_t max,
    uint64_t *v_r)
{
	const char	*a, *why;

	return imap_arg_atom(arg, &a) && a[0] >= '0' && a[0] <= '9' &&
	    str_to_u64(a, min, max, v_r, &why) == 0;
}

/* A sequence-set without "*" (RFC 7162 7 known-uids), resolved. */
static bool
select_set(const struct imap_arg *arg, struct imap_range **r_r, size_t *n_r)
{
	struct imap_seqset	 set;
	const char		*a;
	bool			 ok;

	if (!imap_arg_atom(arg, &a) || imap_seqset_parse(a, &set) == -1)
		return false;
	ok = !set.saved;
	for (size_t i = 0; ok && i < set.n; i++)
		ok = set.r[i].lo != 0 && set.r[i].hi != 0;
	if (ok && r_r != NULL)
		imap_seqset_resolve(&set, UINT32_MAX, r_r, n_r);
	imap_seqset_free(&set);
	return ok;
}

/*
 * QRESYNC (uidvalidity mod-sequence-value [known-uids]
 * [(known-sequence-set known-uid-set)]) (RFC 7162 3.2.5); the sequence
 * match data is only checked: the expunge log is complete.
 */
static const char *
select_qresync(const struct imap_arg *arg, struct select *sel)
{
	const struct imap_arg	*v, *m;
	size_t			 n, nm, i = 2;
	uint64_t		 uv;

	if (!imap_arg_list(arg, &v, &n) || n < 2 || n > 4 ||
	    !select_number(&v[0], 1, UINT32_MAX, &uv) ||
	    !select_number(&v[1], 1, INT64_MAX, &sel->qr_modseq))
		return "Syntax: QRESYNC (uidvalidity modseq [known-uids] "
		    "[(seqs uids)])";
	sel->qr_uidvalidity = (uint32_t)uv;
	if (i < n && v[i].type != IMAP_ARG_LIST && !select_set(&v[i++],
	    &sel->qr_known, &sel->qr_nknown))
		return "Invalid known UIDs";
	if (i < n && (!imap_arg_list(&v[i], &m, &nm) || nm != 2 ||
	    !select_set(&m[0], NULL, NULL) || !select_set(&m[1], NULL, NULL) ||
	    ++i < n))
		return "Invalid sequence match data";
	if (i < n)
		return "Invalid QRESYNC parameter";
	sel->qresync = true;
	return NULL;
}

/* select-params (RFC 4466 2.1): NULL, or why it is BAD. */
static const char *
select_params(struct session *s, const struct imap_arg *arg,
    struct select *sel)
{
	const struct imap_arg	*v;
	size_t			 n;
	const char		*why;

	if (!imap_arg_list(arg, &v, &n) || n == 0)
		return "Invalid SELECT parameters";
	for (size_t i = 0; i < n; i++) {
		if (imap_arg_atom_equals(&v[i], "CONDSTORE"))
			sel->condstore = true;
		else if (!imap_arg_atom_equals(&v[i], "QRESYNC") ||
		    i + 1 == n || sel->qresync)
			return "Unknown SELECT parameter";
		else if (!s->qresync)	/* RFC 7162 3.2.3 */
			return "QRESYNC needs ENABLE QRESYNC first";
		else if ((why = select_qresync(&v[++i], sel)) != NULL)
			return why;
	}
	return NULL;
}

static struct select *
select_new(struct session *s, char *name)
{
	struct select	*sel = xcalloc(1, sizeof(*sel));

	sel->s = s;
	sel->m = xcalloc(1, sizeof(*sel->m));
	sel->m->name = name;
	sel->m->readonly = strcmp(s->cmd.name, "EXAMINE") == 0;
	buf_init(&sel->keywords, 64 * 1024);
	buf_add(&sel->keywords, " ", 1);
	return sel;
}

void
cmd_select(struct session *s)
{
	struct select	*sel;
	char		*name, uid[24], batch[16];
	const char	*why;

	if (s->cmd.nargs < 1 || s->cmd.nargs > 2) {
		cmd_done(s, "BAD", "Syntax: %s mailbox [(parameters)]",
		    s->cmd.name);
		return;
	}
	if ((name = mbox_name_arg(s, &s->cmd.args[0])) == NULL)
		return;
	sel = select_new(s, name);
	sel->answered = true;	/* until the query is sent */
	if (s->cmd.nargs == 2 && (why = select_params(s, &s->cmd.args[1],
	    sel)) != NULL) {
		select_free(sel);
		cmd_done(s, "BAD", "%s", why);
		return;
	}
	/* RFC 7162 3.2.11, RFC 9051 7.1: responses after it are the new's */
	if (s->sel != NULL)
		session_printf(s, "* OK [CLOSED] Previous mailbox closed");
	/* RFC 9051 6.3.2: a failed SELECT leaves no mailbox selected. */
	mbox_free(&s->sel);
	s->state = IMAP_STATE_AUTH;
	s->condstore |= sel->condstore;
	sel->answered = false;
	s->cmd.state = sel;
	s->cmd.state_free = select_free;
	snprintf(uid, sizeof(uid), "%llu", (unsigned long long)s->user_id);
	snprintf(batch, sizeof(batch), "%d", SELECT_BATCH);
	/* \Recent is claimed by a read-write IMAP4rev1 session */
	mdb_query(s->d, mdb_select_sql, 4, (const char *const[]){ uid, name,
	    !sel->m->readonly && !s->rev2 ? "t" : "f", batch }, select_result,
	    sel);
}

/*
 * A query failed after SELECT/EXAMINE made the view (QRESYNC's changes
 * are sent after): the command's NO leaves no mailbox selected (RFC 9051
 * 6.3.2).  Any other command keeps it.
 */
void
mbox_select_failed(struct session *s)
{
	if (s->sel == NULL || (strcmp(s->cmd.name, "SELECT") != 0 &&
	    strcmp(s->cmd.name, "EXAMINE") != 0))
		return;
	mbox_free(&s->sel);
	s->state = IMAP_STATE_AUTH;
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
