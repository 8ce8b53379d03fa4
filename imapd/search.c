/*
 * imapd/search.c — SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 9051
 * 6.4.4, 6.4.9), with ESEARCH's RETURN (MIN MAX COUNT ALL) (RFC 4731).
 *
 * The keys (search_parse.c) become one statement (mailbox_db.c): what
 * PostgreSQL can answer from the row goes into its WHERE clause; keys
 * that need the message text are evaluated here, message by message,
 * over the rows that statement selects (search_match.c, the whole tree
 * for each: a text key under NOT or OR makes every key part of it).
 * Sequence numbers and "*" are turned into UID ranges of the session's
 * view first, and results outside the view (messages not yet announced)
 * are left out.
 *
 * Memory stays bounded: rows come in batches (a few thousand UIDs, or a
 * few hundred messages to read), one message is read at a time, and a
 * batch stops reading after SEARCH_READ_BUDGET octets (the next query
 * goes on after the last message read), so the event loop gets to run.
 * Only the header is read when no key needs the body.  The result, one
 * UID per match (at most the view's size), is written out as the output
 * queue drains.
 *
 * Full-text index (imap_fts = yes, the default): BODY and TEXT keys that
 * are ANDed at the top of the query let PostgreSQL leave out, through
 * messages.fts (a GIN index), the messages whose words do not start with
 * the words of the string (mailbox_db.c); the others are read and
 * matched exactly as above, so no result is wrong, but a string that
 * begins inside a word ("ample" in "example") is only found in messages
 * the index lets through for other reasons — like Dovecot's FTS, words
 * are matched by prefix.  imap_fts = no reads every candidate message:
 * exact substrings everywhere.  Messages whose text was too long for a
 * vector, or stored before it existed, have none and are always read.
 *
 * SEARCHRES (RFC 5182): "$" is the saved result (mbox.c), taken when the
 * search starts; RETURN (SAVE) saves what this one found (only MIN and
 * MAX when they are the only other options), and alone it sends no
 * ESEARCH; a search with SAVE that fails empties it (2.1).
 *
 * RECENT is the session's \Recent UIDs (mbox.c); with a MODSEQ key (RFC
 * 7162 3.1.5, a CONDSTORE enabling command) the response ends with the
 * highest modseq of what it returns: "(MODSEQ n)" after SEARCH's numbers
 * (3.1.6), "MODSEQ n" in ESEARCH (RFC 4731 3.2).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "blob.h"
#include "buf.h"
#include "imap_fmt.h"
#include "imap_parse.h"
#include "io.h"
#include "log.h"
#include "mime.h"
#include "xmalloc.h"
#include "imapd.h"

#define SEARCH_BATCH_UIDS	2000		/* rows per query: UIDs */
#define SEARCH_BATCH_MSGS	200		/* rows per query: to read */
#define SEARCH_READ_BUDGET	(32 * 1024 * 1024) /* octets per batch */
#define SEARCH_MSG_MAX		(1024UL * 1024 * 1024) /* one message */
#define SEARCH_HEADER_MAX	(1024 * 1024)	/* a header read alone */
#define SEARCH_READ_CHUNK	(64 * 1024)
#define SEARCH_KEEP_MAX		(4 * 1024 * 1024) /* buffer kept between */
#define SEARCH_OUT_CHUNK	(64 * 1024)	/* built before a write */
#define SEARCH_OUT_QUEUED	(256 * 1024)	/* then wait for IO_LOWAT */

struct search {
	struct session		*s;
	struct search_query	 q;
	struct search_sql	 sql;
	unsigned		 limit;		/* rows per batch */
	bool			 inflight;	/* a query is out */
	uint32_t		*hits;		/* UIDs, ascending */
	uint64_t		*modseqs;	/* theirs, with a MODSEQ key */
	size_t			 nhits, cap;
	size_t			 written;	/* hits in the response */
	bool			 begun;		/* the response is started */
	struct buf		 msg;		/* the message being read */
};

static void
search_free(void *arg)
{
	struct search	*x = arg;

	if (x->inflight) {
		x->s = NULL;	/* the answer comes later: freed then */
		return;
	}
	search_query_clear(&x->q);
	mdb_search_sql_clear(&x->sql);
	buf_clear(&x->msg);
	free(x->hits);
	free(x->modseqs);
	free(x);
}

static void
search_hit(struct search *x, uint32_t uid, uint64_t modseq)
{
	if (mbox_seq(x->s->sel, uid) == 0)	/* not in the view (yet) */
		return;
	if (x->nhits == x->cap) {
		x->cap = x->cap == 0 ? 256 : x->cap * 2;
		x->hits = xreallocarray(x->hits, x->cap, sizeof(*x->hits));
		if (x->q.modseq)
			x->modseqs = xreallocarray(x->modseqs, x->cap,
			    sizeof(*x->modseqs));
	}
	if (x->q.modseq)
		x->modseqs[x->nhits] = modseq;
	x->hits[x->nhits++] = uid;
}

