/*
 * master/service.c — the service table, spawning and supervising children.
 *
 * Each service keeps `want` children of the current generation.  A child
 * that exits before READY throttles its service: the next start waits
 * service_backoff_min, doubling up to service_backoff_max.  A child that
 * crashes after READY is restarted at once.  Reload starts a new
 * generation and tells the old one MASTER_STOP; stop does the same with no
 * new generation, then SIGKILLs what is left after shutdown_timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "buf.h"
#include "conf.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "net.h"
#include "proc.h"
#include "proto_master.h"
#include "xmalloc.h"
#include "master.h"

/*
 * Daemons that exist.  A daemon is added here in the same change that
 * adds its folder; services not built yet are simply absent.
 */
const struct service_def master_services[] = {
	/* name	   user key		listen keys  multi  private  db role */
	{ "authd", "wharf_auth_user",	{ NULL },    false, "authd",
	  "wharf_authd" },
	{ "deliver", "wharf_user",	{ NULL },    true,  "deliver",
	  "wharf_deliver" },
	{ "imapd", "wharf_user",	{ "imap_listen", "imaps_listen" },
	  true, NULL, "wharf_imapd" },
	{ "mta", "wharf_null_user",	{ NULL },    true,  "mta", NULL },
	{ "qmgr", "wharf_user",		{ NULL },    false, "qmgr",
	  "wharf_qmgr" },
	{ "smtpd", "wharf_null_user",	{ "smtp_listen", "submission_listen",
	  "submissions_listen" }, true, NULL, NULL },
};
const size_t master_nservices =
    sizeof(master_services) / sizeof(master_services[0]);

static void	child_spawn_next(struct master *, struct service *);

static uint64_t
unix_now(void)
{
	return (uint64_t)time(NULL);
}

static struct service *
svc_new(struct master *m, const char *name, enum svc_kind kind)
{
	struct service	*s = xcalloc(1, sizeof(*s));
	struct service	**tail = &m->services;

	s->master = m;
	s->name = name;
	s->kind = kind;
	s->want = 1;
	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = s;
	return s;
}

static void
svc_add_listener(struct service *s, struct buf *env, const char *key, int fd)
{
	s->listen_fds = xreallocarray(s->listen_fds, s->nlisten + 1,
	    sizeof(int));
	s->listen_fds[s->nlisten] = fd;
	buf_printf(env, "%s%s:%zu", env->len ? " " : "", key,
	    MASTER_FD_LISTEN + s->nlisten);
	s->nlisten++;
}

/* $run_dir/private/<name>.sock: reachable by the other daemons, which
   authenticate to it with SO_PEERCRED checks on the daemon's side. */
static void
svc_bind_private(struct master *m, struct service *s, struct buf *env)
{
	char	 path[4096], *err;
	int	 fd;

	snprintf(path, sizeof(path), "%s/private", m->run_dir);
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		fatal("mkdir %s", path);
	snprintf(path, sizeof(path), "%s/private/%s.sock", m->run_dir,
	    s->def->private_sock);
	if ((fd = ipc_listen_unix(path, 0666, &err)) == -1)
		fatalx("%s: %s", s->name, err);
	svc_add_listener(s, env, "private", fd);
}

/* Bind every address of the service's listen keys; fatal on error. */
static void
svc_bind(struct master *m, struct service *s)
{
	struct buf	 env;
	struct net_addr	 a;
	const char	*why;
	char		*err, *const *list;
	size_t		 n;
	int		 fd;

	buf_init(&env, 64 * 1024);
	for (size_t k = 0; k < 3 && s->def->listen_keys[k] != NULL; k++) {
		list = conf_list(m->conf, s->def->listen_keys[k], &n);
		for (size_t i = 0; i < n; i++) {
			if (net_parse_addr(list[i], &a, &why) == -1)
				fatalx("%s: %s: %s", s->def->listen_keys[k],
				    list[i], why);
			if ((fd = net_listen(&a, 512, &err)) == -1)
				fatalx("%s: %s", s->def->listen_keys[k], err);
			svc_add_listener(s, &env, s->def->listen_keys[k], fd);
		}
	}
	if (s->def->private_sock != NULL)
		svc_bind_private(m, s, &env);
	s->listen_env = buf_steal(&env, NULL);
}

