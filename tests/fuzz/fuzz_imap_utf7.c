/*
 * fuzz_imap_utf7 — modified UTF-7 mailbox names both ways.
 *
 * The input up to its first NUL is taken as modified UTF-7: when it
 * decodes, encoding the result must give the input back exactly (only
 * the canonical spelling decodes).  It is also taken as UTF-8: it
 * encodes exactly when it is valid UTF-8, the encoding is printable
 * US-ASCII, and decoding it gives the input back.  Any mismatch
 * abort()s.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "imap_utf7.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static bool
printable(const struct buf *b)
{
	const uint8_t	*p = (const uint8_t *)buf_cstr(b);
	size_t		 i;

	for (i = 0; i < b->len; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

static void
from_utf7(const char *in)
{
	struct buf	 u8, u7;

	buf_init(&u8, 1 << 16);
	buf_init(&u7, 1 << 16);
	if (imap_utf7_to_utf8(in, &u8) == 0) {
		check(addr_utf8_valid(buf_cstr(&u8), u8.len));
		check(strlen(buf_cstr(&u8)) == u8.len);
		check(imap_utf8_to_utf7(buf_cstr(&u8), &u7) == 0);
		check(strcmp(buf_cstr(&u7), in) == 0);
	} else
		check(u8.len == 0);
	buf_clear(&u8);
	buf_clear(&u7);
}

static void
from_utf8(const char *in)
{
	struct buf	 u7, u8;
	int		 r;

	buf_init(&u7, 1 << 18);
	buf_init(&u8, 1 << 16);
	r = imap_utf8_to_utf7(in, &u7);
	check((r == 0) == addr_utf8_valid(in, strlen(in)));
	if (r == 0) {
		check(printable(&u7));
		check(imap_utf7_to_utf8(buf_cstr(&u7), &u8) == 0);
		check(strcmp(buf_cstr(&u8), in) == 0);
	} else
		check(u7.len == 0);
	buf_clear(&u7);
	buf_clear(&u8);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	from_utf7(s);
	from_utf8(s);
	free(s);
	return 0;
}
