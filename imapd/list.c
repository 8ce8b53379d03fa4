/*
 * imapd/list.c — LIST and LSUB (RFC 9051 6.3.9, RFC 3501 6.3.8, 6.3.9,
 * with RFC 5258 LIST-EXTENDED, RFC 3348 CHILDREN, RFC 6154 SPECIAL-USE,
 * RFC 5819 LIST-STATUS) and STATUS (RFC 9051 6.3.11, RFC 8438
 * STATUS=SIZE, RFC 7162 HIGHESTMODSEQ), over the user's mailboxes as
 * mailboxes.c keeps them and the subscribed names (sql/010).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "imap_fmt.h"
#include "imap_parse.h"
#include "imap_utf7.h"
#include "io.h"
#include "log.h"
#include "xmalloc.h"
#include "imapd.h"

#define PATTERN_MAX	2048		/* reference + pattern, octets */
#define PATTERNS_MAX	100		/* patterns of one extended LIST */
/* Octet steps of pattern matching one LIST may take (a few ms each M). */
#define LIST_WORK_MAX	(100 * 1000 * 1000)
#define LIST_RESP_MAX	(64 * 1024 * 1024)

/* ---- STATUS items (RFC 9051 6.3.11, RFC 8438) ---- */

/*
 * The items in the order asked, each once; value: the column of the
 * STATUS columns in mailbox_db.c.  RECENT counts the messages no session
 * has claimed as \Recent yet; HIGHESTMODSEQ is RFC 7162 3.1.6.
 */
static const struct {
	const char	*name;
	int		 col;
} status_names[] = {
	{ "UIDNEXT", 0 }, { "UIDVALIDITY", 1 }, { "MESSAGES", 2 },
	{ "UNSEEN", 3 }, { "SIZE", 4 }, { "DELETED", 5 },
	{ "HIGHESTMODSEQ", 6 }, { "RECENT", 7 },
};
#define STATUS_HMS	6	/* its index: asking for it enables CONDSTORE */
#define NSTATUS	(sizeof(status_names) / sizeof(status_names[0]))

struct status_items {
	unsigned char	 v[NSTATUS];
	size_t		 n;
};

/* 0, or -1 for an unknown item (or none). */
static int
status_items_parse(struct session *s, const struct imap_arg *arg,
    struct status_items *it)
{
	const struct imap_arg	*v;
	const char		*atom;
	size_t			 n, k, j;

	memset(it, 0, sizeof(*it));
	if (!imap_arg_list(arg, &v, &n) || n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!imap_arg_atom(&v[i], &atom))
			return -1;
		for (k = 0; k < NSTATUS; k++)
			if (strcasecmp(atom, status_names[k].name) == 0)
				break;
		if (k == NSTATUS)
			return -1;
		if (k == STATUS_HMS)	/* RFC 7162 3.1: enables CONDSTORE */
			mbox_condstore_enable(s);
		for (j = 0; j < it->n && it->v[j] != k; j++)
			;
		if (j == it->n)
			it->v[it->n++] = (unsigned char)k;
	}
	return 0;
}

/* "* STATUS name (ITEM n ...)" CRLF from the STATUS columns at col. */
static void
status_write(const struct session *s, struct buf *out,
    const struct status_items *it, const char *name, PGresult *res, int row,
    int col)
{
	buf_add_str(out, "* STATUS ");
	mailboxes_name_write(s, out, name);
	buf_add_str(out, " (");
	for (size_t i = 0; i < it->n; i++) {
		int	 c = status_names[it->v[i]].col;

		buf_printf(out, "%s%s %s", i > 0 ? " " : "",
		    status_names[it->v[i]].name, PQgetvalue(res, row, col + c));
	}
	buf_add_str(out, ")\r\n");
}

/* ---- STATUS ---- */

struct status {
	char			*name;
	struct status_items	 it;
};

