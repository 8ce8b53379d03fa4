/*
 * deliver/mailbox_db.c — every statement of the wharf_deliver role, to be
 * read against its grants (sql/003_queue.sql).
 *
 * Delivering to one recipient is two statements: make sure the user's
 * default folders exist (idempotent), then one statement that claims the
 * queue_recipients row (pending -> sent), takes the next UID and modseq
 * of INBOX (a row lock: concurrent deliveries to one mailbox serialise
 * here), inserts the message referencing the shared blob, counts the
 * reference and NOTIFYs the mailbox.  It is all or nothing, and a row
 * already sent is not claimed again: retried deliveries never duplicate.
 * The row's full-text vector (imapd's SEARCH BODY/TEXT) is made from the
 * words of this recipient's prefix and of the message (parse.c); NULL
 * when the message's were too many.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "mime.h"
#include "proto_deliver.h"
#include "xmalloc.h"
#include "deliver.h"

#define DB_TIMEOUT_MS	60000

/*
 * $1 user id, $2 UIDVALIDITY: INBOX and the RFC 6154 special-use folders
 * that are missing, each subscribed as it is made (sql/010); folders
 * that exist keep their subscription state (Junk unsubscribed stays so).
 */
static const char folders_sql[] =
    "WITH made AS (INSERT INTO mailboxes (user_id, name, uidvalidity, "
    "  special_use) "
    "  SELECT $1, f.name, $2::bigint, f.use FROM (VALUES "
    "  ('INBOX', NULL), ('Drafts', '\\Drafts'), ('Sent', '\\Sent'), "
    "  ('Trash', '\\Trash'), ('Junk', '\\Junk'), "
    "  ('Archive', '\\Archive')) AS f(name, use) "
    "  WHERE EXISTS (SELECT 1 FROM users WHERE id = $1) "
    "  ON CONFLICT (user_id, name) DO NOTHING RETURNING user_id, name) "
    "INSERT INTO subscriptions (user_id, name) "
    "SELECT user_id, name FROM made ON CONFLICT DO NOTHING";

/*
 * $1 queue_recipients id, $2 user id, $3 blob name, $4 its size, $5 the
 * prefix, $6 envelope, $7 bodystructure, $8 the prefix's words, $9 the
 * message's words (NULL: no vector).
 */
static const char deliver_sql[] =
    "WITH claim AS (UPDATE queue_recipients SET status = 'sent', "
    "  attempts = attempts + 1, last_attempt_at = now(), "
    "  last_reply = '2.0.0 delivered', dsn_status = '2.0.0' "
    "  WHERE id = $1 AND status IN ('pending', 'deferred') RETURNING id), "
    "mb AS (UPDATE mailboxes SET uidnext = uidnext + 1, "
    "  highestmodseq = highestmodseq + 1 "
    "  WHERE user_id = $2 AND name = 'INBOX' "
    "  AND EXISTS (SELECT 1 FROM claim) "
    "  RETURNING id, uidnext - 1 AS uid, highestmodseq AS modseq), "
    "blob AS (SELECT id FROM blobs WHERE name = $3), "
    "msg AS (INSERT INTO messages (mailbox_id, uid, modseq, size, blob_id, "
    "  prefix, delivery_id, envelope, bodystructure, fts) "
    "  SELECT mb.id, mb.uid, mb.modseq, $4::bigint + octet_length("
    "  convert_to($5, 'UTF8')), blob.id, convert_to($5, 'UTF8'), $1, "
    "  $6, $7, strip(to_tsvector('simple', $8::text || ' ' || $9::text)) "
    "  FROM mb, blob RETURNING mailbox_id, uid), "
    "ref AS (UPDATE blobs SET refcount = refcount + 1 "
    "  WHERE id = (SELECT id FROM blob) AND EXISTS (SELECT 1 FROM msg) "
    "  RETURNING id) "
    "SELECT (SELECT mailbox_id FROM msg), (SELECT uid FROM msg), "
    "  (SELECT count(*) FROM (SELECT pg_notify('wharf_mailbox', "
    "  mailbox_id::text) FROM msg) n), (SELECT count(*) FROM claim)";

struct step {
	struct dmsg	*m;
	struct drcpt	*r;
	void		(*done)(struct dmsg *);
	char		*prefix;
	char		*prefix_words;
};