/* ---- "*" and sequence numbers to UID ranges of the view ---- */

static void
resolve_set(struct search_key *k, const struct mbox *m)
{
	struct imap_seqset	 set = { k->set, k->nset, false };
	struct imap_range	*r = NULL;
	size_t			 nr = 0, n = 0;

	if (k->saved) {		/* "$": UID ranges already */
		k->nuids = m->nsaved;
		if (k->nuids > 0)
			k->uids = xmemdup(m->saved, k->nuids *
			    sizeof(*k->uids));
		return;
	}
	imap_seqset_resolve(&set, k->type == SK_UID ? m->uids[m->n - 1] :
	    (uint32_t)m->n, &r, &nr);
	if (k->type == SK_SEQ) {
		/* SEARCH is lenient: numbers past the view match nothing. */
		for (size_t i = 0; i < nr && r[i].lo <= m->n; i++) {
			uint32_t hi = r[i].hi < m->n ? r[i].hi : (uint32_t)m->n;

			r[n].lo = m->uids[r[i].lo - 1];
			r[n++].hi = m->uids[hi - 1];
		}
		nr = n;
	}
	k->uids = r;
	k->nuids = nr;
}

/* RECENT: the session's \Recent UIDs (ranges ascend, do not touch). */
static void
resolve_recent(struct search_key *k, const struct mbox *m)
{
	k->nuids = m->nrecent_ranges;
	if (k->nuids > 0)
		k->uids = xmemdup(m->recent, k->nuids * sizeof(*k->uids));
}

static void
resolve_keys(struct search_key *k, const struct mbox *m)
{
	if (k->type == SK_UID || k->type == SK_SEQ)
		resolve_set(k, m);
	else if (k->type == SK_RECENT)
		resolve_recent(k, m);
	for (struct search_key *kid = k->kids; kid != NULL; kid = kid->next)
		resolve_keys(kid, m);
}

/* ---- the response ---- */

/* The number of hit i: UID or sequence number. */
static uint32_t
hit_number(const struct search *x, size_t i)
{
	return x->s->cmd.uid ? x->hits[i] : (uint32_t)mbox_seq(x->s->sel,
	    x->hits[i]);
}

/* "* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL ". */
static void
esearch_begin(struct session *s, struct search *x)
{
	struct buf	*b = &s->out;

	buf_add_str(b, "* ESEARCH (TAG ");
	imap_fmt_quoted(b, s->cmd.tag, strlen(s->cmd.tag));
	buf_add_str(b, s->cmd.uid ? ") UID" : ")");
	if ((x->q.ret & SEARCH_RET_MIN) && x->nhits > 0)
		buf_printf(b, " MIN %u", hit_number(x, 0));
	if ((x->q.ret & SEARCH_RET_MAX) && x->nhits > 0)
		buf_printf(b, " MAX %u", hit_number(x, x->nhits - 1));
	if (x->q.ret & SEARCH_RET_COUNT)
		buf_printf(b, " COUNT %zu", x->nhits);
	if ((x->q.ret & SEARCH_RET_ALL) && x->nhits > 0)
		buf_add_str(b, " ALL ");
	else
		x->written = x->nhits;	/* nothing more */
}

/* ALL (RFC 4731 3.1): a sequence-set, consecutive numbers as ranges. */
static void
esearch_all_more(struct search *x, struct buf *b)
{
	size_t		 first = x->written;
	uint32_t	 lo = hit_number(x, first), hi = lo;

	while (x->written + 1 < x->nhits &&
	    hit_number(x, x->written + 1) == hi + 1) {
		hi++;
		x->written++;
	}
	buf_printf(b, "%s%u", first > 0 ? "," : "", lo);
	if (hi != lo)
		buf_printf(b, ":%u", hi);
	x->written++;
}

/*
 * The highest modseq of what is returned (RFC 7162 3.1.6): of every
 * match, or of MIN and MAX when only those are (RFC 4731 3.2); 0: none.
 */
static uint64_t
search_modseq(const struct search *x)
{
	uint64_t	 top = 0;
	bool		 all = x->q.ret == 0 ||
			    (x->q.ret & (SEARCH_RET_ALL | SEARCH_RET_COUNT));

	if (!x->q.modseq || x->nhits == 0)
		return 0;
	if (!all) {
		if (x->q.ret & SEARCH_RET_MIN)
			top = x->modseqs[0];
		if ((x->q.ret & SEARCH_RET_MAX) &&
		    x->modseqs[x->nhits - 1] > top)
			top = x->modseqs[x->nhits - 1];
		return top;
	}
	for (size_t i = 0; i < x->nhits; i++)
		if (x->modseqs[i] > top)
			top = x->modseqs[i];
	return top;
}

