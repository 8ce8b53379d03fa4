/*
 * Unit tests for lib/proc.c.
 *
 * Anything that changes credentials, limits or the root directory runs in
 * a forked child, which reports through its exit status (CHILD_CHECK
 * exits with the failing line number; cmocka asserts must not run in a
 * child).  The root paths are the real ones (CI runs as root); the
 * non-root paths run in a child that first drops to nobody, or directly
 * when the whole test runs unprivileged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

#define MISSING_USER	"wharf-test-missing"
#define MARKER		"wharf-chroot-marker"
#define FATAL_EXIT	42

extern char **environ;

/* In a child: on failure say where and exit with the line number. */
#define CHILD_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "child check failed: %s (line %d)\n",	\
		    #cond, __LINE__);					\
		_exit(__LINE__ % 250 + 1);				\
	}								\
} while (0)

static char	 chroot_dir[64];
/* "wharf-test-tmp-<pid>": concurrent runs must not delete each other's. */
static char	 tmp_user[32];

/* Run fn in a forked child; return its exit status (-1: signal). */
static int
in_child(int (*fn)(void *), void *arg)
{
	pid_t	 pid;
	int	 status;

	fflush(NULL);
	assert_true((pid = fork()) != -1);
	if (pid == 0)
		_exit(fn(arg));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void
run_tool(const char *path, const char *arg)
{
	char	*argv[] = { (char *)path, (char *)arg, NULL };
	pid_t	 pid;
	int	 status;

	if (posix_spawn(&pid, path, NULL, NULL, argv, environ) != 0)
		return;
	waitpid(pid, &status, 0);
}

static void
nobody_ids(uid_t *uid, gid_t *gid)
{
	struct passwd	*pw = getpwnam("nobody");

	assert_non_null(pw);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
}

static char	 last_msg[256];

static void
msg_hook(enum log_level level, const char *msg, void *arg)
{
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
}

/* Exit FATAL_EXIT only for the fatal we expect. */
static void
fatal_exit_hook(void)
{
	if (strcmp(last_msg, "proc_drop: setuid(0) succeeded after the "
	    "drop") != 0) {
		fprintf(stderr, "unexpected fatal: %s\n", last_msg);
		_exit(1);
	}
	_exit(FATAL_EXIT);
}

static void
test_is_root_and_user(void **state)
{
	uid_t	 uid, nuid;
	gid_t	 gid, ngid;
	char	*err = NULL;

	assert_int_equal(proc_is_root(), geteuid() == 0);
	nobody_ids(&nuid, &ngid);
	assert_int_equal(proc_user("nobody", &uid, &gid, &err), 0);
	assert_int_equal(uid, nuid);
	assert_int_equal(gid, ngid);
	assert_int_equal(proc_user(MISSING_USER, &uid, &gid, &err), -1);
	assert_string_equal(err, "user " MISSING_USER " does not exist");
	free(err);
}

/* Credentials must be exactly nobody's, with no way back. */
static int
check_is_nobody(void)
{
	uid_t	 uid, ru, eu, su;
	gid_t	 gid, rg, eg, sg, groups[8];

	nobody_ids(&uid, &gid);
	CHILD_CHECK(getresuid(&ru, &eu, &su) == 0);
	CHILD_CHECK(ru == uid && eu == uid && su == uid);
	CHILD_CHECK(getresgid(&rg, &eg, &sg) == 0);
	CHILD_CHECK(rg == gid && eg == gid && sg == gid);
	CHILD_CHECK(getgroups(8, groups) == 1 && groups[0] == gid);
	CHILD_CHECK(setuid(0) == -1 && errno == EPERM);
	CHILD_CHECK(seteuid(0) == -1);
	CHILD_CHECK(setgid(0) == -1);
	CHILD_CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	return 0;
}

static int
child_drop(void *arg)
{
	char	*err = NULL;

	CHILD_CHECK(proc_drop("nobody", NULL, &err) == 0);
	CHILD_CHECK(check_is_nobody() == 0);
	CHILD_CHECK(!proc_is_root());
	return 0;
}

static void
test_drop_root(void **state)
{
	if (!proc_is_root())
		skip();
	assert_int_equal(in_child(child_drop, NULL), 0);
}

static int
child_drop_chroot(void *arg)
{
	char	 cwd[PATH_MAX];
	char	*err = NULL;

	CHILD_CHECK(proc_drop("nobody", chroot_dir, &err) == 0);
	CHILD_CHECK(check_is_nobody() == 0);
	CHILD_CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHILD_CHECK(strcmp(cwd, "/") == 0);
	CHILD_CHECK(access("/" MARKER, R_OK) == 0);
	CHILD_CHECK(access("/etc/passwd", F_OK) == -1 && errno == ENOENT);
	CHILD_CHECK(chroot("/..") == -1);
	return 0;
}

static void
test_drop_chroot(void **state)
{
	char	 marker[128];
	int	 fd;

	if (!proc_is_root())
		skip();
	snprintf(chroot_dir, sizeof(chroot_dir), "/tmp/wharf-chroot-XXXXXX");
	assert_non_null(mkdtemp(chroot_dir));
	assert_int_equal(chmod(chroot_dir, 0755), 0);
	snprintf(marker, sizeof(marker), "%s/%s", chroot_dir, MARKER);
	assert_true((fd = open(marker, O_WRONLY | O_CREAT, 0644)) != -1);
	close(fd);
	assert_int_equal(in_child(child_drop_chroot, NULL), 0);
	assert_int_equal(unlink(marker), 0);
	assert_int_equal(rmdir(chroot_dir), 0);
}

/* Each failing step names itself and leaves root in place. */
static int
child_drop_errors(void *arg)
{
	char	*err = NULL;

	CHILD_CHECK(proc_drop(MISSING_USER, NULL, &err) == -1);
	CHILD_CHECK(strcmp(err, "user " MISSING_USER " does not exist") == 0);
	free(err);
	CHILD_CHECK(proc_drop("root", NULL, &err) == -1);
	CHILD_CHECK(strcmp(err, "refusing to run as root: uid 0") == 0);
	free(err);
	CHILD_CHECK(proc_drop("nobody", "/nonexistent-wharf", &err) == -1);
	CHILD_CHECK(strcmp(err, "chroot /nonexistent-wharf: "
	    "No such file or directory") == 0);
	free(err);
	CHILD_CHECK(geteuid() == 0 && getuid() == 0);
	return 0;
}

static void
test_drop_errors(void **state)
{
	if (!proc_is_root())
		skip();
	assert_int_equal(in_child(child_drop_errors, NULL), 0);
}

/* Remove one capability from the effective set (raw syscalls, no libcap). */
static int
drop_effective_cap(int cap)
{
	struct __user_cap_header_struct	 hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3
	};
	struct __user_cap_data_struct	 data[2];

	if (syscall(SYS_capget, &hdr, data) == -1)
		return -1;
	data[cap / 32].effective &= ~(1U << (cap % 32));
	return (int)syscall(SYS_capset, &hdr, data);
}

