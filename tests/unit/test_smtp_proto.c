/*
 * Unit tests for lib/smtp_proto.c and lib/smtp_proto_reply.c: command
 * lines, command formatting, the incremental reply parser (fed whole,
 * byte by byte and in uneven chunks), EHLO capabilities, reply
 * formatting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "smtp_proto.h"

#define U8	SMTP_PARSE_F_UTF8

/* ---- commands that parse ---- */

struct cmd_ok {
	const char		*line;
	int			 flags;
	enum smtp_verb		 verb;
	const char		*arg;		/* NULL: "" */
	const char		*path;		/* addr_format(), MAIL/RCPT */
	unsigned		 seen;
	uint64_t		 size;
	enum smtp_body		 body;
	enum smtp_ret		 ret;
	unsigned		 notify;
	const char		*envid;
	const char		*orcpt_type;
	const char		*orcpt;
	const char		*auth;
	uint64_t		 chunk_size;
	bool			 last;
	const char		*mech;
	const char		*formatted;	/* NULL: same as line */
};

#define P_SIZE	SMTP_PARAM_SIZE
#define P_BODY	SMTP_PARAM_BODY
#define P_UTF8	SMTP_PARAM_SMTPUTF8
#define P_RET	SMTP_PARAM_RET
#define P_ENVID	SMTP_PARAM_ENVID
#define P_AUTH	SMTP_PARAM_AUTH
#define P_NOTIFY SMTP_PARAM_NOTIFY
#define P_ORCPT	SMTP_PARAM_ORCPT

