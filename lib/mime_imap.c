/*
 * mime_imap — ENVELOPE and BODY/BODYSTRUCTURE of a part tree (mime.h),
 * per the formal syntax of RFC 3501 §9 and RFC 9051 §9:
 *
 *   envelope  = "(" env-date SP env-subject SP env-from SP env-sender SP
 *               env-reply-to SP env-to SP env-cc SP env-bcc SP
 *               env-in-reply-to SP env-message-id ")"
 *   address   = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"
 *   body      = "(" (body-type-1part / body-type-mpart) ")"
 *   body-type-1part = (body-type-basic / body-type-msg / body-type-text)
 *               [SP body-ext-1part]
 *   body-type-msg = media-message SP body-fields SP envelope SP body SP
 *               body-fld-lines
 *   body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime.h"
#include "xmalloc.h"

/* A writer whose first failure (out's maximum) sticks. */
struct w {
	struct buf	*b;
	int		 err;
};

static void
w_add(struct w *w, const void *p, size_t n)
{
	if (w->err == 0 && buf_add(w->b, p, n) == -1)
		w->err = -1;
}

static void
w_str(struct w *w, const char *s)
{
	w_add(w, s, strlen(s));
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE: 7-bit TEXT-CHARs only. */
static bool
quotable(const char *s)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p >= 0x80 || *p == '\r' || *p == '\n')
			return false;
	return true;
}

/* string = quoted / literal (RFC 3501 §4.3); s holds no NUL. */
static void
w_string(struct w *w, const char *s)
{
	char		 num[32];
	const char	*p;
	size_t		 len = strlen(s);

	if (!quotable(s)) {
		snprintf(num, sizeof(num), "{%zu}\r\n", len);
		w_str(w, num);
		w_add(w, s, len);
		return;
	}
	w_add(w, "\"", 1);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			w_add(w, "\\", 1);
		w_add(w, p, 1);
	}
	w_add(w, "\"", 1);
}

static void
w_nstring(struct w *w, const char *s)
{
	if (s == NULL)
		w_str(w, "NIL");
	else
		w_string(w, s);
}

/*
 * Addresses (RFC 5322 §3.4, obsolete forms §4.4).
 */

enum tok {
	T_EOF,
	T_ATOM,		/* atext run (8-bit included, RFC 6532 §3.2) */
	T_QUOTED,	/* quoted-string, raw */
	T_DLIT,		/* domain-literal, raw */
	T_SPECIAL,	/* one of ()<>[]:;@\,." outside the above */
};

struct alex {
	const char	*s;
	size_t		 len;
	size_t		 i;
	enum tok	 t;		/* the current token */
	char		 c;		/* T_SPECIAL: which */
	const char	*tok;		/* its raw octets */
	size_t		 toklen;
	bool		 space;		/* CFWS before it */
	const char	*cmt;		/* last comment before it, no parens */
	size_t		 cmtlen;
};

static bool
is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	return c > 0x20 && c < 0x7f && strchr("()<>[]:;@\\,.\"", c) == NULL;
}

/* At '(': skip a nested comment (may be unclosed), remember it. */
static void
alex_comment(struct alex *l)
{
	unsigned int	 depth = 0;
	size_t		 start = l->i + 1;
	char		 c;

	while (l->i < l->len) {
		c = l->s[l->i++];
		if (c == '\\' && l->i < l->len)
			l->i++;
		else if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			break;
	}
	l->cmt = l->s + start;
	l->cmtlen = l->i - start;
	if (depth == 0 && l->cmtlen > 0)
		l->cmtlen--;		/* the closing parenthesis */
}

static void
alex_cfws(struct alex *l)
{
	char	 c;

	l->space = false;
	l->cmt = NULL;
	while (l->i < l->len) {
		c = l->s[l->i];
		if (c == '(')
			alex_comment(l);
		else if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			l->i++;
		else
			return;
		l->space = true;
	}
}

