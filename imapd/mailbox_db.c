/*
 * imapd/mailbox_db.c — every statement of the wharf_imapd role, to be read
 * against its grants (sql/005_imapd.sql).
 *
 * Rules all of them keep:
 *  - every row touched belongs to the session's user: mailboxes by
 *    (user_id, name) or by an id that came from such a lookup;
 *  - a change to messages takes one new modseq from its mailbox
 *    (UPDATE mailboxes ... RETURNING highestmodseq: the row lock orders
 *    the changes of one mailbox by commit, so a reader that sees
 *    highestmodseq H sees every change up to H) and NOTIFYs wharf_mailbox
 *    with the mailbox id in the same statement;
 *  - expunging deletes the row, logs it in expunged with that modseq and
 *    drops the blob reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "imap_parse.h"
#include "log.h"
#include "mime.h"
#include "xmalloc.h"
#include "imapd.h"

#define MDB_TIMEOUT_MS	60000

void
mdb_query(struct imapd *d, const char *sql, int n, const char *const *params,
    mdb_fn *fn, void *arg)
{
	db_query(d->db, sql, n, params, MDB_TIMEOUT_MS, fn, arg);
}

/* ---- selecting (mbox.c) ---- */

/*
 * $1 user id, $2 name, $3 claim \Recent (a read-write IMAP4rev1
 * session), $4 the batch size: one row per message (uid, flags,
 * keywords) in uid order, the first $4 of them, each with the mailbox's
 * id, uidvalidity, uidnext, highestmodseq and then the first recent UID,
 * and what the IMAP4rev2 LIST line of the answer shows (RFC 9051 6.3.2):
 * special_use, whether the name is subscribed, whether the mailbox has
 * inferiors; one row with NULL uid for an empty mailbox; none when it
 * does not exist.  One snapshot; mdb_select_more_sql reads the rest.
 *
 * \Recent (RFC 3501 2.3.2, sql/006_recent.sql): with $3 the UIDs from
 * recent_uid (as locked: another session may have claimed some since
 * the snapshot) up to the snapshot's uidnext are claimed and the first
 * recent UID is the old recent_uid, NULL when none was left; without
 * $3 (EXAMINE) nothing is claimed and the unclaimed ones show as
 * recent.  The lock is only taken when there is something to claim.
 */
const char mdb_select_sql[] =
    "WITH mb AS (SELECT id, uidvalidity, uidnext, highestmodseq, "
    "  recent_uid, special_use FROM mailboxes "
    "  WHERE user_id = $1 AND name = $2), "
    "old AS (SELECT x.recent_uid FROM mailboxes x, mb WHERE x.id = mb.id "
    "  AND $3::boolean AND x.recent_uid < mb.uidnext FOR UPDATE OF x), "
    "claim AS (UPDATE mailboxes x SET recent_uid = mb.uidnext "
    "  FROM mb, old WHERE x.id = mb.id AND old.recent_uid < mb.uidnext "
    "  RETURNING old.recent_uid AS first) "
    "SELECT mb.id, mb.uidvalidity, mb.uidnext, mb.highestmodseq, m.uid, "
    "  m.flags, m.keywords, CASE WHEN $3::boolean "
    "  THEN (SELECT first FROM claim) ELSE mb.recent_uid END, "
    "  mb.special_use, EXISTS (SELECT 1 FROM subscriptions "
    "  WHERE user_id = $1 AND name = $2), EXISTS (SELECT 1 FROM mailboxes "
    "  WHERE user_id = $1 AND starts_with(name, $2 || '/')) "
    "FROM mb LEFT JOIN messages m ON m.mailbox_id = mb.id ORDER BY m.uid "
    "LIMIT $4";

/*
 * $1 mailbox id, $2 the UID after which to go on, $3 the uidnext of
 * mdb_select_sql's snapshot, $4 the batch size: the next messages of
 * that snapshot's UID range (uid, flags, keywords) in uid order.  Each
 * batch is its own snapshot: see mbox.c for why that is enough.
 */
const char mdb_select_more_sql[] =
    "SELECT uid, flags, keywords FROM messages WHERE mailbox_id = $1 "
    "  AND uid > $2 AND uid < $3 ORDER BY uid LIMIT $4";

/*
 * $1 mailbox id, $2 modseq known, $3 claim \Recent (as in
 * mdb_select_sql), $4 the uidnext known, $5 the batch size: what changed
 * since.  Rows: kind ('x' expunged, 'm' a message added or changed),
 * uid, flags, keywords, modseq — the first $5 of each kind by uid; every
 * row also carries the mailbox's highestmodseq and uidnext, and the
 * first recent UID among the new messages (claimed with $3, else the
 * first unclaimed one; NULL: none), and there is always one 'b' row with
 * them (none: the mailbox is gone).  mdb_sync_expunged_sql and
 * mdb_sync_changed_sql read the rest of a kind, up to that
 * highestmodseq.
 */
