/*
 * authd/login.c — checking a password (AUTH_PASSWORD).
 *
 * One answer for every failure: wrong password, no such user, account
 * disabled or locked, client address locked, all get AUTH_FAILED after
 * the same delay, and the hash is computed for a missing or disabled user
 * too (against a dummy hash), so neither the reply nor its timing says
 * whether an account exists.  Locked logins skip the hash: that is what
 * a lockout is for, and it is decided by counters that exist for any
 * name, existing or not.
 *
 * Failures are counted per account (users.failed_logins in the database,
 * so `wharf user list|unlock` see them; in memory for names that are no
 * account) and per client address (in memory); each one within
 * auth_lockout_time of the one before adds one.  The reply to a failure
 * waits auth_failure_delay, doubled for each earlier failure of that
 * account or address, up to auth_failure_delay_max; reaching
 * auth_lockout_failures (auth_ip_lockout_failures) locks for
 * auth_lockout_time.  Every success and failure is written to audit_log.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "addr.h"
#include "ev.h"
#include "log.h"
#include "proto_auth.h"
#include "service.h"
#include "xmalloc.h"
#include "authd.h"

#define USER_MAX	320	/* RFC 5321 local part + "@" + domain */

struct login {
	struct login		*next;
	struct authd		*a;
	struct authd_client	*cl;	/* NULL once the client went away */
	uint32_t		 id;
	char			 service[16];
	char			 user[USER_MAX + 1];	/* lower case */
	char			 user_log[200];		/* log_safe */
	char			 ip[64];
	char			 mech[24];
	char			*pw;
	uint64_t		 user_id;
	char			*account;
	char			*stored;
	const char		*why;	/* the failure, NULL while none */
	struct ev_timer		*delay;
};

/* Failed logins of one key ("i:" address or "a:" name), in memory. */
struct throttle {
	unsigned	 failures;
	uint64_t	 locked_until;
};

static void
throttle_free(void *p)
{
	free(p);
}

static bool
throttle_locked(struct authd *a, const char *key)
{
	uint64_t		 now = ev_now(a->svc->ev);
	const struct throttle	*t = cache_get(a->throttle, key, now);

	return t != NULL && t->locked_until > now;
}

/* One more failure; the entry lives auth_lockout_time after it. */
static unsigned
throttle_fail(struct authd *a, const char *key, unsigned threshold)
{
	uint64_t		 now = ev_now(a->svc->ev);
	const struct throttle	*old = cache_get(a->throttle, key, now);
	struct throttle		*t = xcalloc(1, sizeof(*t));
	unsigned		 n;
	char			 safe[200];

	if (old != NULL)
		*t = *old;
	if (t->locked_until > now) {	/* locked: not prolonged */
		free(t);
		return threshold;
	}
	n = ++t->failures;
	if (threshold > 0 && n >= threshold) {
		t->locked_until = now + a->lockout_time;
		log_info("too many failed logins: %s locked for %llu s",
		    log_safe(safe, sizeof(safe), key, strlen(key)), (unsigned long long)(a->lockout_time / 1000));
	}
	cache_put(a->throttle, key, t, throttle_free, now);
	return n;
}

static void
login_free(struct login *l)
{
	struct authd	*a = l->a;

	for (struct login **p = &a->logins; *p != NULL; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			break;
		}
	if (l->pw != NULL)
		xfreezero(l->pw, strlen(l->pw) + 1);
	ev_timer_del(&l->delay);
	free(l->account);
	free(l->stored);
	free(l);
	a->pending--;
	authd_request_done(a);
}

static void
login_reply(struct login *l, uint32_t status)
{
	if (l->cl != NULL)
		client_reply_login(l->cl, l->id, status, status == AUTH_OK ?
		    l->user_id : 0, status == AUTH_OK ? l->account : "");
	login_free(l);
}

static void
login_tempfail(struct login *l, const char *why)
{
	log_warnx("login user=%s ip=%s service=%s: temporary failure: %s",
	    l->user_log, l->ip, l->service, why);
	login_reply(l, AUTH_TEMPFAIL);
}

static void
login_delay_done(void *arg)
{
	login_reply(arg, AUTH_FAILED);
}

/* auth_failure_delay doubled per earlier failure, at most ..._max. */
static uint64_t
login_delay(const struct authd *a, unsigned failures)
{
	uint64_t	 d = a->fail_delay;

	for (unsigned i = 1; i < failures && d < a->fail_delay_max; i++)
		d *= 2;
	return d < a->fail_delay_max ? d : a->fail_delay_max;
}

static void
login_fail_answer(struct login *l, unsigned failures)
{
	struct authd	*a = l->a;
	char		 key[80];
	unsigned	 n;

	snprintf(key, sizeof(key), "i:%s", l->ip);
	n = throttle_fail(a, key, a->ip_lockout_failures);
	if (n > failures)
		failures = n;
	log_info("login failed user=%s ip=%s service=%s mech=%s: %s",
	    l->user_log, l->ip, l->service, l->mech, l->why);
	lookup_audit(a, l->service, l->user, l->ip, "fail", l->why);
	l->delay = ev_timer_add(a->svc->ev, login_delay(a, failures),
	    login_delay_done, l);
}

