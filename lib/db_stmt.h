/*
 * db_stmt — the prepared statements of one PostgreSQL connection (lib/db).
 *
 * Parsing and planning is most of what PostgreSQL spends on our short
 * statements, so lib/db prepares a statement text the second time it is
 * sent on a connection (a text sent once, like most SEARCH translations,
 * costs no extra round trip) and executes it by name from then on.  The
 * cache is bounded: past DB_STMT_MAX statements new texts run unprepared.
 * A connection forgets everything when it is closed (db_stmts_clear).
 */
#ifndef WHARF_DB_STMT_H
#define WHARF_DB_STMT_H

#include <stdbool.h>
#include <stddef.h>

#define DB_STMT_MAX	256	/* prepared statements per connection */
#define DB_STMT_SEEN	128	/* texts remembered after one use */
#define DB_STMT_NAME	16	/* "w" and a number, NUL included */

enum db_stmt_action {
	DB_STMT_PLAIN,		/* send the text (PQsendQueryParams) */
	DB_STMT_PREPARE,	/* prepare under the name, then execute */
	DB_STMT_PREPARED,	/* execute the statement of that name */
};

struct db_stmts;

struct db_stmts	*db_stmts_new(void);
void	db_stmts_free(struct db_stmts **);
/* The connection is new or gone: nothing is prepared, nothing was seen. */
void	db_stmts_clear(struct db_stmts *);
/* Stop preparing on this connection until the next db_stmts_clear(). */
void	db_stmts_disable(struct db_stmts *);
/* What to do with sql; name_r (DB_STMT_NAME bytes) set unless PLAIN. */
enum db_stmt_action db_stmts_lookup(struct db_stmts *, const char *sql,
	    char *name_r);
/* sql is being prepared under name: execute it by name from now on. */
void	db_stmts_add(struct db_stmts *, const char *sql, const char *name);
/* The PREPARE of name failed: forget it. */
void	db_stmts_remove(struct db_stmts *, const char *name);
size_t	db_stmts_count(const struct db_stmts *);

#endif
