/*
 * wharf/queue.c — `wharf queue list|show`: what qmgr holds.  All the SQL
 * of this subsystem is here.  (flush, hold, release and delete come with
 * the outbound queue.)
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

int
cmd_queue(struct wharf *w, int argc, char **argv)
{
	struct adm	 a = { .w = w };
	int		 rc;

	if (argc == 1 && strcmp(argv[0], "list") == 0)
		a.what = "queue list";
	else if (argc == 2 && strcmp(argv[0], "show") == 0)
		a.what = "queue show";
	else
		return wharf_usage();
	if (adm_open(&a) == -1)
		return WHARF_EXIT_ERR;
	rc = argc == 1 ? queue_list(&a, argc - 1, argv + 1) :
	    queue_show(&a, argc - 1, argv + 1);
	adm_close(&a);
	return rc;
}
