/*
 * fuzz_sasl — strict base64, the PLAIN message and LOGIN responses.
 *
 * The input is decoded as base64; when that succeeds its encoding must
 * give the input back (round trip: so only the one canonical form of
 * each byte string is accepted).  The other way round, the encoding of
 * any input must decode back to it.  Then the decoded octets and the raw
 * input both go through sasl_plain_parse, whose fields must rebuild the
 * message exactly, and sasl_login_field as user name and as password.
 * The input, NUL-terminated, is also a mechanism name and a cancel line.
 * Any mismatch abort()s.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "sasl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static bool
all_zero(const void *p, size_t n)
{
	const uint8_t	*s = p;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (s[i] != 0)
			return false;
	return true;
}

static bool
same(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* authzid NUL authcid NUL passwd, rebuilt from the parsed fields. */
static void
plain_rebuild(const struct sasl_plain *p, const uint8_t *msg, size_t len)
{
	struct buf	 b;

	buf_init(&b, SASL_PLAIN_MSG_MAX);
	check(buf_add_str(&b, p->authzid) == 0);
	check(buf_add_u8(&b, 0) == 0);
	check(buf_add_str(&b, p->authcid) == 0);
	check(buf_add_u8(&b, 0) == 0);
	check(buf_add_str(&b, p->passwd) == 0);
	check(same(BUF_DATA(&b), b.len, msg, len));
	buf_wipe(&b);
}

static void
plain_check(const uint8_t *msg, size_t len)
{
	struct sasl_plain	 p;
	const char		*why = NULL;

	if (sasl_plain_parse(msg, len, &p, &why) == 0) {
		check(why == NULL);
		check(p.authcid[0] != '\0' && p.passwd[0] != '\0');
		check(len <= SASL_PLAIN_MSG_MAX);
		plain_rebuild(&p, msg, len);
	} else {
		check(why != NULL && why[0] != '\0');
		check(all_zero(&p, sizeof(p)));
	}
	sasl_plain_clear(&p);
}

static void
login_check(const uint8_t *msg, size_t len, bool password)
{
	char		 out[SASL_PASSWORD_MAX + 1];
	size_t		 size;
	const char	*why = NULL;

	size = password ? SASL_PASSWORD_MAX + 1 : SASL_FIELD_MAX + 1;
	if (sasl_login_field(msg, len, out, size, password, &why) == 0) {
		check(why == NULL && len > 0 && len < size);
		check(same(out, strlen(out), msg, len));
	} else {
		check(why != NULL && why[0] != '\0');
		check(all_zero(out, size));
	}
	explicit_bzero(out, sizeof(out));
}

static void
fields_check(const uint8_t *msg, size_t len)
{
	plain_check(msg, len);
	login_check(msg, len, false);
	login_check(msg, len, true);
}

/* Decode; on success the input must be the encoding of the result. */
static void
decode_trip(const uint8_t *data, size_t size)
{
	struct buf	 d, e;

	buf_init(&d, size);
	buf_init(&e, size);
	if (sasl_b64_decode((const char *)data, size, &d) == 0) {
		check(SASL_B64_LEN(d.len) == size);
		check(sasl_b64_encode(BUF_DATA(&d), d.len, &e) == 0);
		check(same(BUF_DATA(&e), e.len, data, size));
		fields_check(BUF_DATA(&d), d.len);
	} else
		check(d.len == 0);
	buf_wipe(&d);
	buf_clear(&e);
}

/* Any octets encode to something that decodes back to them. */
static void
encode_trip(const uint8_t *data, size_t size)
{
	struct buf	 d, e;

	buf_init(&e, SASL_B64_LEN(size));
	buf_init(&d, size);
	check(sasl_b64_encode(data, size, &e) == 0);
	check(e.len == SASL_B64_LEN(size));
	check(sasl_b64_decode((const char *)BUF_DATA(&e), e.len, &d) == 0);
	check(same(BUF_DATA(&d), d.len, data, size));
	buf_clear(&e);
	buf_clear(&d);
}

static void
name_check(const uint8_t *data, size_t size)
{
	char		 name[SASL_MECH_NAME_MAX + 8];
	enum sasl_mech	 m;
	size_t		 n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;

	memcpy(name, data, n);
	name[n] = '\0';
	m = sasl_mech_parse(name);
	if (m != SASL_MECH_UNKNOWN)
		check(strcasecmp(name, sasl_mech_name(m)) == 0);
	else
		check(sasl_mech_name(m) == NULL);
	check(sasl_is_cancel((const char *)data, size) ==
	    (size == 1 && data[0] == '*'));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_trip(data, size);
	encode_trip(data, size);
	fields_check(data, size);
	name_check(data, size);
	return 0;
}
