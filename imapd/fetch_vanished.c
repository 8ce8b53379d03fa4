/*
 * imapd/fetch_vanished.c — the VANISHED (EARLIER) response (RFC 7162
 * 3.2.10.1) of UID FETCH ... (CHANGEDSINCE n VANISHED) (3.2.6) and of
 * SELECT/EXAMINE ... (QRESYNC (...)) (3.2.5.1); each is followed by the
 * FETCH responses of what changed, through fetch.c's engine ("Any
 * VANISHED (EARLIER) responses MUST be returned before any FETCH
 * responses", 3.2.6).
 *
 * The expunge log (table expunged) is read in batches of UIDs, in
 * order; those still in the session's view are left out (their expunge
 * is reported by the sync that ends the command, as VANISHED without
 * EARLIER), the others are written as one compact set, in pieces while
 * the output queue allows (then the command waits for it to drain).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_parse.h"
#include "io.h"
#include "log.h"
#include "xmalloc.h"
#include "imapd.h"
#include "fetch.h"

#define VANISHED_BATCH	5000		/* UIDs per query */
#define VANISHED_HIWAT	(256 * 1024)	/* output queued: wait */
#define QRESYNC_BATCH	500		/* FETCH (UID FLAGS MODSEQ) */

struct vanished {
	struct session		*s;
	bool			 busy;		/* a query in flight */
	char			 mailbox[24], modseq[24], after[16];
	char			*ranges;	/* int8multirange, NULL: all */
	struct set_out		 set;
	/* then: */
	struct fetch_job	 job;
	char			*extra[FETCH_EXTRA_MAX];
	uint32_t		*uids;
	size_t			 nuids;
};

static void
vanished_free(struct vanished *v)
{
	fetch_items_free(v->job.items, v->job.nitems);
	for (int i = 0; i < FETCH_EXTRA_MAX; i++)
		free(v->extra[i]);
	free(v->uids);
	free(v->ranges);
	free(v);
}

/* The command ends or the session goes, maybe while a query runs. */
static void
vanished_state_free(void *arg)
{
	struct vanished	*v = arg;

	if (v->busy) {
		v->s = NULL;	/* the answer comes later: freed then */
		return;
	}
	vanished_free(v);
}

/* "{[1,4],[9,9]}", NULL for none. */
static char *
ranges_pg(const struct imap_range *r, size_t n)
{
	struct buf	 b;

	if (r == NULL)
		return NULL;
	buf_init(&b, SIZE_MAX / 2);
	buf_add_str(&b, "{");
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s[%u,%u]", i > 0 ? "," : "", r[i].lo,
		    r[i].hi);
	buf_add_str(&b, "}");
	return buf_steal(&b, NULL);
}

/* The end of the VANISHED (EARLIER) line, if one was begun. */
static void
vanished_end(struct session *s, struct vanished *v)
{
	if (v->set.n > 0) {
		set_out_end(&v->set);
		buf_add_str(&s->out, "\r\n");
	}
	session_flush_out(s);
}

/* The VANISHED (EARLIER) line is done: the FETCH responses follow. */
static void
vanished_done(struct session *s, struct vanished *v)
{
	struct fetch_job	 job = v->job;
	uint32_t		*uids = v->uids;
	size_t			 n = v->nuids;

	vanished_end(s, v);
	memset(&v->job, 0, sizeof(v->job));
	v->uids = NULL;
	s->cmd.state = NULL;
	s->cmd.state_free = NULL;
	s->cmd.lowat = NULL;
	fetch_job_run(s, &job, uids, n);	/* copies the extras */
	vanished_free(v);
}

static void	vanished_query(struct vanished *);

/* UIDs expunged and not in the view go into the set. */
static uint32_t
vanished_rows(struct session *s, struct vanished *v, PGresult *res)
{
	uint64_t	 uid = 0;
	const char	*why;

	for (int r = 0; r < PQntuples(res); r++) {
		if (str_to_u64(PQgetvalue(res, r, 0), 1, UINT32_MAX, &uid,
		    &why) == -1 || mbox_seq(s->sel, (uint32_t)uid) != 0)
			continue;
		if (v->set.n == 0)
			buf_add_str(&s->out, "* VANISHED (EARLIER) ");
		set_out_add(&v->set, (uint32_t)uid);
	}
	return (uint32_t)uid;
}

static void
vanished_lowat(struct session *s)
{
	struct vanished	*v = s->cmd.state;

	if (v != NULL && !v->busy && io_queued(s->io) < VANISHED_HIWAT) {
		s->cmd.lowat = NULL;
		vanished_query(v);
	}
}