static void
status_free(void *arg)
{
	struct status	*st = arg;

	free(st->name);
	free(st);
}

static void
status_result(struct session *s, PGresult *res, const char *err, void *data)
{
	struct status	*st = data;

	if (res == NULL)
		mailboxes_db_failed(s, "status", err);
	else if (PQntuples(res) == 0)
		cmd_done(s, "NO", "[NONEXISTENT] No such mailbox");
	else {
		status_write(s, &s->out, &st->it, st->name, res, 0, 0);
		session_flush_out(s);
		cmd_done_sync(s, true, "OK", "STATUS completed");
	}
	status_free(st);
}

void
cmd_status(struct session *s)
{
	struct status	*st;
	char		*name, user[24];

	if (s->cmd.nargs != 2) {
		cmd_done(s, "BAD", "Syntax: STATUS mailbox (items)");
		return;
	}
	if ((name = mbox_name_arg(s, &s->cmd.args[0])) == NULL)
		return;
	st = xcalloc(1, sizeof(*st));
	st->name = name;
	if (status_items_parse(s, &s->cmd.args[1], &st->it) == -1) {
		cmd_done(s, "BAD", "Unknown or missing STATUS item");
		status_free(st);
		return;
	}
	mailboxes_user_str(s, user, sizeof(user));
	mailboxes_query(s, mdb_status_sql, 3, (const char *const[]){ user, "t",
	    name }, status_result, st, status_free);
}

/* ---- LIST and LSUB (RFC 9051 6.3.9, RFC 3501 6.3.8, 6.3.9) ---- */

#define SEL_SUBSCRIBED		0x01
#define SEL_RECURSIVEMATCH	0x02
#define SEL_SPECIALUSE		0x04
#define RET_SUBSCRIBED		0x01
#define RET_STATUS		0x02

/*
 * What LIST and LSUB go through, sorted by name: the user's mailboxes,
 * the subscribed names no mailbox has (sql/010; only for LSUB and the
 * SUBSCRIBED selection), and the levels above those that are neither a
 * mailbox nor subscribed ("x" of a subscribed "x/y"), made up here for
 * LSUB and RECURSIVEMATCH when they match a pattern.  A mailbox's
 * superiors all exist (mailboxes.c), so only subscribed names that do
 * not exist have such levels, and no name that does not exist has an
 * inferior that does.
 */
struct ent {
	const char	*name;
	int		 row;		/* of res; -1: a level made up */
};

struct list {
	bool			 lsub;
	unsigned		 sel, ret;
	struct status_items	 st;
	char			**pats;		/* reference + pattern */
	size_t			 npats;
	struct buf		 out;
	PGresult		*res;		/* during list_result */
	struct ent		*ents;		/* sorted by name */
	int			 n;
	struct buf		 levels;	/* made-up names, NUL-ended */
	uint64_t		 work;		/* LIST_WORK_MAX */
};

static void
list_free(void *arg)
{
	struct list	*l = arg;

	for (size_t i = 0; i < l->npats; i++)
		free(l->pats[i]);
	free(l->pats);
	buf_clear(&l->out);
	buf_clear(&l->levels);
	free(l->ents);
	free(l);
}

/*
 * Whether name matches a LIST pattern (RFC 9051 6.3.9): "*" matches
 * anything, "%" anything but the delimiter; the "INBOX" that starts a
 * name matches in any case (5.1).  The pattern runs as an NFA over the
 * name, so time is length(name) * length(pattern) whatever the
 * wildcards.  Octets: both are UTF-8 and the wildcards are ASCII.
 */