const char mdb_sync_sql[] =
    "WITH mb AS (SELECT highestmodseq, uidnext, recent_uid FROM mailboxes "
    "  WHERE id = $1), "
    "old AS (SELECT x.recent_uid FROM mailboxes x, mb WHERE x.id = $1 "
    "  AND $3::boolean AND mb.uidnext > $4::bigint "
    "  AND x.recent_uid < mb.uidnext FOR UPDATE OF x), "
    "claim AS (UPDATE mailboxes x SET recent_uid = mb.uidnext "
    "  FROM mb, old WHERE x.id = $1 AND old.recent_uid < mb.uidnext "
    "  RETURNING old.recent_uid AS first), "
    "r AS (SELECT CASE WHEN $3::boolean THEN (SELECT first FROM claim) "
    "  ELSE mb.recent_uid END AS first FROM mb) "
    "SELECT 'b' AS k, 0::bigint AS uid, 0 AS flags, '{}'::text[] AS kw, "
    "  0::bigint AS modseq, mb.highestmodseq, mb.uidnext, r.first "
    "  FROM mb, r "
    "UNION ALL "
    "(SELECT 'x', e.uid, 0, '{}', e.modseq, mb.highestmodseq, mb.uidnext, "
    "  r.first FROM mb, r, expunged e "
    "  WHERE e.mailbox_id = $1 AND e.modseq > $2 ORDER BY e.uid LIMIT $5) "
    "UNION ALL "
    "(SELECT 'm', m.uid, m.flags, m.keywords, m.modseq, mb.highestmodseq, "
    "  mb.uidnext, r.first FROM mb, r, messages m "
    "  WHERE m.mailbox_id = $1 AND m.modseq > $2 ORDER BY m.uid LIMIT $5) "
    "ORDER BY 2, 1";

/*
 * $1 mailbox id, $2 modseq known, $3 the highestmodseq of the sync, $4
 * the UID after which to go on, $5 the batch size: the next rows of one
 * kind of mdb_sync_sql (kind, uid, flags, keywords, modseq), by uid.
 */
const char mdb_sync_expunged_sql[] =
    "SELECT 'x', uid, 0, '{}'::text[], modseq FROM expunged "
    "WHERE mailbox_id = $1 AND modseq > $2 AND modseq <= $3 AND uid > $4 "
    "ORDER BY uid LIMIT $5";
const char mdb_sync_changed_sql[] =
    "SELECT 'm', uid, flags, keywords, modseq FROM messages "
    "WHERE mailbox_id = $1 AND modseq > $2 AND modseq <= $3 AND uid > $4 "
    "ORDER BY uid LIMIT $5";

/* ---- mailboxes (mailboxes.c) ---- */

/*
 * A new UIDVALIDITY for the user $1 (RFC 9051 2.3.1.1): the time in
 * seconds, but always above every one the user's mailboxes have, so a
 * name deleted and created again within a second still gets a new one.
 */
#define NEW_UIDVALIDITY \
    "(SELECT LEAST(4294967295, GREATEST(" \
    "  extract(epoch FROM clock_timestamp())::bigint, " \
    "  coalesce(max(uidvalidity), 0) + 1)) FROM mailboxes " \
    "  WHERE user_id = $1)"

/*
 * $1 user id: INBOX and the RFC 6154 special-use folders deliver makes
 * (deliver/mailbox_db.c), when the user has no INBOX yet (the first
 * login before any mail came), each subscribed as it is made.  No rows.
 */
const char mdb_folders_sql[] =
    "WITH made AS (INSERT INTO mailboxes (user_id, name, uidvalidity, "
    "  special_use) "
    "  SELECT $1, f.name, " NEW_UIDVALIDITY ", f.use FROM (VALUES "
    "  ('INBOX', NULL), ('Drafts', '\\Drafts'), ('Sent', '\\Sent'), "
    "  ('Trash', '\\Trash'), ('Junk', '\\Junk'), "
    "  ('Archive', '\\Archive')) AS f(name, use) "
    "  WHERE EXISTS (SELECT 1 FROM users WHERE id = $1) "
    "  AND NOT EXISTS (SELECT 1 FROM mailboxes WHERE user_id = $1 "
    "  AND name = 'INBOX') "
    "  ON CONFLICT (user_id, name) DO NOTHING RETURNING user_id, name) "
    "INSERT INTO subscriptions (user_id, name) "
    "SELECT user_id, name FROM made ON CONFLICT DO NOTHING";

/*
 * $1 user id, $2 name, $3 text[] of its superiors ("a", "a/b" for
 * "a/b/c"), made too when missing (RFC 9051 6.3.4).  What is made is
 * subscribed, as every new mailbox was before sql/010.  One row (id,
 * uidvalidity) when $2 was made, none when it existed.
 */
const char mdb_create_sql[] =
    "WITH uv AS (SELECT " NEW_UIDVALIDITY " AS v), "
    "up AS (INSERT INTO mailboxes (user_id, name, uidvalidity) "
    "  SELECT $1, p, uv.v FROM unnest($3::text[]) p, uv "
    "  ON CONFLICT (user_id, name) DO NOTHING RETURNING name), "
    "mk AS (INSERT INTO mailboxes (user_id, name, uidvalidity) "
    "  SELECT $1, $2, uv.v FROM uv "
    "  ON CONFLICT (user_id, name) DO NOTHING "
    "  RETURNING id, uidvalidity, name), "
    "sub AS (INSERT INTO subscriptions (user_id, name) "
    "  SELECT $1, name FROM up UNION ALL SELECT $1, name FROM mk "
    "  ON CONFLICT DO NOTHING) "
    "SELECT id, uidvalidity FROM mk";

/*
 * $1 user id, $2 name: delete the mailbox unless it has inferiors; its
 * messages and expunge log go with it (ON DELETE CASCADE) and their blob
 * references are dropped here.  The delete happens only if highestmodseq
 * is still the one this statement's snapshot saw, so no message the
 * snapshot missed can be cascaded away without its reference counted
 * (every change of messages raises highestmodseq: see the top); when it
 * moved, nothing happens and the caller tries again.  One row: the id
 * (NULL: no such mailbox), whether it has inferiors, the id deleted
 * (NULL: not deleted), notified.
 */
