/*
 * imapd/search_parse.c — the arguments of SEARCH and UID SEARCH (RFC 3501
 * 6.4.4, RFC 9051 6.4.4, RFC 4731 3.1 RETURN) into a tree of keys, with
 * no session and no database (tests/fuzz/fuzz_imap_search.c runs it
 * alone).
 *
 *   search      = [SP "RETURN" SP "(" [opt *(SP opt)] ")"]
 *                 [SP "CHARSET" SP astring] 1*(SP search-key)
 *   opt         = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"  ; "()": ALL
 *   search-key  = ALL / ANSWERED / ... / "(" search-key *(SP search-key)
 *                 ")" / sequence-set                ; RFC 9051 9
 *
 * Decisions:
 *  - CHARSET UTF-8 and US-ASCII only (RFC 9051 6.4.4: others get NO
 *    [BADCHARSET]); strings must be valid UTF-8 in either (US-ASCII with
 *    8-bit octets is read as UTF-8, as lib/mime does for bodies).
 *  - Strings are astrings (RFC 9051 9 search-key), literals included;
 *    they are kept case-folded (search_fold) for substring matching.
 *  - Nesting of NOT, OR and parentheses is limited (SEARCH_DEPTH_MAX):
 *    the tree is walked recursively here, when the SQL is built and for
 *    each message.  So is the number of keys that read the message
 *    (SEARCH_MSG_KEYS_MAX): each may decode every message once.
 *  - RETURN (SAVE) and "$" (SEARCHRES, RFC 5182): "$" is a UID key whose
 *    ranges search.c takes from the saved result (k->saved); a search
 *    that fails keeps SEARCH_RET_SAVE in q->ret, for the result to be
 *    emptied (RFC 5182 2.1).
 *  - RECENT is the session's \Recent set (SK_RECENT, resolved by
 *    search.c; empty for IMAP4rev2), NEW is RECENT UNSEEN and OLD is
 *    NOT RECENT (RFC 3501 6.4.4).
 *  - MODSEQ [entry-name entry-type] n (RFC 7162 3.1.5): the entry (a
 *    flag's own modseq) is checked and ignored: a message has one modseq.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "imap_parse.h"
#include "xmalloc.h"
#include "mime.h"
#include "imapd.h"

enum key_arg {
	A_NONE,
	A_STRING,	/* astring */
	A_HEADER,	/* field-name astring, astring */
	A_FLAG,		/* flag-keyword (an atom) */
	A_NUMBER,
	A_DATE,
	A_KEY,		/* NOT key */
	A_KEY2,		/* OR key key */
	A_SET,		/* UID sequence-set */
	A_MODSEQ,	/* [entry-name entry-type-req] mod-sequence-valzer */
};

/* key_def.bits of SK_RECENT */
#define RECENT_IS	0
#define RECENT_NEW	1	/* RECENT UNSEEN */
#define RECENT_OLD	2	/* NOT RECENT */

