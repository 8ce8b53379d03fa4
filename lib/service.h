/*
 * service — the child skeleton every daemon's main() is one call of.
 *
 * service_main() implements the child side of lib/proto_master.h: it reads
 * the config snapshot from fd 4, sets up logging, collects the listening
 * sockets named in WHARF_LISTEN, calls ops->init (still root: open what
 * only root may open), drops privileges to the user named by the
 * ops->user_key config key (chrooted to $run_dir/ops->chroot_subdir when
 * set and root), calls
 * ops->start, sends MASTER_READY and runs the event loop.
 *
 * MASTER_STOP, SIGTERM or EOF on fd 3 call ops->stop, which must stop
 * accepting work and call service_done() once in-flight work is finished
 * (at once if there is none); service_main() then returns 0.
 */
#ifndef WHARF_SERVICE_H
#define WHARF_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct ev;
struct ipc_conn;

struct service_listener {
	const char	*key;		/* e.g. "smtp_listen" */
	int		 fd;
};

struct service {
	const char		*name;
	struct ev		*ev;
	struct conf		*conf;
	struct ipc_conn		*master;	/* fd 3 */
	struct service_listener	*listeners;
	size_t			 nlisteners;
	bool			 stopping;
	/* The chroot directory in force, NULL if none: paths below it are
	   then relative to "/". */
	char			*chroot;
	void			*arg;		/* the daemon's own state */
};

struct service_ops {
	const char	*name;
	const char	*user_key;	/* NULL: keep the current user */
	/* chroot to $run_dir/<this> when started as root; NULL: none */
	const char	*chroot_subdir;
	int		(*init)(struct service *, char **err_r);
	int		(*start)(struct service *, char **err_r);
	void		(*stop)(struct service *);
	void		(*cleanup)(struct service *);
};

/* Returns the process exit status. */
int	service_main(int argc, char *argv[], const struct service_ops *);
/* In-flight work is done after a stop: leave the event loop. */
void	service_done(struct service *);
/* Report the number of open connections to the master (for status). */
void	service_report(struct service *, unsigned connections);

/* Parse WHARF_LISTEN ("key:fd key:fd ..."); exported for tests. */
int	service_parse_listen(const char *, struct service_listener **,
	    size_t *n_r, char **err_r);

#endif
