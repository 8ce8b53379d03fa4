/*
 * mime_content — Content-* field values (RFC 2045 §5.1 and §6.1, RFC 2183,
 * RFC 2231, RFC 3282) into a part (mime_private.h).
 *
 * Values arrive unfolded and without NULs.  Parsing is lenient (garbage
 * between parameters is skipped up to the next ";") and never fails but
 * for a Content-Type without type "/" subtype.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime.h"
#include "mime_private.h"
#include "xmalloc.h"

/*
 * Lexing Content-* values (RFC 2045 §5.1 with RFC 5322 §3.2.2 CFWS).
 */

struct lex {
	const char	*s;
	size_t		 len;
	size_t		 i;
};

static int
lex_peek(const struct lex *l)
{
	return l->i < l->len ? (unsigned char)l->s[l->i] : -1;
}

/* At '(': skip a comment, nested, with quoted-pairs; may be unclosed. */
static void
lex_comment(struct lex *l)
{
	unsigned int	 depth = 0;
	char		 c;

	while (l->i < l->len) {
		c = l->s[l->i++];
		if (c == '\\' && l->i < l->len)
			l->i++;
		else if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			return;
	}
}

static void
lex_cfws(struct lex *l)
{
	int	 c;

	while ((c = lex_peek(l)) != -1) {
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			l->i++;
		else if (c == '(')
			lex_comment(l);
		else
			return;
	}
}

