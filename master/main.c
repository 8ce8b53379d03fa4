/*
 * master — the Wharf supervisor.
 *
 * SECURITY
 *	Runs as root (or as an ordinary user for a private test instance).
 *	Never parses mail or network input: it reads main.conf, binds the
 *	listening sockets, makes the self-signed certificate, runs initdb and
 *	supervises the embedded PostgreSQL as the unprivileged wharf_user, and
 *	forks the daemons, which drop their own privileges (lib/proc) before
 *	they report READY.  Its only socket input is $run_dir/master.sock
 *	(mode 0600, SO_PEERCRED: root or its own user) and the fd-3 sockets
 *	of its own children, whose malformed messages are logged and dropped.
 * STANDARDS
 *	None on the wire.  The child contract is lib/proto_master.h, the
 *	control protocol lib/proto_ctl.h.
 *
 * Life: load config -> pid file lock -> system users -> TLS certificate
 * -> embedded cluster (initdb once) -> [daemonize] -> listeners -> postgres
 * -> wait until it answers -> database + migrations -> daemons -> loop.
 * SIGHUP reloads, SIGTERM/SIGINT stop: daemons first, postgres last.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "blob.h"
#include "buf.h"
#include "conf.h"
#include "ev.h"
#include "log.h"
#include "proc.h"
#include "proto_ctl.h"
#include "xmalloc.h"
#include "master.h"

#define PG_START_TIMEOUT_MS	(120 * 1000)	/* crash recovery can be slow */
#define PG_POLL_MS		100

static void
usage(void)
{
	fprintf(stderr, "usage: master [-f] [-c main.conf]\n");
	exit(2);
}

/* log_level / log_format / syslog_facility of the current config. */
static void
master_apply_log(struct master *m)
{
	int	 flags = m->foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG;

	if (strcmp(conf_str(m->conf, "log_format"), "json") == 0)
		flags |= LOG_JSON;
	log_set_facility(log_facility_from_name(
	    conf_str(m->conf, "syslog_facility")));
	log_set_flags(flags);
	log_set_level(log_level_from_name(conf_str(m->conf, "log_level")));
}

/* The sealed memfd children read their config from (proto_master.h). */
static int
conf_memfd(const struct conf *c)
{
	struct buf	 b;
	int		 fd;

	buf_init(&b, 1024 * 1024);
	if (conf_serialize(c, &b) == -1)
		fatalx("config snapshot too large");
	fd = memfd_create("wharf-conf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd == -1 || write(fd, BUF_DATA(&b), b.len) != (ssize_t)b.len ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1)
		fatal("config memfd");
	buf_clear(&b);
	return fd;
}

static void
mkdir_or_die(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == -1 && errno != EEXIST)
		fatal("mkdir %s", path);
}

/* flock()ed pid file: a second master refuses to start. */
static void
pidfile_lock(struct master *m)
{
	char	 path[4096], buf[32];
	ssize_t	 n;

	snprintf(path, sizeof(path), "%s/%s", m->run_dir, CTL_PIDFILE_NAME);
	m->pidfile_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (m->pidfile_fd == -1)
		fatal("%s", path);
	if (flock(m->pidfile_fd, LOCK_EX | LOCK_NB) == 0)
		return;
	n = read(m->pidfile_fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	fatalx("another master is already running (pid %s)",
	    n > 0 ? str_trim(buf) : "?");
}

static void
pidfile_write(struct master *m)
{
	char	 buf[32];
	int	 n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(m->pidfile_fd, 0) == -1 ||
	    pwrite(m->pidfile_fd, buf, (size_t)n, 0) != n)
		log_warn("pid file");
}

static void
ensure_users(struct master *m)
{
	static const char *const keys[] = {
		"wharf_user", "wharf_auth_user", "wharf_null_user",
	};
	char	*err;

	if (!proc_is_root())
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (proc_ensure_user(conf_str(m->conf, keys[i]), m->state_dir,
		    &err) == -1)
			fatalx("%s: %s", keys[i], err);
}

/*
 * Daemon mode: the original process waits on a pipe until the daemon is
 * serving ("ok") or has failed, so `wharf start` can report either.
 */
static void
daemonize(struct master *m)
{
	int	 p[2], devnull;
	char	 c;
	pid_t	 pid;

	if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1)
		fatal("daemonize");
	if (pid != 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 && c == 'k' ? 0 : 1);
	}
	close(p[0]);
	m->ready_pipe = p[1];
	setsid();
	if ((devnull = open("/dev/null", O_RDWR)) != -1) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		if (devnull > 2)
			close(devnull);
	}
}

static void
master_ready(struct master *m)
{
	int	 devnull;

	log_info("ready: generation=%u pid=%ld", m->generation,
	    (long)getpid());
	if (m->ready_pipe == -1)
		return;
	if (write(m->ready_pipe, "k", 1) != 1)
		log_warn("ready pipe");
	close(m->ready_pipe);
	m->ready_pipe = -1;
	/* From now on the terminal is gone: log to syslog only. */
	if ((devnull = open("/dev/null", O_RDWR)) != -1) {
		dup2(devnull, 2);
		close(devnull);
	}
	log_set_flags(log_get_flags() & ~LOG_TO_STDERR);
}

