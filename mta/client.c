/*
 * mta/client.c — qmgr's connections: MTA_DELIVER in, MTA_DELIVER_R out
 * (lib/proto_mta.h), and the one log line per recipient.
 *
 * Every field is checked before any work starts; a request that fails a
 * check gets IPC_ERROR and one log line, and the connection goes on.
 * A bad hello or a broken frame closes the connection.  Requests run
 * concurrently and are answered in the order they finish.  When the
 * connection is lost its requests are abandoned (qmgr retries them).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bsd/string.h>

#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "proto_mta.h"
#include "proto_queue.h"
#include "service.h"
#include "xmalloc.h"
#include "mta.h"

#define QUEUE_ID_MAX	64
#define ADDRESS_MAX	512	/* a MAIL/RCPT line is 512 octets */
#define DOMAIN_MAX	255
#define XTEXT_MAX	500	/* ENVID, ORCPT as received */
#define SIZE_MAX_MSG	((uint64_t)1 << 40)
#define NOTIFY_ALL	(QUEUE_NOTIFY_NEVER | QUEUE_NOTIFY_SUCCESS | \
			 QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY)
#define REPLY_FIXED	48	/* a result's octets besides two strings */

/* ---- requests ---- */

static void
req_free(struct mta_req *r)
{
	route_cancel(r);
	attempt_cancel(r);
	for (size_t i = 0; i < r->nrcpts; i++) {
		free(r->rcpts[i].address);
		free(r->rcpts[i].orcpt);
		free(r->rcpts[i].reply);
	}
	free(r->rcpts);
	free(r->queue_id);
	free(r->sender);
	free(r->envid);
	free(r->domain);
	if (r->fd != -1)
		close(r->fd);
	if (r->conv_fd != -1)
		close(r->conv_fd);
	free(r);
}

static void
req_unlink(struct mta_req *r)
{
	struct mta_client	*cl = r->cl;

	if (cl == NULL)
		return;
	for (struct mta_req **p = &cl->reqs; *p != NULL; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			cl->nreqs--;
			break;
		}
	r->cl = NULL;
}

/* Printable ASCII and UTF-8 octets only; 1..max long. */
static bool
field_ok(const char *s, size_t max, bool empty_ok)
{
	size_t	 n = strlen(s);

	if (n > max || (n == 0 && !empty_ok))
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool
queue_id_ok(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > QUEUE_ID_MAX)
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' &&
		    *s != '_')
			return false;
	return true;
}

/* "local@domain" whose domain is the request's. */
static bool
rcpt_ok(const char *address, const char *domain)
{
	const char	*at = strrchr(address, '@');

	return field_ok(address, ADDRESS_MAX, false) && at != NULL &&
	    at != address && strcasecmp(at + 1, domain) == 0;
}

static const char *
req_read_rcpts(struct mta_req *r, struct ipc_msg *msg, uint32_t n)
{
	const char	*addr, *orcpt;

	r->rcpts = xcalloc(n, sizeof(*r->rcpts));
	for (uint32_t i = 0; i < n; i++) {
		struct mta_rcpt *rc = &r->rcpts[r->nrcpts];

		if (ipc_get_u64(msg, &rc->row) == -1 ||
		    ipc_get_str(msg, &addr) == -1 ||
		    ipc_get_str(msg, &orcpt) == -1 ||
		    ipc_get_u32(msg, &rc->notify) == -1)
			return "malformed request";
		if (!rcpt_ok(addr, r->domain))
			return "bad recipient (or not in the domain)";
		if (!field_ok(orcpt, XTEXT_MAX, true))
			return "bad ORCPT";
		if (rc->notify & ~(uint32_t)NOTIFY_ALL)
			return "bad NOTIFY";
		rc->address = xstrdup(addr);
		rc->orcpt = *orcpt != '\0' ? xstrdup(orcpt) : NULL;
		rc->status = MTA_TEMPFAIL;
		r->nrcpts++;
	}
	return NULL;
}

/* The fields after queue_id; NULL or why the request is refused. */
static const char *
req_read_fields(struct mta_req *r, struct ipc_msg *msg)
{
	const char	*sender, *envid, *domain;
	uint32_t	 utf8, n;

	ipc_get_u64(msg, &r->size);
	ipc_get_str(msg, &sender);
	ipc_get_str(msg, &envid);
	ipc_get_u32(msg, &r->ret);
	ipc_get_u32(msg, &r->body);
	ipc_get_u32(msg, &utf8);
	ipc_get_str(msg, &domain);
	if (ipc_get_u32(msg, &n) == -1)
		return "malformed request";
	if (r->size > SIZE_MAX_MSG)
		return "bad size";
	if (!field_ok(sender, ADDRESS_MAX, true) ||
	    !field_ok(envid, XTEXT_MAX, true))
		return "bad sender or ENVID";
	if (r->ret > MTA_RET_HDRS || r->body > MTA_BODY_BINARYMIME ||
	    utf8 > 1)
		return "bad RET, BODY or SMTPUTF8";
	if (!field_ok(domain, DOMAIN_MAX, false) || strchr(domain, '@'))
		return "bad domain";
	if (n == 0 || n > MTA_RCPTS_MAX)
		return "bad number of recipients";
	r->sender = xstrdup(sender);
	r->envid = *envid != '\0' ? xstrdup(envid) : NULL;
	r->smtputf8 = utf8 == 1;
	r->domain = xstrdup(domain);
	return req_read_rcpts(r, msg, n);
}

