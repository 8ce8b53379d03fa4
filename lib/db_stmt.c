/*
 * db_stmt — the prepared statements of one connection (db_stmt.h).
 *
 * Statements are found by a 64-bit FNV-1a hash of their text, then the
 * text itself; the table is small (DB_STMT_MAX) and scanned linearly,
 * which costs far less than the round trip it saves.  Texts seen once are
 * remembered by hash only, in a ring: a collision there merely prepares a
 * text on its first repeat a little early.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_stmt.h"
#include "xmalloc.h"

struct db_stmt {
	uint64_t	 hash;
	char		*sql;
	char		 name[DB_STMT_NAME];
};

struct db_stmts {
	struct db_stmt	 stmt[DB_STMT_MAX];
	size_t		 n;
	uint64_t	 seen[DB_STMT_SEEN];
	size_t		 nseen, seen_next;
	unsigned	 seq;		/* names: never reused on a connection */
	bool		 disabled;
};

static uint64_t
fnv1a(const char *s)
{
	uint64_t	 h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

struct db_stmts *
db_stmts_new(void)
{
	return xcalloc(1, sizeof(struct db_stmts));
}

void
db_stmts_clear(struct db_stmts *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->stmt[i].sql);
	t->n = 0;
	t->nseen = t->seen_next = 0;
	t->disabled = false;
}

void
db_stmts_free(struct db_stmts **tp)
{
	if (*tp == NULL)
		return;
	db_stmts_clear(*tp);
	free(*tp);
	*tp = NULL;
}

void
db_stmts_disable(struct db_stmts *t)
{
	t->disabled = true;
}

/* Seen before?  If not, remember it (the oldest is forgotten). */
static bool
seen_before(struct db_stmts *t, uint64_t h)
{
	for (size_t i = 0; i < t->nseen; i++)
		if (t->seen[i] == h)
			return true;
	t->seen[t->seen_next] = h;
	t->seen_next = (t->seen_next + 1) % DB_STMT_SEEN;
	if (t->nseen < DB_STMT_SEEN)
		t->nseen++;
	return false;
}

enum db_stmt_action
db_stmts_lookup(struct db_stmts *t, const char *sql, char *name_r)
{
	uint64_t	 h = fnv1a(sql);

	for (size_t i = 0; i < t->n; i++)
		if (t->stmt[i].hash == h && strcmp(t->stmt[i].sql, sql) == 0) {
			memcpy(name_r, t->stmt[i].name, DB_STMT_NAME);
			return DB_STMT_PREPARED;
		}
	if (t->disabled || t->n == DB_STMT_MAX || !seen_before(t, h))
		return DB_STMT_PLAIN;
	(void)snprintf(name_r, DB_STMT_NAME, "w%u", t->seq++);
	return DB_STMT_PREPARE;
}

void
db_stmts_add(struct db_stmts *t, const char *sql, const char *name)
{
	struct db_stmt	*s;

	if (t->n == DB_STMT_MAX)
		return;
	s = &t->stmt[t->n++];
	s->hash = fnv1a(sql);
	s->sql = xstrdup(sql);
	(void)snprintf(s->name, sizeof(s->name), "%s", name);
}

void
db_stmts_remove(struct db_stmts *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->stmt[i].name, name) == 0) {
			free(t->stmt[i].sql);
			t->stmt[i] = t->stmt[--t->n];
			return;
		}
}

size_t
db_stmts_count(const struct db_stmts *t)
{
	return t->n;
}