static const struct cmd_ok cmd_ok[] = {
	/* EHLO / HELO */
	{ .line = "EHLO client.example.org", .verb = SMTP_VERB_EHLO,
	    .arg = "client.example.org" },
	{ .line = "ehlo client", .verb = SMTP_VERB_EHLO, .arg = "client",
	    .formatted = "EHLO client" },
	{ .line = "EhLo [192.0.2.1]", .verb = SMTP_VERB_EHLO,
	    .arg = "[192.0.2.1]", .formatted = "EHLO [192.0.2.1]" },
	{ .line = "EHLO [IPv6:2001:db8::1]", .verb = SMTP_VERB_EHLO,
	    .arg = "[IPv6:2001:db8::1]" },
	{ .line = "HELO mx.example", .verb = SMTP_VERB_HELO,
	    .arg = "mx.example" },
	{ .line = "HELO [10.0.0.1]", .verb = SMTP_VERB_HELO,
	    .arg = "[10.0.0.1]" },
	{ .line = "EHLO  spaced.example  ", .verb = SMTP_VERB_EHLO,
	    .arg = "spaced.example", .formatted = "EHLO spaced.example" },
	{ .line = "EHLO xn--bcher-kva.example", .verb = SMTP_VERB_EHLO,
	    .arg = "xn--bcher-kva.example" },
	/* Not RFC 5321 Domains, but sent by real MTAs: taken (4.1.4). */
	{ .line = "EHLO my_host.example", .verb = SMTP_VERB_EHLO,
	    .arg = "my_host.example" },
	{ .line = "HELO -a", .verb = SMTP_VERB_HELO, .arg = "-a" },
	{ .line = "EHLO a.", .verb = SMTP_VERB_EHLO, .arg = "a." },
	/* MAIL */
	{ .line = "MAIL FROM:<a@b.c>", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b.c>" },
	{ .line = "mail from:<a@b.c>", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b.c>", .formatted = "MAIL FROM:<a@b.c>" },
	{ .line = "MAIL FROM:<>", .verb = SMTP_VERB_MAIL, .path = "<>" },
	{ .line = "MAIL FROM: <a@b.c>", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b.c>", .formatted = "MAIL FROM:<a@b.c>" },
	{ .line = "MAIL FROM:  <>  ", .verb = SMTP_VERB_MAIL, .path = "<>",
	    .formatted = "MAIL FROM:<>" },
	{ .line = "MAIL  FROM:<a@b>", .verb = SMTP_VERB_MAIL, .path = "<a@b>",
	    .formatted = "MAIL FROM:<a@b>" },
	{ .line = "MAIL FROM:<@r1,@r2:u@d>", .verb = SMTP_VERB_MAIL,
	    .path = "<u@d>", .formatted = "MAIL FROM:<u@d>" },
	{ .line = "MAIL FROM:<\"a b\"@[1.2.3.4]>", .verb = SMTP_VERB_MAIL,
	    .path = "<\"a b\"@[1.2.3.4]>" },
	{ .line = "MAIL FROM:<\"a> b\"@c> SIZE=1", .verb = SMTP_VERB_MAIL,
	    .path = "<\"a> b\"@c>", .seen = P_SIZE, .size = 1 },
	{ .line = "MAIL FROM:<a@b> SIZE=12345", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_SIZE, .size = 12345 },
	{ .line = "MAIL FROM:<a@b> SIZE=0", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_SIZE, .size = 0 },
	{ .line = "MAIL FROM:<a@b> SIZE=18446744073709551615",
	    .verb = SMTP_VERB_MAIL, .path = "<a@b>", .seen = P_SIZE,
	    .size = UINT64_MAX },
	{ .line = "MAIL FROM:<a@b> SIZE=00000000000000000042",
	    .verb = SMTP_VERB_MAIL, .path = "<a@b>", .seen = P_SIZE,
	    .size = 42, .formatted = "MAIL FROM:<a@b> SIZE=42" },
	{ .line = "MAIL FROM:<a@b> size=7", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_SIZE, .size = 7,
	    .formatted = "MAIL FROM:<a@b> SIZE=7" },
	{ .line = "MAIL FROM:<a@b> BODY=7BIT", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_BODY, .body = SMTP_BODY_7BIT },
	{ .line = "MAIL FROM:<a@b> BODY=8BITMIME", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_BODY, .body = SMTP_BODY_8BITMIME },
	{ .line = "MAIL FROM:<a@b> body=8bitmime", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_BODY, .body = SMTP_BODY_8BITMIME,
	    .formatted = "MAIL FROM:<a@b> BODY=8BITMIME" },
	{ .line = "MAIL FROM:<a@b> BODY=BINARYMIME", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_BODY, .body = SMTP_BODY_BINARYMIME },
	{ .line = "MAIL FROM:<a@b> SMTPUTF8", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_UTF8 },
	{ .line = "MAIL FROM:<a@b> smtputf8", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_UTF8,
	    .formatted = "MAIL FROM:<a@b> SMTPUTF8" },
	{ .line = "MAIL FROM:<jörg@bücher.example> SMTPUTF8",
	    .verb = SMTP_VERB_MAIL, .path = "<jörg@bücher.example>",
	    .seen = P_UTF8 },
	{ .line = "MAIL FROM:<用户@例子.广告> BODY=8BITMIME SMTPUTF8",
	    .verb = SMTP_VERB_MAIL, .path = "<用户@例子.广告>",
	    .seen = P_UTF8 | P_BODY, .body = SMTP_BODY_8BITMIME },
	{ .line = "MAIL FROM:<a@b> RET=FULL", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_RET, .ret = SMTP_RET_FULL },
	{ .line = "MAIL FROM:<a@b> RET=hdrs", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_RET, .ret = SMTP_RET_HDRS,
	    .formatted = "MAIL FROM:<a@b> RET=HDRS" },
	{ .line = "MAIL FROM:<a@b> ENVID=QQ314159", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_ENVID, .envid = "QQ314159" },
	{ .line = "MAIL FROM:<a@b> ENVID=a+2Bb+3Dc", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_ENVID, .envid = "a+2Bb+3Dc" },
	{ .line = "MAIL FROM:<a@b> AUTH=<>", .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>", .seen = P_AUTH, .auth = "<>" },
	{ .line = "MAIL FROM:<a@b> AUTH=e+3Dmc2@example.com",
	    .verb = SMTP_VERB_MAIL, .path = "<a@b>", .seen = P_AUTH,
	    .auth = "e+3Dmc2@example.com" },
	{ .line = "MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME SMTPUTF8 RET=HDRS "
	    "ENVID=x AUTH=<>", .verb = SMTP_VERB_MAIL, .path = "<a@b>",
	    .seen = P_SIZE | P_BODY | P_UTF8 | P_RET | P_ENVID | P_AUTH,
	    .size = 100, .body = SMTP_BODY_8BITMIME, .ret = SMTP_RET_HDRS,
	    .envid = "x", .auth = "<>" },
	{ .line = "MAIL FROM:<a@b> AUTH=<> ENVID=x RET=HDRS SMTPUTF8 "
	    "BODY=8BITMIME SIZE=100", .verb = SMTP_VERB_MAIL, .path = "<a@b>",
	    .seen = P_SIZE | P_BODY | P_UTF8 | P_RET | P_ENVID | P_AUTH,
	    .size = 100, .body = SMTP_BODY_8BITMIME, .ret = SMTP_RET_HDRS,
	    .envid = "x", .auth = "<>",
	    .formatted = "MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME SMTPUTF8 "
	    "RET=HDRS ENVID=x AUTH=<>" },
	{ .line = "MAIL FROM:<a@b>  SIZE=1   BODY=7BIT  ",
	    .verb = SMTP_VERB_MAIL, .path = "<a@b>", .seen = P_SIZE | P_BODY,
	    .size = 1, .body = SMTP_BODY_7BIT,
	    .formatted = "MAIL FROM:<a@b> SIZE=1 BODY=7BIT" },
	/* MAIL sees its own SMTPUTF8; the RCPT flag does not matter. */
	{ .line = "MAIL FROM:<a@b>", .flags = U8, .verb = SMTP_VERB_MAIL,
	    .path = "<a@b>" },
	/* RCPT */
	{ .line = "RCPT TO:<a@b.c>", .verb = SMTP_VERB_RCPT,
	    .path = "<a@b.c>" },
	{ .line = "rcpt to:<a@b.c>", .verb = SMTP_VERB_RCPT,
	    .path = "<a@b.c>", .formatted = "RCPT TO:<a@b.c>" },
	{ .line = "RCPT TO: <a@b.c>", .verb = SMTP_VERB_RCPT,
	    .path = "<a@b.c>", .formatted = "RCPT TO:<a@b.c>" },
	{ .line = "RCPT TO:<Postmaster>", .verb = SMTP_VERB_RCPT,
	    .path = "<Postmaster>" },
	{ .line = "RCPT TO:<postmaster>", .verb = SMTP_VERB_RCPT,
	    .path = "<postmaster>" },
	{ .line = "RCPT TO:<Postmaster@example.com>", .verb = SMTP_VERB_RCPT,
	    .path = "<Postmaster@example.com>" },
	{ .line = "RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>",
	    .verb = SMTP_VERB_RCPT, .path = "<userc@d.bar.org>",
	    .formatted = "RCPT TO:<userc@d.bar.org>" },
	{ .line = "RCPT TO:<jörg@bücher.example>", .flags = U8,
	    .verb = SMTP_VERB_RCPT, .path = "<jörg@bücher.example>" },
	{ .line = "RCPT TO:<a@b> NOTIFY=NEVER", .verb = SMTP_VERB_RCPT,
	    .path = "<a@b>", .seen = P_NOTIFY,
	    .notify = SMTP_NOTIFY_NEVER },
	{ .line = "RCPT TO:<a@b> NOTIFY=SUCCESS", .verb = SMTP_VERB_RCPT,
	    .path = "<a@b>", .seen = P_NOTIFY,
	    .notify = SMTP_NOTIFY_SUCCESS },
	{ .line = "RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE,DELAY",
	    .verb = SMTP_VERB_RCPT, .path = "<a@b>", .seen = P_NOTIFY,
	    .notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |
	    SMTP_NOTIFY_DELAY },
	{ .line = "RCPT TO:<a@b> notify=delay,failure", .verb = SMTP_VERB_RCPT,
	    .path = "<a@b>", .seen = P_NOTIFY,
	    .notify = SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY,
	    .formatted = "RCPT TO:<a@b> NOTIFY=FAILURE,DELAY" },
	{ .line = "RCPT TO:<a@b> NOTIFY=FAILURE,FAILURE",
	    .verb = SMTP_VERB_RCPT, .path = "<a@b>", .seen = P_NOTIFY,
	    .notify = SMTP_NOTIFY_FAILURE,
	    .formatted = "RCPT TO:<a@b> NOTIFY=FAILURE" },
	{ .line = "RCPT TO:<a@b> ORCPT=rfc822;a+2Bb@c", .verb = SMTP_VERB_RCPT,
	    .path = "<a@b>", .seen = P_ORCPT, .orcpt_type = "rfc822",
	    .orcpt = "a+2Bb@c" },
	{ .line = "RCPT TO:<a@b> ORCPT=utf-8;j\\x{00F6}rg@x",
	    .verb = SMTP_VERB_RCPT, .path = "<a@b>", .seen = P_ORCPT,
	    .orcpt_type = "utf-8", .orcpt = "j\\x{00F6}rg@x" },
	{ .line = "RCPT TO:<a@b> ORCPT=RFC822;x;y", .verb = SMTP_VERB_RCPT,
	    .path = "<a@b>", .seen = P_ORCPT, .orcpt_type = "RFC822",
	    .orcpt = "x;y" },
	{ .line = "RCPT TO:<a@b> ORCPT=rfc822;x NOTIFY=SUCCESS,DELAY",
	    .verb = SMTP_VERB_RCPT, .path = "<a@b>",
	    .seen = P_ORCPT | P_NOTIFY, .orcpt_type = "rfc822", .orcpt = "x",
	    .notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_DELAY,
	    .formatted = "RCPT TO:<a@b> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x" },
	/* DATA RSET QUIT STARTTLS, with trailing SP tolerated */
	{ .line = "DATA", .verb = SMTP_VERB_DATA },
	{ .line = "data", .verb = SMTP_VERB_DATA, .formatted = "DATA" },
	{ .line = "DATA ", .verb = SMTP_VERB_DATA, .formatted = "DATA" },
	{ .line = "RSET", .verb = SMTP_VERB_RSET },
	{ .line = "QUIT", .verb = SMTP_VERB_QUIT },
	{ .line = "QUIT   ", .verb = SMTP_VERB_QUIT, .formatted = "QUIT" },
	{ .line = "STARTTLS", .verb = SMTP_VERB_STARTTLS },
	{ .line = "StartTLS", .verb = SMTP_VERB_STARTTLS,
	    .formatted = "STARTTLS" },
	/* BDAT */
	{ .line = "BDAT 0", .verb = SMTP_VERB_BDAT },
	{ .line = "BDAT 1000", .verb = SMTP_VERB_BDAT, .chunk_size = 1000 },
	{ .line = "BDAT 86 LAST", .verb = SMTP_VERB_BDAT, .chunk_size = 86,
	    .last = true },
	{ .line = "bdat 0 last", .verb = SMTP_VERB_BDAT, .last = true,
	    .formatted = "BDAT 0 LAST" },
	{ .line = "BDAT 18446744073709551615", .verb = SMTP_VERB_BDAT,
	    .chunk_size = UINT64_MAX },
	{ .line = "BDAT 000000000000000000000007  LAST ",
	    .verb = SMTP_VERB_BDAT, .chunk_size = 7, .last = true,
	    .formatted = "BDAT 7 LAST" },
	/* AUTH */
	{ .line = "AUTH PLAIN", .verb = SMTP_VERB_AUTH, .mech = "PLAIN" },
	{ .line = "auth login", .verb = SMTP_VERB_AUTH, .mech = "LOGIN",
	    .formatted = "AUTH LOGIN" },
	{ .line = "AUTH PLAIN AGFsaWNlAHNlY3JldA==", .verb = SMTP_VERB_AUTH,
	    .mech = "PLAIN", .arg = "AGFsaWNlAHNlY3JldA==" },
	{ .line = "AUTH PLAIN =", .verb = SMTP_VERB_AUTH, .mech = "PLAIN",
	    .arg = "=" },
	{ .line = "AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZn",
	    .verb = SMTP_VERB_AUTH, .mech = "SCRAM-SHA-256",
	    .arg = "biwsbj11c2VyLHI9ZnlrbytkMmxiYkZn" },
	{ .line = "AUTH X_OAUTH2-12345678901 QUJD", .verb = SMTP_VERB_AUTH,
	    .mech = "X_OAUTH2-12345678901", .arg = "QUJD" },
	{ .line = "AUTH PLAIN QQ==", .verb = SMTP_VERB_AUTH, .mech = "PLAIN",
	    .arg = "QQ==" },
	{ .line = "AUTH PLAIN QUI=", .verb = SMTP_VERB_AUTH, .mech = "PLAIN",
	    .arg = "QUI=" },
	{ .line = "AUTH PLAIN a+/9", .verb = SMTP_VERB_AUTH, .mech = "PLAIN",
	    .arg = "a+/9" },
	/* VRFY EXPN HELP NOOP */
	{ .line = "VRFY Smith", .verb = SMTP_VERB_VRFY, .arg = "Smith" },
	{ .line = "VRFY \"John Smith\" ", .verb = SMTP_VERB_VRFY,
	    .arg = "\"John Smith\"", .formatted = "VRFY \"John Smith\"" },
	{ .line = "VRFY jörg SMTPUTF8", .verb = SMTP_VERB_VRFY, .arg = "jörg",
	    .seen = P_UTF8 },
	{ .line = "VRFY a   smtputf8", .verb = SMTP_VERB_VRFY, .arg = "a",
	    .seen = P_UTF8, .formatted = "VRFY a SMTPUTF8" },
	{ .line = "VRFY SMTPUTF8", .verb = SMTP_VERB_VRFY, .arg = "SMTPUTF8" },
	{ .line = "VRFY x SMTPUTF8 SMTPUTF8", .verb = SMTP_VERB_VRFY,
	    .arg = "x SMTPUTF8", .seen = P_UTF8 },
	{ .line = "EXPN staff", .verb = SMTP_VERB_EXPN, .arg = "staff" },
	{ .line = "EXPN list SMTPUTF8", .verb = SMTP_VERB_EXPN, .arg = "list",
	    .seen = P_UTF8 },
	{ .line = "HELP", .verb = SMTP_VERB_HELP },
	{ .line = "HELP MAIL", .verb = SMTP_VERB_HELP, .arg = "MAIL" },
	{ .line = "help  a b  c ", .verb = SMTP_VERB_HELP, .arg = "a b  c",
	    .formatted = "HELP a b  c" },
	{ .line = "NOOP", .verb = SMTP_VERB_NOOP },
	{ .line = "NOOP anything\tgoes=here", .verb = SMTP_VERB_NOOP,
	    .arg = "anything\tgoes=here" },
};

static void
check_params(const struct cmd_ok *t, const struct smtp_params *p)
{
	assert_int_equal(p->seen, t->seen);
	assert_int_equal(p->size, t->size);
	assert_int_equal(p->body, t->body);
	assert_int_equal(p->ret, t->ret);
	assert_int_equal(p->notify, t->notify);
	assert_string_equal(p->envid, t->envid != NULL ? t->envid : "");
	assert_string_equal(p->orcpt_type, t->orcpt_type != NULL ?
	    t->orcpt_type : "");
	assert_string_equal(p->orcpt, t->orcpt != NULL ? t->orcpt : "");
	assert_string_equal(p->auth, t->auth != NULL ? t->auth : "");
}

/* Two parses of the same command agree on every field. */
static void
assert_cmd_equal(const struct smtp_cmd *a, const struct smtp_cmd *b)
{
	assert_int_equal(a->verb, b->verb);
	assert_string_equal(a->arg, b->arg);
	assert_true(addr_equal(&a->path, &b->path));
	assert_string_equal(a->path.domain, b->path.domain);
	assert_int_equal(memcmp(&a->params, &b->params, sizeof(a->params)),
	    0);
	assert_int_equal(a->chunk_size, b->chunk_size);
	assert_int_equal(a->last, b->last);
	assert_string_equal(a->mech, b->mech);
}

static void
check_cmd_ok(const struct cmd_ok *t)
{
	struct smtp_cmd	 c, c2;
	struct buf	 out;
	char		 path[ADDR_FORMAT_SIZE];

	if (smtp_proto_cmd_parse(t->line, strlen(t->line), t->flags, &c) != 0)
		fail_msg("\"%s\": %u %s %s", t->line, c.err.code, c.err.enh,
		    c.err.text);
	assert_int_equal(c.verb, t->verb);
	assert_string_equal(c.arg, t->arg != NULL ? t->arg : "");
	if (t->path != NULL) {
		assert_int_equal(addr_format(&c.path, path, sizeof(path)), 0);
		assert_string_equal(path, t->path);
	} else
		assert_string_equal(c.path.local, "");
	check_params(t, &c.params);
	assert_int_equal(c.chunk_size, t->chunk_size);
	assert_int_equal(c.last, t->last);
	assert_string_equal(c.mech, t->mech != NULL ? t->mech : "");
	assert_int_equal(c.err.code, 0);
	/* Format, compare, parse again: the same command. */
	buf_init(&out, SMTP_CMD_PARAM_LINE_MAX);
	assert_int_equal(smtp_proto_cmd_format(&out, &c), 0);
	assert_string_equal(buf_cstr(&out), t->formatted != NULL ?
	    t->formatted : t->line);
	assert_int_equal(smtp_proto_cmd_parse(buf_cstr(&out), out.len,
	    t->flags, &c2), 0);
	assert_cmd_equal(&c, &c2);
	buf_clear(&out);
}

static void
test_cmd_ok(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(cmd_ok) / sizeof(cmd_ok[0]); i++)
		check_cmd_ok(&cmd_ok[i]);
}

/* ---- commands that fail, with the reply they carry ---- */

struct cmd_bad {
	const char	*line;
	size_t		 len;		/* 0: strlen */
	int		 flags;
	enum smtp_verb	 verb;
	unsigned	 code;
	const char	*enh;
	const char	*text;		/* NULL: not checked */
};

#define V_UNK	SMTP_VERB_UNKNOWN
#define V_EHLO	SMTP_VERB_EHLO
#define V_HELO	SMTP_VERB_HELO
#define V_MAIL	SMTP_VERB_MAIL
#define V_RCPT	SMTP_VERB_RCPT
#define V_BDAT	SMTP_VERB_BDAT
#define V_AUTH	SMTP_VERB_AUTH

static const struct cmd_bad cmd_bad[] = {
	/* Verbs. */
	{ "", 0, 0, V_UNK, 500, "5.5.1", "Command unrecognized" },
	{ " ", 0, 0, V_UNK, 500, "5.5.1", NULL },
	{ " EHLO x", 0, 0, V_UNK, 500, "5.5.1", NULL },
	{ "FOO", 0, 0, V_UNK, 500, "5.5.1", NULL },
	{ "DATAX", 0, 0, V_UNK, 500, "5.5.1", NULL },
	{ "DAT", 0, 0, V_UNK, 500, "5.5.1", NULL },
	{ "MAILFROM:<a@b>", 0, 0, V_UNK, 500, "5.5.1", NULL },
	{ "EHLO\tx", 0, 0, V_UNK, 500, "5.5.1", NULL },
	{ "TURN", 0, 0, V_UNK, 500, "5.5.1", NULL },
	{ "XCLIENT ADDR=1.2.3.4", 0, 0, V_UNK, 500, "5.5.1", NULL },
	/* NUL, CR, LF anywhere. */
	{ "NOOP\0", 5, 0, V_UNK, 500, "5.5.2", "Invalid character in command" },
	{ "\0NOOP", 5, 0, V_UNK, 500, "5.5.2", NULL },
	{ "MAIL FROM:<a\0@b>", 17, 0, V_UNK, 500, "5.5.2", NULL },
	{ "NOOP a\rb", 0, 0, V_UNK, 500, "5.5.2", NULL },
	{ "NOOP a\nb", 0, 0, V_UNK, 500, "5.5.2", NULL },
	{ "DATA\r", 0, 0, V_UNK, 500, "5.5.2", NULL },
	/* No arguments allowed. */
	{ "DATA x", 0, 0, SMTP_VERB_DATA, 501, "5.5.4",
	    "No parameters allowed" },
	{ "RSET now", 0, 0, SMTP_VERB_RSET, 501, "5.5.4", NULL },
	{ "QUIT bye", 0, 0, SMTP_VERB_QUIT, 501, "5.5.4", NULL },
	{ "STARTTLS x", 0, 0, SMTP_VERB_STARTTLS, 501, "5.5.4", NULL },
	/* EHLO / HELO. */
	{ "EHLO", 0, 0, V_EHLO, 501, "5.5.4", "Syntax: EHLO hostname" },
	{ "EHLO ", 0, 0, V_EHLO, 501, "5.5.4", NULL },
	{ "HELO", 0, 0, V_HELO, 501, "5.5.4", "Syntax: HELO hostname" },
	{ "EHLO a b", 0, 0, V_EHLO, 501, "5.5.4", "Invalid domain name" },
	{ "EHLO a(b)", 0, 0, V_EHLO, 501, "5.5.4", NULL },
	{ "EHLO a;b", 0, 0, V_EHLO, 501, "5.5.4", NULL },
	{ "EHLO a\"b", 0, 0, V_EHLO, 501, "5.5.4", NULL },
	{ "EHLO [1.2.3]", 0, 0, V_EHLO, 501, "5.5.4", NULL },
	{ "EHLO [1.2.3.4", 0, 0, V_EHLO, 501, "5.5.4", NULL },
	{ "EHLO 1.2.3.4]", 0, 0, V_EHLO, 501, "5.5.4", NULL },
	{ "EHLO bücher.example", 0, 0, V_EHLO, 501, "5.5.4", NULL },
	{ "EHLO bücher.example", 0, U8, V_EHLO, 501, "5.5.4", NULL },
	{ "HELO <a@b>", 0, 0, V_HELO, 501, "5.5.4", NULL },
	/* MAIL syntax. */
	{ "MAIL", 0, 0, V_MAIL, 501, "5.5.4", "Syntax: MAIL FROM:<address>" },
	{ "MAIL FROM", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:  ", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL TO:<a@b>", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM <a@b>", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FRM:<a@b>", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:a@b", 0, 0, V_MAIL, 501, "5.1.7",
	    "Bad sender address syntax" },
	{ "MAIL FROM:<a@b", 0, 0, V_MAIL, 501, "5.1.7", NULL },
	{ "MAIL FROM:<a@b>>", 0, 0, V_MAIL, 501, "5.5.4",
	    "Bad parameter syntax" },
	{ "MAIL FROM:<a@b>SIZE=1", 0, 0, V_MAIL, 501, "5.5.4",
	    "Bad parameter syntax" },
	{ "MAIL FROM:<a..b@c>", 0, 0, V_MAIL, 501, "5.1.7", NULL },
	{ "MAIL FROM:<a@[1.2.3.999]>", 0, 0, V_MAIL, 501, "5.1.7",
	    "Bad sender address literal" },
	{ "MAIL FROM:<\xc0\x80@b> SMTPUTF8", 0, 0, V_MAIL, 501, "5.1.7",
	    "Invalid UTF-8 in sender address" },
	{ "MAIL FROM:<a@b\xff> SMTPUTF8", 0, 0, V_MAIL, 501, "5.1.7", NULL },
	{ "MAIL FROM:<Postmaster>", 0, 0, V_MAIL, 501, "5.1.7", NULL },
	/* MAIL: UTF-8 without SMTPUTF8 (RFC 6531 §3.5). */
	{ "MAIL FROM:<jörg@example.com>", 0, 0, V_MAIL, 550, "5.6.7", NULL },
	{ "MAIL FROM:<a@bücher.example> BODY=8BITMIME", 0, 0, V_MAIL, 550,
	    "5.6.7", NULL },
	{ "MAIL FROM:<jörg@example.com>", 0, U8, V_MAIL, 550, "5.6.7", NULL },
	/* MAIL parameters. */
	{ "MAIL FROM:<a@b> SIZE", 0, 0, V_MAIL, 501, "5.5.4",
	    "Invalid SIZE value" },
	{ "MAIL FROM:<a@b> SIZE=", 0, 0, V_MAIL, 501, "5.5.4",
	    "Bad parameter syntax" },
	{ "MAIL FROM:<a@b> SIZE=-1", 0, 0, V_MAIL, 501, "5.5.4",
	    "Invalid SIZE value" },
	{ "MAIL FROM:<a@b> SIZE=1k", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> SIZE=18446744073709551616", 0, 0, V_MAIL, 501,
	    "5.5.4", "Invalid SIZE value" },
	{ "MAIL FROM:<a@b> SIZE=99999999999999999999", 0, 0, V_MAIL, 501,
	    "5.5.4", NULL },
	{ "MAIL FROM:<a@b> SIZE=000000000000000000001", 0, 0, V_MAIL, 501,
	    "5.5.4", NULL },	/* 1*20DIGIT */
	{ "MAIL FROM:<a@b> SIZE=1=2", 0, 0, V_MAIL, 501, "5.5.4",
	    "Bad parameter syntax" },
	{ "MAIL FROM:<a@b> SIZE=1 SIZE=2", 0, 0, V_MAIL, 501, "5.5.4",
	    "Duplicate parameter" },
	{ "MAIL FROM:<a@b> SIZE=1 size=1", 0, 0, V_MAIL, 501, "5.5.4",
	    "Duplicate parameter" },
	{ "MAIL FROM:<a@b> BODY", 0, 0, V_MAIL, 501, "5.5.4",
	    "Invalid BODY value" },
	{ "MAIL FROM:<a@b> BODY=8BIT", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> BODY=8BITMIMEX", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> BODY=7BIT BODY=7BIT", 0, 0, V_MAIL, 501, "5.5.4",
	    "Duplicate parameter" },
	{ "MAIL FROM:<a@b> SMTPUTF8=yes", 0, 0, V_MAIL, 501, "5.5.4",
	    "SMTPUTF8 takes no value" },
	{ "MAIL FROM:<a@b> SMTPUTF8 SMTPUTF8", 0, 0, V_MAIL, 501, "5.5.4",
	    "Duplicate parameter" },
	{ "MAIL FROM:<a@b> RET", 0, 0, V_MAIL, 501, "5.5.4",
	    "Invalid RET value" },
	{ "MAIL FROM:<a@b> RET=NONE", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> RET=FULL RET=HDRS", 0, 0, V_MAIL, 501, "5.5.4",
	    "Duplicate parameter" },
	{ "MAIL FROM:<a@b> ENVID", 0, 0, V_MAIL, 501, "5.5.4",
	    "Invalid ENVID value" },
	{ "MAIL FROM:<a@b> ENVID=a+2b", 0, 0, V_MAIL, 501, "5.5.4",
	    "Invalid ENVID value" },
	{ "MAIL FROM:<a@b> ENVID=a+", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> ENVID=\xc3\xa9", 0, 0, V_MAIL, 501, "5.5.4",
	    "Invalid ENVID value" },
	{ "MAIL FROM:<a@b> ENVID=x ENVID=y", 0, 0, V_MAIL, 501, "5.5.4",
	    "Duplicate parameter" },
	{ "MAIL FROM:<a@b> AUTH", 0, 0, V_MAIL, 501, "5.5.4",
	    "Invalid AUTH value" },
	{ "MAIL FROM:<a@b> AUTH=a+zz", 0, 0, V_MAIL, 501, "5.5.4",
	    "Invalid AUTH value" },
	{ "MAIL FROM:<a@b> FOO", 0, 0, V_MAIL, 555, "5.5.4",
	    "Unsupported parameter" },
	{ "MAIL FROM:<a@b> FOO=bar", 0, 0, V_MAIL, 555, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> X-FOO=\xc3\xa9", 0, 0, V_MAIL, 555, "5.5.4",
	    NULL },
	{ "MAIL FROM:<a@b> NOTIFY=NEVER", 0, 0, V_MAIL, 555, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> ORCPT=rfc822;a", 0, 0, V_MAIL, 555, "5.5.4",
	    NULL },
	{ "MAIL FROM:<a@b> SIZE=1 FOO", 0, 0, V_MAIL, 555, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> -FOO", 0, 0, V_MAIL, 501, "5.5.4",
	    "Bad parameter syntax" },
	{ "MAIL FROM:<a@b> =1", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> F_O", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> X=\xc3", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> X=\x01", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> X=\x7f", 0, 0, V_MAIL, 501, "5.5.4", NULL },
	{ "MAIL FROM:<a@b> SIZE=1\tBODY=7BIT", 0, 0, V_MAIL, 501, "5.5.4",
	    NULL },
	/* Errors in order: the first one wins. */
	{ "MAIL FROM:<a@b> SIZE=x FOO", 0, 0, V_MAIL, 501, "5.5.4",
	    "Invalid SIZE value" },
	{ "MAIL FROM:<ü@b> FOO", 0, 0, V_MAIL, 555, "5.5.4", NULL },
	/* RCPT. */
	{ "RCPT", 0, 0, V_RCPT, 501, "5.5.4", "Syntax: RCPT TO:<address>" },
	{ "RCPT TO", 0, 0, V_RCPT, 501, "5.5.4", NULL },
	{ "RCPT TO:", 0, 0, V_RCPT, 501, "5.5.4", NULL },
	{ "RCPT FROM:<a@b>", 0, 0, V_RCPT, 501, "5.5.4", NULL },
	{ "RCPT TO:<>", 0, 0, V_RCPT, 501, "5.1.3",
	    "Null recipient not allowed" },
	{ "RCPT TO:a@b", 0, 0, V_RCPT, 501, "5.1.3",
	    "Bad recipient address syntax" },
	{ "RCPT TO:<a@b> x", 0, 0, V_RCPT, 555, "5.5.4", NULL },
	{ "RCPT TO:<jörg@example.com>", 0, 0, V_RCPT, 553, "5.6.7", NULL },
	{ "RCPT TO:<a@b> SMTPUTF8", 0, U8, V_RCPT, 555, "5.5.4", NULL },
	{ "RCPT TO:<\xed\xa0\x80@b>", 0, U8, V_RCPT, 501, "5.1.3",
	    "Invalid UTF-8 in recipient address" },
	{ "RCPT TO:<a@b> SIZE=1", 0, 0, V_RCPT, 555, "5.5.4", NULL },
	{ "RCPT TO:<a@b> NOTIFY", 0, 0, V_RCPT, 501, "5.5.4",
	    "Invalid NOTIFY value" },
	{ "RCPT TO:<a@b> NOTIFY=", 0, 0, V_RCPT, 501, "5.5.4",
	    "Bad parameter syntax" },
	{ "RCPT TO:<a@b> NOTIFY=NEVER,SUCCESS", 0, 0, V_RCPT, 501, "5.5.4",
	    "Invalid NOTIFY value" },
	{ "RCPT TO:<a@b> NOTIFY=SUCCESS,NEVER", 0, 0, V_RCPT, 501, "5.5.4",
	    NULL },
	{ "RCPT TO:<a@b> NOTIFY=NEVER,NEVER", 0, 0, V_RCPT, 501, "5.5.4",
	    NULL },
	{ "RCPT TO:<a@b> NOTIFY=SUCCESS,", 0, 0, V_RCPT, 501, "5.5.4", NULL },
	{ "RCPT TO:<a@b> NOTIFY=,SUCCESS", 0, 0, V_RCPT, 501, "5.5.4", NULL },
	{ "RCPT TO:<a@b> NOTIFY=SUCCESS,,DELAY", 0, 0, V_RCPT, 501, "5.5.4",
	    NULL },
	{ "RCPT TO:<a@b> NOTIFY=ALWAYS", 0, 0, V_RCPT, 501, "5.5.4", NULL },
	{ "RCPT TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER", 0, 0, V_RCPT, 501,
	    "5.5.4", "Duplicate parameter" },
	{ "RCPT TO:<a@b> ORCPT", 0, 0, V_RCPT, 501, "5.5.4",
	    "Invalid ORCPT value" },
	{ "RCPT TO:<a@b> ORCPT=rfc822", 0, 0, V_RCPT, 501, "5.5.4", NULL },
	{ "RCPT TO:<a@b> ORCPT=rfc822;", 0, 0, V_RCPT, 501, "5.5.4", NULL },
	{ "RCPT TO:<a@b> ORCPT=;a@b", 0, 0, V_RCPT, 501, "5.5.4", NULL },
	{ "RCPT TO:<a@b> ORCPT=rfc(822);a", 0, 0, V_RCPT, 501, "5.5.4",
	    NULL },
	{ "RCPT TO:<a@b> ORCPT=rfc822;a+4", 0, 0, V_RCPT, 501, "5.5.4",
	    NULL },
	{ "RCPT TO:<a@b> ORCPT=utf-8;j\xc3\xb6rg@x", 0, U8, V_RCPT, 501,
	    "5.5.4", "Invalid ORCPT value" },	/* no unitext */
	{ "RCPT TO:<a@b> ORCPT=rfc822;a ORCPT=rfc822;b", 0, 0, V_RCPT, 501,
	    "5.5.4", "Duplicate parameter" },
	{ "RCPT TO:<a@b> ORCPT=abcdefghijklmnopqrstuvwxyz0123456;x", 0, 0,
	    V_RCPT, 501, "5.5.4", NULL },	/* type > 32 */
	/* BDAT. */
	{ "BDAT", 0, 0, V_BDAT, 501, "5.5.4",
	    "Syntax: BDAT chunk-size [LAST]" },
	{ "BDAT LAST", 0, 0, V_BDAT, 501, "5.5.4", "Invalid BDAT chunk size" },
	{ "BDAT -1", 0, 0, V_BDAT, 501, "5.5.4", "Invalid BDAT chunk size" },
	{ "BDAT 1x", 0, 0, V_BDAT, 501, "5.5.4", NULL },
	{ "BDAT 18446744073709551616", 0, 0, V_BDAT, 501, "5.5.4",
	    "Invalid BDAT chunk size" },
	{ "BDAT 1 FIRST", 0, 0, V_BDAT, 501, "5.5.4",
	    "Syntax: BDAT chunk-size [LAST]" },
	{ "BDAT 1 LAST x", 0, 0, V_BDAT, 501, "5.5.4", NULL },
	{ "BDAT 1 LASTX", 0, 0, V_BDAT, 501, "5.5.4", NULL },
	/* AUTH. */
	{ "AUTH", 0, 0, V_AUTH, 501, "5.5.4",
	    "Syntax: AUTH mechanism [initial-response]" },
	{ "AUTH PL@IN", 0, 0, V_AUTH, 501, "5.5.4", "Invalid AUTH mechanism" },
	{ "AUTH ABCDEFGHIJKLMNOPQRSTU", 0, 0, V_AUTH, 501, "5.5.4",
	    "Invalid AUTH mechanism" },		/* 21 characters */
	{ "AUTH PLAIN a b", 0, 0, V_AUTH, 501, "5.5.4", NULL },
	{ "AUTH PLAIN abc", 0, 0, V_AUTH, 501, "5.5.2",
	    "Invalid base64 data" },
	{ "AUTH PLAIN ab=c", 0, 0, V_AUTH, 501, "5.5.2", NULL },
	{ "AUTH PLAIN a===", 0, 0, V_AUTH, 501, "5.5.2", NULL },
	{ "AUTH PLAIN ====", 0, 0, V_AUTH, 501, "5.5.2", NULL },
	{ "AUTH PLAIN ab-_", 0, 0, V_AUTH, 501, "5.5.2", NULL },
	{ "AUTH PLAIN ==", 0, 0, V_AUTH, 501, "5.5.2", NULL },
	/* VRFY / EXPN need an argument. */
	{ "VRFY", 0, 0, SMTP_VERB_VRFY, 501, "5.5.4", "Syntax: VRFY string" },
	{ "EXPN ", 0, 0, SMTP_VERB_EXPN, 501, "5.5.4", "Syntax: EXPN string" },
};

static void
check_cmd_bad(const struct cmd_bad *t)
{
	struct smtp_cmd	 c;
	size_t		 len = t->len != 0 ? t->len : strlen(t->line);

	if (smtp_proto_cmd_parse(t->line, len, t->flags, &c) != -1)
		fail_msg("\"%s\" parsed", t->line);
	if (c.err.code != t->code || strcmp(c.err.enh, t->enh) != 0)
		fail_msg("\"%s\": %u %s %s, want %u %s", t->line, c.err.code,
		    c.err.enh, c.err.text, t->code, t->enh);
	assert_int_equal(c.verb, t->verb);
	assert_non_null(c.err.text);
	assert_true(strlen(c.err.text) > 0);
	if (t->text != NULL)
		assert_string_equal(c.err.text, t->text);
	/* Enhanced code class agrees with the code (RFC 3463 §2). */
	assert_int_equal(c.err.enh[0] - '0', (int)c.err.code / 100);
}

static void
test_cmd_bad(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(cmd_bad) / sizeof(cmd_bad[0]); i++)
		check_cmd_bad(&cmd_bad[i]);
}

/* Every verb, in any case, maps to itself and has a name. */
static void
test_verbs(void **state)
{
	static const char *const names[] = { "EHLO", "HELO", "MAIL", "RCPT",
	    "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP",
	    "STARTTLS", "AUTH" };
	struct smtp_cmd	 c;
	char		 lower[16];
	size_t		 i, j;
	int		 v;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		smtp_proto_cmd_parse(names[i], strlen(names[i]), 0, &c);
		assert_int_not_equal(c.verb, SMTP_VERB_UNKNOWN);
		assert_string_equal(smtp_proto_verb_name(c.verb), names[i]);
		for (j = 0; names[i][j] != '\0'; j++)
			lower[j] = (char)(names[i][j] | 0x20);
		lower[j] = '\0';
		smtp_proto_cmd_parse(lower, j, 0, &c);
		assert_string_equal(smtp_proto_verb_name(c.verb), names[i]);
	}
	for (v = SMTP_VERB_EHLO; v <= SMTP_VERB_AUTH; v++)
		assert_string_not_equal(smtp_proto_verb_name(
		    (enum smtp_verb)v), "UNKNOWN");
	assert_string_equal(smtp_proto_verb_name(SMTP_VERB_UNKNOWN),
	    "UNKNOWN");
}

/* Line limits: 512 with CRLF, 2048 for MAIL and RCPT. */
static void
test_cmd_limits(void **state)
{
	struct smtp_cmd	 c;
	char		*s = malloc(4096);
	size_t		 n;

	assert_non_null(s);
	/* NOOP: 510 octets pass, 511 do not. */
	memset(s, 'x', 4096);
	memcpy(s, "NOOP ", 5);
	assert_int_equal(smtp_proto_cmd_parse(s, 510, 0, &c), 0);
	assert_int_equal(strlen(c.arg), 505);
	assert_int_equal(smtp_proto_cmd_parse(s, 511, 0, &c), -1);
	assert_int_equal(c.err.code, 500);
	assert_string_equal(c.err.text, "Line too long");
	assert_int_equal(c.verb, SMTP_VERB_NOOP);
	assert_int_equal(smtp_proto_cmd_parse(s, 4096, 0, &c), -1);
	assert_string_equal(c.err.text, "Line too long");
	assert_int_equal(c.verb, SMTP_VERB_UNKNOWN);
	/* Trailing SP still counts towards the limit. */
	memcpy(s, "QUIT", 4);
	memset(s + 4, ' ', 507);
	assert_int_equal(smtp_proto_cmd_parse(s, 510, 0, &c), 0);
	assert_int_equal(smtp_proto_cmd_parse(s, 511, 0, &c), -1);
	assert_string_equal(c.err.text, "Line too long");
	/* MAIL: 2046 pass (here with an unknown parameter), 2047 do not. */
	n = (size_t)snprintf(s, 4096, "MAIL FROM:<a@b> X-PAD=");
	memset(s + n, 'p', 4096 - n);
	assert_int_equal(smtp_proto_cmd_parse(s, 2046, 0, &c), -1);
	assert_int_equal(c.err.code, 555);
	assert_int_equal(smtp_proto_cmd_parse(s, 2047, 0, &c), -1);
	assert_int_equal(c.err.code, 500);
	assert_string_equal(c.err.text, "Line too long");
	/* RCPT with a long ORCPT: more than 512 is fine. */
	n = (size_t)snprintf(s, 4096, "RCPT TO:<a@b> ORCPT=rfc822;");
	memset(s + n, 'o', 493);
	assert_int_equal(smtp_proto_cmd_parse(s, n + 493, 0, &c), 0);
	assert_int_equal(strlen(c.params.orcpt), 493);
	assert_int_equal(smtp_proto_cmd_parse(s, n + 494, 0, &c), -1);
	assert_string_equal(c.err.text, "Invalid ORCPT value");
	free(s);
}

/* Parameter values at their limits. */
static void
test_param_limits(void **state)
{
	struct smtp_cmd	 c;
	char		 s[2100];
	int		 n;

	/* ENVID: 100 (RFC 3461 §4.4). */
	n = snprintf(s, sizeof(s), "MAIL FROM:<a@b> ENVID=%0100d", 0);
	assert_int_equal(smtp_proto_cmd_parse(s, (size_t)n, 0, &c), 0);
	assert_int_equal(strlen(c.params.envid), 100);
	n = snprintf(s, sizeof(s), "MAIL FROM:<a@b> ENVID=%0101d", 0);
	assert_int_equal(smtp_proto_cmd_parse(s, (size_t)n, 0, &c), -1);
	assert_string_equal(c.err.text, "Invalid ENVID value");
	/* AUTH=: 500 (RFC 4954 §5). */
	n = snprintf(s, sizeof(s), "MAIL FROM:<a@b> AUTH=%0500d", 0);
	assert_int_equal(smtp_proto_cmd_parse(s, (size_t)n, 0, &c), 0);
	assert_int_equal(strlen(c.params.auth), 500);
	n = snprintf(s, sizeof(s), "MAIL FROM:<a@b> AUTH=%0501d", 0);
	assert_int_equal(smtp_proto_cmd_parse(s, (size_t)n, 0, &c), -1);
	assert_string_equal(c.err.text, "Invalid AUTH value");
	/* ORCPT addr-type: 32. */
	n = snprintf(s, sizeof(s), "RCPT TO:<a@b> ORCPT=%032d;x", 0);
	assert_int_equal(smtp_proto_cmd_parse(s, (size_t)n, 0, &c), 0);
	assert_int_equal(strlen(c.params.orcpt_type), 32);
	/* SIZE: 20 digits. */
	n = snprintf(s, sizeof(s), "MAIL FROM:<a@b> SIZE=%020d", 9);
	assert_int_equal(smtp_proto_cmd_parse(s, (size_t)n, 0, &c), 0);
	assert_int_equal(c.params.size, 9);
	/* A path at its limit inside MAIL; one octet more is too long. */
	n = snprintf(s, sizeof(s), "MAIL FROM:<%064d@%050d.%050d.%050d.%036d>",
	    0, 0, 0, 0, 0);
	assert_int_equal(smtp_proto_cmd_parse(s, (size_t)n, 0, &c), 0);
	n = snprintf(s, sizeof(s), "MAIL FROM:<%064d@%050d.%050d.%050d.%037d>",
	    0, 0, 0, 0, 0);
	assert_int_equal(smtp_proto_cmd_parse(s, (size_t)n, 0, &c), -1);
	assert_string_equal(c.err.text, "Sender path too long");
	n = snprintf(s, sizeof(s), "RCPT TO:<%065d@b>", 0);
	assert_int_equal(smtp_proto_cmd_parse(s, (size_t)n, 0, &c), -1);
	assert_string_equal(c.err.text, "Recipient local part too long");
	assert_string_equal(c.err.enh, "5.1.3");
	n = snprintf(s, sizeof(s), "RCPT TO:<a@%064d>", 0);
	assert_int_equal(smtp_proto_cmd_parse(s, (size_t)n, 0, &c), -1);
	assert_string_equal(c.err.text, "Recipient domain label too long");
	/* AUTH may be longer than 512 (RFC 4954 §4), up to our 2048. */
	assert_true(sizeof(s) >= SMTP_CMD_PARAM_LINE_MAX + 4);
	memset(s, 'Q', sizeof(s));
	memcpy(s, "AUTH PLAIN ", 11);
	assert_int_equal(smtp_proto_cmd_parse(s, 11 + 1032, 0, &c), 0);
	assert_int_equal(strlen(c.arg), 1032);
	assert_int_equal(smtp_proto_cmd_parse(s, 11 + 2032, 0, &c), 0);
	assert_int_equal(smtp_proto_cmd_parse(s, 11 + 2036, 0, &c), -1);
	assert_string_equal(c.err.text, "Line too long");
	assert_string_equal(c.err.text, "Line too long");
}

/* A failed parse leaves no half-filled fields behind. */
static void
test_cmd_cleared(void **state)
{
	struct smtp_cmd	 c;
	const char	*s = "MAIL FROM:<a@b> SIZE=10 FOO";

	memset(&c, 'x', sizeof(c));
	assert_int_equal(smtp_proto_cmd_parse("QUIT", 4, 0, &c), 0);
	assert_string_equal(c.arg, "");
	assert_int_equal(c.params.seen, 0);
	assert_int_equal(smtp_proto_cmd_parse(s, strlen(s), 0, &c), -1);
	assert_int_equal(c.err.code, 555);
	assert_int_equal(c.verb, SMTP_VERB_MAIL);
}

static void
test_cmd_format(void **state)
{
	struct smtp_cmd	 c;
	struct buf	 b;

	memset(&c, 0, sizeof(c));
	buf_init(&b, 64);
	assert_int_equal(smtp_proto_cmd_format(&b, &c), -1);	/* UNKNOWN */
	c.verb = SMTP_VERB_MAIL;
	c.path.null = true;
	c.params.seen = SMTP_PARAM_SIZE | SMTP_PARAM_RET;
	c.params.size = 5;
	c.params.ret = SMTP_RET_FULL;
	assert_int_equal(smtp_proto_cmd_format(&b, &c), 0);
	assert_string_equal(buf_cstr(&b), "MAIL FROM:<> SIZE=5 RET=FULL");
	buf_clear(&b);
	/* All or nothing at the buffer's maximum. */
	buf_init(&b, 10);
	assert_int_equal(smtp_proto_cmd_format(&b, &c), -1);
	assert_int_equal(b.len, 0);
	c.verb = SMTP_VERB_QUIT;
	assert_int_equal(smtp_proto_cmd_format(&b, &c), 0);
	assert_string_equal(buf_cstr(&b), "QUIT");
	buf_clear(&b);
	/* Too long for the verb's line limit. */
	buf_init(&b, 4096);
	memset(&c, 0, sizeof(c));
	c.verb = SMTP_VERB_NOOP;
	memset(c.arg, 'x', 506);
	assert_int_equal(smtp_proto_cmd_format(&b, &c), -1);
	c.arg[505] = '\0';
	assert_int_equal(smtp_proto_cmd_format(&b, &c), 0);
	assert_int_equal(b.len, 510);
	buf_clear(&b);
}

/* ---- reply formatting ---- */

struct fmt_case {
	unsigned	 code;
	const char	*enh;
	const char	*text;
	const char	*out;		/* NULL: -1 */
};

static const struct fmt_case fmt_cases[] = {
	{ 250, "2.0.0", "OK", "250 2.0.0 OK\r\n" },
	{ 250, NULL, "OK", "250 OK\r\n" },
	{ 250, NULL, "", "250\r\n" },
	{ 250, "2.1.5", "", "250 2.1.5\r\n" },
	{ 220, NULL, "mx.example ESMTP", "220 mx.example ESMTP\r\n" },
	{ 250, NULL, "mx.example\nPIPELINING\nSIZE 1000\n8BITMIME",
	    "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
	    "250 8BITMIME\r\n" },
	{ 550, "5.7.1", "line one\nline two",
	    "550-5.7.1 line one\r\n550 5.7.1 line two\r\n" },
	{ 250, NULL, "a\n", "250-a\r\n250\r\n" },
	{ 250, NULL, "\n", "250-\r\n250\r\n" },
	{ 250, "2.0.0", "\n", "250-2.0.0\r\n250 2.0.0\r\n" },
	{ 421, "4.3.2", "Shutting down", "421 4.3.2 Shutting down\r\n" },
	{ 554, "5.3.4", "x", "554 5.3.4 x\r\n" },
	{ 200, "2.999.999", "x", "200 2.999.999 x\r\n" },
	{ 199, NULL, "x", NULL },
	{ 560, NULL, "x", NULL },
	{ 600, NULL, "x", NULL },
	{ 260, NULL, "x", NULL },		/* second digit 0-5 */
	{ 250, "5.0.0", "x", NULL },		/* class mismatch */
	{ 550, "4.0.0", "x", NULL },
	{ 250, "2.0", "x", NULL },
	{ 250, "2.0.0 ", "x", NULL },
	{ 250, "2.0.0x", "x", NULL },
	{ 250, "2.1000.0", "x", NULL },
	{ 250, "3.0.0", "x", NULL },
	{ 250, "", "x", NULL },
	{ 250, NULL, "a\rb", NULL },
	{ 250, NULL, "a\r\nb", NULL },
};

static void
test_reply_format(void **state)
{
	const struct fmt_case	*t;
	struct buf		 b;
	struct smtp_error	 e = { 501, "5.5.4", "Syntax" };
	char			 text[600];
	size_t			 i;

	buf_init(&b, 4096);
	for (i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		t = &fmt_cases[i];
		buf_reset(&b);
		assert_int_equal(buf_add_str(&b, "pre"), 0);
		if (t->out == NULL) {
			if (smtp_proto_reply_format(&b, t->code, t->enh,
			    t->text) != -1)
				fail_msg("format case %zu", i);
			assert_string_equal(buf_cstr(&b), "pre");
			continue;
		}
		if (smtp_proto_reply_format(&b, t->code, t->enh,
		    t->text) != 0)
			fail_msg("format case %zu", i);
		assert_string_equal(buf_cstr(&b) + 3, t->out);
	}
	buf_reset(&b);
	assert_int_equal(smtp_proto_reply_error(&b, &e), 0);
	assert_string_equal(buf_cstr(&b), "501 5.5.4 Syntax\r\n");
	/* 512 octets per line with CRLF (RFC 5321 §4.5.3.1.5). */
	memset(text, 'x', sizeof(text));
	text[506] = '\0';
	buf_reset(&b);
	assert_int_equal(smtp_proto_reply_format(&b, 250, NULL, text), 0);
	assert_int_equal(b.len, 512);
	text[506] = 'x';
	text[507] = '\0';
	assert_int_equal(smtp_proto_reply_format(&b, 250, NULL, text), -1);
	text[500] = '\0';
	assert_int_equal(smtp_proto_reply_format(&b, 250, "2.0.0", text), 0);
	text[500] = 'x';
	text[501] = '\0';
	assert_int_equal(smtp_proto_reply_format(&b, 250, "2.0.0", text), -1);
	buf_clear(&b);
	/* The buffer's maximum: nothing is added. */
	buf_init(&b, 10);
	assert_int_equal(smtp_proto_reply_format(&b, 250, NULL, "1234"), 0);
	assert_int_equal(smtp_proto_reply_format(&b, 250, NULL, "x"), -1);
	assert_int_equal(b.len, 10);
	buf_clear(&b);
}

/* ---- the reply parser ---- */

struct want_reply {
	unsigned	 code;
	int		 enh[3];	/* enh[0] == 0: none */
	size_t		 nlines;
	const char	*text;
};

struct reply_case {
	const char		*in;
	size_t			 len;		/* 0: strlen */
	size_t			 n;		/* replies */
	struct want_reply	 want[4];
	const char		*err;	/* after the replies; NULL: MORE */
};

static const struct reply_case reply_cases[] = {
	{ "220 mx.example ESMTP ready\r\n", 0, 1,
	    { { 220, { 0 }, 1, "mx.example ESMTP ready" } }, NULL },
	{ "220\r\n", 0, 1, { { 220, { 0 }, 1, "" } }, NULL },
	{ "220 \r\n", 0, 1, { { 220, { 0 }, 1, "" } }, NULL },
	{ "250 OK\n", 0, 1, { { 250, { 0 }, 1, "OK" } }, NULL },
	{ "250-a\n250-b\r\n250 c\n", 0, 1, { { 250, { 0 }, 3, "a\nb\nc" } },
	    NULL },
	{ "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
	    "250 8BITMIME\r\n", 0, 1, { { 250, { 0 }, 4,
	    "mx.example\nPIPELINING\nSIZE 10240000\n8BITMIME" } }, NULL },
	{ "250 2.1.0 Sender ok\r\n", 0, 1,
	    { { 250, { 2, 1, 0 }, 1, "Sender ok" } }, NULL },
	{ "550-5.7.1 No\r\n550 5.7.1 Way\r\n", 0, 1,
	    { { 550, { 5, 7, 1 }, 2, "No\nWay" } }, NULL },
	{ "550-5.7.1 No\r\n550 Way\r\n", 0, 1,
	    { { 550, { 5, 7, 1 }, 2, "No\nWay" } }, NULL },
	{ "550-No\r\n550 5.7.1 Way\r\n", 0, 1,
	    { { 550, { 0 }, 2, "No\n5.7.1 Way" } }, NULL },
	{ "550-5.7.1 No\r\n550 4.7.1 Way\r\n", 0, 1,
	    { { 550, { 5, 7, 1 }, 2, "No\n4.7.1 Way" } }, NULL },
	{ "550-5.7.1 No\r\n550 5.1.1 Way\r\n", 0, 1,
	    { { 550, { 5, 7, 1 }, 2, "No\nWay" } }, NULL },
	{ "250 5.0.0 mismatch\r\n", 0, 1,
	    { { 250, { 0 }, 1, "5.0.0 mismatch" } }, NULL },
	{ "452 4.5.3 Too many recipients\r\n", 0, 1,
	    { { 452, { 4, 5, 3 }, 1, "Too many recipients" } }, NULL },
	{ "250 2.0.0\r\n", 0, 1, { { 250, { 2, 0, 0 }, 1, "" } }, NULL },
	{ "250 2.0.0x\r\n", 0, 1, { { 250, { 0 }, 1, "2.0.0x" } }, NULL },
	{ "250 2.0\r\n", 0, 1, { { 250, { 0 }, 1, "2.0" } }, NULL },
	{ "250 2.0.1000 x\r\n", 0, 1, { { 250, { 0 }, 1, "2.0.1000 x" } },
	    NULL },
	{ "250 2.100.999 x\r\n", 0, 1, { { 250, { 2, 100, 999 }, 1, "x" } },
	    NULL },
	{ "250 2.0.0  two spaces\r\n", 0, 1,
	    { { 250, { 2, 0, 0 }, 1, " two spaces" } }, NULL },
	{ "250-\r\n250\r\n", 0, 1, { { 250, { 0 }, 2, "\n" } }, NULL },
	{ "250 tab\there \x01 \xff ok\r\n", 0, 1,
	    { { 250, { 0 }, 1, "tab\there \x01 \xff ok" } }, NULL },
	/* Pipelined replies come out one at a time. */
	{ "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n", 0, 3,
	    { { 250, { 2, 1, 0 }, 1, "ok" }, { 250, { 2, 1, 5 }, 1, "ok" },
	    { 354, { 0 }, 1, "go" } }, NULL },
	{ "250-a\r\n250 b\r\n550 c\r\n", 0, 2,
	    { { 250, { 0 }, 2, "a\nb" }, { 550, { 0 }, 1, "c" } }, NULL },
	/* Incomplete input. */
	{ "", 0, 0, { { 0 } }, NULL },
	{ "250", 0, 0, { { 0 } }, NULL },
	{ "250 OK\r", 0, 0, { { 0 } }, NULL },
	{ "250-a\r\n", 0, 0, { { 0 } }, NULL },
	{ "250 OK\r\n250-a\r\n25", 0, 1, { { 250, { 0 }, 1, "OK" } }, NULL },
	/* Errors. */
	{ "22X OK\r\n", 0, 0, { { 0 } }, "bad reply code" },
	{ "220OK\r\n", 0, 0, { { 0 } }, "bad reply separator" },
	{ "220_OK\r\n", 0, 0, { { 0 } }, "bad reply separator" },
	{ "20\r\n", 0, 0, { { 0 } }, "bad reply code" },
	{ "\r\n", 0, 0, { { 0 } }, "bad reply code" },
	{ "\n", 0, 0, { { 0 } }, "bad reply code" },
	{ " 250 OK\r\n", 0, 0, { { 0 } }, "bad reply code" },
	{ "100 Continue\r\n", 0, 0, { { 0 } }, "bad reply code" },
	{ "199 x\r\n", 0, 0, { { 0 } }, "bad reply code" },
	{ "600 x\r\n", 0, 0, { { 0 } }, "bad reply code" },
	{ "699 x\r\n", 0, 0, { { 0 } }, "bad reply code" },
	{ "260 x\r\n", 0, 0, { { 0 } }, "bad reply code" },
	{ "200-This is\r\n250 inconsistent\r\n", 0, 0, { { 0 } },
	    "reply code changed within a reply" },
	{ "400 This \r is wrong\r\n", 0, 0, { { 0 } }, "bare CR in reply" },
	{ "400 Interrupted\r\r\n", 0, 0, { { 0 } }, "bare CR in reply" },
	{ "250 a\0b\r\n", 9, 0, { { 0 } }, "NUL in reply" },
	{ "250 ok\r\n\0", 9, 1, { { 250, { 0 }, 1, "ok" } }, "NUL in reply" },
	{ "250 ok\r\nXYZ\r\n", 0, 1, { { 250, { 0 }, 1, "ok" } },
	    "bad reply code" },
};

/*
 * Feed in chunks of the given sizes (cycled); after a reply, the rest of
 * the chunk goes in again.  Check the replies against the case.
 */
static void
run_reply(const struct reply_case *t, const size_t *chunks, size_t nchunks)
{
	struct smtp_reply_parser	*p = smtp_proto_reply_parser_new();
	const struct smtp_reply		*r;
	const struct want_reply		*w;
	enum smtp_parse_result		 res = SMTP_PARSE_MORE;
	const char			*err = NULL, *in = t->in;
	size_t				 len = t->len != 0 ? t->len :
					    strlen(t->in);
	size_t				 got = 0, off = 0, k = 0, cur = 0;
	size_t				 used;

	while (off < len) {
		if (cur == 0) {
			cur = chunks[k++ % nchunks];
			if (cur > len - off)
				cur = len - off;
		}
		res = smtp_proto_reply_parse(p, in + off, cur, &used, &r, &err);
		assert_true(used <= cur);
		if (res == SMTP_PARSE_MORE)
			assert_int_equal(used, cur);
		off += used;
		cur -= used;
		if (res == SMTP_PARSE_MORE)
			continue;
		if (res == SMTP_PARSE_ERR)
			break;
		if (got >= t->n)
			fail_msg("extra reply from \"%s\"", t->in);
		w = &t->want[got++];
		assert_int_equal(r->code, w->code);
		assert_int_equal(r->has_enh, w->enh[0] != 0);
		if (w->enh[0] != 0) {
			assert_int_equal(r->enh[0], w->enh[0]);
			assert_int_equal(r->enh[1], w->enh[1]);
			assert_int_equal(r->enh[2], w->enh[2]);
		}
		assert_int_equal(r->nlines, w->nlines);
		assert_int_equal(r->text_len, strlen(w->text));
		assert_memory_equal(r->text, w->text, r->text_len);
		assert_int_equal(r->text[r->text_len], '\0');
	}
	assert_int_equal(got, t->n);
	if (t->err == NULL) {
		assert_int_not_equal(res, SMTP_PARSE_ERR);
		assert_int_equal(off, len);
	} else {
		assert_int_equal(res, SMTP_PARSE_ERR);
		assert_string_equal(err, t->err);
		/* Sticky. */
		err = NULL;
		assert_int_equal(smtp_proto_reply_parse(p, "250 ok\r\n", 8,
		    &used, &r, &err), SMTP_PARSE_ERR);
		assert_int_equal(used, 0);
		assert_string_equal(err, t->err);
	}
	smtp_proto_reply_parser_free(&p);
	assert_null(p);
}

static void
test_reply_parse(void **state)
{
	static const size_t	 whole[] = { 1 << 20 }, one[] = { 1 },
				 two[] = { 2 }, odd[] = { 3, 1, 7, 2, 5 };
	size_t			 i;

	for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		run_reply(&reply_cases[i], whole, 1);
		run_reply(&reply_cases[i], one, 1);
		run_reply(&reply_cases[i], two, 1);
		run_reply(&reply_cases[i], odd, 5);
	}
}

