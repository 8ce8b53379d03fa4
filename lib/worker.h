/*
 * worker — a child process that does blocking work for an event-loop
 * daemon, served over a socketpair in the IPC framing (lib/ipc).
 *
 * authd hashes passwords in such workers, qmgr makes spool files durable
 * in them: the daemon's loop never blocks on the CPU or the disk, and
 * several workers run (and wait for the disk) at once.
 */
#ifndef WHARF_WORKER_H
#define WHARF_WORKER_H

#include <sys/types.h>

#include "ipc.h"

struct ev;

/*
 * Fork a worker.  In the child: SIGKILL when the parent dies, no signal
 * blocked, only stdio and the socket (as fd 3) kept, titled title, and
 * serve's on_msg called with serve_arg for each request from a fresh event
 * loop; its on_close should _exit().  The child never returns.  In the
 * parent: the conn of its end on ev with handler h and arg, *pid_r the
 * child; NULL (logged) when the socketpair or fork failed.
 */
struct ipc_conn	*worker_fork(struct ev *ev, const char *title,
		    const struct ipc_handler *serve, void *serve_arg,
		    const struct ipc_handler *h, void *arg, pid_t *pid_r);

#endif