/* At open: run to close, honouring quoted-pairs; may be unclosed. */
static void
alex_delimited(struct alex *l, char close)
{
	char	 c;

	l->i++;
	while (l->i < l->len) {
		c = l->s[l->i++];
		if (c == '\\' && l->i < l->len)
			l->i++;
		else if (c == close)
			return;
	}
}

static void
alex_next(struct alex *l)
{
	size_t	 start;
	char	 c;

	alex_cfws(l);
	start = l->i;
	l->tok = l->s + start;
	if (l->i >= l->len) {
		l->t = T_EOF;
		l->toklen = 0;
		return;
	}
	c = l->s[l->i];
	if (c == '"' || c == '[') {
		l->t = c == '"' ? T_QUOTED : T_DLIT;
		alex_delimited(l, c == '"' ? '"' : ']');
	} else if (is_atext((unsigned char)c)) {
		l->t = T_ATOM;
		while (l->i < l->len && is_atext((unsigned char)l->s[l->i]))
			l->i++;
	} else {
		l->t = T_SPECIAL;
		l->c = c;
		l->i++;
	}
	l->toklen = l->i - start;
}

static bool
alex_is(const struct alex *l, char c)
{
	return l->t == T_SPECIAL && l->c == c;
}

/* The end of one address: "," or ";" (end of group) or the end. */
static bool
alex_at_end(const struct alex *l)
{
	return l->t == T_EOF || alex_is(l, ',') || alex_is(l, ';');
}

static void
alex_skip_to_end(struct alex *l)
{
	while (!alex_at_end(l))
		alex_next(l);
}

/* Which of < : @ , ; or the end comes first from here. */
static char
alex_lookahead(const struct alex *l)
{
	struct alex	 k = *l;

	for (;;) {
		if (k.t == T_EOF)
			return '\0';
		if (k.t == T_SPECIAL && strchr("<:@,;", k.c) != NULL)
			return k.c;
		alex_next(&k);
	}
}

/* Quoted-string content without quotes and quoted-pairs. */
static void
add_unquoted(struct buf *b, const char *s, size_t len)
{
	size_t	 i;

	for (i = 1; i < len; i++) {
		if (s[i] == '"' && i == len - 1)
			break;
		if (s[i] == '\\' && i + 1 < len)
			i++;
		buf_add(b, s + i, 1);
	}
}

/*
 * display-name = phrase (obs-phrase allows "."): words up to stop, one
 * space where the source had CFWS, quoted-strings unquoted.
 */
static char *
phrase(struct alex *l, char stop)
{
	struct buf	 b;

	buf_init(&b, SIZE_MAX / 2);
	while (l->t != T_EOF && !alex_is(l, stop)) {
		if (b.len > 0 && l->space)
			buf_add(&b, " ", 1);
		if (l->t == T_QUOTED)
			add_unquoted(&b, l->tok, l->toklen);
		else
			buf_add(&b, l->tok, l->toklen);
		alex_next(l);
	}
	return buf_steal(&b, NULL);
}

/* local-part (obs-local-part: word *("." word), CFWS dropped), raw. */
static char *
local_part(struct alex *l)
{
	struct buf	 b;

	buf_init(&b, SIZE_MAX / 2);
	while (l->t != T_EOF && !alex_is(l, '@') && !alex_is(l, '>') &&
	    !alex_is(l, ',') && !alex_is(l, ';')) {
		buf_add(&b, l->tok, l->toklen);
		alex_next(l);
	}
	return buf_steal(&b, NULL);
}

/* domain = dot-atom / domain-literal / obs-domain, CFWS dropped. */
static char *
domain(struct alex *l)
{
	struct buf	 b;

	buf_init(&b, SIZE_MAX / 2);
	while (l->t == T_ATOM || l->t == T_DLIT || alex_is(l, '.')) {
		buf_add(&b, l->tok, l->toklen);
		alex_next(l);
	}
	return buf_steal(&b, NULL);
}

