/*
 * deliver — local delivery into mailboxes.
 *
 * SECURITY
 *	Runs as wharf_user, connected to PostgreSQL as wharf_deliver
 *	(mailboxes, messages, and its own recipient rows).  Its input is
 *	DELIVER_MSG requests from qmgr over $run_dir/private/deliver.sock
 *	(bound by the master, peers checked with SO_PEERCRED).  Addresses in
 *	them came from the Internet: they are used only as query parameters
 *	and sanitised in logs.
 * STANDARDS
 *	RFC 5321 4.4 (Return-Path at final delivery), RFC 3501 2.3.1.1
 *	(UIDs, UIDVALIDITY), RFC 7162 (modseq), RFC 6154 (special-use
 *	folders).
 *
 * Each recipient of a message is delivered in turn by one statement that
 * also marks its queue row sent (exactly once, proto_deliver.h); the one
 * stored copy of the body is shared by all recipients, and its ENVELOPE
 * and BODYSTRUCTURE are computed once (deliver/parse.c).  Not yet: Sieve
 * and quota.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "conf.h"
#include "db.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "proto_deliver.h"
#include "service.h"
#include "xmalloc.h"
#include "deliver.h"

#define STR_MAX		1024
#define RCPT_MAX	10000

struct dclient {
	struct dclient	*next;
	struct deliver	*d;
	struct ipc_conn	*conn;
	bool		 hello;
	struct dmsg	*msgs[64];	/* in flight on this connection */
};

static struct deliver	deliver;

static void
dmsg_free(struct dmsg *m)
{
	for (size_t i = 0; i < m->nrcpt; i++) {
		free(m->rcpts[i].address);
		free(m->rcpts[i].orig);
		free(m->rcpts[i].reply);
	}
	free(m->rcpts);
	free(m->queue_id);
	free(m->blob);
	free(m->sender);
	free(m->envelope);
	free(m->bodystructure);
	free(m->fts_text);
	free(m);
}

static void
dmsg_untrack(struct dmsg *m)
{
	if (m->cl == NULL)
		return;
	for (size_t i = 0; i < 64; i++)
		if (m->cl->msgs[i] == m)
			m->cl->msgs[i] = NULL;
}

static void
dmsg_reply(struct dmsg *m)
{
	struct ipc_out	*o;

	if (m->cl == NULL)
		return;
	o = ipc_msg_begin(m->cl->conn, DELIVER_MSG_R, m->id, IPC_F_REPLY);
	ipc_put_u32(o, (uint32_t)m->nrcpt);
	for (size_t i = 0; i < m->nrcpt; i++) {
		ipc_put_u64(o, m->rcpts[i].row);
		ipc_put_u32(o, m->rcpts[i].status);
		ipc_put_str(o, m->rcpts[i].reply);
	}
	if (ipc_msg_end(o) == -1)
		log_warnx("%s: reply too large", m->queue_id);
}

/* Deliver the next recipient, or answer qmgr when all are done. */
void
dmsg_step(struct dmsg *m)
{
	struct deliver	*d = m->d;

	if (m->next == 0)
		dmsg_parse(m, d->blobdir);	/* once, for every recipient */
	if (m->next < m->nrcpt) {
		mailbox_db_deliver(m, &m->rcpts[m->next++], dmsg_step);
		return;
	}
	dmsg_reply(m);
	dmsg_untrack(m);
	dmsg_free(m);
	d->inflight--;
	if (d->svc->stopping && d->inflight == 0)
		service_done(d->svc);
}

static struct dmsg *
dmsg_read(struct dclient *cl, struct ipc_msg *msg)
{
	struct dmsg	*m = xcalloc(1, sizeof(*m));
	const char	*qid, *blob, *sender, *addr, *orig;
	uint32_t	 n;

	m->d = cl->d;
	m->cl = cl;
	m->id = msg->hdr.id;
	ipc_get_str(msg, &qid);
	ipc_get_str(msg, &blob);
	ipc_get_u64(msg, &m->size);
	ipc_get_str(msg, &sender);
	m->queue_id = xstrdup(qid);
	m->blob = xstrdup(blob);
	m->sender = xstrdup(sender);
	if (ipc_get_u32(msg, &n) == -1 || n == 0 || n > RCPT_MAX ||
	    strlen(sender) > STR_MAX) {
		dmsg_free(m);
		return NULL;
	}
	m->rcpts = xcalloc(n, sizeof(*m->rcpts));
	for (uint32_t i = 0; i < n; i++) {
		struct drcpt *r = &m->rcpts[m->nrcpt++];

		ipc_get_u64(msg, &r->row);
		ipc_get_u64(msg, &r->user_id);
		ipc_get_str(msg, &addr);
		ipc_get_str(msg, &orig);
		r->address = xstrdup(addr);
		r->orig = xstrdup(orig);
		r->status = DELIVER_TEMPFAIL;
		r->reply = xstrdup("4.3.0 not attempted");
	}
	if (ipc_get_end(msg) == -1) {
		dmsg_free(m);
		return NULL;
	}
	return m;
}