static bool
pattern_match(const char *pat, const char *name)
{
	bool	 a[PATTERN_MAX + 1], b[PATTERN_MAX + 1], *cur = a, *nxt = b, *t;
	size_t	 m = strlen(pat), j, ci;
	bool	 live;

	ci = strncmp(name, "INBOX", 5) == 0 && (name[5] == '\0' ||
	    name[5] == '/') ? 5 : 0;
	memset(a, 0, (m + 1) * sizeof(bool));
	cur[0] = true;
	for (size_t i = 0; ; i++) {
		for (j = 0; j < m; j++)		/* wildcards match "" */
			if (cur[j] && (pat[j] == '*' || pat[j] == '%'))
				cur[j + 1] = true;
		if (name[i] == '\0')
			return cur[m];
		memset(nxt, 0, (m + 1) * sizeof(bool));
		live = false;
		for (j = 0; j < m; j++) {
			if (!cur[j])
				continue;
			if (pat[j] == '*' || (pat[j] == '%' && name[i] != '/'))
				nxt[j] = live = true;
			else if (pat[j] == name[i] || (i < ci &&
			    (pat[j] | 0x20) == (name[i] | 0x20)))
				nxt[j + 1] = live = true;
		}
		if (!live)
			return false;
		t = cur;
		cur = nxt;
		nxt = t;
	}
}

/* Matching costs at most length(name) * length(pattern) steps. */
static bool
list_match(struct list *l, const char *name)
{
	size_t	 n = strlen(name) + 1;

	for (size_t i = 0; i < l->npats; i++) {
		l->work += n * (strlen(l->pats[i]) + 1);
		if (l->work > LIST_WORK_MAX)
			return false;
		if (pattern_match(l->pats[i], name))
			return true;
	}
	return false;
}

static const char *
ent_name(const struct list *l, int i)
{
	return l->ents[i].name;
}

static bool
ent_col(const struct list *l, int i, int col)
{
	return l->ents[i].row >= 0 &&
	    PQgetvalue(l->res, l->ents[i].row, col)[0] == 't';
}

static bool
ent_subscribed(const struct list *l, int i)
{
	return ent_col(l, i, 2);
}

static bool
ent_exists(const struct list *l, int i)
{
	return ent_col(l, i, 3);
}

/* The special-use attribute, or NULL. */
static const char *
ent_use(const struct list *l, int i)
{
	int	 r = l->ents[i].row;

	return r < 0 || PQgetisnull(l->res, r, 1) ? NULL :
	    PQgetvalue(l->res, r, 1);
}

static int
ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name,
	    ((const struct ent *)b)->name);
}

/*
 * The first inferior of entry i, or l->n: names under "x" are exactly
 * those that start with "x/", a contiguous run in octet order that
 * starts at the first name >= "x/".
 */
