/*
 * imapd/append.c — APPEND (RFC 9051 6.3.12, RFC 3501 6.3.11) with
 * APPENDUID (RFC 4315 3) and APPENDLIMIT (RFC 7889: the parser refuses
 * a larger literal before it is sent).
 *
 * The message goes to the blob store first (tmp, fsync, rename, directory
 * fsync: lib/blob.h), is parsed once for the ENVELOPE and BODYSTRUCTURE
 * cache and its searchable text (the full-text vector of SEARCH BODY and
 * TEXT, NULL past MIME_TEXT_MAX) as deliver does, and then one statement
 * inserts the blob row,
 * takes the next UID and a new modseq and inserts the message: a blob
 * file is durable before any row names it.  When the statement surely did
 * nothing, the file is removed again; when its outcome is unknown (the
 * connection to the database broke), it is left for a later sweep rather
 * than risk removing a file a committed row names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <bsd/string.h>

#include "addr.h"
#include "blob.h"
#include "buf.h"
#include "imap_parse.h"
#include "log.h"
#include "mime.h"
#include "xmalloc.h"
#include "imapd.h"

#define DATE_MAX	32

struct append {
	char	 blob[BLOB_NAME_LEN + 1];
};

/* ---- the arguments ---- */

static int
two_digits(const char *p, int *v)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	*v = (p[0] - '0') * 10 + (p[1] - '0');
	return 0;
}

static int
days_in_month(int mon, int year)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	bool	 leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 2 && leap ? 29 : days[mon - 1];
}

static int
month_number(const char *p)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";

	for (int m = 0; m < 12; m++)
		if (strncasecmp(p, months + 3 * m, 3) == 0)
			return m + 1;
	return 0;
}

/*
 * An IMAP date-time (RFC 9051 9, "05-Jan-2024 13:04:05 +0100"; a day of
 * one digit without the space is taken too) as a PostgreSQL timestamptz
 * literal.  -1 when it is not one or names no real time.
 */
