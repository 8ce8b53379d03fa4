/*
 * wharf domain | user | alias — the mail domains, users and aliases in
 * PostgreSQL (sql/001_initial.sql).  All of this subsystem's SQL is in
 * this file, so it can be read against the owner role it runs as.
 *
 * Connects as the owner role with db_conninfo(): for database = embedded
 * that is the master's private cluster over its UNIX socket, so the
 * master must be running.  Addresses are checked (addr.c) and normalised
 * to lower case before they reach SQL; SQL only ever takes parameters.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "db.h"
#include "xmalloc.h"
#include "wharf.h"

/* The domain's id, or NULL after saying it does not exist. */
static char *
domain_id(struct adm *a, const char *domain)
{
	const char	*p[] = { domain };
	char		*id;
	bool		 failed;

	id = adm_value(a, "SELECT id FROM domains WHERE name = $1", 1, p,
	    &failed);
	if (id == NULL && !failed)
		adm_fail(a, "domain %s does not exist (add it first: "
		    "wharf domain add %s)", domain, domain);
	return id;
}

/* Parse an address argument; -1 after saying why. */
static int
parse_addr(const char *what, const char *in, bool catchall, bool lower,
    struct wharf_addr *addr)
{
	char	*err = NULL;

	if (waddr_parse(in, catchall, lower, addr, &err) == 0)
		return 0;
	wharf_errx("%s: %s", what, err);
	free(err);
	return -1;
}

static int
parse_domain(const char *what, char *domain)
{
	char	*err = NULL;

	if (waddr_domain_check(domain, &err) == 0)
		return 0;
	wharf_errx("%s: '%s': %s", what, domain, err);
	free(err);
	return -1;
}

/*
 * Domains.
 */

static int
domain_add(struct adm *a, int argc, char **argv)
{
	const char	*domain = argv[0], *p[] = { domain };
	int		 n;

	if (parse_domain(a->what, argv[0]) == -1 || adm_open(a) == -1)
		return WHARF_EXIT_ERR;
	n = adm_rows(a, "INSERT INTO domains (name) VALUES ($1) "
	    "ON CONFLICT (name) DO NOTHING RETURNING id", 1, p);
	if (n == -1)
		return WHARF_EXIT_ERR;
	if (n == 0)
		return adm_fail(a, "domain %s already exists", domain);
	printf("wharf: domain %s added\n", domain);
	return WHARF_EXIT_OK;
}

/* Why a domain could not be deleted. */
static int
domain_del_why(struct adm *a, const char *domain)
{
	const char	*p[] = { domain };
	PGresult	*res;
	int		 rc;

	res = adm_q(a, "SELECT (SELECT count(*) FROM users u "
	    "WHERE u.domain_id = d.id), (SELECT count(*) FROM aliases l "
	    "WHERE l.domain_id = d.id) FROM domains d WHERE d.name = $1",
	    1, p);
	if (res == NULL)
		return WHARF_EXIT_ERR;
	if (PQntuples(res) == 0)
		rc = adm_fail(a, "no such domain %s", domain);
	else
		rc = adm_fail(a, "domain %s still has %s user(s) and %s "
		    "alias(es): delete them first", domain,
		    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);
	return rc;
}

static int
domain_del(struct adm *a, int argc, char **argv)
{
	const char	*domain = argv[0], *p[] = { domain };
	int		 n;

	if (parse_domain(a->what, argv[0]) == -1 || adm_open(a) == -1)
		return WHARF_EXIT_ERR;
	n = adm_rows(a, "DELETE FROM domains d WHERE d.name = $1 "
	    "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.domain_id = d.id) "
	    "AND NOT EXISTS (SELECT 1 FROM aliases l "
	    "WHERE l.domain_id = d.id) RETURNING d.id", 1, p);
	if (n == -1)
		return WHARF_EXIT_ERR;
	if (n == 0)
		return domain_del_why(a, domain);
	printf("wharf: domain %s deleted\n", domain);
	return WHARF_EXIT_OK;
}

static int
domain_list(struct adm *a, int argc, char **argv)
{
	if (adm_open(a) == -1)
		return WHARF_EXIT_ERR;
	return adm_list(a, "SELECT name FROM domains ORDER BY name", 0, NULL);
}

/*
 * Users.
 */

static char *
waddr_str(const struct wharf_addr *addr)
{
	return xasprintf("%s@%s", addr->local, addr->domain);
}

