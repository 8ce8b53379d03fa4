/*
 * fuzz_imap_parse — the incremental IMAP command reader, with small
 * limits so that anything held past them shows.
 *
 * Byte 0: bit 0 UTF-8 quoted strings allowed; bit 1 after IDLE or
 * AUTHENTICATE read one raw line (imap_parse_line) as imapd would.
 * Byte 1 seeds the sizes of the pieces the rest is fed in (1 to 64
 * octets).  Synchronizing literals are accepted.  Each command that
 * parses is checked (tree shape, lengths, limits), its arguments are run
 * through the helpers (astring, nstring, sequence sets), and it is
 * written back with lib/imap_fmt and parsed again with default limits:
 * the two trees must hold the same values (a quoted string may come back
 * as a literal and the other way round).  A non-fatal error continues
 * with the octets after it; a fatal one ends the input.  Any mismatch
 * abort()s.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_fmt.h"
#include "imap_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct imap_parse_limits lim = {
	.line_max = 256,
	.literal_max = 64,
	.append_max = 128,
	.args_max = 32,
	.depth_max = 6,
	.command_max = 1024,
};

static void
check(bool ok)
{
	if (!ok)
		abort();
}

/* Shape and limits; returns the number of arguments, nested included. */
static size_t
walk(const struct imap_arg *a, size_t n, size_t depth)
{
	size_t	 i, count = n;

	check(depth <= lim.depth_max);
	for (i = 0; i < n; i++) {
		if (a[i].type == IMAP_ARG_LIST) {
			check(a[i].str == NULL);
			check((a[i].list == NULL) == (a[i].nlist == 0));
			count += walk(a[i].list, a[i].nlist, depth + 1);
			continue;
		}
		check(a[i].str != NULL && a[i].str[a[i].len] == '\0');
		if (a[i].type == IMAP_ARG_LITERAL) {
			check(a[i].len <= lim.append_max);
			check(a[i].literal8 ||
			    memchr(a[i].str, '\0', a[i].len) == NULL);
		} else {
			check(!a[i].literal8);
			check(strlen(a[i].str) == a[i].len);
			check(a[i].type != IMAP_ARG_ATOM || a[i].len > 0);
			check(a[i].type != IMAP_ARG_NIL || a[i].len == 3);
		}
	}
	return count;
}

/* The helpers must not trip on anything. */
static void
helpers(const struct imap_arg *a, size_t n)
{
	struct imap_seqset	 set;
	struct imap_range	*r;
	const char		*s;
	size_t			 i, len, k;

	for (i = 0; i < n; i++) {
		if (imap_arg_astring(&a[i], &s, &len))
			check(s != NULL && len == a[i].len);
		if (imap_arg_nstring(&a[i], &s, &len))
			check((s == NULL) == (a[i].type == IMAP_ARG_NIL));
		if (a[i].type == IMAP_ARG_LIST)
			helpers(a[i].list, a[i].nlist);
		if (a[i].type != IMAP_ARG_ATOM ||
		    imap_seqset_parse(a[i].str, &set) == -1)
			continue;
		imap_seqset_resolve(&set, a[i].len, &r, &k);
		for (len = 1; len < k; len++)
			check(r[len - 1].hi < r[len].lo - 1);
		for (len = 0; len < k; len++)
			check(imap_seqset_contains(&set, r[len].lo, a[i].len));
		free(r);
		imap_seqset_free(&set);
	}
}

static void
emit(struct buf *b, const struct imap_arg *a, size_t n, bool utf8)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		buf_add_str(b, " ");
		switch (a[i].type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
			buf_add(b, a[i].str, a[i].len);
			break;
		case IMAP_ARG_STRING:
		case IMAP_ARG_LITERAL:
			if (a[i].literal8)
				check(imap_fmt_literal8(b, a[i].str,
				    a[i].len) == 0);
			else
				check(imap_fmt_string(b, a[i].str, a[i].len,
				    utf8) == 0);
			break;
		case IMAP_ARG_LIST:
			buf_add_str(b, "(");
			emit(b, a[i].list, a[i].nlist, utf8);
			buf_add_str(b, ")");
			break;
		}
	}
}

static bool
same_kind(const struct imap_arg *x, const struct imap_arg *y)
{
	bool	 xs = x->type == IMAP_ARG_STRING || x->type == IMAP_ARG_LITERAL;
	bool	 ys = y->type == IMAP_ARG_STRING || y->type == IMAP_ARG_LITERAL;

	if (xs || ys)
		return xs && ys && x->literal8 == y->literal8;
	return x->type == y->type;
}

