/*
 * imapd/expunge.c — EXPUNGE (RFC 9051 6.4.3), UID EXPUNGE (RFC 4315 2.1,
 * RFC 9051 6.4.9) and the silent expunge of CLOSE (6.4.1).
 */
#include <stdio.h>
#include <stdlib.h>

#include "imap_parse.h"
#include "log.h"
#include "xmalloc.h"
#include "imapd.h"

struct expunge {
	struct session	*s;
	void		(*fn)(struct session *);	/* NULL: EXPUNGE */
	bool		 answered;
};

static void
expunge_free(void *arg)
{
	struct expunge	*x = arg;

	if (!x->answered) {
		x->s = NULL;	/* the answer comes later: freed then */
		return;
	}
	free(x);
}

static void
expunge_result(PGresult *res, const char *err, void *arg)
{
	struct expunge	*x = arg;
	struct session	*s = x->s;

	x->answered = true;
	if (s == NULL) {
		free(x);
		return;
	}
	if (res == NULL) {
		log_warnx("%s expunge: %s", s->id, err);
		cmd_done(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	if (x->fn != NULL) {		/* CLOSE: no EXPUNGE responses */
		x->fn(s);
		return;
	}
	mbox_expunged(s, res, 0);
	cmd_done_sync(s, true, "OK", "EXPUNGE completed");
}

static void
expunge_start(struct session *s, const char *uids,
    void (*fn)(struct session *))
{
	struct expunge	*x = xcalloc(1, sizeof(*x));
	char		 id[24];

	x->s = s;
	x->fn = fn;
	s->cmd.state = x;
	s->cmd.state_free = expunge_free;
	snprintf(id, sizeof(id), "%llu", (unsigned long long)s->sel->id);
	mdb_query(s->d, mdb_expunge_sql, 2, (const char *const[]){ id, uids },
	    expunge_result, x);
}

void
mbox_expunge_silent(struct session *s, void (*fn)(struct session *))
{
	expunge_start(s, NULL, fn);
}

void
cmd_expunge(struct session *s)
{
	uint32_t	*uids = NULL;
	size_t		 n = 0;
	char		*list;

	if (s->cmd.nargs != (s->cmd.uid ? 1 : 0)) {
		cmd_done(s, "BAD", "Syntax: %sEXPUNGE%s", s->cmd.uid ?
		    "UID " : "", s->cmd.uid ? " uid-set" : "");
		return;
	}
	if (s->sel->readonly) {
		cmd_done(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (s->cmd.uid && mbox_set(s, &s->cmd.args[0], true, &uids, &n) == -1)
		return;
	list = s->cmd.uid ? mbox_uids_pg(uids, n) : NULL;
	expunge_start(s, list, NULL);
	free(list);
	free(uids);
}