const char mdb_delete_sql[] =
    "WITH t AS (SELECT id, highestmodseq FROM mailboxes "
    "  WHERE user_id = $1 AND name = $2), "
    "kids AS (SELECT 1 FROM mailboxes WHERE user_id = $1 "
    "  AND starts_with(name, $2 || '/') LIMIT 1), "
    "del AS (DELETE FROM mailboxes mb USING t WHERE mb.id = t.id "
    "  AND mb.highestmodseq = t.highestmodseq "
    "  AND NOT EXISTS (SELECT 1 FROM kids) RETURNING mb.id), "
    "ref AS (UPDATE blobs b SET refcount = b.refcount - d.n "
    "  FROM (SELECT blob_id, count(*) AS n FROM messages "
    "  WHERE mailbox_id = (SELECT id FROM del) GROUP BY blob_id) d "
    "  WHERE b.id = d.blob_id), "
    "note AS (SELECT pg_notify('wharf_mailbox', id::text) FROM del) "
    "SELECT (SELECT id FROM t), EXISTS (SELECT 1 FROM kids), "
    "  (SELECT id FROM del), (SELECT count(*) FROM note)";

/*
 * $1 user id, $2 old name (not INBOX), $3 new name, $4 text[] of the
 * superiors of $3, made when missing: rename the mailbox and its
 * inferiors ("a/x" -> "b/x"), keeping ids, UIDs and UIDVALIDITY
 * (RFC 9051 6.3.6).  Nothing when $3 or a name under it exists.  One
 * row: whether $2 exists, whether $3 clashes, mailboxes renamed.
 */
const char mdb_rename_sql[] =
    "WITH uv AS (SELECT " NEW_UIDVALIDITY " AS v), "
    "src AS (SELECT id FROM mailboxes WHERE user_id = $1 AND name = $2), "
    "clash AS (SELECT 1 FROM mailboxes WHERE user_id = $1 "
    "  AND (name = $3 OR starts_with(name, $3 || '/')) LIMIT 1), "
    "up AS (UPDATE mailboxes SET name = $3 || substr(name, length($2) + 1) "
    "  WHERE user_id = $1 AND (name = $2 OR starts_with(name, $2 || '/')) "
    "  AND EXISTS (SELECT 1 FROM src) "
    "  AND NOT EXISTS (SELECT 1 FROM clash) RETURNING id), "
    "parents AS (INSERT INTO mailboxes (user_id, name, uidvalidity) "
    "  SELECT $1, p, uv.v FROM unnest($4::text[]) p, uv "
    "  WHERE EXISTS (SELECT 1 FROM up) "
    "  ON CONFLICT (user_id, name) DO NOTHING) "
    "SELECT EXISTS (SELECT 1 FROM src), EXISTS (SELECT 1 FROM clash), "
    "  (SELECT count(*) FROM up)";

/*
 * $1 user id, $2 new name, $3 text[] of its superiors: RENAME INBOX
 * (RFC 3501 6.3.5): a new mailbox $2 (new UIDVALIDITY) gets every
 * message of INBOX, renumbered 1..n in UID order; INBOX stays, empty,
 * its messages logged as expunged under one new modseq, and its
 * inferiors stay where they are.  One row: whether $2 clashes, whether
 * it was made, messages moved, notified.
 */
const char mdb_rename_inbox_sql[] =
    "WITH uv AS (SELECT " NEW_UIDVALIDITY " AS v), "
    "clash AS (SELECT 1 FROM mailboxes WHERE user_id = $1 "
    "  AND (name = $2 OR starts_with(name, $2 || '/')) LIMIT 1), "
    "inbox AS (UPDATE mailboxes SET highestmodseq = highestmodseq + 1 "
    "  WHERE user_id = $1 AND name = 'INBOX' "
    "  AND NOT EXISTS (SELECT 1 FROM clash) RETURNING id, highestmodseq), "
    "msgs AS (SELECT m.id, m.uid, row_number() OVER (ORDER BY m.uid) AS nu "
    "  FROM messages m WHERE m.mailbox_id = (SELECT id FROM inbox)), "
    "nb AS (INSERT INTO mailboxes (user_id, name, uidvalidity, uidnext) "
    "  SELECT $1, $2, uv.v, (SELECT count(*) FROM msgs) + 1 "
    "  FROM uv, inbox RETURNING id), "
    "mv AS (UPDATE messages m SET mailbox_id = nb.id, uid = msgs.nu, "
    "  modseq = 1 FROM nb, msgs WHERE m.id = msgs.id "
    "  RETURNING msgs.uid), "
    "log AS (INSERT INTO expunged (mailbox_id, uid, modseq) "
    "  SELECT inbox.id, mv.uid, inbox.highestmodseq FROM mv, inbox "
    "  ON CONFLICT (mailbox_id, uid) DO UPDATE "
    "  SET modseq = EXCLUDED.modseq), "
    "parents AS (INSERT INTO mailboxes (user_id, name, uidvalidity) "
    "  SELECT $1, p, uv.v FROM unnest($3::text[]) p, uv "
    "  WHERE EXISTS (SELECT 1 FROM nb) "
    "  ON CONFLICT (user_id, name) DO NOTHING), "
    "note AS (SELECT pg_notify('wharf_mailbox', id::text) FROM inbox) "
    "SELECT EXISTS (SELECT 1 FROM clash), EXISTS (SELECT 1 FROM nb), "
    "  (SELECT count(*) FROM mv), (SELECT count(*) FROM note)";

/*
 * $1 user id, $2 name: SUBSCRIBE (RFC 9051 6.3.7), whether or not a
 * mailbox has the name; subscribing twice is no error.  No rows.
 */
const char mdb_subscribe_sql[] =
    "INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) "
    "ON CONFLICT DO NOTHING";

/* $1 user id, $2 name: UNSUBSCRIBE; a row when it was subscribed. */
const char mdb_unsubscribe_sql[] =
    "DELETE FROM subscriptions WHERE user_id = $1 AND name = $2 "
    "RETURNING name";

