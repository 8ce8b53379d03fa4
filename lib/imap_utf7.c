/* imap_utf7 — modified UTF-7 mailbox names (imap_utf7.h). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "imap_utf7.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static bool
is_direct(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* The modified alphabet: "," for "/" (RFC 3501 §5.1.3). */
static int
b64_value(unsigned char c)
{
	if (c == ',')
		return 63;
	if (c == '/')
		return -1;
	return str_b64_value(c);
}

static int
put_utf8(struct buf *out, uint32_t cp)
{
	uint8_t	 u[4];
	size_t	 n;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_add(out, u, n);
}

/* One UTF-16 unit of a run; *hi holds a high surrogate awaiting its pair. */
static int
put_unit(struct buf *out, uint32_t u, uint32_t *hi)
{
	bool	 high = u >= 0xd800 && u <= 0xdbff;
	bool	 low = u >= 0xdc00 && u <= 0xdfff;

	if (*hi != 0) {
		if (!low)
			return -1;
		u = 0x10000 + ((*hi - 0xd800) << 10) + (u - 0xdc00);
		*hi = 0;
		return put_utf8(out, u);
	}
	if (high) {
		*hi = u;
		return 0;
	}
	if (low || u == 0 || (u >= 0x20 && u <= 0x7e))
		return -1;	/* printable US-ASCII goes as itself */
	return put_utf8(out, u);
}

/* After "&": a run up to and including its "-". */
static int
decode_run(const char **sp, struct buf *out)
{
	const char	*s = *sp;
	uint32_t	 bits = 0, hi = 0;
	unsigned	 nbits = 0;
	size_t		 units = 0;
	int		 v;

	for (; *s != '-'; s++) {
		if ((v = b64_value((unsigned char)*s)) == -1)
			return -1;		/* NUL included: no "-" */
		bits = (bits << 6 | (uint32_t)v) & 0x3fffff;
		if ((nbits += 6) < 16)
			continue;
		nbits -= 16;
		if (put_unit(out, bits >> nbits & 0xffff, &hi) == -1)
			return -1;
		bits &= (1u << nbits) - 1;
		units++;
	}
	/* Canonical: no spare character, zero padding, pairs complete. */
	if (units == 0 || nbits >= 6 || bits != 0 || hi != 0)
		return -1;
	*sp = s + 1;
	return 0;
}

static int
decode(const char *s, struct buf *out)
{
	bool	 after_run = false;

	while (*s != '\0') {
		if (*s != '&') {
			if (!is_direct((unsigned char)*s) ||
			    buf_add(out, s, 1) == -1)
				return -1;
			s++;
			after_run = false;
		} else if (s[1] == '-') {
			if (buf_add(out, "&", 1) == -1)
				return -1;
			s += 2;
			after_run = false;
		} else {
			s++;
			if (after_run || decode_run(&s, out) == -1)
				return -1;
			after_run = true;
		}
	}
	return 0;
}

/* Append tmp to out, or leave out as it was. */
static int
commit(struct buf *tmp, struct buf *out, int r)
{
	if (r == 0)
		r = buf_add(out, buf_cstr(tmp), tmp->len);
	buf_clear(tmp);
	return r;
}

int
imap_utf7_to_utf8(const char *in, struct buf *out)
{
	struct buf	 tmp;

	buf_init(&tmp, buf_avail(out));
	return commit(&tmp, out, decode(in, &tmp));
}

/* One character of valid UTF-8 at *sp. */
static uint32_t
get_utf8(const unsigned char **sp)
{
	const unsigned char	*s = *sp;
	uint32_t		 cp;
	size_t			 n, i;

	if (s[0] < 0x80) {
		*sp = s + 1;
		return s[0];
	}
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	cp = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	*sp = s + n;
	return cp;
}

struct b64w {
	struct buf	*out;
	uint32_t	 bits;
	unsigned	 nbits;
	int		 err;
};

static void
b64w_unit(struct b64w *w, uint32_t u)
{
	w->bits = (w->bits << 16 | u) & 0x3fffff;
	w->nbits += 16;
	while (w->nbits >= 6) {
		w->nbits -= 6;
		if (buf_add(w->out, &b64[w->bits >> w->nbits & 0x3f], 1) == -1)
			w->err = -1;
	}
	w->bits &= (1u << w->nbits) - 1;
}

/* "&", the run of characters that need it, "-". */
static int
encode_run(const unsigned char **sp, struct buf *out)
{
	struct b64w	 w = { out, 0, 0, 0 };
	uint32_t	 cp;

	if (buf_add(out, "&", 1) == -1)
		return -1;
	while (**sp != '\0' && !is_direct(**sp)) {
		cp = get_utf8(sp);
		if (cp < 0x10000) {
			b64w_unit(&w, cp);
			continue;
		}
		cp -= 0x10000;
		b64w_unit(&w, 0xd800 | cp >> 10);
		b64w_unit(&w, 0xdc00 | (cp & 0x3ff));
	}
	if (w.nbits > 0 && buf_add(out, &b64[w.bits << (6 - w.nbits) & 0x3f],
	    1) == -1)
		return -1;
	if (w.err != 0 || buf_add(out, "-", 1) == -1)
		return -1;
	return 0;
}

static int
encode(const unsigned char *s, struct buf *out)
{
	while (*s != '\0') {
		if (!is_direct(*s)) {
			if (encode_run(&s, out) == -1)
				return -1;
			continue;
		}
		if (buf_add(out, *s == '&' ? "&-" : (const char *)s,
		    *s == '&' ? 2 : 1) == -1)
			return -1;
		s++;
	}
	return 0;
}

int
imap_utf8_to_utf7(const char *in, struct buf *out)
{
	struct buf	 tmp;

	if (!addr_utf8_valid(in, strlen(in)))
		return -1;
	buf_init(&tmp, buf_avail(out));
	return commit(&tmp, out, encode((const unsigned char *)in, &tmp));
}
