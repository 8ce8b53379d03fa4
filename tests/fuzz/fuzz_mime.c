/*
 * fuzz_mime — the MIME parser, the ENVELOPE/BODYSTRUCTURE writers and the
 * decoders, with small limits.
 *
 * The whole input is a message.  After parsing:
 *  - every part's header and body lie inside the input, a child inside
 *    its parent's body, siblings in order, sections resolve back;
 *  - ENVELOPE and BODY/BODYSTRUCTURE of the root (and the ENVELOPE of
 *    every message node) must match the IMAP grammar exactly (RFC 3501
 *    §9, RFC 9051 §9) as checked by imap_check_*() below;
 *  - decoded headers and RFC 2231 values must be valid UTF-8 without NUL;
 *    body decoding must stay within its output limit.
 * Any failure abort()s.  tests/unit/test_mime.c includes this file to run
 * the same checks on its table.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * A recogniser for the IMAP productions we emit.  Each function
 * consumes its production or returns false.
 */
struct ip {
	const uint8_t	*s;
	size_t		 n;
	size_t		 i;
	unsigned int	 depth;
};

static bool
ip_lit(struct ip *p, const char *lit)
{
	size_t	 len = strlen(lit);

	if (p->n - p->i < len || memcmp(p->s + p->i, lit, len) != 0)
		return false;
	p->i += len;
	return true;
}

/* number = 1*DIGIT (number64 at most: 19 digits) */
static bool
ip_number(struct ip *p, uint64_t *v_r)
{
	size_t		 start = p->i;
	uint64_t	 v = 0;

	while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9' &&
	    p->i - start < 19)
		v = v * 10 + (uint64_t)(p->s[p->i++] - '0');
	if (v_r != NULL)
		*v_r = v;
	return p->i > start && (p->i == p->n || p->s[p->i] < '0' ||
	    p->s[p->i] > '9');
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE; value (truncated) into out */
static bool
ip_quoted(struct ip *p, char *out, size_t outsz)
{
	size_t	 k = 0;
	uint8_t	 c;

	if (!ip_lit(p, "\""))
		return false;
	while (p->i < p->n) {
		c = p->s[p->i++];
		if (c == '"') {
			if (outsz > 0)
				out[k] = '\0';
			return true;
		}
		if (c == '\\') {
			if (p->i == p->n || (p->s[p->i] != '"' &&
			    p->s[p->i] != '\\'))
				return false;
			c = p->s[p->i++];
		} else if (c == 0 || c >= 0x80 || c == '\r' || c == '\n')
			return false;
		if (k + 1 < outsz)
			out[k++] = (char)c;
	}
	return false;
}

/* literal = "{" number "}" CRLF *CHAR8 (CHAR8 = %x01-ff) */
static bool
ip_literal(struct ip *p, char *out, size_t outsz)
{
	uint64_t	 len;
	size_t		 k;

	if (!ip_lit(p, "{") || !ip_number(p, &len) || !ip_lit(p, "}\r\n") ||
	    len > p->n - p->i || memchr(p->s + p->i, 0, len) != NULL)
		return false;
	for (k = 0; k + 1 < outsz && k < len; k++)
		out[k] = (char)p->s[p->i + k];
	if (outsz > 0)
		out[k] = '\0';
	p->i += len;
	return true;
}

static bool
ip_string_val(struct ip *p, char *out, size_t outsz)
{
	if (p->i < p->n && p->s[p->i] == '{')
		return ip_literal(p, out, outsz);
	return ip_quoted(p, out, outsz);
}

static bool
ip_string(struct ip *p)
{
	return ip_string_val(p, NULL, 0);
}

static bool
ip_nstring(struct ip *p)
{
	return ip_lit(p, "NIL") || ip_string(p);
}

/* address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")" */
static bool
ip_address(struct ip *p)
{
	return ip_lit(p, "(") && ip_nstring(p) && ip_lit(p, " ") &&
	    ip_nstring(p) && ip_lit(p, " ") && ip_nstring(p) &&
	    ip_lit(p, " ") && ip_nstring(p) && ip_lit(p, ")");
}

/* env-from etc. = "(" 1*address ")" / nil */
static bool
ip_addrs(struct ip *p)
{
	if (ip_lit(p, "NIL"))
		return true;
	if (!ip_lit(p, "(") || !ip_address(p))
		return false;
	while (!ip_lit(p, ")"))
		if (!ip_address(p))
			return false;
	return true;
}

