/*
 * imapd/fetch.c — FETCH and UID FETCH (RFC 9051 6.4.5, 7.5.2; RFC 3501
 * 6.4.5, 7.4.2; RFC 3516 BINARY), and the engine that answers a message
 * set for FETCH and STORE.
 *
 * Memory stays bounded whatever the set: the UIDs are read in batches
 * (FETCH_BATCH per query, fewer when ENVELOPE or BODYSTRUCTURE come
 * along), one message's blob is mapped at a time, and one data item is
 * built at a time ("a plan": segments of text of its own and of ranges
 * of the mapped message) and written out in chunks while the output
 * queue is below FETCH_HIWAT; then the command waits for the queue to
 * drain (s->cmd.lowat).  A 50 MB BODY[] is never copied.
 *
 * Fetching BODY[..] (not .PEEK), RFC822 or RFC822.TEXT sets \Seen
 * (RFC 9051 6.4.5) unless the mailbox is read-only: the batch's query
 * does it in the same statement, under one new modseq, and the new
 * FLAGS go into that message's answer.  A message expunged by another
 * session since our view was made has no row and gets no answer
 * (RFC 9051 7.4.1 lets a FETCH leave it out); EXPUNGE is never sent
 * during FETCH by sequence numbers (7.5.1).
 *
 * CONDSTORE (RFC 7162 3.1.4): the MODSEQ item, and the CHANGEDSINCE
 * modifier, which the query applies (only messages with a greater
 * modseq are answered, or get \Seen).  VANISHED (3.2.6) is
 * fetch_vanished.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "imap_parse.h"
#include "io.h"
#include "log.h"
#include "xmalloc.h"
#include "imapd.h"
#include "fetch.h"

#define FETCH_BATCH	5000		/* a query is ~ms: few, not small */
#define FETCH_BATCH_BIG	500		/* with ENVELOPE, BODYSTRUCTURE */
#define FETCH_HIWAT	(1024 * 1024)	/* output queued: wait for it */
#define FETCH_CHUNK	(256 * 1024)	/* octets per write */
#define PLAN_FLUSH	(64 * 1024)	/* send what was built */
#define PLAN_COPY	1024		/* smaller octets are copied */
#define PLAN_TEXT_MAX	((size_t)1 << 30)

enum fetch_fail {
	FAIL_NONE,
	FAIL_CTE,	/* RFC 3516 UNKNOWN-CTE */
	FAIL_READ,	/* a blob could not be read */
};

struct fetch {
	struct session		*s;
	bool			 busy;		/* a query in flight */
	bool			 dead;		/* the output failed */
	const char		*sql, *range_sql;
	char			*extra[FETCH_EXTRA_MAX];
	int			 nextra;
	struct fetch_item	*items;
	size_t			 nitems;
	bool			 silent, uid_item, flags_item;
	bool			 store, modseq_item;
	unsigned		 need;
	const char		*done_text;
	uint32_t		*uids;
	size_t			 nuids, next, batch;
	struct fetch_row	*rows;		/* the batch */
	size_t			 nrows, row;
	uint64_t		 modseq;	/* the batch's change or 0 */
	bool			 skipped;	/* a row left unanswered */
	enum fetch_fail		 fail;
	struct fetch_msg	 msg;		/* the row being answered */
	bool			 in_msg;
	size_t			 item, nout;	/* next item, items written */
	struct fetch_plan	 plan;
	struct buf		 modified;	/* STORE: [MODIFIED set] */
	struct set_out		 modset;
};

/* ---- plans ---- */

static void
plan_keep(struct fetch_plan *p, struct buf *b)
{
	p->bufs = xreallocarray(p->bufs, p->nbufs + 1, sizeof(*p->bufs));
	p->bufs[p->nbufs++] = b;
}

static void
plan_seg(struct fetch_plan *p, const uint8_t *data, size_t len)
{
	if (len == 0)
		return;
	if (p->nsegs == p->cap) {
		p->cap = p->cap == 0 ? 8 : p->cap * 2;
		p->segs = xreallocarray(p->segs, p->cap, sizeof(*p->segs));
	}
	p->segs[p->nsegs].p = data;
	p->segs[p->nsegs++].len = len;
}

