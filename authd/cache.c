/*
 * authd/cache.c — recent lookup answers, bounded in count and age.
 *
 * Chained hash table plus a FIFO of insertion order: the oldest entry is
 * evicted when the table is full, and entries older than ttl are dropped
 * when met.  The database stays the truth: a change made with `wharf` is
 * seen after at most authd_cache_ttl.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "authd.h"

struct centry {
	struct centry	*next;		/* hash chain */
	struct centry	*older, *newer;	/* insertion order */
	char		*key;
	void		*value;
	void		(*free_fn)(void *);
	uint64_t	 expires;
};

struct cache {
	struct centry	**buckets;
	size_t		  nbuckets;
	size_t		  count, max;
	uint64_t	  ttl;
	struct centry	 *oldest, *newest;
};

/* FNV-1a: keys are addresses we were asked about; collisions only cost
   a longer chain, bounded by max. */
static size_t
hash(const char *s, size_t n)
{
	uint64_t	 h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h % n);
}

struct cache *
cache_new(uint64_t ttl_ms, size_t max)
{
	struct cache	*c = xcalloc(1, sizeof(*c));

	c->ttl = ttl_ms;
	c->max = max;
	c->nbuckets = max < 64 ? 64 : max;
	c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
	return c;
}

static void
centry_remove(struct cache *c, struct centry *e)
{
	struct centry	**p = &c->buckets[hash(e->key, c->nbuckets)];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	e->free_fn(e->value);
	free(e->key);
	free(e);
	c->count--;
}

void
cache_free(struct cache **cp)
{
	struct cache	*c = *cp;

	if (c == NULL)
		return;
	while (c->oldest != NULL)
		centry_remove(c, c->oldest);
	free(c->buckets);
	free(c);
	*cp = NULL;
}

const void *
cache_get(struct cache *c, const char *key, uint64_t now)
{
	struct centry	*e;

	if (c->max == 0 || c->ttl == 0)
		return NULL;
	for (e = c->buckets[hash(key, c->nbuckets)]; e != NULL; e = e->next) {
		if (strcmp(e->key, key) != 0)
			continue;
		if (e->expires <= now) {
			centry_remove(c, e);
			return NULL;
		}
		return e->value;
	}
	return NULL;
}

void
cache_put(struct cache *c, const char *key, void *value,
    void (*free_fn)(void *), uint64_t now)
{
	struct centry	*e, **b;

	if (c->max == 0 || c->ttl == 0) {
		free_fn(value);
		return;
	}
	b = &c->buckets[hash(key, c->nbuckets)];
	for (e = *b; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0) {
			centry_remove(c, e);
			break;
		}
	while (c->count >= c->max || (c->oldest != NULL &&
	    c->oldest->expires <= now))
		centry_remove(c, c->oldest);
	e = xcalloc(1, sizeof(*e));
	e->key = xstrdup(key);
	e->value = value;
	e->free_fn = free_fn;
	e->expires = now + c->ttl;
	e->next = *b;
	*b = e;
	e->older = c->newest;
	if (c->newest != NULL)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
	c->count++;
}
