/* master — private header.  See master/main.c for the overview. */
#ifndef WHARF_MASTER_H
#define WHARF_MASTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct conf;
struct ev;
struct ev_timer;
struct ipc_conn;

/* One entry of the static service table (master/service.c). */
struct service_def {
	const char	*name;		/* also the program in the exe dir */
	const char	*user_key;	/* main.conf key naming its user */
	const char	*listen_keys[3];/* listening sockets it gets */
	bool		 multi;		/* process_limit children, else 1 */
	/* Internal service: its socket $run_dir/private/<name>.sock, bound
	   by the master so a restarted daemon keeps its address. */
	const char	*private_sock;
	const char	*db_role;	/* its PostgreSQL role, or NULL */
};

struct child {
	struct child	*next;
	struct service	*svc;
	pid_t		 pid;
	uint64_t	 started;	/* unix seconds */
	uint64_t	 started_ms;	/* monotonic */
	unsigned	 generation;
	bool		 ready;
	bool		 stopping;
	struct ipc_conn	*ctl;		/* fd 3 peer; NULL for postgres */
	struct ev_timer	*ready_timer;
};

enum svc_kind { SVC_DAEMON, SVC_POSTGRES };

struct service {
	struct service	*next;
	struct master	*master;
	const struct service_def *def;	/* NULL for postgres */
	const char	*name;
	enum svc_kind	 kind;
	unsigned	 want;		/* children to keep running */
	unsigned	 restarts;
	uint64_t	 backoff_ms;	/* 0: not throttled */
	struct ev_timer	*respawn;
	int		*listen_fds;	/* owned by the listener set */
	char		*listen_env;	/* WHARF_LISTEN value */
	size_t		 nlisten;
};

struct master {
	struct conf	*conf;
	const char	*conf_path;
	struct ev	*ev;
	struct service	*services;	/* postgres first when embedded */
	struct child	*children;
	unsigned	 generation;
	int		 conf_fd;	/* sealed memfd of this generation */
	int		 pidfile_fd;
	int		 ready_pipe;	/* daemon mode: tell the parent */
	bool		 foreground;
	bool		 stopping;
	bool		 pg_ready;
	bool		 pg_bootstrapped;
	bool		 pg_quit;	/* SIGQUIT sent */
	int		 exit_code;
	uint64_t	 started;
	uint64_t	 stop_deadline;
	struct ev_timer	*stop_timer;
	struct ev_timer	*pg_poll;
	uint64_t	 pg_poll_deadline;
	int		 ctl_fd;
	struct ev_io	*ctl_io;
	char		*run_dir;
	char		*state_dir;
};

/* service.c: the service table, children, restarts, reload, stop */
extern const struct service_def master_services[];
extern const size_t master_nservices;
void	svc_setup(struct master *);
void	svc_start_all(struct master *);
void	svc_on_sigchld(struct master *);
void	svc_child_ready(struct master *, struct child *);
void	svc_reload(struct master *);
void	svc_stop_daemons(struct master *);
void	svc_stop_postgres(struct master *);
unsigned svc_running(const struct master *, enum svc_kind);
void	svc_kill(struct master *, enum svc_kind, int sig);
void	svc_start_postgres(struct master *);
struct child *svc_spawn_postgres(struct master *, struct service *);
void	svc_child_free(struct master *, struct child *);
void	svc_free(struct master *);

/* pg.c: the embedded PostgreSQL cluster */
int	pg_prepare(struct master *, char **err_r);
pid_t	pg_exec_child(struct master *);
int	pg_ping(struct master *);
int	pg_bootstrap(struct master *, char **err_r);
const char *pg_user(struct master *);

/* tls.c */
int	tls_ensure_cert(struct master *, char **err_r);

/* control.c */
int	ctl_listen(struct master *, char **err_r);
void	ctl_close(struct master *);

/* main.c */
void	master_stop(struct master *, const char *why);
void	master_stop_progress(struct master *);
int	master_reload(struct master *, char **err_r);
void	master_pg_watch(struct master *);

#endif
