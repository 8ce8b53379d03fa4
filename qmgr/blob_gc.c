/*
 * qmgr/blob_gc.c — removing blobs that nothing refers to any more.
 *
 * Every writer keeps blobs.refcount in the transaction that adds or drops
 * a queue or message row (sql/001), so a blob at 0 has no row and never
 * gains one again (COPY and delivery only add references to blobs that
 * have some).  After each queue scan, qmgr deletes up to GC_BATCH such
 * rows and then their files: row first, so no row ever points at a
 * missing file.  A full batch is followed by another at once.
 */
#include "blob.h"
#include "db.h"
#include "log.h"
#include "service.h"
#include "qmgr.h"

#define GC_BATCH	1000
#define GC_BATCH_S	"1000"

static const char gc_sql[] =
    "DELETE FROM blobs WHERE id IN (SELECT id FROM blobs "
    "  WHERE refcount = 0 ORDER BY id LIMIT " GC_BATCH_S ") "
    "  AND refcount = 0 RETURNING name";

static void
gc_result(PGresult *res, const char *err, void *arg)
{
	struct qmgr	*q = arg;
	int		 n;

	q->collecting = false;
	if (res == NULL) {
		log_warnx("blob collector: %s", err);
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		if (blob_remove(q->blobdir, PQgetvalue(res, i, 0)) == -1)
			log_warn("blob collector: %s", PQgetvalue(res, i, 0));
	if (n > 0)
		log_info("blob collector: %d unused blob(s) removed", n);
	if (n == GC_BATCH)
		blob_gc(q);
}

void
blob_gc(struct qmgr *q)
{
	if (q->collecting || q->svc->stopping)
		return;
	q->collecting = true;
	db_query(q->db, gc_sql, 0, NULL, QMGR_DB_TIMEOUT_MS, gc_result, q);
}