/* 0 when local@domain is not a user yet, else -1 after saying why. */
static int
user_absent(struct adm *a, const char *did, const struct wharf_addr *u)
{
	const char	*p[] = { did, u->local };
	int		 n;

	n = adm_rows(a, "SELECT 1 FROM users "
	    "WHERE domain_id = $1 AND localpart = $2", 2, p);
	if (n > 0)
		adm_fail(a, "user %s@%s already exists", u->local, u->domain);
	return n == 0 ? 0 : -1;
}

static int
user_insert(struct adm *a, const char *did, const struct wharf_addr *u,
    const char *hash)
{
	const char	*p[] = { did, u->local, hash };

	if (adm_rows(a, "INSERT INTO users (domain_id, localpart, "
	    "password_hash) VALUES ($1, $2, $3) RETURNING id", 3, p) != 1)
		return WHARF_EXIT_ERR;
	printf("wharf: user %s@%s added\n", u->local, u->domain);
	return WHARF_EXIT_OK;
}

/* The password is asked for only once the user can be added. */
static int
user_add(struct adm *a, int argc, char **argv)
{
	struct wharf_addr	 u;
	char			*did = NULL, *hash = NULL;
	int			 rc = WHARF_EXIT_ERR;

	if (parse_addr(a->what, argv[0], false, true, &u) == -1)
		return WHARF_EXIT_ERR;
	if (adm_open(a) == 0 && (did = domain_id(a, u.domain)) != NULL &&
	    user_absent(a, did, &u) == 0 &&
	    (hash = passwd_new_hash(a->w->conf, a->what)) != NULL)
		rc = user_insert(a, did, &u, hash);
	free(hash);
	free(did);
	waddr_clear(&u);
	return rc;
}

/* The user's id, malloc'd, or NULL after saying why. */
static char *
user_id(struct adm *a, const struct wharf_addr *u)
{
	const char	*p[] = { u->domain, u->local };
	char		*id;
	bool		 failed;

	id = adm_value(a, "SELECT u.id FROM users u "
	    "JOIN domains d ON d.id = u.domain_id "
	    "WHERE d.name = $1 AND u.localpart = $2", 2, p, &failed);
	if (id == NULL && !failed)
		adm_fail(a, "no such user %s@%s", u->local, u->domain);
	return id;
}

static int
user_passwd(struct adm *a, int argc, char **argv)
{
	struct wharf_addr	 u;
	const char		*p[2];
	char			*uid = NULL, *hash = NULL;
	int			 rc = WHARF_EXIT_ERR;

	if (parse_addr(a->what, argv[0], false, true, &u) == -1)
		return WHARF_EXIT_ERR;
	if (adm_open(a) == 0 && (uid = user_id(a, &u)) != NULL &&
	    (hash = passwd_new_hash(a->w->conf, a->what)) != NULL) {
		p[0] = uid;
		p[1] = hash;
		if (adm_rows(a, "UPDATE users SET password_hash = $2 "
		    "WHERE id = $1 RETURNING id", 2, p) == 1) {
			printf("wharf: password of %s@%s changed\n", u.local,
			    u.domain);
			rc = WHARF_EXIT_OK;
		}
	}
	free(hash);
	free(uid);
	waddr_clear(&u);
	return rc;
}

/* One statement on one user: $1 domain, $2 local part, RETURNING. */
static int
user_change(struct adm *a, char *arg, const char *sql, const char *done)
{
	struct wharf_addr	 u;
	const char		*p[2];
	int			 n;

	if (parse_addr(a->what, arg, false, true, &u) == -1)
		return WHARF_EXIT_ERR;
	p[0] = u.domain;
	p[1] = u.local;
	if (adm_open(a) == -1 || (n = adm_rows(a, sql, 2, p)) == -1)
		n = -1;
	else if (n == 0)
		adm_fail(a, "no such user %s@%s", u.local, u.domain);
	else
		printf("wharf: user %s@%s %s\n", u.local, u.domain, done);
	waddr_clear(&u);
	return n > 0 ? WHARF_EXIT_OK : WHARF_EXIT_ERR;
}

/* Mailboxes, messages and the rest go with the user (ON DELETE CASCADE). */
static int
user_del(struct adm *a, int argc, char **argv)
{
	return user_change(a, argv[0], "DELETE FROM users u USING domains d "
	    "WHERE u.domain_id = d.id AND d.name = $1 AND u.localpart = $2 "
	    "RETURNING u.id", "deleted");
}

static int
user_lock(struct adm *a, int argc, char **argv)
{
	return user_change(a, argv[0], "UPDATE users u SET enabled = false "
	    "FROM domains d WHERE u.domain_id = d.id AND d.name = $1 "
	    "AND u.localpart = $2 RETURNING u.id", "locked");
}

