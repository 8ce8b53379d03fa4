/*
 * smtp_proto — SMTP command lines and EHLO capabilities (smtp_proto.h);
 * replies are in smtp_proto_reply.c.
 *
 * Commands: a cursor over the line, one function per verb, and a table of
 * MAIL/RCPT parameters.  Every error is a static struct smtp_error, so a
 * failed parse costs nothing and the reply is one copy away.  The
 * formatter is the parser's inverse, for the client side.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <ctype.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "smtp_proto.h"

struct cmd_scan {
	const char		*s;
	size_t			 pos;
	size_t			 end;	/* trailing SP trimmed */
	int			 flags;
	struct smtp_cmd		*cmd;
};

static const struct smtp_error
    err_line_long = { 500, "5.5.2", "Line too long" },
    err_bad_char = { 500, "5.5.2", "Invalid character in command" },
    err_unknown = { 500, "5.5.1", "Command unrecognized" },
    err_no_args = { 501, "5.5.4", "No parameters allowed" },
    err_ehlo = { 501, "5.5.4", "Syntax: EHLO hostname" },
    err_helo = { 501, "5.5.4", "Syntax: HELO hostname" },
    err_helo_name = { 501, "5.5.4", "Invalid domain name" },
    err_mail = { 501, "5.5.4", "Syntax: MAIL FROM:<address>" },
    err_rcpt = { 501, "5.5.4", "Syntax: RCPT TO:<address>" },
    err_bdat = { 501, "5.5.4", "Syntax: BDAT chunk-size [LAST]" },
    err_bdat_size = { 501, "5.5.4", "Invalid BDAT chunk size" },
    err_auth = { 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]" },
    err_auth_mech = { 501, "5.5.4", "Invalid AUTH mechanism" },
    err_base64 = { 501, "5.5.2", "Invalid base64 data" },
    err_vrfy = { 501, "5.5.4", "Syntax: VRFY string" },
    err_expn = { 501, "5.5.4", "Syntax: EXPN string" },
    err_param = { 501, "5.5.4", "Bad parameter syntax" },
    err_param_unknown = { 555, "5.5.4", "Unsupported parameter" },
    err_param_dup = { 501, "5.5.4", "Duplicate parameter" },
    err_size = { 501, "5.5.4", "Invalid SIZE value" },
    err_body = { 501, "5.5.4", "Invalid BODY value" },
    err_smtputf8 = { 501, "5.5.4", "SMTPUTF8 takes no value" },
    err_ret = { 501, "5.5.4", "Invalid RET value" },
    err_envid = { 501, "5.5.4", "Invalid ENVID value" },
    err_auth_param = { 501, "5.5.4", "Invalid AUTH value" },
    err_notify = { 501, "5.5.4", "Invalid NOTIFY value" },
    err_orcpt = { 501, "5.5.4", "Invalid ORCPT value" },
    err_mail_utf8 = { 550, "5.6.7",
	"Non-ASCII sender address needs SMTPUTF8" };

/* Path errors, RFC 3463: X.1.7 bad sender, X.1.3 bad recipient syntax. */
static const struct smtp_error
    err_mail_addr[] = {
	[ADDR_ERR_SYNTAX] = { 501, "5.1.7", "Bad sender address syntax" },
	[ADDR_ERR_NULL] = { 501, "5.1.7", "Null sender not allowed" },
	[ADDR_ERR_LOCAL_LONG] = { 501, "5.1.7", "Sender local part too long" },
	[ADDR_ERR_DOMAIN_LONG] = { 501, "5.1.7", "Sender domain too long" },
	[ADDR_ERR_LABEL_LONG] = { 501, "5.1.7",
	    "Sender domain label too long" },
	[ADDR_ERR_PATH_LONG] = { 501, "5.1.7", "Sender path too long" },
	[ADDR_ERR_LITERAL] = { 501, "5.1.7", "Bad sender address literal" },
	[ADDR_ERR_UTF8] = { 550, "5.6.7",
	    "Non-ASCII sender address needs SMTPUTF8" },
	[ADDR_ERR_BAD_UTF8] = { 501, "5.1.7",
	    "Invalid UTF-8 in sender address" },
    },
    err_rcpt_addr[] = {
	[ADDR_ERR_SYNTAX] = { 501, "5.1.3", "Bad recipient address syntax" },
	[ADDR_ERR_NULL] = { 501, "5.1.3", "Null recipient not allowed" },
	[ADDR_ERR_LOCAL_LONG] = { 501, "5.1.3",
	    "Recipient local part too long" },
	[ADDR_ERR_DOMAIN_LONG] = { 501, "5.1.3",
	    "Recipient domain too long" },
	[ADDR_ERR_LABEL_LONG] = { 501, "5.1.3",
	    "Recipient domain label too long" },
	[ADDR_ERR_PATH_LONG] = { 501, "5.1.3", "Recipient path too long" },
	[ADDR_ERR_LITERAL] = { 501, "5.1.3",
	    "Bad recipient address literal" },
	[ADDR_ERR_UTF8] = { 553, "5.6.7",
	    "Non-ASCII recipient address needs SMTPUTF8" },
	[ADDR_ERR_BAD_UTF8] = { 501, "5.1.3",
	    "Invalid UTF-8 in recipient address" },
    };

