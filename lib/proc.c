/*
 * proc — process privileges, limits and titles (proc.h).
 *
 * The drop is written out step by step, in the order of ARCHITECTURE.md,
 * each step naming itself in the error, and ends by proving that root
 * cannot be regained: a process that believes it dropped but did not is
 * a broken invariant, so that case is fatal, not an error.
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bsd/unistd.h>

#include "log.h"
#include "proc.h"
#include "xmalloc.h"

#define PROC_USERADD	"/usr/sbin/useradd"
#define PROC_NOLOGIN	"/usr/sbin/nologin"
#define PROC_TITLE_MAX	256
#define PROC_USER_MAX	32	/* useradd's own limit */

extern char **environ;

static bool	 proc_title_ready;
static char	*proc_title_base;	/* argv[0]: where libbsd writes */
static char	*proc_title_last;	/* last byte of the argv area */

bool
proc_is_root(void)
{
	return geteuid() == 0;
}

int
proc_user(const char *name, uid_t *uid_r, gid_t *gid_r, char **err_r)
{
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		if (errno != 0)
			*err_r = xasprintf("getpwnam %s: %s", name,
			    strerror(errno));
		else
			*err_r = xasprintf("user %s does not exist", name);
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return 0;
}

static int	proc_fail(char **, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* *err_r = "<step>: strerror(errno)"; returns -1. */
static int
proc_fail(char **err_r, const char *fmt, ...)
{
	va_list	 ap;
	char	*step;
	int	 saved = errno;

	va_start(ap, fmt);
	step = xvasprintf(fmt, ap);
	va_end(ap);
	*err_r = xasprintf("%s: %s", step, strerror(saved));
	free(step);
	errno = saved;
	return -1;
}

static int
proc_chroot(const char *dir, char **err_r)
{
	if (chroot(dir) == -1)
		return proc_fail(err_r, "chroot %s", dir);
	if (chdir("/") == -1)
		return proc_fail(err_r, "chdir / in chroot %s", dir);
	return 0;
}

static int
proc_setids(uid_t uid, gid_t gid, char **err_r)
{
	if (setgroups(1, &gid) == -1)
		return proc_fail(err_r, "setgroups %lu", (unsigned long)gid);
	if (setresgid(gid, gid, gid) == -1)
		return proc_fail(err_r, "setresgid %lu", (unsigned long)gid);
	if (setresuid(uid, uid, uid) == -1)
		return proc_fail(err_r, "setresuid %lu", (unsigned long)uid);
	return 0;
}

/* The set*id calls succeeded; anything but the target now is a bug. */
static void
proc_verify(uid_t uid, gid_t gid)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg;

	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		fatal("proc_drop: getresuid/getresgid");
	if (ru != uid || eu != uid || su != uid)
		fatalx("proc_drop: uids %lu/%lu/%lu, want %lu",
		    (unsigned long)ru, (unsigned long)eu, (unsigned long)su,
		    (unsigned long)uid);
	if (rg != gid || eg != gid || sg != gid)
		fatalx("proc_drop: gids %lu/%lu/%lu, want %lu",
		    (unsigned long)rg, (unsigned long)eg, (unsigned long)sg,
		    (unsigned long)gid);
	if (setuid(0) != -1)
		fatalx("proc_drop: setuid(0) succeeded after the drop");
	if (setgid(0) != -1 && gid != 0)
		fatalx("proc_drop: setgid(0) succeeded after the drop");
}

int
proc_drop(const char *user, const char *chroot_dir, char **err_r)
{
	uid_t	 uid;
	gid_t	 gid;

	if (!proc_is_root())
		return 0;
	if (proc_user(user, &uid, &gid, err_r) == -1)
		return -1;
	if (uid == 0) {
		*err_r = xasprintf("refusing to run as %s: uid 0", user);
		return -1;
	}
	if (chroot_dir != NULL && proc_chroot(chroot_dir, err_r) == -1)
		return -1;
	if (proc_setids(uid, gid, err_r) == -1)
		return -1;
	proc_verify(uid, gid);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return proc_fail(err_r, "prctl PR_SET_NO_NEW_PRIVS");
	return 0;
}

/* Names useradd accepts, which also cannot be taken for an option. */
static bool
proc_user_name_ok(const char *name)
{
	size_t	 len = strlen(name);

	if (len == 0 || len > PROC_USER_MAX ||
	    !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '_' || *p == '-' || *p == '.'))
			return false;
	return true;
}

/*
 * Run argv[0] (no shell) and wait; 0 when it exits 0.  The child starts
 * with default signal dispositions and nothing blocked, whatever the
 * caller's event loop has set up.  what: prefix for errors.
 */
