/*
 * imapd/fetch_parse.c — the data items of FETCH (RFC 9051 6.4.5 and 9,
 * RFC 3501 6.4.5, RFC 3516 BINARY):
 *
 *   fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" /
 *               "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
 *               "BODY" ["STRUCTURE"] / "UID" /
 *               "BODY" [".PEEK"] section [partial] /
 *               "BINARY" [".PEEK"] section-binary [partial] /
 *               "BINARY.SIZE" section-binary /
 *               "MODSEQ"                         ; RFC 7162 3.1.4.2
 *   section   = "[" [section-spec] "]"
 *   section-spec = section-msgtext / (section-part ["." section-text])
 *   section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list /
 *               "TEXT"
 *   section-text = section-msgtext / "MIME"
 *   section-binary = "[" [section-part] "]"
 *   partial   = "<" number "." nz-number ">"
 *
 * The command parser hands "BODY.PEEK[HEADER.FIELDS (A B)]<0.10>" over as
 * one atom; the section is read here.  Header field names in the list are
 * atoms or quoted strings (astring without literals: a literal inside the
 * brackets is refused by the parser).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap_fmt.h"
#include "imap_parse.h"
#include "xmalloc.h"
#include "imapd.h"
#include "fetch.h"

#define FIELDS_MAX	1000	/* names in one HEADER.FIELDS list */
#define FIELD_MAX	200	/* octets of one name */
#define LABEL_MAX	(64 * 1024)

static const struct {
	const char	*name;
	enum fetch_att	 att;
} simple_atts[] = {
	{ "FLAGS", FA_FLAGS }, { "INTERNALDATE", FA_INTERNALDATE },
	{ "RFC822.SIZE", FA_SIZE }, { "ENVELOPE", FA_ENVELOPE },
	{ "BODYSTRUCTURE", FA_BODYSTRUCTURE }, { "BODY", FA_BODY },
	{ "UID", FA_UID }, { "MODSEQ", FA_MODSEQ },
};

/* RFC822, RFC822.HEADER, RFC822.TEXT: BODY[], BODY.PEEK[HEADER], BODY[TEXT]
   answered under their own names. */
static const struct {
	const char	*name;
	enum fetch_spec	 spec;
	bool		 peek;
} rfc822_atts[] = {
	{ "RFC822", SPEC_PART, false }, { "RFC822.HEADER", SPEC_HEADER, true },
	{ "RFC822.TEXT", SPEC_TEXT, false },
};

static const struct {
	const char	*name;
	const char	*macro[5];
} macros[] = {
	{ "ALL", { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE" } },
	{ "FAST", { "FLAGS", "INTERNALDATE", "RFC822.SIZE" } },
	{ "FULL", { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE",
	    "BODY" } },
};

struct cursor {
	const char	*p;
	const char	*why;
};

static bool
eat(struct cursor *c, const char *word)
{
	size_t	 n = strlen(word);

	if (strncasecmp(c->p, word, n) != 0)
		return false;
	c->p += n;
	return true;
}

static bool
fail(struct cursor *c, const char *why)
{
	if (c->why == NULL)
		c->why = why;
	return false;
}

/* number (RFC 9051 9), 0 .. 4294967295; nz: no zero. */
static bool
number(struct cursor *c, bool nz, uint32_t *v_r)
{
	uint64_t	 v = 0;
	const char	*s = c->p;

	if (!isdigit((unsigned char)*s) || (nz && *s == '0'))
		return fail(c, "Invalid number in FETCH item");
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return fail(c, "Number too big in FETCH item");
	}
	c->p = s;
	*v_r = (uint32_t)v;
	return true;
}

/* section-part = nz-number *("." nz-number), into part. */
static bool
section_part(struct cursor *c, struct buf *part)
{
	uint32_t	 n;

	while (isdigit((unsigned char)*c->p)) {
		if (!number(c, true, &n))
			return false;
		buf_printf(part, "%s%u", part->len > 0 ? "." : "", n);
		if (c->p[0] != '.' || !isdigit((unsigned char)c->p[1]))
			break;
		c->p++;
	}
	return true;
}

/* ftext (RFC 5322 3.6.8): printable US-ASCII but ":". */
static bool
field_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > FIELD_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 33 || s[i] > 126 || s[i] == ':')
			return false;
	return true;
}

static bool
quoted_name(struct cursor *c, struct buf *name)
{
	for (c->p++; *c->p != '"'; c->p++) {
		if (*c->p == '\\' && (c->p[1] == '"' || c->p[1] == '\\'))
			c->p++;
		if (*c->p == '\0' || buf_add(name, c->p, 1) == -1)
			return fail(c, "Invalid header field name");
	}
	c->p++;
	return true;
}