static const char *
req_read(struct mta_req *r, struct ipc_msg *msg)
{
	const char	*qid, *why;
	struct stat	 st;

	if (ipc_get_str(msg, &qid) == -1 || !queue_id_ok(qid))
		return "bad queue id";
	r->queue_id = xstrdup(qid);
	if ((why = req_read_fields(r, msg)) != NULL)
		return why;
	if (ipc_get_end(msg) == -1)
		return "malformed request";
	if ((r->fd = ipc_msg_take_fd(msg)) == -1)
		return "no message fd";
	if (fstat(r->fd, &st) == -1 || !S_ISREG(st.st_mode))
		return "message fd is not a regular file";
	return NULL;
}

static struct mta_req *
req_new(struct mta_client *cl, uint32_t id)
{
	struct mta_req	*r = xcalloc(1, sizeof(*r));

	r->m = cl->m;
	r->id = id;
	r->fd = -1;
	r->conv_fd = -1;
	r->sock = -1;
	r->start_ms = ev_now(cl->m->ev);
	strlcpy(r->relay, "none", sizeof(r->relay));
	return r;
}

/* ---- results ---- */

static const char *
status_word(uint32_t status)
{
	switch (status) {
	case MTA_OK:
		return "sent";
	case MTA_PERMFAIL:
		return "bounced";
	default:
		return "deferred";
	}
}

static void
req_log(struct mta_req *r)
{
	uint64_t ms = ev_now(r->m->ev) - r->start_ms;
	double	 delay = (double)ms / 1000.0;
	char	 to[ADDRESS_MAX + 1];

	for (size_t i = 0; i < r->nrcpts; i++) {
		struct mta_rcpt *rc = &r->rcpts[i];

		log_safe(to, sizeof(to), rc->address, strlen(rc->address));
		log_info("%s: to=<%s>, relay=%s, delay=%.1f, dsn=%s, "
		    "status=%s (%s)", r->queue_id, to, r->relay, delay,
		    rc->dsn, status_word(rc->status), rc->reply);
	}
}

static void
put_capped(struct ipc_out *o, const char *s, size_t cap)
{
	char	 buf[SMTP_CLIENT_TEXT_MAX + MTA_RELAY_SIZE];

	if (strlen(s) <= cap || cap >= sizeof(buf)) {
		ipc_put_str(o, s);
		return;
	}
	strlcpy(buf, s, cap + 1);
	ipc_put_str(o, buf);
}

/* cap: most octets of each text (SIZE_MAX: all). */
static int
req_reply_send(struct mta_req *r, size_t cap)
{
	struct ipc_out	*o;

	o = ipc_msg_begin(r->cl->conn, MTA_DELIVER_R, r->id, IPC_F_REPLY);
	ipc_put_u32(o, (uint32_t)r->nrcpts);
	for (size_t i = 0; i < r->nrcpts; i++) {
		struct mta_rcpt *rc = &r->rcpts[i];

		ipc_put_u64(o, rc->row);
		ipc_put_u32(o, rc->status);
		ipc_put_str(o, rc->dsn);
		put_capped(o, rc->reply, cap);
		put_capped(o, r->relay, cap);
		ipc_put_u32(o, rc->flags);
	}
	return ipc_msg_end(o);
}

/*
 * 1000 recipients with long texts do not fit in one frame
 * (IPC_MAX_PAYLOAD): then every text is cut to an equal share.
 */
static void
req_reply(struct mta_req *r)
{
	size_t	 share;

	if (r->cl == NULL || req_reply_send(r, SIZE_MAX) == 0)
		return;
	share = (IPC_MAX_PAYLOAD - 64) / r->nrcpts;
	share = share > REPLY_FIXED ? (share - REPLY_FIXED) / 2 : 0;
	log_warnx("%s: reply too large, texts cut to %zu octets",
	    r->queue_id, share);
	if (req_reply_send(r, share) == -1)
		log_warnx("%s: reply still too large", r->queue_id);
}

void
req_done(struct mta_req *r)
{
	struct mta	*m = r->m;

	if (r->finished)
		return;
	r->finished = true;
	for (size_t i = 0; i < r->nrcpts; i++)
		if (r->rcpts[i].reply == NULL) {
			r->rcpts[i].status = MTA_TEMPFAIL;
			strlcpy(r->rcpts[i].dsn, "4.3.0",
			    sizeof(r->rcpts[i].dsn));
			r->rcpts[i].reply = xstrdup("delivery not attempted");
		}
	req_log(r);
	req_reply(r);
	req_unlink(r);
	req_free(r);
	m->inflight--;
	if (m->svc->stopping && m->inflight == 0)
		service_done(m->svc);
}

