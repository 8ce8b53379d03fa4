/*
 * mime — the part tree of a stored message (mime.h).
 *
 * One forward pass over the lines.  ps->pos is the start of the next
 * unread line and ps->lf the number of LFs before it, so a part's line
 * count is a subtraction and no byte is looked at twice.  Multiparts push
 * their boundary on a stack; every line that starts with "--" is compared
 * with the stack, innermost first, and a match ends every part opened
 * since that boundary was pushed (struct stop carries it back up).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "mime.h"
#include "mime_private.h"
#include "xmalloc.h"

struct mime_msg {
	struct mime_part	**parts;	/* pre-order */
	size_t			  nparts;
	size_t			  cap;
	bool			  limited;
};

struct boundary {
	const char	*s;
	size_t		 len;
};

/* Where a scan stopped: a delimiter line, or the end of the input. */
struct stop {
	size_t		 line;		/* start of the delimiter line, or n */
	uint64_t	 lf;		/* LFs before line */
	int		 level;		/* index in ps->bnd; -1: end of input */
	bool		 close;		/* "--boundary--" */
};

struct parser {
	const uint8_t		*p;
	size_t			 n;
	size_t			 pos;		/* next line */
	uint64_t		 lf;		/* LFs before pos */
	struct mime_limits	 lim;
	struct mime_msg		*msg;
	struct boundary		*bnd;		/* open multiparts */
	unsigned int		 nbnd;
	struct buf		 field;		/* one unfolded field value */
};

/* Header fields we read; the first occurrence counts. */
enum field_id {
	FLD_CT,
	FLD_CTE,
	FLD_ID,
	FLD_DESC,
	FLD_DISP,
	FLD_LANG,
	FLD_LOC,
	FLD_MD5,
	FLD_ENV,		/* + enum mime_env_field */
	FLD_COUNT = FLD_ENV + MIME_ENV_NFIELDS,
};

static const char *const field_names[FLD_COUNT] = {
	"content-type", "content-transfer-encoding", "content-id",
	"content-description", "content-disposition", "content-language",
	"content-location", "content-md5",
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
};

#define FIELD_NAME_MAX	32	/* longer names are none of ours */

/* State of one header being read. */
struct hdr {
	struct mime_part	*part;
	unsigned int		 nfields;
	uint32_t		 seen;		/* 1 << enum field_id */
	bool			 ct_bad;	/* Content-Type invalid */
};

static void	parse_part(struct parser *, struct mime_part *, unsigned int,
		    struct stop *);

void
mime_limits_default(struct mime_limits *lim)
{
	lim->depth_max = MIME_DEPTH_MAX;
	lim->parts_max = MIME_PARTS_MAX;
	lim->fields_max = MIME_FIELDS_MAX;
	lim->field_max = MIME_FIELD_MAX;
	lim->params_max = MIME_PARAMS_MAX;
}

static void
limits_set(struct mime_limits *dst, const struct mime_limits *src)
{
	mime_limits_default(dst);
	if (src == NULL)
		return;
	dst->depth_max = src->depth_max < MIME_DEPTH_LIMIT ?
	    src->depth_max : MIME_DEPTH_LIMIT;
	if (src->parts_max != 0)
		dst->parts_max = src->parts_max;
	if (src->fields_max != 0)
		dst->fields_max = src->fields_max;
	if (src->field_max != 0)
		dst->field_max = src->field_max;
	if (src->params_max != 0)
		dst->params_max = src->params_max;
}

static void
limited(struct parser *ps)
{
	ps->msg->limited = true;
}

/*
 * Lines.
 */

/* Offset of the LF ending the line at pos, or n. */
static size_t
line_end(const struct parser *ps, size_t pos)
{
	const uint8_t	*nl;

	nl = memchr(ps->p + pos, '\n', ps->n - pos);
	return nl == NULL ? ps->n : (size_t)(nl - ps->p);
}

/* Move ps->pos past the line whose LF (or the end) is at le. */
static void
line_skip(struct parser *ps, size_t le)
{
	if (le < ps->n) {
		ps->pos = le + 1;
		ps->lf++;
	} else
		ps->pos = ps->n;
}

static bool
line_is_empty(const struct parser *ps, size_t pos, size_t le)
{
	return le == pos || (le == pos + 1 && ps->p[pos] == '\r');
}

