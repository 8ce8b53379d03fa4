/*
 * wharf — the administration command: start/stop/reload/status of the
 * master, main.conf printing, checking and editing, and the domains, users
 * and aliases kept in PostgreSQL.
 *
 * SECURITY
 *	Run by root or by the administrator, never installed set-uid, never
 *	started by the master.  It trusts its caller, main.conf (the file
 *	named by -c or $WHARF_CONFIG), the master's control socket and the
 *	database; it parses no untrusted network input.  Command arguments
 *	are checked (address syntax) before they reach SQL, and SQL is only
 *	ever sent with parameters.  Passwords are read from the terminal or
 *	stdin, never from argv (which any local user can see in ps), hashed
 *	with argon2id here and wiped from memory right after.
 *
 * STANDARDS
 *	RFC 5321 section 4.5.3.1 (local part at most 64 octets, domain at
 *	most 255), RFC 1123 section 2.1 (host name labels); RFC 9106
 *	(Argon2id).  Exit status 3 for "not running" follows the LSB init
 *	script conventions for `status`.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "wharf.h"

#ifndef WHARF_SYSCONFDIR
#define WHARF_SYSCONFDIR "/etc/wharf"
#endif

static const struct {
	const char	*name;
	int		(*fn)(struct wharf *, int, char **);
} commands[] = {
	{ "start",	cmd_start },
	{ "stop",	cmd_stop },
	{ "reload",	cmd_reload },
	{ "status",	cmd_status },
	{ "config",	cmd_config },
	{ "domain",	cmd_domain },
	{ "user",	cmd_user },
	{ "alias",	cmd_alias },
	{ "queue",	cmd_queue },
};

void
wharf_errx(const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fputs("wharf: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
wharf_usage(void)
{
	fputs("usage: wharf [-c file] start [-f]\n"
	    "       wharf [-c file] stop | reload | status\n"
	    "       wharf [-c file] config [-n | -d]\n"
	    "       wharf [-c file] config check | get key | set key=value\n"
	    "       wharf [-c file] domain add | del domain\n"
	    "       wharf [-c file] domain list\n"
	    "       wharf [-c file] domain admin add | del domain address\n"
	    "       wharf [-c file] domain admin list [domain]\n"
	    "       wharf [-c file] user add | del | passwd | lock | unlock "
	    "address\n"
	    "       wharf [-c file] user list [domain]\n"
	    "       wharf [-c file] user log address [count]\n"
	    "       wharf [-c file] alias add address target ...\n"
	    "       wharf [-c file] alias del address [target ...]\n"
	    "       wharf [-c file] alias list [address | domain]\n"
	    "       wharf [-c file] queue list | show id\n"
	    "       wharf [-c file] queue flush [id | ALL]\n"
	    "       wharf [-c file] queue hold | release | delete id | ALL\n"
	    "       mailq [-c file]\n", stderr);
	return WHARF_EXIT_USAGE;
}

struct conf *
wharf_conf(struct wharf *w)
{
	char	*err = NULL;

	if (w->conf == NULL && (w->conf = conf_load(w->conf_path,
	    &err)) == NULL) {
		wharf_errx("%s", err);
		free(err);
	}
	return w->conf;
}

static const char *
default_conf_path(void)
{
	const char	*env = getenv("WHARF_CONFIG");

	return env != NULL && *env != '\0' ? env :
	    WHARF_SYSCONFDIR "/main.conf";
}

static int
dispatch(struct wharf *w, int argc, char **argv)
{
	size_t	 i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].fn(w, argc - 1, argv + 1);
	wharf_errx("unknown command '%s'", argv[0]);
	return wharf_usage();
}

/* Called as "mailq" (a link to wharf), as sendmail's mailq is. */
static bool
is_mailq(const char *prog)
{
	const char	*base = strrchr(prog, '/');

	return strcmp(base != NULL ? base + 1 : prog, "mailq") == 0;
}

int
main(int argc, char **argv)
{
	struct wharf	 w = { .conf_path = default_conf_path() };
	const char	*prog = argc > 0 ? argv[0] : "wharf";
	int		 ch, rc;

	log_init("wharf", LOG_TO_STDERR, LOG_LEVEL_WARN);
	/* "+": options end at the command word (GNU getopt). */
	opterr = 0;
	while ((ch = getopt(argc, argv, "+c:")) != -1) {
		switch (ch) {
		case 'c':
			w.conf_path = optarg;
			break;
		default:
			wharf_errx(optopt == 'c' ? "-c needs a file" :
			    "unknown option -%c", optopt);
			return wharf_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (is_mailq(prog))		/* sendmail's "mailq": the list */
		rc = dispatch(&w, 2, (char *[]){ "queue", "list", NULL });
	else if (argc == 0)
		return wharf_usage();
	else
		rc = dispatch(&w, argc, argv);
	conf_free(&w.conf);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		wharf_errx("write error on standard output");
		rc = WHARF_EXIT_ERR;
	}
	return rc;
}