/*
 * The STATUS columns (RFC 9051 6.3.11) of mailbox mb: uidnext,
 * uidvalidity, messages, unseen, size (RFC 8438), deleted; counted only
 * when $2 is true.
 */
#define STATUS_COLUMNS \
    "mb.uidnext, mb.uidvalidity, coalesce(c.n, 0), " \
    "coalesce(c.unseen, 0), coalesce(c.size, 0), coalesce(c.deleted, 0), " \
    "mb.highestmodseq, coalesce(c.recent, 0) "
#define STATUS_COUNTS \
    "LEFT JOIN LATERAL (SELECT count(*) AS n, " \
    "  count(*) FILTER (WHERE m.flags & 1 = 0) AS unseen, " \
    "  sum(m.size) AS size, " \
    "  count(*) FILTER (WHERE m.flags & 8 <> 0) AS deleted, " \
    "  count(*) FILTER (WHERE m.uid >= mb.recent_uid) AS recent " \
    "  FROM messages m WHERE m.mailbox_id = mb.id AND $2::boolean) c " \
    "  ON true "

/*
 * $1 user id, $2 whether to count (LIST-STATUS, RFC 5819), $3 whether
 * to add the subscribed names that no mailbox has: every mailbox of the
 * user, rows (name, special_use, subscribed, exists, the STATUS
 * columns), then with $3 those names (name, NULL, true, false, NULLs).
 */
const char mdb_list_sql[] =
    "SELECT mb.name, mb.special_use, s.name IS NOT NULL, true, "
    STATUS_COLUMNS "FROM mailboxes mb "
    "LEFT JOIN subscriptions s ON s.user_id = $1 AND s.name = mb.name "
    STATUS_COUNTS "WHERE mb.user_id = $1 "
    "UNION ALL "
    "SELECT s.name, NULL, true, false, NULL, NULL, NULL, NULL, NULL, NULL, "
    "  NULL, NULL FROM subscriptions s WHERE s.user_id = $1 "
    "  AND $3::boolean AND NOT EXISTS (SELECT 1 FROM mailboxes x "
    "  WHERE x.user_id = $1 AND x.name = s.name)";

/* $1 user id, $3 name ($2 true): one row of the STATUS columns. */
const char mdb_status_sql[] =
    "SELECT " STATUS_COLUMNS "FROM mailboxes mb " STATUS_COUNTS
    "WHERE mb.user_id = $1 AND mb.name = $3";

/* ---- fetch and store (fetch.c, store.c) ---- */

/*
 * The columns FETCH and STORE answer from, in this order: uid, flags,
 * keywords, internaldate (Unix time), size, envelope, bodystructure,
 * prefix (bytea), blob name, modseq, whether this statement changed the
 * row, the statement's new modseq (NULL: it changed nothing), a count
 * that makes the NOTIFY run, and whether a conditional STORE left the
 * row alone because it changed since (RFC 7162 3.1.3).
 */

/*
 * $1 mailbox id, $2 bigint[] of UIDs, $3 set \Seen (boolean), $4 load
 * envelope, $5 load bodystructure, $6 CHANGEDSINCE (RFC 7162 3.1.4.1;
 * 0: all), $7 load the stored prefix and the blob's name (only items
 * reading the message need them: FLAGS alone of 100,000 rows reads 5%
 * of the bytes): the messages among those UIDs with a greater modseq, in
 * uid order.  With $3, those without \Seen get it under one new modseq
 * (RFC 9051 6.4.5) and the rows show the new flags.
 */
#define FETCH_SQL(uids)							\
    "WITH mb AS (UPDATE mailboxes SET highestmodseq = highestmodseq + 1 "	\
    "  WHERE id = $1 AND $3::boolean AND EXISTS (SELECT 1 FROM messages "	\
    "  WHERE mailbox_id = $1 AND uid = ANY ($2::bigint[]) "		\
    "  AND modseq > $6::bigint AND flags & 1 = 0) "			\
    "  RETURNING highestmodseq), "					\
    "upd AS (UPDATE messages m SET flags = m.flags | 1, "		\
    "  modseq = mb.highestmodseq FROM mb WHERE m.mailbox_id = $1 "	\
    "  AND m.uid = ANY ($2::bigint[]) AND m.modseq > $6::bigint "	\
    "  AND m.flags & 1 = 0 RETURNING m.uid, m.flags, m.modseq), "	\
    "note AS (SELECT pg_notify('wharf_mailbox', $1::text) FROM mb) "	\
    "SELECT m.uid, COALESCE(u.flags, m.flags), m.keywords, "		\
    "  floor(extract(epoch FROM m.internaldate))::bigint, m.size, "	\
    "  CASE WHEN $4::boolean THEN m.envelope END, "			\
    "  CASE WHEN $5::boolean THEN m.bodystructure END, "		\
    "  CASE WHEN $7::boolean THEN m.prefix END, "			\
    "  CASE WHEN $7::boolean THEN (SELECT b.name FROM blobs b "		\
    "    WHERE b.id = m.blob_id) END, "					\
    "  COALESCE(u.modseq, m.modseq), u.uid IS NOT NULL, "		\
    "  (SELECT highestmodseq FROM mb), (SELECT count(*) FROM note), false " \
    "FROM messages m LEFT JOIN upd u ON u.uid = m.uid "			\
    "WHERE m.mailbox_id = $1 AND " uids " "				\
    "  AND m.modseq > $6::bigint ORDER BY m.uid"
const char mdb_fetch_sql[] = FETCH_SQL("m.uid = ANY ($2::bigint[])");
/*
 * The same for UIDs that are a run of the session's view, $8 and $9 the
 * first and the last: one index range scan instead of one descent per
 * UID.  Rows in the range are then the run's (or rows the view does not
 * hold yet, which the answer skips): UIDs only grow.
 */
