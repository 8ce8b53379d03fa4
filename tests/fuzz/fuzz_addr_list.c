/*
 * fuzz_addr_list — the RFC 5322 address list parser.
 *
 * The input is a field value, parsed with no flag, with ADDR_LIST_F_UTF8
 * and with ADDR_LIST_F_NO_GROUPS.  On success every entry must have a
 * local part and a domain, non-empty, within ADDR_LIST_PART_MAX, without
 * NUL or controls but HTAB, the domain without ASCII upper case unless it
 * is a literal.  Each entry re-formatted as local@domain (the local part
 * quoted unless it is a dot-atom) must parse back to itself alone, and
 * the whole list, re-formatted and folded, to the same list.  What
 * parses without UTF-8 parses the same with it; groups-refused parses
 * the same or fails because of a group.  Any mismatch abort()s.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr_list.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static bool
is_atext(unsigned char c)
{
	if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* 1*atext *("." 1*atext) */
static bool
is_dot_atom(const char *s)
{
	bool	 empty = true;

	for (; *s != '\0'; s++) {
		if (*s == '.' && empty)
			return false;
		empty = *s == '.';
		if (!empty && !is_atext((unsigned char)*s))
			return false;
	}
	return !empty;
}

static void
check_part(const char *s)
{
	size_t	 i, n = strlen(s);

	check(n > 0 && n <= ADDR_LIST_PART_MAX);
	for (i = 0; i < n; i++)
		check((unsigned char)s[i] >= 32 || s[i] == '\t');
	for (i = 0; i < n; i++)
		check(s[i] != 127);
}

static void
check_entry(const struct addr_list_entry *e)
{
	const char	*p;

	check_part(e->local);
	check_part(e->domain);
	if (e->domain[0] == '[') {
		check(e->domain[strlen(e->domain) - 1] == ']');
		return;
	}
	check(is_dot_atom(e->domain));
	for (p = e->domain; *p != '\0'; p++)
		check(*p < 'A' || *p > 'Z');
}

/* Append local@domain at out, quoting the local part; the new end. */
static char *
format_entry(char *out, const struct addr_list_entry *e)
{
	const char	*p;
	bool		 q = !is_dot_atom(e->local);

	if (q)
		*out++ = '"';
	for (p = e->local; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			*out++ = '\\';
		*out++ = *p;
	}
	if (q)
		*out++ = '"';
	*out++ = '@';
	memcpy(out, e->domain, strlen(e->domain));
	return out + strlen(e->domain);
}

static bool
entry_eq(const struct addr_list_entry *a, const struct addr_list_entry *b)
{
	return strcmp(a->local, b->local) == 0 &&
	    strcmp(a->domain, b->domain) == 0;
}

static bool
list_eq(const struct addr_list *a, const struct addr_list *b)
{
	size_t	 i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (!entry_eq(&a->v[i], &b->v[i]))
			return false;
	return true;
}

static void
entry_trip(const struct addr_list_entry *e, int flags)
{
	struct addr_list	 l;
	const char		*why;
	char			*s, *end;

	s = malloc(2 * strlen(e->local) + strlen(e->domain) + 4);
	check(s != NULL);
	end = format_entry(s, e);
	check(addr_list_parse(s, (size_t)(end - s), flags, &l, &why) == 0);
	check(l.n == 1 && entry_eq(e, &l.v[0]));
	addr_list_clear(&l);
	free(s);
}

/* All entries, ",\r\n " between them: folding and list round trip. */
static void
list_trip(const struct addr_list *a, int flags)
{
	struct addr_list	 b;
	const char		*why;
	char			*s, *end;
	size_t			 i, size = 1;

	for (i = 0; i < a->n; i++)
		size += 2 * strlen(a->v[i].local) + strlen(a->v[i].domain) + 8;
	s = malloc(size);
	check(s != NULL);
	end = s;
	for (i = 0; i < a->n; i++) {
		if (i > 0) {
			memcpy(end, ",\r\n ", 4);
			end += 4;
		}
		end = format_entry(end, &a->v[i]);
	}
	if (a->n > 0 && end - s <= ADDR_LIST_VALUE_MAX) {
		check(addr_list_parse(s, (size_t)(end - s), flags, &b,
		    &why) == 0);
		check(list_eq(a, &b));
		addr_list_clear(&b);
	}
	free(s);
}

static int
parse(const uint8_t *data, size_t size, int flags, struct addr_list *l)
{
	const char	*why = "unset";
	size_t		 i;

	if (addr_list_parse((const char *)data, size, flags, l, &why) == -1) {
		check(why != NULL && why[0] != '\0');
		check(l->v == NULL && l->n == 0);
		return -1;
	}
	check(why == NULL);
	check(l->n <= ADDR_LIST_ENTRIES_MAX);
	for (i = 0; i < l->n; i++) {
		check_entry(&l->v[i]);
		entry_trip(&l->v[i], flags);
	}
	list_trip(l, flags);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_list	 plain, utf8, nogrp;
	const char		*why;
	int			 rp, ru, rg;

	rp = parse(data, size, 0, &plain);
	ru = parse(data, size, ADDR_LIST_F_UTF8, &utf8);
	rg = parse(data, size, ADDR_LIST_F_NO_GROUPS, &nogrp);
	if (rp == 0)
		check(ru == 0 && list_eq(&plain, &utf8));
	if (rg == 0)
		check(rp == 0 && list_eq(&plain, &nogrp));
	else if (rp == 0) {
		check(addr_list_parse((const char *)data, size,
		    ADDR_LIST_F_NO_GROUPS, &nogrp, &why) == -1);
		check(strcmp(why, "group not allowed") == 0);
	}
	addr_list_clear(&plain);
	addr_list_clear(&utf8);
	addr_list_clear(&nogrp);
	return 0;
}