static bool
svc_has_listeners_configured(struct master *m, const struct service_def *d)
{
	size_t	 n;

	if (d->listen_keys[0] == NULL)
		return true;	/* internal service: always on */
	for (size_t k = 0; k < 3 && d->listen_keys[k] != NULL; k++) {
		(void)conf_list(m->conf, d->listen_keys[k], &n);
		if (n > 0)
			return true;
	}
	return false;
}

static unsigned
svc_want(struct master *m, const struct service_def *d)
{
	return d->multi ? (unsigned)conf_int(m->conf, "process_limit") : 1;
}

void
svc_setup(struct master *m)
{
	struct service	*s;

	if (strcmp(conf_str(m->conf, "database"), "embedded") == 0)
		svc_new(m, "postgres", SVC_POSTGRES);
	for (size_t i = 0; i < master_nservices; i++) {
		if (!svc_has_listeners_configured(m, &master_services[i]))
			continue;	/* an empty *_listen turns it off */
		s = svc_new(m, master_services[i].name, SVC_DAEMON);
		s->def = &master_services[i];
		s->want = svc_want(m, s->def);
		svc_bind(m, s);
	}
}

static unsigned
svc_count(struct master *m, struct service *s, bool current_only)
{
	unsigned	 n = 0;

	for (struct child *c = m->children; c != NULL; c = c->next)
		if (c->svc == s && (!current_only ||
		    (c->generation == m->generation && !c->stopping)))
			n++;
	return n;
}

static struct child *
child_new(struct master *m, struct service *s, pid_t pid)
{
	struct child	*c = xcalloc(1, sizeof(*c));

	c->svc = s;
	c->pid = pid;
	c->started = unix_now();
	c->started_ms = ev_now(m->ev);
	c->generation = m->generation;
	c->next = m->children;
	m->children = c;
	return c;
}

