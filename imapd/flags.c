/*
 * imapd/flags.c — message flags between IMAP and the database.
 *
 * System flags are the bits of messages.flags (sql/001_initial.sql):
 * 1 \Seen, 2 \Answered, 4 \Flagged, 8 \Deleted, 16 \Draft; keywords
 * (RFC 9051 2.3.2 flag-keyword, atoms) are in messages.keywords, a text[]
 * that comes back from PostgreSQL in its array text form.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap_parse.h"
#include "xmalloc.h"
#include "imapd.h"

static const struct {
	const char	*name;
	unsigned	 bit;
} system_flags[] = {
	{ "\\Answered", FLAG_ANSWERED }, { "\\Flagged", FLAG_FLAGGED },
	{ "\\Deleted", FLAG_DELETED }, { "\\Seen", FLAG_SEEN },
	{ "\\Draft", FLAG_DRAFT },
};
#define NSYSTEM	(sizeof(system_flags) / sizeof(system_flags[0]))

/*
 * PostgreSQL's text form of a text[]: {a,b,"c d","e\"f"} (elements with
 * special characters quoted, with backslash escapes).  Calls fn for each
 * element; -1 on anything unexpected.
 */
int
flags_pg_array(const char *s, void (*fn)(const char *, size_t, void *),
    void *arg)
{
	struct buf	 el;
	int		 rc = -1;

	if (*s++ != '{')
		return -1;
	buf_init(&el, 4096);
	while (*s != '}') {
		buf_reset(&el);
		if (*s == '"') {
			for (s++; *s != '"'; s++) {
				if (*s == '\\' && s[1] != '\0')
					s++;
				if (*s == '\0' || buf_add(&el, s, 1) == -1)
					goto out;
			}
			s++;
		} else
			for (; *s != ',' && *s != '}'; s++)
				if (*s == '\0' || buf_add(&el, s, 1) == -1)
					goto out;
		fn(buf_cstr(&el), el.len, arg);
		if (*s == ',')
			s++;
		else if (*s != '}')
			goto out;
	}
	rc = 0;
out:
	buf_clear(&el);
	return rc;
}

static void
write_keyword(const char *kw, size_t len, void *arg)
{
	struct buf	*out = arg;

	if (out->len > 0 && BUF_DATA(out)[out->len - 1] != '(')
		buf_add(out, " ", 1);
	buf_add(out, kw, len);
}

/* "(\Seen kw ...)" for FETCH FLAGS; keywords: the text[] as text. */
void
flags_write(struct buf *out, unsigned flags, const char *keywords)
{
	size_t	 start = out->len;

	buf_add(out, "(", 1);
	for (size_t i = 0; i < NSYSTEM; i++)
		if (flags & system_flags[i].bit) {
			if (out->len > start + 1)
				buf_add(out, " ", 1);
			buf_add_str(out, system_flags[i].name);
		}
	if (flags & FLAG_RECENT)	/* the session's (RFC 3501 2.3.2) */
		buf_add_str(out, out->len > start + 1 ? " \\Recent" :
		    "\\Recent");
	if (keywords != NULL)
		(void)flags_pg_array(keywords, write_keyword, out);
	buf_add(out, ")", 1);
}

/* A flag-keyword: an atom without "\" (RFC 9051 9). */
static bool
keyword_valid(const char *s)
{
	if (*s == '\0' || strlen(s) > FLAG_KEYWORD_MAX)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
		    strchr("(){%*\"\\]", *s) != NULL)
			return false;
	return true;
}

/*
 * A flag list from STORE or APPEND: either one flag atom or a list of
 * them.  System flags become bits, keywords an array of their names
 * (owned by the caller: flags_list_free).  \Recent cannot be set
 * (RFC 3501 2.3.2).  0, or -1 for a malformed flag.
 */
int
flags_parse(const struct imap_arg *arg, unsigned *bits_r,
    struct flag_list *kw)
{
	const struct imap_arg	*v = arg;
	size_t			 n = 1;
	const char		*f;
	size_t			 i, j;

	*bits_r = 0;
	memset(kw, 0, sizeof(*kw));
	if (arg->type == IMAP_ARG_LIST && !imap_arg_list(arg, &v, &n))
		return -1;
	for (i = 0; i < n; i++) {
		if (!imap_arg_atom(&v[i], &f))
			goto bad;
		for (j = 0; j < NSYSTEM; j++)
			if (strcasecmp(f, system_flags[j].name) == 0)
				break;
		if (j < NSYSTEM) {
			*bits_r |= system_flags[j].bit;
			continue;
		}
		if (f[0] == '\\' || !keyword_valid(f) ||
		    kw->n >= FLAG_KEYWORDS_MAX)
			goto bad;
		kw->v = xreallocarray(kw->v, kw->n + 1, sizeof(*kw->v));
		kw->v[kw->n++] = xstrdup(f);
	}
	return 0;
bad:
	flags_list_free(kw);
	return -1;
}

void
flags_list_free(struct flag_list *kw)
{
	for (size_t i = 0; i < kw->n; i++)
		free(kw->v[i]);
	free(kw->v);
	memset(kw, 0, sizeof(*kw));
}

/* The keywords as a PostgreSQL text[] literal parameter ({"a","b"}). */
char *
flags_pg_literal(const struct flag_list *kw)
{
	struct buf	 b;

	buf_init(&b, 1024 * 1024);
	buf_add(&b, "{", 1);
	for (size_t i = 0; i < kw->n; i++)
		buf_printf(&b, "%s\"%s\"", i > 0 ? "," : "", kw->v[i]);
	buf_add(&b, "}", 1);
	return buf_steal(&b, NULL);
}