static void
stop_eof(struct parser *ps, struct stop *st)
{
	st->line = ps->n;
	st->lf = ps->lf;
	st->level = -1;
	st->close = false;
}

/*
 * Is the line pos..le a delimiter of an open multipart (RFC 2046
 * §5.1.1: "--" boundary ["--"] *LWSP)?  Innermost first.  On a match
 * the line is consumed and *st filled.
 */
static bool
delimiter(struct parser *ps, size_t pos, size_t le, struct stop *st)
{
	const uint8_t	*s = ps->p + pos + 2;
	size_t		 ce = le, len;
	int		 i;

	if (ps->nbnd == 0 || le - pos < 3 || ps->p[pos] != '-' ||
	    ps->p[pos + 1] != '-')
		return false;
	if (ps->p[ce - 1] == '\r')
		ce--;
	while (ce > pos + 2 && (ps->p[ce - 1] == ' ' || ps->p[ce - 1] == '\t'))
		ce--;
	len = ce - (pos + 2);
	for (i = (int)ps->nbnd - 1; i >= 0; i--) {
		const struct boundary *b = &ps->bnd[i];

		if (len != b->len && len != b->len + 2)
			continue;
		if (memcmp(s, b->s, b->len) != 0)
			continue;
		if (len == b->len + 2 && memcmp(s + b->len, "--", 2) != 0)
			continue;
		st->line = pos;
		st->lf = ps->lf;
		st->level = i;
		st->close = len != b->len;
		line_skip(ps, le);
		return true;
	}
	return false;
}

/* Count the LFs from ps->pos to the end: nothing can stop us there. */
static void
scan_to_end(struct parser *ps)
{
	size_t	 le;

	while (ps->pos < ps->n) {
		le = line_end(ps, ps->pos);
		line_skip(ps, le);
	}
}

/* Skip body lines up to a delimiter of an open multipart or the end. */
static void
scan(struct parser *ps, struct stop *st)
{
	size_t	 le;

	if (ps->nbnd == 0)
		scan_to_end(ps);
	while (ps->pos < ps->n) {
		le = line_end(ps, ps->pos);
		if (delimiter(ps, ps->pos, le, st))
			return;
		line_skip(ps, le);
	}
	stop_eof(ps, st);
}

/*
 * Parts.
 */

static struct mime_part *
part_new(struct parser *ps, struct mime_part *parent)
{
	struct mime_msg		*msg = ps->msg;
	struct mime_part	*part;

	if (msg->nparts >= ps->lim.parts_max) {
		limited(ps);
		return NULL;
	}
	if (msg->nparts == msg->cap) {
		msg->cap = msg->cap == 0 ? 16 : msg->cap * 2;
		msg->parts = xreallocarray(msg->parts, msg->cap,
		    sizeof(*msg->parts));
	}
	part = xcalloc(1, sizeof(*part));
	part->parent = parent;
	part->depth = parent == NULL ? 0 : parent->depth + 1;
	part->index = msg->nparts;
	msg->parts[msg->nparts++] = part;
	return part;
}

void
mime_param_free_list(struct mime_param *params, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(params[i].name);
		free(params[i].value);
	}
	free(params);
}

static void
part_free(struct mime_part *part)
{
	size_t	 i;

	free(part->section);
	free(part->type);
	free(part->subtype);
	mime_param_free_list(part->params, part->nparams);
	free(part->cte);
	free(part->id);
	free(part->description);
	free(part->md5);
	free(part->disposition);
	mime_param_free_list(part->disp_params, part->ndisp_params);
	for (i = 0; i < part->nlanguages; i++)
		free(part->languages[i]);
	free(part->languages);
	free(part->location);
	for (i = 0; i < MIME_ENV_NFIELDS; i++)
		free(part->env[i]);
	free(part);
}

static bool
part_is(const struct mime_part *part, const char *type, const char *subtype)
{
	return part != NULL && part->type != NULL &&
	    strcmp(part->type, type) == 0 &&
	    strcmp(part->subtype, subtype) == 0;
}