static int
child_drop_cap_errors(void *arg)
{
	const char	*want = arg;
	char		*err = NULL;
	int		 cap;

	if (strncmp(want, "setgroups", 9) == 0)
		cap = CAP_SETGID;
	else if (strncmp(want, "setresuid", 9) == 0)
		cap = CAP_SETUID;
	else
		cap = CAP_SYS_CHROOT;
	CHILD_CHECK(drop_effective_cap(cap) == 0);
	CHILD_CHECK(proc_drop("nobody", "/", &err) == -1);
	if (strcmp(err, want) != 0)
		fprintf(stderr, "got \"%s\", want \"%s\"\n", err, want);
	CHILD_CHECK(strcmp(err, want) == 0);
	free(err);
	return 0;
}

static void
test_drop_step_errors(void **state)
{
	char	 want[3][128];
	uid_t	 uid;
	gid_t	 gid;

	if (!proc_is_root())
		skip();
	nobody_ids(&uid, &gid);
	snprintf(want[0], sizeof(want[0]), "chroot /: Operation not permitted");
	snprintf(want[1], sizeof(want[1]),
	    "setgroups %lu: Operation not permitted", (unsigned long)gid);
	snprintf(want[2], sizeof(want[2]),
	    "setresuid %lu: Operation not permitted", (unsigned long)uid);
	for (int i = 0; i < 3; i++)
		assert_int_equal(in_child(child_drop_cap_errors, want[i]), 0);
}

