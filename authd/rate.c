/*
 * authd/rate.c — how much each user submitted in the last hour.
 *
 * Per user, counts of the current and the previous clock-hour window; the
 * last hour is estimated as the current count plus the share of the
 * previous one that the sliding hour still covers (the way sliding-window
 * rate limiters usually approximate it).  Kept in memory only: authd is
 * one process, and a restart forgets at most an hour of counts.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ev.h"
#include "service.h"
#include "xmalloc.h"
#include "authd.h"

#define HOUR_MS		(3600ULL * 1000)

struct rate {
	uint64_t	 start;			/* of the current window */
	uint64_t	 msgs[2], rcpts[2];	/* [0] current, [1] previous */
};

static void
rate_free(void *p)
{
	free(p);
}

static void
rate_roll(struct rate *r, uint64_t now)
{
	uint64_t	 windows = (now - r->start) / HOUR_MS;

	if (windows == 0)
		return;
	r->msgs[1] = windows == 1 ? r->msgs[0] : 0;
	r->rcpts[1] = windows == 1 ? r->rcpts[0] : 0;
	r->msgs[0] = r->rcpts[0] = 0;
	r->start += windows * HOUR_MS;
}

static bool
rate_over(const uint64_t count[2], uint64_t into, unsigned add,
    unsigned limit)
{
	uint64_t	 prev = count[1] * (HOUR_MS - into) / HOUR_MS;

	return limit > 0 && add > 0 && count[0] + prev + add > limit;
}

bool
rate_take(struct authd *a, uint64_t user_id, unsigned messages,
    unsigned recipients)
{
	uint64_t	 now = ev_now(a->svc->ev);
	const struct rate *old;
	struct rate	*r = xcalloc(1, sizeof(*r));
	char		 key[32];

	snprintf(key, sizeof(key), "%llu", (unsigned long long)user_id);
	if ((old = cache_get(a->rates, key, now)) != NULL)
		*r = *old;
	else
		r->start = now;
	rate_roll(r, now);
	if (rate_over(r->msgs, now - r->start, messages, a->message_rate) ||
	    rate_over(r->rcpts, now - r->start, recipients, a->rcpt_rate)) {
		free(r);
		return false;
	}
	r->msgs[0] += messages;
	r->rcpts[0] += recipients;
	cache_put(a->rates, key, r, rate_free, now);
	return true;
}