static void
search_respond_end(struct session *s, struct search *x)
{
	uint64_t	 top = search_modseq(x);

	if (top != 0)
		buf_printf(&s->out, x->q.ret != 0 ? " MODSEQ %llu" :
		    " (MODSEQ %llu)", (unsigned long long)top);
	buf_add_str(&s->out, "\r\n");
	session_flush_out(s);
}

/*
 * RETURN (SAVE): what is saved (RFC 5182 2.1): every match, or MIN
 * and/or MAX when they are the only other options.
 */
static void
search_save(struct search *x)
{
	unsigned	 other = x->q.ret & ~SEARCH_RET_SAVE;
	uint32_t	 mm[2];
	size_t		 n = 0;

	if (other == 0 || (other & (SEARCH_RET_ALL | SEARCH_RET_COUNT)) ||
	    x->nhits == 0) {
		mbox_saved_set(x->s->sel, x->hits, x->nhits);
		return;
	}
	if (other & SEARCH_RET_MIN)
		mm[n++] = x->hits[0];
	if ((other & SEARCH_RET_MAX) && (n == 0 || x->nhits > 1))
		mm[n++] = x->hits[x->nhits - 1];
	mbox_saved_set(x->s->sel, mm, n);
}

/* RETURN (SAVE) alone: no ESEARCH (RFC 5182 2.1). */
static bool
search_silent(const struct search *x)
{
	return x->q.ret == SEARCH_RET_SAVE;
}

static void
search_respond(struct session *s)
{
	struct search	*x = s->cmd.state;

	if (!x->begun) {
		x->begun = true;
		if (x->q.ret & SEARCH_RET_SAVE)
			search_save(x);
		if (search_silent(x))
			x->written = x->nhits;
		else if (x->q.ret != 0)
			esearch_begin(s, x);
		else
			buf_add_str(&s->out, "* SEARCH");
	}
	while (x->written < x->nhits) {
		if (io_queued(s->io) > SEARCH_OUT_QUEUED) {
			s->cmd.lowat = search_respond;
			return;
		}
		while (x->written < x->nhits && s->out.len < SEARCH_OUT_CHUNK) {
			if (x->q.ret != 0)
				esearch_all_more(x, &s->out);
			else
				buf_printf(&s->out, " %u", hit_number(x,
				    x->written++));
		}
		session_flush_out(s);
	}
	if (!search_silent(x))
		search_respond_end(s, x);
	s->cmd.lowat = NULL;
	/* RFC 9051 7.5.1: no EXPUNGE while SEARCH (by numbers) answers. */
	cmd_done_sync(s, s->cmd.uid, "OK", s->cmd.uid ? "UID SEARCH completed" :
	    "SEARCH completed");
}

/* ---- reading messages ---- */