/*
 * With SECBIT_NO_SETUID_FIXUP the kernel keeps every capability across
 * setresuid(), so setuid(0) still works after the "drop": proc_drop must
 * notice and die rather than run on as a secret root.
 */
static int
child_drop_keeps_caps(void *arg)
{
	char	*err = NULL;

	if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) == -1)
		return 77;
	log_set_flags(0);
	log_set_hook(msg_hook, NULL);
	log_set_fatal_hook(fatal_exit_hook);
	proc_drop("nobody", NULL, &err);
	return 0;
}

static void
test_drop_invariant_fatal(void **state)
{
	int	 rc;

	if (!proc_is_root())
		skip();
	rc = in_child(child_drop_keeps_caps, NULL);
	if (rc == 77)
		skip();
	assert_int_equal(rc, FATAL_EXIT);
}

/* What every unprivileged caller sees. */
static int
nonroot_checks(void)
{
	struct rlimit	 rl;
	char		*err = NULL;

	CHILD_CHECK(!proc_is_root());
	CHILD_CHECK(proc_drop("nobody", NULL, &err) == 0);
	CHILD_CHECK(proc_drop("root", "/nonexistent-wharf", &err) == 0);
	CHILD_CHECK(proc_drop(MISSING_USER, NULL, &err) == 0);
	CHILD_CHECK(err == NULL);
	CHILD_CHECK(proc_ensure_user("nobody", "/nonexistent", &err) == 0);
	CHILD_CHECK(proc_ensure_user(MISSING_USER, "/x", &err) == -1);
	CHILD_CHECK(strcmp(err, "user " MISSING_USER " does not exist and "
	    "we are not root") == 0);
	free(err);
	CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHILD_CHECK(proc_limits(rl.rlim_max, true, &err) == 0);
	CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHILD_CHECK(rl.rlim_cur == rl.rlim_max);
	return 0;
}

static int
child_nonroot(void *arg)
{
	char	*err = NULL;
	uid_t	 uid;
	gid_t	 gid;

	bool	 dropped = false;

	nobody_ids(&uid, &gid);
	if (proc_is_root()) {
		CHILD_CHECK(proc_drop("nobody", NULL, &err) == 0);
		CHILD_CHECK(getuid() == uid);
		dropped = true;
	}
	CHILD_CHECK(nonroot_checks() == 0);
	/* The no-op drops changed nothing. */
	if (dropped)
		CHILD_CHECK(check_is_nobody() == 0);
	return 0;
}

static void
test_nonroot_paths(void **state)
{
	assert_int_equal(in_child(child_nonroot, NULL), 0);
}

static void
remove_tmp_user(void)
{
	if (getpwnam(tmp_user) != NULL)
		run_tool("/usr/sbin/userdel", tmp_user);
	if (getgrnam(tmp_user) != NULL)
		run_tool("/usr/sbin/groupdel", tmp_user);
}

static int
teardown_tmp_user(void **state)
{
	if (tmp_user[0] != '\0')
		remove_tmp_user();
	return 0;
}

static void
test_ensure_user_root(void **state)
{
	struct passwd	*pw;
	char		*err = NULL;
	uid_t		 uid;
	gid_t		 gid;

	if (!proc_is_root())
		skip();
	snprintf(tmp_user, sizeof(tmp_user), "wharf-test-tmp-%ld",
	    (long)getpid());
	assert_int_equal(proc_ensure_user("nobody", "/nonexistent", &err), 0);
	remove_tmp_user();
	assert_null(getpwnam(tmp_user));

	assert_int_equal(proc_ensure_user(tmp_user, "/var/lib/wharf-test",
	    &err), 0);
	pw = getpwnam(tmp_user);
	assert_non_null(pw);
	assert_string_equal(pw->pw_dir, "/var/lib/wharf-test");
	assert_string_equal(pw->pw_shell, "/usr/sbin/nologin");
	assert_true(pw->pw_uid != 0 && pw->pw_uid < 1000);
	uid = pw->pw_uid;
	assert_non_null(getgrnam(tmp_user));
	assert_int_equal(getgrnam(tmp_user)->gr_gid, pw->pw_gid);
	assert_int_equal(access("/var/lib/wharf-test", F_OK), -1);
	/* A second call finds it and changes nothing. */
	assert_int_equal(proc_ensure_user(tmp_user, "/elsewhere", &err), 0);
	assert_int_equal(proc_user(tmp_user, &uid, &gid, &err), 0);
	assert_int_equal(uid, getpwnam(tmp_user)->pw_uid);
	assert_string_equal(getpwnam(tmp_user)->pw_dir, "/var/lib/wharf-test");

	remove_tmp_user();
	assert_null(getpwnam(tmp_user));
	assert_null(getgrnam(tmp_user));
}

