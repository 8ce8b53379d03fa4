/*
 * mta/tables.c — what the mta reads at start, as root: transport_file,
 * smtp_tls_policy_file, relayhost and its AUTH file, the trust anchors.
 *
 * A reload starts a new generation of processes, so a changed table is
 * read again by `wharf reload`.  Any error is fatal at start (the master
 * reports the failed start): mail must not go a wrong way because a
 * table line was skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "conf.h"
#include "log.h"
#include "service.h"
#include "tls.h"
#include "xmalloc.h"
#include "mta.h"

#define AUTH_FILE_MAX	1024

int
tls_level_parse(const char *s, enum smtp_tls_policy *p)
{
	static const char *const names[] = {
		[SMTP_TLS_NONE] = "none", [SMTP_TLS_MAY] = "may",
		[SMTP_TLS_ENCRYPT] = "encrypt", [SMTP_TLS_VERIFY] = "verify",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i]) == 0) {
			*p = (enum smtp_tls_policy)i;
			return 0;
		}
	return -1;
}

static int
tls_level_check(const char *value, const char **err_r)
{
	enum smtp_tls_policy	 p;

	if (tls_level_parse(value, &p) == -1) {
		*err_r = "expected none, may, encrypt or verify";
		return -1;
	}
	return 0;
}

static struct domain_table *
table_load(const struct conf *c, const char *key,
    domain_table_check_fn *check)
{
	struct domain_table	*t;
	const char		*path = conf_str(c, key);
	char			*err;

	if (*path == '\0')
		return NULL;
	if (domain_table_load(path, check, &t, &err) == -1)
		fatalx("%s: %s", key, err);
	log_info("%s %s: %zu entries", key, path, domain_table_count(t));
	return t;
}

/* "user password": the user is the first word, the password the rest. */
static void
auth_parse(struct mta *m, const char *path, char *text)
{
	char	*user, *pass;
	size_t	 n;

	text[strcspn(text, "\r\n")] = '\0';
	user = text + strspn(text, " \t");
	n = strcspn(user, " \t");
	pass = user + n;
	pass += strspn(pass, " \t");
	user[n] = '\0';
	if (*user == '\0' || *pass == '\0')
		fatalx("relayhost_auth_file %s: expected one line "
		    "\"user password\"", path);
	if (strlen(user) > SMTP_CLIENT_CRED_MAX ||
	    strlen(pass) > SMTP_CLIENT_CRED_MAX)
		fatalx("relayhost_auth_file %s: user or password longer "
		    "than %d", path, SMTP_CLIENT_CRED_MAX);
	m->auth_user = xstrdup(user);
	m->auth_pass = xstrdup(pass);
}

static void
auth_load(struct mta *m, const char *path)
{
	char		 text[AUTH_FILE_MAX + 1];
	struct stat	 st;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		fatal("relayhost_auth_file %s", path);
	if (fstat(fd, &st) == -1)
		fatal("relayhost_auth_file %s", path);
	if (!S_ISREG(st.st_mode))
		fatalx("relayhost_auth_file %s: not a regular file", path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		fatalx("relayhost_auth_file %s: mode %03o gives access to "
		    "group or other (chmod 600 it)", path,
		    (unsigned)(st.st_mode & 0777));
	if ((r = read(fd, text, sizeof(text))) == -1)
		fatal("relayhost_auth_file %s", path);
	close(fd);
	if (r > AUTH_FILE_MAX)
		fatalx("relayhost_auth_file %s: too large", path);
	text[r] = '\0';
	auth_parse(m, path, text);
	explicit_bzero(text, sizeof(text));
}

static void
relay_load(struct mta *m, const struct conf *c)
{
	const char	*relay = conf_str(c, "relayhost");
	const char	*auth = conf_str(c, "relayhost_auth_file");
	const char	*why;

	if (*relay != '\0') {
		if (domain_table_parse_hop(relay, &m->relay, &why) == -1)
			fatalx("relayhost %s: %s", relay, why);
		m->relay_set = true;
	}
	if (*auth == '\0')
		return;
	if (!m->relay_set) {
		log_warnx("relayhost_auth_file is set but relayhost is not: "
		    "ignored");
		return;
	}
	auth_load(m, auth);
}

/* Does any policy ask for TLS, or for verification? */
static void
tls_needs(const struct mta *m, bool *any_r, bool *verify_r)
{
	static const char *const levels[] = { "may", "encrypt", "verify" };

	*any_r = m->tls_default != SMTP_TLS_NONE || m->auth_user != NULL;
	*verify_r = m->tls_default == SMTP_TLS_VERIFY;
	for (size_t i = 0; i < 3; i++)
		if (domain_table_has_value(m->tls_policy, levels[i])) {
			*any_r = true;
			if (i == 2)
				*verify_r = true;
		}
}

static void
tls_load(struct mta *m, const struct conf *c)
{
	const char	*ca = conf_str(c, "smtp_tls_ca_file");
	bool		 any, verify;
	char		*err;

	tls_needs(m, &any, &verify);
	if (!any && *ca == '\0')
		return;
	m->tls_ctx = tls_client_ctx_new(verify, *ca != '\0' ? ca : NULL,
	    &err);
	if (m->tls_ctx == NULL)
		fatalx("smtp_tls_ca_file: %s", err);
}

int
tables_load(struct mta *m, char **err_r)
{
	const struct conf	*c = m->svc->conf;

	m->transport = table_load(c, "transport_file",
	    domain_table_check_hop);
	m->tls_policy = table_load(c, "smtp_tls_policy_file",
	    tls_level_check);
	relay_load(m, c);
	tls_load(m, c);
	(void)err_r;
	return 0;
}

void
tables_free(struct mta *m)
{
	domain_table_free(&m->transport);
	domain_table_free(&m->tls_policy);
	tls_ctx_free(&m->tls_ctx);
	if (m->auth_pass != NULL)
		xfreezero(m->auth_pass, strlen(m->auth_pass));
	m->auth_pass = NULL;
	free(m->auth_user);
	m->auth_user = NULL;
}