struct addr {
	char	*name;		/* NULL: NIL */
	char	*adl;
	char	*mailbox;
	char	*host;
};

static void
addr_clear(struct addr *a)
{
	free(a->name);
	free(a->adl);
	free(a->mailbox);
	free(a->host);
	memset(a, 0, sizeof(*a));
}

/* Write one address and count it; an empty one is dropped. */
static void
addr_emit(struct w *w, struct addr *a, unsigned int *n)
{
	if (a->name != NULL && a->name[0] == '\0') {
		free(a->name);
		a->name = NULL;
	}
	if (a->adl != NULL && a->adl[0] == '\0') {
		free(a->adl);
		a->adl = NULL;
	}
	if (a->mailbox[0] != '\0' || a->host[0] != '\0' || a->name != NULL) {
		w_str(w, "(");
		w_nstring(w, a->name);
		w_str(w, " ");
		w_nstring(w, a->adl);
		w_str(w, " ");
		w_string(w, a->mailbox);
		w_str(w, " ");
		w_string(w, a->host);
		w_str(w, ")");
		(*n)++;
	}
	addr_clear(a);
}

/* obs-route = obs-domain-list ":" -> "@a,@b"; NULL if it is not one. */
static char *
route(struct alex *l)
{
	struct buf	 b;
	char		*d;
	bool		 at;

	buf_init(&b, SIZE_MAX / 2);
	while (alex_is(l, '@') || alex_is(l, ',')) {
		at = alex_is(l, '@');
		buf_add(&b, l->tok, 1);
		alex_next(l);
		if (at) {
			d = domain(l);
			buf_add_str(&b, d);
			free(d);
		}
	}
	if (!alex_is(l, ':')) {
		buf_clear(&b);
		return NULL;
	}
	alex_next(l);
	return buf_steal(&b, NULL);
}

/* After "<": [obs-route] addr-spec ">". */
static void
angle_addr(struct alex *l, struct addr *a)
{
	if (alex_is(l, '@'))
		a->adl = route(l);
	a->mailbox = local_part(l);
	if (alex_is(l, '@')) {
		alex_next(l);
		a->host = domain(l);
	} else
		a->host = xstrdup("");
	if (alex_is(l, '>'))
		alex_next(l);
}

static void	address(struct w *, struct alex *, bool, unsigned int *);

/* group = display-name ":" [group-list] ";" (RFC 3501: NIL host marks) */
static void
group(struct w *w, struct alex *l, unsigned int *n)
{
	char	*name = phrase(l, ':');

	alex_next(l);
	w_str(w, "(NIL NIL ");
	w_string(w, name);
	w_str(w, " NIL)");
	free(name);
	while (l->t != T_EOF && !alex_is(l, ';')) {
		if (alex_is(l, ','))
			alex_next(l);
		else
			address(w, l, true, n);
	}
	if (alex_is(l, ';'))
		alex_next(l);
	w_str(w, "(NIL NIL NIL NIL)");
	*n += 2;
}

/* mailbox / group, up to (not past) the next "," or ";". */
static void
address(struct w *w, struct alex *l, bool in_group, unsigned int *n)
{
	struct addr	 a;
	char		 kind = alex_lookahead(l);

	memset(&a, 0, sizeof(a));
	if (kind == ':' && !in_group) {
		group(w, l, n);
		return;
	}
	if (kind == '<') {
		a.name = phrase(l, '<');
		alex_next(l);
		angle_addr(l, &a);
	} else if (kind == ':') {
		alex_skip_to_end(l);		/* a group inside a group */
		return;
	} else {
		a.mailbox = local_part(l);
		if (alex_is(l, '@')) {
			alex_next(l);
			a.host = domain(l);
		} else
			a.host = xstrdup("");
		/* "u@d (Name)": the comment names the mailbox */
		if (alex_at_end(l) && l->cmt != NULL)
			a.name = xstrndup(l->cmt, l->cmtlen);
	}
	alex_skip_to_end(l);
	addr_emit(w, &a, n);
}

