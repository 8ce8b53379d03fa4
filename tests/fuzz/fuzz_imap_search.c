/*
 * fuzz_imap_search — imapd's SEARCH arguments (imapd/search_parse.c) as
 * lib/imap_parse hands them over, and the parsed tree evaluated against a
 * message (imapd/search_match.c): no database, no session.  The imapd
 * files are included here so that tools/fuzz.sh's one-file build works.
 *
 * Input: the arguments of a SEARCH command (sent as "t SEARCH " input
 * CRLF; synchronizing literals are accepted), optionally followed by a
 * NUL and the message to match (else a small multipart message).
 * Checks (abort() on failure):
 *  - search_parse() gives a tree (an SK_AND root) or an error text;
 *  - strings are kept folded: valid UTF-8 of the same length, and
 *    folding again changes nothing;
 *  - search_match() of NOT the tree is the negation of the tree's;
 *  - search_date_822() gives 0 or a valid yyyymmdd, and
 *    search_header_len() stays within the input.
 * Sequence sets are resolved with "*" = 3 (a three-message view).
 */
#include "../../imapd/search_parse.c"
#include "../../imapd/search_match.c"
#include "../../imapd/flags.c"

#include <stdio.h>

#include "mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char sample[] =
    "Return-Path: <a@b.example>\r\n"
    "From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.de>\r\n"
    "To: Bob <bob@example.org>\r\n"
    "Subject: =?ISO-8859-1?Q?caf=E9?= and\r\n more\r\n"
    "Date: Tue, 31 Dec 2024 23:59:59 +1400\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Gr=FC=DFe soft=\r\nbreak\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "UGluZWFwcGxlIGNhZsOp\r\n"
    "--b--\r\n";

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_imap_search: %s\n", what);
		abort();
	}
}

static void
check_key(struct search_key *k)
{
	char	*copy;

	if (k->str != NULL && k->type != SK_KEYWORD &&
	    k->type != SK_UNKEYWORD) {
		check(addr_utf8_valid(k->str, k->len), "folded not UTF-8");
		copy = xmalloc(k->len + 1);
		memcpy(copy, k->str, k->len + 1);
		search_fold(copy, k->len);
		check(memcmp(copy, k->str, k->len) == 0, "fold not idempotent");
		free(copy);
	}
	check(k->type != SK_HEADER || k->field != NULL, "header no field");
	check((k->type != SK_NOT || (k->kids != NULL &&
	    k->kids->next == NULL)) && (k->type != SK_OR || (k->kids !=
	    NULL && k->kids->next != NULL && k->kids->next->next == NULL)),
	    "NOT/OR kids");
	if (k->type == SK_UID || k->type == SK_SEQ) {
		struct imap_seqset set = { k->set, k->nset, false };

		imap_seqset_resolve(&set, 3, &k->uids, &k->nuids);
	}
	for (struct search_key *kid = k->kids; kid != NULL; kid = kid->next)
		check_key(kid);
}

static void
run_match(struct search_query *q, const uint8_t *msg, size_t len)
{
	struct search_msg	 m;
	struct search_key	 not;
	bool			 a, b;

	memset(&m, 0, sizeof(m));
	m.uid = 2;
	m.flags = FLAG_SEEN | FLAG_FLAGGED;
	m.keywords = "{$Work,\"a b\",Urgent}";
	m.size = len;
	m.date = 20240301;
	m.data = msg;
	m.len = len;
	m.hdr_len = search_header_len(msg, len, NULL);
	check(m.hdr_len <= len, "header length");
	a = search_match(q->root, &m);
	memset(&not, 0, sizeof(not));
	not.type = SK_NOT;
	not.kids = q->root;
	b = search_match(&not, &m);
	check(a != b, "NOT is not the negation");
	mime_free(&m.mime);
}

static void
run_search(const struct imap_arg *args, size_t n, const uint8_t *msg,
    size_t len)
{
	struct search_query	 q;
	const char		*err = NULL;
	int			 rc;

	rc = search_parse(args, n, &q, &err);
	if (rc != 0) {
		check(err != NULL && q.root == NULL, "error without reason");
		return;
	}
	check(q.root != NULL && q.root->type == SK_AND, "root");
	check_key(q.root);
	run_match(&q, msg, len);
	search_query_clear(&q);
}

static void
parse_and_run(const uint8_t *in, size_t inlen, const uint8_t *msg,
    size_t len)
{
	struct imap_parser	*p = imap_parser_new(NULL);
	const struct imap_arg	*args;
	const char		*tag, *name;
	size_t			 nargs, used, off = 0;
	struct buf		 cmd;
	enum imap_parse_result	 r = IMAP_PARSE_MORE;

	buf_init(&cmd, inlen + 16);
	buf_add_str(&cmd, "t SEARCH ");
	buf_add(&cmd, in, inlen);
	buf_add_str(&cmd, "\r\n");
	while (off < cmd.len) {
		r = imap_parse_feed(p, BUF_DATA(&cmd) + off, cmd.len - off,
		    &used);
		off += used;
		if (r == IMAP_PARSE_LITERAL)
			imap_parse_literal_accept(p);
		else if (r != IMAP_PARSE_MORE)
			break;
	}
	if (r == IMAP_PARSE_OK && imap_parse_command(p, &tag, &name, &args,
	    &nargs) == 0)
		run_search(args, nargs, msg, len);
	buf_clear(&cmd);
	imap_parser_free(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*nul = memchr(data, '\0', size);
	const uint8_t	*msg = (const uint8_t *)sample;
	size_t		 len = sizeof(sample) - 1, inlen = size;
	uint32_t	 d;

	if (nul != NULL) {
		inlen = (size_t)(nul - data);
		msg = nul + 1;
		len = size - inlen - 1;
	}
	d = search_date_822((const char *)data, inlen);
	check(d == 0 || (d >= 10101 && d <= 99991231 && d % 100 >= 1 &&
	    d % 100 <= 31 && d / 100 % 100 >= 1 && d / 100 % 100 <= 12),
	    "date");
	parse_and_run(data, inlen, msg, len);
	return 0;
}