static void
same_tree(const struct imap_arg *x, size_t nx, const struct imap_arg *y,
    size_t ny)
{
	size_t	 i;

	check(nx == ny);
	for (i = 0; i < nx; i++) {
		check(same_kind(&x[i], &y[i]));
		if (x[i].type == IMAP_ARG_LIST) {
			same_tree(x[i].list, x[i].nlist, y[i].list,
			    y[i].nlist);
			continue;
		}
		check(x[i].len == y[i].len);
		check(memcmp(x[i].str, y[i].str, x[i].len) == 0);
	}
}

/* Written back and read again. */
static void
round_trip(const char *tag, const char *name, const struct imap_arg *a,
    size_t n, bool utf8)
{
	struct imap_parser	*q = imap_parser_new(NULL);
	struct buf		 b;
	enum imap_parse_result	 r;
	const struct imap_arg	*a2;
	const char		*tag2, *name2;
	size_t			 n2, pos = 0, used;

	imap_parser_set_utf8(q, utf8);
	buf_init(&b, 1 << 20);
	buf_add_str(&b, tag);
	buf_add_str(&b, " ");
	buf_add_str(&b, name);
	emit(&b, a, n, utf8);
	buf_add_str(&b, "\r\n");
	while ((r = imap_parse_feed(q, BUF_DATA(&b) + pos, b.len - pos,
	    &used)) == IMAP_PARSE_LITERAL) {
		pos += used;
		imap_parse_literal_accept(q);
	}
	check(r == IMAP_PARSE_OK && pos + used == b.len);
	check(imap_parse_command(q, &tag2, &name2, &a2, &n2) == 0);
	check(strcmp(tag, tag2) == 0 && strcmp(name, name2) == 0);
	same_tree(a, n, a2, n2);
	buf_clear(&b);
	imap_parser_free(&q);
}

static void
command(struct imap_parser *p, bool utf8, bool *raw_r)
{
	const struct imap_arg	*a;
	const char		*tag, *name, *c;
	size_t			 n;

	check(imap_parse_command(p, &tag, &name, &a, &n) == 0);
	check(*tag != '\0' && strchr(tag, '+') == NULL);
	check(*name != '\0');
	for (c = name; *c != '\0'; c++)
		check(*c < 'a' || *c > 'z');
	check((a == NULL) == (n == 0));
	check(walk(a, n, 0) <= lim.args_max);
	helpers(a, n);
	round_trip(tag, name, a, n, utf8);
	*raw_r = strcmp(name, "IDLE") == 0 ||
	    strcmp(name, "AUTHENTICATE") == 0;
}

struct feeder {
	const uint8_t	*d;
	size_t		 len;
	size_t		 pos;
	uint32_t	 rng;
};

static size_t
piece(struct feeder *f)
{
	size_t	 n;

	f->rng = f->rng * 1103515245 + 12345;
	n = 1 + (f->rng >> 16) % 64;
	return n < f->len - f->pos ? n : f->len - f->pos;
}

/* One raw line; false when the input must end. */
static bool
raw_line(struct imap_parser *p, struct feeder *f)
{
	enum imap_parse_result	 r;
	const char		*line;
	size_t			 n, used, k;

	while (f->pos < f->len) {
		k = piece(f);
		r = imap_parse_line(p, f->d + f->pos, k, &used, &line, &n);
		check(used <= k);
		f->pos += used;
		if (r == IMAP_PARSE_ERR)
			return false;
		if (r == IMAP_PARSE_OK) {
			check(line != NULL && line[n] == '\0');
			check(n < lim.line_max);
			imap_parser_reset(p);
			return true;
		}
		check(r == IMAP_PARSE_MORE && used == k);
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser	*p;
	struct feeder		 f;
	enum imap_parse_result	 r;
	const char		*text;
	bool			 utf8, raw = false, fatal;
	size_t			 k, used;

	if (size < 2)
		return 0;
	utf8 = data[0] & 1;
	f.d = data + 2;
	f.len = size - 2;
	f.pos = 0;
	f.rng = data[1];
	p = imap_parser_new(&lim);
	imap_parser_set_utf8(p, utf8);
	while (f.pos < f.len) {
		if (raw && (data[0] & 2) != 0 && !raw_line(p, &f))
			break;
		raw = false;
		k = piece(&f);
		r = imap_parse_feed(p, f.d + f.pos, k, &used);
		check(used <= k);
		f.pos += used;
		if (r == IMAP_PARSE_MORE) {
			check(used == k);
			continue;
		}
		if (r == IMAP_PARSE_LITERAL) {
			check(imap_parse_literal_size(p) <= lim.append_max);
			imap_parse_literal_accept(p);
			continue;
		}
		if (r == IMAP_PARSE_OK)
			command(p, utf8, &raw);
		else {
			check(imap_parse_error(p, &text, &fatal) !=
			    IMAP_PARSE_E_NONE && text != NULL);
			if (fatal)
				break;
		}
		imap_parser_reset(p);
	}
	imap_parser_free(&p);
	return 0;
}