const char mdb_fetch_range_sql[] = FETCH_SQL("m.uid BETWEEN $8 AND $9");

/*
 * STORE's new flags and keywords of a row m: $3 0 replace, 1 add,
 * 2 remove; $4 system flag bits; $5 keywords (text[]).  Keywords compare
 * without regard to case (RFC 9051 9: atoms are case-insensitive); an
 * added one keeps the case first stored, the order stays.
 */
#define STORE_FLAGS \
    "(CASE $3::int WHEN 1 THEN m.flags | $4::int " \
    "  WHEN 2 THEN m.flags & ~$4::int ELSE $4::int END)"
#define STORE_KEYWORDS \
    "(CASE $3::int WHEN 1 THEN m.keywords || ARRAY(SELECT x " \
    "  FROM unnest($5::text[]) WITH ORDINALITY a(x, i) " \
    "  WHERE NOT EXISTS (SELECT 1 FROM unnest(m.keywords) k " \
    "  WHERE lower(k) = lower(x)) ORDER BY i) " \
    "  WHEN 2 THEN ARRAY(SELECT k FROM unnest(m.keywords) " \
    "  WITH ORDINALITY a(k, i) WHERE NOT EXISTS (SELECT 1 " \
    "  FROM unnest($5::text[]) x WHERE lower(x) = lower(k)) ORDER BY i) " \
    "  ELSE $5::text[] END)"
#define STORE_CHANGES \
    "(" STORE_FLAGS " <> m.flags OR " STORE_KEYWORDS " <> m.keywords)"

/*
 * $1 mailbox id, $2 bigint[] of UIDs, $3..$5 as above, $6 UNCHANGEDSINCE
 * ('': none; RFC 7162 3.1.3): change the rows whose flags or keywords
 * would change (and whose modseq is not above $6), under one new modseq.
 * The mailbox row is locked first, then the messages (cur: their latest
 * versions, as every writer of the mailbox takes its row lock first), so
 * what is decided, changed and answered is the current state, and
 * concurrent STOREs do not lose each other's changes.  Rows: every
 * message among the UIDs, in the columns of FETCH (internaldate, size,
 * envelope, bodystructure, prefix and blob empty).
 */
const char mdb_store_sql[] =
    "WITH lk AS (SELECT id FROM mailboxes WHERE id = $1 FOR UPDATE), "
    "cur AS (SELECT m.uid, m.flags, m.keywords, m.modseq, "
    "  (NULLIF($6, '') IS NULL OR m.modseq <= NULLIF($6, '')::bigint) "
    "  AS ok FROM messages m, lk WHERE m.mailbox_id = $1 "
    "  AND m.uid = ANY ($2::bigint[]) FOR UPDATE OF m), "
    "mb AS (UPDATE mailboxes SET highestmodseq = highestmodseq + 1 "
    "  WHERE id = $1 AND EXISTS (SELECT 1 FROM cur m WHERE m.ok "
    "  AND " STORE_CHANGES ") RETURNING highestmodseq), "
    "upd AS (UPDATE messages m SET flags = " STORE_FLAGS ", "
    "  keywords = " STORE_KEYWORDS ", modseq = mb.highestmodseq "
    "  FROM mb, cur c WHERE m.mailbox_id = $1 AND m.uid = c.uid AND c.ok "
    "  AND " STORE_CHANGES " RETURNING m.uid, m.flags, m.keywords, "
    "  m.modseq), "
    "note AS (SELECT pg_notify('wharf_mailbox', $1::text) FROM mb) "
    "SELECT c.uid, COALESCE(u.flags, c.flags), "
    "  COALESCE(u.keywords, c.keywords), 0, 0, NULL, NULL, NULL, NULL, "
    "  COALESCE(u.modseq, c.modseq), u.uid IS NOT NULL, "
    "  (SELECT highestmodseq FROM mb), (SELECT count(*) FROM note), "
    "  NOT c.ok "
    "FROM cur c LEFT JOIN upd u ON u.uid = c.uid ORDER BY c.uid";

/*
 * $1 mailbox id, $2 modseq, $3 the UID after which to go on, $4 NULL or
 * an int8multirange of UIDs, $5 the batch size: UIDs expunged since that
 * modseq (among those UIDs), ascending (RFC 7162 3.2.5.1, 3.2.6).
 */
const char mdb_vanished_sql[] =
    "SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 "
    "  AND uid > $3 AND ($4::int8multirange IS NULL "
    "  OR uid <@ $4::int8multirange) ORDER BY uid LIMIT $5";

/* ---- search (search.c) ---- */