static bool
imap_check_envelope(struct ip *p)
{
	int	 i;

	if (!ip_lit(p, "(") || !ip_nstring(p) || !ip_lit(p, " ") ||
	    !ip_nstring(p))
		return false;
	for (i = 0; i < 6; i++)
		if (!ip_lit(p, " ") || !ip_addrs(p))
			return false;
	return ip_lit(p, " ") && ip_nstring(p) && ip_lit(p, " ") &&
	    ip_nstring(p) && ip_lit(p, ")");
}

/* body-fld-param = "(" string SP string *(SP string SP string) ")" / nil */
static bool
ip_params(struct ip *p)
{
	if (ip_lit(p, "NIL"))
		return true;
	if (!ip_lit(p, "(") || !ip_string(p) || !ip_lit(p, " ") ||
	    !ip_string(p))
		return false;
	while (!ip_lit(p, ")"))
		if (!ip_lit(p, " ") || !ip_string(p) || !ip_lit(p, " ") ||
		    !ip_string(p))
			return false;
	return true;
}

/* SP body-fld-dsp SP body-fld-lang SP body-fld-loc */
static bool
ip_ext_tail(struct ip *p)
{
	if (!ip_lit(p, " "))
		return false;
	if (!ip_lit(p, "NIL") && !(ip_lit(p, "(") && ip_string(p) &&
	    ip_lit(p, " ") && ip_params(p) && ip_lit(p, ")")))
		return false;
	if (!ip_lit(p, " "))
		return false;
	if (ip_lit(p, "(")) {
		if (!ip_string(p))
			return false;
		while (!ip_lit(p, ")"))
			if (!ip_lit(p, " ") || !ip_string(p))
				return false;
	} else if (!ip_nstring(p))
		return false;
	return ip_lit(p, " ") && ip_nstring(p);
}

static bool	imap_check_body(struct ip *, bool);

/* body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart] */
static bool
ip_mpart(struct ip *p, bool ext)
{
	while (p->i < p->n && p->s[p->i] == '(')
		if (!imap_check_body(p, ext))
			return false;
	if (!ip_lit(p, " ") || !ip_string(p))
		return false;
	if (!ext)
		return true;
	return ip_lit(p, " ") && ip_params(p) && ip_ext_tail(p);
}

/* body-type-basic / body-type-msg / body-type-text [SP body-ext-1part] */
static bool
ip_1part(struct ip *p, bool ext)
{
	char	 type[16], sub[16];

	if (!ip_string_val(p, type, sizeof(type)) || !ip_lit(p, " ") ||
	    !ip_string_val(p, sub, sizeof(sub)) || !ip_lit(p, " ") ||
	    !ip_params(p) || !ip_lit(p, " ") || !ip_nstring(p) ||
	    !ip_lit(p, " ") || !ip_nstring(p) || !ip_lit(p, " ") ||
	    !ip_string(p) || !ip_lit(p, " ") || !ip_number(p, NULL))
		return false;
	if (strcasecmp(type, "message") == 0 &&
	    (strcasecmp(sub, "rfc822") == 0 ||
	    strcasecmp(sub, "global") == 0)) {
		if (!ip_lit(p, " ") || !imap_check_envelope(p) ||
		    !ip_lit(p, " ") || !imap_check_body(p, ext) ||
		    !ip_lit(p, " ") || !ip_number(p, NULL))
			return false;
	} else if (strcasecmp(type, "text") == 0 &&
	    (!ip_lit(p, " ") || !ip_number(p, NULL)))
		return false;
	if (!ext)
		return true;
	return ip_lit(p, " ") && ip_nstring(p) && ip_ext_tail(p);
}

/* body = "(" (body-type-1part / body-type-mpart) ")" */
static bool
imap_check_body(struct ip *p, bool ext)
{
	bool	 ok;

	if (!ip_lit(p, "(") || ++p->depth > MIME_DEPTH_LIMIT + 2)
		return false;
	if (p->i < p->n && p->s[p->i] == '(')
		ok = ip_mpart(p, ext);
	else
		ok = ip_1part(p, ext);
	p->depth--;
	return ok && ip_lit(p, ")");
}

