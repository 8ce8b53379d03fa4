/* imap_fmt — strings in IMAP responses (imap_fmt.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "imap_fmt.h"

/* ASTRING-CHAR = ATOM-CHAR / resp-specials (RFC 9051 §9). */
static bool
is_astring_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\", c) == NULL;
}

static bool
is_atom(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || (len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return false;
	for (i = 0; i < len; i++)
		if (!is_astring_char((unsigned char)s[i]))
			return false;
	return true;
}

static bool
needs_literal(const char *s, size_t len, bool utf8)
{
	bool	 eight = false;
	size_t	 i;

	if (len > IMAP_FMT_QUOTED_MAX)
		return true;
	for (i = 0; i < len; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			return true;
		if ((unsigned char)s[i] >= 0x80)
			eight = true;
	}
	return eight && (!utf8 || !addr_utf8_valid(s, len));
}

static int
put(struct buf *out, const void *p, size_t n)
{
	return buf_add(out, p, n);
}

int
imap_fmt_quoted(struct buf *out, const char *s, size_t len)
{
	uint8_t	*w;
	size_t	 i, n = len + 2;

	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n')
			return -1;
		if (s[i] == '"' || s[i] == '\\')
			n++;
	}
	if (n < len || (w = buf_reserve(out, n)) == NULL)
		return -1;
	*w++ = '"';
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			*w++ = '\\';
		*w++ = (uint8_t)s[i];
	}
	*w = '"';
	buf_commit(out, n);
	return 0;
}

static int
literal(struct buf *out, const char *pre, const char *s, size_t len)
{
	char	 hdr[48];
	uint8_t	*w;
	int	 h;

	h = snprintf(hdr, sizeof(hdr), "%s{%zu}\r\n", pre, len);
	if (h < 0 || (size_t)h >= sizeof(hdr) || len > SIZE_MAX - (size_t)h ||
	    (w = buf_reserve(out, (size_t)h + len)) == NULL)
		return -1;
	memcpy(w, hdr, (size_t)h);
	if (len > 0)
		memcpy(w + h, s, len);
	buf_commit(out, (size_t)h + len);
	return 0;
}

int
imap_fmt_literal(struct buf *out, const char *s, size_t len)
{
	if (len > 0 && memchr(s, '\0', len) != NULL)
		return -1;
	return literal(out, "", s, len);
}

int
imap_fmt_literal8(struct buf *out, const char *s, size_t len)
{
	return literal(out, "~", s, len);
}

int
imap_fmt_string(struct buf *out, const char *s, size_t len, bool utf8)
{
	if (needs_literal(s, len, utf8))
		return imap_fmt_literal(out, s, len);
	return imap_fmt_quoted(out, s, len);
}

int
imap_fmt_astring(struct buf *out, const char *s, size_t len, bool utf8)
{
	if (!needs_literal(s, len, utf8) && is_atom(s, len))
		return put(out, s, len);
	return imap_fmt_string(out, s, len, utf8);
}

int
imap_fmt_nstring(struct buf *out, const char *s, size_t len, bool utf8)
{
	if (s == NULL)
		return put(out, "NIL", 3);
	return imap_fmt_string(out, s, len, utf8);
}
