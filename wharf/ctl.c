/*
 * wharf start | stop | reload | status — the master and its control
 * socket, $run_dir/master.sock (lib/proto_ctl.h documents the messages).
 *
 * Every exchange is one request and one reply with a deadline, over
 * lib/ipc on a private event loop that runs only while we wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bsd/string.h>

#include "buf.h"
#include "conf.h"
#include "ev.h"
#include "ipc.h"
#include "proc.h"
#include "proto_ctl.h"
#include "xmalloc.h"
#include "wharf.h"

#ifndef WHARF_LIBEXECDIR
#define WHARF_LIBEXECDIR "/usr/lib/wharf"
#endif

#define CTL_TIMEOUT_MS		10000	/* one request */
/* Master readiness; longer than its own limits (initdb, postgres). */
#define CTL_START_WAIT_MS	150000
#define CTL_STOP_GRACE_MS	30000	/* on top of shutdown_timeout */
#define CTL_POLL_MS		100
#define CTL_CONF_MAX		(1024 * 1024)	/* as lib/conf reads */
#define CTL_SALVAGE_MAX		100	/* lines ctl_conf() may drop */

enum { CTL_UP, CTL_DOWN, CTL_FAIL };	/* ctl_open() */

struct ctl_child {
	uint32_t	 pid;
	uint64_t	 started;
	uint32_t	 ready;
};

struct ctl_svc {
	char		*name;
	uint32_t	 state;
	uint32_t	 restarts;
	uint32_t	 nchildren;
	struct ctl_child *children;
};

struct ctl_status {
	uint32_t	 pid;
	uint64_t	 started;
	uint32_t	 generation;
	uint32_t	 nsvc;
	struct ctl_svc	*svc;
};

struct ctl {
	struct ev	*ev;
	struct ipc_conn	*conn;
	char		*path;		/* of the socket */
	bool		 closed;	/* the master hung up */
	bool		 done;		/* the reply (or its failure) is in */
	char		*err;		/* why the exchange failed */
	uint32_t	 type;		/* of the reply */
	struct ctl_status st;		/* CTL_STATUS_R */
	uint32_t	 ok;		/* CTL_RESULT */
	char		*message;	/* CTL_RESULT */
};

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec	 ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void
status_clear(struct ctl_status *st)
{
	uint32_t	 i;

	for (i = 0; i < st->nsvc; i++) {
		free(st->svc[i].name);
		free(st->svc[i].children);
	}
	free(st->svc);
	memset(st, 0, sizeof(*st));
}

/* Counts are bounded by the payload so a bad reply cannot make us
   allocate much: every service and child takes at least 16 bytes. */
static int
count_ok(struct ipc_msg *m, uint32_t n)
{
	return n <= m->hdr.len / 16 ? 0 : -1;
}

static int
svc_parse(struct ipc_msg *m, struct ctl_svc *s)
{
	const char	*name;
	uint32_t	 i;

	if (ipc_get_str(m, &name) == -1 || ipc_get_u32(m, &s->state) == -1 ||
	    ipc_get_u32(m, &s->restarts) == -1 ||
	    ipc_get_u32(m, &s->nchildren) == -1 ||
	    count_ok(m, s->nchildren) == -1) {
		s->nchildren = 0;
		return -1;
	}
	s->name = xstrdup(name);
	s->children = xcalloc(s->nchildren, sizeof(*s->children));
	for (i = 0; i < s->nchildren; i++) {
		ipc_get_u32(m, &s->children[i].pid);
		ipc_get_u64(m, &s->children[i].started);
		ipc_get_u32(m, &s->children[i].ready);
	}
	return m->err ? -1 : 0;
}

/* CTL_STATUS_R (grammar in proto_ctl.h). */
static int
status_parse(struct ipc_msg *m, struct ctl_status *st)
{
	uint32_t	 n, i;

	if (ipc_get_u32(m, &st->pid) == -1 ||
	    ipc_get_u64(m, &st->started) == -1 ||
	    ipc_get_u32(m, &st->generation) == -1 ||
	    ipc_get_u32(m, &n) == -1 || count_ok(m, n) == -1)
		return -1;
	st->svc = xcalloc(n, sizeof(*st->svc));
	for (i = 0; i < n; i++) {
		st->nsvc++;
		if (svc_parse(m, &st->svc[i]) == -1)
			return -1;
	}
	return ipc_get_end(m);
}

