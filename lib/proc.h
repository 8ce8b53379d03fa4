/*
 * proc — process privileges, limits and titles.
 *
 * The drop order (ARCHITECTURE.md): open root-only files first, then
 * proc_drop(): getpwnam -> chroot + chdir("/") -> setgroups, setresgid,
 * setresuid -> verify root cannot be regained -> PR_SET_NO_NEW_PRIVS.
 * proc_drop() is a no-op returning 0 when the process is not root; the
 * limits, dumpable flag and titles work for any user.
 */
#ifndef WHARF_PROC_H
#define WHARF_PROC_H

#include <stdbool.h>
#include <sys/types.h>

bool	proc_is_root(void);

/* uid/gid of a user; 0 or -1 with *err_r ("user X does not exist"). */
int	proc_user(const char *name, uid_t *uid_r, gid_t *gid_r,
	    char **err_r);

/*
 * Become `user` (its primary group only), chrooted to chroot_dir when not
 * NULL, with PR_SET_NO_NEW_PRIVS.  As non-root: returns 0 and changes
 * nothing (chroot_dir ignored).  -1 with *err_r naming the failed step;
 * a user with uid 0 is refused.  fatalx() when the drop "succeeded" but
 * root can still be regained (broken invariant).
 */
int	proc_drop(const char *user, const char *chroot_dir, char **err_r);

/*
 * Create a locked system user (and its group) with home `home` and no
 * shell if it does not exist yet (useradd --system).  Root only: as
 * non-root, 0 when the user exists, else -1 ("user X does not exist and
 * we are not root").  Names: [a-z_][a-z0-9_.-]*, at most 32 bytes; home
 * must be absolute.  A user created concurrently by another process
 * counts as success.
 */
int	proc_ensure_user(const char *name, const char *home, char **err_r);

/* RLIMIT_NOFILE soft limit to min(want, hard) (want 0: unchanged);
   RLIMIT_CORE soft and hard to 0 when no_core.  0 or -1 with *err_r. */
int	proc_limits(unsigned long nofile_want, bool no_core, char **err_r);

/* PR_SET_DUMPABLE (off where secrets live); fatal() if prctl fails. */
void	proc_set_dumpable(bool);

/*
 * Process titles: call init once from main (before argv is touched);
 * proc_title("smtpd") then shows "wharf: smtpd" in ps and
 * /proc/self/cmdline.  envp may be NULL: the live environ is what gets
 * moved out of the title area either way.
 * proc_title before init does nothing.
 */
void	proc_title_init(int argc, char **argv, char **envp);
void	proc_title(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* Directory of the running executable (from /proc/self/exe, read once
   and cached in a static buffer); never NULL: fatal() when unreadable. */
const char *proc_exe_dir(void);

#endif
