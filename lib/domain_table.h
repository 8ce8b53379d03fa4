/*
 * domain_table — "domain value" tables (transport_file,
 * smtp_tls_policy_file) and next-hop syntax, for the outbound mta.
 *
 * Table text: one entry a line, "domain value" separated by blanks;
 * blank lines and lines whose first non-blank is '#' are skipped.  The
 * domain is a host name ("example.org": that domain only) or a dot and a
 * host name (".example.org": every subdomain of it, not itself); it is
 * kept in lower case, a trailing dot dropped.  The value is one word,
 * checked by the caller's check function.  A domain given twice is an
 * error.  Lookup is case-insensitive and the most specific entry wins:
 * "a.b.example.org" tries "a.b.example.org", then ".b.example.org",
 * ".example.org", ".org".
 *
 * Next hop ("relayhost", transport values), like Postfix's:
 *	[host]:port  [host]	the host's addresses, no MX lookup
 *	host:port    host	the MX records of host (RFC 5321 5.1)
 *	[192.0.2.1]:port  [2001:db8::1]:port  (or without the port)
 *				that address as is
 * The port is decimal 1..65535, 25 when absent.  An IP address must be in
 * brackets; an IPv6 address may carry the "IPv6:" tag of RFC 5321 4.1.3.
 */
#ifndef WHARF_DOMAIN_TABLE_H
#define WHARF_DOMAIN_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOMAIN_TABLE_NAME_MAX	253		/* host name octets */
#define DOMAIN_TABLE_VALUE_MAX	512		/* value octets */
#define DOMAIN_TABLE_FILE_MAX	(16 * 1024 * 1024)

struct domain_table;

/* Checks one value; 0, or -1 with a static *err_r. */
typedef int domain_table_check_fn(const char *value, const char **err_r);

/*
 * Parse text[0..len) (no NUL needed).  name is for messages: errors read
 * "name:LINE: reason".  check may be NULL.  0 and *t_r, or -1 and *err_r.
 */
int	domain_table_parse(const char *text, size_t len, const char *name,
	    domain_table_check_fn *check, struct domain_table **t_r,
	    char **err_r);
/* Read path (at most DOMAIN_TABLE_FILE_MAX) and parse it. */
int	domain_table_load(const char *path, domain_table_check_fn *check,
	    struct domain_table **t_r, char **err_r);
void	domain_table_free(struct domain_table **);	/* NULL-safe */
size_t	domain_table_count(const struct domain_table *);
/* Is value (case-insensitive) some entry's value?  NULL table: false. */
bool	domain_table_has_value(const struct domain_table *,
	    const char *value);

/* The value for domain (NULL: no entry).  NULL table: NULL. */
const char *domain_table_lookup(const struct domain_table *,
	    const char *domain);

struct domain_table_hop {
	char		 host[DOMAIN_TABLE_NAME_MAX + 1];	/* name or IP */
	uint16_t	 port;
	bool		 mx_lookup;	/* "host" form: look up its MX */
	bool		 literal;	/* an IP address */
};

/* 0, or -1 with a static *err_r. */
int	domain_table_parse_hop(const char *, struct domain_table_hop *,
	    const char **err_r);
/* A check function accepting next hops. */
int	domain_table_check_hop(const char *value, const char **err_r);

#endif