static void
pg_poll(void *arg)
{
	struct master	*m = arg;
	char		*err = NULL;
	bool		 first = !m->pg_bootstrapped;

	if (!pg_ping(m)) {
		if (ev_now(m->ev) > m->pg_poll_deadline) {
			log_warnx("postgres did not accept connections in "
			    "time");
			m->exit_code = 1;
			master_stop(m, "postgres failed");
			ev_timer_del(&m->pg_poll);
			return;
		}
		ev_timer_set(m->pg_poll, PG_POLL_MS);
		return;
	}
	ev_timer_del(&m->pg_poll);
	m->pg_ready = true;
	for (struct child *c = m->children; c != NULL; c = c->next)
		if (c->svc->kind == SVC_POSTGRES && !c->ready)
			svc_child_ready(m, c);
	if (!first)
		return;
	if (pg_bootstrap(m, &err) == -1) {
		log_warnx("database: %s", err);
		free(err);
		m->exit_code = 1;
		master_stop(m, "database setup failed");
		return;
	}
	m->pg_bootstrapped = true;
	svc_start_all(m);
	master_ready(m);
}

/* Poll until the (re)started postgres answers. */
void
master_pg_watch(struct master *m)
{
	if (m->pg_poll != NULL || m->stopping)
		return;
	m->pg_poll_deadline = ev_now(m->ev) + PG_START_TIMEOUT_MS;
	m->pg_poll = ev_timer_add(m->ev, PG_POLL_MS, pg_poll, m);
}

static void
stop_timeout(void *arg)
{
	struct master	*m = arg;

	if (svc_running(m, SVC_DAEMON) > 0) {
		svc_kill(m, SVC_DAEMON, SIGKILL);
	} else if (!m->pg_quit) {
		svc_kill(m, SVC_POSTGRES, SIGQUIT);	/* immediate shutdown */
		m->pg_quit = true;
	} else
		svc_kill(m, SVC_POSTGRES, SIGKILL);
	ev_timer_set(m->stop_timer, 5000);
}

/* Daemons first (they may still need the database), postgres last. */
void
master_stop_progress(struct master *m)
{
	if (svc_running(m, SVC_DAEMON) > 0)
		return;
	if (svc_running(m, SVC_POSTGRES) > 0) {
		svc_stop_postgres(m);
		return;
	}
	ev_break(m->ev);
}

void
master_stop(struct master *m, const char *why)
{
	if (m->stopping)
		return;
	m->stopping = true;
	log_info("stopping: %s", why);
	ev_timer_del(&m->pg_poll);
	svc_stop_daemons(m);
	m->stop_timer = ev_timer_add(m->ev,
	    (uint64_t)conf_int(m->conf, "shutdown_timeout"), stop_timeout, m);
	master_stop_progress(m);
}

/* Keys a running master cannot change: they need `wharf stop; start`. */
static const char *const restart_keys[] = {
	"state_dir", "run_dir", "database", "smtp_listen",
	"submission_listen", "submissions_listen", "imap_listen",
	"imaps_listen", "admin_listen", "wharf_user", "wharf_auth_user",
	"wharf_null_user", "postgres_bin_dir",
};

static bool
is_restart_key(const char *name)
{
	for (size_t i = 0; i < sizeof(restart_keys) / sizeof(*restart_keys);
	    i++)
		if (strcmp(restart_keys[i], name) == 0)
			return true;
	return false;
}

/* Comma-separated names of the keys whose value differs; NULL if none. */
static char *
changed_keys(const struct conf *a, const struct conf *b, bool restart_only)
{
	struct buf	 out;

	buf_init(&out, 64 * 1024);
	for (size_t i = 0; i < conf_nkeys; i++) {
		const char *k = conf_keys[i].name;

		if (strcmp(conf_raw(a, k), conf_raw(b, k)) == 0 ||
		    (restart_only && !is_restart_key(k)))
			continue;
		buf_printf(&out, "%s%s", out.len ? "," : "", k);
	}
	if (out.len == 0) {
		buf_clear(&out);
		return NULL;
	}
	return buf_steal(&out, NULL);
}

int
master_reload(struct master *m, char **err_r)
{
	struct conf	*c;
	char		*bad, *changed;

	if (m->stopping) {
		*err_r = xstrdup("the master is stopping");
		return -1;
	}
	if ((c = conf_load(m->conf_path, err_r)) == NULL) {
		log_warnx("reload refused: %s", *err_r);
		return -1;
	}
	if ((bad = changed_keys(m->conf, c, true)) != NULL) {
		*err_r = xasprintf("reload refused: changing %s needs a "
		    "restart (wharf stop; wharf start)", bad);
		log_warnx("%s", *err_r);
		free(bad);
		conf_free(&c);
		return -1;
	}
	changed = changed_keys(m->conf, c, false);
	conf_free(&m->conf);
	m->conf = c;
	close(m->conf_fd);
	m->conf_fd = conf_memfd(m->conf);
	master_apply_log(m);
	svc_reload(m);
	log_info("reloaded: generation=%u changed=%s", m->generation,
	    changed != NULL ? changed : "(none)");
	free(changed);
	return 0;
}

