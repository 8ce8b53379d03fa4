/*
 * master/pg.c — the embedded PostgreSQL cluster (database = embedded).
 *
 * The cluster lives in $state_dir/pgsql, owned by the unprivileged
 * wharf_user (or the invoking user when the master is not root), and listens
 * only on a UNIX socket in $run_dir/pgsql: no TCP at all.  Authentication
 * is `peer` through the ident map "wharf": root, the master's user and the
 * cluster's user may connect as the owner role "wharf".  initdb runs once,
 * into a temporary directory renamed into place, so a crash during
 * initialisation never leaves a half-made cluster behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bsd/string.h>
#include <libpq-fe.h>

#include "buf.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "proc.h"
#include "xmalloc.h"
#include "master.h"

#define PG_PATH_MAX	1024	/* sun_path is far shorter anyway */

static char	pg_bindir[PG_PATH_MAX];
static char	pg_datadir[PG_PATH_MAX];
static char	pg_sockdir[PG_PATH_MAX];
static char	pg_owner[64];

const char *
pg_user(struct master *m)
{
	struct passwd	*pw;

	if (pg_owner[0] != '\0')
		return pg_owner;
	if (proc_is_root())
		strlcpy(pg_owner, conf_str(m->conf, "wharf_user"),
		    sizeof(pg_owner));
	else if ((pw = getpwuid(geteuid())) != NULL)
		strlcpy(pg_owner, pw->pw_name, sizeof(pg_owner));
	else
		fatalx("no passwd entry for uid %ld", (long)geteuid());
	return pg_owner;
}

/* "/usr/lib/postgresql/15/bin" sorts by its major version number. */
static long
bindir_version(const char *path)
{
	const char	*p = strstr(path, "/postgresql/");
	uint64_t	 v;
	const char	*why;
	char		 num[16];

	if (p == NULL)
		return -1;
	p += strlen("/postgresql/");
	strlcpy(num, p, sizeof(num));
	num[strcspn(num, "/")] = '\0';
	return str_to_u64(num, 0, 1000, &v, &why) == 0 ? (long)v : -1;
}

static int
find_bindir(struct master *m, char **err_r)
{
	glob_t		 g;
	long		 best = -1, v;

	if (conf_str(m->conf, "postgres_bin_dir")[0] != '\0') {
		strlcpy(pg_bindir, conf_str(m->conf, "postgres_bin_dir"),
		    sizeof(pg_bindir));
		return 0;
	}
	if (glob("/usr/lib/postgresql/*/bin/postgres", 0, NULL, &g) != 0) {
		*err_r = xstrdup("no PostgreSQL server found in "
		    "/usr/lib/postgresql/*/bin (install postgresql, or set "
		    "postgres_bin_dir)");
		return -1;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		if ((v = bindir_version(g.gl_pathv[i])) > best) {
			best = v;
			strlcpy(pg_bindir, g.gl_pathv[i], sizeof(pg_bindir));
			*strrchr(pg_bindir, '/') = '\0';
		}
	}
	globfree(&g);
	return 0;
}

/* In a forked child: become the cluster's user. */
static void
pg_child_drop(struct master *m)
{
	char	*err;

	if (proc_drop(pg_user(m), NULL, &err) == -1) {
		log_warnx("postgres: %s", err);
		_exit(126);
	}
}