static void
test_reply_free_null(void **state)
{
	struct smtp_reply_parser	*p = NULL;

	smtp_proto_reply_parser_free(&p);
	assert_null(p);
}

/* Limits: 2048 octets per line with CRLF, 100 lines. */
static void
test_reply_limits(void **state)
{
	struct smtp_reply_parser	*p;
	const struct smtp_reply		*r;
	const char			*err;
	char				*s = malloc(8192);
	struct buf			 b;
	size_t				 used, i;

	assert_non_null(s);
	/* 2046 octets + CRLF: fine; with a bare LF too. */
	memset(s, 'x', 8192);
	memcpy(s, "250 ", 4);
	memcpy(s + 2046, "\r\n", 2);
	p = smtp_proto_reply_parser_new();
	assert_int_equal(smtp_proto_reply_parse(p, s, 2048, &used, &r, &err),
	    SMTP_PARSE_OK);
	assert_int_equal(r->text_len, 2042);
	s[2046] = '\n';
	assert_int_equal(smtp_proto_reply_parse(p, s, 2047, &used, &r, &err),
	    SMTP_PARSE_OK);
	/* 2047 octets before the CRLF: too long, at the 2047th. */
	memset(s + 4, 'x', 2043);
	memcpy(s + 2047, "\r\n", 2);
	assert_int_equal(smtp_proto_reply_parse(p, s, 2049, &used, &r, &err),
	    SMTP_PARSE_ERR);
	assert_string_equal(err, "reply line too long");
	assert_int_equal(used, 2047);
	smtp_proto_reply_parser_free(&p);

	/* 100 lines: fine; 101: not. */
	buf_init(&b, 1 << 20);
	for (i = 0; i < 99; i++)
		assert_int_equal(buf_printf(&b, "250-line %zu\r\n", i), 0);
	assert_int_equal(buf_printf(&b, "250 last\r\n"), 0);
	p = smtp_proto_reply_parser_new();
	assert_int_equal(smtp_proto_reply_parse(p, BUF_DATA(&b), b.len, &used,
	    &r, &err), SMTP_PARSE_OK);
	assert_int_equal(r->nlines, 100);
	assert_int_equal(used, b.len);
	buf_reset(&b);
	for (i = 0; i < 100; i++)
		assert_int_equal(buf_printf(&b, "250-line %zu\r\n", i), 0);
	assert_int_equal(buf_printf(&b, "250 last\r\n"), 0);
	assert_int_equal(smtp_proto_reply_parse(p, BUF_DATA(&b), b.len, &used,
	    &r, &err), SMTP_PARSE_ERR);
	assert_string_equal(err, "too many reply lines");
	smtp_proto_reply_parser_free(&p);

	/* The largest reply: 100 lines of 2046 octets, all kept. */
	buf_reset(&b);
	memset(s, 'y', 8192);
	for (i = 0; i < 100; i++) {
		assert_int_equal(buf_printf(&b, "250%c%.*s\r\n", i < 99 ? '-' :
		    ' ', 2042, s), 0);
	}
	p = smtp_proto_reply_parser_new();
	assert_int_equal(smtp_proto_reply_parse(p, BUF_DATA(&b), b.len, &used,
	    &r, &err), SMTP_PARSE_OK);
	assert_int_equal(r->text_len, 100 * 2042 + 99);
	smtp_proto_reply_parser_free(&p);
	buf_clear(&b);
	free(s);
}