/* The open text becomes a segment; later text goes to a new buffer. */
static void
plan_close_text(struct fetch_plan *p)
{
	if (p->text != NULL)
		plan_seg(p, BUF_DATA(p->text), p->text->len);
	p->text = NULL;
}

struct buf *
fetch_plan_text(struct fetch_plan *p)
{
	if (p->text == NULL) {
		p->text = xmalloc(sizeof(*p->text));
		buf_init(p->text, PLAN_TEXT_MAX);
		plan_keep(p, p->text);
	}
	return p->text;
}

void
fetch_plan_octets(struct fetch_plan *p, const uint8_t *data, size_t len)
{
	if (len <= PLAN_COPY) {
		buf_add(fetch_plan_text(p), data, len);
		return;
	}
	plan_close_text(p);
	plan_seg(p, data, len);
}

void
fetch_plan_adopt(struct fetch_plan *p, struct buf *b, size_t off, size_t len)
{
	struct buf	*kept;

	if (len <= PLAN_COPY) {
		buf_add(fetch_plan_text(p), BUF_DATA(b) + off, len);
		buf_clear(b);
		return;
	}
	plan_close_text(p);
	kept = xmalloc(sizeof(*kept));
	*kept = *b;
	buf_init(b, b->max);
	plan_keep(p, kept);
	plan_seg(p, BUF_DATA(kept) + off, len);
}

static void
plan_clear(struct fetch_plan *p)
{
	for (size_t i = 0; i < p->nbufs; i++) {
		buf_clear(p->bufs[i]);
		free(p->bufs[i]);
	}
	free(p->bufs);
	free(p->segs);
	memset(p, 0, sizeof(*p));
}

static size_t
plan_pending(const struct fetch_plan *p)
{
	size_t	 n = p->text != NULL ? p->text->len : 0;

	for (size_t i = p->cur; i < p->nsegs; i++)
		n += p->segs[i].len;
	return n - p->done;
}

/*
 * Write the plan out while the output queue allows; true when all of it
 * went (the plan is then empty).
 */
static bool
plan_send(struct fetch *f)
{
	struct fetch_plan	*p = &f->plan;
	struct io		*io = f->s->io;
	const struct fetch_seg	*seg;
	size_t			 n;

	plan_close_text(p);
	while (p->cur < p->nsegs) {
		if (io_queued(io) >= FETCH_HIWAT)
			return false;	/* IO_LOWAT brings us back */
		seg = &p->segs[p->cur];
		n = seg->len - p->done < FETCH_CHUNK ? seg->len - p->done :
		    FETCH_CHUNK;
		if (io_write(io, seg->p + p->done, n) == -1) {
			log_info("%s fetch: output failed", f->s->id);
			f->dead = true;	/* closing: the session goes soon */
			return false;
		}
		if ((p->done += n) == seg->len) {
			p->cur++;
			p->done = 0;
		}
	}
	plan_clear(p);
	return true;
}

/* ---- batches ---- */

static void
row_clear(struct fetch_row *r)
{
	free(r->keywords);
	free(r->envelope);
	free(r->bodystructure);
	free(r->prefix);
	free(r->blob);
}

static void
rows_free(struct fetch *f)
{
	for (size_t i = 0; i < f->nrows; i++)
		row_clear(&f->rows[i]);
	free(f->rows);
	f->rows = NULL;
	f->nrows = f->row = 0;
}

static void
fetch_free(struct fetch *f)
{
	fetch_msg_close(&f->msg);
	plan_clear(&f->plan);
	rows_free(f);
	fetch_items_free(f->items, f->nitems);
	buf_clear(&f->modified);
	for (int i = 0; i < f->nextra; i++)
		free(f->extra[i]);
	free(f->uids);
	free(f);
}

/* The command ends or the session goes, maybe while a query runs. */
static void
fetch_state_free(void *arg)
{
	struct fetch	*f = arg;

	if (f->busy) {
		f->s = NULL;	/* the answer comes later: freed then */
		return;
	}
	fetch_free(f);
}

static char *
col_str(PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : xstrdup(PQgetvalue(res, r, c));
}

