/*
 * authd/conncount.c — SMTP connections per client address, over every
 * smtpd process (smtpd_client_connection_limit), like Postfix's anvil.
 *
 * A total per address, plus for each reporting smtpd connection the
 * addresses it counted, so that when an smtpd process dies (its
 * connection to authd closes) exactly its sessions are forgotten.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "xmalloc.h"
#include "authd.h"

#define BUCKETS		4096

struct total {
	struct total	*next;
	char		 ip[64];
	unsigned	 n;
};

static struct total	*buckets[BUCKETS];

static size_t
hash(const char *s)
{
	uint64_t	 h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h % BUCKETS);
}

static struct total **
total_find(const char *ip)
{
	struct total	**p = &buckets[hash(ip)];

	while (*p != NULL && strcmp((*p)->ip, ip) != 0)
		p = &(*p)->next;
	return p;
}

static void
total_add(const char *ip, int delta)
{
	struct total	**p = total_find(ip), *t = *p;

	if (t == NULL) {
		if (delta <= 0)
			return;
		t = *p = xcalloc(1, sizeof(*t));
		strlcpy(t->ip, ip, sizeof(t->ip));
	}
	if (delta < 0 && t->n < (unsigned)-delta)
		t->n = 0;
	else
		t->n = (unsigned)((int)t->n + delta);
	if (t->n == 0) {
		*p = t->next;
		free(t);
	}
}

/* The per-client list: (address, count) pairs. */
static struct conn_ip *
client_entry(struct conn_ips *c, const char *ip, bool create)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].ip, ip) == 0)
			return &c->v[i];
	if (!create)
		return NULL;
	c->v = xreallocarray(c->v, c->n + 1, sizeof(*c->v));
	memset(&c->v[c->n], 0, sizeof(c->v[c->n]));
	strlcpy(c->v[c->n].ip, ip, sizeof(c->v[c->n].ip));
	return &c->v[c->n++];
}

bool
conncount_connect(struct conn_ips *c, const char *ip, unsigned limit)
{
	struct total	*t = *total_find(ip);

	if (t != NULL && t->n >= limit)
		return false;
	total_add(ip, 1);
	client_entry(c, ip, true)->n++;
	return true;
}

void
conncount_disconnect(struct conn_ips *c, const char *ip)
{
	struct conn_ip	*e = client_entry(c, ip, false);

	if (e == NULL || e->n == 0)
		return;		/* not counted here: nothing to undo */
	e->n--;
	total_add(ip, -1);
	if (e->n == 0)
		*e = c->v[--c->n];
}

/* The reporting smtpd went away: forget its sessions. */
void
conncount_forget(struct conn_ips *c)
{
	for (size_t i = 0; i < c->n; i++)
		total_add(c->v[i].ip, -(int)c->v[i].n);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

void
conncount_free_all(void)
{
	struct total	*t;

	for (size_t i = 0; i < BUCKETS; i++)
		while ((t = buckets[i]) != NULL) {
			buckets[i] = t->next;
			free(t);
		}
}