static void
client_free(struct dclient *cl)
{
	struct deliver	*d = cl->d;

	for (struct dclient **p = &d->clients; *p != NULL; p = &(*p)->next)
		if (*p == cl) {
			*p = cl->next;
			break;
		}
	for (size_t i = 0; i < 64; i++)
		if (cl->msgs[i] != NULL)
			cl->msgs[i]->cl = NULL;
	ipc_conn_free(&cl->conn);
	free(cl);
}

static void
client_deliver(struct dclient *cl, struct ipc_msg *msg)
{
	struct dmsg	*m;
	size_t		 slot = 0;

	while (slot < 64 && cl->msgs[slot] != NULL)
		slot++;
	if (slot == 64 || (m = dmsg_read(cl, msg)) == NULL) {
		log_warnx("malformed or excess DELIVER_MSG; closing");
		client_free(cl);
		return;
	}
	cl->msgs[slot] = m;
	cl->d->inflight++;
	dmsg_step(m);
}

static void
client_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct dclient	*cl = arg;

	if (cl->hello) {
		if (msg->hdr.type == DELIVER_MSG)
			client_deliver(cl, msg);
		else
			log_warnx("unexpected message type=%u", msg->hdr.type);
		return;
	}
	if (!ipc_hello_ok(msg, DELIVER_PROTO, DELIVER_PROTO_VERSION)) {
		log_warnx("bad hello; closing");
		client_free(cl);
		return;
	}
	cl->hello = true;
	(void)conn;
}

static void
client_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	log_debug("qmgr connection closed: %s", reason);
	client_free(arg);
	(void)conn;
}

static const struct ipc_handler client_handler = {
	client_on_msg, client_on_close,
};

static void
client_accept(int fd, unsigned events, void *arg)
{
	struct deliver	*d = arg;
	struct dclient	*cl = xcalloc(1, sizeof(*cl));

	cl->d = d;
	if ((cl->conn = ipc_accept(d->svc->ev, fd, d->peers, d->npeers,
	    &client_handler, cl, NULL)) == NULL) {
		free(cl);
		return;
	}
	cl->next = d->clients;
	d->clients = cl;
	(void)events;
}

static int
deliver_init(struct service *svc, char **err_r)
{
	struct deliver	*d = &deliver;

	d->svc = svc;
	svc->arg = d;
	d->listen_fd = -1;
	for (size_t i = 0; i < svc->nlisteners; i++)
		if (strcmp(svc->listeners[i].key, "private") == 0)
			d->listen_fd = svc->listeners[i].fd;
	if (d->listen_fd == -1) {
		*err_r = xstrdup("no private socket from the master");
		return -1;
	}
	/* Only qmgr asks, and it runs as our user (or root in tests). */
	d->peers[0] = 0;
	d->peers[1] = (uid_t)-1;
	d->npeers = 2;
	return 0;
}

static int
deliver_start(struct service *svc, char **err_r)
{
	struct deliver	*d = svc->arg;
	char		*ci = db_conninfo(conf_str(svc->conf, "database"),
			    conf_str(svc->conf, "run_dir"), "wharf_deliver");

	d->peers[1] = geteuid();	/* after the privilege drop */
	d->blobdir = xasprintf("%s/blobs", conf_str(svc->conf, "state_dir"));
	d->db = db_new(svc->ev, ci);
	free(ci);
	d->accept_io = ev_io_add(svc->ev, d->listen_fd, EV_READ,
	    client_accept, d);
	if (d->accept_io == NULL) {
		*err_r = xstrdup("cannot watch the private socket");
		return -1;
	}
	return 0;
}

static void
deliver_stop(struct service *svc)
{
	struct deliver	*d = svc->arg;

	ev_io_del(&d->accept_io);
	if (d->inflight == 0)
		service_done(svc);
}

static void
deliver_cleanup(struct service *svc)
{
	struct deliver	*d = svc->arg;

	if (d == NULL)
		return;
	ev_io_del(&d->accept_io);
	while (d->clients != NULL) {
		/* Results still queued go to qmgr before we exit. */
		ipc_conn_flush_sync(d->clients->conn, 1000);
		client_free(d->clients);
	}
	db_free(&d->db);
	free(d->blobdir);
}

static const struct service_ops deliver_ops = {
	.name = "deliver",
	.user_key = "wharf_user",
	.init = deliver_init,
	.start = deliver_start,
	.stop = deliver_stop,
	.cleanup = deliver_cleanup,
};

int
main(int argc, char *argv[])
{
	return service_main(argc, argv, &deliver_ops);
}