static uint64_t
col_u64(PGresult *res, int r, int c, uint64_t max)
{
	uint64_t	 v = 0;
	const char	*why;

	if (str_to_u64(PQgetvalue(res, r, c), 0, max, &v, &why) == -1)
		return 0;
	return v;
}

static void
col_prefix(PGresult *res, int r, int c, struct fetch_row *row)
{
	unsigned char	*p;
	size_t		 len;

	if (PQgetisnull(res, r, c) || (p = PQunescapeBytea((const unsigned
	    char *)PQgetvalue(res, r, c), &len)) == NULL)
		return;
	row->prefix = xmemdup(p, len);
	row->prefix_len = len;
	PQfreemem(p);
}

/* One row of mdb_fetch_sql. */
static void
row_load(PGresult *res, int r, struct fetch_row *row)
{
	int64_t		 t = 0;
	const char	*why;

	memset(row, 0, sizeof(*row));
	row->uid = (uint32_t)col_u64(res, r, 0, UINT32_MAX);
	row->flags = (unsigned)col_u64(res, r, 1, 31);
	row->keywords = col_str(res, r, 2);
	(void)str_to_i64(PQgetvalue(res, r, 3), INT64_MIN, INT64_MAX, &t,
	    &why);
	row->internaldate = t;
	row->size = col_u64(res, r, 4, INT64_MAX);
	row->envelope = col_str(res, r, 5);
	row->bodystructure = col_str(res, r, 6);
	col_prefix(res, r, 7, row);
	row->blob = col_str(res, r, 8);
	row->modseq = col_u64(res, r, 9, INT64_MAX);
	row->seen_set = strcmp(PQgetvalue(res, r, 10), "t") == 0;
	row->modified = strcmp(PQgetvalue(res, r, 13), "t") == 0;
}

static void
rows_load(struct fetch *f, PGresult *res)
{
	int	 n = PQntuples(res);

	f->rows = n > 0 ? xcalloc((size_t)n, sizeof(*f->rows)) : NULL;
	for (int r = 0; r < n; r++)
		row_load(res, r, &f->rows[r]);
	f->nrows = (size_t)n;
	f->row = 0;
	f->skipped = false;
	f->modseq = n > 0 && !PQgetisnull(res, 0, 11) ?
	    col_u64(res, 0, 11, INT64_MAX) : 0;
}

static void	fetch_pump(struct fetch *);