void
svc_child_free(struct master *m, struct child *c)
{
	for (struct child **p = &m->children; *p != NULL; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	ipc_conn_free(&c->ctl);
	ev_timer_del(&c->ready_timer);
	free(c);
}

/* Runs in the forked child: put fds in place per proto_master.h. */
static void
child_setup_fds(struct master *m, struct service *s, int ctl)
{
	int	 hi[2 + 64], n = 0, devnull;
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	/* Move every source out of the way before dup2-ing into place. */
	hi[n++] = fcntl(ctl, F_DUPFD, 100);
	hi[n++] = fcntl(m->conf_fd, F_DUPFD, 100);
	for (size_t i = 0; i < s->nlisten && i < 64; i++)
		hi[n++] = fcntl(s->listen_fds[i], F_DUPFD, 100);
	devnull = open("/dev/null", O_RDWR);
	dup2(devnull, 0);
	dup2(devnull, 1);
	if (!m->foreground)
		dup2(devnull, 2);
	for (int i = 0; i < n; i++)
		if (hi[i] == -1 || dup2(hi[i], MASTER_FD_CTL + i) == -1)
			_exit(126);
	close_range((unsigned)(MASTER_FD_CTL + n), ~0U, 0);
}

static void	child_on_msg(struct ipc_conn *, struct ipc_msg *, void *);
static void	child_on_close(struct ipc_conn *, const char *, void *);

static const struct ipc_handler child_handler = {
	child_on_msg, child_on_close,
};

static void
child_ready_timeout(void *arg)
{
	struct child	*c = arg;

	log_warnx("service=%s pid=%ld no READY within service_ready_timeout;"
	    " killing", c->svc->name, (long)c->pid);
	kill(c->pid, SIGKILL);
}

static struct child *
child_spawn_daemon(struct master *m, struct service *s)
{
	char		 path[4096];
	int		 sv[2];
	pid_t		 pid;
	struct child	*c;

	snprintf(path, sizeof(path), "%s/%s", proc_exe_dir(), s->name);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("service=%s socketpair", s->name);
		return NULL;
	}
	if ((pid = fork()) == -1) {
		log_warn("service=%s fork", s->name);
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		child_setup_fds(m, s, sv[1]);
		setenv("WHARF_LISTEN", s->listen_env, 1);
		setenv("WHARF_LOG", m->foreground ? "stderr" : "syslog", 1);
		execl(path, s->name, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	c = child_new(m, s, pid);
	c->ctl = ipc_conn_new(m->ev, sv[0], &child_handler, c);
	c->ready_timer = ev_timer_add(m->ev,
	    (uint64_t)conf_int(m->conf, "service_ready_timeout"),
	    child_ready_timeout, c);
	return c;
}

struct child *
svc_spawn_postgres(struct master *m, struct service *s)
{
	pid_t	 pid;

	if ((pid = pg_exec_child(m)) == -1)
		return NULL;
	return child_new(m, s, pid);
}

static void
child_spawn_next(struct master *m, struct service *s)
{
	struct child	*c;

	while (!m->stopping && svc_count(m, s, true) < s->want) {
		if (s->kind == SVC_POSTGRES)
			c = svc_spawn_postgres(m, s);
		else
			c = child_spawn_daemon(m, s);
		if (c == NULL)
			break;
		log_info("service=%s pid=%ld started generation=%u", s->name,
		    (long)c->pid, c->generation);
	}
}

void
svc_start_all(struct master *m)
{
	for (struct service *s = m->services; s != NULL; s = s->next)
		if (s->kind == SVC_DAEMON && s->respawn == NULL)
			child_spawn_next(m, s);
}

static void
svc_respawn_timer(void *arg)
{
	struct service	*s = arg;

	ev_timer_del(&s->respawn);
	child_spawn_next(s->master, s);
}

/* A child exited before READY: wait, doubling each time. */
static void
svc_throttle(struct master *m, struct service *s)
{
	uint64_t	 lo = (uint64_t)conf_int(m->conf, "service_backoff_min");
	uint64_t	 hi = (uint64_t)conf_int(m->conf, "service_backoff_max");

	s->backoff_ms = s->backoff_ms == 0 ? lo : s->backoff_ms * 2;
	if (s->backoff_ms > hi)
		s->backoff_ms = hi;
	log_warnx("service=%s throttled: failed before ready; next start in "
	    "%llu ms", s->name, (unsigned long long)s->backoff_ms);
	if (s->respawn == NULL)
		s->respawn = ev_timer_add(m->ev, s->backoff_ms,
		    svc_respawn_timer, s);
}

static void
log_exit(struct child *c, int status)
{
	if (WIFSIGNALED(status))
		log_msg(c->stopping ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
		    "service=%s pid=%ld killed by signal %d (%s)%s",
		    c->svc->name, (long)c->pid, WTERMSIG(status),
		    strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? " core dumped" : "");
	else
		log_msg(c->stopping || WEXITSTATUS(status) == 0 ?
		    LOG_LEVEL_INFO : LOG_LEVEL_WARN,
		    "service=%s pid=%ld exited status=%d", c->svc->name,
		    (long)c->pid, WEXITSTATUS(status));
}

static void
child_reaped(struct master *m, struct child *c, int status)
{
	struct service	*s = c->svc;
	bool		 was_ready = c->ready, expected = c->stopping ||
			    m->stopping || c->generation != m->generation;

	log_exit(c, status);
	svc_child_free(m, c);
	if (s->kind == SVC_POSTGRES)
		m->pg_ready = false;
	if (expected)
		return;
	s->restarts++;
	if (!was_ready)
		svc_throttle(m, s);
	else {
		s->backoff_ms = 0;
		child_spawn_next(m, s);
	}
	if (s->kind == SVC_POSTGRES && m->pg_poll == NULL)
		master_pg_watch(m);
}

void
svc_on_sigchld(struct master *m)
{
	pid_t	 pid;
	int	 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *c = m->children;

		while (c != NULL && c->pid != pid)
			c = c->next;
		if (c == NULL) {
			log_debug("reaped unknown pid=%ld", (long)pid);
			continue;
		}
		child_reaped(m, c, status);
	}
	if (m->stopping)
		master_stop_progress(m);
}

void
svc_child_ready(struct master *m, struct child *c)
{
	c->ready = true;
	c->svc->backoff_ms = 0;
	ev_timer_del(&c->ready_timer);
	log_info("service=%s pid=%ld ready", c->svc->name, (long)c->pid);
}

static void
child_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct child	*c = arg;
	uint32_t	 v;

	switch (msg->hdr.type) {
	case MASTER_READY:
		if (ipc_get_end(msg) == 0 && !c->ready)
			svc_child_ready(c->svc->master, c);
		return;
	case MASTER_STATUS:
		if (ipc_get_u32(msg, &v) == 0 && ipc_get_end(msg) == 0)
			return;
		break;
	case IPC_HELLO:
		return;
	}
	log_warnx("service=%s pid=%ld bad message type=%u; ignored",
	    c->svc->name, (long)c->pid, msg->hdr.type);
	(void)conn;
}