static void
ctl_parse_reply(struct ctl *ctl, struct ipc_msg *m)
{
	const char	*s;

	switch (m->hdr.type) {
	case CTL_STATUS_R:
		if (status_parse(m, &ctl->st) == -1)
			ctl->err = xstrdup("malformed status reply");
		break;
	case CTL_RESULT:
		if (ipc_get_u32(m, &ctl->ok) == -1 ||
		    ipc_get_str(m, &s) == -1 || ipc_get_end(m) == -1)
			ctl->err = xstrdup("malformed result reply");
		else
			ctl->message = xstrdup(s);
		break;
	case IPC_ERROR:
		if (ipc_get_str(m, &s) == -1)
			s = "(no reason given)";
		ctl->err = xasprintf("the master refused the request: %s", s);
		break;
	default:
		ctl->err = xasprintf("unexpected reply type 0x%x",
		    m->hdr.type);
	}
}

static void
ctl_on_reply(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct ctl	*ctl = arg;

	if (ctl->done)
		return;
	ctl->done = true;
	if (m == NULL) {
		ctl->err = xstrdup("no reply from the master (timed out or "
		    "connection closed)");
		return;
	}
	ctl->type = m->hdr.type;
	ctl_parse_reply(ctl, m);
}

static void
ctl_on_msg(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	/* Not a reply (the master's HELLO, say): nothing to do. */
}

static void
ctl_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	struct ctl	*ctl = arg;

	ctl->closed = true;
	if (!ctl->done) {
		ctl->done = true;
		ctl->err = xasprintf("the master closed the connection: %s",
		    reason);
	}
}

static const struct ipc_handler ctl_handler = {
	.on_msg = ctl_on_msg,
	.on_close = ctl_on_close,
};

/* ENOENT (no socket, no run_dir) and ECONNREFUSED (stale socket). */
static bool
ctl_not_running(const char *path, int saved, const char *err)
{
	struct stat	 sb;

	if (saved == ENOENT || saved == ECONNREFUSED)
		return true;
	if (stat(path, &sb) == -1 && errno == ENOENT)
		return true;
	return err != NULL && (strstr(err, strerror(ECONNREFUSED)) != NULL ||
	    strstr(err, strerror(ENOENT)) != NULL);
}

static void
ctl_hello(struct ctl *ctl)
{
	ipc_send_hello(ctl->conn, CTL_PROTO, CTL_PROTO_VERSION);
}

/* The line number in "path:N: reason", or 0. */
static size_t
err_line(const char *err, const char *path)
{
	char		 num[24];
	const char	*p, *why;
	size_t		 n, plen = strlen(path);
	uint64_t	 v;

	if (strncmp(err, path, plen) != 0 || err[plen] != ':')
		return 0;
	p = err + plen + 1;
	if ((n = strspn(p, "0123456789")) == 0 || n >= sizeof(num) ||
	    p[n] != ':')
		return 0;
	memcpy(num, p, n);
	num[n] = '\0';
	return str_to_u64(num, 1, SIZE_MAX, &v, &why) == 0 ? (size_t)v : 0;
}

/* The whole file into b (at most its maximum); 0 or -1. */
static int
file_read(const char *path, struct buf *b)
{
	uint8_t	*p;
	ssize_t	 n = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((p = buf_reserve(b, 4096)) != NULL &&
	    ((n = read(fd, p, 4096)) > 0 || (n == -1 && errno == EINTR)))
		if (n > 0)
			buf_commit(b, (size_t)n);
	close(fd);
	return n == 0 ? 0 : -1;
}

/* Turn line n (from 1) into a comment; false if it is one already. */
static bool
comment_out(char *text, size_t n)
{
	char	*p = text;

	while (--n > 0 && (p = strchr(p, '\n')) != NULL)
		p++;
	if (p == NULL || *p == '\0' || *p == '#')
		return false;
	*p = '#';
	return true;
}

