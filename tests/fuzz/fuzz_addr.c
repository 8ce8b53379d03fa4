/*
 * fuzz_addr — the path parser, its formatter, quoting and xtext.
 *
 * Byte 0: bits 0-2 are the parse flags (ADDR_F_*), bit 3 asks for end_r.
 * The rest is the path.  On success: format, parse again, and the two
 * must be equal field by field (round trip); the unquoted local part
 * re-quoted must parse back to the same unquoted value.  The same bytes
 * also go through addr_parse_domain and the xtext decoder, whose output
 * must encode and decode back to itself.  Any mismatch abort()s.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static bool
has_non_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

static void
round_trip(const struct addr *a, int flags)
{
	struct addr	 b;
	enum addr_err	 err;
	char		 out[ADDR_FORMAT_SIZE];

	check(addr_format(a, out, sizeof(out)) == 0);
	check(addr_parse_path(out, strlen(out), flags, &b, NULL, &err) == 0);
	check(addr_equal(a, &b));
	check(memcmp(a, &b, sizeof(b)) == 0);
	check(addr_is_utf8(a) == has_non_ascii(out));
	check(addr_mailbox(a, out, sizeof(out)) == 0);
}

/* unquoted -> quote -> parse -> unquoted gives the same value. */
static void
quote_trip(const struct addr *a, int flags)
{
	char		 unq[ADDR_LOCAL_MAX + 1], q[ADDR_LOCAL_MAX + 1];
	char		 path[ADDR_FORMAT_SIZE + 8], unq2[ADDR_LOCAL_MAX + 1];
	struct addr	 b;
	enum addr_err	 err;
	size_t		 base;
	const char	*tag;

	if (a->null || a->domain_type == ADDR_DOMAIN_NONE)
		return;
	check(addr_local_unquoted(a, unq, sizeof(unq)) == 0);
	addr_split_tag(unq, "+-", &base, &tag);
	check(base <= strlen(unq));
	/* The minimal form may be shorter, never longer. */
	check(addr_quote_local(unq, strlen(unq), flags, q, sizeof(q)) == 0);
	check(strlen(q) <= strlen(a->local));
	memcpy(path, "<", 1);
	memcpy(path + 1, q, strlen(q));
	memcpy(path + 1 + strlen(q), "@x>", 4);
	check(addr_parse_path(path, strlen(path), flags, &b, NULL, &err) == 0);
	check(addr_local_unquoted(&b, unq2, sizeof(unq2)) == 0);
	check(strcmp(unq, unq2) == 0);
}

static void
xtext_trip(const char *s, size_t len)
{
	struct buf	 d, e, d2;

	buf_init(&d, 4096);
	buf_init(&e, 3 * 4096);
	buf_init(&d2, 4096);
	if (addr_xtext_decode(&d, s, len) == 0) {
		check(addr_xtext_valid(s, len));
		check(addr_xtext_encode(&e, BUF_DATA(&d), d.len) == 0);
		check(addr_xtext_decode(&d2, (const char *)BUF_DATA(&e),
		    e.len) == 0);
		check(d.len == d2.len && (d.len == 0 ||
		    memcmp(BUF_DATA(&d), BUF_DATA(&d2), d.len) == 0));
	} else
		check(!addr_xtext_valid(s, len) || len > 4096);
	buf_clear(&d);
	buf_clear(&e);
	buf_clear(&d2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr		 a;
	enum addr_err		 err;
	enum addr_domain_type	 type;
	const char		*s = (const char *)data + 1;
	size_t			 len, end = 0;
	int			 flags;

	if (size < 1)
		return 0;
	flags = data[0] & 0x07;
	len = size - 1;
	if (addr_parse_path(s, len, flags, &a, (data[0] & 0x08) ? &end : NULL,
	    &err) == 0) {
		check(err == ADDR_OK);
		check((data[0] & 0x08) == 0 || end <= len);
		round_trip(&a, flags);
		quote_trip(&a, flags);
		addr_domain_lower(&a);
		round_trip(&a, flags);
	} else
		check(err != ADDR_OK && addr_strerror(err)[0] != '\0');
	if (addr_parse_domain(s, len, flags, &type, &err) == 0)
		check(len <= ADDR_DOMAIN_MAX);
	xtext_trip(s, len);
	return 0;
}