/* Lines of a reply in progress survive across calls; replies do not. */
static void
test_reply_state(void **state)
{
	struct smtp_reply_parser	*p = smtp_proto_reply_parser_new();
	const struct smtp_reply		*r;
	const char			*err;
	size_t				 used;

	assert_int_equal(smtp_proto_reply_parse(p, "250-a\r\n250-", 11, &used,
	    &r, &err), SMTP_PARSE_MORE);
	assert_int_equal(used, 11);
	assert_int_equal(smtp_proto_reply_parse(p, "b\r", 2, &used, &r, &err),
	    SMTP_PARSE_MORE);
	assert_int_equal(smtp_proto_reply_parse(p, "\n250 c\r\n220 x\r\n", 15,
	    &used, &r, &err), SMTP_PARSE_OK);
	assert_int_equal(used, 8);
	assert_string_equal(r->text, "a\nb\nc");
	assert_int_equal(smtp_proto_reply_parse(p, "220 x\r\n", 7, &used, &r,
	    &err), SMTP_PARSE_OK);
	assert_int_equal(r->code, 220);
	assert_int_equal(r->nlines, 1);
	assert_string_equal(r->text, "x");
	assert_int_equal(smtp_proto_reply_parse(p, "", 0, &used, &r, &err),
	    SMTP_PARSE_MORE);
	assert_int_equal(used, 0);
	smtp_proto_reply_parser_free(&p);
}