/* Read fd into b: all of it, or (header) up to its end. */
static int
read_fd(int fd, struct buf *b, bool header)
{
	uint8_t	*p;
	ssize_t	 n;
	bool	 end = false;

	while (!end) {
		if (header && b->len >= SEARCH_HEADER_MAX)
			break;
		if ((p = buf_reserve(b, SEARCH_READ_CHUNK)) == NULL) {
			errno = EFBIG;
			return -1;
		}
		if ((n = read(fd, p, SEARCH_READ_CHUNK)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		buf_commit(b, (size_t)n);
		if (header)
			(void)search_header_len(BUF_DATA(b), b->len, &end);
	}
	return 0;
}

/* prefix (bytea, hex text form) + the blob into x->msg. */
static int
read_message(struct search *x, const char *blob, const char *prefix)
{
	unsigned char	*pre;
	size_t		 plen;
	int		 fd, rc;

	buf_reset(&x->msg);
	if ((pre = PQunescapeBytea((const unsigned char *)prefix, &plen)) ==
	    NULL)
		return -1;
	rc = buf_add(&x->msg, pre, plen);
	PQfreemem(pre);
	if (rc == -1 || (fd = blob_open(x->s->d->blob_dir, blob)) == -1)
		return -1;
	rc = read_fd(fd, &x->msg, !x->q.body);
	close(fd);
	return rc;
}

static bool
row_u64(PGresult *res, int r, int c, uint64_t max, uint64_t *v)
{
	const char	*why;

	return str_to_u64(PQgetvalue(res, r, c), 0, max, v, &why) == 0;
}

/* One row of the message query: read it, evaluate the tree. */
static void
search_row(struct search *x, PGresult *res, int r, uint32_t uid)
{
	struct search_msg	 m;
	uint64_t		 flags, size, date, modseq;
	const char		*blob = PQgetvalue(res, r, 5);

	if (!row_u64(res, r, 1, 31, &flags) ||
	    !row_u64(res, r, 3, INT64_MAX, &size) ||
	    !row_u64(res, r, 4, 99999999, &date) ||
	    !row_u64(res, r, 7, INT64_MAX, &modseq))
		return;
	if (read_message(x, blob, PQgetvalue(res, r, 6)) == -1) {
		log_warn("%s search: uid %u blob %s", x->s->id, uid, blob);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.uid = uid;
	m.flags = (unsigned)flags;
	m.keywords = PQgetvalue(res, r, 2);
	m.size = size;
	m.date = (uint32_t)date;
	m.data = BUF_DATA(&x->msg);
	m.len = x->msg.len;
	m.hdr_len = search_header_len(m.data, m.len, NULL);
	m.modseq = modseq;
	if (search_match(x->q.root, &m))
		search_hit(x, uid, modseq);
	mime_free(&m.mime);
}

/*
 * The rows of one batch.  Returns the UID to go on after, or 0 when the
 * search is over.
 */
static uint32_t
search_rows(struct search *x, PGresult *res)
{
	int		 n = PQntuples(res), r;
	size_t		 budget = 0;
	uint64_t	 uid = 0, modseq = 0;

	for (r = 0; r < n; r++) {
		if (!row_u64(res, r, 0, UINT32_MAX, &uid) || uid == 0)
			return 0;	/* cannot happen: CHECK */
		if (!x->q.root->msg) {
			(void)row_u64(res, r, 1, INT64_MAX, &modseq);
			search_hit(x, (uint32_t)uid, modseq);
		} else if (mbox_seq(x->s->sel, (uint32_t)uid) != 0) {
			search_row(x, res, r, (uint32_t)uid);
			budget += x->msg.len;
			if (x->msg.cap > SEARCH_KEEP_MAX)
				buf_clear(&x->msg);
			if (budget >= SEARCH_READ_BUDGET && r + 1 < n)
				return (uint32_t)uid;	/* the loop runs */
		}
	}
	return (unsigned)n < x->limit ? 0 : (uint32_t)uid;
}

static void	search_query(struct search *);

static void
search_result(PGresult *res, const char *err, void *arg)
{
	struct search	*x = arg;
	struct session	*s = x->s;
	uint32_t	 after;

	x->inflight = false;
	if (s == NULL) {		/* the session went away */
		search_free(x);
		return;
	}
	if (res == NULL) {
		log_warnx("%s search: %s", s->id, err);
		if (x->q.ret & SEARCH_RET_SAVE)	/* RFC 5182 2.1 */
			mbox_saved_clear(s->sel);
		cmd_done(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	if ((after = search_rows(x, res)) == 0) {
		search_respond(s);
		return;
	}
	mdb_search_after(&x->sql, after);
	search_query(x);
}

static void
search_query(struct search *x)
{
	x->inflight = true;
	mdb_query(x->s->d, buf_cstr(&x->sql.sql), x->sql.nparams,
	    (const char *const *)x->sql.params, search_result, x);
}

void
cmd_search(struct session *s)
{
	struct search	*x = xcalloc(1, sizeof(*x));
	const char	*err;
	int		 rc;

	if ((rc = search_parse(s->cmd.args, s->cmd.nargs, &x->q, &err)) != 0) {
		if (x->q.ret & SEARCH_RET_SAVE)	/* RFC 5182 2.1 */
			mbox_saved_clear(s->sel);
		free(x);
		if (rc == SEARCH_BADCHARSET)
			cmd_done(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] "
			    "Unsupported charset");
		else
			cmd_done(s, "BAD", "%s", err);
		return;
	}
	if (s->rev2 && x->q.ret == 0)	/* RFC 9051 7.3.4: ESEARCH only */
		x->q.ret = SEARCH_RET_ALL;
	if (x->q.modseq)	/* a CONDSTORE enabling command */
		mbox_condstore_enable(s);
	x->s = s;
	buf_init(&x->msg, SEARCH_MSG_MAX);
	s->cmd.state = x;
	s->cmd.state_free = search_free;
	if (s->sel->n == 0) {
		search_respond(s);
		return;
	}
	resolve_keys(x->q.root, s->sel);
	x->limit = x->q.root->msg ? SEARCH_BATCH_MSGS : SEARCH_BATCH_UIDS;
	x->limit = mdb_search_sql(&x->sql, x->q.root, s->sel->id,
	    s->sel->uids[s->sel->n - 1], x->limit, s->d->fts);
	search_query(x);
}