static void
vanished_result(PGresult *res, const char *err, void *arg)
{
	struct vanished	*v = arg;
	struct session	*s = v->s;
	uint32_t	 last;

	v->busy = false;
	if (s == NULL) {
		vanished_free(v);
		return;
	}
	if (res == NULL) {
		log_warnx("%s vanished: %s", s->id, err);
		vanished_end(s, v);	/* what was found is true */
		mbox_select_failed(s);
		cmd_done(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	last = vanished_rows(s, v, res);
	if (PQntuples(res) < VANISHED_BATCH) {
		vanished_done(s, v);
		return;
	}
	snprintf(v->after, sizeof(v->after), "%u", last);
	session_flush_out(s);
	if (io_queued(s->io) >= VANISHED_HIWAT)
		s->cmd.lowat = vanished_lowat;
	else
		vanished_query(v);
}

static void
vanished_query(struct vanished *v)
{
	char		 batch[16];
	const char	*params[5] = { v->mailbox, v->modseq, v->after,
			    v->ranges, batch };

	snprintf(batch, sizeof(batch), "%d", VANISHED_BATCH);
	v->busy = true;
	mdb_query(v->s->d, mdb_vanished_sql, 5, params, vanished_result, v);
}

/* Takes over the job's items and uids, copies its extras. */
static void
vanished_start(struct session *s, struct fetch_job *job, uint32_t *uids,
    size_t n, uint64_t modseq, const struct imap_range *set, size_t nset)
{
	struct vanished	*v = xcalloc(1, sizeof(*v));

	v->s = s;
	snprintf(v->mailbox, sizeof(v->mailbox), "%llu",
	    (unsigned long long)s->sel->id);
	snprintf(v->modseq, sizeof(v->modseq), "%llu",
	    (unsigned long long)modseq);
	snprintf(v->after, sizeof(v->after), "0");
	v->ranges = ranges_pg(set, nset);
	set_out_init(&v->set, &s->out);
	v->job = *job;
	for (int i = 0; i < job->nextra; i++) {
		v->extra[i] = xstrdup(job->extra[i]);
		v->job.extra[i] = v->extra[i];
	}
	v->uids = uids;
	v->nuids = n;
	s->cmd.state = v;
	s->cmd.state_free = vanished_state_free;
	vanished_query(v);
}

void
fetch_vanished(struct session *s, struct fetch_job *job, uint32_t *uids,
    size_t n, uint64_t modseq, const struct imap_range *set, size_t nset)
{
	/* An empty set: nothing vanished (and NULL would mean all). */
	if (nset == 0) {
		fetch_job_run(s, job, uids, n);
		return;
	}
	vanished_start(s, job, uids, n, modseq, set, nset);
}

/* The UIDs of the view within known (all when known is NULL). */
static uint32_t *
view_known(const struct mbox *m, const struct imap_range *known,
    size_t nknown, size_t *n_r)
{
	uint32_t	*uids = NULL;
	size_t		 n = 0, k = 0;

	if (m->n > 0)
		uids = xreallocarray(NULL, m->n, sizeof(*uids));
	for (size_t i = 0; i < m->n; i++) {
		while (known != NULL && k < nknown && known[k].hi < m->uids[i])
			k++;
		if (known != NULL && (k == nknown || known[k].lo > m->uids[i]))
			continue;
		uids[n++] = m->uids[i];
	}
	*n_r = n;
	return uids;
}

void
fetch_qresync(struct session *s, uint64_t modseq,
    const struct imap_range *known, size_t nknown, const char *done_text)
{
	struct fetch_job	 job;
	uint32_t		*uids;
	size_t			 n;
	char			 since[24];

	memset(&job, 0, sizeof(job));
	job.items = xcalloc(3, sizeof(*job.items));
	job.items[0].att = FA_UID;
	job.items[1].att = FA_FLAGS;
	job.items[2].att = FA_MODSEQ;
	job.nitems = 3;
	snprintf(since, sizeof(since), "%llu", (unsigned long long)modseq);
	job.sql = mdb_fetch_sql;
	job.extra[0] = job.extra[1] = job.extra[2] = job.extra[4] = "f";
	job.extra[3] = since;
	job.nextra = 5;
	job.batch = QRESYNC_BATCH;
	job.done_text = done_text;
	uids = view_known(s->sel, known, nknown, &n);
	vanished_start(s, &job, uids, n, modseq, known, nknown);
}
