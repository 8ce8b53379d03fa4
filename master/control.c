/*
 * master/control.c — $run_dir/master.sock for `wharf stop|reload|status`.
 *
 * Mode 0600, and each peer is checked with SO_PEERCRED: only root and the
 * master's own user may talk to it.  Messages: lib/proto_ctl.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "conf.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "net.h"
#include "proto_ctl.h"
#include "xmalloc.h"
#include "master.h"

/* A client connection; freed on close. */
struct ctl_client {
	struct ctl_client *next;
	struct master	*m;
	struct ipc_conn	*conn;
	bool		 hello;
};

static struct ctl_client *clients;	/* to free them all at exit */

static void
ctl_client_free(struct ctl_client *cl)
{

	for (struct ctl_client **p = &clients; *p != NULL; p = &(*p)->next) {
		if (*p == cl) {
			*p = cl->next;
			break;
		}
	}
	ipc_conn_free(&cl->conn);
	free(cl);
}

static void
ctl_result(struct ctl_client *cl, uint32_t id, bool ok, const char *msg)
{
	struct ipc_out	*o = ipc_msg_begin(cl->conn, CTL_RESULT, id,
			    IPC_F_REPLY);

	ipc_put_u32(o, ok ? 1 : 0);
	ipc_put_str(o, msg);
	ipc_msg_end(o);
}

static uint32_t
svc_state(struct master *m, struct service *s)
{
	unsigned	 ready = 0, n = 0;

	if (m->stopping)
		return CTL_SVC_STOPPING;
	if (s->respawn != NULL)
		return CTL_SVC_THROTTLED;
	for (struct child *c = m->children; c != NULL; c = c->next) {
		if (c->svc != s)
			continue;
		n++;
		ready += c->ready;
	}
	return n >= s->want && ready == n ? CTL_SVC_RUNNING : CTL_SVC_STARTING;
}

static void
ctl_put_service(struct master *m, struct ipc_out *o, struct service *s)
{
	uint32_t	 n = 0;

	for (struct child *c = m->children; c != NULL; c = c->next)
		n += c->svc == s;
	ipc_put_str(o, s->name);
	ipc_put_u32(o, svc_state(m, s));
	ipc_put_u32(o, s->restarts);
	ipc_put_u32(o, n);
	for (struct child *c = m->children; c != NULL; c = c->next) {
		if (c->svc != s)
			continue;
		ipc_put_u32(o, (uint32_t)c->pid);
		ipc_put_u64(o, c->started);
		ipc_put_u32(o, c->ready);
	}
}

static void
ctl_status(struct ctl_client *cl, uint32_t id)
{
	struct master	*m = cl->m;
	struct ipc_out	*o = ipc_msg_begin(cl->conn, CTL_STATUS_R, id,
			    IPC_F_REPLY);
	uint32_t	 n = 0;

	for (struct service *s = m->services; s != NULL; s = s->next)
		n++;
	ipc_put_u32(o, (uint32_t)getpid());
	ipc_put_u64(o, m->started);
	ipc_put_u32(o, m->generation);
	ipc_put_u32(o, n);
	for (struct service *s = m->services; s != NULL; s = s->next)
		ctl_put_service(m, o, s);
	if (ipc_msg_end(o) == -1)
		ctl_result(cl, id, false, "status too large");
}

static void
ctl_reload(struct ctl_client *cl, uint32_t id)
{
	char	*err = NULL;

	if (master_reload(cl->m, &err) == -1) {
		ctl_result(cl, id, false, err);
		free(err);
		return;
	}
	ctl_result(cl, id, true, "reloaded");
}

static void
ctl_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct ctl_client	*cl = arg;

	if (!cl->hello) {
		if (!ipc_hello_ok(msg, CTL_PROTO, CTL_PROTO_VERSION)) {
			log_warnx("control: bad hello; closing");
			ctl_client_free(cl);	/* ipc allows it here */
			return;
		}
		cl->hello = true;
		return;
	}
	if (ipc_get_end(msg) == -1) {
		ctl_result(cl, msg->hdr.id, false, "malformed request");
		return;
	}
	switch (msg->hdr.type) {
	case CTL_STATUS:
		ctl_status(cl, msg->hdr.id);
		break;
	case CTL_RELOAD:
		ctl_reload(cl, msg->hdr.id);
		break;
	case CTL_STOP:
		ctl_result(cl, msg->hdr.id, true, "stopping");
		master_stop(cl->m, "wharf stop");
		break;
	default:
		ctl_result(cl, msg->hdr.id, false, "unknown request");
		break;
	}
	(void)conn;
}

static void
ctl_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	struct ctl_client	*cl = arg;

	ctl_client_free(cl);
	(void)conn;
	(void)reason;
}

static const struct ipc_handler ctl_handler = { ctl_on_msg, ctl_on_close };

static void
ctl_accept(int fd, unsigned events, void *arg)
{
	struct master		*m = arg;
	struct ctl_client	*cl = xcalloc(1, sizeof(*cl));
	uid_t			 uids[2] = { 0, geteuid() };

	cl->m = m;
	if ((cl->conn = ipc_accept(m->ev, fd, uids, 2, &ctl_handler, cl,
	    NULL)) == NULL) {
		free(cl);
		return;
	}
	cl->next = clients;
	clients = cl;
	(void)events;
}

int
ctl_listen(struct master *m, char **err_r)
{
	char	 path[4096];

	snprintf(path, sizeof(path), "%s/%s", m->run_dir, CTL_SOCKET_NAME);
	if ((m->ctl_fd = ipc_listen_unix(path, 0600, err_r)) == -1)
		return -1;
	m->ctl_io = ev_io_add(m->ev, m->ctl_fd, EV_READ, ctl_accept, m);
	return 0;
}

void
ctl_close(struct master *m)
{
	char	 path[4096];

	while (clients != NULL) {
		/* A "stopping" reply may still be queued: send it. */
		ipc_conn_flush_sync(clients->conn, 1000);
		ctl_client_free(clients);
	}
	if (m->ctl_io == NULL)
		return;
	ev_io_del(&m->ctl_io);
	close(m->ctl_fd);
	snprintf(path, sizeof(path), "%s/%s", m->run_dir, CTL_SOCKET_NAME);
	unlink(path);
}