static void
child_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	struct child	*c = arg;

	/* The exit status comes through SIGCHLD; drop the socket now. */
	log_debug("service=%s pid=%ld control socket closed: %s",
	    c->svc->name, (long)c->pid, reason);
	ipc_conn_free(&c->ctl);		/* allowed inside on_close */
	(void)conn;
}

/* Tell a child to finish and exit; postgres gets a fast shutdown. */
static void
child_stop(struct master *m, struct child *c)
{
	if (c->stopping)
		return;
	c->stopping = true;
	if (c->svc->kind == SVC_POSTGRES)
		kill(c->pid, SIGINT);
	else if (c->ctl == NULL ||
	    ipc_send_empty(c->ctl, MASTER_STOP, 0, 0) == -1)
		kill(c->pid, SIGTERM);
	(void)m;
}

/* Stop every daemon child (not postgres: it goes last). */
void
svc_stop_daemons(struct master *m)
{
	for (struct service *s = m->services; s != NULL; s = s->next)
		ev_timer_del(&s->respawn);
	for (struct child *c = m->children; c != NULL; c = c->next)
		if (c->svc->kind == SVC_DAEMON)
			child_stop(m, c);
}

void
svc_stop_postgres(struct master *m)
{
	for (struct child *c = m->children; c != NULL; c = c->next)
		if (c->svc->kind == SVC_POSTGRES)
			child_stop(m, c);
}

unsigned
svc_running(const struct master *m, enum svc_kind kind)
{
	unsigned	 n = 0;

	for (struct child *c = m->children; c != NULL; c = c->next)
		if (c->svc->kind == kind)
			n++;
	return n;
}

void
svc_start_postgres(struct master *m)
{
	for (struct service *s = m->services; s != NULL; s = s->next)
		if (s->kind == SVC_POSTGRES)
			child_spawn_next(m, s);
}

void
svc_kill(struct master *m, enum svc_kind kind, int sig)
{
	for (struct child *c = m->children; c != NULL; c = c->next) {
		if (c->svc->kind != kind)
			continue;
		log_warnx("service=%s pid=%ld did not stop in time; "
		    "sending signal %d", c->svc->name, (long)c->pid, sig);
		kill(c->pid, sig);
	}
}

/*
 * Reload: the new config is in force from now on; every daemon service
 * gets a new generation of children and the old ones are told to stop.
 * Listening sockets are kept (changing a *_listen key needs a restart).
 */
void
svc_reload(struct master *m)
{
	m->generation++;
	for (struct child *c = m->children; c != NULL; c = c->next)
		if (c->svc->kind == SVC_DAEMON)
			child_stop(m, c);
	for (struct service *s = m->services; s != NULL; s = s->next) {
		if (s->kind != SVC_DAEMON)
			continue;
		s->want = svc_want(m, s->def);
		s->backoff_ms = 0;
		ev_timer_del(&s->respawn);
		child_spawn_next(m, s);
	}
}

void
svc_free(struct master *m)
{
	struct service	*s;

	while (m->children != NULL)
		svc_child_free(m, m->children);
	while ((s = m->services) != NULL) {
		m->services = s->next;
		ev_timer_del(&s->respawn);
		for (size_t i = 0; i < s->nlisten; i++)
			close(s->listen_fds[i]);
		free(s->listen_fds);
		free(s->listen_env);
		free(s);
	}
}