static bool
atom_name(struct cursor *c, struct buf *name)
{
	const char	*s = c->p;

	while ((unsigned char)*s > ' ' && (unsigned char)*s < 0x7f &&
	    strchr("(){%*\"\\]", *s) == NULL)
		s++;
	if (buf_add(name, c->p, (size_t)(s - c->p)) == -1)
		return fail(c, "Invalid header field name");
	c->p = s;
	return true;
}

static bool
field_name(struct cursor *c, struct fetch_item *it)
{
	struct buf	 name;
	bool		 ok;

	buf_init(&name, FIELD_MAX + 1);
	ok = *c->p == '"' ? quoted_name(c, &name) : atom_name(c, &name);
	if (ok && !field_name_valid(buf_cstr(&name), name.len))
		ok = fail(c, "Invalid header field name");
	if (ok && it->nfields >= FIELDS_MAX)
		ok = fail(c, "Too many header field names");
	if (!ok) {
		buf_clear(&name);
		return false;
	}
	it->fields = xreallocarray(it->fields, it->nfields + 1,
	    sizeof(*it->fields));
	it->fields[it->nfields++] = buf_steal(&name, NULL);
	buf_clear(&name);
	return true;
}

/* SP "(" header-fld-name *(SP header-fld-name) ")" */
static bool
header_list(struct cursor *c, struct fetch_item *it)
{
	if (!eat(c, " ("))
		return fail(c, "Expected a header field list");
	for (;;) {
		while (*c->p == ' ')
			c->p++;
		if (*c->p == ')' && it->nfields > 0)
			break;
		if (!field_name(c, it))
			return false;
	}
	c->p++;
	return true;
}

/* What follows the part number (or stands alone). */
static bool
section_text(struct cursor *c, struct fetch_item *it, bool top)
{
	if (eat(c, "HEADER.FIELDS.NOT"))
		it->spec = SPEC_FIELDS_NOT;
	else if (eat(c, "HEADER.FIELDS"))
		it->spec = SPEC_FIELDS;
	else if (eat(c, "HEADER"))
		it->spec = SPEC_HEADER;
	else if (eat(c, "TEXT"))
		it->spec = SPEC_TEXT;
	else if (!top && eat(c, "MIME"))
		it->spec = SPEC_MIME;
	else
		return fail(c, "Invalid section");
	if (it->spec == SPEC_FIELDS || it->spec == SPEC_FIELDS_NOT)
		return header_list(c, it);
	return true;
}

static bool
section(struct cursor *c, struct fetch_item *it)
{
	struct buf	 part;
	bool		 ok;

	buf_init(&part, 4096);
	ok = section_part(c, &part);
	it->part = buf_steal(&part, NULL);
	buf_clear(&part);
	if (!ok)
		return false;
	if (*c->p == ']' || it->binary)
		it->spec = SPEC_PART;
	else if (it->part[0] != '\0' && !eat(c, "."))
		return fail(c, "Invalid section");
	else if (!section_text(c, it, it->part[0] == '\0'))
		return false;
	if (!eat(c, "]"))
		return fail(c, "Invalid section");
	return true;
}

static bool
partial(struct cursor *c, struct fetch_item *it)
{
	if (*c->p != '<' || it->att == FA_BINARY_SIZE)
		return true;
	c->p++;
	if (!number(c, false, &it->origin) || !eat(c, ".") ||
	    !number(c, true, &it->count) || !eat(c, ">"))
		return fail(c, "Invalid partial range");
	it->partial = true;
	return true;
}

static void
label_fields(struct buf *b, const struct fetch_item *it)
{
	buf_add_str(b, " (");
	for (size_t i = 0; i < it->nfields; i++) {
		if (i > 0)
			buf_add_str(b, " ");
		imap_fmt_astring(b, it->fields[i], strlen(it->fields[i]),
		    false);
	}
	buf_add_str(b, ")");
}

static const char *const spec_names[] = {
	[SPEC_PART] = "", [SPEC_HEADER] = "HEADER",
	[SPEC_FIELDS] = "HEADER.FIELDS",
	[SPEC_FIELDS_NOT] = "HEADER.FIELDS.NOT",
	[SPEC_TEXT] = "TEXT", [SPEC_MIME] = "MIME",
};

/* "BODY[1.HEADER.FIELDS (A B)]" as the answer names it. */
static char *
section_label(const struct fetch_item *it)
{
	struct buf	 b;

	buf_init(&b, LABEL_MAX);
	buf_add_str(&b, it->att == FA_BINARY_SIZE ? "BINARY.SIZE[" :
	    it->binary ? "BINARY[" : "BODY[");
	buf_add_str(&b, it->part);
	if (it->part[0] != '\0' && it->spec != SPEC_PART)
		buf_add_str(&b, ".");
	buf_add_str(&b, spec_names[it->spec]);
	if (it->spec == SPEC_FIELDS || it->spec == SPEC_FIELDS_NOT)
		label_fields(&b, it);
	buf_add_str(&b, "]");
	return buf_steal(&b, NULL);
}