static void
field_value(struct parser *ps, struct hdr *h, enum field_id id,
    const char *v, size_t len)
{
	struct mime_part	*part = h->part;
	unsigned int		 pmax = ps->lim.params_max;
	char			**dst = NULL;

	switch (id) {
	case FLD_CT:
		h->ct_bad = !mime_content_type(part, v, len, pmax,
		    &ps->msg->limited);
		return;
	case FLD_CTE:
		mime_content_encoding(part, v, len);
		return;
	case FLD_DISP:
		mime_content_disposition(part, v, len, pmax, &ps->msg->limited);
		return;
	case FLD_LANG:
		mime_content_language(part, v, len, pmax, &ps->msg->limited);
		return;
	case FLD_ID:
		dst = &part->id;
		break;
	case FLD_DESC:
		dst = &part->description;
		break;
	case FLD_LOC:
		dst = &part->location;
		break;
	case FLD_MD5:
		dst = &part->md5;
		break;
	default:
		dst = &part->env[id - FLD_ENV];
		break;
	}
	*dst = xstrndup(v, len);
}

/*
 * Header fields (RFC 5322 §2.2).
 */

static int
field_lookup(const uint8_t *name, size_t len)
{
	int	 i;

	for (i = 0; i < FLD_COUNT; i++)
		if (strlen(field_names[i]) == len &&
		    strncasecmp((const char *)name, field_names[i], len) == 0)
			return i;
	return -1;
}

/*
 * Unfold (RFC 5322 §2.2.3: drop the line breaks) the octets from..to
 * into ps->field, dropping NULs, keeping at most field_max octets.
 */
static void
field_unfold(struct parser *ps, size_t from, size_t to)
{
	struct buf	*b = &ps->field;
	uint8_t		 c;
	size_t		 i;

	buf_reset(b);
	for (i = from; i < to; i++) {
		c = ps->p[i];
		if (c == '\n' || c == '\0' ||
		    (c == '\r' && i + 1 < to && ps->p[i + 1] == '\n'))
			continue;
		if (buf_add_u8(b, c) == -1) {
			limited(ps);
			break;
		}
	}
}

/* Which field starts at start, or -1 (unknown, no colon, no name). */
static int
field_id_at(const struct parser *ps, size_t start, size_t end,
    size_t *colon_r)
{
	const uint8_t	*p = ps->p + start, *colon;
	size_t		 len = end - start, nlen;

	if (len > FIELD_NAME_MAX + 1)
		len = FIELD_NAME_MAX + 1;
	if ((colon = memchr(p, ':', len)) == NULL)
		return -1;
	nlen = (size_t)(colon - p);
	/* RFC 5322 §4.5.3 (obs-optional): white space before the colon */
	while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
		nlen--;
	*colon_r = start + (size_t)(colon - p);
	return field_lookup(p, nlen);
}

/* A whole field (its lines start..end) has been read. */
static void
field_done(struct parser *ps, struct hdr *h, size_t start, size_t end)
{
	size_t		 colon, skip;
	const char	*v;
	int		 id;

	if (start == end)
		return;
	if (h->nfields++ == ps->lim.fields_max)
		limited(ps);
	if (h->nfields > ps->lim.fields_max)
		return;
	if ((id = field_id_at(ps, start, end, &colon)) == -1 ||
	    (h->seen & (1u << id)) != 0)
		return;
	if (id >= FLD_ENV && (h->part->flags & MIME_PART_F_MESSAGE) == 0)
		return;
	h->seen |= 1u << id;
	field_unfold(ps, colon + 1, end);
	v = buf_cstr(&ps->field);
	skip = strspn(v, " \t");
	field_value(ps, h, id, v + skip, ps->field.len - skip);
}

/*
 * Read a header from ps->pos.  true: it ended with an empty line and the
 * body (part->body_off) follows; false: the input or a delimiter (*st)
 * ended it.
 */
static bool
header_parse(struct parser *ps, struct hdr *h, struct stop *st)
{
	size_t	 fstart = ps->pos, fend = ps->pos, pos, le;

	while ((pos = ps->pos) < ps->n) {
		le = line_end(ps, pos);
		if (line_is_empty(ps, pos, le) || delimiter(ps, pos, le, st)) {
			field_done(ps, h, fstart, fend);
			if (ps->pos != pos)	/* the delimiter was consumed */
				return false;
			line_skip(ps, le);
			h->part->body_off = ps->pos;
			return true;
		}
		if (ps->p[pos] != ' ' && ps->p[pos] != '\t') {
			field_done(ps, h, fstart, fend);
			fstart = pos;
		}
		line_skip(ps, le);
		fend = ps->pos;
	}
	field_done(ps, h, fstart, fend);
	stop_eof(ps, st);
	return false;
}

/*
 * Defaults and section numbers, once the header is known.
 */