static const struct key_def {
	const char		*name;
	enum search_key_type	 type;
	enum key_arg		 arg;
	unsigned		 bits;
	const char		*field;		/* A_STRING headers */
} key_defs[] = {
	{ "ALL", SK_ALL, A_NONE, 0, NULL },
	{ "ANSWERED", SK_FLAG, A_NONE, FLAG_ANSWERED, NULL },
	{ "BCC", SK_HEADER, A_STRING, 0, "Bcc" },
	{ "BEFORE", SK_BEFORE, A_DATE, 0, NULL },
	{ "BODY", SK_BODY, A_STRING, 0, NULL },
	{ "CC", SK_HEADER, A_STRING, 0, "Cc" },
	{ "DELETED", SK_FLAG, A_NONE, FLAG_DELETED, NULL },
	{ "DRAFT", SK_FLAG, A_NONE, FLAG_DRAFT, NULL },
	{ "FLAGGED", SK_FLAG, A_NONE, FLAG_FLAGGED, NULL },
	{ "FROM", SK_HEADER, A_STRING, 0, "From" },
	{ "HEADER", SK_HEADER, A_HEADER, 0, NULL },
	{ "KEYWORD", SK_KEYWORD, A_FLAG, 0, NULL },
	{ "LARGER", SK_LARGER, A_NUMBER, 0, NULL },
	{ "MODSEQ", SK_MODSEQ, A_MODSEQ, 0, NULL },
	{ "NEW", SK_RECENT, A_NONE, RECENT_NEW, NULL },
	{ "NOT", SK_NOT, A_KEY, 0, NULL },
	{ "OLD", SK_RECENT, A_NONE, RECENT_OLD, NULL },
	{ "ON", SK_ON, A_DATE, 0, NULL },
	{ "OR", SK_OR, A_KEY2, 0, NULL },
	{ "RECENT", SK_RECENT, A_NONE, RECENT_IS, NULL },
	{ "SEEN", SK_FLAG, A_NONE, FLAG_SEEN, NULL },
	{ "SENTBEFORE", SK_SENTBEFORE, A_DATE, 0, NULL },
	{ "SENTON", SK_SENTON, A_DATE, 0, NULL },
	{ "SENTSINCE", SK_SENTSINCE, A_DATE, 0, NULL },
	{ "SINCE", SK_SINCE, A_DATE, 0, NULL },
	{ "SMALLER", SK_SMALLER, A_NUMBER, 0, NULL },
	{ "SUBJECT", SK_HEADER, A_STRING, 0, "Subject" },
	{ "TEXT", SK_TEXT, A_STRING, 0, NULL },
	{ "TO", SK_HEADER, A_STRING, 0, "To" },
	{ "UID", SK_UID, A_SET, 0, NULL },
	{ "UNANSWERED", SK_UNFLAG, A_NONE, FLAG_ANSWERED, NULL },
	{ "UNDELETED", SK_UNFLAG, A_NONE, FLAG_DELETED, NULL },
	{ "UNDRAFT", SK_UNFLAG, A_NONE, FLAG_DRAFT, NULL },
	{ "UNFLAGGED", SK_UNFLAG, A_NONE, FLAG_FLAGGED, NULL },
	{ "UNKEYWORD", SK_UNKEYWORD, A_FLAG, 0, NULL },
	{ "UNSEEN", SK_UNFLAG, A_NONE, FLAG_SEEN, NULL },
};
#define NKEY_DEFS	(sizeof(key_defs) / sizeof(key_defs[0]))

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* The arguments being read. */
struct sp {
	const struct imap_arg	*args;
	size_t			 n, i;
	const char		*err;
	bool			 body;		/* BODY or TEXT seen */
	size_t			*nmsg;		/* keys that read the message */
	bool			 modseq;	/* MODSEQ seen */
};

static struct search_key *parse_key(struct sp *, unsigned depth);

static void
key_free(struct search_key *k)
{
	struct search_key	*kid, *next;

	if (k == NULL)
		return;
	for (kid = k->kids; kid != NULL; kid = next) {
		next = kid->next;
		key_free(kid);
	}
	free(k->field);
	free(k->str);
	free(k->set);
	free(k->uids);
	free(k);
}

void
search_query_clear(struct search_query *q)
{
	key_free(q->root);
	memset(q, 0, sizeof(*q));
}

static struct search_key *
key_new(enum search_key_type type)
{
	struct search_key	*k = xcalloc(1, sizeof(*k));

	k->type = type;
	return k;
}

/* The first error is the one reported; false for the caller to return. */
static bool
bad(struct sp *p, const char *err)
{
	if (p->err == NULL)
		p->err = err;
	return false;
}

static struct search_key *
bad_key(struct sp *p, struct search_key *k, const char *err)
{
	key_free(k);
	bad(p, err);
	return NULL;
}

/* The next argument, or NULL (with err) when there is none. */
static const struct imap_arg *
next_arg(struct sp *p, const char *what)
{
	if (p->i >= p->n) {
		bad(p, what);
		return NULL;
	}
	return &p->args[p->i++];
}

/* ---- case folding ---- */