/*
 * A search's statement is built from the fixed fragments below and
 * parameter numbers only: every value (keyword, date, size, UID ranges)
 * is a parameter.  $1 mailbox id, $2 the UID after which to go on, $3
 * the last UID of the session's view, $4 the batch size; the keys' values
 * are $5 on.  The WHERE clause holds the top-level keys that PostgreSQL
 * can answer from the row (flags, keywords, size, INTERNALDATE, modseq,
 * UID and sequence sets, \Recent as a UID set, and NOT/OR/AND of these);
 * keys that need the message (header, body, Date:) are left to
 * search_match() over the rows, which then also carry what it needs.
 * Rows, in UID order: uid, modseq; or, when some key needs the message,
 * uid, flags, keywords, size, INTERNALDATE's date as yyyymmdd, blob name,
 * prefix, modseq.  Dates are those of the database session's TimeZone,
 * both here and in "internaldate::date".
 *
 * Full-text candidates (with fts): each BODY or TEXT key ANDed at the top
 * (not under NOT or OR, where leaving a message out could put it in)
 * adds "(m.fts IS NULL OR m.fts @@ to_tsquery('simple', $n))", $n the
 * key's words as prefixes (mime_text_tsquery: 'w1':* & 'w2':*, made of
 * letters and digits only, so the client cannot write tsquery syntax).
 * The vector holds the words of every header field and text body
 * (mime_search_text), a superset of what BODY and TEXT look at, and
 * search_match() still checks every candidate: the index only leaves out
 * messages that cannot match — except that a string starting inside a
 * word is not found (its first word is matched as a prefix).  NULL fts
 * (text too long, or a message from before the vector): a candidate.
 * The GIN index answers "@@", messages_fts_null_idx (sql/007_fts.sql)
 * "fts IS NULL", so the OR can be a BitmapOr of the two.  PostgreSQL
 * estimates every prefix match at a fixed share of the rows (about 2%),
 * whatever the word; with "ORDER BY m.uid LIMIT 200" the mailbox's uid
 * index, read in order with fts as a filter, then looks cheaper for any
 * large mailbox, and reads every row of it.  So such a statement sorts
 * by "m.uid + 0", which no index gives, and takes batches of at least
 * SEARCH_FTS_BATCH rows (small rows: the read budget still bounds the
 * messages read per batch): the bitmap of the candidates is then the
 * plan, whether the word is rare or common.
 */
static const char search_uids_sql[] =
    "SELECT m.uid, m.modseq FROM messages m "
    "WHERE m.mailbox_id = $1 AND m.uid > $2 AND m.uid <= $3 AND ";
static const char search_msgs_sql[] =
    "SELECT m.uid, m.flags, m.keywords, m.size, "
    "  to_char(m.internaldate, 'YYYYMMDD'), b.name, m.prefix, m.modseq "
    "FROM messages m JOIN blobs b ON b.id = m.blob_id "
    "WHERE m.mailbox_id = $1 AND m.uid > $2 AND m.uid <= $3 AND ";
static const char search_tail_sql[] = " ORDER BY m.uid LIMIT $4";
static const char search_fts_tail_sql[] = " ORDER BY m.uid + 0 LIMIT $4";

#define SEARCH_FTS_BATCH	2000	/* rows per batch with fts */

/* Takes v; its parameter number. */
static int
search_param(struct search_sql *q, char *v)
{
	q->params = xreallocarray(q->params, (size_t)q->nparams + 1,
	    sizeof(*q->params));
	q->params[q->nparams++] = v;
	return q->nparams;
}

/* UID ranges as an int8multirange literal, "{[1,4],[9,9]}". */
static char *
search_ranges(const struct search_key *k)
{
	struct buf	 b;

	buf_init(&b, SIZE_MAX / 2);
	buf_add_str(&b, "{");
	for (size_t i = 0; i < k->nuids; i++)
		buf_printf(&b, "%s[%u,%u]", i > 0 ? "," : "", k->uids[i].lo,
		    k->uids[i].hi);
	buf_add_str(&b, "}");
	return buf_steal(&b, NULL);
}

static char *
search_date(uint64_t ymd)
{
	return xasprintf("%04u-%02u-%02u", (unsigned)(ymd / 10000),
	    (unsigned)(ymd / 100 % 100), (unsigned)(ymd % 100));
}

static void	search_where(struct search_sql *, const struct search_key *);

/* kids joined by op, "(a AND b)"; top: only those that need no message. */
static void
search_where_list(struct search_sql *q, const struct search_key *k,
    const char *op, bool top)
{
	bool	 first = true;

	buf_add_str(&q->sql, "(");
	for (const struct search_key *kid = k->kids; kid != NULL;
	    kid = kid->next) {
		if (top && kid->msg)
			continue;
		if (!first)
			buf_add_str(&q->sql, op);
		search_where(q, kid);
		first = false;
	}
	if (first)
		buf_add_str(&q->sql, "TRUE");
	buf_add_str(&q->sql, ")");
}

static void
search_where_value(struct search_sql *q, const struct search_key *k)
{
	struct buf	*b = &q->sql;
	int		 n;

	switch (k->type) {
	case SK_FLAG:
	case SK_UNFLAG:
		n = search_param(q, xasprintf("%u", k->bits));
		buf_printf(b, "(m.flags & $%d::int) %s 0", n,
		    k->type == SK_FLAG ? "<>" : "=");
		break;
	case SK_KEYWORD:
	case SK_UNKEYWORD:	/* case-insensitive, as Dovecot */
		n = search_param(q, xstrdup(k->str));
		buf_printf(b, "%sEXISTS (SELECT 1 FROM unnest(m.keywords) kw "
		    "WHERE lower(kw) = lower($%d::text))",
		    k->type == SK_KEYWORD ? "" : "NOT ", n);
		break;
	case SK_LARGER:
	case SK_SMALLER:
		n = search_param(q, xasprintf("%llu",
		    (unsigned long long)k->num));
		buf_printf(b, "m.size %s $%d::bigint", k->type == SK_LARGER ?
		    ">" : "<", n);
		break;
	case SK_BEFORE:
	case SK_ON:
	case SK_SINCE:		/* RFC 3501: the date, not the time */
		n = search_param(q, search_date(k->num));
		buf_printf(b, "m.internaldate::date %s $%d::date",
		    k->type == SK_BEFORE ? "<" : k->type == SK_ON ? "=" : ">=",
		    n);
		break;
	case SK_UID:
	case SK_SEQ:		/* both as UID ranges of the view */
	case SK_RECENT:
		n = search_param(q, search_ranges(k));
		buf_printf(b, "m.uid <@ $%d::int8multirange", n);
		break;
	case SK_MODSEQ:		/* RFC 7162 3.1.5 */
		n = search_param(q, xasprintf("%llu",
		    (unsigned long long)k->num));
		buf_printf(b, "m.modseq >= $%d::bigint", n);
		break;
	default:
		fatalx("search: key %d in SQL", (int)k->type);
	}
}

