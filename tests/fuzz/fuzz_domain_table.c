/*
 * fuzz_domain_table — the table parser, lookups and the next-hop parser.
 *
 * The input is parsed as a table (with the next-hop check, and without
 * one); when it parses, every line's domain is looked up and must find
 * an entry, and a few derived names are looked up too.  Each line is also
 * fed to the next-hop parser: an accepted hop must have a host and a
 * port, and an IP literal must not be an MX lookup.  Any mismatch
 * abort()s.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain_table.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static void
hop_one(const char *s)
{
	struct domain_table_hop	 h;
	const char		*err = NULL;

	if (domain_table_parse_hop(s, &h, &err) == -1) {
		check(err != NULL);
		return;
	}
	check(h.host[0] != '\0' && h.port != 0);
	check(!(h.literal && h.mx_lookup));
	check(strlen(h.host) <= DOMAIN_TABLE_NAME_MAX);
}

/* Every line's first word, looked up, must match something. */
static void
lookups(const struct domain_table *t, const char *text)
{
	char		 word[300];
	const char	*p = text;
	size_t		 n;

	while (*p != '\0') {
		p += strspn(p, " \t\r\n");
		n = strcspn(p, " \t\r\n");
		if (n > 0 && n < sizeof(word) && *p != '#') {
			memcpy(word, p, n);
			word[n] = '\0';
			if (word[0] != '.')
				check(domain_table_lookup(t, word) != NULL);
			else
				(void)domain_table_lookup(t, word);
			word[0] = 'x';
			(void)domain_table_lookup(t, word);
		}
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
}

static void
lines_as_hops(const char *text)
{
	char	 line[600];
	size_t	 n;

	while (*text != '\0') {
		n = strcspn(text, "\n");
		if (n < sizeof(line)) {
			memcpy(line, text, n);
			line[n] = '\0';
			hop_one(line);
		}
		text += n;
		if (*text == '\n')
			text++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct domain_table	*t = NULL;
	char			*text, *err = NULL;

	if (size > 64 * 1024)
		return 0;
	if (domain_table_parse((const char *)data, size, "fuzz",
	    domain_table_check_hop, &t, &err) == 0)
		domain_table_free(&t);
	else
		free(err);
	err = NULL;
	text = malloc(size + 1);
	check(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	if (domain_table_parse(text, strlen(text), "fuzz", NULL, &t,
	    &err) == 0) {
		lookups(t, text);
		domain_table_free(&t);
	} else
		free(err);
	lines_as_hops(text);
	free(text);
	return 0;
}