/*
 * main.conf for talking to a running master: when the file does not
 * load, the lines the parser names are commented out one by one so that
 * run_dir can still be found.  `wharf reload` must reach the master with
 * a broken file (the master refuses it and says why), and `stop` must
 * work whatever the file says.
 */
static struct conf *
ctl_conf(struct wharf *w)
{
	struct buf	 b;
	char		*err = NULL, *err2 = NULL;
	size_t		 line;
	int		 i;

	if (w->conf != NULL ||
	    (w->conf = conf_load(w->conf_path, &err)) != NULL)
		return w->conf;
	buf_init(&b, CTL_CONF_MAX);
	if (file_read(w->conf_path, &b) == 0)
		for (i = 0; i < CTL_SALVAGE_MAX && w->conf == NULL; i++) {
			line = err_line(err2 != NULL ? err2 : err,
			    w->conf_path);
			free(err2);
			err2 = NULL;
			if (line == 0 || !comment_out((char *)BUF_DATA(&b),
			    line))
				break;
			w->conf = conf_parse(buf_cstr(&b), b.len,
			    w->conf_path, &err2);
		}
	if (w->conf == NULL)
		wharf_errx("%s", err);
	buf_clear(&b);
	free(err2);
	free(err);
	return w->conf;
}

/* CTL_UP, CTL_DOWN (not running) or CTL_FAIL (said why unless quiet). */
static int
ctl_open(struct wharf *w, struct ctl *ctl, bool quiet)
{
	struct conf	*c;
	char		*err = NULL;
	int		 fd, saved, rc = CTL_UP;

	memset(ctl, 0, sizeof(*ctl));
	if ((c = ctl_conf(w)) == NULL)
		return CTL_FAIL;
	ctl->path = xasprintf("%s/%s", conf_str(c, "run_dir"),
	    CTL_SOCKET_NAME);
	fd = ipc_connect_unix(ctl->path, &err);
	saved = errno;
	if (fd == -1) {
		rc = ctl_not_running(ctl->path, saved, err) ? CTL_DOWN :
		    CTL_FAIL;
		if (rc == CTL_FAIL && !quiet)
			wharf_errx("cannot connect to the master: %s", err);
	} else {
		ctl->ev = ev_new();
		ctl->conn = ipc_conn_new(ctl->ev, fd, &ctl_handler, ctl);
		ctl_hello(ctl);
	}
	free(err);
	return rc;
}

static void
ctl_close(struct ctl *ctl)
{
	ipc_conn_free(&ctl->conn);
	ev_free(&ctl->ev);
	status_clear(&ctl->st);
	free(ctl->path);
	free(ctl->err);
	free(ctl->message);
	memset(ctl, 0, sizeof(*ctl));
}

/* Send an empty request and wait for its reply; 0 or -1 with ctl->err. */
static int
ctl_request(struct ctl *ctl, uint32_t type, uint32_t reply_type)
{
	uint32_t	 id;

	if (ctl->closed)
		return -1;
	free(ctl->err);
	ctl->err = NULL;
	ctl->done = false;
	id = ipc_conn_next_id(ctl->conn);
	if (ipc_send_empty(ctl->conn, type, id, 0) == -1) {
		ctl->err = xstrdup("cannot queue the request");
		return -1;
	}
	ipc_conn_expect(ctl->conn, id, CTL_TIMEOUT_MS, ctl_on_reply, ctl);
	while (!ctl->done)
		if (ev_run_once(ctl->ev, -1) == -1 && errno != EINTR) {
			ctl->err = xasprintf("event loop: %s",
			    strerror(errno));
			return -1;
		}
	if (ctl->err == NULL && ctl->type != reply_type)
		ctl->err = xasprintf("unexpected reply type 0x%x", ctl->type);
	return ctl->err == NULL ? 0 : -1;
}

/* Connect and ask CTL_STATUS; CTL_UP, CTL_DOWN or CTL_FAIL. */
static int
ctl_status(struct wharf *w, struct ctl *ctl, bool quiet)
{
	int	 rc;

	if ((rc = ctl_open(w, ctl, quiet)) != CTL_UP)
		return rc;
	if (ctl_request(ctl, CTL_STATUS, CTL_STATUS_R) == -1) {
		if (!quiet)
			wharf_errx("status: %s", ctl->err);
		return CTL_FAIL;
	}
	return CTL_UP;
}