/* address-list -> "(" 1*address ")" or "NIL", into out. */
static int
addr_list(struct buf *out, const char *value)
{
	struct buf	 b;
	struct w	 lw = { &b, 0 }, w = { out, 0 };
	struct alex	 l;
	unsigned int	 n = 0;

	if (value == NULL)
		return buf_add_str(out, "NIL");
	buf_init(&b, out->max);
	memset(&l, 0, sizeof(l));
	l.s = value;
	l.len = strlen(value);
	alex_next(&l);
	while (l.t != T_EOF) {
		if (alex_is(&l, ',') || alex_is(&l, ';'))
			alex_next(&l);
		else
			address(&lw, &l, false, &n);
	}
	if (n == 0)
		w_str(&w, "NIL");
	else {
		w_str(&w, "(");
		w_add(&w, buf_cstr(&b), b.len);
		w_str(&w, ")");
	}
	buf_clear(&b);
	return lw.err != 0 ? -1 : w.err;
}

static bool
buf_is(const struct buf *b, const char *s)
{
	return b->len == strlen(s) && memcmp(buf_cstr(b), s, b->len) == 0;
}

/* RFC 3501 §7.4.2: Sender and Reply-To default to From. */
static void
envelope(struct w *w, const struct mime_part *part)
{
	struct buf	 from, b;
	int		 i;

	buf_init(&from, w->b->max);
	buf_init(&b, w->b->max);
	if (addr_list(&from, part->env[MIME_ENV_FROM]) == -1)
		w->err = -1;
	w_str(w, "(");
	w_nstring(w, part->env[MIME_ENV_DATE]);
	w_str(w, " ");
	w_nstring(w, part->env[MIME_ENV_SUBJECT]);
	for (i = MIME_ENV_FROM; i <= MIME_ENV_BCC; i++) {
		w_str(w, " ");
		buf_reset(&b);
		if (i != MIME_ENV_FROM && addr_list(&b, part->env[i]) == -1)
			w->err = -1;
		if (i == MIME_ENV_FROM || ((i == MIME_ENV_SENDER ||
		    i == MIME_ENV_REPLY_TO) && buf_is(&b, "NIL")))
			w_add(w, buf_cstr(&from), from.len);
		else
			w_add(w, buf_cstr(&b), b.len);
	}
	w_str(w, " ");
	w_nstring(w, part->env[MIME_ENV_IN_REPLY_TO]);
	w_str(w, " ");
	w_nstring(w, part->env[MIME_ENV_MESSAGE_ID]);
	w_str(w, ")");
	buf_clear(&from);
	buf_clear(&b);
}

/*
 * Bodies.
 */

#define EMPTY_BODY \
	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"
#define NIL_ENVELOPE	"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"

static void	body(struct w *, const struct mime_part *, bool);

/* The body an empty multipart or unparsed message stands for. */
static void
empty_body(struct w *w, bool ext)
{
	w_str(w, EMPTY_BODY);
	w_str(w, ext ? " NIL NIL NIL NIL)" : ")");
}

/* body-fld-param = "(" string SP string *(SP string SP string) ")" / nil */
static void
params(struct w *w, const struct mime_param *p, size_t n, bool charset)
{
	size_t	 i;

	if (n == 0 && !charset) {
		w_str(w, "NIL");
		return;
	}
	w_str(w, "(");
	for (i = 0; i < n; i++) {
		if (i > 0)
			w_str(w, " ");
		w_string(w, p[i].name);
		w_str(w, " ");
		w_string(w, p[i].value);
	}
	if (charset)
		w_str(w, n > 0 ? " \"charset\" \"us-ascii\"" :
		    "\"charset\" \"us-ascii\"");
	w_str(w, ")");
}