void
search_fold(char *s, size_t len)
{
	unsigned char	*p = (unsigned char *)s;
	unsigned	 cp;

	for (size_t i = 0; i < len; i++) {
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] += 'a' - 'A';
		else if (p[i] >= 0xc2 && p[i] <= 0xdf && i + 1 < len &&
		    (p[i + 1] & 0xc0) == 0x80) {
			cp = mime_fold_cp(((p[i] & 0x1fu) << 6) |
			    (p[i + 1] & 0x3f));
			p[i] = (unsigned char)(0xc0 | (cp >> 6));
			p[i + 1] = (unsigned char)(0x80 | (cp & 0x3f));
			i++;
		}
	}
}

/* ---- dates ---- */

static unsigned
month_days(unsigned year, unsigned month)
{
	static const unsigned char	 days[12] = { 31, 28, 31, 30, 31, 30,
					    31, 31, 30, 31, 30, 31 };
	bool				 leap = (year % 4 == 0 &&
					    year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

static unsigned
month_number(const char *s)
{
	for (unsigned m = 0; m < 12; m++)
		if (strncasecmp(s, months[m], 3) == 0)
			return m + 1;
	return 0;
}

static uint32_t
ymd(unsigned year, unsigned month, unsigned day)
{
	if (year < 1 || year > 9999 || month == 0 || day < 1 ||
	    day > month_days(year, month))
		return 0;
	return year * 10000 + month * 100 + day;
}

static size_t
digits(const char *s, size_t len, size_t max, unsigned *v)
{
	size_t	 i;

	*v = 0;
	for (i = 0; i < len && i < max && s[i] >= '0' && s[i] <= '9'; i++)
		*v = *v * 10 + (unsigned)(s[i] - '0');
	return i;
}

/* date-text = date-day "-" date-month "-" date-year (RFC 9051 9). */
static uint32_t
imap_date(const char *s, size_t len)
{
	unsigned	 day, month, year;
	size_t		 n = digits(s, len, 2, &day);

	if (n == 0 || len != n + 9 || s[n] != '-' || s[n + 4] != '-' ||
	    (month = month_number(s + n + 1)) == 0 ||
	    digits(s + n + 5, 4, 4, &year) != 4)
		return 0;
	return ymd(year, month, day);
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static size_t
skip_cfws(const char *s, size_t len, size_t i)
{
	unsigned	 depth = 0;

	for (; i < len; i++) {
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && depth > 0)
			depth--;
		else if (depth == 0 && strchr(" \t\r\n,", s[i]) == NULL)
			break;
	}
	return i;
}

/*
 * RFC 5322 3.3 date-time, leniently: [day-of-week ","] day month year
 * (2- and 3-digit years as 4.3 says), the rest is not looked at.
 */
uint32_t
search_date_822(const char *s, size_t len)
{
	unsigned	 day, month, year;
	size_t		 i = skip_cfws(s, len, 0), n;

	if (i < len && is_alpha(s[i])) {		/* day-of-week */
		while (i < len && is_alpha(s[i]))
			i++;
		i = skip_cfws(s, len, i);
	}
	if ((n = digits(s + i, len - i, 2, &day)) == 0)
		return 0;
	i = skip_cfws(s, len, i + n);
	if (i + 3 > len || (month = month_number(s + i)) == 0)
		return 0;
	i = skip_cfws(s, len, i + 3);
	n = digits(s + i, len - i, 4, &year);
	if (n == 2)
		year += year < 50 ? 2000 : 1900;
	else if (n == 3)
		year += 1900;
	else if (n != 4)
		return 0;
	return ymd(year, month, day);
}

/* ---- arguments of keys ---- */

/* A search string: valid UTF-8, kept case-folded. */
static bool
arg_text(struct sp *p, struct search_key *k)
{
	const struct imap_arg	*a = next_arg(p, "Missing search string");
	const char		*s;
	size_t			 len;

	if (a == NULL)
		return false;
	if (!imap_arg_astring(a, &s, &len) || strlen(s) != len)
		return bad(p, "Invalid search string");
	if (!addr_utf8_valid(s, len))
		return bad(p, "Invalid UTF-8 in search string");
	k->str = xmalloc(len + 1);
	memcpy(k->str, s, len + 1);
	k->len = len;
	search_fold(k->str, len);
	return true;
}

static bool
arg_field(struct sp *p, struct search_key *k)
{
	const struct imap_arg	*a = next_arg(p, "Missing header field name");
	const char		*s;
	size_t			 len;

	if (a == NULL)
		return false;
	if (!imap_arg_astring(a, &s, &len) || strlen(s) != len)
		return bad(p, "Invalid header field name");
	k->field = xstrdup(s);
	return true;
}

static bool
arg_keyword(struct sp *p, struct search_key *k)
{
	const struct imap_arg	*a = next_arg(p, "Missing keyword");
	const char		*s;

	if (a == NULL)
		return false;
	if (!imap_arg_atom(a, &s) || s[0] == '\0')
		return bad(p, "Invalid keyword");
	k->str = xstrdup(s);
	k->len = strlen(s);
	return true;
}

static bool
arg_number(struct sp *p, struct search_key *k)
{
	const struct imap_arg	*a = next_arg(p, "Missing number");
	const char		*s, *why;

	if (a == NULL)
		return false;
	if (!imap_arg_atom(a, &s) || s[0] < '0' || s[0] > '9' ||
	    str_to_u64(s, 0, INT64_MAX, &k->num, &why) == -1)
		return bad(p, "Invalid number");
	return true;
}

static bool
arg_date(struct sp *p, struct search_key *k)
{
	const struct imap_arg	*a = next_arg(p, "Missing date");
	const char		*s;
	size_t			 len;

	if (a == NULL)
		return false;
	if (!imap_arg_astring(a, &s, &len) || (k->num = imap_date(s,
	    len)) == 0)
		return bad(p, "Invalid date (day-Mon-yyyy)");
	return true;
}

/* MODSEQ ["/flags/..." priv|shared|all] n: the entry is ignored. */
static bool
arg_modseq(struct sp *p, struct search_key *k)
{
	const struct imap_arg	*a = next_arg(p, "Missing mod-sequence");
	const char		*s, *why;
	size_t			 len;

	if (a == NULL)
		return false;
	if (a->type != IMAP_ARG_ATOM) {
		if (!imap_arg_astring(a, &s, &len) || strlen(s) != len ||
		    strncasecmp(s, "/flags/", 7) != 0)
			return bad(p, "Invalid MODSEQ entry name");
		if ((a = next_arg(p, "Missing MODSEQ entry type")) == NULL)
			return false;
		if (!imap_arg_atom_equals(a, "priv") &&
		    !imap_arg_atom_equals(a, "shared") &&
		    !imap_arg_atom_equals(a, "all"))
			return bad(p, "Invalid MODSEQ entry type");
		if ((a = next_arg(p, "Missing mod-sequence")) == NULL)
			return false;
	}
	if (!imap_arg_atom(a, &s) || s[0] < '0' || s[0] > '9' ||
	    str_to_u64(s, 0, INT64_MAX, &k->num, &why) == -1)
		return bad(p, "Invalid mod-sequence");
	p->modseq = true;
	return true;
}

static bool
seqset_arg(struct sp *p, const struct imap_arg *a, struct search_key *k)
{
	struct imap_seqset	 set;
	const char		*s;

	if (!imap_arg_atom(a, &s) || imap_seqset_parse(s, &set) == -1)
		return bad(p, "Invalid sequence set");
	if (set.saved) {	/* the saved result: UIDs (search.c) */
		k->type = SK_UID;
		k->saved = true;
		return true;
	}
	k->set = set.r;
	k->nset = set.n;
	return true;
}

/* ---- keys ---- */

static void
key_add(struct search_key *parent, struct search_key ***tail,
    struct search_key *k)
{
	parent->msg |= k->msg;
	if (parent->type == SK_AND && k->type == SK_AND) {
		/* (a (b c)) is (a b c): more of it can go to SQL */
		**tail = k->kids;
		while (**tail != NULL)
			*tail = &(**tail)->next;
		k->kids = NULL;
		key_free(k);
		return;
	}
	**tail = k;
	*tail = &k->next;
}

/* NOT key, OR key key: n kids. */
static bool
arg_keys(struct sp *p, struct search_key *k, int n, unsigned depth)
{
	struct search_key	**tail = &k->kids, *kid;

	if (depth >= SEARCH_DEPTH_MAX)
		return bad(p, "Search keys nested too deeply");
	while (n-- > 0) {
		if (p->i >= p->n)
			return bad(p, "Missing search key");
		if ((kid = parse_key(p, depth + 1)) == NULL)
			return false;
		key_add(k, &tail, kid);
	}
	return true;
}

/* "(" search-key *(SP search-key) ")": all of them. */
static struct search_key *
parse_list(struct sp *p, const struct imap_arg *a, unsigned depth)
{
	struct sp		 in = { a->list, a->nlist, 0, NULL, false,
				    p->nmsg, false };
	struct search_key	*k = key_new(SK_AND), **tail = &k->kids, *kid;

	if (a->nlist == 0)
		return bad_key(p, k, "Empty search key list");
	if (depth >= SEARCH_DEPTH_MAX)
		return bad_key(p, k, "Search keys nested too deeply");
	while (in.i < in.n) {
		if ((kid = parse_key(&in, depth + 1)) == NULL)
			return bad_key(p, k, in.err);
		key_add(k, &tail, kid);
	}
	p->body |= in.body;
	p->modseq |= in.modseq;
	return k;
}

static bool
key_args(struct sp *p, const struct key_def *def, struct search_key *k,
    unsigned depth)
{
	switch (def->arg) {
	case A_NONE:
		return true;
	case A_STRING:
		if (def->field != NULL)
			k->field = xstrdup(def->field);
		return arg_text(p, k);
	case A_HEADER:
		return arg_field(p, k) && arg_text(p, k);
	case A_FLAG:
		return arg_keyword(p, k);
	case A_NUMBER:
		return arg_number(p, k);
	case A_DATE:
		return arg_date(p, k);
	case A_KEY:
		return arg_keys(p, k, 1, depth);
	case A_KEY2:
		return arg_keys(p, k, 2, depth);
	case A_SET:
		return p->i < p->n ? seqset_arg(p, &p->args[p->i++], k) :
		    bad(p, "Missing UID set");
	case A_MODSEQ:
		return arg_modseq(p, k);
	}
	return false;
}

static const struct key_def *
key_def_find(const char *name)
{
	for (size_t i = 0; i < NKEY_DEFS; i++)
		if (strcasecmp(key_defs[i].name, name) == 0)
			return &key_defs[i];
	return NULL;
}

static bool
needs_message(enum search_key_type t)
{
	return t == SK_HEADER || t == SK_BODY || t == SK_TEXT ||
	    t == SK_SENTBEFORE || t == SK_SENTON || t == SK_SENTSINCE;
}

/* RECENT, NEW (RECENT UNSEEN), OLD (NOT RECENT). */
static struct search_key *
recent_key(unsigned which)
{
	struct search_key	*k = key_new(SK_RECENT), *top;

	if (which == RECENT_IS)
		return k;
	top = key_new(which == RECENT_NEW ? SK_AND : SK_NOT);
	top->kids = k;
	if (which == RECENT_NEW) {
		k->next = key_new(SK_UNFLAG);
		k->next->bits = FLAG_SEEN;
	}
	return top;
}

static struct search_key *
parse_key(struct sp *p, unsigned depth)
{
	const struct imap_arg	*a = &p->args[p->i++];
	const struct key_def	*def;
	struct search_key	*k;
	const char		*name;

	if (a->type == IMAP_ARG_LIST)
		return parse_list(p, a, depth);
	if (!imap_arg_atom(a, &name))
		return bad_key(p, NULL, "Invalid search key");
	if ((name[0] >= '0' && name[0] <= '9') || name[0] == '*' ||
	    name[0] == '$') {
		k = key_new(SK_SEQ);
		if (!seqset_arg(p, a, k)) {
			key_free(k);
			return NULL;
		}
		return k;
	}
	if ((def = key_def_find(name)) == NULL)
		return bad_key(p, NULL, "Unknown search key");
	if (def->type == SK_RECENT)
		return recent_key(def->bits);
	k = key_new(def->type);
	k->bits = def->bits;
	k->msg = needs_message(def->type);
	p->body |= def->type == SK_BODY || def->type == SK_TEXT;
	if (k->msg && ++*p->nmsg > SEARCH_MSG_KEYS_MAX)
		return bad_key(p, k, "Too many keys that read the message");
	if (!key_args(p, def, k, depth)) {
		key_free(k);
		return NULL;
	}
	return k;
}

/* ---- the command's arguments ---- */

/* RETURN (opts) (RFC 4731 3.1): "()" means ALL. */
static bool
parse_return(struct sp *p, struct search_query *q)
{
	const struct imap_arg	*a = next_arg(p, "Missing RETURN options");
	const struct imap_arg	*v;
	size_t			 n;
	static const struct {
		const char	*name;
		unsigned	 bit;
	} opts[] = { { "MIN", SEARCH_RET_MIN }, { "MAX", SEARCH_RET_MAX },
	    { "ALL", SEARCH_RET_ALL }, { "COUNT", SEARCH_RET_COUNT },
	    { "SAVE", SEARCH_RET_SAVE } };
	size_t			 j;

	if (a == NULL || !imap_arg_list(a, &v, &n))
		return bad(p, "Syntax: RETURN (options)");
	for (size_t i = 0; i < n; i++)	/* known even if another is bad */
		if (imap_arg_atom_equals(&v[i], "SAVE"))
			q->ret |= SEARCH_RET_SAVE;
	for (size_t i = 0; i < n; i++) {
		for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++)
			if (imap_arg_atom_equals(&v[i], opts[j].name))
				break;
		if (j == sizeof(opts) / sizeof(opts[0]))
			return bad(p, "Unknown RETURN option");
		q->ret |= opts[j].bit;
	}
	if (q->ret == 0)
		q->ret = SEARCH_RET_ALL;
	return true;
}

/* CHARSET astring: 0, or SEARCH_BAD / SEARCH_BADCHARSET. */
static int
parse_charset(struct sp *p)
{
	const struct imap_arg	*a = next_arg(p, "Missing charset");
	const char		*cs;
	size_t			 len;

	if (a == NULL || !imap_arg_astring(a, &cs, &len)) {
		bad(p, "Invalid charset");
		return SEARCH_BAD;
	}
	if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0)
		return SEARCH_BADCHARSET;
	return 0;
}