static void
part_defaults(struct mime_part *part, const struct hdr *h)
{
	const char	*cs;

	if (part->type == NULL) {
		/* RFC 2046 §5.1.5; RFC 2045 §5.2 */
		if (!h->ct_bad &&
		    part_is(part->parent, "multipart", "digest")) {
			part->type = xstrdup("message");
			part->subtype = xstrdup("rfc822");
		} else {
			part->type = xstrdup("text");
			part->subtype = xstrdup("plain");
		}
	}
	if (part->cte == NULL) {
		part->cte = xstrdup("7bit");
		part->encoding = MIME_ENC_7BIT;
	}
	if (strcmp(part->type, "multipart") == 0)
		part->flags |= MIME_PART_F_MULTIPART;
	if (part_is(part, "message", "rfc822") ||
	    part_is(part, "message", "global"))
		part->flags |= MIME_PART_F_ENCAPS;
	cs = mime_part_param(part, "charset");
	if (cs == NULL && strcmp(part->type, "text") == 0)
		cs = "us-ascii";
	part->charset = cs;
}

/* RFC 3501 §6.4.5; see mime.h. */
static void
part_section(struct mime_part *part, unsigned int num)
{
	const struct mime_part	*parent = part->parent;
	bool			 multi = part->flags & MIME_PART_F_MULTIPART;

	if (parent == NULL)
		part->section = xstrdup(multi ? "" : "1");
	else if ((parent->flags & MIME_PART_F_ENCAPS) && multi)
		part->section = xstrdup(parent->section);
	else if (parent->flags & MIME_PART_F_ENCAPS)
		part->section = xasprintf("%s.1", parent->section);
	else if (parent->section[0] == '\0')
		part->section = xasprintf("%u", num);
	else
		part->section = xasprintf("%s.%u", parent->section, num);
}

/* Only identity encodings can hold parts (RFC 2045 §6.4). */
static bool
part_can_nest(const struct parser *ps, const struct mime_part *part)
{
	return part->depth < ps->lim.depth_max &&
	    (part->encoding == MIME_ENC_7BIT ||
	    part->encoding == MIME_ENC_8BIT ||
	    part->encoding == MIME_ENC_BINARY);
}

/*
 * Body ends.
 */

/*
 * Where what started at from ends, given the stop that ended it: RFC 2046
 * §5.1.1, the line end before a delimiter is the delimiter's.  *lf_r
 * gets the LFs before that end.
 */
static size_t
stop_end(const struct parser *ps, size_t from, const struct stop *st,
    uint64_t *lf_r)
{
	size_t	 end = st->line;

	*lf_r = st->lf;
	if (st->level >= 0 && end > from) {
		end--;
		(*lf_r)--;
		if (end > from && ps->p[end - 1] == '\r')
			end--;
	}
	return end;
}

/* The descendants of an emptied body (an encapsulated message) follow. */
static void
part_collapse(struct mime_part *part, size_t at)
{
	struct mime_part	*c;

	for (c = part->children; c != NULL; c = c->next) {
		c->hdr_off = c->body_off = at;
		c->hdr_len = c->body_len = 0;
		c->body_lines = 0;
		part_collapse(c, at);
	}
}

/* Where the last child ends (0 if none). */
static size_t
children_end(const struct mime_part *part)
{
	const struct mime_part	*c = part->children;

	if (c == NULL)
		return 0;
	while (c->next != NULL)
		c = c->next;
	return c->body_off + c->body_len;
}

/*
 * Set the body's end and line count from the stop that ended it.
 *
 * An empty line that ends a header right before a delimiter is the
 * delimiter's CRLF (RFC 2046 §5.1.1: body-part := MIME-part-headers
 * [CRLF *OCTET]; delimiter := CRLF dash-boundary), so the body, empty,
 * starts where the header's fields end, and so does an encapsulated
 * message in it.
 *
 * A body never ends before its last child: an empty last part right at
 * a delimiter ("--in" LF "--out") used that line end for its own
 * delimiter line.
 */
static void
body_done(struct parser *ps, struct mime_part *part, uint64_t lf0,
    const struct stop *st)
{
	uint64_t	 lf;
	size_t		 end = stop_end(ps, part->hdr_off, st, &lf), last;

	if (end < part->body_off) {
		part->body_off = end;
		part->body_len = 0;
		part->body_lines = 0;
		part_collapse(part, end);
		return;
	}
	if ((last = children_end(part)) > end) {
		end = last;
		if (end == st->line)
			lf = st->lf;
	}
	part->body_len = end - part->body_off;
	part->body_lines = lf - lf0;
	if (end > part->body_off && ps->p[end - 1] != '\n')
		part->body_lines++;
}