/*
 * Durations for people: 45s, 3m12s, 2h05m, 4d07h.
 */
static void
fmt_duration(char *out, size_t size, uint64_t s)
{
	unsigned long long	 v = s;

	if (v < 60)
		snprintf(out, size, "%llus", v);
	else if (v < 3600)
		snprintf(out, size, "%llum%02llus", v / 60, v % 60);
	else if (v < 86400)
		snprintf(out, size, "%lluh%02llum", v / 3600, v / 60 % 60);
	else
		snprintf(out, size, "%llud%02lluh", v / 86400, v / 3600 % 24);
}

static void
fmt_since(char *out, size_t size, uint64_t started)
{
	time_t	 now = time(NULL);

	fmt_duration(out, size, (uint64_t)now > started ?
	    (uint64_t)now - started : 0);
}

static const char *
state_name(uint32_t state)
{
	static const char *const names[] = {
		[CTL_SVC_RUNNING] = "running",
		[CTL_SVC_STARTING] = "starting",
		[CTL_SVC_THROTTLED] = "throttled",
		[CTL_SVC_STOPPING] = "stopping",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] :
	    "unknown";
}

/* "1240,1241" (or "-") into b; the oldest child's start in *oldest_r. */
static void
svc_pids(const struct ctl_svc *s, struct buf *b, uint64_t *oldest_r)
{
	uint32_t	 i;

	buf_reset(b);
	*oldest_r = 0;
	for (i = 0; i < s->nchildren; i++) {
		buf_printf(b, "%s%u", i > 0 ? "," : "", s->children[i].pid);
		if (*oldest_r == 0 || s->children[i].started < *oldest_r)
			*oldest_r = s->children[i].started;
	}
	if (s->nchildren == 0)
		buf_add_str(b, "-");
}

/* Column widths: the longest name and pid list. */
static void
status_widths(const struct ctl_status *st, struct buf *b, int *name_r,
    int *pids_r)
{
	uint64_t	 oldest;
	uint32_t	 i;

	*name_r = *pids_r = 1;
	for (i = 0; i < st->nsvc; i++) {
		svc_pids(&st->svc[i], b, &oldest);
		if ((int)strlen(st->svc[i].name) > *name_r)
			*name_r = (int)strlen(st->svc[i].name);
		if ((int)b->len > *pids_r)
			*pids_r = (int)b->len;
	}
}

/*
 * master pid 812, up 3m12s, generation 1
 * postgres running  pids 815       up 3m12s restarts 0
 * smtpd    starting pids 820,821   up 2s    restarts 1
 */
static void
status_print(const struct ctl_status *st)
{
	struct buf	 pids;
	char		 up[32];
	uint64_t	 oldest;
	uint32_t	 i;
	int		 wname, wpids;

	buf_init(&pids, IPC_MAX_PAYLOAD);
	fmt_since(up, sizeof(up), st->started);
	printf("master pid %u, up %s, generation %u\n", st->pid, up,
	    st->generation);
	status_widths(st, &pids, &wname, &wpids);
	for (i = 0; i < st->nsvc; i++) {
		svc_pids(&st->svc[i], &pids, &oldest);
		if (oldest == 0)
			strlcpy(up, "-", sizeof(up));
		else
			fmt_since(up, sizeof(up), oldest);
		printf("%-*s %-9s pids %-*s up %-6s restarts %u\n", wname,
		    st->svc[i].name, state_name(st->svc[i].state), wpids,
		    buf_cstr(&pids), up, st->svc[i].restarts);
	}
	buf_clear(&pids);
}

int
cmd_status(struct wharf *w, int argc, char **argv)
{
	struct ctl	 ctl;
	int		 rc;

	if (argc != 0)
		return wharf_usage();
	rc = ctl_status(w, &ctl, false);
	if (rc == CTL_UP)
		status_print(&ctl.st);
	else if (rc == CTL_DOWN)
		printf("wharf: not running\n");
	ctl_close(&ctl);
	return rc == CTL_UP ? WHARF_EXIT_OK : rc == CTL_DOWN ?
	    WHARF_EXIT_NOTRUNNING : WHARF_EXIT_ERR;
}

