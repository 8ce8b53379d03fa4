/*
 * Unit tests for lib/imap_parse.c and lib/imap_parse_args.c: commands
 * that parse (printed back in a canonical form), commands that do not
 * (with the reply the server would give), limits exactly at and one
 * past each, pipelining, raw lines, argument helpers and sequence sets.
 * Every parser case runs whole, one octet at a time, and split in two at
 * every position, and must give the same result every way.
 *
 * Canonical form: "tag NAME" then the arguments with one SP: atoms as
 * they are, NIL, "quoted" (\" \\ \r \n \xNN escapes), {n}"literal" or
 * ~{n}"literal8" (contents past 40 octets shown as ...), (lists).  An
 * error prints as the reply: "<tag|*> BAD <text>", or "BYE <text>" when
 * fatal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_parse.h"
#include "log.h"

static jmp_buf	fatal_jmp;

static void
fatal_hook(void)
{
	longjmp(fatal_jmp, 1);
}

/* ---- the canonical printer ---- */

static void
put_text(struct buf *b, const char *s, size_t len, size_t max)
{
	unsigned char	 c;
	size_t		 i;

	buf_add(b, "\"", 1);
	for (i = 0; i < len && i < max; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c == '\r')
			buf_add_str(b, "\\r");
		else if (c == '\n')
			buf_add_str(b, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_add(b, &c, 1);
	}
	buf_add(b, "\"", 1);
	if (len > max)
		buf_add_str(b, "...");
}

static void
put_args(struct buf *b, const struct imap_arg *a, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++, a++) {
		if (i > 0)
			buf_add(b, " ", 1);
		switch (a->type) {
		case IMAP_ARG_ATOM:
			assert_int_equal(strlen(a->str), a->len);
			buf_add(b, a->str, a->len);
			break;
		case IMAP_ARG_NIL:
			assert_int_equal(a->len, 3);
			buf_add_str(b, "NIL");
			break;
		case IMAP_ARG_STRING:
			assert_int_equal(strlen(a->str), a->len);
			put_text(b, a->str, a->len, SIZE_MAX);
			break;
		case IMAP_ARG_LITERAL:
			assert_int_equal(a->str[a->len], '\0');
			buf_printf(b, "%s{%zu}", a->literal8 ? "~" : "",
			    a->len);
			put_text(b, a->str, a->len, 40);
			break;
		case IMAP_ARG_LIST:
			assert_null(a->str);
			assert_true((a->list == NULL) == (a->nlist == 0));
			buf_add(b, "(", 1);
			put_args(b, a->list, a->nlist);
			buf_add(b, ")", 1);
			break;
		}
	}
}

/* The command, or the reply to the error. */
static char *
describe(struct imap_parser *p, enum imap_parse_result r)
{
	struct buf		 b;
	const struct imap_arg	*args;
	const char		*tag, *name, *text;
	size_t			 n;
	bool			 fatal;

	buf_init(&b, 1 << 20);
	if (r == IMAP_PARSE_OK) {
		assert_int_equal(imap_parse_command(p, &tag, &name, &args,
		    &n), 0);
		assert_string_equal(tag, imap_parse_tag(p));
		assert_string_equal(name, imap_parse_name(p));
		buf_printf(&b, "%s %s", tag, name);
		if (n > 0)
			buf_add(&b, " ", 1);
		put_args(&b, args, n);
	} else {
		assert_int_equal(r, IMAP_PARSE_ERR);
		assert_int_equal(imap_parse_command(p, &tag, &name, &args,
		    &n), -1);
		assert_int_not_equal(imap_parse_error(p, &text, &fatal),
		    IMAP_PARSE_E_NONE);
		tag = imap_parse_tag(p);
		if (fatal)
			buf_printf(&b, "BYE %s", text);
		else
			buf_printf(&b, "%s BAD %s", tag ? tag : "*", text);
	}
	return buf_steal(&b, NULL);
}

/* ---- the driver: feed in pieces, answer literals ---- */

struct outcome {
	char		*text;
	size_t		 consumed;
	int		 nlit;
	uint64_t	 litsum;	/* sizes of the literals answered */
};

static void
outcome_clear(struct outcome *o)
{
	free(o->text);
	memset(o, 0, sizeof(*o));
}

/* Feed in[0..len) cut at cuts[] (ascending), until OK or ERR. */
static void
feed_cuts(struct imap_parser *p, const uint8_t *in, size_t len,
    const size_t *cuts, size_t ncuts, struct outcome *o)
{
	enum imap_parse_result	 r;
	size_t			 pos = 0, ci = 0, end, used;

	memset(o, 0, sizeof(*o));
	for (;;) {
		end = ci < ncuts ? cuts[ci] : len;
		r = imap_parse_feed(p, in + pos, end - pos, &used);
		assert_true(used <= end - pos);
		pos += used;
		if (r == IMAP_PARSE_MORE) {
			assert_int_equal(pos, end);
			if (end == len) {
				o->text = strdup("MORE");
				break;
			}
			ci++;
			continue;
		}
		if (r == IMAP_PARSE_LITERAL) {
			o->nlit++;
			o->litsum += imap_parse_literal_size(p);
			assert_string_not_equal(imap_parse_name(p), "");
			imap_parse_literal_accept(p);
			continue;
		}
		o->text = describe(p, r);
		/* The result sticks until reset. */
		assert_int_equal(imap_parse_feed(p, in, len, &used), r);
		assert_int_equal(used, 0);
		break;
	}
	o->consumed = pos;
}

static void
assert_same(const struct outcome *a, const struct outcome *b)
{
	assert_string_equal(a->text, b->text);
	assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->nlit, b->nlit);
	assert_int_equal(a->litsum, b->litsum);
}

/* Whole, one octet at a time, and in two at every position. */
static void
run_all_ways(struct imap_parser *p, const uint8_t *in, size_t len,
    struct outcome *first)
{
	struct outcome	 o;
	size_t		*cuts, i;

	feed_cuts(p, in, len, NULL, 0, first);
	imap_parser_reset(p);
	cuts = calloc(len + 1, sizeof(*cuts));
	assert_non_null(cuts);
	for (i = 1; i < len; i++)
		cuts[i - 1] = i;
	feed_cuts(p, in, len, cuts, len > 0 ? len - 1 : 0, &o);
	assert_same(first, &o);
	outcome_clear(&o);
	imap_parser_reset(p);
	for (i = 0; i <= len; i++) {
		cuts[0] = i;
		feed_cuts(p, in, len, cuts, 1, &o);
		assert_same(first, &o);
		outcome_clear(&o);
		imap_parser_reset(p);
	}
	free(cuts);
}

struct pcase {
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	const char	*want;
	int		 nlit;		/* synchronizing literals answered */
	size_t		 consumed;	/* 0: all of in */
	bool		 utf8;
	const struct imap_parse_limits *lim;
};

#define BIN(s)	.in = (s), .len = sizeof(s) - 1

static void
run_case(const struct pcase *c)
{
	struct imap_parser	*p;
	struct outcome		 o;
	size_t			 len = c->len ? c->len : strlen(c->in);

	p = imap_parser_new(c->lim);
	imap_parser_set_utf8(p, c->utf8);
	run_all_ways(p, (const uint8_t *)c->in, len, &o);
	if (strcmp(o.text, c->want) != 0)
		print_error("input: %s\n", c->in);
	assert_string_equal(o.text, c->want);
	assert_int_equal(o.consumed, c->consumed ? c->consumed : len);
	assert_int_equal(o.nlit, c->nlit);
	outcome_clear(&o);
	imap_parser_free(&p);
	assert_null(p);
}

static void
run_cases(const struct pcase *c, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		run_case(&c[i]);
}

/* ---- commands that parse ---- */

#define MSG310 \
	"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n" \
	"From: Fred Foobar <foobar@Blurdybloop.COM>\r\n" \
	"Subject: afternoon meeting\r\n" \
	"To: mooch@owatagu.siam.edu\r\n" \
	"Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n" \
	"\r\n" \
	"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"