static int
parse_keys(struct sp *p, struct search_query *q)
{
	struct search_key	**tail;
	struct search_key	*k;

	if (p->i >= p->n) {
		bad(p, "Missing search key");
		return SEARCH_BAD;
	}
	q->root = key_new(SK_AND);
	tail = &q->root->kids;
	while (p->i < p->n) {
		if ((k = parse_key(p, 0)) == NULL)
			return SEARCH_BAD;
		key_add(q->root, &tail, k);
	}
	q->body = p->body;
	return 0;
}

int
search_parse(const struct imap_arg *args, size_t n, struct search_query *q,
    const char **err_r)
{
	size_t		 nmsg = 0;
	struct sp	 p = { args, n, 0, NULL, false, &nmsg, false };
	int		 rc = 0;

	memset(q, 0, sizeof(*q));
	if (n > 0 && imap_arg_atom_equals(&args[0], "RETURN")) {
		p.i++;
		if (!parse_return(&p, q))
			rc = SEARCH_BAD;
	}
	if (rc == 0 && p.i < n && imap_arg_atom_equals(&args[p.i],
	    "CHARSET")) {
		p.i++;
		rc = parse_charset(&p);
	}
	if (rc == 0)
		rc = parse_keys(&p, q);
	q->modseq = p.modseq;
	if (rc != 0) {
		unsigned	 save = q->ret & SEARCH_RET_SAVE;

		search_query_clear(q);
		q->ret = save;		/* RFC 5182 2.1: "$" is emptied */
		*err_r = p.err != NULL ? p.err : "Invalid search";
	}
	return rc;
}