static void
on_signal(int signo, void *arg)
{
	struct master	*m = arg;
	char		*err = NULL;

	switch (signo) {
	case SIGCHLD:
		svc_on_sigchld(m);
		break;
	case SIGHUP:
		if (master_reload(m, &err) == -1)
			free(err);
		break;
	default:
		master_stop(m, signo == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
}

static struct ev_signal *
add_signals(struct master *m, struct ev_signal **sigs)
{
	static const int signos[] = { SIGCHLD, SIGHUP, SIGINT, SIGTERM };

	for (size_t i = 0; i < 4; i++)
		sigs[i] = ev_signal_add(m->ev, signos[i], on_signal, m);
	signal(SIGPIPE, SIG_IGN);
	return sigs[0];
}

static void
master_start(struct master *m)
{
	char	*err;

	m->started = (uint64_t)time(NULL);
	m->generation = 1;
	m->conf_fd = conf_memfd(m->conf);
	if (ctl_listen(m, &err) == -1)
		fatalx("control socket: %s", err);
	svc_setup(m);
	if (strcmp(conf_str(m->conf, "database"), "embedded") == 0) {
		svc_start_postgres(m);
		master_pg_watch(m);
		return;
	}
	if (pg_bootstrap(m, &err) == -1)
		fatalx("database: %s", err);
	m->pg_bootstrapped = true;
	svc_start_all(m);
	master_ready(m);
}

/* The blob store belongs to wharf_user (qmgr writes, deliver reads). */
static void
blob_store_prepare(struct master *m)
{
	char	*dir = xasprintf("%s/blobs", m->state_dir), *tmp, *err;
	uid_t	 uid;
	gid_t	 gid;

	tmp = xasprintf("%s/tmp", dir);
	if (blob_store_init(dir, &err) == -1)
		fatalx("blob store: %s", err);
	if (proc_is_root()) {
		if (proc_user(conf_str(m->conf, "wharf_user"), &uid, &gid,
		    &err) == -1)
			fatalx("wharf_user: %s", err);
		if (chown(dir, uid, gid) == -1 || chown(tmp, uid, gid) == -1)
			fatal("chown %s", dir);
	}
	free(tmp);
	free(dir);
}

static void
master_prepare(struct master *m)
{
	char	*err;

	mkdir_or_die(m->run_dir, 0755);
	mkdir_or_die(m->state_dir, 0755);
	pidfile_lock(m);
	ensure_users(m);
	blob_store_prepare(m);
	if (tls_ensure_cert(m, &err) == -1)
		fatalx("TLS: %s", err);
	if (strcmp(conf_str(m->conf, "database"), "embedded") == 0 &&
	    pg_prepare(m, &err) == -1)
		fatalx("embedded PostgreSQL: %s", err);
}

static void
master_cleanup(struct master *m)
{
	char	 path[4096];

	ctl_close(m);
	svc_free(m);
	ev_timer_del(&m->stop_timer);
	ev_timer_del(&m->pg_poll);
	snprintf(path, sizeof(path), "%s/%s", m->run_dir, CTL_PIDFILE_NAME);
	unlink(path);
	close(m->pidfile_fd);
	close(m->conf_fd);
}

int
main(int argc, char *argv[], char *envp[])
{
	struct master	 m = { .conf_fd = -1, .ready_pipe = -1, .ctl_fd = -1 };
	struct ev_signal *sigs[4];
	char		*err;
	int		 ch;

	proc_title_init(argc, argv, envp);
	m.conf_path = getenv("WHARF_CONFIG") != NULL ? getenv("WHARF_CONFIG") :
	    WHARF_SYSCONFDIR "/main.conf";
	while ((ch = getopt(argc, argv, "c:f")) != -1) {
		switch (ch) {
		case 'c':
			m.conf_path = optarg;
			break;
		case 'f':
			m.foreground = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("master", LOG_TO_STDERR, LOG_LEVEL_INFO);
	if ((m.conf = conf_load(m.conf_path, &err)) == NULL)
		fatalx("%s", err);
	master_apply_log(&m);
	if (!m.foreground)
		log_set_flags(log_get_flags() | LOG_TO_STDERR);
	m.run_dir = xstrdup(conf_str(m.conf, "run_dir"));
	m.state_dir = xstrdup(conf_str(m.conf, "state_dir"));
	master_prepare(&m);
	if (!m.foreground)
		daemonize(&m);
	pidfile_write(&m);
	proc_title("master");
	m.ev = ev_new();
	add_signals(&m, sigs);
	master_start(&m);
	ev_run(m.ev);
	master_cleanup(&m);
	for (size_t i = 0; i < 4; i++)
		ev_signal_del(&sigs[i]);
	ev_free(&m.ev);
	log_info("stopped");
	conf_free(&m.conf);
	free(m.run_dir);
	free(m.state_dir);
	return m.exit_code;
}