static void
rcpt_result(struct drcpt *r, uint32_t status, const char *reply)
{
	free(r->reply);
	r->status = status;
	r->reply = xstrdup(reply);
}

/*
 * One row back.  mailbox_id NULL with claim 0: the row was sent before
 * (a retry after a crash): success, nothing inserted.  With claim 1 and no
 * message: the INBOX or the blob is missing.
 */
static void
deliver_result(PGresult *res, const char *err, void *arg)
{
	struct step	*s = arg;
	char		 addr[300];

	log_safe(addr, sizeof(addr), s->r->address, strlen(s->r->address));
	if (res == NULL) {
		log_warnx("%s: to=<%s> status=deferred (%s)", s->m->queue_id,
		    addr, err);
		rcpt_result(s->r, DELIVER_TEMPFAIL, "4.3.0 database error");
	} else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		log_info("%s: to=<%s> status=sent mailbox=%s uid=%s",
		    s->m->queue_id, addr, PQgetvalue(res, 0, 0),
		    PQgetvalue(res, 0, 1));
		rcpt_result(s->r, DELIVER_OK, "2.0.0 delivered");
	} else if (PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 3), "0") == 0) {
		log_info("%s: to=<%s> already delivered", s->m->queue_id, addr);
		rcpt_result(s->r, DELIVER_OK, "2.0.0 already delivered");
	} else {
		log_warnx("%s: to=<%s> status=deferred (no INBOX or blob)",
		    s->m->queue_id, addr);
		rcpt_result(s->r, DELIVER_TEMPFAIL, "4.3.0 mailbox unavailable");
	}
	free(s->prefix);
	free(s->prefix_words);
	s->done(s->m);
	free(s);
}

static void
folders_result(PGresult *res, const char *err, void *arg)
{
	struct step	*s = arg;
	char		 row[32], user[32], size[32];

	if (res == NULL) {
		log_warnx("%s: creating folders failed: %s", s->m->queue_id,
		    err);
		rcpt_result(s->r, DELIVER_TEMPFAIL, "4.3.0 database error");
		free(s->prefix);
		free(s->prefix_words);
		s->done(s->m);
		free(s);
		return;
	}
	snprintf(row, sizeof(row), "%llu", (unsigned long long)s->r->row);
	snprintf(user, sizeof(user), "%llu", (unsigned long long)s->r->user_id);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)s->m->size);
	db_query(s->m->d->db, deliver_sql, 9, (const char *const[]){ row,
	    user, s->m->blob, size, s->prefix, s->m->envelope,
	    s->m->bodystructure, s->prefix_words, s->m->fts_text },
	    DB_TIMEOUT_MS, deliver_result, s);
}

/* RFC 5321 4.4: Return-Path at final delivery; Delivered-To as Postfix. */
static char *
make_prefix(const char *sender, const char *address)
{
	return xasprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n", sender,
	    address);
}

/* The words of the prefix, as SEARCH TEXT sees it in front of the blob. */
static char *
prefix_words(const char *prefix)
{
	struct buf	 b;

	buf_init(&b, SIZE_MAX / 2);
	(void)mime_search_text((const uint8_t *)prefix, strlen(prefix), &b,
	    SIZE_MAX / 2);
	return buf_steal(&b, NULL);
}

void
mailbox_db_deliver(struct dmsg *m, struct drcpt *r,
    void (*done)(struct dmsg *))
{
	struct step	*s = xcalloc(1, sizeof(*s));
	char		 user[32], uidvalidity[32];

	s->m = m;
	s->r = r;
	s->done = done;
	s->prefix = make_prefix(m->sender, r->address);
	s->prefix_words = prefix_words(s->prefix);
	snprintf(user, sizeof(user), "%llu", (unsigned long long)r->user_id);
	/* RFC 3501 2.3.1.1: a fresh UIDVALIDITY; seconds are fine. */
	snprintf(uidvalidity, sizeof(uidvalidity), "%lld",
	    (long long)(time(NULL) % 4294967295LL) + 1);
	db_query(m->d->db, folders_sql, 2, (const char *const[]){ user,
	    uidvalidity }, DB_TIMEOUT_MS, folders_result, s);
}