/* Also ends a lockout after failed logins. */
static int
user_unlock(struct adm *a, int argc, char **argv)
{
	return user_change(a, argv[0], "UPDATE users u SET enabled = true, "
	    "failed_logins = 0, locked_until = NULL, last_failed_at = NULL "
	    "FROM domains d "
	    "WHERE u.domain_id = d.id AND d.name = $1 AND u.localpart = $2 "
	    "RETURNING u.id", "unlocked");
}

/* address, status (enabled | locked | throttled), created (UTC). */
static int
user_list(struct adm *a, int argc, char **argv)
{
	const char	*p[] = { argc > 0 ? argv[0] : "" };
	char		*did = NULL;

	if (argc > 0 && parse_domain(a->what, argv[0]) == -1)
		return WHARF_EXIT_ERR;
	if (adm_open(a) == -1 ||
	    (argc > 0 && (did = domain_id(a, argv[0])) == NULL))
		return WHARF_EXIT_ERR;
	free(did);
	return adm_list(a, "SELECT u.localpart || '@' || d.name, "
	    "CASE WHEN NOT u.enabled THEN 'locked' "
	    "WHEN u.locked_until > now() THEN 'throttled' "
	    "ELSE 'enabled' END, "
	    "to_char(u.created_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	    "FROM users u JOIN domains d ON d.id = u.domain_id "
	    "WHERE $1 = '' OR d.name = $1 ORDER BY d.name, u.localpart",
	    1, p);
}

/* The login audit of one account, newest first (authd writes it). */
static int
user_log(struct adm *a, int argc, char **argv)
{
	struct wharf_addr	 u;
	const char		*p[2];
	char			*account, count[24] = "20";
	uint64_t		 n;
	const char		*why;
	int			 rc;

	if (argc > 1 && str_to_u64(argv[1], 1, 100000, &n, &why) == -1) {
		wharf_errx("%s: count '%s': %s", a->what, argv[1], why);
		return WHARF_EXIT_ERR;
	}
	if (argc > 1)
		snprintf(count, sizeof(count), "%llu", (unsigned long long)n);
	if (parse_addr(a->what, argv[0], false, true, &u) == -1)
		return WHARF_EXIT_ERR;
	account = waddr_str(&u);
	p[0] = account;
	p[1] = count;
	rc = adm_open(a) == -1 ? WHARF_EXIT_ERR : adm_list(a,
	    "SELECT to_char(at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), service, "
	    "coalesce(host(client_ip), '-'), result, coalesce(detail, '') "
	    "FROM audit_log WHERE account = $1 "
	    "ORDER BY at DESC, id DESC LIMIT $2::int", 2, p);
	free(account);
	waddr_clear(&u);
	return rc;
}

/*
 * Domain administrators: users who may submit mail as any address of
 * the domain (sql/004_submission.sql).
 * wharf domain admin add|del DOMAIN ADDRESS, wharf domain admin list
 * [DOMAIN].
 */
static int
domain_admin_change(struct adm *a, bool add, char *domain, char *user)
{
	struct wharf_addr	 u;
	const char		*p[2];
	char			*did = NULL, *uid = NULL;
	int			 n = -1;

	if (parse_domain(a->what, domain) == -1 ||
	    parse_addr(a->what, user, false, true, &u) == -1)
		return WHARF_EXIT_ERR;
	if (adm_open(a) == 0 && (did = domain_id(a, domain)) != NULL &&
	    (uid = user_id(a, &u)) != NULL) {
		p[0] = did;
		p[1] = uid;
		n = adm_rows(a, add ? "INSERT INTO domain_admins (domain_id, "
		    "user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING "
		    "RETURNING 1" : "DELETE FROM domain_admins WHERE "
		    "domain_id = $1 AND user_id = $2 RETURNING 1", 2, p);
	}
	if (n >= 0)
		printf("wharf: %s@%s %s administrator of %s\n", u.local,
		    u.domain, n == 0 ? (add ? "was already" : "was not") :
		    (add ? "is now" : "is no longer"), domain);
	free(did);
	free(uid);
	waddr_clear(&u);
	return n >= 0 ? WHARF_EXIT_OK : WHARF_EXIT_ERR;
}

