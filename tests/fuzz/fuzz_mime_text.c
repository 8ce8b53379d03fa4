/*
 * fuzz_mime_text — the searchable text of a message (mime_search_text)
 * and the tsquery of a search string (mime_text_tsquery).
 *
 * The first octet chooses the room given (a small one cuts the text);
 * the rest is the message, and also the search string.  Checks:
 *  - the text is words: valid UTF-8, no NUL, only ASCII lower-case
 *    letters, digits and non-ASCII characters, separated by single
 *    spaces, none at either end, no word over MIME_TEXT_WORD_MAX octets;
 *    it stays within the room, and -1 comes only when it would not fit;
 *  - the tsquery is 'w':* joined by " & ", the words those of
 *    mime_text_words() (at most MIME_TEXT_QUERY_WORDS): no quote,
 *    backslash or operator can come from the client's string.
 * Any failure abort()s.  tests/unit/test_mime_text.c includes this file
 * to run the same checks on its table.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Length of a valid UTF-8 sequence of 2 to 4 octets at p, or 0. */
static size_t
ft_utf8_len(const uint8_t *p, size_t n)
{
	size_t	 len;
	uint32_t cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	cp = p[0] & (0xff >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static bool
ft_word_octet(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

/* The words of a text as described above. */
static bool
ft_words_ok(const uint8_t *p, size_t n)
{
	size_t	 i = 0, word = 0, k;

	if (n > 0 && (p[0] == ' ' || p[n - 1] == ' '))
		return false;
	while (i < n) {
		if (p[i] == ' ') {
			if (word == 0)
				return false;	/* two spaces */
			word = 0;
			i++;
			continue;
		}
		if (p[i] < 0x80) {
			if (!ft_word_octet(p[i]))
				return false;
			k = 1;
		} else if ((k = ft_utf8_len(p + i, n - i)) == 0)
			return false;
		word += k;
		if (word > MIME_TEXT_WORD_MAX)
			return false;
		i += k;
	}
	return true;
}

/* The tsquery: 'w':* joined by " & ", the words of words (n of them). */
static bool
ft_tsquery_ok(const char *q, size_t qlen, const char *words, size_t wlen,
    int n)
{
	size_t	 i = 0, j = 0;
	int	 got = 0;

	while (i < qlen) {
		if (got > 0) {
			if (qlen - i < 3 || memcmp(q + i, " & ", 3) != 0)
				return false;
			i += 3;
			if (words[j++] != ' ')
				return false;
		}
		if (q[i++] != '\'')
			return false;
		while (i < qlen && q[i] != '\'') {
			if (j >= wlen || q[i] != words[j])
				return false;
			i++;
			j++;
		}
		if (qlen - i < 3 || memcmp(q + i, "':*", 3) != 0)
			return false;
		i += 3;
		got++;
		if (j < wlen && words[j] != ' ')
			return false;
	}
	return got == n && (n == MIME_TEXT_QUERY_WORDS || j == wlen);
}

static void
ft_check_text(const uint8_t *data, size_t len, size_t room)
{
	struct buf	 out, big;
	const uint8_t	*o, *b;
	int		 rc, rc_big;

	buf_init(&out, SIZE_MAX / 2);
	rc = mime_search_text(data, len, &out, room);
	o = (const uint8_t *)buf_cstr(&out);	/* never NULL */
	if (out.len > room || !ft_words_ok(o, out.len) ||
	    memchr(o, '\0', out.len) != NULL)
		abort();
	buf_init(&big, SIZE_MAX / 2);
	rc_big = mime_search_text(data, len, &big, SIZE_MAX / 2);
	b = (const uint8_t *)buf_cstr(&big);
	if (rc_big != 0 || !ft_words_ok(b, big.len))
		abort();
	/* -1 exactly when the whole text does not fit; else the same. */
	if ((rc == -1) != (big.len > room))
		abort();
	if ((rc == 0 && out.len != big.len) || memcmp(o, b, out.len) != 0)
		abort();
	buf_clear(&out);
	buf_clear(&big);
}

static void
ft_check_query(const uint8_t *data, size_t len)
{
	struct buf	 q, w;
	int		 n;

	buf_init(&q, SIZE_MAX / 2);
	buf_init(&w, SIZE_MAX / 2);
	n = mime_text_tsquery(&q, (const char *)data, len);
	(void)mime_text_words(&w, data, len, SIZE_MAX / 2);
	if (n < 0 || n > MIME_TEXT_QUERY_WORDS || (n == 0) != (w.len == 0) ||
	    !ft_words_ok((const uint8_t *)buf_cstr(&w), w.len) ||
	    !ft_tsquery_ok(buf_cstr(&q), q.len, buf_cstr(&w), w.len, n))
		abort();
	buf_clear(&q);
	buf_clear(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t	 room;

	if (len == 0 || len > 256 * 1024)
		return 0;
	room = (size_t)data[0] * 16;
	ft_check_text(data + 1, len - 1, room);
	ft_check_query(data + 1, len - 1);
	return 0;
}
