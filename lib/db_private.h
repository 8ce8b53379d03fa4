/*
 * db_private.h — what lib/db.c and lib/db_sync.c share; not for daemons.
 */
#ifndef WHARF_DB_PRIVATE_H
#define WHARF_DB_PRIVATE_H

/* A trimmed malloc'd copy of a libpq message ("unknown error" if empty). */
char	*db_errdup(const char *);
/* libpq notice processor: notices go to the debug log. */
void	 db_notice(void *, const char *);

#endif
