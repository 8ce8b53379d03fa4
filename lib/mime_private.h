/*
 * mime_private — shared by lib/mime*.c only; see mime.h for the API.
 */
#ifndef WHARF_MIME_PRIVATE_H
#define WHARF_MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

struct mime_part;
struct mime_param;

/*
 * Parse one unfolded Content-* value (v, len; no NUL) into part.  At most
 * max parameters (or languages) are kept; *limited is set when more were
 * dropped.  mime_content_type() returns false when the value has no
 * type "/" subtype (part untouched).
 */
bool	mime_content_type(struct mime_part *, const char *v, size_t len,
	    unsigned int max, bool *limited);
void	mime_content_encoding(struct mime_part *, const char *v, size_t len);
void	mime_content_disposition(struct mime_part *, const char *v,
	    size_t len, unsigned int max, bool *limited);
void	mime_content_language(struct mime_part *, const char *v, size_t len,
	    unsigned int max, bool *limited);

void	mime_param_free_list(struct mime_param *, size_t);

#endif