void
req_fail_all(struct mta_req *r, uint32_t status, const char *dsn,
    const char *text)
{
	for (size_t i = 0; i < r->nrcpts; i++) {
		struct mta_rcpt *rc = &r->rcpts[i];

		if (rc->reply != NULL)
			continue;
		rc->status = status;
		strlcpy(rc->dsn, dsn, sizeof(rc->dsn));
		rc->reply = xstrdup(text);
	}
	req_done(r);
}

/* A message shorter than queued must not leave (it would be cut). */
static void
req_start(struct mta_req *r)
{
	struct stat	 st;

	if (fstat(r->fd, &st) == -1 || (uint64_t)st.st_size < r->size) {
		log_warnx("%s: queue file has %lld octets, %llu queued",
		    r->queue_id, (long long)st.st_size,
		    (unsigned long long)r->size);
		req_fail_all(r, MTA_TEMPFAIL, "4.3.0", "queue file truncated");
		return;
	}
	route_start(r);
}

/* ---- connections ---- */

static void
client_free(struct mta_client *cl)
{
	struct mta	*m = cl->m;
	struct mta_req	*r;

	for (struct mta_client **p = &m->clients; *p != NULL; p = &(*p)->next)
		if (*p == cl) {
			*p = cl->next;
			break;
		}
	while ((r = cl->reqs) != NULL) {
		log_warnx("%s: qmgr connection lost, delivery abandoned",
		    r->queue_id);
		req_unlink(r);
		req_free(r);
		m->inflight--;
	}
	ipc_conn_free(&cl->conn);
	free(cl);
	if (m->svc->stopping && m->inflight == 0)
		service_done(m->svc);
}

void
client_free_all(struct mta *m)
{
	while (m->clients != NULL) {
		/* Results still queued go to qmgr before we exit. */
		ipc_conn_flush_sync(m->clients->conn, 1000);
		client_free(m->clients);
	}
}

static void
client_error(struct mta_client *cl, uint32_t id, const char *why)
{
	struct ipc_out	*o = ipc_msg_begin(cl->conn, IPC_ERROR, id,
			    IPC_F_REPLY);

	log_warnx("qmgr pid=%ld: request refused: %s", (long)cl->pid, why);
	ipc_put_str(o, why);
	ipc_msg_end(o);
}

static void
client_deliver(struct mta_client *cl, struct ipc_msg *msg)
{
	struct mta_req	*r;
	const char	*why;

	if (cl->m->svc->stopping) {
		/* A new generation serves it (reload): qmgr asks again. */
		client_error(cl, msg->hdr.id, "mta is stopping");
		return;
	}
	if (cl->nreqs >= MTA_CLIENT_INFLIGHT_MAX) {
		client_error(cl, msg->hdr.id, "too many requests in flight");
		return;
	}
	r = req_new(cl, msg->hdr.id);
	if ((why = req_read(r, msg)) != NULL) {
		client_error(cl, msg->hdr.id, why);
		req_free(r);
		return;
	}
	r->cl = cl;
	r->next = cl->reqs;
	cl->reqs = r;
	cl->nreqs++;
	cl->m->inflight++;
	req_start(r);
}

static void
client_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct mta_client	*cl = arg;

	if (!cl->hello) {
		if (!ipc_hello_ok(msg, MTA_PROTO, MTA_PROTO_VERSION)) {
			log_warnx("qmgr pid=%ld: bad hello; closing",
			    (long)cl->pid);
			client_free(cl);
			return;
		}
		cl->hello = true;
		return;
	}
	if (msg->hdr.type == MTA_DELIVER)
		client_deliver(cl, msg);
	else
		client_error(cl, msg->hdr.id, "unexpected message type");
	(void)conn;
}

static void
client_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	struct mta_client	*cl = arg;

	if (cl->nreqs > 0)
		log_warnx("qmgr pid=%ld: connection closed: %s",
		    (long)cl->pid, reason);
	else
		log_debug("qmgr pid=%ld: connection closed: %s",
		    (long)cl->pid, reason);
	client_free(cl);
	(void)conn;
}

static const struct ipc_handler client_handler = {
	client_on_msg, client_on_close,
};

void
client_accept(int fd, unsigned events, void *arg)
{
	struct mta		*m = arg;
	struct mta_client	*cl = xcalloc(1, sizeof(*cl));

	cl->m = m;
	if ((cl->conn = ipc_accept(m->ev, fd, m->peers, m->npeers,
	    &client_handler, cl, &cl->pid)) == NULL) {
		free(cl);
		return;
	}
	cl->next = m->clients;
	m->clients = cl;
	(void)events;
}
