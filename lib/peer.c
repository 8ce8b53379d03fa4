/*
 * lib/peer.c — connections to another Wharf daemon; see peer.h.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "service.h"
#include "peer.h"
#include "xmalloc.h"

struct peer {
	struct service	*svc;
	const char	*name;		/* "authd", "qmgr" */
	char		*path;
	uint32_t	 proto, version;
	struct ipc_conn	*conn;
	struct ev_timer	*retry;
};

struct peer_req {
	void		 *owner;	/* NULL: forgotten */
	struct peer_req	**slot;
	peer_reply_fn	 *fn;
};

static void	peer_connect(void *);

static void
peer_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct peer	*p = arg;

	log_warnx("%s: unexpected message type=%u", p->name, msg->hdr.type);
	(void)conn;
}

static void
peer_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	struct peer	*p = arg;

	log_warnx("%s: connection closed: %s", p->name, reason);
	ipc_conn_free(&p->conn);	/* pending requests get NULL */
	if (p->retry == NULL && !p->svc->stopping)
		p->retry = ev_timer_add(p->svc->ev, PEER_RETRY_MS,
		    peer_connect, p);
	(void)conn;
}

static const struct ipc_handler peer_handler = {
	peer_on_msg, peer_on_close,
};

static void
peer_connect(void *arg)
{
	struct peer	*p = arg;
	char		*err;
	int		 fd;

	ev_timer_del(&p->retry);
	if ((fd = ipc_connect_unix(p->path, &err)) == -1) {
		log_warnx("%s: %s", p->name, err);
		free(err);
		p->retry = ev_timer_add(p->svc->ev, PEER_RETRY_MS,
		    peer_connect, p);
		return;
	}
	if ((p->conn = ipc_conn_new(p->svc->ev, fd, &peer_handler,
	    p)) == NULL)
		return;
	ipc_send_hello(p->conn, p->proto, p->version);
}

struct peer *
peer_new(struct service *svc, const char *name, const char *sock,
    uint32_t proto, uint32_t version)
{
	struct peer	*p = xcalloc(1, sizeof(*p));

	p->svc = svc;
	p->name = name;
	p->proto = proto;
	p->version = version;
	/* Inside the chroot ($run_dir/private) the sockets are at "/". */
	p->path = svc->chroot != NULL ? xasprintf("/%s", sock) :
	    xasprintf("%s/private/%s", conf_str(svc->conf, "run_dir"), sock);
	peer_connect(p);
	return p;
}

void
peer_free(struct peer **pp)
{
	struct peer	*p = *pp;

	if (p == NULL)
		return;
	ev_timer_del(&p->retry);
	ipc_conn_free(&p->conn);
	free(p->path);
	free(p);
	*pp = NULL;
}

struct ipc_out *
peer_begin(struct peer *p, uint32_t type, uint32_t *id_r)
{
	if (p->conn == NULL)
		return NULL;
	*id_r = ipc_conn_next_id(p->conn);
	return ipc_msg_begin(p->conn, type, *id_r, 0);
}

static void
peer_reply(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct peer_req	*r = arg;
	void		*owner = r->owner;
	peer_reply_fn	*fn = r->fn;

	if (owner != NULL)
		*r->slot = NULL;
	free(r);
	if (owner != NULL)
		fn(owner, msg);
	(void)conn;
}

int
peer_send(struct peer *p, struct ipc_out *o, uint32_t id, void *owner,
    struct peer_req **slot, peer_reply_fn *fn)
{
	struct peer_req	*r;

	if (ipc_msg_end(o) == -1)
		return -1;
	r = xcalloc(1, sizeof(*r));
	r->owner = owner;
	r->slot = slot;
	r->fn = fn;
	*slot = r;
	ipc_conn_expect(p->conn, id, PEER_TIMEOUT_MS, peer_reply, r);
	return 0;
}

void
peer_forget(struct peer_req **slot)
{
	if (*slot != NULL)
		(*slot)->owner = NULL;
	*slot = NULL;
}