static const struct pcase ok_cases[] = {
	/* RFC 9051 §8, the sample session. */
	{ .in = "a000 starttls\r\n", .want = "a000 STARTTLS" },
	{ .in = "A001 AUTHENTICATE SCRAM-SHA-256 "
	    "biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=\r\n",
	    .want = "A001 AUTHENTICATE SCRAM-SHA-256 "
	    "biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=" },
	{ .in = "babc ENABLE IMAP4rev2\r\n", .want = "babc ENABLE IMAP4rev2" },
	{ .in = "a002 select inbox\r\n", .want = "a002 SELECT inbox" },
	{ .in = "a003 fetch 12 full\r\n", .want = "a003 FETCH 12 full" },
	{ .in = "a004 fetch 12 body[header]\r\n",
	    .want = "a004 FETCH 12 body[header]" },
	{ .in = "a005 store 12 +flags \\deleted\r\n",
	    .want = "a005 STORE 12 +flags \\deleted" },
	{ .in = "a006 logout\r\n", .want = "a006 LOGOUT" },
	/* RFC 3501 §8 adds LOGIN. */
	{ .in = "a001 login mrc secret\r\n", .want = "a001 LOGIN mrc secret" },
	/* RFC 3501 §6 and RFC 9051 §6 examples. */
	{ .in = "abcd CAPABILITY\r\n", .want = "abcd CAPABILITY" },
	{ .in = "a002 NOOP\r\n", .want = "a002 NOOP" },
	{ .in = "A023 LOGOUT\r\n", .want = "A023 LOGOUT" },
	{ .in = "a001 AUTHENTICATE GSSAPI\r\n",
	    .want = "a001 AUTHENTICATE GSSAPI" },
	{ .in = "a001 LOGIN SMITH SESAME\r\n",
	    .want = "a001 LOGIN SMITH SESAME" },
	{ .in = "A142 SELECT INBOX\r\n", .want = "A142 SELECT INBOX" },
	{ .in = "A932 EXAMINE blurdybloop\r\n",
	    .want = "A932 EXAMINE blurdybloop" },
	{ .in = "A003 CREATE owatagusiam/\r\n",
	    .want = "A003 CREATE owatagusiam/" },
	{ .in = "A683 DELETE blurdybloop\r\n",
	    .want = "A683 DELETE blurdybloop" },
	{ .in = "A683 RENAME blurdybloop sarasoop\r\n",
	    .want = "A683 RENAME blurdybloop sarasoop" },
	{ .in = "A002 SUBSCRIBE #news.comp.mail.mime\r\n",
	    .want = "A002 SUBSCRIBE #news.comp.mail.mime" },
	{ .in = "A002 UNSUBSCRIBE #news.comp.mail.mime\r\n",
	    .want = "A002 UNSUBSCRIBE #news.comp.mail.mime" },
	{ .in = "A101 LIST \"\" \"\"\r\n", .want = "A101 LIST \"\" \"\"" },
	{ .in = "A102 LIST #news.comp.mail.misc \"\"\r\n",
	    .want = "A102 LIST #news.comp.mail.misc \"\"" },
	{ .in = "A103 LIST /usr/staff/jones \"\"\r\n",
	    .want = "A103 LIST /usr/staff/jones \"\"" },
	{ .in = "A202 LIST ~/Mail/ %\r\n", .want = "A202 LIST ~/Mail/ %" },
	{ .in = "A682 LIST \"\" *\r\n", .want = "A682 LIST \"\" *" },
	{ .in = "A002 LSUB \"#news.\" \"comp.mail.*\"\r\n",
	    .want = "A002 LSUB \"#news.\" \"comp.mail.*\"" },
	{ .in = "A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n",
	    .want = "A042 STATUS blurdybloop (UIDNEXT MESSAGES)" },
	{ .in = "A003 APPEND saved-messages (\\Seen) {310}\r\n" MSG310 "\r\n",
	    .want = "A003 APPEND saved-messages (\\Seen) {310}"
	    "\"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PS\"...", .nlit = 1 },
	{ .in = "A202 CHECK\r\n", .want = "A202 CHECK" },
	{ .in = "FXXZ CHECK\r\n", .want = "FXXZ CHECK" },
	{ .in = "a047 NOOP\r\n", .want = "a047 NOOP" },
	{ .in = "A004 CREATE owatagusiam/blurdybloop\r\n",
	    .want = "A004 CREATE owatagusiam/blurdybloop" },
	{ .in = "A684 RENAME Conferences Meetings\r\n",
	    .want = "A684 RENAME Conferences Meetings" },
	{ .in = "a002 STARTTLS\r\n", .want = "a002 STARTTLS" },
	{ .in = "A301 SEARCH RETURN (SAVE) SINCE 19-Mar-2007 NOT SEEN\r\n",
	    .want = "A301 SEARCH RETURN (SAVE) SINCE 19-Mar-2007 NOT SEEN" },
	{ .in = "A302 ENABLE UTF8=ACCEPT\r\n",
	    .want = "A302 ENABLE UTF8=ACCEPT" },
	{ .in = "A341 CLOSE\r\n", .want = "A341 CLOSE" },
	{ .in = "A202 EXPUNGE\r\n", .want = "A202 EXPUNGE" },
	{ .in = "A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
	    .want = "A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"" },
	{ .in = "A283 SEARCH TEXT \"string not in mailbox\"\r\n",
	    .want = "A283 SEARCH TEXT \"string not in mailbox\"" },
	{ .in = "A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM "
	    "\"Smith\"\r\n",
	    .want = "A283 SEARCH RETURN () FLAGGED SINCE "
	    "1-Feb-1994 NOT FROM \"Smith\"" },
	{ .in = "A284 SEARCH CHARSET UTF-8 TEXT {6}\r\n"
	    "\xe6\x97\xa5\xe6\x9c\xac\r\n",
	    .want = "A284 SEARCH CHARSET UTF-8 TEXT "
	    "{6}\"\\xe6\\x97\\xa5\\xe6\\x9c\\xac\"", .nlit = 1 },
	{ .in = "A285 SEARCH CHARSET UTF-8 OR (FROM {3+}\r\nabc TO x) "
	    "(NOT (SEEN (DELETED))) UID 1:5,7\r\n",
	    .want = "A285 SEARCH CHARSET UTF-8 OR (FROM {3}\"abc\" TO x) "
	    "(NOT (SEEN (DELETED))) UID 1:5,7" },
	{ .in = "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
	    .want = "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])" },
	{ .in = "A655 FETCH 1 BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.2048>\r\n",
	    .want = "A655 FETCH 1 BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.2048>" },
	{ .in = "A656 UID FETCH 1:* (UID body.peek[HEADER.FIELDS.NOT "
	    "(\"Received\" \"X-A\\\"]\")]<5.10> FLAGS)\r\n",
	    .want = "A656 UID FETCH 1:* (UID body.peek[HEADER.FIELDS.NOT "
	    "(\"Received\" \"X-A\\\"]\")]<5.10> FLAGS)" },
	{ .in = "A657 FETCH 1 (BINARY.PEEK[1.2]<0.100> BINARY.SIZE[1] "
	    "BINARY[])\r\n",
	    .want = "A657 FETCH 1 (BINARY.PEEK[1.2]<0.100> "
	    "BINARY.SIZE[1] BINARY[])" },
	{ .in = "A658 FETCH 1 BODY[]\r\n", .want = "A658 FETCH 1 BODY[]" },
	{ .in = "A003 STORE 2:4 +FLAGS (\\Deleted)\r\n",
	    .want = "A003 STORE 2:4 +FLAGS (\\Deleted)" },
	{ .in = "A004 STORE 1,3:5 FLAGS.SILENT (\\Seen \\Answered $Forwarded "
	    "\\Flagged)\r\n",
	    .want = "A004 STORE 1,3:5 FLAGS.SILENT (\\Seen "
	    "\\Answered $Forwarded \\Flagged)" },
	{ .in = "A005 STORE 1 -FLAGS ()\r\n",
	    .want = "A005 STORE 1 -FLAGS ()" },
	{ .in = "A003 COPY 2:4 MEETING\r\n", .want = "A003 COPY 2:4 MEETING" },
	{ .in = "A003 MOVE 2:4 mailbox\r\n", .want = "A003 MOVE 2:4 mailbox" },
	{ .in = "A999 UID FETCH 4827313:4828442 FLAGS\r\n",
	    .want = "A999 UID FETCH 4827313:4828442 FLAGS" },
	{ .in = "A3 UID STORE 1:* +FLAGS.SILENT (\\Seen)\r\n",
	    .want = "A3 UID STORE 1:* +FLAGS.SILENT (\\Seen)" },
	{ .in = "A4 UID EXPUNGE 3000:3002\r\n",
	    .want = "A4 UID EXPUNGE 3000:3002" },
	{ .in = "A5 UID FETCH $ FLAGS\r\n", .want = "A5 UID FETCH $ FLAGS" },
	{ .in = "a441 CAPABILITY\r\n", .want = "a441 CAPABILITY" },
	{ .in = "A442 XPIG-LATIN\r\n", .want = "A442 XPIG-LATIN" },
	{ .in = "A001 IDLE\r\n", .want = "A001 IDLE" },
	{ .in = "a NAMESPACE\r\n", .want = "a NAMESPACE" },
	/* APPEND: flags, date-time, LITERAL+, literal8. */
	{ .in = "A1 APPEND INBOX (\\Seen \\Flagged) \"07-Feb-1994 21:52:25 "
	    "-0800\" {5+}\r\nhello\r\n",
	    .want = "A1 APPEND INBOX (\\Seen "
	    "\\Flagged) \"07-Feb-1994 21:52:25 -0800\" {5}\"hello\"" },
	{ BIN( "A2 APPEND INBOX ~{3}\r\na\0b\r\n" ),
	    .want = "A2 APPEND INBOX ~{3}\"a\\x00b\"", .nlit = 1 },
	{ BIN( "A2 APPEND INBOX () ~{4+}\r\n\0\r\n\xff\r\n" ),
	    .want = "A2 APPEND INBOX () ~{4}\"\\x00\\r\\n\\xff\"" },
	{ .in = "A6 APPEND x {2}\r\nab {3}\r\nxyz\r\n",
	    .want = "A6 APPEND x {2}\"ab\" {3}\"xyz\"", .nlit = 2 },
	/* Empty literals, synchronizing and not. */
	{ .in = "A14 LOGIN {0}\r\n {0+}\r\n\r\n",
	    .want = "A14 LOGIN {0}\"\" {0}\"\"", .nlit = 1 },
	{ .in = "A15 LOGIN {4+}\r\nfred {6+}\r\nsecret\r\n",
	    .want = "A15 LOGIN {4}\"fred\" {6}\"secret\"" },
	{ .in = "A16 X ({3}\r\nabc) (() {2+}\r\n\r\n)\r\n",
	    .want = "A16 X ({3}\"abc\") (() {2}\"\\r\\n\")", .nlit = 1 },
	/* Literal contents are binary (8-bit, CR, LF) but NUL-free. */
	{ .in = "A17 X {4}\r\n\r\n\xff(\r\n",
	    .want = "A17 X {4}\"\\r\\n\\xff(\"", .nlit = 1 },
	/* Quoted strings and their escapes. */
	{ .in = "A7 LOGIN \"fr\\\"ed\" \"a\\\\b\"\r\n",
	    .want = "A7 LOGIN \"fr\\\"ed\" \"a\\\\b\"" },
	{ .in = "A8 X \"a{5}(b)\" \"\"\r\n", .want = "A8 X \"a{5}(b)\" \"\"" },
	/* NIL in any case keeps its text; a quoted "NIL" is a string. */
	{ .in = "A5 ID NIL\r\n", .want = "A5 ID NIL" },
	{ .in = "A6 ID (\"name\" \"x\" \"version\" nil \"NIL\" Nil)\r\n",
	    .want = "A6 ID (\"name\" \"x\" \"version\" NIL \"NIL\" NIL)" },
	{ .in = "A6 X NILS NI\r\n", .want = "A6 X NILS NI" },
	/* Leniencies: runs of SP, SP inside parentheses, before CRLF. */
	{ .in = "A10 LIST  \"\"   * \r\n", .want = "A10 LIST \"\" *" },
	{ .in = "A11 X ( a  b ) \r\n", .want = "A11 X (a b)" },
	/* Bare LF. */
	{ .in = "A9 NOOP\n", .want = "A9 NOOP" },
	{ .in = "A9 X {2}\nab (a)\n", .want = "A9 X {2}\"ab\" (a)", .nlit = 1 },
	/* "~" alone starts an atom, not a literal8. */
	{ .in = "A11 SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n",
	    .want = "A11 SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ .in = "A11 X ~ ~~ ~x\r\n", .want = "A11 X ~ ~~ ~x" },
	/* Tags: any ASTRING-CHAR but "+"; "]" included. */
	{ .in = "a]b.1-_!#$&'~ noop\r\n", .want = "a]b.1-_!#$&'~ NOOP" },
	/* Atoms as read: "[" "]" "<" "\" "%" "*" "$" in them. */
	{ .in = "A12 X a[b c]d \\* %x* <0.1>\r\n",
	    .want = "A12 X a[b c]d \\* %x* <0.1>" },
	/* Deep nesting and an empty top-level list. */
	{ .in = "A13 X ((((((a)))))) ()\r\n",
	    .want = "A13 X ((((((a)))))) ()" },
	/* The command name is upper-cased, nothing else is. */
	{ .in = "tag uId fEtCh 1 (Flags)\r\n",
	    .want = "tag UID fEtCh 1 (Flags)" },
	/* UTF-8 quoted strings once allowed. */
	{ .in = "A20 SELECT \"\xe5\x8f\xb0\xe5\x8c\x97\"\r\n",
	    .want = "A20 SELECT \"\\xe5\\x8f\\xb0\\xe5\\x8c\\x97\"",
	    .utf8 = true },
};

/* ---- commands that do not ---- */

static const struct pcase bad_cases[] = {
	{ .in = "\r\n", .want = "* BAD empty command line" },
	{ .in = "\n", .want = "* BAD empty command line" },
	{ .in = " NOOP\r\n", .want = "* BAD invalid tag" },
	{ .in = "A+1 NOOP\r\n", .want = "* BAD invalid tag" },
	{ .in = "A*1 NOOP\r\n", .want = "* BAD invalid tag" },
	{ .in = "A%1 NOOP\r\n", .want = "* BAD invalid tag" },
	{ .in = "A\"1 NOOP\r\n", .want = "* BAD invalid tag" },
	{ .in = "A{1 NOOP\r\n", .want = "* BAD invalid tag" },
	{ .in = "A\\1 NOOP\r\n", .want = "* BAD invalid tag" },
	{ .in = "\xc3\xa9 NOOP\r\n", .want = "* BAD invalid tag" },
	{ .in = "A1\r\n", .want = "A1 BAD missing command name" },
	{ .in = "A1 \r\n", .want = "A1 BAD missing command name" },
	{ .in = "A1  NOOP\r\n", .want = "A1 BAD missing command name" },
	{ .in = "A1 NO(OP\r\n", .want = "A1 BAD invalid command name" },
	{ .in = "A1 NO*OP\r\n", .want = "A1 BAD invalid command name" },
	{ .in = "A1 (NOOP)\r\n", .want = "A1 BAD invalid command name" },
	{ .in = "A1 X \"abc\r\n", .want = "A1 BAD missing '\"'" },
	{ .in = "A1 X \"abc\n", .want = "A1 BAD missing '\"'" },
	{ .in = "A1 X \"a\\b\"\r\n",
	    .want = "A1 BAD invalid escape in quoted string" },
	{ .in = "A1 X \"a\\\r\n",
	    .want = "A1 BAD invalid escape in quoted string" },
	{ BIN( "A1 X \"a\0b\"\r\n" ), .want = "A1 BAD NUL in quoted string" },
	{ .in = "A1 X \"\xc3\xa9\"\r\n",
	    .want = "A1 BAD 8-bit octet in quoted string" },
	{ .in = "A1 X \"\xc3\"\r\n",
	    .want = "A1 BAD invalid UTF-8 in quoted string", .utf8 = true },
	{ .in = "A1 X \"\xed\xa0\x80\"\r\n",
	    .want = "A1 BAD invalid UTF-8 in quoted string", .utf8 = true },
	{ .in = "A1 X a\"b\r\n", .want = "A1 BAD invalid character in atom" },
	{ .in = "A1 X a(b\r\n", .want = "A1 BAD invalid character in atom" },
	{ .in = "A1 X a{b\r\n", .want = "A1 BAD invalid character in atom" },
	{ .in = "A1 X \xc3\xa9\r\n", .want = "A1 BAD 8-bit octet in atom" },
	{ .in = "A1 X a\xc3\xa9\r\n", .want = "A1 BAD 8-bit octet in atom" },
	{ .in = "A1 X \x01\r\n", .want = "A1 BAD invalid character in atom" },
	{ .in = "A1 X a\tb\r\n", .want = "A1 BAD invalid character in atom" },
	{ .in = "A1 X \x7f\r\n", .want = "A1 BAD invalid character in atom" },
	{ BIN( "A1 X a\0\r\n" ), .want = "A1 BAD invalid character in atom" },
	{ .in = "A1 X a)\r\n", .want = "A1 BAD unexpected ')'" },
	{ .in = "A1 X )\r\n", .want = "A1 BAD unexpected ')'" },
	{ .in = "A1 X (a))\r\n", .want = "A1 BAD unexpected ')'" },
	{ .in = "A1 X (a\r\n", .want = "A1 BAD missing ')'" },
	{ .in = "A1 X ((a) b\r\n", .want = "A1 BAD missing ')'" },
	{ .in = "A1 X (\r\n", .want = "A1 BAD missing ')'" },
	{ .in = "A1 X \"a\"b\r\n",
	    .want = "A1 BAD missing space after argument" },
	{ .in = "A1 X (a)(b)\r\n",
	    .want = "A1 BAD missing space after argument" },
	{ .in = "A1 X (a)b\r\n",
	    .want = "A1 BAD missing space after argument" },
	{ .in = "A1 X {1+}\r\nab\r\n",
	    .want = "A1 BAD missing space after argument" },
	{ .in = "A1 X a\rb\r\n", .want = "A1 BAD CR without LF" },
	{ .in = "A1 X a\r\r\n", .want = "A1 BAD CR without LF" },
	{ .in = "A1 NOOP\rX\r\n", .want = "A1 BAD CR without LF" },
	{ .in = "A1 X {abc}\r\n", .want = "A1 BAD invalid literal size" },
	{ .in = "A1 X {}\r\n", .want = "A1 BAD invalid literal size" },
	{ .in = "A1 X {+}\r\n", .want = "A1 BAD invalid literal size" },
	{ .in = "A1 X {5+x}\r\n", .want = "A1 BAD invalid literal size" },
	{ .in = "A1 X {5++}\r\n", .want = "A1 BAD invalid literal size" },
	{ .in = "A1 X {-5}\r\n", .want = "A1 BAD invalid literal size" },
	{ .in = "A1 X ~{x}\r\n", .want = "A1 BAD invalid literal size" },
	{ .in = "A1 X {5} \r\n",
	    .want = "A1 BAD missing CRLF after literal size" },
	{ .in = "A1 X {5}x\r\n",
	    .want = "A1 BAD missing CRLF after literal size" },
	{ .in = "A1 X {5}\rx\r\n",
	    .want = "A1 BAD missing CRLF after literal size" },
	{ .in = "A1 X {5}\r\r\n",
	    .want = "A1 BAD missing CRLF after literal size" },
	/* NUL in a literal (not literal8): its octets are skipped. */
	{ BIN( "A1 X {3}\r\na\0b\r\n" ), .want = "A1 BAD NUL in literal",
	    .nlit = 1 },
	{ BIN( "A1 X {3+}\r\n\0\r\n (\r\n" ), .want = "A1 BAD NUL in literal" },
	/* Section specs. */
	{ .in = "A1 FETCH 1 BODY[HEADER\r\n", .want = "A1 BAD missing ']'" },
	{ .in = "A1 FETCH 1 BODY[HEADER.FIELDS (A\r\n",
	    .want = "A1 BAD missing ']'" },
	{ .in = "A1 FETCH 1 BODY[{3}\r\n",
	    .want = "A1 BAD literal in section" },
	{ .in = "A1 FETCH 1 BODY[\x01]\r\n",
	    .want = "A1 BAD invalid character in section" },
	{ .in = "A1 FETCH 1 BODY[\xc3\xa9]\r\n",
	    .want = "A1 BAD invalid character in section" },
	{ .in = "A1 FETCH 1 BODY[HEADER.FIELDS (\"A\\x\")]\r\n",
	    .want = "A1 BAD invalid escape in quoted string" },
	{ .in = "A1 FETCH 1 BODY[HEADER.FIELDS (\"A\xc3\")]\r\n",
	    .want = "A1 BAD invalid character in quoted string" },
	{ .in = "A1 FETCH 1 BODY[HEADER.FIELDS (\"A\r\n",
	    .want = "A1 BAD invalid character in quoted string" },
	/* After an error the rest of the line goes, with the contents of
	 * a {n+} literal ending one of its lines (here holding an LF). */
	{ .in = "A1 X \"a\\q\" {5+}\r\nab\ncd\r\n",
	    .want = "A1 BAD invalid escape in quoted string" },
	{ .in = "A1 X a) ~{5+}\r\nab\ncd {2+}\r\n\r\n\r\n",
	    .want = "A1 BAD unexpected ')'" },
	{ .in = "A1 X a) {0+}\r\n\r\n", .want = "A1 BAD unexpected ')'" },
	/* Not a literal announcement: "{5 +}", "{+}", "{5}", CR alone. */
	{ .in = "A1 X a) {5 +}\r\nA2 NOOP\r\n", .want = "A1 BAD unexpected ')'",
	    .consumed = 15 },
	{ .in = "A1 X a) {+}\r\nA2 NOOP\r\n", .want = "A1 BAD unexpected ')'",
	    .consumed = 13 },
	{ .in = "A1 X a) {5}\r\nA2 NOOP\r\n", .want = "A1 BAD unexpected ')'",
	    .consumed = 13 },
	{ .in = "A1 X a) {5+}x\r\nA2 NOOP\r\n", .want = "A1 BAD unexpected ')'",
	    .consumed = 15 },
	{ .in = "A1 X a) {5+}\rA2 NOOP\r\n", .want = "A1 BAD unexpected ')'" },
	/* The next command is not eaten. */
	{ .in = "A1 X (\r\nA2 NOOP\r\n", .want = "A1 BAD missing ')'",
	    .consumed = 8 },
	{ .in = "A1 X \"\r\nA2 NOOP\r\n", .want = "A1 BAD missing '\"'",
	    .consumed = 8 },
};

static void
test_ok(void **state)
{
	run_cases(ok_cases, sizeof(ok_cases) / sizeof(ok_cases[0]));
}

static void
test_bad(void **state)
{
	run_cases(bad_cases, sizeof(bad_cases) / sizeof(bad_cases[0]));
}

/* ---- the tree itself ---- */

static struct imap_parser *
parse_one(const char *in, size_t len, const struct imap_parse_limits *lim)
{
	struct imap_parser	*p = imap_parser_new(lim);
	enum imap_parse_result	 r;
	size_t			 used, pos = 0;

	while ((r = imap_parse_feed(p, (const uint8_t *)in + pos, len - pos,
	    &used)) == IMAP_PARSE_LITERAL) {
		pos += used;
		imap_parse_literal_accept(p);
	}
	assert_int_equal(r, IMAP_PARSE_OK);
	assert_int_equal(pos + used, len);
	return p;
}

static void
test_tree(void **state)
{
	static const char	 in[] = "t1 APPEND box (\\Seen (a (b))) "
	    "~{3}\r\nx\0y nil \"q\"\r\n";
	struct imap_parser	*p = parse_one(in, sizeof(in) - 1, NULL);
	const struct imap_arg	*a, *l;
	const char		*tag, *name;
	size_t			 n;

	assert_int_equal(imap_parse_command(p, &tag, &name, &a, &n), 0);
	assert_string_equal(tag, "t1");
	assert_string_equal(name, "APPEND");
	assert_int_equal(n, 5);
	assert_int_equal(a[0].type, IMAP_ARG_ATOM);
	assert_string_equal(a[0].str, "box");
	assert_int_equal(a[1].type, IMAP_ARG_LIST);
	assert_int_equal(a[1].nlist, 2);
	l = a[1].list;
	assert_string_equal(l[0].str, "\\Seen");
	assert_int_equal(l[1].type, IMAP_ARG_LIST);
	assert_int_equal(l[1].nlist, 2);
	assert_string_equal(l[1].list[0].str, "a");
	assert_int_equal(l[1].list[1].nlist, 1);
	assert_string_equal(l[1].list[1].list[0].str, "b");
	assert_int_equal(a[2].type, IMAP_ARG_LITERAL);
	assert_true(a[2].literal8);
	assert_int_equal(a[2].len, 3);
	assert_memory_equal(a[2].str, "x\0y", 4);
	assert_int_equal(a[3].type, IMAP_ARG_NIL);
	assert_string_equal(a[3].str, "nil");
	assert_int_equal(a[4].type, IMAP_ARG_STRING);
	assert_false(a[4].literal8);
	assert_string_equal(a[4].str, "q");
	imap_parser_free(&p);
	imap_parser_free(&p);		/* NULL-safe */
}

static void
test_rfc3501_append(void **state)
{
	static const char	 in[] = "A003 APPEND saved-messages (\\Seen) "
	    "{310}\r\n" MSG310 "\r\n";
	struct imap_parser	*p = parse_one(in, sizeof(in) - 1, NULL);
	const struct imap_arg	*a;
	const char		*tag, *name;
	size_t			 n;

	assert_int_equal(imap_parse_command(p, &tag, &name, &a, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(a[2].len, 310);
	assert_string_equal(a[2].str, MSG310);
	imap_parser_free(&p);
}

/* No arguments: args NULL, n 0. */
static void
test_no_args(void **state)
{
	struct imap_parser	*p = parse_one("x NOOP\r\n", 8, NULL);
	const struct imap_arg	*a;
	const char		*tag, *name;
	size_t			 n = 99;

	assert_int_equal(imap_parse_command(p, &tag, &name, &a, &n), 0);
	assert_int_equal(n, 0);
	assert_null(a);
	imap_parser_free(&p);
}

/* ---- pipelining ---- */

static void
test_pipeline(void **state)
{
	static const char	 in[] = "a1 NOOP\r\n"
	    "a2 LOGIN {3+}\r\nabc def\r\n"
	    "a3 X (\r\n"
	    "a4 LOGIN {3}\r\nxyz \"p\"\r\n"
	    "a5 X {99}\r\n"
	    "a6 NOOP\n"
	    "a7 X";
	static const char *const want[] = {
		"a1 NOOP", "a2 LOGIN {3}\"abc\" def", "a3 BAD missing ')'",
		"a4 LOGIN {3}\"xyz\" \"p\"", "a5 BAD literal too big",
		"a6 NOOP", "MORE",
	};
	struct imap_parse_limits lim = { .literal_max = 10 };
	struct imap_parser	*p = imap_parser_new(&lim);
	struct outcome		 o;
	size_t			 len = sizeof(in) - 1, pos, i, k, step;

	/* Whole, and read in pieces of each size from 1 to 7. */
	for (step = 0; step <= 7; step++) {
		size_t	 cuts[sizeof(in)], nc;

		for (pos = 0, i = 0; i < sizeof(want) / sizeof(want[0]);
		    i++) {
			/* The reads' boundaries, from this command on. */
			nc = 0;
			for (k = step > 0 ? (pos / step + 1) * step : len;
			    k < len; k += step)
				cuts[nc++] = k - pos;
			feed_cuts(p, (const uint8_t *)in + pos, len - pos,
			    cuts, nc, &o);
			assert_string_equal(o.text, want[i]);
			pos += o.consumed;
			outcome_clear(&o);
			imap_parser_reset(p);
		}
		assert_int_equal(pos, len);
	}
	imap_parser_free(&p);
}

/* ---- limits, exactly at and one past ---- */

static const struct imap_parse_limits lim_line = { .line_max = 20 };
static const struct imap_parse_limits lim_lit = { .literal_max = 10,
    .append_max = 12 };
static const struct imap_parse_limits lim_args = { .args_max = 5 };
static const struct imap_parse_limits lim_depth = { .depth_max = 3 };
static const struct imap_parse_limits lim_cmd = { .command_max = 40,
    .literal_max = 100, .append_max = 100 };

static const struct pcase limit_cases[] = {
	/* line_max 20: CRLF counts, literal contents do not. */
	{ .in = "A1 X 0123456789012\r\n", .want = "A1 X 0123456789012",
	    .lim = &lim_line },
	{ .in = "A1 X 01234567890123\r\n", .want = "BYE line too long",
	    .consumed = 20, .lim = &lim_line },
	{ .in = "A1 X 01234567890123\n", .want = "A1 X 01234567890123",
	    .lim = &lim_line },
	{ .in = "A1 X {30+}\r\n012345678901234567890123456789 bcdef\r\n",
	    .want = "A1 X {30}\"012345678901234567890123456789\" bcdef",
	    .lim = &lim_line },
	{ .in = "A1 X {30+}\r\n012345678901234567890123456789 bcdefg\r\n",
	    .want = "BYE line too long", .consumed = 50, .lim = &lim_line },
	/* A line that is too long is fatal even while skipping. */
	{ .in = "A1 X ( ) ) 34567890123\r\n", .want = "BYE line too long",
	    .consumed = 20, .lim = &lim_line },
	/* literal_max 10 (append_max 12 for APPEND and REPLACE). */
	{ .in = "A1 X {10}\r\n0123456789\r\n",
	    .want = "A1 X {10}\"0123456789\"", .nlit = 1, .lim = &lim_lit },
	{ .in = "A1 X {11}\r\n", .want = "A1 BAD literal too big",
	    .lim = &lim_lit },
	{ .in = "A1 X {11}\r\n01234567890\r\n",
	    .want = "A1 BAD literal too big", .consumed = 11, .lim = &lim_lit },
	{ .in = "A1 X {10+}\r\n0123456789\r\n",
	    .want = "A1 X {10}\"0123456789\"", .lim = &lim_lit },
	{ .in = "A1 X {11+}\r\n01234\r\n7890 a b {2}\r\n",
	    .want = "A1 BAD literal too big", .lim = &lim_lit },
	{ .in = "A1 X {11+}\r\n01234\r\n7890 {2+}\r\n\r\n\r\nA2 NOOP\r\n",
	    .want = "A1 BAD literal too big", .consumed = 34, .lim = &lim_lit },
	{ .in = "A1 X ~{11+}\r\n01234\r\n7890\r\n",
	    .want = "A1 BAD literal too big", .lim = &lim_lit },
	{ .in = "A1 APPEND x {12}\r\n012345678901\r\n",
	    .want = "A1 APPEND x {12}\"012345678901\"", .nlit = 1,
	    .lim = &lim_lit },
	{ .in = "A1 APPEND x {13}\r\n", .want = "A1 BAD literal too big",
	    .lim = &lim_lit },
	{ .in = "A1 append x ~{12+}\r\n012345678901\r\n",
	    .want = "A1 APPEND x ~{12}\"012345678901\"", .lim = &lim_lit },
	{ .in = "A1 REPLACE 1 x {12}\r\n012345678901\r\n",
	    .want = "A1 REPLACE 1 x {12}\"012345678901\"", .nlit = 1,
	    .lim = &lim_lit },
	{ .in = "A1 UID replace 1 x {12}\r\n012345678901\r\n",
	    .want = "A1 UID replace 1 x {12}\"012345678901\"", .nlit = 1,
	    .lim = &lim_lit },
	{ .in = "A1 UID FETCH {12}\r\n", .want = "A1 BAD literal too big",
	    .lim = &lim_lit },
	{ .in = "A1 UID (REPLACE) {12}\r\n", .want = "A1 BAD literal too big",
	    .lim = &lim_lit },
	/* A size past any number is just too big. */
	{ .in = "A1 X {99999999999999999999999999}\r\n",
	    .want = "A1 BAD literal too big", .lim = &lim_lit },
	/* A {n+} past command_max is not skipped: fatal. */
	{ .in = "A1 X {67108865+}\r\n", .want = "BYE literal too big",
	    .lim = &lim_lit },
	{ .in = "A1 X a) {67108865+}\r\n", .want = "BYE literal too big",
	    .lim = &lim_lit },
	{ .in = "A1 X a) {99999999999999999999999+}\r\n",
	    .want = "BYE literal too big", .lim = &lim_lit },
	/* args_max 5, lists and nested ones counted. */
	{ .in = "A1 X a b (c d)\r\n", .want = "A1 X a b (c d)",
	    .lim = &lim_args },
	{ .in = "A1 X a b (c d) e\r\n", .want = "A1 BAD too many arguments",
	    .lim = &lim_args },
	{ .in = "A1 X a b (c d ())\r\n", .want = "A1 BAD too many arguments",
	    .lim = &lim_args },
	{ .in = "A1 X a b c d \"e\"\r\n", .want = "A1 X a b c d \"e\"",
	    .lim = &lim_args },
	{ .in = "A1 X a b c d e \"f\"\r\n", .want = "A1 BAD too many arguments",
	    .lim = &lim_args },
	{ .in = "A1 X a b c d e {1}\r\n", .want = "A1 BAD too many arguments",
	    .lim = &lim_args },
	{ .in = "A1 X a b c d e {1+}\r\n(\r\n",
	    .want = "A1 BAD too many arguments", .lim = &lim_args },
	{ .in = "A1 X a b c d e {1}\r\n(\r\n",
	    .want = "A1 X a b c d e {1}\"(\"", .nlit = 1, .lim = NULL },
	/* depth_max 3. */
	{ .in = "A1 X (((a))) ((b))\r\n", .want = "A1 X (((a))) ((b))",
	    .lim = &lim_depth },
	{ .in = "A1 X ((((a))))\r\n", .want = "A1 BAD lists nested too deeply",
	    .lim = &lim_depth },
	/* command_max 40, literals included. */
	{ .in = "A1 X {20}\r\n01234567890123456789 bcdefg\r\n",
	    .want = "A1 X {20}\"01234567890123456789\" bcdefg", .nlit = 1,
	    .lim = &lim_cmd },
	{ .in = "A1 X {20}\r\n01234567890123456789 bcdefgh\r\n",
	    .want = "A1 BAD command too big", .nlit = 1, .lim = &lim_cmd },
	{ .in = "A1 X {27}\r\n012345678901234567890123456\r\n",
	    .want = "A1 X {27}\"012345678901234567890123456\"", .nlit = 1,
	    .lim = &lim_cmd },
	{ .in = "A1 X {28}\r\n0123456789012345678901234567\n",
	    .want = "A1 X {28}\"0123456789012345678901234567\"", .nlit = 1,
	    .lim = &lim_cmd },
	{ .in = "A1 X {29}\r\n", .want = "A1 BAD command too big",
	    .lim = &lim_cmd },
	{ .in = "A1 X {26+}\r\n01234567890123456789012345\r\n",
	    .want = "A1 X {26}\"01234567890123456789012345\"",
	    .lim = &lim_cmd },
	{ .in = "A1 X {27+}\r\n012345678901234567890123456\r\n",
	    .want = "A1 BAD command too big", .lim = &lim_cmd },
	{ .in = "A1 X {28+}\r\n0123456789012345678901234567\r\nA2 NOOP\r\n",
	    .want = "A1 BAD command too big", .consumed = 42,
	    .lim = &lim_cmd },
	{ .in = "A1 X {29+}\r\n01234567890123456789012345678\r\n",
	    .want = "A1 BAD command too big", .lim = &lim_cmd },
	{ .in = "A1 X {41+}\r\n", .want = "BYE command too big",
	    .lim = &lim_cmd },
};

static void
test_limits(void **state)
{
	run_cases(limit_cases, sizeof(limit_cases) / sizeof(limit_cases[0]));
}

/* The literal maximum set per command; 0 brings the default back. */
static void
test_set_literal_max(void **state)
{
	struct imap_parser	*p = imap_parser_new(NULL);
	size_t			 used;
	const char		*in = "A1 X {65537}\r\n";
	const char		*ap = "A1 APPEND x {100}\r\n";

	assert_int_equal(imap_parse_feed(p, (const uint8_t *)in, strlen(in),
	    &used), IMAP_PARSE_ERR);
	assert_int_equal(imap_parse_error(p, NULL, NULL),
	    IMAP_PARSE_E_LITERAL_TOO_BIG);
	imap_parser_reset(p);
	imap_parser_set_literal_max(p, 70000);
	assert_int_equal(imap_parse_feed(p, (const uint8_t *)in, strlen(in),
	    &used), IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parse_literal_size(p), 65537);
	imap_parser_reset(p);
	imap_parser_set_literal_max(p, 0);
	assert_int_equal(imap_parse_feed(p, (const uint8_t *)in, strlen(in),
	    &used), IMAP_PARSE_ERR);
	imap_parser_reset(p);
	imap_parser_set_append_max(p, 99);
	assert_int_equal(imap_parse_feed(p, (const uint8_t *)ap, strlen(ap),
	    &used), IMAP_PARSE_ERR);
	imap_parser_reset(p);
	imap_parser_set_append_max(p, 0);
	assert_int_equal(imap_parse_feed(p, (const uint8_t *)ap, strlen(ap),
	    &used), IMAP_PARSE_LITERAL);
	imap_parser_free(&p);
}

/* Refusing a literal: reset, and the next command parses. */
static void
test_literal_refused(void **state)
{
	static const char	 in[] = "A1 APPEND x {5}\r\nA2 NOOP\r\n";
	struct imap_parser	*p = imap_parser_new(NULL);
	size_t			 used, used2;
	const char		*tag, *name;
	const struct imap_arg	*a;
	size_t			 n;

	assert_int_equal(imap_parse_feed(p, (const uint8_t *)in,
	    sizeof(in) - 1, &used), IMAP_PARSE_LITERAL);
	assert_int_equal(used, 17);
	assert_string_equal(imap_parse_tag(p), "A1");
	assert_string_equal(imap_parse_name(p), "APPEND");
	/* Until accepted, LITERAL again and nothing consumed. */
	assert_int_equal(imap_parse_feed(p, (const uint8_t *)in + used,
	    sizeof(in) - 1 - used, &used2), IMAP_PARSE_LITERAL);
	assert_int_equal(used2, 0);
	imap_parser_reset(p);
	assert_null(imap_parse_tag(p));
	assert_int_equal(imap_parse_feed(p, (const uint8_t *)in + used,
	    sizeof(in) - 1 - used, &used2), IMAP_PARSE_OK);
	assert_int_equal(imap_parse_command(p, &tag, &name, &a, &n), 0);
	assert_string_equal(tag, "A2");
	imap_parser_free(&p);
}

/* Error kinds and fatal flags as returned. */
static void
test_error_kinds(void **state)
{
	static const struct {
		const char		*in;
		const struct imap_parse_limits *lim;
		enum imap_parse_err	 err;
		bool			 fatal;
	} t[] = {
		{ "A1 X (\r\n", NULL, IMAP_PARSE_E_SYNTAX, false },
		{ "A1 X 0123456789012345\r\n", &lim_line,
		    IMAP_PARSE_E_LINE_TOO_LONG, true },
		{ "A1 X {11}\r\n", &lim_lit, IMAP_PARSE_E_LITERAL_TOO_BIG,
		    false },
		{ "A1 X {30}\r\n", &lim_cmd, IMAP_PARSE_E_COMMAND_TOO_BIG,
		    false },
		{ "A1 X 1 2 3 4 5 6\r\n", &lim_args,
		    IMAP_PARSE_E_TOO_MANY_ARGS, false },
		{ "A1 X ((((\r\n", &lim_depth, IMAP_PARSE_E_TOO_DEEP, false },
	};
	struct imap_parser	*p;
	const char		*text;
	bool			 fatal;
	size_t			 i, used;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		p = imap_parser_new(t[i].lim);
		assert_int_equal(imap_parse_error(p, &text, &fatal),
		    IMAP_PARSE_E_NONE);
		assert_string_equal(text, "no error");
		assert_int_equal(imap_parse_feed(p,
		    (const uint8_t *)t[i].in, strlen(t[i].in), &used),
		    IMAP_PARSE_ERR);
		assert_int_equal(imap_parse_error(p, &text, &fatal),
		    t[i].err);
		assert_int_equal(fatal, t[i].fatal);
		imap_parser_reset(p);
		assert_int_equal(imap_parse_error(p, NULL, &fatal),
		    IMAP_PARSE_E_NONE);
		assert_false(fatal);
		imap_parser_free(&p);
	}
}

/* Memory stays bounded: a long skipped {n+} stores nothing. */
static void
test_skip_stores_nothing(void **state)
{
	struct imap_parse_limits lim = { .literal_max = 10,
	    .command_max = 1 << 20 };
	struct imap_parser	*p = imap_parser_new(&lim);
	static uint8_t		 junk[4096];
	const char		*head = "A1 X {1000000+}\r\n";
	size_t			 used, i;

	memset(junk, 'x', sizeof(junk));
	assert_int_equal(imap_parse_feed(p, (const uint8_t *)head,
	    strlen(head), &used), IMAP_PARSE_MORE);
	for (i = 0; i < 1000000 / sizeof(junk); i++)
		assert_int_equal(imap_parse_feed(p, junk, sizeof(junk),
		    &used), IMAP_PARSE_MORE);
	assert_int_equal(imap_parse_feed(p, junk, 1000000 % sizeof(junk),
	    &used), IMAP_PARSE_MORE);
	assert_int_equal(imap_parse_feed(p, (const uint8_t *)"\r\n", 2,
	    &used), IMAP_PARSE_ERR);
	assert_int_equal(imap_parse_error(p, NULL, NULL),
	    IMAP_PARSE_E_LITERAL_TOO_BIG);
	imap_parser_free(&p);
}

/* Big commands: their buffers are given back at reset. */
static void
test_big_then_small(void **state)
{
	struct imap_parse_limits lim = { .literal_max = 200000 };
	struct imap_parser	*p = imap_parser_new(&lim);
	struct buf		 b;
	const struct imap_arg	*a;
	const char		*tag, *name;
	size_t			 n, used, pos, i;
	int			 round;

	buf_init(&b, 1 << 20);
	buf_add_str(&b, "A1 X {150000+}\r\n");
	for (i = 0; i < 150000; i++)
		buf_add_u8(&b, (uint8_t)('a' + i % 26));
	for (i = 0; i < 3000; i++)
		buf_add_str(&b, " x");
	buf_add_str(&b, "\r\nA2 NOOP\r\n");
	for (round = 0; round < 2; round++) {
		assert_int_equal(imap_parse_feed(p, BUF_DATA(&b), b.len,
		    &used), IMAP_PARSE_OK);
		assert_int_equal(imap_parse_command(p, &tag, &name, &a, &n),
		    0);
		assert_int_equal(n, 3001);
		assert_int_equal(a[0].len, 150000);
		assert_int_equal(a[0].str[149999], 'a' + 149999 % 26);
		assert_string_equal(a[3000].str, "x");
		imap_parser_reset(p);
		pos = used;
		assert_int_equal(imap_parse_feed(p, BUF_DATA(&b) + pos,
		    b.len - pos, &used), IMAP_PARSE_OK);
		assert_int_equal(imap_parse_command(p, &tag, &name, &a, &n),
		    0);
		assert_string_equal(tag, "A2");
		assert_int_equal(pos + used, b.len);
		imap_parser_reset(p);
	}
	buf_clear(&b);
	imap_parser_free(&p);
}

/* ---- raw lines (AUTHENTICATE, IDLE) ---- */

static void
raw_all_ways(const char *in, size_t len, const char *want, size_t wlen,
    enum imap_parse_result wr, size_t wused,
    const struct imap_parse_limits *lim)
{
	struct imap_parser	*p = imap_parser_new(lim);
	enum imap_parse_result	 r;
	const char		*line;
	size_t			 n, used, pos, step, end;

	for (step = 0; step <= len; step++) {
		pos = 0;
		for (;;) {
			end = step == 0 || pos + step > len ? len : pos + step;
			r = imap_parse_line(p, (const uint8_t *)in + pos,
			    end - pos, &used, &line, &n);
			pos += used;
			if (r != IMAP_PARSE_MORE || end == len)
				break;
		}
		assert_int_equal(r, wr);
		if (r == IMAP_PARSE_OK) {
			assert_int_equal(n, wlen);
			assert_memory_equal(line, want, wlen + 1);
			assert_int_equal(pos, wused);
			/* Sticky. */
			assert_int_equal(imap_parse_line(p,
			    (const uint8_t *)in, len, &used, &line, &n),
			    IMAP_PARSE_OK);
			assert_int_equal(used, 0);
			assert_int_equal(n, wlen);
			assert_int_equal(imap_parse_command(p, &line, &line,
			    NULL, &n), -1);
		}
		if (r == IMAP_PARSE_ERR) {
			const char	*text;
			bool		 fatal;

			assert_int_equal(imap_parse_error(p, &text, &fatal),
			    IMAP_PARSE_E_LINE_TOO_LONG);
			assert_true(fatal);
			assert_int_equal(imap_parse_line(p,
			    (const uint8_t *)in, len, &used, &line, &n),
			    IMAP_PARSE_ERR);
		}
		imap_parser_reset(p);
	}
	imap_parser_free(&p);
}

static void
test_raw_line(void **state)
{
	static const struct imap_parse_limits lim = { .line_max = 6 };
#define SCRAM	"Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFU" \
	"Q0FmdXhGSWxqKWhObEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empm" \
	"TUhnc3FtbWl6N0FuZFZRPQ=="

	/* RFC 9051 §8: the SCRAM response, then an empty line. */
	raw_all_ways(SCRAM "\r\n", sizeof(SCRAM) + 1, SCRAM,
	    sizeof(SCRAM) - 1, IMAP_PARSE_OK, sizeof(SCRAM) + 1, NULL);
	raw_all_ways("\r\n", 2, "", 0, IMAP_PARSE_OK, 2, NULL);
	raw_all_ways("\n", 1, "", 0, IMAP_PARSE_OK, 1, NULL);
	raw_all_ways("DONE\r\na1 NOOP\r\n", 15, "DONE", 4, IMAP_PARSE_OK, 6,
	    NULL);
	raw_all_ways("DONE\n", 5, "DONE", 4, IMAP_PARSE_OK, 5, NULL);
	/* A CR not before the LF is kept, NUL too. */
	raw_all_ways("a\rb\r\r\n", 6, "a\rb\r", 4, IMAP_PARSE_OK, 6, NULL);
	raw_all_ways("\r\r\n", 3, "\r", 1, IMAP_PARSE_OK, 3, NULL);
	raw_all_ways("a\0b\r\n", 5, "a\0b", 3, IMAP_PARSE_OK, 5, NULL);
	raw_all_ways("DONE", 4, NULL, 0, IMAP_PARSE_MORE, 4, NULL);
	/* line_max 6, CRLF included. */
	raw_all_ways("DONE\r\n", 6, "DONE", 4, IMAP_PARSE_OK, 6, &lim);
	raw_all_ways("DONE!\r\n", 7, NULL, 0, IMAP_PARSE_ERR, 0, &lim);
	raw_all_ways("DONE!!!", 7, NULL, 0, IMAP_PARSE_ERR, 0, &lim);
}

/* Misuse is a bug: fatal. */
static void
test_misuse(void **state)
{
	struct imap_parser	*p;
	const char		*line;
	size_t			 used, n;
	volatile int		 fired = 0;

	p = imap_parser_new(NULL);
	log_set_fatal_hook(fatal_hook);
	log_set_flags(0);
	if (setjmp(fatal_jmp) == 0)
		imap_parse_literal_accept(p);
	else
		fired++;
	assert_int_equal(imap_parse_feed(p, (const uint8_t *)"a", 1, &used),
	    IMAP_PARSE_MORE);
	if (setjmp(fatal_jmp) == 0)
		imap_parse_line(p, (const uint8_t *)"a", 1, &used, &line,
		    &n);
	else
		fired++;
	imap_parser_reset(p);
	assert_int_equal(imap_parse_line(p, (const uint8_t *)"a", 1, &used,
	    &line, &n), IMAP_PARSE_MORE);
	if (setjmp(fatal_jmp) == 0)
		imap_parse_feed(p, (const uint8_t *)"a", 1, &used);
	else
		fired++;
	assert_int_equal(imap_parse_line(p, (const uint8_t *)"\n", 1, &used,
	    &line, &n), IMAP_PARSE_OK);
	if (setjmp(fatal_jmp) == 0)
		imap_parse_feed(p, (const uint8_t *)"a", 1, &used);
	else
		fired++;
	log_set_flags(LOG_TO_STDERR);
	log_set_fatal_hook(NULL);
	assert_int_equal(fired, 4);
	imap_parser_free(&p);
}

/* ---- argument helpers ---- */

static void
test_arg_helpers(void **state)
{
	static const char	 in[] = "t X INBOX nil \\Seen a*b \"q s\" "
	    "{3}\r\nl i ~{2}\r\n\0x (a) a]b BODY[1 2]\r\n";
	struct imap_parser	*p = parse_one(in, sizeof(in) - 1, NULL);
	const struct imap_arg	*a, *l;
	const char		*tag, *name, *s;
	size_t			 n, len;

	assert_int_equal(imap_parse_command(p, &tag, &name, &a, &n), 0);
	assert_int_equal(n, 10);
	/* astring */
	assert_true(imap_arg_astring(&a[0], &s, &len));
	assert_string_equal(s, "INBOX");
	assert_int_equal(len, 5);
	assert_true(imap_arg_astring(&a[1], &s, NULL));
	assert_string_equal(s, "nil");
	assert_false(imap_arg_astring(&a[2], &s, &len));
	assert_false(imap_arg_astring(&a[3], &s, &len));
	assert_true(imap_arg_astring(&a[4], &s, &len));
	assert_string_equal(s, "q s");
	assert_true(imap_arg_astring(&a[5], &s, &len));
	assert_string_equal(s, "l i");
	assert_false(imap_arg_astring(&a[6], &s, &len));
	assert_false(imap_arg_astring(&a[7], &s, &len));
	assert_true(imap_arg_astring(&a[8], &s, &len));
	assert_string_equal(s, "a]b");
	assert_false(imap_arg_astring(&a[9], &s, &len));
	/* nstring */
	assert_true(imap_arg_nstring(&a[1], &s, &len));
	assert_null(s);
	assert_int_equal(len, 0);
	assert_true(imap_arg_nstring(&a[1], &s, NULL));
	assert_false(imap_arg_nstring(&a[0], &s, &len));
	assert_true(imap_arg_nstring(&a[4], &s, &len));
	assert_true(imap_arg_nstring(&a[5], &s, &len));
	assert_false(imap_arg_nstring(&a[6], &s, &len));
	assert_false(imap_arg_nstring(&a[7], &s, &len));
	/* string */
	assert_false(imap_arg_string(&a[0], &s, &len));
	assert_false(imap_arg_string(&a[1], &s, &len));
	assert_true(imap_arg_string(&a[4], &s, &len));
	assert_true(imap_arg_string(&a[5], &s, &len));
	assert_int_equal(len, 3);
	/* atom */
	assert_true(imap_arg_atom(&a[2], &s));
	assert_string_equal(s, "\\Seen");
	assert_true(imap_arg_atom(&a[1], &s));
	assert_false(imap_arg_atom(&a[4], &s));
	assert_false(imap_arg_atom(&a[7], &s));
	assert_true(imap_arg_atom_equals(&a[0], "inbox"));
	assert_true(imap_arg_atom_equals(&a[2], "\\SEEN"));
	assert_true(imap_arg_atom_equals(&a[1], "NIL"));
	assert_false(imap_arg_atom_equals(&a[0], "INBOX2"));
	assert_false(imap_arg_atom_equals(&a[4], "q s"));
	assert_true(imap_arg_atom_equals(&a[9], "body[1 2]"));
	/* list */
	assert_true(imap_arg_list(&a[7], &l, &len));
	assert_int_equal(len, 1);
	assert_string_equal(l[0].str, "a");
	assert_false(imap_arg_list(&a[0], &l, &len));
	imap_parser_free(&p);
}

/* ---- sequence sets ---- */

struct seq_ok {
	const char	*in;
	const char	*ranges;	/* as parsed: "lo:hi,..." */
	uint32_t	 star;
	const char	*resolved;
};

static void
fmt_ranges(char *out, size_t size, const struct imap_range *r, size_t n)
{
	size_t	 i, k = 0;

	out[0] = '\0';
	for (i = 0; i < n && k < size; i++)
		k += (size_t)snprintf(out + k, size - k, "%s%u:%u",
		    i > 0 ? "," : "", r[i].lo, r[i].hi);
}

static void
test_seqset(void **state)
{
	static const struct seq_ok ok[] = {
		{ "1", "1:1", 5, "1:1" },
		{ "*", "0:0", 5, "5:5" },
		{ "*", "0:0", 0, "" },
		{ "1:*", "1:0", 0, "1:1" },
		{ "1:*", "1:0", 7, "1:7" },
		{ "*:4", "0:4", 2, "2:4" },
		{ "5:1,3,10:*,*", "5:1,3:3,10:0,0:0", 12, "1:5,10:12" },
		{ "1:3,4:6", "1:3,4:6", 9, "1:6" },
		{ "1:3,5:6", "1:3,5:6", 9, "1:3,5:6" },
		{ "7,1,7,2", "7:7,1:1,7:7,2:2", 9, "1:2,7:7" },
		{ "4294967295,1:4294967294", "4294967295:4294967295,"
		    "1:4294967294", 3, "1:4294967295" },
		{ "4294967295:1,4294967295", "4294967295:1,"
		    "4294967295:4294967295", 3, "1:4294967295" },
		{ "2,4:7,9,12:*", "2:2,4:7,9:9,12:0", 15,
		    "2:2,4:7,9:9,12:15" },
		{ "12:*", "12:0", 10, "10:12" },
		{ "1000000", "1000000:1000000", 1, "1000000:1000000" },
		{ "3:5,3:4,3", "3:5,3:4,3:3", 9, "3:5" },
	};
	static const char *const bad[] = {
		"", "0", "01", "1:", ":1", "1,", ",1", "1,,2", "4294967296",
		"99999999999999999999", "1:0", "0:1", "a", "1:2:3", "$,1",
		"1,$", "$$", "**", "1 2", "-1", "+1", "1:*:", "*1", "1*",
		" 1", "1 ",
	};
	struct imap_seqset	 set;
	struct imap_range	*r;
	char			 got[256];
	size_t			 i, n;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(imap_seqset_parse(ok[i].in, &set), 0);
		assert_false(set.saved);
		fmt_ranges(got, sizeof(got), set.r, set.n);
		assert_string_equal(got, ok[i].ranges);
		imap_seqset_resolve(&set, ok[i].star, &r, &n);
		fmt_ranges(got, sizeof(got), r, n);
		assert_string_equal(got, ok[i].resolved);
		assert_true((r == NULL) == (n == 0));
		free(r);
		imap_seqset_free(&set);
		assert_null(set.r);
		assert_int_equal(set.n, 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set.n = 99;
		if (imap_seqset_parse(bad[i], &set) != -1)
			print_error("accepted: \"%s\"\n", bad[i]);
		assert_int_equal(imap_seqset_parse(bad[i], &set), -1);
		assert_null(set.r);
		assert_int_equal(set.n, 0);
		assert_false(set.saved);
	}
	assert_int_equal(imap_seqset_parse("$", &set), 0);
	assert_true(set.saved);
	assert_int_equal(set.n, 0);
	imap_seqset_resolve(&set, 9, &r, &n);
	assert_null(r);
	assert_int_equal(n, 0);
	assert_false(imap_seqset_contains(&set, 1, 9));
	imap_seqset_free(&set);
}

static void
test_seqset_contains(void **state)
{
	struct imap_seqset	 set;

	assert_int_equal(imap_seqset_parse("1:3,*:7,20", &set), 0);
	assert_true(imap_seqset_contains(&set, 1, 10));
	assert_true(imap_seqset_contains(&set, 3, 10));
	assert_false(imap_seqset_contains(&set, 4, 10));
	assert_false(imap_seqset_contains(&set, 6, 10));
	assert_true(imap_seqset_contains(&set, 7, 10));
	assert_true(imap_seqset_contains(&set, 10, 10));
	assert_false(imap_seqset_contains(&set, 11, 10));
	assert_true(imap_seqset_contains(&set, 20, 10));
	assert_false(imap_seqset_contains(&set, 0, 10));
	/* star below 7: the range runs star..7. */
	assert_true(imap_seqset_contains(&set, 5, 5));
	assert_false(imap_seqset_contains(&set, 4, 5));
	assert_false(imap_seqset_contains(&set, 0, 0));
	imap_seqset_free(&set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_rfc3501_append),
		cmocka_unit_test(test_no_args),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_set_literal_max),
		cmocka_unit_test(test_literal_refused),
		cmocka_unit_test(test_error_kinds),
		cmocka_unit_test(test_skip_stores_nothing),
		cmocka_unit_test(test_big_then_small),
		cmocka_unit_test(test_raw_line),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_arg_helpers),
		cmocka_unit_test(test_seqset),
		cmocka_unit_test(test_seqset_contains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