int
cmd_reload(struct wharf *w, int argc, char **argv)
{
	struct ctl	 ctl;
	int		 rc = WHARF_EXIT_ERR;

	if (argc != 0)
		return wharf_usage();
	switch (ctl_open(w, &ctl, false)) {
	case CTL_DOWN:
		wharf_errx("not running (nothing answers on %s)", ctl.path);
		break;
	case CTL_UP:
		if (ctl_request(&ctl, CTL_RELOAD, CTL_RESULT) == -1)
			wharf_errx("reload: %s", ctl.err);
		else if (!ctl.ok)
			wharf_errx("reload refused: %s", ctl.message);
		else {
			printf("wharf: %s\n", *ctl.message != '\0' ?
			    ctl.message : "reloaded");
			rc = WHARF_EXIT_OK;
		}
		break;
	}
	ctl_close(&ctl);
	return rc;
}

/* $run_dir/master.pid, or 0. */
static pid_t
pidfile_read(struct wharf *w)
{
	char		 line[32], *path;
	const char	*why;
	uint64_t	 pid = 0;
	FILE		*fp;

	path = xasprintf("%s/%s", conf_str(w->conf, "run_dir"),
	    CTL_PIDFILE_NAME);
	if ((fp = fopen(path, "r")) != NULL) {
		if (fgets(line, sizeof(line), fp) == NULL ||
		    str_to_u64(str_trim(line), 1, INT_MAX, &pid, &why) == -1)
			pid = 0;
		fclose(fp);
	}
	free(path);
	return (pid_t)pid;
}

/*
 * A zombie has exited too: a master run with -f by a parent that has not
 * reaped it yet must not make `stop` wait for nothing.
 */
static bool
pid_alive(pid_t pid)
{
	char	 path[64], line[512], *rp;
	bool	 alive = true;
	FILE	*fp;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return errno != ENOENT;
	if (fgets(line, sizeof(line), fp) != NULL &&
	    (rp = strrchr(line, ')')) != NULL && rp[1] == ' ' && rp[2] == 'Z')
		alive = false;
	fclose(fp);
	return alive;
}

static bool
pid_wait_gone(pid_t pid, uint64_t timeout_ms)
{
	uint64_t	 deadline = now_ms() + timeout_ms;

	while (pid_alive(pid)) {
		if (now_ms() >= deadline)
			return false;
		sleep_ms(CTL_POLL_MS);
	}
	return true;
}

/* The master pid (CTL_STATUS, else the pid file) and CTL_STOP. */
static pid_t
stop_request(struct wharf *w, struct ctl *ctl)
{
	pid_t	 pid;

	if (ctl_request(ctl, CTL_STATUS, CTL_STATUS_R) == 0)
		pid = (pid_t)ctl->st.pid;
	else
		pid = pidfile_read(w);
	if (ctl_request(ctl, CTL_STOP, CTL_RESULT) == -1) {
		wharf_errx("stop: %s", ctl->err);
		return -1;
	}
	if (!ctl->ok) {
		wharf_errx("stop refused: %s", ctl->message);
		return -1;
	}
	return pid;
}

int
cmd_stop(struct wharf *w, int argc, char **argv)
{
	struct ctl	 ctl;
	uint64_t	 wait;
	pid_t		 pid = -1;
	int		 rc;

	if (argc != 0)
		return wharf_usage();
	if ((rc = ctl_open(w, &ctl, false)) == CTL_DOWN)
		wharf_errx("not running (nothing answers on %s)", ctl.path);
	else if (rc == CTL_UP)
		pid = stop_request(w, &ctl);
	ctl_close(&ctl);
	if (pid == -1)
		return WHARF_EXIT_ERR;
	wait = (uint64_t)conf_int(w->conf, "shutdown_timeout") +
	    CTL_STOP_GRACE_MS;
	if (pid > 0 && !pid_wait_gone(pid, wait)) {
		wharf_errx("stop: the master (pid %ld) is still running "
		    "after %llu s", (long)pid, (unsigned long long)wait / 1000);
		return WHARF_EXIT_ERR;
	}
	printf("wharf: stopped\n");
	return WHARF_EXIT_OK;
}