static int
domain_admin(struct adm *a, int argc, char **argv)
{
	const char	*p[1];

	if ((strcmp(argv[0], "add") == 0 || strcmp(argv[0], "del") == 0) &&
	    argc == 3)
		return domain_admin_change(a, argv[0][0] == 'a', argv[1],
		    argv[2]);
	if (strcmp(argv[0], "list") != 0 || argc > 2)
		return wharf_usage();
	if (argc == 2 && parse_domain(a->what, argv[1]) == -1)
		return WHARF_EXIT_ERR;
	p[0] = argc == 2 ? argv[1] : "";
	if (adm_open(a) == -1)
		return WHARF_EXIT_ERR;
	return adm_list(a, "SELECT d.name, u.localpart || '@' || ud.name "
	    "FROM domain_admins x JOIN domains d ON d.id = x.domain_id "
	    "JOIN users u ON u.id = x.user_id "
	    "JOIN domains ud ON ud.id = u.domain_id "
	    "WHERE $1 = '' OR d.name = $1 ORDER BY 1, 2", 1, p);
}

/*
 * Aliases: (domain, local part) -> target, one row per target; the local
 * part '' is the domain's catch-all, written "@domain".
 */

/* Targets as stored: the local part as given (it may be another
   system's, RFC 5321 section 2.4), the domain lower-case. */
static char **
alias_targets(struct adm *a, int n, char **in)
{
	struct wharf_addr	 t;
	char			**v;
	int			 i;

	v = xcalloc((size_t)n + 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		if (parse_addr(a->what, in[i], false, false, &t) == -1) {
			str_list_free(&v);
			return NULL;
		}
		v[i] = waddr_str(&t);
		waddr_clear(&t);
	}
	return v;
}

static int
adm_tx(struct adm *a, const char *cmd)
{
	return adm_rows(a, cmd, 0, NULL) == -1 ? -1 : 0;
}

/* In one transaction: all targets are added, or none. */
static int
alias_insert(struct adm *a, const char *did, const char *addr,
    const char *local, char **targets)
{
	const char	*p[] = { did, local, NULL };
	size_t		 i;
	int		 n = 0;

	if (adm_tx(a, "BEGIN") == -1)
		return WHARF_EXIT_ERR;
	for (i = 0; targets[i] != NULL && n != -1; i++) {
		p[2] = targets[i];
		n = adm_rows(a, "INSERT INTO aliases (domain_id, localpart, "
		    "target) SELECT $1::bigint, $2::text, $3::text "
		    "WHERE NOT EXISTS (SELECT 1 FROM aliases "
		    "WHERE domain_id = $1::bigint AND localpart = $2::text "
		    "AND target = $3::text) RETURNING id", 3, p);
		if (n == 0) {
			adm_fail(a, "alias %s -> %s already exists", addr,
			    targets[i]);
			n = -1;
		}
	}
	if (n == -1 || adm_tx(a, "COMMIT") == -1) {
		adm_tx(a, "ROLLBACK");
		return WHARF_EXIT_ERR;
	}
	printf("wharf: alias %s added\n", addr);
	return WHARF_EXIT_OK;
}

static int
alias_add(struct adm *a, int argc, char **argv)
{
	struct wharf_addr	 l;
	char			**t = NULL, *addr = NULL, *did = NULL;
	int			 i, rc = WHARF_EXIT_ERR;

	if (parse_addr(a->what, argv[0], true, true, &l) == -1)
		return WHARF_EXIT_ERR;
	addr = waddr_str(&l);
	if ((t = alias_targets(a, argc - 1, argv + 1)) == NULL)
		goto out;
	for (i = 0; t[i] != NULL; i++)
		if (strcmp(t[i], addr) == 0) {
			adm_fail(a, "%s cannot be an alias of itself", addr);
			goto out;
		}
	if (adm_open(a) == 0 && (did = domain_id(a, l.domain)) != NULL)
		rc = alias_insert(a, did, addr, l.local, t);
out:
	free(did);
	str_list_free(&t);
	free(addr);
	waddr_clear(&l);
	return rc;
}

/* One target, or every one when target is NULL. */
static int
alias_delete_one(struct adm *a, const struct wharf_addr *l,
    const char *addr, const char *target)
{
	const char	*p[] = { l->domain, l->local, target ? target : "" };
	int		 n;

	n = adm_rows(a, "DELETE FROM aliases l USING domains d "
	    "WHERE l.domain_id = d.id AND d.name = $1 AND l.localpart = $2 "
	    "AND ($3 = '' OR l.target = $3) RETURNING l.id", 3, p);
	if (n == 0)
		adm_fail(a, "no such alias %s%s%s", addr,
		    target != NULL ? " -> " : "", target ? target : "");
	return n > 0 ? 0 : -1;
}