static void
link_child(struct mime_part *parent, struct mime_part **tail,
    struct mime_part *child)
{
	if (*tail == NULL)
		parent->children = child;
	else
		(*tail)->next = child;
	*tail = child;
	parent->nchildren++;
}

/* RFC 2046 §5.1: preamble, parts, epilogue. */
static void
parse_multipart(struct parser *ps, struct mime_part *part, const char *b,
    struct stop *st)
{
	struct mime_part	*child, *tail = NULL;
	int			 level = (int)ps->nbnd;
	unsigned int		 num = 0;

	ps->bnd[ps->nbnd].s = b;
	ps->bnd[ps->nbnd++].len = strlen(b);
	scan(ps, st);
	while (st->level == level && !st->close) {
		num++;
		if ((child = part_new(ps, part)) == NULL) {
			part->flags |= MIME_PART_F_TRUNCATED;
			scan(ps, st);
			continue;
		}
		link_child(part, &tail, child);
		parse_part(ps, child, num, st);
	}
	ps->nbnd--;
	if (st->level == level)
		scan(ps, st);
}

/* RFC 2046 §5.2.1: the body is a message. */
static void
parse_encaps(struct parser *ps, struct mime_part *part, struct stop *st)
{
	struct mime_part	*child, *tail = NULL;

	if ((child = part_new(ps, part)) == NULL) {
		part->flags |= MIME_PART_F_OPAQUE | MIME_PART_F_TRUNCATED;
		scan(ps, st);
		return;
	}
	child->flags |= MIME_PART_F_MESSAGE;
	link_child(part, &tail, child);
	parse_part(ps, child, 1, st);
}

static const char *
multipart_boundary(const struct mime_part *part)
{
	const char	*b = mime_part_param(part, "boundary");

	if (b == NULL || b[0] == '\0' || strlen(b) > MIME_BOUNDARY_MAX)
		return NULL;
	return b;
}

static void
parse_body(struct parser *ps, struct mime_part *part, struct stop *st)
{
	const char	*b;
	bool		 nest = part_can_nest(ps, part);

	if (part->depth >= ps->lim.depth_max &&
	    (part->flags & (MIME_PART_F_MULTIPART | MIME_PART_F_ENCAPS)))
		limited(ps);
	if ((part->flags & MIME_PART_F_MULTIPART) && nest &&
	    (b = multipart_boundary(part)) != NULL)
		parse_multipart(ps, part, b, st);
	else if ((part->flags & MIME_PART_F_ENCAPS) && nest)
		parse_encaps(ps, part, st);
	else {
		if (part->flags & (MIME_PART_F_MULTIPART | MIME_PART_F_ENCAPS))
			part->flags |= MIME_PART_F_OPAQUE;
		scan(ps, st);
	}
}

/* A part from its header on; *st gets what ended it. */
static void
parse_part(struct parser *ps, struct mime_part *part, unsigned int num,
    struct stop *st)
{
	struct hdr	 h;
	uint64_t	 lf0;

	memset(&h, 0, sizeof(h));
	h.part = part;
	part->hdr_off = ps->pos;
	if (header_parse(ps, &h, st)) {
		lf0 = ps->lf;
		part_defaults(part, &h);
		part_section(part, num);
		parse_body(ps, part, st);
	} else {
		/* no body: body_done() moves it back to the header's end */
		part->body_off = st->line;
		lf0 = st->lf;
		part_defaults(part, &h);
		part_section(part, num);
		if (part->flags & (MIME_PART_F_MULTIPART | MIME_PART_F_ENCAPS))
			part->flags |= MIME_PART_F_OPAQUE;
	}
	body_done(ps, part, lf0, st);
	part->hdr_len = part->body_off - part->hdr_off;
}

