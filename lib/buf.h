/*
 * buf — bounded growable byte buffers, and small string helpers.
 *
 * A buffer has a hard maximum set at creation: an add that would pass it
 * fails with -1 and leaves the buffer unchanged.  Data is always followed by
 * a NUL byte that is not counted in len, so text can be used as a C string.
 * Consumed bytes at the front are dropped lazily (buf_consume is O(1)
 * amortised).
 */
#ifndef WHARF_BUF_H
#define WHARF_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf {
	uint8_t	*base;		/* allocation */
	size_t	 off;		/* start of live data in base */
	size_t	 len;		/* live bytes */
	size_t	 cap;		/* allocated bytes (excluding the NUL slot) */
	size_t	 max;		/* hard maximum of len */
};

#define BUF_DATA(b)	((b)->base + (b)->off)

void	 buf_init(struct buf *, size_t max);
void	 buf_clear(struct buf *);		/* free storage */
void	 buf_wipe(struct buf *);		/* explicit_bzero + free */
struct buf *buf_new(size_t max);
void	 buf_free(struct buf **);		/* accepts NULL, sets NULL */

int	 buf_add(struct buf *, const void *, size_t);
int	 buf_add_str(struct buf *, const char *);
int	 buf_add_u8(struct buf *, uint8_t);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
/* Room for n more bytes at the end; NULL when max would be passed. */
uint8_t	*buf_reserve(struct buf *, size_t n);
/* After writing n bytes into buf_reserve()'d space. */
void	 buf_commit(struct buf *, size_t n);
void	 buf_consume(struct buf *, size_t n);	/* drop n bytes at front */
void	 buf_reset(struct buf *);		/* len = 0, keep storage */
size_t	 buf_avail(const struct buf *);		/* max - len */
const char *buf_cstr(const struct buf *);	/* NUL-terminated view */
/* Index of the first '\n' in the data, or -1. */
ssize_t	 buf_find_lf(const struct buf *);
/* Hand the data to the caller as a malloc'd NUL-terminated string. */
char	*buf_steal(struct buf *, size_t *len_r);

/* Strings (C strings; over libbsd). */
/* Trim ASCII white space at both ends, in place; returns s. */
char	*str_trim(char *s);
bool	 str_has_prefix(const char *s, const char *prefix);
/*
 * Strict unsigned / signed decimal parse of the whole string within
 * [min, max]; 0 or -1 with *err_r a static reason ("not a number",
 * "too large", "too small").  Replaces atoi/strtol at every call site.
 */
int	 str_to_u64(const char *, uint64_t min, uint64_t max, uint64_t *v_r,
	    const char **err_r);
int	 str_to_i64(const char *, int64_t min, int64_t max, int64_t *v_r,
	    const char **err_r);
/*
 * Split s on any char in seps (runs collapse, no empty items); returns
 * a NULL-terminated malloc'd array of malloc'd strings, count in *n_r.
 */
char	**str_split(const char *s, const char *seps, size_t *n_r);
void	 str_list_free(char ***list);		/* accepts NULL, sets NULL */
/* Constant-time equality of two byte strings of the same length. */
bool	 str_ct_equal(const void *, const void *, size_t);
/* The 6-bit value of a base64 character (RFC 4648 Table 1), or -1. */
int	 str_b64_value(unsigned char);

#endif
