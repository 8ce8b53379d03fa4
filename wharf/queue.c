/*
 * wharf/queue.c — `wharf queue list|show|flush|hold|release|delete` (and
 * `mailq`): what qmgr holds, and telling it what to do with it.  All the
 * SQL of this subsystem is here.  Changes are NOTIFYed on wharf_queue so
 * qmgr looks at the queue at once instead of at its next scan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "wharf.h"

static int
queue_list(struct adm *a, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return adm_list(a,
	    "SELECT q.queue_id, "
	    "  to_char(q.created_at AT TIME ZONE 'UTC', "
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), q.size, "
	    "  '<' || q.sender || '>', "
	    "  CASE WHEN q.held THEN 'held ' ELSE '' END || "
	    "  string_agg(r.n || ' ' || r.status, ', ' ORDER BY r.status) "
	    "FROM queue q JOIN (SELECT queue, status, count(*) AS n "
	    "  FROM queue_recipients GROUP BY queue, status) r "
	    "  ON r.queue = q.id "
	    "GROUP BY q.id ORDER BY q.id", 0, NULL);
}

static int
queue_show(struct adm *a, int argc, char **argv)
{
	const char	*p[] = { argv[0] };
	bool		 failed;
	char		*id;

	(void)argc;
	id = adm_value(a, "SELECT id FROM queue WHERE queue_id = $1", 1, p,
	    &failed);
	if (id == NULL)
		return failed ? WHARF_EXIT_ERR :
		    adm_fail(a, "no queue entry %s", argv[0]);
	free(id);
	if (adm_list(a,
	    "SELECT 'id', queue_id FROM queue WHERE queue_id = $1 UNION ALL "
	    "SELECT 'from', '<' || sender || '>' FROM queue "
	    "  WHERE queue_id = $1 UNION ALL "
	    "SELECT 'size', size::text FROM queue WHERE queue_id = $1 "
	    "UNION ALL SELECT 'arrived', to_char(created_at AT TIME ZONE "
	    "  'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM queue "
	    "  WHERE queue_id = $1 UNION ALL "
	    "SELECT 'client', coalesce(host(client_addr), '-') || ' ' || "
	    "  coalesce(client_helo, '-') || ' ' || coalesce(protocol, '-') "
	    "  FROM queue WHERE queue_id = $1", 1, p) != WHARF_EXIT_OK)
		return WHARF_EXIT_ERR;
	return adm_list(a,
	    "SELECT 'to=<' || r.address || '>', "
	    "  CASE WHEN r.address <> r.rcpt THEN 'rcpt=<' || r.rcpt || '>' "
	    "  ELSE '' END, r.transport, 'status=' || r.status, "
	    "  'attempts=' || r.attempts, "
	    "  coalesce(r.last_reply, '') "
	    "FROM queue_recipients r JOIN queue q ON q.id = r.queue "
	    "WHERE q.queue_id = $1 ORDER BY r.id", 1, p);
}

/* "ALL" or one queue id: the WHERE of the statements below uses $1. */
static bool
queue_is_all(const char *id)
{
	return strcmp(id, "ALL") == 0;
}

/*
 * One change to the messages named by $1 ("ALL" or a queue id); prints
 * how many messages it touched.  NOTIFY wakes qmgr.
 */
static int
queue_change(struct adm *a, const char *id, const char *sql,
    const char *done)
{
	const char	*p[] = { id };
	int		 n;

	if ((n = adm_rows(a, sql, 1, p)) == -1)
		return WHARF_EXIT_ERR;
	if (n == 0 && !queue_is_all(id))
		return adm_fail(a, "no queue entry %s", id);
	printf("wharf: %d message%s %s\n", n, n == 1 ? "" : "s", done);
	return WHARF_EXIT_OK;
}

#define QUEUE_WHERE	"($1 = 'ALL' OR q.queue_id = $1)"

/* Retry now what waits for a retry (held messages stay held). */
static int
queue_flush(struct adm *a, const char *id)
{
	return queue_change(a, id,
	    "WITH r AS (UPDATE queue_recipients r SET next_attempt_at = now() "
	    "  FROM queue q WHERE q.id = r.queue AND " QUEUE_WHERE
	    "  AND r.status IN ('pending', 'deferred') RETURNING r.queue), "
	    "n AS (SELECT pg_notify('wharf_queue', 'flush')) "
	    "SELECT DISTINCT queue FROM r, n", "to be retried now");
}

static int
queue_hold(struct adm *a, const char *id)
{
	return queue_change(a, id,
	    "UPDATE queue q SET held = true WHERE " QUEUE_WHERE
	    " RETURNING q.id", "held");
}

/* Released messages are tried at once. */
static int
queue_release(struct adm *a, const char *id)
{
	return queue_change(a, id,
	    "WITH q AS (UPDATE queue q SET held = false WHERE " QUEUE_WHERE
	    "  RETURNING q.id), "
	    "r AS (UPDATE queue_recipients r SET next_attempt_at = now() "
	    "  FROM q WHERE r.queue = q.id), "
	    "n AS (SELECT pg_notify('wharf_queue', 'release')) "
	    "SELECT q.id FROM q, n", "released");
}

/* Gone without a bounce; the blob loses the queue's reference. */
static int
queue_delete(struct adm *a, const char *id)
{
	return queue_change(a, id,
	    "WITH d AS (DELETE FROM queue q WHERE " QUEUE_WHERE
	    "  RETURNING q.id, q.blob_id), "
	    "b AS (UPDATE blobs b SET refcount = b.refcount - x.n "
	    "  FROM (SELECT blob_id, count(*) AS n FROM d GROUP BY blob_id) x "
	    "  WHERE b.id = x.blob_id) "
	    "SELECT id FROM d", "deleted");
}

static const struct {
	const char	*name;
	int		 min, max;	/* arguments after the name */
	int		(*fn)(struct adm *, const char *);
} queue_cmds[] = {
	{ "flush", 0, 1, queue_flush },
	{ "hold", 1, 1, queue_hold },
	{ "release", 1, 1, queue_release },
	{ "delete", 1, 1, queue_delete },
};

int
cmd_queue(struct wharf *w, int argc, char **argv)
{
	struct adm	 a = { .w = w };
	char		*what = NULL;
	int		 rc = -1;

	if (argc == 1 && strcmp(argv[0], "list") == 0)
		a.what = "queue list";
	else if (argc == 2 && strcmp(argv[0], "show") == 0)
		a.what = "queue show";
	for (size_t i = 0; argc > 0 && a.what == NULL &&
	    i < sizeof(queue_cmds) / sizeof(queue_cmds[0]); i++)
		if (strcmp(argv[0], queue_cmds[i].name) == 0 &&
		    argc - 1 >= queue_cmds[i].min &&
		    argc - 1 <= queue_cmds[i].max)
			rc = (int)i;
	if (a.what == NULL && rc == -1)
		return wharf_usage();
	if (a.what == NULL)
		a.what = what = xasprintf("queue %s", queue_cmds[rc].name);
	if (adm_open(&a) == -1)
		rc = WHARF_EXIT_ERR;
	else if (rc >= 0)
		rc = queue_cmds[rc].fn(&a, argc > 1 ? argv[1] : "ALL");
	else
		rc = argc == 1 ? queue_list(&a, argc - 1, argv + 1) :
		    queue_show(&a, argc - 1, argv + 1);
	adm_close(&a);
	free(what);
	return rc;
}