static void
search_where(struct search_sql *q, const struct search_key *k)
{
	switch (k->type) {
	case SK_ALL:
		buf_add_str(&q->sql, "TRUE");
		break;
	case SK_NONE:
		buf_add_str(&q->sql, "FALSE");
		break;
	case SK_AND:
		search_where_list(q, k, " AND ", false);
		break;
	case SK_OR:
		search_where_list(q, k, " OR ", false);
		break;
	case SK_NOT:
		buf_add_str(&q->sql, "NOT ");
		search_where_list(q, k, "", false);
		break;
	default:
		search_where_value(q, k);
	}
}

/*
 * BODY and TEXT keys ANDed at the top: their words must be in fts.
 * Returns the number of conditions added.
 */
static int
search_fts(struct search_sql *q, const struct search_key *k)
{
	struct buf	 tsq;
	int		 n, added = 0;

	for (const struct search_key *kid = k->kids; kid != NULL;
	    kid = kid->next) {
		if (kid->type == SK_AND)
			added += search_fts(q, kid);
		if (kid->type != SK_BODY && kid->type != SK_TEXT)
			continue;
		buf_init(&tsq, SIZE_MAX / 2);
		if (mime_text_tsquery(&tsq, kid->str, kid->len) == 0) {
			buf_clear(&tsq);
			continue;	/* no word: every message */
		}
		n = search_param(q, buf_steal(&tsq, NULL));
		buf_printf(&q->sql, " AND (m.fts IS NULL OR m.fts @@ "
		    "to_tsquery('simple', $%d::text))", n);
		added++;
	}
	return added;
}

unsigned
mdb_search_sql(struct search_sql *q, const struct search_key *root,
    uint64_t mailbox_id, uint32_t last_uid, unsigned limit, bool fts)
{
	memset(q, 0, sizeof(*q));
	buf_init(&q->sql, SIZE_MAX / 2);
	buf_add_str(&q->sql, root->msg ? search_msgs_sql : search_uids_sql);
	search_param(q, xasprintf("%llu", (unsigned long long)mailbox_id));
	search_param(q, xstrdup("0"));
	search_param(q, xasprintf("%u", last_uid));
	search_param(q, xasprintf("%u", limit));
	search_where_list(q, root, " AND ", true);
	if (!fts || search_fts(q, root) == 0) {
		buf_add_str(&q->sql, search_tail_sql);
		return limit;
	}
	if (limit < SEARCH_FTS_BATCH) {
		limit = SEARCH_FTS_BATCH;
		free(q->params[3]);
		q->params[3] = xasprintf("%u", limit);
	}
	buf_add_str(&q->sql, search_fts_tail_sql);
	return limit;
}

void
mdb_search_after(struct search_sql *q, uint32_t uid)
{
	free(q->params[1]);
	q->params[1] = xasprintf("%u", uid);
}

void
mdb_search_sql_clear(struct search_sql *q)
{
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	buf_clear(&q->sql);
	memset(q, 0, sizeof(*q));
}

/* ---- append, copy, move (append.c, copy.c) ---- */

/*
 * $1 user id, $2 mailbox name, $3 blob name (committed to the store),
 * $4 size, $5 flags, $6 keywords text[], $7 internaldate or NULL (now),
 * $8 envelope, $9 bodystructure (NULL: not cached), $10 the message's
 * words for its full-text vector (mime_search_text; NULL: no vector):
 * APPEND (RFC 9051 6.3.12) — the blobs row (one reference), the next UID
 * and a new modseq of the mailbox, the message.  One row (uidvalidity, uid,
 * notified), none when the mailbox does not exist (nothing inserted).
 */
const char mdb_append_sql[] =
    "WITH mb AS (UPDATE mailboxes SET uidnext = uidnext + 1, "
    "  highestmodseq = highestmodseq + 1 "
    "  WHERE user_id = $1 AND name = $2 "
    "  RETURNING id, uidvalidity, uidnext - 1 AS uid, highestmodseq), "
    "b AS (INSERT INTO blobs (name, size, refcount) "
    "  SELECT $3, $4::bigint, 1 FROM mb RETURNING id), "
    "msg AS (INSERT INTO messages (mailbox_id, uid, modseq, flags, "
    "  keywords, internaldate, size, blob_id, envelope, bodystructure, "
    "  fts) "
    "  SELECT mb.id, mb.uid, mb.highestmodseq, $5::integer, $6::text[], "
    "  coalesce($7::timestamptz, now()), $4::bigint, b.id, $8, $9, "
    "  strip(to_tsvector('simple', $10::text)) "
    "  FROM mb, b RETURNING mailbox_id), "
    "note AS (SELECT pg_notify('wharf_mailbox', mailbox_id::text) "
    "  FROM msg) "
    "SELECT mb.uidvalidity, mb.uid, (SELECT count(*) FROM note) FROM mb";

/*
 * The messages $2 (bigint[] of UIDs) of mailbox $1 that exist, ranked k
 * = 1.. in UID order, and the target mailbox ($3 user id, $4 name) with
 * its uidnext raised by their number and a new modseq: the copies get
 * UIDs first + k - 1.  What COPY and MOVE share.
 */
#define COPY_TARGET(cond) \
    "WITH src AS (SELECT m.id, m.uid, row_number() OVER (ORDER BY m.uid) " \
    "  AS k FROM messages m WHERE m.mailbox_id = $1 " \
    "  AND m.uid = ANY ($2::bigint[])), " \
    "n AS (SELECT count(*) AS n FROM src), " \
    "dst AS (UPDATE mailboxes SET uidnext = uidnext + n.n, " \
    "  highestmodseq = highestmodseq + 1 FROM n " \
    "  WHERE user_id = $3 AND name = $4 " cond \
    "  RETURNING id, uidvalidity, uidnext - n.n AS first, highestmodseq), "