/* Next to this program (the build tree), else the installed one. */
static char *
master_path(void)
{
	char	*p;

	p = xasprintf("%s/master", proc_exe_dir());
	if (access(p, X_OK) == 0)
		return p;
	free(p);
	return xstrdup(WHARF_LIBEXECDIR "/master");
}

/* Wait for the child; its exit status, or -1 on timeout. */
static int
child_wait(pid_t pid, uint64_t timeout_ms)
{
	uint64_t	 deadline = now_ms() + timeout_ms;
	pid_t		 r;
	int		 st;

	while ((r = waitpid(pid, &st, WNOHANG)) == 0 ||
	    (r == -1 && errno == EINTR)) {
		if (now_ms() >= deadline)
			return -1;
		sleep_ms(CTL_POLL_MS / 2);
	}
	if (r == -1)
		return 255;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The daemon is up when its control socket answers CTL_STATUS. */
static int
start_wait_ready(struct wharf *w, uint64_t deadline)
{
	struct ctl	 ctl;

	for (;;) {
		if (ctl_status(w, &ctl, true) == CTL_UP) {
			printf("wharf: started (pid %u)\n", ctl.st.pid);
			ctl_close(&ctl);
			return WHARF_EXIT_OK;
		}
		ctl_close(&ctl);
		if (now_ms() >= deadline)
			break;
		sleep_ms(CTL_POLL_MS);
	}
	wharf_errx("start: the master's control socket does not answer");
	return WHARF_EXIT_ERR;
}

/*
 * The master (without -f) forks, and its first process exits 0 once the
 * daemon is listening, or 1 after printing why it could not start.
 */
static int
start_daemon(struct wharf *w, const char *exe, char **av)
{
	uint64_t	 deadline = now_ms() + CTL_START_WAIT_MS;
	pid_t		 pid;
	int		 st;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		wharf_errx("start: fork: %s", strerror(errno));
		return WHARF_EXIT_ERR;
	}
	if (pid == 0) {
		execv(exe, av);
		fprintf(stderr, "wharf: cannot run %s: %s\n", exe,
		    strerror(errno));
		_exit(127);
	}
	if ((st = child_wait(pid, CTL_START_WAIT_MS)) == -1) {
		wharf_errx("start: the master (pid %ld) did not become ready "
		    "within %d s", (long)pid, CTL_START_WAIT_MS / 1000);
		return WHARF_EXIT_ERR;
	}
	if (st != 0) {
		wharf_errx("start: the master failed (exit status %d)", st);
		return WHARF_EXIT_ERR;
	}
	return start_wait_ready(w, deadline);
}

int
cmd_start(struct wharf *w, int argc, char **argv)
{
	struct ctl	 ctl;
	bool		 fg = argc == 1 && strcmp(argv[0], "-f") == 0;
	char		*exe, *path, *av[5];
	int		 rc;

	if (argc > 1 || (argc == 1 && !fg))
		return wharf_usage();
	if (wharf_conf(w) == NULL)
		return WHARF_EXIT_ERR;
	if ((rc = ctl_status(w, &ctl, true)) == CTL_UP)
		wharf_errx("already running (pid %u)", ctl.st.pid);
	ctl_close(&ctl);
	if (rc == CTL_UP)
		return WHARF_EXIT_ERR;
	/* Absolute, in case the master changes directory first. */
	if ((path = realpath(w->conf_path, NULL)) == NULL)
		path = xstrdup(w->conf_path);
	exe = master_path();
	av[0] = exe;
	av[1] = "-c";
	av[2] = path;
	av[3] = fg ? "-f" : NULL;
	av[4] = NULL;
	if (fg) {
		execv(exe, av);
		wharf_errx("cannot run %s: %s", exe, strerror(errno));
		rc = WHARF_EXIT_ERR;
	} else
		rc = start_daemon(w, exe, av);
	free(exe);
	free(path);
	return rc;
}
