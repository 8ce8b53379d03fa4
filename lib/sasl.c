/* sasl — strict base64, PLAIN, LOGIN, mechanism names (sasl.h). */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "log.h"
#include "sasl.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * RFC 4648 §4 without leniency; returns the decoded length, or -1.
 * The pad-bit rule (§3.5) makes the encoding of each string unique:
 * before "==" only the top 2 bits of the last character carry data,
 * before "=" the top 4.
 */
static ssize_t
b64_scan(const char *in, size_t len)
{
	size_t	 i, pad = 0;

	if (len % 4 != 0)
		return -1;
	if (len == 0)
		return 0;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (str_b64_value((unsigned char)in[i]) == -1)
			return -1;
	if (pad > 0 && (str_b64_value((unsigned char)in[len - pad - 1]) &
	    (pad == 2 ? 0x0f : 0x03)) != 0)
		return -1;
	return (ssize_t)(len / 4 * 3 - pad);
}

/* One quantum of 4 characters into its first n (1-3) octets. */
static void
b64_quantum(const char *q, uint8_t *p, size_t n)
{
	uint32_t	 acc = 0;
	uint8_t		 o[3];
	size_t		 k;
	int		 v;

	/* b64_scan() let through only alphabet characters and '=' (0). */
	for (k = 0; k < 4; k++) {
		v = str_b64_value((unsigned char)q[k]);
		acc = acc << 6 | (v == -1 ? 0 : (uint32_t)v);
	}
	o[0] = (uint8_t)(acc >> 16);
	o[1] = (uint8_t)(acc >> 8);
	o[2] = (uint8_t)acc;
	memcpy(p, o, n);
}

int
sasl_b64_decode(const char *in, size_t len, struct buf *out)
{
	ssize_t	 n = b64_scan(in, len);
	uint8_t	*p;
	size_t	 i, take, left;

	if (n == -1 || (p = buf_reserve(out, (size_t)n)) == NULL)
		return -1;
	left = (size_t)n;
	for (i = 0; i < len; i += 4) {
		take = left < 3 ? left : 3;
		b64_quantum(in + i, p, take);
		p += take;
		left -= take;
	}
	buf_commit(out, (size_t)n);
	return 0;
}

int
sasl_b64_encode(const void *in, size_t len, struct buf *out)
{
	const uint8_t	*s = in;
	uint8_t		*p;
	uint32_t	 acc;
	size_t		 i, k, n, take;

	if (len / 3 >= SIZE_MAX / 4)
		return -1;
	n = SASL_B64_LEN(len);
	if ((p = buf_reserve(out, n)) == NULL)
		return -1;
	for (i = 0; i < len; i += 3) {
		take = len - i < 3 ? len - i : 3;
		acc = (uint32_t)s[i] << 16;
		if (take > 1)
			acc |= (uint32_t)s[i + 1] << 8;
		if (take > 2)
			acc |= s[i + 2];
		for (k = 0; k < 4; k++)
			*p++ = k <= take ? (uint8_t)b64_alphabet[(acc >>
			    (18 - 6 * k)) & 0x3f] : '=';
	}
	buf_commit(out, n);
	return 0;
}

/*
 * The rules for one field, and what to log when it breaks one.  An
 * identity must be UTF-8 without controls; a password only free of NUL.
 */
struct field_rule {
	size_t		 max;
	bool		 empty_ok;
	bool		 ident;
	const char	*empty;
	const char	*too_long;
	const char	*nul;
	const char	*control;
	const char	*utf8;
};

/* In PLAIN the ids end at a NUL, so only the password can hold one. */
static const struct field_rule rule_authzid = {
	SASL_FIELD_MAX, true, true, NULL, "authzid too long", NULL,
	"control character in authzid", "authzid not UTF-8"
};
static const struct field_rule rule_authcid = {
	SASL_FIELD_MAX, false, true, "empty authcid", "authcid too long",
	NULL, "control character in authcid", "authcid not UTF-8"
};
static const struct field_rule rule_passwd = {
	SASL_PASSWORD_MAX, false, false, "empty password",
	"password too long", "extra NUL", NULL, NULL
};
static const struct field_rule rule_login_user = {
	SASL_FIELD_MAX, false, true, "empty user name", "user name too long",
	"NUL in user name", "control character in user name",
	"user name not UTF-8"
};
static const struct field_rule rule_login_pass = {
	SASL_PASSWORD_MAX, false, false, "empty password",
	"password too long", "NUL in password", NULL, NULL
};