/* The whole of b is one envelope (body when is_body). */
static bool
imap_check(const struct buf *b, bool is_body, bool ext)
{
	struct ip	 p = { (const uint8_t *)buf_cstr(b), b->len, 0, 0 };

	if (b->len == 0)
		return false;
	if (!(is_body ? imap_check_body(&p, ext) : imap_check_envelope(&p)))
		return false;
	return p.i == p.n;
}

static void
check(bool ok)
{
	if (!ok)
		abort();
}

/* Offsets inside the input and inside the parent, siblings in order. */
static void
check_part(const struct mime_msg *msg, const struct mime_part *part,
    size_t size)
{
	const struct mime_part	*c, *prev = NULL, *found;

	check(part->hdr_off <= size && part->body_off <= size);
	check(part->hdr_off + part->hdr_len == part->body_off);
	check(part->body_len <= size - part->body_off);
	check(part->body_lines <= part->body_len);
	check(part->type != NULL && part->subtype != NULL && part->cte != NULL);
	/* the outermost node with this number: this one or an ancestor */
	found = mime_section_find(msg, part->section);
	check(found != NULL && strcmp(found->section, part->section) == 0);
	check(found == part || (found == part->parent &&
	    (found->flags & MIME_PART_F_ENCAPS)));
	for (c = part->children; c != NULL; c = c->next) {
		check(c->parent == part && c->depth == part->depth + 1);
		check(c->hdr_off >= part->body_off);
		check(c->body_off + c->body_len <= part->body_off +
		    part->body_len);
		if (prev != NULL)
			check(c->hdr_off >= prev->body_off + prev->body_len);
		if (part->flags & MIME_PART_F_ENCAPS)
			check(c->hdr_off == part->body_off &&
			    (c->flags & MIME_PART_F_MESSAGE));
		prev = c;
	}
}

static bool
text_ok(const struct buf *b)
{
	return b->len == 0 || (memchr(BUF_DATA(b), 0, b->len) == NULL &&
	    addr_utf8_valid((const char *)BUF_DATA(b), b->len));
}

static void
check_writers(const struct mime_part *part)
{
	struct buf	 b;

	buf_init(&b, 64 * 1024 * 1024);
	check(mime_body_write(&b, part, true) == 0);
	check(imap_check(&b, true, true));
	buf_reset(&b);
	check(mime_body_write(&b, part, false) == 0);
	check(imap_check(&b, true, false));
	buf_reset(&b);
	check(mime_envelope_write(&b, part) == 0);
	check(imap_check(&b, false, false));
	buf_clear(&b);
}

static void
check_decoders(const struct mime_part *part, const uint8_t *data)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 4096);
	check(mime_body_decode(&b, part->encoding, data + part->body_off,
	    part->body_len, NULL) == 0 || b.len == 4096);
	for (i = 0; i < MIME_ENV_NFIELDS; i++) {
		buf_reset(&b);
		if (part->env[i] == NULL)
			continue;
		mime_header_decode(&b, part->env[i], strlen(part->env[i]));
		check(text_ok(&b));
	}
	for (i = 0; i < part->nparams; i++) {
		buf_reset(&b);
		mime_rfc2231_decode(&b, part->params[i].value);
		check(text_ok(&b));
	}
	buf_clear(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits	 lim = { 8, 64, 32, 1024, 8 };
	struct mime_msg		*msg;
	const struct mime_part	*part;
	struct buf		 b;
	size_t			 i;

	msg = mime_parse(data, size, &lim);
	check(mime_part_count(msg) >= 1 && mime_part_count(msg) <= 64);
	check(mime_root(msg) == mime_part_at(msg, 0));
	check(mime_part_at(msg, mime_part_count(msg)) == NULL);
	for (i = 0; i < mime_part_count(msg); i++) {
		part = mime_part_at(msg, i);
		check(part->index == i && part->depth <= lim.depth_max);
		check_part(msg, part, size);
		if (part->flags & MIME_PART_F_MESSAGE)
			check_writers(part);
		check_decoders(part, data);
	}
	buf_init(&b, 256);
	mime_header_decode(&b, data, size < 4096 ? size : 4096);
	check(text_ok(&b));
	buf_clear(&b);
	mime_free(&msg);
	check(msg == NULL);
	return 0;
}