/* ---- EHLO capabilities ---- */

struct caps_case {
	const char	*reply;
	int		 ret;
	unsigned	 flags;
	uint64_t	 size;
	const char	*auth;
};

static const struct caps_case caps_cases[] = {
	{ "250-mx.example Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
	    "250-8BITMIME\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250-CHUNKING\r\n"
	    "250-BINARYMIME\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n"
	    "250 AUTH PLAIN LOGIN\r\n", 0,
	    SMTP_CAP_PIPELINING | SMTP_CAP_SIZE | SMTP_CAP_8BITMIME |
	    SMTP_CAP_SMTPUTF8 | SMTP_CAP_STARTTLS | SMTP_CAP_CHUNKING |
	    SMTP_CAP_BINARYMIME | SMTP_CAP_DSN |
	    SMTP_CAP_ENHANCEDSTATUSCODES | SMTP_CAP_AUTH, 10240000,
	    "PLAIN LOGIN" },
	{ "250 mx.example\r\n", 0, 0, 0, "" },
	/* The greeting line is not a keyword. */
	{ "250-PIPELINING\r\n250 8BITMIME\r\n", 0, SMTP_CAP_8BITMIME, 0, "" },
	{ "250-x\r\n250-pipelining\r\n250 size\r\n", 0,
	    SMTP_CAP_PIPELINING | SMTP_CAP_SIZE, 0, "" },
	{ "250-x\r\n250 SIZE 0\r\n", 0, SMTP_CAP_SIZE, 0, "" },
	{ "250-x\r\n250 SIZE abc\r\n", 0, SMTP_CAP_SIZE, 0, "" },
	{ "250-x\r\n250 SIZE 99999999999999999999999\r\n", 0, SMTP_CAP_SIZE,
	    0, "" },
	{ "250-x\r\n250 SIZE  52428800 extra\r\n", 0, SMTP_CAP_SIZE, 52428800,
	    "" },
	{ "250-x\r\n250 SIZEX 5\r\n", 0, 0, 0, "" },
	{ "250-x\r\n250-AUTH=PLAIN LOGIN\r\n250 AUTH LOGIN CRAM-MD5\r\n", 0,
	    SMTP_CAP_AUTH, 0, "PLAIN LOGIN CRAM-MD5" },
	{ "250-x\r\n250 auth plain scram-sha-256 bad!mech "
	    "TOOLONGMECHANISMNAMEXX XOAUTH2\r\n", 0, SMTP_CAP_AUTH, 0,
	    "PLAIN SCRAM-SHA-256 XOAUTH2" },
	{ "250-x\r\n250 AUTH\r\n", 0, SMTP_CAP_AUTH, 0, "" },
	{ "250-x\r\n250-XFOO bar\r\n250-X-EXPS GSSAPI\r\n250 HELP\r\n", 0, 0,
	    0, "" },
	{ "250-x\r\n250 STARTTLS \r\n", 0, SMTP_CAP_STARTTLS, 0, "" },
	{ "250 2.0.0 x\r\n", 0, 0, 0, "" },
	{ "502 5.5.1 no EHLO\r\n", -1, 0, 0, "" },
	{ "220-x\r\n220 PIPELINING\r\n", -1, 0, 0, "" },
};