static void
test_ensure_user_errors(void **state)
{
	char	*err = NULL;

	if (!proc_is_root())
		skip();
	assert_int_equal(proc_ensure_user("-o", "/x", &err), -1);
	assert_string_equal(err, "useradd -o: bad user name or home");
	free(err);
	assert_int_equal(proc_ensure_user("Bad Name", "/x", &err), -1);
	assert_string_equal(err, "useradd Bad Name: bad user name or home");
	free(err);
	assert_int_equal(proc_ensure_user("", "/x", &err), -1);
	free(err);
	assert_int_equal(proc_ensure_user("1abc", "/x", &err), -1);
	assert_string_equal(err, "useradd 1abc: bad user name or home");
	free(err);
	assert_int_equal(proc_ensure_user("a23456789012345678901234567890123",
	    "/x", &err), -1);
	free(err);
	assert_int_equal(proc_ensure_user(MISSING_USER, "relative", &err), -1);
	assert_string_equal(err,
	    "useradd " MISSING_USER ": bad user name or home");
	free(err);
	assert_null(getpwnam(MISSING_USER));
	/* A group of that name exists: useradd --user-group refuses (9). */
	if (getpwnam("nogroup") != NULL || getgrnam("nogroup") == NULL)
		skip();
	assert_int_equal(proc_ensure_user("nogroup", "/x", &err), -1);
	assert_string_equal(err, "useradd nogroup: exit status 9");
	free(err);
	assert_null(getpwnam("nogroup"));
}

static int
child_limits(void *arg)
{
	struct rlimit	 rl, core;
	char		*err = NULL;

	CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHILD_CHECK(rl.rlim_max > 64);
	CHILD_CHECK(proc_limits(64, false, &err) == 0);
	CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHILD_CHECK(rl.rlim_cur == 64);
	CHILD_CHECK(proc_limits(0, false, &err) == 0);
	CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHILD_CHECK(rl.rlim_cur == 64);
	/* More than the hard limit: raised to the hard limit, no error. */
	CHILD_CHECK(proc_limits(ULONG_MAX, false, &err) == 0);
	CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHILD_CHECK(rl.rlim_cur == rl.rlim_max);
	CHILD_CHECK(proc_limits(rl.rlim_max - 1, false, &err) == 0);
	CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHILD_CHECK(rl.rlim_cur == rl.rlim_max - 1);
	CHILD_CHECK(getrlimit(RLIMIT_CORE, &core) == 0);
	CHILD_CHECK(proc_limits(128, true, &err) == 0);
	CHILD_CHECK(getrlimit(RLIMIT_CORE, &core) == 0);
	CHILD_CHECK(core.rlim_cur == 0 && core.rlim_max == 0);
	CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHILD_CHECK(rl.rlim_cur == 128);
	return 0;
}

static void
test_limits(void **state)
{
	assert_int_equal(in_child(child_limits, NULL), 0);
}

static int
child_dumpable(void *arg)
{
	proc_set_dumpable(false);
	CHILD_CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
	proc_set_dumpable(true);
	CHILD_CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);
	return 0;
}

static void
test_dumpable(void **state)
{
	assert_int_equal(in_child(child_dumpable, NULL), 0);
}