static int
proc_run(const char *what, char *const argv[], char **err_r)
{
	posix_spawnattr_t	 attr;
	sigset_t		 none, all;
	pid_t			 pid;
	int			 rc, status;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, argv[0], NULL, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		errno = rc;
		return proc_fail(err_r, "%s: spawn %s", what, argv[0]);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return proc_fail(err_r, "%s: waitpid", what);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		*err_r = xasprintf("%s: exit status %d", what,
		    WEXITSTATUS(status));
	else
		*err_r = xasprintf("%s: killed by signal %d", what,
		    WTERMSIG(status));
	return -1;
}

static int
proc_useradd(const char *name, const char *home, char **err_r)
{
	char *const	 argv[] = {
		PROC_USERADD, "--system", "--user-group", "--no-create-home",
		"--home-dir", (char *)home, "--shell", PROC_NOLOGIN,
		(char *)name, NULL
	};
	char		*what;
	int		 rc;

	what = xasprintf("useradd %s", name);
	rc = proc_run(what, argv, err_r);
	free(what);
	return rc;
}

int
proc_ensure_user(const char *name, const char *home, char **err_r)
{
	uid_t	 uid;
	gid_t	 gid;
	char	*err = NULL;

	if (proc_user(name, &uid, &gid, &err) == 0)
		return 0;
	free(err);
	if (!proc_is_root()) {
		*err_r = xasprintf("user %s does not exist and we are not "
		    "root", name);
		return -1;
	}
	if (!proc_user_name_ok(name) || home[0] != '/') {
		*err_r = xasprintf("useradd %s: bad user name or home", name);
		return -1;
	}
	if (proc_useradd(name, home, err_r) == -1) {
		/* Another process (a second master) may have won the race. */
		if (getpwnam(name) == NULL)
			return -1;
		free(*err_r);
		*err_r = NULL;
		return 0;
	}
	if (proc_user(name, &uid, &gid, &err) == -1) {
		*err_r = xasprintf("useradd %s: %s", name, err);
		free(err);
		return -1;
	}
	log_info("created system user %s uid=%lu", name, (unsigned long)uid);
	return 0;
}

int
proc_limits(unsigned long nofile_want, bool no_core, char **err_r)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return proc_fail(err_r, "getrlimit RLIMIT_NOFILE");
	rl.rlim_cur = nofile_want < rl.rlim_max ? nofile_want : rl.rlim_max;
	if (nofile_want != 0 && setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return proc_fail(err_r, "setrlimit RLIMIT_NOFILE %lu",
		    (unsigned long)rl.rlim_cur);
	if (!no_core)
		return 0;
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		return proc_fail(err_r, "setrlimit RLIMIT_CORE 0");
	return 0;
}

void
proc_set_dumpable(bool on)
{
	/* Failing to hide secrets from core dumps/ptrace is not survivable. */
	if (prctl(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE %d", on ? 1 : 0);
}

/*
 * The last byte of the kernel's argv area (arg_end - 1), when the argv
 * strings are laid out contiguously as execve() leaves them; NULL if not.
 */
static char *
proc_args_last(int argc, char **argv)
{
	char	*end = argv[0] + strlen(argv[0]);

	for (int i = 1; i < argc; i++) {
		if (argv[i] != end + 1)
			return NULL;
		end = argv[i] + strlen(argv[i]);
	}
	return end;
}

void
proc_title_init(int argc, char **argv, char **envp)
{
	if (proc_title_ready || argc < 1 || argv[0] == NULL)
		return;
	proc_title_base = argv[0];
	proc_title_last = proc_args_last(argc, argv);
	/*
	 * Always hand libbsd the live environ: it moves the environment out
	 * of the way only when envp == environ, and a stale envp (after a
	 * setenv) would leave environ pointing into the title area.
	 */
	setproctitle_init(argc, argv, environ);
	proc_title_ready = true;
}

void
proc_title(const char *fmt, ...)
{
	char	 title[PROC_TITLE_MAX];
	va_list	 ap;

	if (!proc_title_ready)
		return;
	va_start(ap, fmt);
	vsnprintf(title, sizeof(title), fmt, ap);
	va_end(ap);
	/* "-": libbsd must not prepend the program name a second time. */
	setproctitle("-wharf: %s", title);
	/*
	 * Linux shows the whole argv area, NULs and all, unless its last
	 * byte is not NUL; then /proc/pid/cmdline stops at the first NUL,
	 * i.e. shows exactly the title.  libbsd only arranges that when
	 * argc == 1, so do it for any argc.
	 */
	if (proc_title_last != NULL &&
	    proc_title_base + strlen(proc_title_base) < proc_title_last)
		*proc_title_last = '.';
}

const char *
proc_exe_dir(void)
{
	static char	 path[PATH_MAX];
	static char	*dir;
	ssize_t		 n;

	if (dir != NULL)
		return dir;
	n = readlink("/proc/self/exe", path, sizeof(path));
	if (n == -1)
		fatal("readlink /proc/self/exe");
	if ((size_t)n >= sizeof(path))
		fatalx("readlink /proc/self/exe: path too long");
	path[n] = '\0';
	dir = dirname(path);
	return dir;
}