/* Run a PostgreSQL tool as the cluster's user and wait for it. */
static int
pg_run(struct master *m, char *const argv[], char **err_r)
{
	pid_t	 pid;
	int	 status, devnull;

	if ((pid = fork()) == -1) {
		*err_r = xasprintf("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		pg_child_drop(m);
		if ((devnull = open("/dev/null", O_WRONLY)) != -1)
			dup2(devnull, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			break;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	*err_r = xasprintf("%s failed (status %d)", argv[0],
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return -1;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

/* Create or chown a directory for the cluster's user. */
static int
pg_mkdir(struct master *m, const char *path, mode_t mode, char **err_r)
{
	uid_t	 uid;
	gid_t	 gid;

	if (mkdir(path, mode) == -1 && errno != EEXIST) {
		*err_r = xasprintf("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	if (!proc_is_root())
		return 0;
	if (proc_user(pg_user(m), &uid, &gid, err_r) == -1)
		return -1;
	if (chown(path, uid, gid) == -1 || chmod(path, mode) == -1) {
		*err_r = xasprintf("chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
write_file_as_pg(struct master *m, const char *path, const char *text,
    char **err_r)
{
	FILE	*f;
	uid_t	 uid;
	gid_t	 gid;

	if ((f = fopen(path, "w")) == NULL) {
		*err_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	fputs(text, f);
	if (fclose(f) == EOF) {
		*err_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	chmod(path, 0600);
	if (proc_is_root() && (proc_user(pg_user(m), &uid, &gid, err_r) == -1 ||
	    chown(path, uid, gid) == -1))
		return -1;
	return 0;
}

/* Peer authentication only, mapped to the owner role "wharf". */
static int
pg_write_auth(struct master *m, const char *dir, char **err_r)
{
	char		 path[PATH_MAX];
	struct buf	 ident;
	struct passwd	*pw = getpwuid(geteuid());
	int		 rc;

	snprintf(path, sizeof(path), "%s/pg_hba.conf", dir);
	if (write_file_as_pg(m, path, "# written by wharf master\n"
	    "local all all peer map=wharf\n", err_r) == -1)
		return -1;
	buf_init(&ident, 64 * 1024);
	buf_printf(&ident, "# written by wharf master\n"
	    "wharf root wharf\nwharf %s wharf\nwharf %s wharf\n",
	    pg_user(m), pw != NULL ? pw->pw_name : "root");
	/* Each daemon's OS user may log in as its own role only. */
	for (size_t i = 0; i < master_nservices; i++) {
		const struct service_def *d = &master_services[i];

		if (d->db_role != NULL)
			buf_printf(&ident, "wharf %s %s\n", proc_is_root() ?
			    conf_str(m->conf, d->user_key) : pg_user(m),
			    d->db_role);
	}
	snprintf(path, sizeof(path), "%s/pg_ident.conf", dir);
	rc = write_file_as_pg(m, path, buf_cstr(&ident), err_r);
	buf_clear(&ident);
	return rc;
}

static int
pg_initdb(struct master *m, char **err_r)
{
	char	 tmp[PATH_MAX], initdb[PATH_MAX];
	char	*argv[] = { initdb, "-D", tmp, "-U", "wharf", "-E", "UTF8",
		    "--no-locale", "--auth-local=peer", "--auth-host=reject",
		    NULL };

	snprintf(tmp, sizeof(tmp), "%s.init", pg_datadir);
	snprintf(initdb, sizeof(initdb), "%s/initdb", pg_bindir);
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	log_info("creating the embedded PostgreSQL cluster in %s", pg_datadir);
	if (pg_mkdir(m, tmp, 0700, err_r) == -1 ||
	    pg_run(m, argv, err_r) == -1 || pg_write_auth(m, tmp, err_r) == -1)
		return -1;
	if (rename(tmp, pg_datadir) == -1) {
		*err_r = xasprintf("rename %s: %s", tmp, strerror(errno));
		return -1;
	}
	return 0;
}

/* Check the data dir belongs to the user that will run postgres. */
static int
pg_check_owner(struct master *m, char **err_r)
{
	struct stat	 st;
	uid_t		 uid = geteuid();
	gid_t		 gid;

	if (stat(pg_datadir, &st) == -1) {
		*err_r = xasprintf("%s: %s", pg_datadir, strerror(errno));
		return -1;
	}
	if (proc_is_root() && proc_user(pg_user(m), &uid, &gid, err_r) == -1)
		return -1;
	if (st.st_uid != uid) {
		*err_r = xasprintf("%s is owned by uid %ld, but the cluster "
		    "runs as %s (uid %ld)", pg_datadir, (long)st.st_uid,
		    pg_user(m), (long)uid);
		return -1;
	}
	return 0;
}

int
pg_prepare(struct master *m, char **err_r)
{
	char	 version[PATH_MAX];

	if (strlen(m->state_dir) > 900 || strlen(m->run_dir) > 900) {
		*err_r = xstrdup("state_dir or run_dir is too long");
		return -1;
	}
	snprintf(pg_datadir, sizeof(pg_datadir), "%s/pgsql", m->state_dir);
	snprintf(pg_sockdir, sizeof(pg_sockdir), "%s/pgsql", m->run_dir);
	snprintf(version, sizeof(version), "%s/PG_VERSION", pg_datadir);
	if (find_bindir(m, err_r) == -1 ||
	    pg_mkdir(m, pg_sockdir, 0755, err_r) == -1)
		return -1;
	if (access(version, F_OK) == -1 && pg_initdb(m, err_r) == -1)
		return -1;
	if (pg_check_owner(m, err_r) == -1)
		return -1;
	/* The master's user may differ from the last start: rewrite. */
	return pg_write_auth(m, pg_datadir, err_r);
}

/*
 * shared_buffers in kB: database_shared_buffers, or an eighth of the
 * memory between 128 MiB and 2 GiB (PostgreSQL's own default, 128 MiB,
 * is for small machines; its message rows then come from the kernel's
 * page cache, copied, on every FETCH of a large mailbox).
 */
static unsigned long long
pg_shared_buffers_kb(struct master *m)
{
	unsigned long long	 b = (unsigned long long)conf_int(m->conf,
				    "database_shared_buffers");
	long			 pages = sysconf(_SC_PHYS_PAGES);
	long			 page = sysconf(_SC_PAGESIZE);

	if (b == 0) {
		b = pages > 0 && page > 0 ?
		    (unsigned long long)pages * (unsigned long long)page / 8 :
		    0;
		if (b < 128ULL << 20)
			b = 128ULL << 20;
		if (b > 2ULL << 30)
			b = 2ULL << 30;
	}
	if (b < 128ULL << 10)
		b = 128ULL << 10;
	return b >> 10;
}

pid_t
pg_exec_child(struct master *m)
{
	char	 bin[PATH_MAX], sock[PATH_MAX + 32], buffers[64];
	char	*argv[16];
	int	 n = 0, devnull;
	pid_t	 pid;
	sigset_t all;

	snprintf(bin, sizeof(bin), "%s/postgres", pg_bindir);
	snprintf(sock, sizeof(sock), "unix_socket_directories=%s", pg_sockdir);
	argv[n++] = bin;
	argv[n++] = "-D";
	argv[n++] = pg_datadir;
	argv[n++] = "-c";
	argv[n++] = "listen_addresses=";
	argv[n++] = "-c";
	argv[n++] = sock;
	snprintf(buffers, sizeof(buffers), "shared_buffers=%llukB",
	    pg_shared_buffers_kb(m));
	argv[n++] = "-c";
	argv[n++] = buffers;
	if (!m->foreground) {
		argv[n++] = "-c";
		argv[n++] = "log_destination=syslog";
		argv[n++] = "-c";
		argv[n++] = "syslog_ident=wharf-postgres";
	}
	argv[n] = NULL;
	if ((pid = fork()) == -1) {
		log_warn("postgres: fork");
		return -1;
	}
	if (pid != 0)
		return pid;
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	if ((devnull = open("/dev/null", O_RDWR)) != -1) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		if (!m->foreground)
			dup2(devnull, 2);
	}
	close_range(3, ~0U, 0);
	pg_child_drop(m);
	/* If the master dies, shut down fast rather than linger. */
	prctl(PR_SET_PDEATHSIG, SIGINT);
	if (getppid() == 1)
		_exit(1);
	execv(bin, argv);
	_exit(127);
}

static char *
pg_conninfo(const char *db)
{
	return xasprintf("host='%s' dbname='%s' user='wharf' "
	    "connect_timeout=5", pg_sockdir, db);
}

/* 1: accepting connections; 0: not yet. */
int
pg_ping(struct master *m)
{
	char		*ci = pg_conninfo("postgres");
	PGPing		 r = PQping(ci);

	free(ci);
	(void)m;
	return r == PQPING_OK;
}

static int
pg_create_database(char **err_r)
{
	char		*ci = pg_conninfo("postgres");
	PGconn		*c = db_connect_sync(ci, err_r);
	PGresult	*res = NULL;
	int		 rc = -1;

	free(ci);
	if (c == NULL)
		return -1;
	if (db_exec_sync(c, "SELECT 1 FROM pg_database WHERE datname = $1",
	    1, (const char *const[]){ "wharf" }, &res, err_r) == -1)
		goto out;
	if (PQntuples(res) == 0) {
		PQclear(res);
		res = NULL;
		log_info("creating database wharf");
		if (db_exec_sync(c, "CREATE DATABASE wharf", 0, NULL, &res,
		    err_r) == -1)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	PQfinish(c);
	return rc;
}

/* Once the server answers: the database, then the migrations. */
int
pg_bootstrap(struct master *m, char **err_r)
{
	char	*ci;
	PGconn	*c;
	int	 n;

	if (strcmp(conf_str(m->conf, "database"), "embedded") == 0 &&
	    pg_create_database(err_r) == -1)
		return -1;
	ci = db_conninfo(conf_str(m->conf, "database"), m->run_dir, NULL);
	c = db_connect_sync(ci, err_r);
	free(ci);
	if (c == NULL)
		return -1;
	n = db_migrate(c, db_migrations, db_migrations_count, err_r);
	PQfinish(c);
	if (n > 0)
		log_info("database: %d migration(s) applied", n);
	return n < 0 ? -1 : 0;
}