struct mime_msg *
mime_parse(const uint8_t *data, size_t len, const struct mime_limits *lim)
{
	struct parser		 ps;
	struct mime_part	*root;
	struct stop		 st;

	memset(&ps, 0, sizeof(ps));
	ps.p = data;
	ps.n = len;
	limits_set(&ps.lim, lim);
	ps.msg = xcalloc(1, sizeof(*ps.msg));
	ps.bnd = xcalloc(ps.lim.depth_max + 1, sizeof(*ps.bnd));
	buf_init(&ps.field, ps.lim.field_max);
	root = part_new(&ps, NULL);
	root->flags |= MIME_PART_F_MESSAGE;
	parse_part(&ps, root, 1, &st);
	buf_clear(&ps.field);
	free(ps.bnd);
	return ps.msg;
}

void
mime_free(struct mime_msg **msgp)
{
	struct mime_msg	*msg = *msgp;
	size_t		 i;

	if (msg == NULL)
		return;
	for (i = 0; i < msg->nparts; i++)
		part_free(msg->parts[i]);
	free(msg->parts);
	free(msg);
	*msgp = NULL;
}

/*
 * Accessors.
 */

const struct mime_part *
mime_root(const struct mime_msg *msg)
{
	return msg->parts[0];
}

size_t
mime_part_count(const struct mime_msg *msg)
{
	return msg->nparts;
}

const struct mime_part *
mime_part_at(const struct mime_msg *msg, size_t i)
{
	return i < msg->nparts ? msg->parts[i] : NULL;
}

bool
mime_limited(const struct mime_msg *msg)
{
	return msg->limited;
}

/*
 * The node numbered N.n from the node x numbered N (RFC 3501 §6.4.5):
 * the nth part of a multipart; for message/rfc822, the nth part of the
 * encapsulated message when it is multipart (it shares the number N),
 * else the message itself as N.1.
 */
static const struct mime_part *
section_sub(const struct mime_part *x, unsigned long n)
{
	if (x->flags & MIME_PART_F_ENCAPS) {
		if ((x = x->children) == NULL)
			return NULL;
		if ((x->flags & MIME_PART_F_MULTIPART) == 0)
			return n == 1 ? x : NULL;
	}
	if ((x->flags & MIME_PART_F_MULTIPART) == 0)
		return NULL;
	for (x = x->children; x != NULL && n > 1; n--)
		x = x->next;
	return x;
}

/* section-part = nz-number *("." nz-number) (RFC 3501 §9) */
static bool
section_number(const char **sp, unsigned long *n_r)
{
	const char	*s = *sp;
	unsigned long	 n = 0;

	if (*s < '1' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > 100000000)
			return false;
		n = n * 10 + (unsigned long)(*s - '0');
	}
	if (*s == '.' && s[1] != '\0')
		s++;
	else if (*s != '\0')
		return false;
	*sp = s;
	*n_r = n;
	return true;
}

const struct mime_part *
mime_section_find(const struct mime_msg *msg, const char *section)
{
	const struct mime_part	*x = msg->parts[0];
	unsigned long		 n;
	bool			 top = true;

	while (*section != '\0' && x != NULL) {
		if (!section_number(&section, &n))
			return NULL;
		/* the root is numbered like the child of a message/rfc822 */
		if (top && (x->flags & MIME_PART_F_MULTIPART) == 0)
			x = n == 1 ? x : NULL;
		else
			x = section_sub(x, n);
		top = false;
	}
	return x;
}

const char *
mime_part_param(const struct mime_part *part, const char *name)
{
	size_t	 i;

	for (i = 0; i < part->nparams; i++)
		if (strcmp(part->params[i].name, name) == 0)
			return part->params[i].value;
	return NULL;
}

/* NULL when it cannot be PostgreSQL text (NUL, bad UTF-8) or is too big. */
static char *
cache_string(struct buf *b, int rc)
{
	if (rc == -1 || memchr(BUF_DATA(b), '\0', b->len) != NULL ||
	    !addr_utf8_valid((const char *)BUF_DATA(b), b->len)) {
		buf_clear(b);
		return NULL;
	}
	return buf_steal(b, NULL);
}

void
mime_cache_strings(const uint8_t *data, size_t len, char **envelope_r,
    char **bodystructure_r)
{
	struct mime_msg	*mm = mime_parse(data, len, NULL);
	struct buf	 b;

	buf_init(&b, MIME_CACHE_MAX);
	*envelope_r = cache_string(&b, mime_envelope_write(&b, mime_root(mm)));
	buf_init(&b, MIME_CACHE_MAX);
	*bodystructure_r = cache_string(&b, mime_body_write(&b, mime_root(mm),
	    true));
	mime_free(&mm);
}