static bool
is_text(const struct mime_part *part)
{
	return strcmp(part->type, "text") == 0;
}

/* A text part without charset gets the default (RFC 2046 §4.1.2). */
static bool
needs_charset(const struct mime_part *part)
{
	return is_text(part) && mime_part_param(part, "charset") == NULL;
}

/*
 * SP body-fld-dsp SP body-fld-lang SP body-fld-loc, the tail common to
 * body-ext-1part and body-ext-mpart.
 */
static void
ext_tail(struct w *w, const struct mime_part *part)
{
	size_t	 i;

	w_str(w, " ");
	if (part->disposition == NULL)
		w_str(w, "NIL");
	else {
		w_str(w, "(");
		w_string(w, part->disposition);
		w_str(w, " ");
		params(w, part->disp_params, part->ndisp_params, false);
		w_str(w, ")");
	}
	w_str(w, " ");
	if (part->nlanguages == 0)
		w_str(w, "NIL");
	else {
		w_str(w, "(");
		for (i = 0; i < part->nlanguages; i++) {
			if (i > 0)
				w_str(w, " ");
			w_string(w, part->languages[i]);
		}
		w_str(w, ")");
	}
	w_str(w, " ");
	w_nstring(w, part->location);
}

/* body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart] */
static void
body_mpart(struct w *w, const struct mime_part *part, bool ext)
{
	const struct mime_part	*c;

	if (part->children == NULL)
		empty_body(w, ext);
	for (c = part->children; c != NULL; c = c->next)
		body(w, c, ext);
	w_str(w, " ");
	w_string(w, part->subtype);
	if (!ext)
		return;
	w_str(w, " ");
	params(w, part->params, part->nparams, false);
	ext_tail(w, part);
}

/* envelope SP body SP body-fld-lines of body-type-msg */
static void
body_msg(struct w *w, const struct mime_part *part, bool ext)
{
	w_str(w, " ");
	if (part->children == NULL) {
		w_str(w, NIL_ENVELOPE " ");
		empty_body(w, ext);
	} else {
		envelope(w, part->children);
		w_str(w, " ");
		body(w, part->children, ext);
	}
}

/* body-type-basic / body-type-msg / body-type-text [SP body-ext-1part] */
static void
body_1part(struct w *w, const struct mime_part *part, bool ext)
{
	char	 num[64];

	w_string(w, part->type);
	w_str(w, " ");
	w_string(w, part->subtype);
	w_str(w, " ");
	params(w, part->params, part->nparams, needs_charset(part));
	w_str(w, " ");
	w_nstring(w, part->id);
	w_str(w, " ");
	w_nstring(w, part->description);
	w_str(w, " ");
	w_string(w, part->cte);
	snprintf(num, sizeof(num), " %zu", part->body_len);
	w_str(w, num);
	if (part->flags & MIME_PART_F_ENCAPS)
		body_msg(w, part, ext);
	if (is_text(part) || (part->flags & MIME_PART_F_ENCAPS)) {
		snprintf(num, sizeof(num), " %llu",
		    (unsigned long long)part->body_lines);
		w_str(w, num);
	}
	if (!ext)
		return;
	w_str(w, " ");
	w_nstring(w, part->md5);
	ext_tail(w, part);
}

static void
body(struct w *w, const struct mime_part *part, bool ext)
{
	w_str(w, "(");
	if (part->flags & MIME_PART_F_MULTIPART)
		body_mpart(w, part, ext);
	else
		body_1part(w, part, ext);
	w_str(w, ")");
}

int
mime_envelope_write(struct buf *out, const struct mime_part *part)
{
	struct w	 w = { out, 0 };

	envelope(&w, part);
	return w.err;
}

int
mime_body_write(struct buf *out, const struct mime_part *part, bool ext)
{
	struct w	 w = { out, 0 };

	body(&w, part, ext);
	return w.err;
}