static void
test_caps(void **state)
{
	const struct caps_case		*t;
	struct smtp_reply_parser	*p;
	const struct smtp_reply		*r;
	const char			*err;
	struct smtp_caps		 c;
	size_t				 used, i;

	for (i = 0; i < sizeof(caps_cases) / sizeof(caps_cases[0]); i++) {
		t = &caps_cases[i];
		p = smtp_proto_reply_parser_new();
		assert_int_equal(smtp_proto_reply_parse(p, t->reply,
		    strlen(t->reply), &used, &r, &err), SMTP_PARSE_OK);
		memset(&c, 'x', sizeof(c));
		assert_int_equal(smtp_proto_caps_parse(r, &c), t->ret);
		if (c.flags != t->flags)
			fail_msg("caps case %zu: flags %#x", i, c.flags);
		assert_int_equal(c.size, t->size);
		assert_string_equal(c.auth, t->auth);
		smtp_proto_reply_parser_free(&p);
	}
}

static void
test_caps_auth(void **state)
{
	struct smtp_reply	 r = { .code = 250, .nlines = 2 };
	struct smtp_caps	 c;
	struct buf		 b;
	size_t			 i;

	r.text = "x\nAUTH PLAIN LOGIN SCRAM-SHA-1";
	r.text_len = strlen(r.text);
	assert_int_equal(smtp_proto_caps_parse(&r, &c), 0);
	assert_true(smtp_proto_caps_has_auth(&c, "PLAIN"));
	assert_true(smtp_proto_caps_has_auth(&c, "plain"));
	assert_true(smtp_proto_caps_has_auth(&c, "SCRAM-SHA-1"));
	assert_false(smtp_proto_caps_has_auth(&c, "SCRAM-SHA"));
	assert_false(smtp_proto_caps_has_auth(&c, "PLAI"));
	assert_false(smtp_proto_caps_has_auth(&c, "LOGIN SCRAM"));
	assert_false(smtp_proto_caps_has_auth(&c, ""));
	assert_false(smtp_proto_caps_has_auth(&c, "XOAUTH2"));
	/* The list is bounded: later names are dropped, not cut. */
	buf_init(&b, 8192);
	assert_int_equal(buf_add_str(&b, "x\nAUTH"), 0);
	for (i = 0; i < 40; i++)
		assert_int_equal(buf_printf(&b, " MECHANISM-%02zu", i), 0);
	r.text = buf_cstr(&b);
	r.text_len = b.len;
	assert_int_equal(smtp_proto_caps_parse(&r, &c), 0);
	assert_true(strlen(c.auth) < sizeof(c.auth));
	assert_true(smtp_proto_caps_has_auth(&c, "MECHANISM-00"));
	assert_true(smtp_proto_caps_has_auth(&c, "MECHANISM-18"));
	assert_false(smtp_proto_caps_has_auth(&c, "MECHANISM-19"));
	assert_false(smtp_proto_caps_has_auth(&c, "MECHANISM-39"));
	assert_int_equal(strlen(c.auth) % 13, 12);
	buf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_ok),
		cmocka_unit_test(test_cmd_bad),
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_cmd_limits),
		cmocka_unit_test(test_param_limits),
		cmocka_unit_test(test_cmd_cleared),
		cmocka_unit_test(test_cmd_format),
		cmocka_unit_test(test_reply_format),
		cmocka_unit_test(test_reply_parse),
		cmocka_unit_test(test_reply_free_null),
		cmocka_unit_test(test_reply_limits),
		cmocka_unit_test(test_reply_state),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_caps_auth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