static void
login_failed_counted(int failures, bool locked_now, void *arg)
{
	struct login	*l = arg;

	if (locked_now) {
		log_info("too many failed logins: account %s locked for "
		    "%llu s", l->user_log,
		    (unsigned long long)(l->a->lockout_time / 1000));
		lookup_audit(l->a, l->service, l->user, l->ip, "lockout",
		    "too many failed logins");
	}
	login_fail_answer(l, failures > 0 ? (unsigned)failures : 1);
}

static void
login_fail(struct login *l)
{
	struct authd	*a = l->a;
	char		 key[USER_MAX + 8];
	bool		 locked = strcmp(l->why, "account locked") == 0 ||
			    strcmp(l->why, "client address locked") == 0;

	if (locked) {
		login_fail_answer(l, a->lockout_failures > 0 ?
		    a->lockout_failures : 1);
		return;
	}
	if (l->user_id != 0) {
		lookup_login_failed(a, l->user_id, login_failed_counted, l);
		return;
	}
	snprintf(key, sizeof(key), "a:%s", l->user);
	login_fail_answer(l, throttle_fail(a, key, a->lockout_failures));
}

static void
login_success(struct login *l, const char *fresh)
{
	log_info("login ok user=%s ip=%s service=%s mech=%s%s", l->account,
	    l->ip, l->service, l->mech, fresh != NULL ? " rehashed" : "");
	lookup_login_ok(l->a, l->user_id, l->stored, fresh);
	lookup_audit(l->a, l->service, l->account, l->ip, "ok",
	    fresh != NULL ? "password rehashed" : NULL);
	login_reply(l, AUTH_OK);
}

static void
login_verified(int result, const char *fresh, void *arg)
{
	struct login	*l = arg;

	xfreezero(l->pw, strlen(l->pw) + 1);
	l->pw = NULL;
	if (result == PW_LOST) {
		login_tempfail(l, "no password worker answered");
		return;
	}
	if (result == PW_ERROR && l->why == NULL)
		l->why = "stored password hash unusable";
	if (result == PW_MATCH && l->why == NULL) {
		login_success(l, fresh);
		return;
	}
	if (l->why == NULL)
		l->why = "wrong password";
	login_fail(l);
}

static void
login_verify(struct login *l)
{
	bool	 rehash = l->a->rehash && l->why == NULL;

	if (pwpool_verify(l->a->pool, l->why == NULL ? l->stored : "", l->pw,
	    rehash, login_verified, l) == -1)
		login_tempfail(l, "too many logins waiting for a hash");
}

static void
login_user(int found, uint64_t user_id, const char *account,
    const char *hash, bool enabled, bool locked, void *arg)
{
	struct login	*l = arg;
	char		 key[USER_MAX + 8];

	if (found == -1) {
		login_tempfail(l, "database unavailable");
		return;
	}
	if (found == 0) {
		snprintf(key, sizeof(key), "a:%s", l->user);
		l->why = throttle_locked(l->a, key) ? "account locked" :
		    "unknown user";
	} else {
		l->user_id = user_id;
		l->account = xstrdup(account);
		l->stored = hash != NULL ? xstrdup(hash) : NULL;
		l->why = locked ? "account locked" : !enabled ?
		    "account disabled" : hash == NULL ? "no password set" :
		    NULL;
	}
	if (l->why != NULL && strcmp(l->why, "account locked") == 0)
		login_fail(l);
	else
		login_verify(l);
}

/* A name that can be an account: UTF-8 text, no controls, an "@". */
static bool
user_valid(const char *user)
{
	size_t	 n = strlen(user);

	if (n == 0 || n > USER_MAX || strchr(user, '@') == NULL ||
	    !addr_utf8_valid(user, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
			return false;
	return true;
}

void
login_start(struct authd *a, struct authd_client *cl, uint32_t id,
    const char *service, const char *user, const char *pw, const char *ip,
    const char *mech)
{
	struct login	*l = xcalloc(1, sizeof(*l));
	char		 key[80];

	l->a = a;
	l->cl = cl;
	l->id = id;
	strlcpy(l->service, service, sizeof(l->service));
	strlcpy(l->ip, ip, sizeof(l->ip));
	strlcpy(l->mech, mech, sizeof(l->mech));
	if (user_valid(user))
		strlcpy(l->user, user, sizeof(l->user));
	else		/* kept for the log and the audit only */
		log_safe(l->user, sizeof(l->user), user, strlen(user));
	for (char *p = l->user; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	log_safe(l->user_log, sizeof(l->user_log), l->user, strlen(l->user));
	l->pw = xstrdup(pw);
	l->next = a->logins;
	a->logins = l;
	a->pending++;
	snprintf(key, sizeof(key), "i:%s", l->ip);
	if (throttle_locked(a, key)) {
		l->why = "client address locked";
		login_fail(l);
	} else if (!user_valid(user)) {
		l->why = "unknown user";
		login_verify(l);
	} else
		lookup_user(a, l->user, login_user, l);
}

void
login_client_gone(struct authd *a, struct authd_client *cl)
{
	for (struct login *l = a->logins; l != NULL; l = l->next)
		if (l->cl == cl)
			l->cl = NULL;
}

void
login_flush(struct authd *a)
{
	struct login	*l, *next;

	for (l = a->logins; l != NULL; l = next) {
		next = l->next;
		if (l->delay != NULL)
			login_reply(l, AUTH_FAILED);
	}
}
