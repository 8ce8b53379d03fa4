/*
 * wharf/adm.c — running one admin command against the database: connect,
 * query with parameters, print rows safely, report one-line errors.
 * Each subsystem's SQL stays in its own file (users.c, queue.c).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "db.h"
#include "xmalloc.h"
#include "wharf.h"

/* libpq messages span lines; ours are one line each. */
static void
one_line(char *s)
{
	char	*r, *w = s;

	for (r = s; *r != '\0'; r++) {
		if (isspace((unsigned char)*r)) {
			if (w > s && w[-1] != ' ')
				*w++ = ' ';
		} else
			*w++ = *r;
	}
	if (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
}

int
adm_fail(struct adm *a, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	one_line(msg);
	wharf_errx("%s: %s", a->what, msg);
	free(msg);
	return WHARF_EXIT_ERR;
}

int
adm_open(struct adm *a)
{
	struct conf	*c;
	char		*ci, *err = NULL;

	if ((c = wharf_conf(a->w)) == NULL)
		return -1;
	ci = db_conninfo(conf_str(c, "database"), conf_str(c, "run_dir"),
	    NULL);
	a->pg = db_connect_sync(ci, &err);
	free(ci);
	if (a->pg == NULL) {
		one_line(err);
		wharf_errx("cannot reach the database%s: %s",
		    strcmp(conf_str(c, "database"), "embedded") == 0 ?
		    " (is the master running?)" : "", err);
		free(err);
		return -1;
	}
	return 0;
}

void
adm_close(struct adm *a)
{
	if (a->pg != NULL)
		PQfinish(a->pg);
	a->pg = NULL;
}

/* The result (caller PQclear), or NULL after saying why. */
PGresult *
adm_q(struct adm *a, const char *sql, int n, const char *const *params)
{
	PGresult	*res = NULL;
	char		*err = NULL;

	if (db_exec_sync(a->pg, sql, n, params, &res, &err) == -1) {
		adm_fail(a, "%s", err);
		free(err);
		return NULL;
	}
	return res;
}

/* Rows returned (an UPDATE ... RETURNING: rows changed), or -1. */
int
adm_rows(struct adm *a, const char *sql, int n, const char *const *params)
{
	PGresult	*res;
	int		 rows;

	if ((res = adm_q(a, sql, n, params)) == NULL)
		return -1;
	rows = PQntuples(res);
	PQclear(res);
	return rows;
}

/* The first column of the first row, malloc'd; NULL if no row. */
char *
adm_value(struct adm *a, const char *sql, int n, const char *const *params,
    bool *failed_r)
{
	PGresult	*res;
	char		*v = NULL;

	*failed_r = (res = adm_q(a, sql, n, params)) == NULL;
	if (res != NULL && PQntuples(res) > 0)
		v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

#define LIST_COLS_MAX	8
#define LIST_FIELD_MAX	1024

/*
 * One field, safe for a terminal: rows may come from elsewhere than this
 * command, so control characters become '?' (UTF-8 is kept).
 */
static const char *
field(PGresult *res, int r, int c, char *out)
{
	const char	*v = PQgetvalue(res, r, c);
	size_t		 i;

	for (i = 0; v[i] != '\0' && i < LIST_FIELD_MAX - 1; i++)
		out[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' :
		    v[i];
	out[i] = '\0';
	return out;
}

/* Columns aligned with spaces; the last one is not padded. */
static void
print_rows(PGresult *res)
{
	char	 out[LIST_FIELD_MAX];
	int	 r, c, nr = PQntuples(res), nc = PQnfields(res);
	int	 w[LIST_COLS_MAX] = { 0 };

	if (nc > LIST_COLS_MAX)
		nc = LIST_COLS_MAX;
	for (r = 0; r < nr; r++)
		for (c = 0; c < nc - 1; c++)
			if ((int)strlen(field(res, r, c, out)) > w[c])
				w[c] = (int)strlen(out);
	for (r = 0; r < nr; r++) {
		for (c = 0; c < nc - 1; c++)
			printf("%-*s ", w[c], field(res, r, c, out));
		printf("%s\n", field(res, r, nc - 1, out));
	}
}

int
adm_list(struct adm *a, const char *sql, int n, const char *const *params)
{
	PGresult	*res;

	if ((res = adm_q(a, sql, n, params)) == NULL)
		return WHARF_EXIT_ERR;
	print_rows(res);
	PQclear(res);
	return WHARF_EXIT_OK;
}

