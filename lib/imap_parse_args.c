/*
 * imap_parse_args — reading parsed arguments as the grammar's types, and
 * sequence sets (imap_parse.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_parse.h"
#include "xmalloc.h"

/* ASTRING-CHAR = ATOM-CHAR / resp-specials (RFC 9051 §9). */
static bool
is_astring_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\", c) == NULL;
}

static bool
is_astring_atom(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!is_astring_char((unsigned char)s[i]))
			return false;
	return true;
}

static bool
give(const struct imap_arg *a, const char **s_r, size_t *len_r)
{
	*s_r = a->str;
	if (len_r != NULL)
		*len_r = a->len;
	return true;
}

bool
imap_arg_string(const struct imap_arg *a, const char **s_r, size_t *len_r)
{
	if (a->type == IMAP_ARG_STRING ||
	    (a->type == IMAP_ARG_LITERAL && !a->literal8))
		return give(a, s_r, len_r);
	return false;
}

bool
imap_arg_astring(const struct imap_arg *a, const char **s_r, size_t *len_r)
{
	if ((a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL) &&
	    is_astring_atom(a->str, a->len))
		return give(a, s_r, len_r);
	return imap_arg_string(a, s_r, len_r);
}

bool
imap_arg_nstring(const struct imap_arg *a, const char **s_r, size_t *len_r)
{
	if (a->type != IMAP_ARG_NIL)
		return imap_arg_string(a, s_r, len_r);
	*s_r = NULL;
	if (len_r != NULL)
		*len_r = 0;
	return true;
}

bool
imap_arg_atom(const struct imap_arg *a, const char **s_r)
{
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL)
		return false;
	*s_r = a->str;
	return true;
}

bool
imap_arg_atom_equals(const struct imap_arg *a, const char *s)
{
	const char	*t;

	return imap_arg_atom(a, &t) && strcasecmp(t, s) == 0;
}

bool
imap_arg_list(const struct imap_arg *a, const struct imap_arg **list_r,
    size_t *n_r)
{
	if (a->type != IMAP_ARG_LIST)
		return false;
	*list_r = a->list;
	*n_r = a->nlist;
	return true;
}

/*
 * Sequence sets.
 *   sequence-set = (seq-number / seq-range) ["," sequence-set]
 *   seq-range    = seq-number ":" seq-number
 *   seq-number   = nz-number / "*"
 *   nz-number    = digit-nz *DIGIT   ; < 4,294,967,296
 */

/* One seq-number at *sp: 0 for "*"; -1 on a syntax error. */
static int
seq_number(const char **sp, uint32_t *v_r)
{
	const char	*s = *sp;
	uint64_t	 v = 0;

	if (*s == '*') {
		*v_r = 0;
		*sp = s + 1;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*v_r = (uint32_t)v;
	*sp = s;
	return 0;
}

static void
range_add(struct imap_seqset *set, size_t *cap, uint32_t lo, uint32_t hi)
{
	if (set->n == *cap) {
		*cap = *cap == 0 ? 4 : *cap * 2;
		set->r = xreallocarray(set->r, *cap, sizeof(*set->r));
	}
	set->r[set->n].lo = lo;
	set->r[set->n].hi = hi;
	set->n++;
}

int
imap_seqset_parse(const char *s, struct imap_seqset *out)
{
	uint32_t	 lo, hi;
	size_t		 cap = 0;

	memset(out, 0, sizeof(*out));
	if (strcmp(s, "$") == 0) {
		out->saved = true;
		return 0;
	}
	for (;;) {
		if (seq_number(&s, &lo) == -1)
			break;
		hi = lo;
		if (*s == ':') {
			s++;
			if (seq_number(&s, &hi) == -1)
				break;
		}
		range_add(out, &cap, lo, hi);
		if (*s == '\0')
			return 0;
		if (*s++ != ',')
			break;
	}
	imap_seqset_free(out);
	return -1;
}

void
imap_seqset_free(struct imap_seqset *set)
{
	free(set->r);
	memset(set, 0, sizeof(*set));
}

/* A range with "*" resolved, low end first. */
static struct imap_range
range_resolve(const struct imap_range *r, uint32_t star)
{
	struct imap_range	 x;
	uint32_t		 a = r->lo == 0 ? star : r->lo;
	uint32_t		 b = r->hi == 0 ? star : r->hi;

	x.lo = a < b ? a : b;
	x.hi = a < b ? b : a;
	return x;
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t v,
    uint32_t star)
{
	struct imap_range	 x;
	size_t			 i;

	if (v == 0)
		return false;
	for (i = 0; i < set->n; i++) {
		x = range_resolve(&set->r[i], star);
		if (v >= x.lo && v <= x.hi)
			return true;
	}
	return false;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_range	*x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

/* Sorted ranges merged in place where they overlap or touch; new count. */
static size_t
merge(struct imap_range *r, size_t n)
{
	size_t	 i, k = 0;

	for (i = 1; i < n; i++) {
		if (r[k].hi == UINT32_MAX || r[i].lo <= r[k].hi + 1) {
			if (r[i].hi > r[k].hi)
				r[k].hi = r[i].hi;
			continue;
		}
		r[++k] = r[i];
	}
	return n == 0 ? 0 : k + 1;
}

void
imap_seqset_resolve(const struct imap_seqset *set, uint32_t star,
    struct imap_range **out, size_t *n_r)
{
	struct imap_range	*r, x;
	size_t			 i, n = 0;

	*out = NULL;
	*n_r = 0;
	if (set->n == 0)
		return;
	r = xcalloc(set->n, sizeof(*r));
	for (i = 0; i < set->n; i++) {
		x = range_resolve(&set->r[i], star);
		if (x.lo == 0)
			x.lo = 1;	/* star 0: an empty mailbox */
		if (x.hi >= x.lo)
			r[n++] = x;
	}
	qsort(r, n, sizeof(*r), range_cmp);
	*n_r = merge(r, n);
	if (*n_r == 0) {
		free(r);
		return;
	}
	*out = r;
}