/* The whole of /proc/self/cmdline; returns its length. */
static size_t
read_cmdline(char *out, size_t size)
{
	ssize_t	 n;
	int	 fd;

	if ((fd = open("/proc/self/cmdline", O_RDONLY)) == -1)
		return 0;
	n = read(fd, out, size - 1);
	close(fd);
	if (n <= 0)
		return 0;
	out[n] = '\0';
	return (size_t)n;
}

/* cmdline is exactly these len bytes. */
static bool
cmdline_eq(const char *want, size_t len)
{
	char	 cmd[4096];
	size_t	 n = read_cmdline(cmd, sizeof(cmd));

	return n == len && memcmp(cmd, want, n) == 0;
}

/* cmdline is exactly the title and its NUL: nothing after it. */
static bool
cmdline_is(const char *want)
{
	return cmdline_eq(want, strlen(want) + 1);
}

static void
test_title(void **state)
{
	proc_title("smtpd");
	assert_true(cmdline_is("wharf: smtpd"));
	proc_title("%s #%d", "imapd", 3);
	assert_true(cmdline_is("wharf: imapd #3"));
	/* A format character in the text is not a format. */
	proc_title("%s", "100%s done");
	assert_true(cmdline_is("wharf: 100%s done"));
	proc_title("smtpd");
	assert_true(cmdline_is("wharf: smtpd"));
	/* The environment survived the move. */
	assert_string_equal(getenv("WHARF_TEST_ENV"), "kept");
}

/*
 * Re-run as "test_proc --title-child" (argc 2, where libbsd alone would
 * leave NULs and a '.' of the old argv visible after the title).
 */
static int
title_child(int argc, char **argv)
{
	static const char	 orig[] = "test_proc\0--title-child";

	/* Before init: a no-op, the original argv is untouched. */
	proc_title("too early");
	if (!cmdline_eq(orig, sizeof(orig)))
		return 1;
	proc_title_init(argc, argv, NULL);
	proc_title("smtpd");
	if (!cmdline_is("wharf: smtpd"))
		return 2;
	proc_title("%s", "a title much longer than the original argv area "
	    "so that it runs on into the moved environment strings");
	if (!cmdline_is("wharf: a title much longer than the original argv "
	    "area so that it runs on into the moved environment strings"))
		return 3;
	proc_title("qmgr");
	if (!cmdline_is("wharf: qmgr"))
		return 4;
	return 0;
}

static void
test_title_argc2(void **state)
{
	char	 pad[300];
	char	*argv[] = { "test_proc", "--title-child", NULL };
	char	*envp[] = { "A=1", pad, NULL };
	pid_t	 pid;
	int	 status;

	/* Room in the environment area for the long title. */
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	pad[3] = '=';

	assert_int_equal(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv,
	    envp), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_exe_dir(void **state)
{
	const char	*dir = proc_exe_dir();
	char		 self[PATH_MAX + 32];
	size_t		 len;

	assert_non_null(dir);
	assert_int_equal(dir[0], '/');
	len = strlen(dir);
	assert_true(len >= 6);
	assert_string_equal(dir + len - 6, "/tests");
	snprintf(self, sizeof(self), "%s/test_proc", dir);
	assert_int_equal(access(self, X_OK), 0);
	assert_ptr_equal(proc_exe_dir(), dir);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_root_and_user),
		cmocka_unit_test(test_drop_root),
		cmocka_unit_test(test_drop_chroot),
		cmocka_unit_test(test_drop_errors),
		cmocka_unit_test(test_drop_step_errors),
		cmocka_unit_test(test_drop_invariant_fatal),
		cmocka_unit_test(test_nonroot_paths),
		cmocka_unit_test_teardown(test_ensure_user_root,
		    teardown_tmp_user),
		cmocka_unit_test(test_ensure_user_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_dumpable),
		cmocka_unit_test(test_title),
		cmocka_unit_test(test_title_argc2),
		cmocka_unit_test(test_exe_dir),
	};

	if (argc == 2 && strcmp(argv[1], "--title-child") == 0)
		return title_child(argc, argv);
	setenv("WHARF_TEST_ENV", "kept", 1);
	/* NULL envp, as lib/service.c passes it. */
	proc_title_init(argc, argv, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