static bool
is_token_char(int c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static char *
str_lower(char *s)
{
	char	*p;

	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	return s;
}

/* A token (RFC 2045 §5.1) after optional CFWS; NULL if there is none. */
static char *
lex_token(struct lex *l)
{
	size_t	 start;

	lex_cfws(l);
	start = l->i;
	while (l->i < l->len && is_token_char((unsigned char)l->s[l->i]))
		l->i++;
	if (l->i == start)
		return NULL;
	return xstrndup(l->s + start, l->i - start);
}

/* At '"': a quoted-string, unescaped (RFC 5322 §3.2.4); may be unclosed. */
static char *
lex_quoted(struct lex *l)
{
	char	*out = xmalloc(l->len - l->i + 1);
	size_t	 n = 0;
	char	 c;

	l->i++;
	while (l->i < l->len) {
		c = l->s[l->i++];
		if (c == '"')
			break;
		if (c == '\\' && l->i < l->len)
			c = l->s[l->i++];
		out[n++] = c;
	}
	out[n] = '\0';
	return xreallocarray(out, n + 1, 1);	/* keep only what is used */
}

/*
 * value := token / quoted-string.  Leniently, an unquoted value runs to
 * white space, ';' or '"' and may hold 8-bit octets and tspecials
 * (filename=a(1).txt is common).
 */
static char *
lex_value(struct lex *l)
{
	size_t	 start;
	int	 c;

	lex_cfws(l);
	if (lex_peek(l) == '"')
		return lex_quoted(l);
	start = l->i;
	while ((c = lex_peek(l)) != -1 && c > 0x20 && c != 0x7f && c != ';' &&
	    c != '"')
		l->i++;
	return xstrndup(l->s + start, l->i - start);
}

static void
lex_skip_to(struct lex *l, char c)
{
	const char	*p;

	p = memchr(l->s + l->i, c, l->len - l->i);
	l->i = p == NULL ? l->len : (size_t)(p - l->s);
}

/*
 * Parameters and RFC 2231 continuations.
 */

/* One name=value as read, before merging, and where it was. */
struct rawp {
	char		*name;
	char		*value;
	size_t		 pos;
	size_t		 blen;		/* segment: length of the base name */
	unsigned int	 idx;		/* segment: its number */
	bool		 seg;		/* "name*N" or "name*N*" */
	bool		 ext;		/* "...*": charset'lang'%XX */
};

/* RFC 2231 §3-4: "name*N" or "name*N*" (N decimal, at most 4 digits). */
static void
rawp_classify(struct rawp *r)
{
	const char	*star = strchr(r->name, '*'), *p;
	unsigned int	 idx = 0;

	if (star == NULL || star == r->name)
		return;
	for (p = star + 1; *p >= '0' && *p <= '9' && p - star <= 4; p++)
		idx = idx * 10 + (unsigned int)(*p - '0');
	if (p == star + 1)
		return;
	r->ext = *p == '*';
	if (r->ext)
		p++;
	if (*p != '\0')
		return;
	r->seg = true;
	r->blen = (size_t)(star - r->name);
	r->idx = idx;
}

/* Segments sort by base name, then number, then position. */
static int
rawp_cmp(const void *a, const void *b)
{
	const struct rawp	*x = a, *y = b;
	size_t			 m = x->blen < y->blen ? x->blen : y->blen;
	int			 c;

	if (x->seg != y->seg)
		return x->seg ? 1 : -1;
	if (!x->seg)
		return x->pos < y->pos ? -1 : x->pos > y->pos;
	if ((c = memcmp(x->name, y->name, m)) != 0)
		return c;
	if (x->blen != y->blen)
		return x->blen < y->blen ? -1 : 1;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int
rawp_pos_cmp(const void *a, const void *b)
{
	const struct rawp	*x = a, *y = b;

	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool
same_base(const struct rawp *a, const struct rawp *b)
{
	return b->seg && a->blen == b->blen &&
	    memcmp(a->name, b->name, a->blen) == 0;
}

/* Segments r[0..n) hold 0, 1, ..., n-1 once each. */
static bool
segs_complete(const struct rawp *r, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (r[i].idx != i)
			return false;
	return true;
}

/* Merge complete segments r[0..n) into r[0]; frees the others. */
static void
segs_merge(struct rawp *r, size_t n)
{
	struct buf	 b;
	bool		 ext = false;
	size_t		 i, minpos = r[0].pos;
	const char	*v;

	for (i = 0; i < n; i++)
		ext |= r[i].ext;
	buf_init(&b, SIZE_MAX / 2);
	if (ext && !r[0].ext)
		buf_add_str(&b, "''");
	for (i = 0; i < n; i++) {
		minpos = r[i].pos < minpos ? r[i].pos : minpos;
		if (!ext || r[i].ext) {
			buf_add_str(&b, r[i].value);
			continue;
		}
		for (v = r[i].value; *v != '\0'; v++)
			buf_add_str(&b, *v == '%' ? "%25" : (char[2]){ *v, 0 });
	}
	free(r[0].value);
	r[0].value = buf_steal(&b, NULL);
	r[0].name[r[0].blen] = '\0';
	if (ext)
		memcpy(r[0].name + r[0].blen, "*", 2);
	r[0].pos = minpos;
	r[0].seg = false;
	for (i = 1; i < n; i++) {
		free(r[i].name);
		free(r[i].value);
		r[i].name = NULL;
	}
}

/*
 * Merge continuations in place; the survivors keep the position of
 * their first segment.  Returns the new count.
 */
static size_t
params_merge(struct rawp *r, size_t n)
{
	size_t	 i, j, k, out;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), rawp_cmp);
	for (i = 0; i < n && !r[i].seg; i++)
		;
	for (; i < n; i = j) {
		for (j = i + 1; j < n && same_base(&r[i], &r[j]); j++)
			;
		if (segs_complete(&r[i], j - i))
			segs_merge(&r[i], j - i);
		else
			for (k = i; k < j; k++)
				r[k].seg = false;
	}
	for (i = out = 0; i < n; i++)
		if (r[i].name != NULL)
			r[out++] = r[i];
	qsort(r, out, sizeof(*r), rawp_pos_cmp);
	return out;
}

/* Read one ";" name "=" value; false at the end. */
static bool
param_next(struct lex *l, struct rawp *r)
{
	for (;;) {
		lex_cfws(l);
		if (lex_peek(l) == -1)
			return false;
		if (lex_peek(l) != ';') {
			lex_skip_to(l, ';');	/* garbage */
			continue;
		}
		l->i++;
		if ((r->name = lex_token(l)) == NULL)
			continue;
		lex_cfws(l);
		if (lex_peek(l) == '=') {
			l->i++;
			r->value = lex_value(l);
			return true;
		}
		free(r->name);
	}
}

/* *(";" parameter), at most max of them, to a merged list. */
static void
params_parse(struct lex *l, unsigned int max, bool *limited,
    struct mime_param **out_r, size_t *n_r)
{
	struct rawp	*r = NULL;
	size_t		 n = 0, cap = 0, i;
	struct rawp	 one;

	for (;;) {
		memset(&one, 0, sizeof(one));
		if (!param_next(l, &one))
			break;
		if (n == max) {
			*limited = true;
			free(one.name);
			free(one.value);
			break;
		}
		str_lower(one.name);
		one.pos = n;
		rawp_classify(&one);
		if (n == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			r = xreallocarray(r, cap, sizeof(*r));
		}
		r[n++] = one;
	}
	n = params_merge(r, n);
	*out_r = n == 0 ? NULL : xcalloc(n, sizeof(**out_r));
	for (i = 0; i < n; i++) {
		(*out_r)[i].name = r[i].name;
		(*out_r)[i].value = r[i].value;
	}
	*n_r = n;
	free(r);
}

/* RFC 2045 §5.1: type "/" subtype *(";" parameter). */
bool
mime_content_type(struct mime_part *part, const char *v, size_t len,
    unsigned int params_max, bool *limited)
{
	struct lex	 l = { v, len, 0 };
	char		*type, *sub = NULL;

	type = lex_token(&l);
	lex_cfws(&l);
	if (type != NULL && lex_peek(&l) == '/') {
		l.i++;
		sub = lex_token(&l);
	}
	if (sub == NULL) {
		free(type);
		return false;
	}
	part->type = str_lower(type);
	part->subtype = str_lower(sub);
	params_parse(&l, params_max, limited, &part->params, &part->nparams);
	return true;
}

static const struct {
	const char		*name;
	enum mime_encoding	 enc;
} encodings[] = {
	{ "7bit", MIME_ENC_7BIT },
	{ "8bit", MIME_ENC_8BIT },
	{ "binary", MIME_ENC_BINARY },
	{ "base64", MIME_ENC_BASE64 },
	{ "quoted-printable", MIME_ENC_QP },
};

/* RFC 2045 §6.1: one token, nothing after it but CFWS. */
void
mime_content_encoding(struct mime_part *part, const char *v, size_t len)
{
	struct lex	 l = { v, len, 0 };
	char		*tok;
	size_t		 i;

	if ((tok = lex_token(&l)) == NULL)
		return;
	lex_cfws(&l);
	if (l.i != l.len) {
		free(tok);
		return;
	}
	part->cte = str_lower(tok);
	part->encoding = MIME_ENC_OTHER;
	for (i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++)
		if (strcmp(tok, encodings[i].name) == 0)
			part->encoding = encodings[i].enc;
}

/* RFC 2183 §2: disposition-type *(";" disposition-parm). */
void
mime_content_disposition(struct mime_part *part, const char *v, size_t len,
    unsigned int params_max, bool *limited)
{
	struct lex	 l = { v, len, 0 };
	char		*tok;

	if ((tok = lex_token(&l)) == NULL)
		return;
	part->disposition = str_lower(tok);
	params_parse(&l, params_max, limited, &part->disp_params,
	    &part->ndisp_params);
}

/* RFC 3282 §2: 1#Language-tag (at most max of them). */
void
mime_content_language(struct mime_part *part, const char *v, size_t len,
    unsigned int max, bool *limited)
{
	struct lex	 l = { v, len, 0 };
	char		*tok;
	size_t		 cap = 0;

	while ((tok = lex_token(&l)) != NULL) {
		if (part->nlanguages == max) {
			*limited = true;
			free(tok);
			return;
		}
		if (part->nlanguages == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			part->languages = xreallocarray(part->languages, cap,
			    sizeof(*part->languages));
		}
		part->languages[part->nlanguages++] = tok;
		lex_cfws(&l);
		if (lex_peek(&l) != ',')
			return;
		l.i++;
	}
}
