/*
 * Address syntax for domain, user and alias arguments.
 *
 * Deliberately stricter than RFC 5321 allows (no quoted local parts, no
 * address literals): what an admin types here becomes a mailbox name.
 * Domains are compared lower-case (RFC 5321 section 2.4); local parts of
 * our own users are lower-cased too, so "Alice@" and "alice@" are one
 * user, which is what people expect even though RFC 5321 lets a server
 * tell them apart.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "wharf.h"

#define ADDR_LOCAL_MAX	64	/* RFC 5321 section 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX	253	/* 255 minus the length octets */
#define ADDR_LABEL_MAX	63	/* RFC 1035 section 2.3.4 */

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static bool
label_ok(const char *l, size_t n)
{
	size_t	 i;

	if (n == 0 || n > ADDR_LABEL_MAX || l[0] == '-' || l[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)l[i]) && l[i] != '-' &&
		    (l[i] < 'a' || l[i] > 'z'))
			return false;
	return true;
}

int
waddr_domain_check(char *domain, char **err_r)
{
	const char	*p, *dot;
	size_t		 len = strlen(domain);

	lower(domain);
	if (len == 0) {
		*err_r = xstrdup("empty domain name");
		return -1;
	}
	if (len > ADDR_DOMAIN_MAX) {
		*err_r = xasprintf("domain longer than %d octets",
		    ADDR_DOMAIN_MAX);
		return -1;
	}
	for (p = domain; ; p = dot + 1) {
		dot = strchr(p, '.');
		if (!label_ok(p, dot != NULL ? (size_t)(dot - p) : strlen(p))) {
			*err_r = xstrdup("not a valid domain name "
			    "(dot-separated labels of 1-63 letters, digits "
			    "and '-')");
			return -1;
		}
		if (dot == NULL)
			return 0;
	}
}

static int
local_check(const char *local, char **err_r)
{
	const unsigned char	*p;

	if (strlen(local) > ADDR_LOCAL_MAX) {
		*err_r = xasprintf("local part longer than %d octets",
		    ADDR_LOCAL_MAX);
		return -1;
	}
	for (p = (const unsigned char *)local; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f) {
			*err_r = xstrdup("white space or a control character "
			    "in the local part");
			return -1;
		}
	return 0;
}

int
waddr_parse(const char *in, bool catchall, bool lower_local,
    struct wharf_addr *a, char **err_r)
{
	const char	*at = strchr(in, '@');
	char		*why = NULL;

	a->local = a->domain = NULL;
	if (at == NULL || strchr(at + 1, '@') != NULL) {
		*err_r = xasprintf("'%s' is not an address (local@domain)",
		    in);
		return -1;
	}
	if (at == in && !catchall) {
		*err_r = xasprintf("'%s': empty local part", in);
		return -1;
	}
	a->local = xstrndup(in, (size_t)(at - in));
	a->domain = xstrdup(at + 1);
	if (local_check(a->local, &why) == -1 ||
	    waddr_domain_check(a->domain, &why) == -1) {
		*err_r = xasprintf("'%s': %s", in, why);
		free(why);
		waddr_clear(a);
		return -1;
	}
	if (lower_local)
		lower(a->local);
	return 0;
}

void
waddr_clear(struct wharf_addr *a)
{
	free(a->local);
	free(a->domain);
	a->local = a->domain = NULL;
}
