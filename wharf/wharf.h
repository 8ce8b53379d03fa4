/*
 * wharf — the admin command's private header.
 *
 * Every command is a function `int cmd_x(struct wharf *, int argc,
 * char **argv)` that returns the process exit status; argv[0] is the
 * command's first word after the group ("add" for `wharf user add`).
 * Messages for the user go through wharf_errx() ("wharf: ...") on stderr;
 * results go to stdout.
 */
#ifndef WHARF_WHARF_H
#define WHARF_WHARF_H

#include <stdbool.h>
#include <libpq-fe.h>
#include <stdint.h>

/* Exit statuses (wharf(8) EXIT STATUS). */
#define WHARF_EXIT_OK		0
#define WHARF_EXIT_ERR		1
#define WHARF_EXIT_USAGE	2
#define WHARF_EXIT_NOTRUNNING	3	/* `status`, as LSB init scripts do */

struct conf;

struct wharf {
	const char	*conf_path;	/* -c, $WHARF_CONFIG or the default */
	struct conf	*conf;		/* loaded on first wharf_conf() */
};

/* main.c */
void	wharf_errx(const char *, ...) __attribute__((format(printf, 1, 2)));
int	wharf_usage(void);
/* The loaded config, or NULL after printing why. */
struct conf *wharf_conf(struct wharf *);

/* ctl.c: the master. */
int	cmd_start(struct wharf *, int, char **);
int	cmd_stop(struct wharf *, int, char **);
int	cmd_reload(struct wharf *, int, char **);
int	cmd_status(struct wharf *, int, char **);

/* config.c */
int	cmd_config(struct wharf *, int, char **);

/* users.c: domains, users, aliases (all of their SQL). */
int	cmd_domain(struct wharf *, int, char **);
int	cmd_user(struct wharf *, int, char **);
int	cmd_alias(struct wharf *, int, char **);

/* addr.c: address syntax. */
struct wharf_addr {
	char	*local;		/* "" for a catch-all ("@domain") */
	char	*domain;	/* lower-case */
};
/*
 * Parse "local@domain" (or "@domain" when catchall is true): exactly one
 * '@', a local part of 1..64 octets without white space or control
 * characters, a valid host name.  lower: lower-case the local part too.
 * 0, or -1 with *err_r.
 */
int	waddr_parse(const char *, bool catchall, bool lower,
	    struct wharf_addr *, char **err_r);
/* Lower-cases in place; 0 or -1 with *err_r. */
int	waddr_domain_check(char *domain, char **err_r);
void	waddr_clear(struct wharf_addr *);

/* passwd.c: reading and hashing a new password. */
/* Read it (tty: prompt twice; else one line of stdin) and return its
   argon2id encoding, malloc'd; NULL after printing "what: why". */
/* adm.c: one admin command against the database */
struct adm {
	struct wharf	*w;
	PGconn		*pg;		/* adm_open() */
	const char	*what;		/* "user add": message prefix */
};
int	adm_fail(struct adm *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	adm_open(struct adm *);
void	adm_close(struct adm *);
/* The result (caller PQclear), or NULL after saying why. */
PGresult *adm_q(struct adm *, const char *sql, int n,
	    const char *const *params);
/* Rows returned (an UPDATE ... RETURNING: rows changed), or -1. */
int	adm_rows(struct adm *, const char *sql, int n,
	    const char *const *params);
/* The first column of the first row, malloc'd; NULL if no row. */
char	*adm_value(struct adm *, const char *sql, int n,
	    const char *const *params, bool *failed_r);
/* Print the rows, columns aligned, control characters made safe. */
int	adm_list(struct adm *, const char *sql, int n,
	    const char *const *params);

/* queue.c */
int	cmd_queue(struct wharf *, int, char **);

char	*passwd_new_hash(const struct conf *, const char *what);

#endif
