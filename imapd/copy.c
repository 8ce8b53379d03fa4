/*
 * imapd/copy.c — COPY and UID COPY (RFC 9051 6.4.7, 6.4.9), MOVE and UID
 * MOVE (RFC 6851), with COPYUID (RFC 4315 3).
 *
 * One statement each (mailbox_db.c): the copies get consecutive UIDs
 * from the target's uidnext in the order of the source UIDs, so the
 * answer is a count rather than a row per message, whatever the set; the
 * few UIDs expunged meanwhile by another session come back as a list.
 * A copy shares the blob (one more reference); a move moves the row and
 * logs the source UID as expunged.  RFC 6851 3.3: MOVE says COPYUID in
 * an untagged OK before the EXPUNGE responses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_parse.h"
#include "log.h"
#include "xmalloc.h"
#include "imapd.h"

#define RESP_MAX	(64 * 1024 * 1024)

struct copy {
	bool		 move;
	uint32_t	*uids;		/* asked for, ascending */
	size_t		 n;
	uint32_t	*dst;		/* the copies' UIDs, if not a range */
	size_t		 ndst;
};

static void
copy_free(void *arg)
{
	struct copy	*c = arg;

	free(c->uids);
	free(c->dst);
	free(c);
}

/* A UID set, ascending values, as ranges ("3:5,9"). */
static void
set_write(struct buf *b, const uint32_t *v, size_t n)
{
	size_t	 i = 0, j;

	while (i < n) {
		for (j = i; j + 1 < n && v[j + 1] == v[j] + 1; j++)
			;
		buf_printf(b, "%s%u", i > 0 ? "," : "", v[i]);
		if (j > i)
			buf_printf(b, ":%u", v[j]);
		i = j + 1;
	}
}

/* Elements of a bigint[] in text form, ascending, into v (n max). */
static void
pg_uid(const char *el, size_t len, void *arg)
{
	struct copy	*c = arg;
	uint64_t	 u;
	const char	*why;

	(void)len;
	if (c->ndst < c->n && str_to_u64(el, 1, UINT32_MAX, &u, &why) == 0)
		c->dst[c->ndst++] = (uint32_t)u;
}

/*
 * Drop the UIDs of the missing list (ascending, a bigint[]) from
 * c->uids: those are not copied.
 */
static void
drop_missing(struct copy *c, const char *missing)
{
	size_t	 k = 0, j = 0;

	c->dst = xreallocarray(NULL, c->n + 1, sizeof(*c->dst));
	c->ndst = 0;
	(void)flags_pg_array(missing, pg_uid, c);
	for (size_t i = 0; i < c->n; i++) {
		while (j < c->ndst && c->dst[j] < c->uids[i])
			j++;
		if (j < c->ndst && c->dst[j] == c->uids[i])
			continue;
		c->uids[k++] = c->uids[i];
	}
	c->n = k;
	free(c->dst);
	c->dst = NULL;
	c->ndst = 0;
}

/* "COPYUID uidvalidity source-set dest-set" from a result row. */
static void
copyuid_write(struct buf *b, struct copy *c, PGresult *res)
{
	uint64_t	 first = strtoull(PQgetvalue(res, 0, 1), NULL, 10);

	buf_printf(b, "COPYUID %s ", PQgetvalue(res, 0, 0));
	set_write(b, c->uids, c->n);
	buf_add(b, " ", 1);
	if (PQgetisnull(res, 0, 4)) {
		if (c->n == 1)
			buf_printf(b, "%llu", (unsigned long long)first);
		else
			buf_printf(b, "%llu:%llu", (unsigned long long)first,
			    (unsigned long long)(first + c->n - 1));
		return;
	}
	c->dst = xreallocarray(NULL, c->n + 1, sizeof(*c->dst));
	(void)flags_pg_array(PQgetvalue(res, 0, 4), pg_uid, c);
	set_write(b, c->dst, c->ndst);
}

/* ---- MOVE's expunges ---- */

static void
move_sent(struct session *s)
{
	cmd_done_sync(s, true, "OK", "MOVE completed");
}

/* "* VANISHED uid-set" of the moved messages still in the view. */
static void
move_vanished(const struct mbox *m, const struct copy *c, struct buf *out)
{
	struct buf	 set;
	struct set_out	 v;

	buf_init(&set, RESP_MAX);
	set_out_init(&v, &set);
	for (size_t i = 0; i < c->n; i++)
		if (mbox_seq(m, c->uids[i]) != 0)
			set_out_add(&v, c->uids[i]);
	set_out_end(&v);
	if (v.n > 0)
		buf_printf(out, "* VANISHED %s\r\n", buf_cstr(&set));
	buf_clear(&set);
}

