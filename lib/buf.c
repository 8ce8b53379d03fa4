/* buf — bounded growable byte buffers and string helpers (buf.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "log.h"
#include "xmalloc.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_clear(struct buf *b)
{
	size_t	 max = b->max;

	free(b->base);
	buf_init(b, max);
}

void
buf_wipe(struct buf *b)
{
	size_t	 max = b->max;

	xfreezero(b->base, b->base == NULL ? 0 : b->cap + 1);
	buf_init(b, max);
}

struct buf *
buf_new(size_t max)
{
	struct buf	*b = xmalloc(sizeof(*b));

	buf_init(b, max);
	return b;
}

void
buf_free(struct buf **bp)
{
	if (*bp == NULL)
		return;
	buf_clear(*bp);
	free(*bp);
	*bp = NULL;
}

size_t
buf_avail(const struct buf *b)
{
	return b->max - b->len;
}

/* Move the live data (and its NUL) to the front of the allocation. */
static void
buf_compact(struct buf *b)
{
	memmove(b->base, BUF_DATA(b), b->len + 1);
	b->off = 0;
}

/* Grow the allocation (data already at the front) to hold need bytes. */
static void
buf_grow(struct buf *b, size_t need)
{
	size_t	 want;

	want = b->cap < 64 ? 64 : b->cap;
	while (want < need)
		want = want > SIZE_MAX / 2 ? SIZE_MAX - 1 : want * 2;
	if (want > b->max)
		want = b->max;
	b->base = xreallocarray(b->base, want + 1, 1);
	b->cap = want;
	b->base[b->len] = '\0';
}

/* Make room for n bytes after the data: compact first, then grow. */
uint8_t *
buf_reserve(struct buf *b, size_t n)
{
	if (n > b->max - b->len)
		return NULL;
	if (b->base != NULL && b->off + b->len + n <= b->cap)
		return BUF_DATA(b) + b->len;
	if (b->off > 0)
		buf_compact(b);
	if (b->base == NULL || b->len + n > b->cap)
		buf_grow(b, b->len + n);
	return b->base + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	if (n == 0 && b->base == NULL)
		return;
	if (b->base == NULL || n > b->cap - b->off - b->len)
		fatalx("buf_commit: %zu bytes past the reserved space", n);
	b->len += n;
	BUF_DATA(b)[b->len] = '\0';
}

int
buf_add(struct buf *b, const void *data, size_t n)
{
	uint8_t	*p;

	if ((p = buf_reserve(b, n)) == NULL)
		return -1;
	if (n > 0)
		memcpy(p, data, n);
	buf_commit(b, n);
	return 0;
}

int
buf_add_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_add_u8(struct buf *b, uint8_t c)
{
	return buf_add(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 n;
	uint8_t	*p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	/* The NUL goes into the slot every allocation keeps after cap. */
	if (n < 0 || (p = buf_reserve(b, (size_t)n)) == NULL)
		return -1;
	vsnprintf((char *)p, (size_t)n + 1, fmt, ap);
	buf_commit(b, (size_t)n);
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	b->off += n;
	b->len -= n;
}

void
buf_reset(struct buf *b)
{
	b->off = 0;
	b->len = 0;
	if (b->base != NULL)
		b->base[0] = '\0';
}

const char *
buf_cstr(const struct buf *b)
{
	return b->base == NULL ? "" : (const char *)BUF_DATA(b);
}

ssize_t
buf_find_lf(const struct buf *b)
{
	const uint8_t	*p;

	if (b->len == 0)
		return -1;
	p = memchr(BUF_DATA(b), '\n', b->len);
	return p == NULL ? -1 : p - BUF_DATA(b);
}

char *
buf_steal(struct buf *b, size_t *len_r)
{
	char	*s;

	if (len_r != NULL)
		*len_r = b->len;
	if (b->base == NULL)
		return xstrdup("");
	if (b->off > 0)
		memmove(b->base, BUF_DATA(b), b->len + 1);
	s = (char *)b->base;
	buf_init(b, b->max);
	return s;
}

static bool
str_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
	    c == '\f' || c == '\r';
}

char *
str_trim(char *s)
{
	char	*start = s, *end;

	while (str_is_space(*start))
		start++;
	end = start + strlen(start);
	while (end > start && str_is_space(end[-1]))
		end--;
	*end = '\0';
	if (start != s)
		memmove(s, start, (size_t)(end - start) + 1);
	return s;
}

bool
str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int
str_to_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v_r,
    const char **err_r)
{
	uint64_t	 v = 0;
	const char	*p = s;

	if (*p == '\0') {
		*err_r = "not a number";
		return -1;
	}
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			*err_r = "not a number";
			return -1;
		}
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
			*err_r = "too large";
			return -1;
		}
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max) {
		*err_r = v < min ? "too small" : "too large";
		return -1;
	}
	*v_r = v;
	return 0;
}

int
str_to_i64(const char *s, int64_t min, int64_t max, int64_t *v_r,
    const char **err_r)
{
	uint64_t	 u;
	bool		 neg = (*s == '-');
	int64_t		 v;

	if (str_to_u64(s + (neg ? 1 : 0), 0, neg ? (uint64_t)INT64_MAX + 1 :
	    (uint64_t)INT64_MAX, &u, err_r) == -1) {
		if (neg && strcmp(*err_r, "too large") == 0)
			*err_r = "too small";
		return -1;
	}
	if (neg)
		v = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
	else
		v = (int64_t)u;
	if (v < min || v > max) {
		*err_r = v < min ? "too small" : "too large";
		return -1;
	}
	*v_r = v;
	return 0;
}

char **
str_split(const char *s, const char *seps, size_t *n_r)
{
	char	**list = xcalloc(1, sizeof(*list));
	size_t	  n = 0, len;

	while (*s != '\0') {
		s += strspn(s, seps);
		if ((len = strcspn(s, seps)) == 0)
			break;
		list = xreallocarray(list, n + 2, sizeof(*list));
		list[n++] = xstrndup(s, len);
		list[n] = NULL;
		s += len;
	}
	if (n_r != NULL)
		*n_r = n;
	return list;
}

void
str_list_free(char ***listp)
{
	if (*listp == NULL)
		return;
	for (char **p = *listp; *p != NULL; p++)
		free(*p);
	free(*listp);
	*listp = NULL;
}

bool
str_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

int
str_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}