/*
 * done(uid, nuid): what was copied or moved.  One row: uidvalidity,
 * first, how many were done, the UIDs of $2 not done (NULL: none), the
 * new UIDs in source UID order when they are not first.. (a message
 * expunged meanwhile left a gap; NULL otherwise), notified, extra.
 */
#define COPY_RESULT(extra) \
    "note AS (SELECT pg_notify('wharf_mailbox', id::text) FROM dst " \
    "  WHERE EXISTS (SELECT 1 FROM done)) " \
    "SELECT dst.uidvalidity, dst.first, (SELECT count(*) FROM done), " \
    "  (SELECT array_agg(u ORDER BY u) FROM unnest($2::bigint[]) u " \
    "  WHERE u NOT IN (SELECT uid FROM done)), " \
    "  CASE WHEN (SELECT count(*) FROM done) < n.n THEN " \
    "  (SELECT array_agg(nuid ORDER BY uid) FROM done) END, " \
    "  (SELECT count(*) FROM note), " extra " FROM dst, n"

/*
 * COPY (RFC 9051 6.4.7, RFC 4315 COPYUID): $1 source mailbox, $2 UIDs,
 * $3 user id, $4 target name (may be the source).  The copies get the
 * target's new modseq and the same flags, keywords, internaldate and
 * blob (one more reference each).  Rows: see COPY_RESULT; none when the
 * target does not exist.
 */
const char mdb_copy_sql[] =
    COPY_TARGET("")
    "ins AS (INSERT INTO messages (mailbox_id, uid, modseq, flags, "
    "  keywords, internaldate, size, blob_id, prefix, envelope, "
    "  bodystructure, fts) "
    "  SELECT dst.id, dst.first + src.k - 1, dst.highestmodseq, m.flags, "
    "  m.keywords, m.internaldate, m.size, m.blob_id, m.prefix, "
    "  m.envelope, m.bodystructure, m.fts "
    "  FROM src JOIN messages m ON m.id = src.id, dst RETURNING blob_id), "
    "ref AS (UPDATE blobs b SET refcount = b.refcount + c.n "
    "  FROM (SELECT blob_id, count(*) AS n FROM ins GROUP BY blob_id) c "
    "  WHERE b.id = c.blob_id), "
    "done AS (SELECT src.uid, dst.first + src.k - 1 AS nuid "
    "  FROM src, dst), "
    COPY_RESULT("0");

/*
 * MOVE (RFC 6851): as COPY, but the rows themselves move (blob
 * references stay as they are) and the source logs them as expunged
 * under a new modseq of its own.  The target must not be the source
 * (one statement cannot update a mailbox row twice): no row then.
 */
const char mdb_move_sql[] =
    COPY_TARGET("AND id <> $1 ")
    "smb AS (UPDATE mailboxes SET highestmodseq = highestmodseq + 1 "
    "  WHERE id = $1 AND EXISTS (SELECT 1 FROM dst) "
    "  AND (SELECT n FROM n) > 0 RETURNING highestmodseq), "
    "done AS (UPDATE messages m SET mailbox_id = dst.id, "
    "  uid = dst.first + src.k - 1, modseq = dst.highestmodseq, "
    "  delivery_id = NULL FROM src, dst, smb WHERE m.id = src.id "
    "  RETURNING src.uid, m.uid AS nuid), "
    "log AS (INSERT INTO expunged (mailbox_id, uid, modseq) "
    "  SELECT $1, done.uid, smb.highestmodseq FROM done, smb "
    "  ON CONFLICT (mailbox_id, uid) DO UPDATE "
    "  SET modseq = EXCLUDED.modseq), "
    "snote AS (SELECT pg_notify('wharf_mailbox', $1::text) FROM smb), "
    COPY_RESULT("(SELECT count(*) FROM snote)");

/* ---- expunge (expunge.c) ---- */

/*
 * $1 mailbox id, $2 NULL or a bigint[] of UIDs: remove the messages with
 * \Deleted (among those UIDs), log them in expunged under one new
 * modseq, drop their blob references, NOTIFY.  Rows: the UIDs removed.
 */
const char mdb_expunge_sql[] =
    "WITH mb AS (UPDATE mailboxes SET highestmodseq = highestmodseq + 1 "
    "  WHERE id = $1 AND EXISTS (SELECT 1 FROM messages "
    "  WHERE mailbox_id = $1 AND flags & 8 <> 0 "
    "  AND ($2::bigint[] IS NULL OR uid = ANY ($2::bigint[]))) "
    "  RETURNING highestmodseq), "
    "del AS (DELETE FROM messages m USING mb WHERE m.mailbox_id = $1 "
    "  AND m.flags & 8 <> 0 "
    "  AND ($2::bigint[] IS NULL OR m.uid = ANY ($2::bigint[])) "
    "  RETURNING m.uid, m.blob_id, mb.highestmodseq AS modseq), "
    "log AS (INSERT INTO expunged (mailbox_id, uid, modseq) "
    "  SELECT $1, uid, modseq FROM del ON CONFLICT (mailbox_id, uid) "
    "  DO UPDATE SET modseq = EXCLUDED.modseq), "
    "ref AS (UPDATE blobs b SET refcount = b.refcount - d.n "
    "  FROM (SELECT blob_id, count(*) AS n FROM del GROUP BY blob_id) d "
    "  WHERE b.id = d.blob_id), "
    "note AS (SELECT pg_notify('wharf_mailbox', $1::text) FROM mb) "
    "SELECT uid, (SELECT count(*) FROM note) FROM del ORDER BY uid";