/*
 * EXPUNGE for each moved message still in the view, highest sequence
 * number first (so each number is still right when it is read), then
 * the view without them.
 */
static void
move_expunges(struct session *s, struct copy *c, struct buf *out)
{
	struct mbox	*m = s->sel;
	size_t		 seq, k = 0, j = 0;

	if (s->qresync)		/* RFC 7162 3.2.10: VANISHED instead */
		move_vanished(m, c, out);
	else
		for (size_t i = c->n; i-- > 0; )
			if ((seq = mbox_seq(m, c->uids[i])) != 0)
				buf_printf(out, "* %zu EXPUNGE\r\n", seq);
	for (size_t i = 0; i < m->n; i++) {
		while (j < c->n && c->uids[j] < m->uids[i])
			j++;
		if (j < c->n && c->uids[j] == m->uids[i])
			continue;
		m->uids[k++] = m->uids[i];
	}
	m->n = k;
}

static void
move_done(struct session *s, struct copy *c, PGresult *res)
{
	struct buf	 out;

	buf_init(&out, RESP_MAX);
	buf_add_str(&out, "* OK [");
	copyuid_write(&out, c, res);
	buf_add_str(&out, "] Moved\r\n");
	move_expunges(s, c, &out);
	copy_free(c);
	mailboxes_send(s, &out, move_sent);
}

/* ---- COPY and MOVE ---- */

static void
copy_result(struct session *s, PGresult *res, const char *err, void *data)
{
	struct copy	*c = data;
	struct buf	 text;

	if (res == NULL || PQntuples(res) != 1) {
		if (res == NULL)
			mailboxes_db_failed(s, c->move ? "move" : "copy", err);
		else
			cmd_done(s, "NO", "[TRYCREATE] No such mailbox");
		copy_free(c);
		return;
	}
	if (!PQgetisnull(res, 0, 3))
		drop_missing(c, PQgetvalue(res, 0, 3));
	if (c->n == 0) {	/* all gone meanwhile, or none asked for */
		cmd_done_sync(s, true, "OK", c->move ? "MOVE completed" :
		    "COPY completed");
		copy_free(c);
		return;
	}
	log_info("%s %s n=%zu", s->id, c->move ? "move" : "copy", c->n);
	if (c->move) {
		move_done(s, c, res);
		return;
	}
	buf_init(&text, RESP_MAX);
	buf_add_str(&text, "[");
	copyuid_write(&text, c, res);
	buf_add_str(&text, "] COPY completed");
	copy_free(c);
	cmd_done_sync(s, true, "OK", buf_cstr(&text));
	buf_clear(&text);
}

/* COPY, MOVE, UID COPY, UID MOVE: set mailbox. */
void
cmd_copy(struct session *s)
{
	struct copy	*c;
	char		*name, *list, id[24], user[24];

	if (s->cmd.nargs != 2) {
		cmd_done(s, "BAD", "Syntax: %s%s sequence-set mailbox",
		    s->cmd.uid ? "UID " : "", s->cmd.name);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->move = strcmp(s->cmd.name, "MOVE") == 0;
	if (mbox_set(s, &s->cmd.args[0], s->cmd.uid, &c->uids, &c->n) == -1 ||
	    (name = mbox_name_arg(s, &s->cmd.args[1])) == NULL) {
		copy_free(c);
		return;
	}
	if (c->move && (s->sel->readonly || strcmp(name, s->sel->name) == 0)) {
		cmd_done(s, "NO", s->sel->readonly ? "[READ-ONLY] Mailbox is "
		    "read-only" : "[CANNOT] Source and target are the same "
		    "mailbox");
		free(name);
		copy_free(c);
		return;
	}
	snprintf(id, sizeof(id), "%llu", (unsigned long long)s->sel->id);
	snprintf(user, sizeof(user), "%llu", (unsigned long long)s->user_id);
	list = mbox_uids_pg(c->uids, c->n);
	mailboxes_query(s, c->move ? mdb_move_sql : mdb_copy_sql, 4,
	    (const char *const[]){ id, list, user, name }, copy_result, c,
	    copy_free);
	free(list);
	free(name);
}