/* BODY[..], BODY.PEEK[..], BINARY[..], BINARY.PEEK[..], BINARY.SIZE[..] */
static bool
section_att(struct cursor *c, struct fetch_item *it)
{
	if (eat(c, "BODY.PEEK["))
		it->peek = true;
	else if (eat(c, "BINARY.PEEK["))
		it->peek = it->binary = true;
	else if (eat(c, "BINARY.SIZE[")) {
		it->att = FA_BINARY_SIZE;
		it->binary = true;
	}
	else if (eat(c, "BINARY["))
		it->binary = true;
	else if (!eat(c, "BODY["))
		return fail(c, "Unknown FETCH item");
	if (it->att != FA_BINARY_SIZE)
		it->att = FA_SECTION;
	if (!section(c, it) || !partial(c, it))
		return false;
	if (*c->p != '\0')
		return fail(c, "Invalid FETCH item");
	it->label = section_label(it);
	return true;
}

static void
item_clear(struct fetch_item *it)
{
	free(it->label);
	free(it->part);
	for (size_t i = 0; i < it->nfields; i++)
		free(it->fields[i]);
	free(it->fields);
	memset(it, 0, sizeof(*it));
}

static bool
att_parse(const char *s, struct fetch_item *it, const char **why_r)
{
	struct cursor	 c = { s, NULL };
	size_t		 i;

	memset(it, 0, sizeof(*it));
	for (i = 0; i < sizeof(simple_atts) / sizeof(simple_atts[0]); i++)
		if (strcasecmp(s, simple_atts[i].name) == 0) {
			it->att = simple_atts[i].att;
			return true;
		}
	for (i = 0; i < sizeof(rfc822_atts) / sizeof(rfc822_atts[0]); i++)
		if (strcasecmp(s, rfc822_atts[i].name) == 0) {
			it->att = FA_SECTION;
			it->label = xstrdup(rfc822_atts[i].name);
			it->part = xstrdup("");
			it->spec = rfc822_atts[i].spec;
			it->peek = rfc822_atts[i].peek;
			return true;
		}
	if (section_att(&c, it))
		return true;
	item_clear(it);
	*why_r = c.why;
	return false;
}

void
fetch_items_free(struct fetch_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		item_clear(&items[i]);
	free(items);
}

static int
items_from_names(const char *const *names, size_t n, struct fetch_item *items,
    const char **why_r)
{
	for (size_t i = 0; i < n; i++)
		if (!att_parse(names[i], &items[i], why_r)) {
			while (i-- > 0)
				item_clear(&items[i]);
			return -1;
		}
	return 0;
}

static int
macro_parse(const char *s, struct fetch_item **items_r, size_t *n_r,
    const char **why_r)
{
	size_t	 n;

	for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
		if (strcasecmp(s, macros[i].name) != 0)
			continue;
		for (n = 0; n < 5 && macros[i].macro[n] != NULL; n++)
			continue;
		*items_r = xcalloc(n, sizeof(**items_r));
		*n_r = n;
		return items_from_names(macros[i].macro, n, *items_r, why_r);
	}
	return 1;
}

int
fetch_items_parse(const struct imap_arg *arg, struct fetch_item **items_r,
    size_t *n_r, const char **why_r)
{
	const struct imap_arg	*v = arg;
	const char		*s;
	size_t			 n = 1;
	int			 rc;

	*items_r = NULL;
	*n_r = 0;
	*why_r = "Invalid FETCH items";
	if (imap_arg_atom(arg, &s) &&
	    (rc = macro_parse(s, items_r, n_r, why_r)) <= 0) {
		if (rc == -1) {
			free(*items_r);
			*items_r = NULL;
		}
		return rc;
	}
	if (arg->type == IMAP_ARG_LIST && (!imap_arg_list(arg, &v, &n) ||
	    n == 0))
		return -1;
	*items_r = xcalloc(n, sizeof(**items_r));
	for (size_t i = 0; i < n; i++) {
		if (!imap_arg_atom(&v[i], &s) ||
		    !att_parse(s, &(*items_r)[i], why_r)) {
			fetch_items_free(*items_r, i);
			*items_r = NULL;
			return -1;
		}
		*n_r = i + 1;
	}
	return 0;
}

unsigned
fetch_need(const struct fetch_item *items, size_t n)
{
	unsigned	 need = 0;

	for (size_t i = 0; i < n; i++)
		switch (items[i].att) {
		case FA_ENVELOPE:
			need |= NEED_ENVELOPE;
			break;
		case FA_BODYSTRUCTURE:
			need |= NEED_BODYSTRUCT;
			break;
		case FA_SECTION:
			need |= NEED_BLOB | (items[i].peek ? 0 : NEED_SEEN);
			break;
		case FA_BODY:
		case FA_BINARY_SIZE:
			need |= NEED_BLOB;
			break;
		default:
			break;
		}
	return need;
}
