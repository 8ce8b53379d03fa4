/*
 * smtpd/peer.c — smtpd's connections to authd and qmgr.
 *
 * One connection each per smtpd process, made at start and re-made a
 * second after it breaks.  A request belongs to one session; if the
 * session goes away first, the answer is dropped.  A request that cannot
 * be sent, or whose answer does not come within PEER_TIMEOUT_MS, is
 * answered NULL and the session replies 4xx.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "service.h"
#include "xmalloc.h"
#include "smtpd.h"

#define PEER_TIMEOUT_MS		30000
#define PEER_RETRY_MS		1000

struct pending {
	struct session	*s;
	peer_reply_fn	*fn;
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
	if (p->retry == NULL && !p->sd->svc->stopping)
		p->retry = ev_timer_add(p->sd->svc->ev, PEER_RETRY_MS,
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
		p->retry = ev_timer_add(p->sd->svc->ev, PEER_RETRY_MS,
		    peer_connect, p);
		return;
	}
	if ((p->conn = ipc_conn_new(p->sd->svc->ev, fd, &peer_handler,
	    p)) == NULL)
		return;
	ipc_send_hello(p->conn, p->proto, p->version);
}

void
peer_init(struct smtpd *sd, struct peer *p, const char *name,
    const char *sock, uint32_t proto, uint32_t version)
{
	struct service	*svc = sd->svc;

	p->sd = sd;
	p->name = name;
	p->proto = proto;
	p->version = version;
	/* Inside the chroot ($run_dir/private) the sockets are at "/". */
	p->path = svc->chroot != NULL ? xasprintf("/%s", sock) :
	    xasprintf("%s/private/%s", conf_str(svc->conf, "run_dir"), sock);
	peer_connect(p);
}

void
peer_close(struct peer *p)
{
	ev_timer_del(&p->retry);
	ipc_conn_free(&p->conn);
	free(p->path);
	p->path = NULL;
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
	struct pending	*pd = arg;
	struct session	*s = pd->s;
	peer_reply_fn	*fn = pd->fn;

	free(pd);
	if (s == NULL)
		return;
	s->pending = NULL;
	fn(s, msg);
	(void)conn;
}

int
peer_send(struct peer *p, struct ipc_out *o, uint32_t id, struct session *s,
    peer_reply_fn *fn)
{
	struct pending	*pd;

	if (ipc_msg_end(o) == -1)
		return -1;
	pd = xcalloc(1, sizeof(*pd));
	pd->s = s;
	pd->fn = fn;
	s->pending = pd;
	ipc_conn_expect(p->conn, id, PEER_TIMEOUT_MS, peer_reply, pd);
	return 0;
}

void
peer_session_gone(struct session *s)
{
	if (s->pending != NULL)
		s->pending->s = NULL;
	s->pending = NULL;
}
