/*
 * xmalloc — allocation wrappers that never return NULL.
 *
 * Out of memory is not an input error: every wrapper calls fatalx() on
 * failure, so callers need no NULL checks.  xfreezero() wipes before freeing
 * (use it for anything that held a secret).
 */
#ifndef WHARF_XMALLOC_H
#define WHARF_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
/* Like xreallocarray, zeroing bytes [old*size, new*size). */
void	*xrecallocarray(void *, size_t, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xmemdup(const void *, size_t);
/* Returns the formatted string; never NULL. */
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char	*xvasprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));
/* explicit_bzero(p, len) then free(p); accepts NULL. */
void	 xfreezero(void *, size_t);

#endif