static int
cmd_fail(struct cmd_scan *cs, const struct smtp_error *err)
{
	cs->cmd->err = *err;
	return -1;
}

static int
ascii_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static bool
is_alnum(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

static bool
ascii_caseeq(const char *a, const char *b, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (ascii_upper((unsigned char)a[i]) !=
		    ascii_upper((unsigned char)b[i]))
			return false;
	return true;
}

/* Does s[0..n) equal the upper-case word w, ignoring case? */
static bool
word_eq(const char *s, size_t n, const char *w)
{
	size_t	 i;

	if (strlen(w) != n)
		return false;
	for (i = 0; i < n; i++)
		if (ascii_upper((unsigned char)s[i]) != w[i])
			return false;
	return true;
}

/* 1*DIGIT into a uint64 without overflow. */
static int
parse_u64(const char *s, size_t n, uint64_t *v_r)
{
	uint64_t	 v = 0;
	size_t		 i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*v_r = v;
	return 0;
}

static void
skip_sp(struct cmd_scan *cs)
{
	while (cs->pos < cs->end && cs->s[cs->pos] == ' ')
		cs->pos++;
}

/* Length of the token at the cursor (up to SP or the end). */
static size_t
token_len(const struct cmd_scan *cs)
{
	size_t	 i = cs->pos;

	while (i < cs->end && cs->s[i] != ' ')
		i++;
	return i - cs->pos;
}

static bool
at_end(const struct cmd_scan *cs)
{
	return cs->pos >= cs->end;
}

/* The rest of the line into cmd->arg (always fits: the line is shorter). */
static void
take_rest(struct cmd_scan *cs)
{
	size_t	 n = cs->end - cs->pos;

	memcpy(cs->cmd->arg, cs->s + cs->pos, n);
	cs->cmd->arg[n] = '\0';
	cs->pos = cs->end;
}

/* ---- MAIL and RCPT parameters (RFC 5321 §4.1.2 esmtp-param) ---- */

struct param_def {
	const char		*name;
	unsigned		 bit;
	enum smtp_verb		 verb;
	int			(*parse)(struct smtp_params *, const char *,
				    size_t);
	const struct smtp_error	*bad;
};

/* SIZE=1*20DIGIT (RFC 1870 §6). */
static int
param_size(struct smtp_params *p, const char *v, size_t n)
{
	return n > 20 ? -1 : parse_u64(v, n, &p->size);
}

/* BODY=7BIT / 8BITMIME (RFC 6152 §2) / BINARYMIME (RFC 3030 §3). */
static int
param_body(struct smtp_params *p, const char *v, size_t n)
{
	if (word_eq(v, n, "7BIT"))
		p->body = SMTP_BODY_7BIT;
	else if (word_eq(v, n, "8BITMIME"))
		p->body = SMTP_BODY_8BITMIME;
	else if (word_eq(v, n, "BINARYMIME"))
		p->body = SMTP_BODY_BINARYMIME;
	else
		return -1;
	return 0;
}

/* SMTPUTF8 takes no value (RFC 6531 §3.4). */
static int
param_smtputf8(struct smtp_params *p, const char *v, size_t n)
{
	return v == NULL ? 0 : -1;
}

/* RET=FULL / HDRS (RFC 3461 §4.3). */
static int
param_ret(struct smtp_params *p, const char *v, size_t n)
{
	if (word_eq(v, n, "FULL"))
		p->ret = SMTP_RET_FULL;
	else if (word_eq(v, n, "HDRS"))
		p->ret = SMTP_RET_HDRS;
	else
		return -1;
	return 0;
}

static int
copy_xtext(char *dst, size_t max, const char *v, size_t n)
{
	if (n == 0 || n > max || !addr_xtext_valid(v, n))
		return -1;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

/* ENVID=xtext, at most 100 characters (RFC 3461 §4.4). */
static int
param_envid(struct smtp_params *p, const char *v, size_t n)
{
	return copy_xtext(p->envid, SMTP_ENVID_MAX, v, n);
}

/* AUTH=xtext of a mailbox or "<>" (RFC 4954 §5). */
static int
param_auth(struct smtp_params *p, const char *v, size_t n)
{
	return copy_xtext(p->auth, SMTP_AUTH_PARAM_MAX, v, n);
}

/*
 * NOTIFY="NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) (RFC 3461
 * §4.1); NEVER only alone.
 */
static int
param_notify(struct smtp_params *p, const char *v, size_t n)
{
	const char	*comma;
	size_t		 k;

	if (word_eq(v, n, "NEVER")) {
		p->notify = SMTP_NOTIFY_NEVER;
		return 0;
	}
	for (;;) {
		comma = memchr(v, ',', n);
		k = comma != NULL ? (size_t)(comma - v) : n;
		if (word_eq(v, k, "SUCCESS"))
			p->notify |= SMTP_NOTIFY_SUCCESS;
		else if (word_eq(v, k, "FAILURE"))
			p->notify |= SMTP_NOTIFY_FAILURE;
		else if (word_eq(v, k, "DELAY"))
			p->notify |= SMTP_NOTIFY_DELAY;
		else
			return -1;
		if (comma == NULL)
			return 0;
		v += k + 1;
		n -= k + 1;
	}
}

/* addr-type is an atom: atext without "=" (no "=" in esmtp-value). */
static bool
is_atom_char(int c)
{
	return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-/?^_`{|}~",
	    c) != NULL);
}

/* ORCPT=addr-type ";" xtext (RFC 3461 §4.2), at most 500 characters. */
static int
param_orcpt(struct smtp_params *p, const char *v, size_t n)
{
	const char	*semi;
	size_t		 t, i;

	if (n > SMTP_ORCPT_MAX || (semi = memchr(v, ';', n)) == NULL)
		return -1;
	t = (size_t)(semi - v);
	if (t == 0 || t > SMTP_ORCPT_TYPE_MAX)
		return -1;
	for (i = 0; i < t; i++)
		if (!is_atom_char((unsigned char)v[i]))
			return -1;
	if (copy_xtext(p->orcpt, SMTP_ORCPT_MAX, semi + 1, n - t - 1) == -1)
		return -1;
	memcpy(p->orcpt_type, v, t);
	p->orcpt_type[t] = '\0';
	return 0;
}

static const struct param_def param_defs[] = {
	{ "SIZE", SMTP_PARAM_SIZE, SMTP_VERB_MAIL, param_size, &err_size },
	{ "BODY", SMTP_PARAM_BODY, SMTP_VERB_MAIL, param_body, &err_body },
	{ "SMTPUTF8", SMTP_PARAM_SMTPUTF8, SMTP_VERB_MAIL, param_smtputf8,
	    &err_smtputf8 },
	{ "RET", SMTP_PARAM_RET, SMTP_VERB_MAIL, param_ret, &err_ret },
	{ "ENVID", SMTP_PARAM_ENVID, SMTP_VERB_MAIL, param_envid,
	    &err_envid },
	{ "AUTH", SMTP_PARAM_AUTH, SMTP_VERB_MAIL, param_auth,
	    &err_auth_param },
	{ "NOTIFY", SMTP_PARAM_NOTIFY, SMTP_VERB_RCPT, param_notify,
	    &err_notify },
	{ "ORCPT", SMTP_PARAM_ORCPT, SMTP_VERB_RCPT, param_orcpt,
	    &err_orcpt },
};

static const struct param_def *
param_find(const char *kw, size_t n, enum smtp_verb verb)
{
	size_t	 i;

	for (i = 0; i < sizeof(param_defs) / sizeof(param_defs[0]); i++)
		if (param_defs[i].verb == verb &&
		    word_eq(kw, n, param_defs[i].name))
			return &param_defs[i];
	return NULL;
}

/*
 * esmtp-value = 1*(%d33-60 / %d62-126), and UTF8-non-ascii (RFC 6531
 * §3.3); returns its length, 0 when there is none or it is malformed.
 */
static size_t
scan_value(const struct cmd_scan *cs)
{
	size_t	 i = cs->pos;
	int	 c;

	while (i < cs->end && (c = (unsigned char)cs->s[i]) != ' ') {
		if (c < 33 || c == '=' || c == 127)
			return 0;
		i++;
	}
	if (!addr_utf8_valid(cs->s + cs->pos, i - cs->pos))
		return 0;
	return i - cs->pos;
}

/* esmtp-param = esmtp-keyword ["=" esmtp-value] */
static int
parse_param(struct cmd_scan *cs)
{
	const struct param_def	*def;
	const char		*kw = cs->s + cs->pos, *v = NULL;
	size_t			 kn = 0, vn = 0;
	struct smtp_params	*p = &cs->cmd->params;

	/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
	while (cs->pos < cs->end && (is_alnum((unsigned char)kw[kn]) ||
	    (kn > 0 && kw[kn] == '-'))) {
		kn++;
		cs->pos++;
	}
	if (kn == 0)
		return cmd_fail(cs, &err_param);
	if (!at_end(cs) && cs->s[cs->pos] == '=') {
		cs->pos++;
		v = cs->s + cs->pos;
		if ((vn = scan_value(cs)) == 0)
			return cmd_fail(cs, &err_param);
		cs->pos += vn;
	}
	if (!at_end(cs) && cs->s[cs->pos] != ' ')
		return cmd_fail(cs, &err_param);
	if ((def = param_find(kw, kn, cs->cmd->verb)) == NULL)
		return cmd_fail(cs, &err_param_unknown);
	if (p->seen & def->bit)
		return cmd_fail(cs, &err_param_dup);
	if ((v == NULL && def->bit != SMTP_PARAM_SMTPUTF8) ||
	    def->parse(p, v, vn) == -1)
		return cmd_fail(cs, def->bad);
	p->seen |= def->bit;
	return 0;
}

/* Mail-parameters = esmtp-param *(SP esmtp-param) (RFC 5321 §4.1.2). */
static int
parse_params(struct cmd_scan *cs)
{
	while (!at_end(cs)) {
		if (cs->s[cs->pos] != ' ')
			return cmd_fail(cs, &err_param);
		skip_sp(cs);
		if (parse_param(cs) == -1)
			return -1;
	}
	return 0;
}

/* ---- verbs ---- */

static int
parse_no_args(struct cmd_scan *cs)
{
	return at_end(cs) ? 0 : cmd_fail(cs, &err_no_args);
}

/*
 * A name that is not a valid Domain but is common in the wild ("my_host",
 * "-x.", "a..b"): hosts that send it are still real MTAs, and RFC 5321
 * 4.1.4 forbids refusing mail over the HELO name alone.  Only characters
 * that are safe in a Received: header are allowed.
 */
static bool
helo_lenient_ok(const char *s, size_t n)
{
	if (n > ADDR_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("-._", s[i]) == NULL)
			return false;
	return true;
}

/*
 * ehlo = "EHLO" SP ( Domain / address-literal ), helo = "HELO" SP Domain
 * (RFC 5321 §4.1.1.1); literals are taken for HELO too, names are ASCII
 * (RFC 6531 §3.7.1), and near-misses are taken as helo_lenient_ok says.
 */
static int
parse_helo(struct cmd_scan *cs)
{
	enum addr_domain_type	 type;
	enum addr_err		 aerr;
	size_t			 n = token_len(cs);

	if (n == 0)
		return cmd_fail(cs, cs->cmd->verb == SMTP_VERB_EHLO ?
		    &err_ehlo : &err_helo);
	if (cs->pos + n != cs->end ||
	    (addr_parse_domain(cs->s + cs->pos, n, 0, &type, &aerr) == -1 &&
	    !helo_lenient_ok(cs->s + cs->pos, n)))
		return cmd_fail(cs, &err_helo_name);
	take_rest(cs);
	return 0;
}

/* The path after "FROM:" / "TO:" and any SP run. */
static int
parse_path(struct cmd_scan *cs, int aflags, const struct smtp_error *tab)
{
	enum addr_err	 aerr;
	size_t		 used;

	skip_sp(cs);
	if (addr_parse_path(cs->s + cs->pos, cs->end - cs->pos, aflags,
	    &cs->cmd->path, &used, &aerr) == -1)
		return cmd_fail(cs, &tab[aerr]);
	cs->pos += used;
	return 0;
}

/* mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] (§4.1.1.2) */
static int
parse_mail(struct cmd_scan *cs)
{
	if (cs->end - cs->pos < 5 || !word_eq(cs->s + cs->pos, 5, "FROM:"))
		return cmd_fail(cs, &err_mail);
	cs->pos += 5;
	if (at_end(cs))
		return cmd_fail(cs, &err_mail);
	if (parse_path(cs, ADDR_F_NULL_OK | ADDR_F_UTF8, err_mail_addr) == -1 ||
	    parse_params(cs) == -1)
		return -1;
	/* Non-ASCII needs the SMTPUTF8 parameter (RFC 6531 §3.4, §3.5). */
	if (cs->cmd->path.utf8 &&
	    (cs->cmd->params.seen & SMTP_PARAM_SMTPUTF8) == 0)
		return cmd_fail(cs, &err_mail_utf8);
	return 0;
}

/*
 * rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
 * Forward-path ) [SP Rcpt-parameters] (RFC 5321 §4.1.1.3)
 */
static int
parse_rcpt(struct cmd_scan *cs)
{
	int	 aflags = ADDR_F_POSTMASTER_OK;

	if (cs->end - cs->pos < 3 || !word_eq(cs->s + cs->pos, 3, "TO:"))
		return cmd_fail(cs, &err_rcpt);
	cs->pos += 3;
	if (at_end(cs))
		return cmd_fail(cs, &err_rcpt);
	if (cs->flags & SMTP_PARSE_F_UTF8)
		aflags |= ADDR_F_UTF8;
	if (parse_path(cs, aflags, err_rcpt_addr) == -1)
		return -1;
	return parse_params(cs);
}

/* bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] (RFC 3030 §2) */
static int
parse_bdat(struct cmd_scan *cs)
{
	size_t	 n = token_len(cs);

	if (n == 0)
		return cmd_fail(cs, &err_bdat);
	if (parse_u64(cs->s + cs->pos, n, &cs->cmd->chunk_size) == -1)
		return cmd_fail(cs, &err_bdat_size);
	cs->pos += n;
	skip_sp(cs);
	if (at_end(cs))
		return 0;
	n = token_len(cs);
	if (!word_eq(cs->s + cs->pos, n, "LAST") || cs->pos + n != cs->end)
		return cmd_fail(cs, &err_bdat);
	cs->cmd->last = true;
	cs->pos = cs->end;
	return 0;
}

/* initial-response = base64 / "=" (RFC 4954 §4, RFC 4648 §4). */
static bool
is_base64(const char *s, size_t n)
{
	size_t	 i, pad = 0;

	if (n == 1 && s[0] == '=')
		return true;
	if (n == 0 || n % 4 != 0)
		return false;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	for (i = 0; i < n - pad; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '+' &&
		    s[i] != '/')
			return false;
	return true;
}

/* sasl-mech = 1*20(UPPER-ALPHA / DIGIT / "-" / "_") (RFC 4422 §3.1). */
static bool
is_sasl_mech(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || n > SMTP_SASL_MECH_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return false;
	return true;
}

/* auth = "AUTH" SP sasl-mech [SP initial-response] (RFC 4954 §4) */
static int
parse_auth(struct cmd_scan *cs)
{
	size_t	 n = token_len(cs), i;

	if (n == 0)
		return cmd_fail(cs, &err_auth);
	if (!is_sasl_mech(cs->s + cs->pos, n))
		return cmd_fail(cs, &err_auth_mech);
	for (i = 0; i < n; i++)
		cs->cmd->mech[i] = (char)ascii_upper(cs->s[cs->pos + i]);
	cs->cmd->mech[n] = '\0';
	cs->pos += n;
	skip_sp(cs);
	if (at_end(cs))
		return 0;
	n = token_len(cs);
	if (cs->pos + n != cs->end)
		return cmd_fail(cs, &err_auth);
	if (!is_base64(cs->s + cs->pos, n))
		return cmd_fail(cs, &err_base64);
	take_rest(cs);
	return 0;
}

/*
 * vrfy = "VRFY" SP String, expn = "EXPN" SP String (RFC 5321 §4.1.1.6,
 * §4.1.1.7), each with an optional SP "SMTPUTF8" (RFC 6531 §3.1 item 6).
 * The string is kept as sent.
 */
static int
parse_vrfy(struct cmd_scan *cs)
{
	const char	*sp;
	size_t		 n = cs->end - cs->pos, end;

	if (at_end(cs))
		return cmd_fail(cs, cs->cmd->verb == SMTP_VERB_VRFY ?
		    &err_vrfy : &err_expn);
	sp = memrchr(cs->s + cs->pos, ' ', n);
	if (sp != NULL && word_eq(sp + 1, (size_t)(cs->s + cs->end - sp - 1),
	    "SMTPUTF8")) {
		end = (size_t)(sp - cs->s);
		while (end > cs->pos && cs->s[end - 1] == ' ')
			end--;
		cs->end = end;
		cs->cmd->params.seen |= SMTP_PARAM_SMTPUTF8;
	}
	take_rest(cs);
	return 0;
}

/* HELP [ SP String ], NOOP [ SP String ] (RFC 5321 §4.1.1.8, §4.1.1.9) */
static int
parse_opt_string(struct cmd_scan *cs)
{
	take_rest(cs);
	return 0;
}

static const struct verb_def {
	const char	*name;
	enum smtp_verb	 verb;
	int		(*parse)(struct cmd_scan *);
} verb_defs[] = {
	{ "EHLO", SMTP_VERB_EHLO, parse_helo },
	{ "HELO", SMTP_VERB_HELO, parse_helo },
	{ "MAIL", SMTP_VERB_MAIL, parse_mail },
	{ "RCPT", SMTP_VERB_RCPT, parse_rcpt },
	{ "DATA", SMTP_VERB_DATA, parse_no_args },
	{ "BDAT", SMTP_VERB_BDAT, parse_bdat },
	{ "RSET", SMTP_VERB_RSET, parse_no_args },
	{ "NOOP", SMTP_VERB_NOOP, parse_opt_string },
	{ "QUIT", SMTP_VERB_QUIT, parse_no_args },
	{ "VRFY", SMTP_VERB_VRFY, parse_vrfy },
	{ "EXPN", SMTP_VERB_EXPN, parse_vrfy },
	{ "HELP", SMTP_VERB_HELP, parse_opt_string },
	/* RFC 3207 §4: STARTTLS takes no parameters. */
	{ "STARTTLS", SMTP_VERB_STARTTLS, parse_no_args },
	{ "AUTH", SMTP_VERB_AUTH, parse_auth },
};

#define NVERBS	(sizeof(verb_defs) / sizeof(verb_defs[0]))

static const struct verb_def *
verb_find(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < NVERBS; i++)
		if (word_eq(s, n, verb_defs[i].name))
			return &verb_defs[i];
	return NULL;
}

const char *
smtp_proto_verb_name(enum smtp_verb verb)
{
	size_t	 i;

	for (i = 0; i < NVERBS; i++)
		if (verb_defs[i].verb == verb)
			return verb_defs[i].name;
	return "UNKNOWN";
}

static bool
has_bad_char(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL || memchr(s, '\r', len) != NULL ||
	    memchr(s, '\n', len) != NULL;
}

int
smtp_proto_cmd_parse(const char *line, size_t len, int flags,
    struct smtp_cmd *cmd_r)
{
	struct cmd_scan		 cs = { line, 0, len, flags, cmd_r };
	const struct verb_def	*def;
	size_t			 n, max = SMTP_CMD_LINE_MAX - 2;

	memset(cmd_r, 0, sizeof(*cmd_r));
	if (len > SMTP_CMD_PARAM_LINE_MAX - 2)
		return cmd_fail(&cs, &err_line_long);
	if (has_bad_char(line, len))
		return cmd_fail(&cs, &err_bad_char);
	while (cs.end > 0 && line[cs.end - 1] == ' ')
		cs.end--;
	n = token_len(&cs);
	if ((def = verb_find(line, n)) == NULL)
		return cmd_fail(&cs, &err_unknown);
	cmd_r->verb = def->verb;
	if (def->verb == SMTP_VERB_MAIL || def->verb == SMTP_VERB_RCPT ||
	    def->verb == SMTP_VERB_AUTH)
		max = SMTP_CMD_PARAM_LINE_MAX - 2;
	if (len > max)
		return cmd_fail(&cs, &err_line_long);
	cs.pos = n;
	skip_sp(&cs);
	return def->parse(&cs);
}

/* ---- formatting commands (the client's side of the above) ---- */

struct line {
	char	 s[SMTP_CMD_PARAM_LINE_MAX];
	size_t	 n;
	bool	 over;
};

static void
line_add(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
line_add(struct line *l, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	if (l->over)
		return;
	va_start(ap, fmt);
	r = vsnprintf(l->s + l->n, sizeof(l->s) - l->n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(l->s) - l->n)
		l->over = true;
	else
		l->n += (size_t)r;
}

static const char *
body_name(enum smtp_body body)
{
	switch (body) {
	case SMTP_BODY_7BIT:
		return "7BIT";
	case SMTP_BODY_8BITMIME:
		return "8BITMIME";
	case SMTP_BODY_BINARYMIME:
		return "BINARYMIME";
	default:
		return "";
	}
}

static void
format_mail_params(struct line *l, const struct smtp_params *p)
{
	if (p->seen & SMTP_PARAM_SIZE)
		line_add(l, " SIZE=%" PRIu64, p->size);
	if (p->seen & SMTP_PARAM_BODY)
		line_add(l, " BODY=%s", body_name(p->body));
	if (p->seen & SMTP_PARAM_SMTPUTF8)
		line_add(l, " SMTPUTF8");
	if (p->seen & SMTP_PARAM_RET)
		line_add(l, " RET=%s", p->ret == SMTP_RET_HDRS ? "HDRS" :
		    "FULL");
	if (p->seen & SMTP_PARAM_ENVID)
		line_add(l, " ENVID=%s", p->envid);
	if (p->seen & SMTP_PARAM_AUTH)
		line_add(l, " AUTH=%s", p->auth);
}

static void
format_rcpt_params(struct line *l, const struct smtp_params *p)
{
	const char	*sep = "";

	if (p->seen & SMTP_PARAM_NOTIFY) {
		line_add(l, " NOTIFY=");
		if (p->notify & SMTP_NOTIFY_NEVER)
			line_add(l, "NEVER");
		if (p->notify & SMTP_NOTIFY_SUCCESS) {
			line_add(l, "SUCCESS");
			sep = ",";
		}
		if (p->notify & SMTP_NOTIFY_FAILURE) {
			line_add(l, "%sFAILURE", sep);
			sep = ",";
		}
		if (p->notify & SMTP_NOTIFY_DELAY)
			line_add(l, "%sDELAY", sep);
	}
	if (p->seen & SMTP_PARAM_ORCPT)
		line_add(l, " ORCPT=%s;%s", p->orcpt_type, p->orcpt);
}

static void
format_path(struct line *l, const char *prefix, const struct addr *a)
{
	char	 path[ADDR_FORMAT_SIZE];

	if (addr_format(a, path, sizeof(path)) == -1)
		l->over = true;
	line_add(l, "%s%s", prefix, path);
}

static void
format_args(struct line *l, const struct smtp_cmd *cmd)
{
	switch (cmd->verb) {
	case SMTP_VERB_EHLO:
	case SMTP_VERB_HELO:
	case SMTP_VERB_HELP:
	case SMTP_VERB_NOOP:
	case SMTP_VERB_VRFY:
	case SMTP_VERB_EXPN:
		if (cmd->arg[0] != '\0')
			line_add(l, " %s", cmd->arg);
		if ((cmd->verb == SMTP_VERB_VRFY ||
		    cmd->verb == SMTP_VERB_EXPN) &&
		    (cmd->params.seen & SMTP_PARAM_SMTPUTF8))
			line_add(l, " SMTPUTF8");
		break;
	case SMTP_VERB_MAIL:
		format_path(l, " FROM:", &cmd->path);
		format_mail_params(l, &cmd->params);
		break;
	case SMTP_VERB_RCPT:
		format_path(l, " TO:", &cmd->path);
		format_rcpt_params(l, &cmd->params);
		break;
	case SMTP_VERB_BDAT:
		line_add(l, " %" PRIu64 "%s", cmd->chunk_size,
		    cmd->last ? " LAST" : "");
		break;
	case SMTP_VERB_AUTH:
		line_add(l, " %s%s%s", cmd->mech, cmd->arg[0] != '\0' ?
		    " " : "", cmd->arg);
		break;
	default:
		break;
	}
}

int
smtp_proto_cmd_format(struct buf *out, const struct smtp_cmd *cmd)
{
	struct line	 l = { .n = 0, .over = false };
	size_t		 max = SMTP_CMD_LINE_MAX - 2;

	if (cmd->verb == SMTP_VERB_UNKNOWN)
		return -1;
	if (cmd->verb == SMTP_VERB_MAIL || cmd->verb == SMTP_VERB_RCPT ||
	    cmd->verb == SMTP_VERB_AUTH)
		max = SMTP_CMD_PARAM_LINE_MAX - 2;
	line_add(&l, "%s", smtp_proto_verb_name(cmd->verb));
	format_args(&l, cmd);
	if (l.over || l.n > max)
		return -1;
	return buf_add(out, l.s, l.n);
}

/* ---- EHLO capabilities ---- */

static const struct {
	const char	*name;
	unsigned	 flag;
} cap_defs[] = {
	{ "PIPELINING", SMTP_CAP_PIPELINING },
	{ "SIZE", SMTP_CAP_SIZE },
	{ "8BITMIME", SMTP_CAP_8BITMIME },
	{ "SMTPUTF8", SMTP_CAP_SMTPUTF8 },
	{ "STARTTLS", SMTP_CAP_STARTTLS },
	{ "CHUNKING", SMTP_CAP_CHUNKING },
	{ "BINARYMIME", SMTP_CAP_BINARYMIME },
	{ "DSN", SMTP_CAP_DSN },
	{ "ENHANCEDSTATUSCODES", SMTP_CAP_ENHANCEDSTATUSCODES },
	{ "AUTH", SMTP_CAP_AUTH },
};

static bool
list_has(const char *list, const char *w, size_t n)
{
	const char	*p = list, *sp;
	size_t		 k;

	while (*p != '\0') {
		sp = strchr(p, ' ');
		k = sp != NULL ? (size_t)(sp - p) : strlen(p);
		if (n > 0 && k == n && ascii_caseeq(p, w, n))
			return true;
		p += sp != NULL ? k + 1 : k;
	}
	return false;
}

/* One SASL name from an AUTH line; duplicates and overflow dropped. */
static void
caps_add_mech(struct smtp_caps *c, const char *m, size_t n)
{
	size_t	 len = strlen(c->auth), i;

	if (!is_sasl_mech(m, n) || list_has(c->auth, m, n) ||
	    len + (len > 0) + n >= sizeof(c->auth))
		return;
	if (len > 0)
		c->auth[len++] = ' ';
	for (i = 0; i < n; i++)
		c->auth[len++] = (char)ascii_upper((unsigned char)m[i]);
	c->auth[len] = '\0';
}

static unsigned
cap_find(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < sizeof(cap_defs) / sizeof(cap_defs[0]); i++)
		if (word_eq(s, n, cap_defs[i].name))
			return cap_defs[i].flag;
	return 0;
}

/*
 * ehlo-line = ehlo-keyword *( SP ehlo-param ) (RFC 5321 §4.1.1.1); "="
 * also separates, for the "AUTH=LOGIN" of servers older than RFC 2554.
 */
static void
caps_line(struct smtp_caps *c, const char *s, size_t n)
{
	unsigned	 flag;
	size_t		 k = 0, i, j;

	while (k < n && s[k] != ' ' && s[k] != '=')
		k++;
	if ((flag = cap_find(s, k)) == 0)
		return;
	c->flags |= flag;
	for (i = k; i < n; i = j) {
		while (i < n && (s[i] == ' ' || s[i] == '='))
			i++;
		for (j = i; j < n && s[j] != ' '; j++)
			;
		if (j == i)
			break;
		/* SIZE [SP 1*DIGIT]; 0 is "no fixed limit" (RFC 1870 §4) */
		if (flag == SMTP_CAP_SIZE) {
			if (parse_u64(s + i, j - i, &c->size) == -1)
				c->size = 0;
			break;
		}
		if (flag == SMTP_CAP_AUTH)
			caps_add_mech(c, s + i, j - i);
	}
}

int
smtp_proto_caps_parse(const struct smtp_reply *r, struct smtp_caps *c)
{
	const char	*p, *nl;
	size_t		 n;

	memset(c, 0, sizeof(*c));
	if (r->code != 250)
		return -1;
	/* The first line is the server's name and greeting. */
	if ((p = memchr(r->text, '\n', r->text_len)) == NULL)
		return 0;
	for (p++; p < r->text + r->text_len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(r->text + r->text_len - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(r->text +
		    r->text_len - p);
		caps_line(c, p, n);
		if (nl == NULL)
			break;
	}
	return 0;
}

bool
smtp_proto_caps_has_auth(const struct smtp_caps *c, const char *mech)
{
	return list_has(c->auth, mech, strlen(mech));
}
