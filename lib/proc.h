/*
 * proc — process privileges, limits and titles.
 *
 * The drop order (ARCHITECTURE.md): open root-only files first, then
 * proc_drop(): getpwnam -> chroot + chdir("/") -> setgroups, setresgid,
 * setresuid -> verify root cannot be regained -> PR_SET_NO_NEW_PRIVS.
 * Everything here is a no-op returning 0 when the process is not root.
 */
#ifndef WHARF_PROC_H
#define WHARF_PROC_H

#include <stdbool.h>
#include <sys/types.h>

bool	proc_is_root(void);

/* uid/gid/home of a user; 0 or -1 with *err_r. */
int	proc_user(const char *name, uid_t *uid_r, gid_t *gid_r,
	    char **err_r);

/*
 * Become `user` (its primary group only), chrooted to chroot_dir when not
 * NULL.  As non-root: returns 0 and changes nothing (chroot_dir ignored).
 */
int	proc_drop(const char *user, const char *chroot_dir, char **err_r);

/*
 * Create a locked system user (and its group) with home `home` and no
 * shell if it does not exist yet (useradd --system).  Root only.
 */
int	proc_ensure_user(const char *name, const char *home, char **err_r);

/* RLIMIT_NOFILE soft limit up to min(want, hard); RLIMIT_CORE to 0 when
   no_core.  0 or -1. */
int	proc_limits(unsigned long nofile_want, bool no_core, char **err_r);

/* PR_SET_DUMPABLE (off where secrets live). */
void	proc_set_dumpable(bool);

/* Process titles: call init once from main (before argv is touched). */
void	proc_title_init(int argc, char **argv, char **envp);
void	proc_title(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Directory of the running executable (from /proc/self/exe); static. */
const char *proc_exe_dir(void);

#endif
