/* worker — blocking work in child processes (worker.h). */
#include <signal.h>
#include <unistd.h>
#include <bsd/unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "proc.h"
#include "worker.h"

/*
 * In the child: forget the parent's loop (its objects stay untouched in
 * this copy of memory), keep only the socket and stdio, and serve.
 */
static void __attribute__((noreturn))
worker_main(int fd, const char *title, const struct ipc_handler *serve,
    void *serve_arg)
{
	struct ev	*ev;
	sigset_t	 none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(fd, 3) == -1)
		_exit(1);
	closefrom(4);
	proc_title("%s", title);
	if ((ev = ev_new()) == NULL ||
	    ipc_conn_new(ev, 3, serve, serve_arg) == NULL)
		_exit(1);
	ev_run(ev);
	_exit(0);
}

struct ipc_conn *
worker_fork(struct ev *ev, const char *title, const struct ipc_handler *serve,
    void *serve_arg, const struct ipc_handler *h, void *arg, pid_t *pid_r)
{
	int	 sv[2];
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair", title);
		return NULL;
	}
	if ((pid = fork()) == -1) {
		log_warn("%s: fork", title);
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0)
		worker_main(sv[1], title, serve, serve_arg);
	close(sv[1]);
	*pid_r = pid;
	return ipc_conn_new(ev, sv[0], h, arg);
}