static int
date_time_pg(const char *in, char *out, size_t size)
{
	char	 d[27];
	int	 day, mon, y1, y2, hh, mm, ss, zh, zm, n;

	if (strlen(in) == 25 && in[1] == '-')
		snprintf(d, sizeof(d), "0%s", in);
	else if (strlen(in) == 26)
		strlcpy(d, in, sizeof(d));
	else
		return -1;
	if (d[0] == ' ')
		d[0] = '0';
	if (two_digits(d, &day) == -1 || d[2] != '-' ||
	    (mon = month_number(d + 3)) == 0 || d[6] != '-' ||
	    two_digits(d + 7, &y1) == -1 || two_digits(d + 9, &y2) == -1 ||
	    d[11] != ' ' || two_digits(d + 12, &hh) == -1 || d[14] != ':' ||
	    two_digits(d + 15, &mm) == -1 || d[17] != ':' ||
	    two_digits(d + 18, &ss) == -1 || d[20] != ' ' ||
	    (d[21] != '+' && d[21] != '-') || two_digits(d + 22, &zh) == -1 ||
	    two_digits(d + 24, &zm) == -1)
		return -1;
	/* PostgreSQL takes zone offsets up to 15:59. */
	if (y1 * 100 + y2 < 1 || day < 1 ||
	    day > days_in_month(mon, y1 * 100 + y2) || hh > 23 || mm > 59 ||
	    ss > 59 || zh > 15 || zm > 59)
		return -1;
	n = snprintf(out, size, "%02d%02d-%02d-%02d %02d:%02d:%02d%c%02d:%02d",
	    y1, y2, mon, day, hh, mm, ss, d[21], zh, zm);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* The parts of APPEND mailbox [(flags)] [date-time] literal. */
struct append_args {
	char			*name;
	unsigned		 flags;
	struct flag_list	 kw;
	char			 date[DATE_MAX];	/* "" : now */
	const char		*msg;
	size_t			 len;
};

/* 0, or -1 after BAD or NO. */
static int
append_parse(struct session *s, struct append_args *a)
{
	const struct imap_arg	*v = s->cmd.args;
	size_t			 n = s->cmd.nargs, i = 1, len;
	const char		*date;

	memset(a, 0, sizeof(*a));
	/* literal8 (RFC 3516 4.4, BINARY): the octets are kept as sent. */
	if (n < 2 || n > 4 || v[n - 1].type != IMAP_ARG_LITERAL) {
		cmd_done(s, "BAD", "Syntax: APPEND mailbox [(flags)] "
		    "[date-time] {literal}");
		return -1;
	}
	if (i < n - 1 && v[i].type == IMAP_ARG_LIST &&
	    flags_parse(&v[i++], &a->flags, &a->kw) == -1) {
		cmd_done(s, "BAD", "Invalid flag in APPEND");
		return -1;
	}
	if (i < n - 1 && (!imap_arg_string(&v[i++], &date, &len) ||
	    date_time_pg(date, a->date, sizeof(a->date)) == -1)) {
		flags_list_free(&a->kw);
		cmd_done(s, "BAD", "Invalid date-time in APPEND");
		return -1;
	}
	if (i != n - 1) {
		flags_list_free(&a->kw);
		cmd_done(s, "BAD", "Syntax: APPEND mailbox [(flags)] "
		    "[date-time] {literal}");
		return -1;
	}
	a->msg = v[n - 1].str;
	a->len = v[n - 1].len;
	if ((a->name = mbox_name_arg(s, &v[0])) == NULL) {
		flags_list_free(&a->kw);
		return -1;
	}
	return 0;
}

static void
append_args_clear(struct append_args *a)
{
	free(a->name);
	flags_list_free(&a->kw);
}

/* ---- the blob ---- */

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The message as a new committed blob; 0, or -1 (logged). */
static int
blob_store(struct session *s, const char *msg, size_t len, char *name)
{
	char	*err = NULL;
	int	 fd;

	if ((fd = blob_tmp_create(s->d->blob_dir, name, &err)) == -1) {
		log_warnx("%s append: %s", s->id, err);
		free(err);
		return -1;
	}
	if (write_all(fd, msg, len) == -1) {
		log_warn("%s append: write blob %s", s->id, name);
		close(fd);
		blob_tmp_unlink(s->d->blob_dir, name);
		return -1;
	}
	if (blob_commit(s->d->blob_dir, name, fd, &err) == -1) {
		log_warnx("%s append: %s", s->id, err);
		free(err);
		close(fd);
		blob_tmp_unlink(s->d->blob_dir, name);
		return -1;
	}
	close(fd);
	return 0;
}

static void
parse_cache(const char *msg, size_t len, char **env_r, char **bs_r,
    char **text_r)
{
	struct buf	 text;

	mime_cache_strings((const uint8_t *)msg, len, env_r, bs_r);
	buf_init(&text, MIME_TEXT_MAX);
	*text_r = mime_search_text((const uint8_t *)msg, len, &text,
	    MIME_TEXT_MAX) == 0 ? buf_steal(&text, NULL) : NULL;
	buf_clear(&text);
}

/* ---- the statement ---- */

/* Errors after which the statement surely did not commit. */
static bool
outcome_known(const char *err)
{
	return err != NULL && strcmp(err, "timeout") != 0 &&
	    strcmp(err, "connection lost") != 0 &&
	    strcmp(err, "shutdown") != 0;
}

static void
append_failed(struct session *s, struct append *ap, PGresult *res,
    const char *err)
{
	if (res != NULL || outcome_known(err))
		blob_remove(s->d->blob_dir, ap->blob);
	else
		log_warnx("%s append: blob %s kept: the outcome is not known",
		    s->id, ap->blob);
	if (res != NULL)
		cmd_done(s, "NO", "[TRYCREATE] No such mailbox");
	else
		mailboxes_db_failed(s, "append", err);
}

static void
append_result(struct session *s, PGresult *res, const char *err, void *data)
{
	struct append	*ap = data;
	char		 text[128];

	if (res == NULL || PQntuples(res) != 1) {
		append_failed(s, ap, res, err);
		free(ap);
		return;
	}
	log_info("%s append uid=%s blob=%s", s->id, PQgetvalue(res, 0, 1),
	    ap->blob);
	snprintf(text, sizeof(text), "[APPENDUID %s %s] APPEND completed",
	    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	free(ap);
	/* RFC 9051 6.3.12: the selected mailbox's new message, at once. */
	cmd_done_sync(s, true, "OK", text);
}

static void
append_run(struct session *s, struct append_args *a, struct append *ap)
{
	char	 user[24], size[24], flags[8], *kw, *env, *bs, *text;

	parse_cache(a->msg, a->len, &env, &bs, &text);
	kw = flags_pg_literal(&a->kw);
	snprintf(user, sizeof(user), "%llu", (unsigned long long)s->user_id);
	snprintf(size, sizeof(size), "%zu", a->len);
	snprintf(flags, sizeof(flags), "%u", a->flags);
	mailboxes_query(s, mdb_append_sql, 10, (const char *const[]){ user,
	    a->name, ap->blob, size, flags, kw, a->date[0] != '\0' ? a->date :
	    NULL, env, bs, text }, append_result, ap, free);
	free(kw);
	free(env);
	free(bs);
	free(text);
}

void
cmd_append(struct session *s)
{
	struct append_args	 a;
	struct append		*ap;

	if (append_parse(s, &a) == -1)
		return;
	if (a.len == 0) {
		cmd_done(s, "NO", "[CANNOT] Empty message");
		append_args_clear(&a);
		return;
	}
	ap = xcalloc(1, sizeof(*ap));
	if (blob_store(s, a.msg, a.len, ap->blob) == -1) {
		cmd_done(s, "NO", "[SERVERBUG] Cannot store the message");
		append_args_clear(&a);
		free(ap);
		return;
	}
	append_run(s, &a, ap);
	append_args_clear(&a);
}