/* In one transaction: all targets are deleted, or none. */
static int
alias_delete(struct adm *a, const struct wharf_addr *l, const char *addr,
    char **targets)
{
	size_t	 i;
	int	 r = 0;

	if (adm_tx(a, "BEGIN") == -1)
		return WHARF_EXIT_ERR;
	if (targets[0] == NULL)
		r = alias_delete_one(a, l, addr, NULL);
	for (i = 0; targets[i] != NULL && r == 0; i++)
		r = alias_delete_one(a, l, addr, targets[i]);
	if (r == -1 || adm_tx(a, "COMMIT") == -1) {
		adm_tx(a, "ROLLBACK");
		return WHARF_EXIT_ERR;
	}
	printf("wharf: alias %s deleted\n", addr);
	return WHARF_EXIT_OK;
}

/* Without targets every row of the address goes. */
static int
alias_del(struct adm *a, int argc, char **argv)
{
	struct wharf_addr	 l;
	char			**t, *addr;
	int			 rc = WHARF_EXIT_ERR;

	if (parse_addr(a->what, argv[0], true, true, &l) == -1)
		return WHARF_EXIT_ERR;
	addr = waddr_str(&l);
	if ((t = alias_targets(a, argc - 1, argv + 1)) != NULL &&
	    adm_open(a) == 0)
		rc = alias_delete(a, &l, addr, t);
	str_list_free(&t);
	free(addr);
	waddr_clear(&l);
	return rc;
}

/* alias list [address | domain]: address, target. */
static int
alias_list(struct adm *a, int argc, char **argv)
{
	struct wharf_addr	 l = { NULL, NULL };
	const char		*p[] = { "", "", "f" };
	int			 rc = WHARF_EXIT_ERR;

	if (argc > 0 && strchr(argv[0], '@') != NULL) {
		if (parse_addr(a->what, argv[0], true, true, &l) == -1)
			return WHARF_EXIT_ERR;
		p[0] = l.domain;
		p[1] = l.local;
		p[2] = "t";
	} else if (argc > 0) {
		if (parse_domain(a->what, argv[0]) == -1)
			return WHARF_EXIT_ERR;
		p[0] = argv[0];
	}
	if (adm_open(a) == 0)
		rc = adm_list(a, "SELECT l.localpart || '@' || d.name, "
		    "l.target FROM aliases l JOIN domains d "
		    "ON d.id = l.domain_id WHERE ($1 = '' OR d.name = $1) "
		    "AND (NOT $3::boolean OR l.localpart = $2) "
		    "ORDER BY d.name, l.localpart, l.target", 3, p);
	waddr_clear(&l);
	return rc;
}

/*
 * Dispatch: `wharf GROUP NAME ARGS...`, with min..max ARGS (-1: any).
 */
static const struct adm_cmd {
	const char	*group;
	const char	*name;
	int		 min, max;
	int		(*fn)(struct adm *, int, char **);
} adm_cmds[] = {
	{ "domain", "add", 1, 1, domain_add },
	{ "domain", "del", 1, 1, domain_del },
	{ "domain", "list", 0, 0, domain_list },
	{ "domain", "admin", 1, 3, domain_admin },
	{ "user", "add", 1, 1, user_add },
	{ "user", "del", 1, 1, user_del },
	{ "user", "passwd", 1, 1, user_passwd },
	{ "user", "lock", 1, 1, user_lock },
	{ "user", "unlock", 1, 1, user_unlock },
	{ "user", "list", 0, 1, user_list },
	{ "user", "log", 1, 2, user_log },
	{ "alias", "add", 2, -1, alias_add },
	{ "alias", "del", 1, -1, alias_del },
	{ "alias", "list", 0, 1, alias_list },
};

static int
adm_run(struct wharf *w, const char *group, int argc, char **argv)
{
	const struct adm_cmd	*c;
	struct adm		 a = { .w = w };
	char			*what;
	size_t			 i;
	int			 rc;

	for (i = 0; argc > 0 && i < sizeof(adm_cmds) / sizeof(*c); i++) {
		c = &adm_cmds[i];
		if (strcmp(c->group, group) != 0 ||
		    strcmp(c->name, argv[0]) != 0)
			continue;
		if (argc - 1 < c->min || (c->max != -1 && argc - 1 > c->max))
			break;
		what = xasprintf("%s %s", group, c->name);
		a.what = what;
		rc = c->fn(&a, argc - 1, argv + 1);
		adm_close(&a);
		free(what);
		return rc;
	}
	return wharf_usage();
}

int
cmd_domain(struct wharf *w, int argc, char **argv)
{
	return adm_run(w, "domain", argc, argv);
}

int
cmd_user(struct wharf *w, int argc, char **argv)
{
	return adm_run(w, "user", argc, argv);
}

int
cmd_alias(struct wharf *w, int argc, char **argv)
{
	return adm_run(w, "alias", argc, argv);
}