static int
fail(const char **why_r, const char *why)
{
	if (why_r != NULL)
		*why_r = why;
	return -1;
}

/* C0 controls and DEL; NUL is the caller's (field_check) concern. */
static bool
has_control(const uint8_t *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return true;
	return false;
}

static int
field_check(const struct field_rule *r, const uint8_t *p, size_t n,
    const char **why_r)
{
	if (n == 0)
		return r->empty_ok ? 0 : fail(why_r, r->empty);
	if (n > r->max)
		return fail(why_r, r->too_long);
	if (memchr(p, '\0', n) != NULL)
		return fail(why_r, r->nul);
	if (!r->ident)
		return 0;
	if (has_control(p, n))
		return fail(why_r, r->control);
	if (!addr_utf8_valid((const char *)p, n))
		return fail(why_r, r->utf8);
	return 0;
}

/* dst has room: field_check() held n to the field's maximum. */
static void
field_copy(char *dst, const uint8_t *p, size_t n)
{
	if (n > 0)
		memcpy(dst, p, n);
	dst[n] = '\0';
}

int
sasl_plain_parse(const uint8_t *msg, size_t len, struct sasl_plain *out,
    const char **why_r)
{
	const uint8_t	*nul1, *nul2;
	size_t		 zlen, clen, plen;

	explicit_bzero(out, sizeof(*out));
	if (len == 0 || (nul1 = memchr(msg, '\0', len)) == NULL)
		return fail(why_r, "missing NUL");
	zlen = (size_t)(nul1 - msg);
	if ((nul2 = memchr(nul1 + 1, '\0', len - zlen - 1)) == NULL)
		return fail(why_r, "missing NUL");
	clen = (size_t)(nul2 - nul1 - 1);
	plen = len - zlen - clen - 2;
	if (field_check(&rule_authzid, msg, zlen, why_r) == -1 ||
	    field_check(&rule_authcid, nul1 + 1, clen, why_r) == -1 ||
	    field_check(&rule_passwd, nul2 + 1, plen, why_r) == -1)
		return -1;
	field_copy(out->authzid, msg, zlen);
	field_copy(out->authcid, nul1 + 1, clen);
	field_copy(out->passwd, nul2 + 1, plen);
	return 0;
}

void
sasl_plain_clear(struct sasl_plain *p)
{
	explicit_bzero(p, sizeof(*p));
}

int
sasl_login_field(const uint8_t *msg, size_t len, char *out, size_t outsize,
    bool password, const char **why_r)
{
	const struct field_rule	*r;

	if (outsize == 0)
		fatalx("sasl_login_field: no room for the NUL");
	r = password ? &rule_login_pass : &rule_login_user;
	explicit_bzero(out, outsize);
	if (field_check(r, msg, len, why_r) == -1)
		return -1;
	if (len >= outsize)
		return fail(why_r, r->too_long);
	field_copy(out, msg, len);
	return 0;
}

static const struct {
	const char	*name;
	enum sasl_mech	 mech;
} mech_names[] = {
	{ "PLAIN", SASL_MECH_PLAIN },
	{ "LOGIN", SASL_MECH_LOGIN },
};

/* sasl-mech = 1*20(UPPER-ALPHA / DIGIT / "-" / "_"), any case here. */
static bool
mech_syntax_ok(const char *name)
{
	size_t	 i, n = strnlen(name, SASL_MECH_NAME_MAX + 1);
	char	 c;

	if (n == 0 || n > SASL_MECH_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

enum sasl_mech
sasl_mech_parse(const char *name)
{
	size_t	 i;

	if (name == NULL || !mech_syntax_ok(name))
		return SASL_MECH_UNKNOWN;
	for (i = 0; i < sizeof(mech_names) / sizeof(mech_names[0]); i++)
		if (strcasecmp(name, mech_names[i].name) == 0)
			return mech_names[i].mech;
	return SASL_MECH_UNKNOWN;
}

const char *
sasl_mech_name(enum sasl_mech mech)
{
	size_t	 i;

	for (i = 0; i < sizeof(mech_names) / sizeof(mech_names[0]); i++)
		if (mech_names[i].mech == mech)
			return mech_names[i].name;
	return NULL;
}

bool
sasl_is_cancel(const char *line, size_t len)
{
	return len == 1 && line[0] == '*';
}