static void
batch_result(PGresult *res, const char *err, void *arg)
{
	struct fetch	*f = arg;

	f->busy = false;
	if (f->s == NULL) {
		fetch_free(f);
		return;
	}
	if (res == NULL) {
		log_warnx("%s %s: %s", f->s->id, f->s->cmd.name, err);
		mbox_select_failed(f->s);	/* QRESYNC's FETCH */
		cmd_done(f->s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	rows_load(f, res);
	fetch_pump(f);
}

/* The batch's UIDs are a run of the view: every view UID from first to
   last, in order (FETCH 1:*, and most sets). */
static bool
batch_view_run(const struct mbox *m, const uint32_t *uids, size_t n)
{
	size_t	 k = mbox_seq(m, uids[0]);

	if (k == 0 || k - 1 + n > m->n)
		return false;
	return memcmp(&m->uids[k - 1], uids, n * sizeof(*uids)) == 0;
}

static void
batch_query(struct fetch *f)
{
	size_t		 n = f->nuids - f->next;
	const char	*params[4 + FETCH_EXTRA_MAX], *sql = f->sql;
	char		 id[24], lo[16], hi[16], *uids;
	const uint32_t	*u = f->uids + f->next;
	int		 np;

	if (n > f->batch)
		n = f->batch;
	snprintf(id, sizeof(id), "%llu", (unsigned long long)f->s->sel->id);
	uids = mbox_uids_pg(u, n);
	f->next += n;
	params[0] = id;
	params[1] = uids;
	for (int i = 0; i < f->nextra; i++)
		params[2 + i] = f->extra[i];
	np = 2 + f->nextra;
	if (f->range_sql != NULL && batch_view_run(f->s->sel, u, n)) {
		snprintf(lo, sizeof(lo), "%u", u[0]);
		snprintf(hi, sizeof(hi), "%u", u[n - 1]);
		params[np++] = lo;
		params[np++] = hi;
		sql = f->range_sql;
	}
	f->busy = true;
	mdb_query(f->s->d, sql, np, params, batch_result, f);
	free(uids);
}

static void
fetch_finish(struct fetch *f)
{
	struct session	*s = f->s;
	char		*text;
	const char	*status = f->fail == FAIL_NONE ? "OK" : "NO";

	if (f->fail == FAIL_CTE)
		text = xstrdup("[UNKNOWN-CTE] Some parts have an unknown "
		    "Content-Transfer-Encoding");
	else if (f->fail == FAIL_READ)
		text = xstrdup("[SERVERBUG] Some messages could not be read");
	else if (f->modset.n > 0) {	/* RFC 7162 3.1.3 */
		set_out_end(&f->modset);
		text = xasprintf("[MODIFIED %s] Conditional STORE failed",
		    buf_cstr(&f->modified));
	} else
		text = xstrdup(f->done_text);
	/* The sync takes s->cmd.state over; f is freed there. */
	s->cmd.lowat = NULL;
	/* RFC 9051 7.5.1: no EXPUNGE during FETCH, STORE by number. */
	cmd_done_sync(s, s->cmd.uid, status, text);
	free(text);
}

/*
 * Every change of the batch's modseq was answered: the view knows it,
 * unless some other change came in between (then sync reads it all, but
 * leaves out the rows still at this modseq).
 */
static void
batch_end(struct fetch *f)
{
	struct mbox	*m = f->s->sel;

	if (f->modseq != 0 && !f->skipped && m->modseq + 1 == f->modseq)
		m->modseq = f->modseq;
	else if (f->modseq != 0 && !f->skipped)
		mbox_told(m, f->modseq);
	f->modseq = 0;
	rows_free(f);
	if (f->next >= f->nuids)
		fetch_finish(f);
	else if (io_queued(f->s->io) < FETCH_HIWAT)
		batch_query(f);
	/* else IO_LOWAT brings us back here */
}

/* ---- one message ---- */

/*
 * Once CONDSTORE is enabled, FETCH responses caused by STORE or by
 * setting \Seen carry UID and MODSEQ (RFC 7162 3.1).
 */
static bool
row_condstore(const struct fetch *f, const struct fetch_row *r)
{
	return f->s->condstore && (f->store || r->seen_set);
}

static struct buf *
item_begin(struct fetch *f)
{
	struct buf	*t = fetch_plan_text(&f->plan);

	if (f->nout++ > 0)
		buf_add_str(t, " ");
	return t;
}

static void
flags_item(struct fetch *f, struct buf *t, const struct fetch_row *r)
{
	buf_add_str(t, "FLAGS ");
	flags_write(t, r->flags | (mbox_recent(f->s->sel, r->uid) ?
	    FLAG_RECENT : 0), r->keywords);
}

static void
date_write(struct buf *t, int64_t when)
{
	static const char	 months[12][4] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t			 tt = (time_t)when;
	struct tm		 tm;

	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900) {
		tt = 0;
		gmtime_r(&tt, &tm);
	}
	/* date-time (RFC 9051 9): 2DIGIT is a valid date-day-fixed. */
	buf_printf(t, "INTERNALDATE \"%02d-%s-%04d %02d:%02d:%02d +0000\"",
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* ENVELOPE, BODYSTRUCTURE: as deliver cached them, else computed. */
static void
cached_write(struct fetch *f, const char *name, const char *cached,
    enum fetch_att att)
{
	buf_add_str(fetch_plan_text(&f->plan), name);
	if (cached != NULL)
		buf_add_str(fetch_plan_text(&f->plan), cached);
	else
		fetch_structure(&f->plan, &f->msg, att);
}

static void
item_write(struct fetch *f, const struct fetch_item *it)
{
	const struct fetch_row	*r = f->msg.row;
	struct buf		*t = item_begin(f);

	switch (it->att) {
	case FA_FLAGS:
		flags_item(f, t, r);
		break;
	case FA_MODSEQ:
		buf_printf(t, "MODSEQ (%llu)", (unsigned long long)r->modseq);
		break;
	case FA_INTERNALDATE:
		date_write(t, r->internaldate);
		break;
	case FA_SIZE:
		buf_printf(t, "RFC822.SIZE %llu", (unsigned long long)r->size);
		break;
	case FA_UID:
		buf_printf(t, "UID %u", r->uid);
		break;
	case FA_ENVELOPE:
		cached_write(f, "ENVELOPE ", r->envelope, FA_ENVELOPE);
		break;
	case FA_BODYSTRUCTURE:
		cached_write(f, "BODYSTRUCTURE ", r->bodystructure,
		    FA_BODYSTRUCTURE);
		break;
	case FA_BODY:
		cached_write(f, "BODY ", NULL, FA_BODY);
		break;
	case FA_SECTION:
		fetch_section(&f->plan, &f->msg, it);
		break;
	case FA_BINARY_SIZE:
		fetch_binary_size(&f->plan, &f->msg, it);
		break;
	}
}

static bool
row_needs_blob(const struct fetch *f, const struct fetch_row *r)
{
	for (size_t i = 0; i < f->nitems; i++)
		if ((f->items[i].att == FA_ENVELOPE && r->envelope == NULL) ||
		    (f->items[i].att == FA_BODYSTRUCTURE &&
		    r->bodystructure == NULL))
			return true;
	return (f->need & NEED_BLOB) != 0;
}

/* Map the message if needed; false when it cannot be answered. */
static bool
msg_open(struct fetch *f, const struct fetch_row *r)
{
	memset(&f->msg, 0, sizeof(f->msg));
	f->msg.row = r;
	if (!row_needs_blob(f, r))
		return true;
	if (fetch_msg_open(&f->msg, f->s->d->blob_dir, r) == -1) {
		log_warn("%s fetch uid %u: blob %s", f->s->id, r->uid,
		    r->blob != NULL ? r->blob : "-");
		f->fail = FAIL_READ;
		return false;
	}
	if (fetch_msg_unknown_cte(&f->msg, f->items, f->nitems)) {
		fetch_msg_close(&f->msg);
		if (f->fail == FAIL_NONE)
			f->fail = FAIL_CTE;
		return false;
	}
	return true;
}

/* A row that failed UNCHANGEDSINCE: its number for [MODIFIED]. */
static void
msg_modified(struct fetch *f, uint32_t uid, size_t seq)
{
	if (f->modset.n == 0) {
		buf_init(&f->modified, SIZE_MAX / 2);
		set_out_init(&f->modset, &f->modified);
	}
	set_out_add(&f->modset, f->s->cmd.uid ? uid : (uint32_t)seq);
}

/* .SILENT: only the rows changed get UID and MODSEQ, with CONDSTORE. */
static bool
msg_answered(const struct fetch *f, const struct fetch_row *r)
{
	return !f->silent || (row_condstore(f, r) && r->seen_set);
}

static void
msg_begin(struct fetch *f)
{
	const struct fetch_row	*r = &f->rows[f->row];
	size_t			 seq = mbox_seq(f->s->sel, r->uid);

	if (r->modified && seq != 0) {
		msg_modified(f, r->uid, seq);
		f->row++;
		return;
	}
	if (seq == 0 || !msg_answered(f, r) || !msg_open(f, r)) {
		f->skipped |= seq != 0 && !f->silent;
		f->row++;
		return;
	}
	f->in_msg = true;
	f->item = f->silent ? f->nitems : 0;
	f->nout = 0;
	buf_printf(fetch_plan_text(&f->plan), "* %zu FETCH (", seq);
	if (!f->uid_item && (f->s->cmd.uid || row_condstore(f, r)))
		buf_printf(item_begin(f), "UID %u", r->uid);
}

static void
msg_step(struct fetch *f)
{
	const struct fetch_row	*r = f->msg.row;
	struct buf		*t;

	if (f->item < f->nitems) {
		item_write(f, &f->items[f->item++]);
		return;
	}
	if (f->item++ == f->nitems) {
		if (r->seen_set && !f->flags_item && !f->store)
			flags_item(f, item_begin(f), r);  /* RFC 9051 6.4.5 */
		if (!f->modseq_item && row_condstore(f, r))
			buf_printf(item_begin(f), "MODSEQ (%llu)",
			    (unsigned long long)r->modseq);
		t = fetch_plan_text(&f->plan);
		buf_add_str(t, ")\r\n");
		return;
	}
	fetch_msg_close(&f->msg);
	f->in_msg = false;
	f->row++;
}

/* Answer rows while the output allows; then the next batch or the end. */
static void
fetch_pump(struct fetch *f)
{
	while (!f->dead && !f->busy) {
		if ((!f->in_msg || plan_pending(&f->plan) >= PLAN_FLUSH ||
		    f->item > f->nitems) && !plan_send(f))
			return;
		if (f->in_msg)
			msg_step(f);
		else if (f->row < f->nrows)
			msg_begin(f);
		else {
			batch_end(f);
			return;
		}
	}
}

static void
fetch_lowat(struct session *s)
{
	struct fetch	*f = s->cmd.state;

	if (f != NULL && !f->busy)
		fetch_pump(f);
}

static void
job_flags(struct fetch *f)
{
	for (size_t i = 0; i < f->nitems; i++) {
		f->uid_item |= f->items[i].att == FA_UID;
		f->flags_item |= f->items[i].att == FA_FLAGS;
		f->modseq_item |= f->items[i].att == FA_MODSEQ;
	}
	f->need = fetch_need(f->items, f->nitems);
}

void
fetch_job_run(struct session *s, struct fetch_job *job, uint32_t *uids,
    size_t n)
{
	struct fetch	*f = xcalloc(1, sizeof(*f));

	f->s = s;
	f->sql = job->sql;
	f->range_sql = job->range_sql;
	for (int i = 0; i < job->nextra; i++)
		f->extra[i] = xstrdup(job->extra[i]);
	f->nextra = job->nextra;
	f->items = job->items;
	f->nitems = job->nitems;
	f->silent = job->silent;
	f->store = job->store;
	f->done_text = job->done_text;
	f->batch = job->batch;
	f->uids = uids;
	f->nuids = n;
	job_flags(f);
	s->cmd.state = f;
	s->cmd.state_free = fetch_state_free;
	s->cmd.lowat = fetch_lowat;
	if (n == 0)
		fetch_finish(f);
	else
		batch_query(f);
}

/* ---- FETCH ---- */

/* fetch-modifiers (RFC 4466 2.2): CHANGEDSINCE n [VANISHED] (RFC 7162). */
struct fetch_mods {
	bool		 changedsince, vanished;
	uint64_t	 since;
};

static const char *
fetch_mods_parse(const struct imap_arg *arg, struct fetch_mods *mods)
{
	const struct imap_arg	*v;
	size_t			 n;

	if (!imap_arg_list(arg, &v, &n) || n == 0)
		return "Invalid FETCH modifiers";
	for (size_t i = 0; i < n; i++) {
		if (imap_arg_atom_equals(&v[i], "CHANGEDSINCE") && i + 1 < n &&
		    !mods->changedsince) {
			if (!mbox_modseq_arg(&v[++i], &mods->since))
				return "Invalid CHANGEDSINCE mod-sequence";
			mods->changedsince = true;
		} else if (imap_arg_atom_equals(&v[i], "VANISHED") &&
		    !mods->vanished)
			mods->vanished = true;
		else
			return "Unknown FETCH modifier";
	}
	return NULL;
}

/* RFC 7162 3.2.6: VANISHED with UID FETCH, CHANGEDSINCE and QRESYNC. */
static const char *
fetch_mods_check(struct session *s, const struct fetch_mods *mods)
{
	if (!mods->vanished)
		return NULL;
	if (!s->cmd.uid)
		return "VANISHED is only allowed with UID FETCH";
	if (!mods->changedsince)
		return "VANISHED needs CHANGEDSINCE";
	if (!s->qresync)
		return "VANISHED needs ENABLE QRESYNC first";
	return NULL;
}

/* CHANGEDSINCE implies MODSEQ (RFC 7162 3.1.4.1). */
static void
fetch_add_modseq(struct fetch_job *job)
{
	for (size_t i = 0; i < job->nitems; i++)
		if (job->items[i].att == FA_MODSEQ)
			return;
	job->items = xreallocarray(job->items, job->nitems + 1,
	    sizeof(*job->items));
	memset(&job->items[job->nitems], 0, sizeof(*job->items));
	job->items[job->nitems++].att = FA_MODSEQ;
}

static bool
fetch_wants_modseq(const struct fetch_job *job)
{
	for (size_t i = 0; i < job->nitems; i++)
		if (job->items[i].att == FA_MODSEQ)
			return true;
	return false;
}

/* The arguments; false after BAD. */
static bool
fetch_args(struct session *s, struct fetch_job *job, struct fetch_mods *mods)
{
	const char	*why = NULL;

	if (s->cmd.nargs != 2 && s->cmd.nargs != 3) {
		cmd_done(s, "BAD", "Syntax: %sFETCH sequence-set items "
		    "[(modifiers)]", s->cmd.uid ? "UID " : "");
		return false;
	}
	if (s->cmd.nargs == 3 && ((why = fetch_mods_parse(&s->cmd.args[2],
	    mods)) != NULL || (why = fetch_mods_check(s, mods)) != NULL)) {
		cmd_done(s, "BAD", "%s", why);
		return false;
	}
	if (fetch_items_parse(&s->cmd.args[1], &job->items, &job->nitems,
	    &why) == -1) {
		cmd_done(s, "BAD", "%s", why);
		return false;
	}
	if (mods->changedsince)
		fetch_add_modseq(job);
	return true;
}

/* UID FETCH ... VANISHED: the UID set as sent, "*" the largest UID. */
static void
fetch_run_vanished(struct session *s, struct fetch_job *job, uint32_t *uids,
    size_t n, uint64_t since)
{
	struct imap_seqset	 set;
	struct imap_range	*r = NULL;
	size_t			 nr = 0;
	const char		*atom;

	if (imap_arg_atom(&s->cmd.args[0], &atom) &&
	    imap_seqset_parse(atom, &set) == 0) {
		imap_seqset_resolve(&set, UINT32_MAX, &r, &nr);
		imap_seqset_free(&set);
	}
	fetch_vanished(s, job, uids, n, since, r, nr);
	free(r);
}

void
cmd_fetch(struct session *s)
{
	struct fetch_job	 job;
	struct fetch_mods	 mods;
	uint32_t		*uids;
	size_t			 n;
	unsigned		 need;
	char			 since[24];

	memset(&job, 0, sizeof(job));
	memset(&mods, 0, sizeof(mods));
	if (!fetch_args(s, &job, &mods))
		return;
	if (mbox_set(s, &s->cmd.args[0], s->cmd.uid, &uids, &n) == -1) {
		fetch_items_free(job.items, job.nitems);
		return;
	}
	if (fetch_wants_modseq(&job))	/* a CONDSTORE enabling command */
		mbox_condstore_enable(s);
	need = fetch_need(job.items, job.nitems);
	snprintf(since, sizeof(since), "%llu", (unsigned long long)mods.since);
	job.sql = mdb_fetch_sql;
	job.range_sql = mdb_fetch_range_sql;
	job.extra[0] = (need & NEED_SEEN) && !s->sel->readonly ? "t" : "f";
	job.extra[1] = need & NEED_ENVELOPE ? "t" : "f";
	job.extra[2] = need & NEED_BODYSTRUCT ? "t" : "f";
	job.extra[3] = since;
	/* The message itself, or its envelope or structure if uncached. */
	job.extra[4] = need & (NEED_BLOB | NEED_ENVELOPE | NEED_BODYSTRUCT) ?
	    "t" : "f";
	job.nextra = 5;
	job.batch = need & (NEED_ENVELOPE | NEED_BODYSTRUCT) ?
	    FETCH_BATCH_BIG : FETCH_BATCH;
	job.done_text = s->cmd.uid ? "UID FETCH completed" : "FETCH completed";
	if (mods.vanished)
		fetch_run_vanished(s, &job, uids, n, mods.since);
	else
		fetch_job_run(s, &job, uids, n);
}