static int
first_child(const struct list *l, int i)
{
	const char	*name = ent_name(l, i);
	size_t		 n = strlen(name);
	int		 lo = i + 1, hi = l->n;

	while (lo < hi) {
		int		 mid = lo + (hi - lo) / 2;
		const char	*m = ent_name(l, mid);
		int		 c = strncmp(m, name, n);

		if (c == 0)
			c = (unsigned char)m[n] - '/';
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->n && mailboxes_is_under(ent_name(l, lo), name) ?
	    lo : l->n;
}

/* What the inferiors of an entry are (as far as asked). */
#define KIN_KIDS	0x01	/* a mailbox (\HasChildren) */
#define KIN_SUB		0x02	/* subscribed (CHILDINFO, RFC 5258 3.5) */
#define KIN_SUBOUT	0x04	/* subscribed, matching no pattern */

static unsigned
kin(struct list *l, int i, unsigned want)
{
	const char	*name = ent_name(l, i);
	unsigned	 got = 0;

	for (int j = first_child(l, i); j < l->n && (got & want) != want &&
	    mailboxes_is_under(ent_name(l, j), name); j++) {
		l->work += strlen(name) + 1;
		if (l->work > LIST_WORK_MAX)
			break;
		if (ent_exists(l, j))
			got |= KIN_KIDS;
		if (!ent_subscribed(l, j))
			continue;
		got |= KIN_SUB;
		if ((want & KIN_SUBOUT) && !(got & KIN_SUBOUT) &&
		    !list_match(l, ent_name(l, j)))
			got |= KIN_SUBOUT;
	}
	return got & want;
}

static void
list_attrs(struct list *l, int i, bool kids)
{
	const char	*use = ent_use(l, i);
	bool		 sub = ent_subscribed(l, i);

	buf_add_str(&l->out, "(");
	if (!ent_exists(l, i))	/* RFC 5258 3 */
		buf_add_str(&l->out, sub ? "\\NonExistent \\Subscribed" :
		    "\\NonExistent");
	else {
		buf_add_str(&l->out, kids ? "\\HasChildren" :
		    "\\HasNoChildren");
		if (use != NULL)
			buf_printf(&l->out, " %s", use);
		if ((l->ret & RET_SUBSCRIBED) && sub)
			buf_add_str(&l->out, " \\Subscribed");
	}
	buf_add_str(&l->out, ")");
}

/*
 * LSUB (RFC 3501 6.3.9): the subscribed names, \Noselect when no
 * mailbox has it; and a name not subscribed that has subscribed
 * inferiors the pattern leaves out ("foo" for "%" and "foo/bar"), with
 * \Noselect.
 */
static void
lsub_ent(const struct session *s, struct list *l, int i)
{
	bool	 sub = ent_subscribed(l, i);

	if (!sub && !kin(l, i, KIN_SUBOUT))
		return;
	buf_printf(&l->out, "* LSUB (%s) \"/\" ", sub && ent_exists(l, i) ?
	    "" : "\\Noselect");
	mailboxes_name_write(s, &l->out, ent_name(l, i));
	buf_add_str(&l->out, "\r\n");
}

/*
 * Whether LIST lists entry i that matches, and its inferiors' kin.
 * Without the SUBSCRIBED selection, the mailboxes.  With it (RFC 5258 3,
 * 3.5), the subscribed names; with RECURSIVEMATCH also a mailbox with a
 * subscribed inferior, and a made-up level whose subscribed inferiors
 * the patterns leave out (\NonExistent: RFC 5258 3, condition 2).
 */
static bool
list_wanted(struct list *l, int i, unsigned *kin_r)
{
	bool	 recursive = (l->sel & SEL_SUBSCRIBED) &&
		    (l->sel & SEL_RECURSIVEMATCH);
	bool	 exists = ent_exists(l, i);

	*kin_r = 0;
	if ((l->sel & SEL_SPECIALUSE) && ent_use(l, i) == NULL)
		return false;
	if (l->ents[i].row < 0) {
		*kin_r = recursive ? kin(l, i, KIN_SUBOUT) : 0;
		return *kin_r != 0;
	}
	if (!exists && !(l->sel & SEL_SUBSCRIBED))
		return false;
	*kin_r = kin(l, i, (exists ? KIN_KIDS : 0) |
	    (recursive ? KIN_SUB : 0));
	return !(l->sel & SEL_SUBSCRIBED) || ent_subscribed(l, i) ||
	    (*kin_r & KIN_SUB);
}

/* The LIST or LSUB response for entry i, if it is to be listed. */
static void
list_ent(const struct session *s, struct list *l, int i)
{
	const char	*name = ent_name(l, i);
	unsigned	 k;

	if (!list_match(l, name))
		return;
	if (l->lsub) {
		lsub_ent(s, l, i);
		return;
	}
	if (!list_wanted(l, i, &k))
		return;
	buf_add_str(&l->out, "* LIST ");
	list_attrs(l, i, k & KIN_KIDS);
	buf_add_str(&l->out, " \"/\" ");
	mailboxes_name_write(s, &l->out, name);
	if ((k & (KIN_SUB | KIN_SUBOUT)) && (l->sel & SEL_RECURSIVEMATCH))
		buf_add_str(&l->out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	buf_add_str(&l->out, "\r\n");
	if ((l->ret & RET_STATUS) && ent_exists(l, i))
		status_write(s, &l->out, &l->st, name, l->res, l->ents[i].row,
		    4);
}

static void
list_sent(struct session *s)
{
	cmd_done_sync(s, true, "OK", s->cmd.name[1] == 'S' ?
	    "LSUB completed" : "LIST completed");
}

/* Whether the name of n octets at name is a row of the sorted rows. */
static bool
level_is_row(struct list *l, const char *name, size_t n)
{
	int	 lo = 0, hi = l->n;

	while (lo < hi) {
		int		 mid = lo + (hi - lo) / 2;
		const char	*m = ent_name(l, mid);
		int		 c = strncmp(m, name, n);

		l->work += n + 1;
		if (c == 0 && m[n] == '\0')
			return true;
		if (c == 0)
			c = 1;		/* m is longer: after name */
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * The levels above a subscribed name that does not exist, each once,
 * kept when it matches a pattern (none else can be listed), at their
 * offsets in l->levels.  prev: the previous such name (its levels are
 * made already: names under a level are contiguous).  -1: too many,
 * or too much work.
 */
static int
levels_of(struct list *l, const char *name, const char *prev,
    struct buf *scratch, size_t **offs, size_t *noffs)
{
	for (const char *p = strchr(name, '/'); p != NULL;
	    p = strchr(p + 1, '/')) {
		size_t	 n = (size_t)(p - name);

		l->work += n + 1;
		if ((prev != NULL && strncmp(prev, name, n + 1) == 0) ||
		    level_is_row(l, name, n))
			continue;
		if (l->work > LIST_WORK_MAX)
			return -1;
		buf_reset(scratch);
		if (buf_add(scratch, name, n) == -1)
			return -1;
		if (!list_match(l, buf_cstr(scratch)))
			continue;
		*offs = xreallocarray(*offs, *noffs + 1, sizeof(**offs));
		(*offs)[(*noffs)++] = l->levels.len;
		if (buf_add(&l->levels, name, n) == -1 ||
		    buf_add_u8(&l->levels, '\0') == -1)
			return -1;
	}
	return 0;
}

/*
 * Add the made-up levels to the rows (sorted) and sort the whole.  -1:
 * too many (their names would pass LIST_RESP_MAX) or too much work.
 */
static int
list_levels(struct list *l)
{
	struct buf	 scratch;
	const char	*prev = NULL;
	size_t		*offs = NULL, noffs = 0;
	int		 rc = 0, n = l->n;

	buf_init(&scratch, LIST_RESP_MAX);
	for (int i = 0; i < n && rc == 0; i++) {
		if (ent_exists(l, i))
			continue;
		rc = levels_of(l, ent_name(l, i), prev, &scratch, &offs,
		    &noffs);
		prev = ent_name(l, i);
	}
	buf_clear(&scratch);
	if (rc == 0 && noffs > 0) {
		const char	*base = (const char *)BUF_DATA(&l->levels);

		l->ents = xreallocarray(l->ents, (size_t)n + noffs,
		    sizeof(*l->ents));
		for (size_t j = 0; j < noffs; j++) {
			l->ents[l->n].name = base + offs[j];
			l->ents[l->n++].row = -1;
		}
		qsort(l->ents, (size_t)l->n, sizeof(*l->ents), ent_cmp);
	}
	free(offs);
	return rc;
}

static void
list_result(struct session *s, PGresult *res, const char *err, void *data)
{
	struct list	*l = data;
	int		 rc = 0;

	if (res == NULL) {
		mailboxes_db_failed(s, "list", err);
		list_free(l);
		return;
	}
	l->res = res;
	l->n = PQntuples(res);
	l->ents = xreallocarray(NULL, (size_t)l->n + 1, sizeof(*l->ents));
	for (int i = 0; i < l->n; i++) {
		l->ents[i].name = PQgetvalue(res, i, 0);
		l->ents[i].row = i;
	}
	qsort(l->ents, (size_t)l->n, sizeof(*l->ents), ent_cmp);
	if (l->lsub || ((l->sel & SEL_SUBSCRIBED) &&
	    (l->sel & SEL_RECURSIVEMATCH)))
		rc = list_levels(l);
	for (int i = 0; i < l->n && rc == 0; i++)	/* INBOX first */
		if (strcmp(ent_name(l, i), "INBOX") == 0)
			list_ent(s, l, i);
	for (int i = 0; i < l->n && rc == 0; i++)
		if (strcmp(ent_name(l, i), "INBOX") != 0)
			list_ent(s, l, i);
	l->res = NULL;
	if (rc == -1 || l->work > LIST_WORK_MAX)
		cmd_done(s, "NO", "[LIMIT] Too many mailboxes for these "
		    "patterns");
	else
		mailboxes_send(s, &l->out, list_sent);
	list_free(l);
}

/* A list-mailbox (RFC 9051 9): an atom with wildcards, or a string. */
static bool
pattern_arg(const struct imap_arg *arg, const char **s_r)
{
	size_t	 len;

	if ((arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) &&
	    arg->len > 0) {
		*s_r = arg->str;
		return true;
	}
	return imap_arg_string(arg, s_r, &len) && strlen(*s_r) == len;
}

/*
 * reference + pattern in UTF-8 (RFC 3501 6.3.8: the reference is put in
 * front).  A pattern that is not modified UTF-7 is taken as it is.  NULL
 * when it is too long.
 */
static char *
pattern_make(const struct session *s, const char *ref, const char *pat)
{
	struct buf	 b;
	int		 rc;

	buf_init(&b, PATTERN_MAX - 1);
	rc = s->utf8 ? -1 : imap_utf7_to_utf8(ref, &b);
	if (rc == 0)
		rc = imap_utf7_to_utf8(pat, &b);
	if (rc == -1) {
		buf_reset(&b);
		rc = buf_printf(&b, "%s%s", ref, pat);
	}
	if (rc == -1) {
		buf_clear(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

/* Selection options (RFC 5258 3.1, RFC 6154 5.1); -1: BAD. */
static int
list_select_parse(const struct imap_arg *arg, struct list *l)
{
	const struct imap_arg	*v;
	const char		*opt;
	size_t			 n;

	if (!imap_arg_list(arg, &v, &n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!imap_arg_atom(&v[i], &opt))
			return -1;
		if (strcasecmp(opt, "SUBSCRIBED") == 0) {
			l->sel |= SEL_SUBSCRIBED;
			l->ret |= RET_SUBSCRIBED;	/* implied */
		} else if (strcasecmp(opt, "RECURSIVEMATCH") == 0)
			l->sel |= SEL_RECURSIVEMATCH;
		else if (strcasecmp(opt, "SPECIAL-USE") == 0)
			l->sel |= SEL_SPECIALUSE;
		else if (strcasecmp(opt, "REMOTE") != 0)  /* none: no-op */
			return -1;
	}
	/* RFC 5258 3.1: never alone (or with REMOTE only). */
	if ((l->sel & SEL_RECURSIVEMATCH) && l->sel == SEL_RECURSIVEMATCH)
		return -1;
	return 0;
}

/*
 * Return options (RFC 5258 3.2, RFC 6154 5.2, RFC 5819): CHILDREN and
 * SPECIAL-USE attributes are always given; -1: BAD.
 */
static int
list_return_parse(struct session *s, const struct imap_arg *arg,
    struct list *l)
{
	const struct imap_arg	*v;
	const char		*opt;
	size_t			 n;

	if (!imap_arg_list(arg, &v, &n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!imap_arg_atom(&v[i], &opt))
			return -1;
		if (strcasecmp(opt, "SUBSCRIBED") == 0)
			l->ret |= RET_SUBSCRIBED;
		else if (strcasecmp(opt, "STATUS") == 0 && i + 1 < n &&
		    status_items_parse(s, &v[i + 1], &l->st) == 0) {
			l->ret |= RET_STATUS;
			i++;
		} else if (strcasecmp(opt, "CHILDREN") != 0 &&
		    strcasecmp(opt, "SPECIAL-USE") != 0)
			return -1;
	}
	return 0;
}

static int
list_add_pattern(const struct session *s, struct list *l, const char *ref,
    const struct imap_arg *arg)
{
	const char	*pat;
	char		*p;

	if (!pattern_arg(arg, &pat) || l->npats >= PATTERNS_MAX ||
	    (p = pattern_make(s, ref, pat)) == NULL)
		return -1;
	l->pats = xreallocarray(l->pats, l->npats + 1, sizeof(*l->pats));
	l->pats[l->npats++] = p;
	return 0;
}

/* The mailbox-or-pattern(s) argument: one, or a list (RFC 5258). */
static int
list_patterns(const struct session *s, struct list *l, const char *ref,
    const struct imap_arg *arg)
{
	const struct imap_arg	*v;
	size_t			 n;

	if (arg->type != IMAP_ARG_LIST || l->lsub)
		return list_add_pattern(s, l, ref, arg);
	if (!imap_arg_list(arg, &v, &n) || n == 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (list_add_pattern(s, l, ref, &v[i]) == -1)
			return -1;
	return 0;
}

/*
 * LIST [(select-opts)] reference pattern(s) [RETURN (return-opts)],
 * LSUB reference pattern.  0, or -1 for BAD.
 */
static int
list_parse(struct session *s, struct list *l, bool *plain_empty)
{
	const struct imap_arg	*a = s->cmd.args;
	size_t			 n = s->cmd.nargs, i = 0, len;
	const char		*ref, *pat;

	if (!l->lsub && n > 0 && a[0].type == IMAP_ARG_LIST &&
	    list_select_parse(&a[i++], l) == -1)
		return -1;
	if (n < i + 2 || !imap_arg_astring(&a[i], &ref, &len) ||
	    strlen(ref) != len)
		return -1;
	*plain_empty = i == 0 && n == 2 && pattern_arg(&a[1], &pat) &&
	    pat[0] == '\0';
	if (list_patterns(s, l, ref, &a[i + 1]) == -1)
		return -1;
	i += 2;
	if (i == n)
		return 0;
	if (l->lsub || n != i + 2 || !imap_arg_atom_equals(&a[i], "RETURN"))
		return -1;
	return list_return_parse(s, &a[i + 1], l);
}

/* LIST and LSUB. */
void
cmd_list(struct session *s)
{
	struct list	*l = xcalloc(1, sizeof(*l));
	char		 user[24];
	bool		 plain_empty = false;

	l->lsub = strcmp(s->cmd.name, "LSUB") == 0;
	buf_init(&l->out, LIST_RESP_MAX);
	buf_init(&l->levels, LIST_RESP_MAX);
	if (list_parse(s, l, &plain_empty) == -1) {
		cmd_done(s, "BAD", "Syntax: %s", l->lsub ? "LSUB reference "
		    "pattern" : "LIST [(options)] reference pattern(s) "
		    "[RETURN (options)]");
		list_free(l);
		return;
	}
	if (plain_empty) {	/* RFC 9051 6.3.9: the delimiter */
		if (!l->lsub)
			session_printf(s, "* LIST (\\Noselect) \"/\" \"\"");
		list_free(l);
		list_sent(s);
		return;
	}
	mailboxes_user_str(s, user, sizeof(user));
	mailboxes_query(s, mdb_list_sql, 3, (const char *const[]){ user,
	    (l->ret & RET_STATUS) ? "t" : "f",
	    l->lsub || (l->sel & SEL_SUBSCRIBED) ? "t" : "f" }, list_result,
	    l, list_free);
}
