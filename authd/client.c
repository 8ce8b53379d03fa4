/*
 * authd/client.c — connections from the other daemons.
 *
 * Each peer is checked with SO_PEERCRED against the users allowed to ask
 * (root, authd's own, wharf_user, wharf_null_user).  The first message must
 * be IPC_HELLO for AUTH_PROTO; a malformed request gets IPC_ERROR and one
 * log line, never more (STYLE.md: fail fast on bugs, never on input).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "net.h"
#include "proto_auth.h"
#include "service.h"
#include "xmalloc.h"
#include "authd.h"

#define ADDRESS_MAX	(64 + 1 + 255)		/* RFC 5321 4.5.3.1 */

struct authd_client {
	struct authd_client	*next;
	struct authd		*a;
	struct ipc_conn		*conn;
	bool			 hello;
	pid_t			 pid;
	struct conn_ips		 conns;		/* smtpd sessions it counted */
};

static void
client_free(struct authd_client *cl)
{
	struct authd	*a = cl->a;

	for (struct authd_client **p = &a->clients; *p != NULL;
	    p = &(*p)->next)
		if (*p == cl) {
			*p = cl->next;
			break;
		}
	lookup_client_gone(cl);
	login_client_gone(a, cl);
	conncount_forget(&cl->conns);
	ipc_conn_free(&cl->conn);
	free(cl);
}

void
client_free_all(struct authd *a)
{
	while (a->clients != NULL) {
		ipc_conn_flush_sync(a->clients->conn, 1000);
		client_free(a->clients);
	}
}

static void
client_error(struct authd_client *cl, uint32_t id, const char *why)
{
	struct ipc_out	*o = ipc_msg_begin(cl->conn, IPC_ERROR, id,
			    IPC_F_REPLY);

	log_warnx("client pid=%ld: %s", (long)cl->pid, why);
	ipc_put_str(o, why);
	ipc_msg_end(o);
}

void
client_reply_status(struct authd_client *cl, uint32_t type, uint32_t id,
    uint32_t status)
{
	struct ipc_out	*o = ipc_msg_begin(cl->conn, type, id, IPC_F_REPLY);

	ipc_put_u32(o, status);
	ipc_msg_end(o);
}

void
client_reply_rcpt(struct authd_client *cl, uint32_t id,
    const struct rcpt_answer *ans)
{
	struct ipc_out	*o = ipc_msg_begin(cl->conn, AUTH_RCPT_R, id,
			    IPC_F_REPLY);
	size_t		 n = ans->ndest > 256 ? 256 : ans->ndest;

	ipc_put_u32(o, ans->status);
	ipc_put_u32(o, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		ipc_put_u32(o, ans->dest[i].kind);
		ipc_put_str(o, ans->dest[i].address);
		ipc_put_u64(o, ans->dest[i].user_id);
	}
	if (ipc_msg_end(o) == -1)
		client_reply_status(cl, AUTH_RCPT_R, id, AUTH_TEMPFAIL);
}

static bool
client_relay_allowed(struct authd *a, const char *ip)
{
	for (size_t i = 0; i < a->nnets; i++)
		if (net_cidr_match(&a->nets[i], ip))
			return true;
	return false;
}

static void
client_connect(struct authd_client *cl, uint32_t id, const char *ip,
    uint32_t limit)
{
	struct ipc_out	*o = ipc_msg_begin(cl->conn, AUTH_CONNECT_R, id,
			    IPC_F_REPLY);
	bool		 ok = conncount_connect(&cl->conns, ip, limit);

	if (!ok)
		log_info("too many connections from %s (limit %u)", ip, limit);
	ipc_put_u32(o, ok ? AUTH_OK : AUTH_TOOMANY);
	ipc_put_u32(o, client_relay_allowed(cl->a, ip));
	ipc_msg_end(o);
}

void
client_reply_login(struct authd_client *cl, uint32_t id, uint32_t status,
    uint64_t user_id, const char *account)
{
	struct ipc_out	*o = ipc_msg_begin(cl->conn, AUTH_PASSWORD_R, id,
			    IPC_F_REPLY);

	ipc_put_u32(o, status);
	ipc_put_u64(o, user_id);
	ipc_put_str(o, account);
	ipc_msg_end(o);
}

static bool
arg_ok(const char *s, size_t max)
{
	return strlen(s) <= max;
}

/* str service, str user, str password, str client address, str mech */
static int
client_password(struct authd_client *cl, struct ipc_msg *msg)
{
	const char	*service, *user, *pw, *ip, *mech;

	if (ipc_get_str(msg, &service) == -1 || ipc_get_str(msg, &user) == -1 ||
	    ipc_get_str(msg, &pw) == -1 || ipc_get_str(msg, &ip) == -1 ||
	    ipc_get_str(msg, &mech) == -1 || ipc_get_end(msg) == -1 ||
	    !arg_ok(service, 15) || !arg_ok(user, 1024) ||
	    !arg_ok(pw, 1024) || !arg_ok(ip, 63) || !arg_ok(mech, 23))
		return -1;
	login_start(cl->a, cl, msg->hdr.id, service, user, pw, ip, mech);
	explicit_bzero((char *)pw, strlen(pw));
	return 0;
}

/* AUTH_MAIL, AUTH_SENDER: u64 user_id, str address */
static int
client_sender(struct authd_client *cl, struct ipc_msg *msg)
{
	const char	*address;
	uint64_t	 user_id;

	if (ipc_get_u64(msg, &user_id) == -1 ||
	    ipc_get_str(msg, &address) == -1 || ipc_get_end(msg) == -1 ||
	    user_id == 0 || !arg_ok(address, ADDRESS_MAX) ||
	    (msg->hdr.type == AUTH_SENDER && address[0] == '\0'))
		return -1;
	lookup_sender(cl->a, cl, msg->hdr.type, msg->hdr.id, user_id,
	    address);
	return 0;
}

/* str address [u64 submitter] */
static int
client_rcpt(struct authd_client *cl, struct ipc_msg *msg)
{
	const char	*address;
	uint64_t	 submitter = 0;
	struct rcpt_answer over = { AUTH_TOOMANY, 0, NULL };

	if (ipc_get_str(msg, &address) == -1 || address[0] == '\0' ||
	    !arg_ok(address, ADDRESS_MAX))
		return -1;
	if (ipc_get_end(msg) == -1 && (ipc_get_u64(msg, &submitter) == -1 ||
	    ipc_get_end(msg) == -1))
		return -1;
	if (submitter != 0 && !rate_take(cl->a, submitter, 0, 1)) {
		log_info("user id=%llu over submission_recipient_rate_limit",
		    (unsigned long long)submitter);
		client_reply_rcpt(cl, msg->hdr.id, &over);
		return 0;
	}
	lookup_rcpt(cl->a, cl, msg->hdr.id, address);
	return 0;
}

/* The requests whose one argument is a string. */
static int
client_simple(struct authd_client *cl, struct ipc_msg *msg)
{
	const char	*arg;
	uint32_t	 id = msg->hdr.id, limit = 0;

	if (ipc_get_str(msg, &arg) == 0 && msg->hdr.type == AUTH_CONNECT)
		ipc_get_u32(msg, &limit);
	if (ipc_get_end(msg) == -1 ||
	    strlen(arg) > ADDRESS_MAX || arg[0] == '\0')
		return -1;
	switch (msg->hdr.type) {
	case AUTH_DOMAIN:
		lookup_domain(cl->a, cl, id, arg);
		break;
	case AUTH_RELAY:
		client_reply_status(cl, AUTH_RELAY_R, id,
		    client_relay_allowed(cl->a, arg) ? AUTH_OK :
		    AUTH_NOTLOCAL);
		break;
	case AUTH_CONNECT:
		client_connect(cl, id, arg, limit);
		break;
	default:		/* AUTH_DISCONNECT */
		conncount_disconnect(&cl->conns, arg);
		break;
	}
	return 0;
}

static void
client_request(struct authd_client *cl, struct ipc_msg *msg)
{
	int	 r;

	switch (msg->hdr.type) {
	case AUTH_RCPT:
		r = client_rcpt(cl, msg);
		break;
	case AUTH_PASSWORD:
		r = client_password(cl, msg);
		break;
	case AUTH_MAIL:
	case AUTH_SENDER:
		r = client_sender(cl, msg);
		break;
	case AUTH_DOMAIN:
	case AUTH_RELAY:
	case AUTH_CONNECT:
	case AUTH_DISCONNECT:
		r = client_simple(cl, msg);
		break;
	default:
		client_error(cl, msg->hdr.id, "unknown request");
		return;
	}
	if (r == -1)
		client_error(cl, msg->hdr.id, "malformed request");
}

static void
client_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct authd_client	*cl = arg;

	if (cl->hello) {
		client_request(cl, msg);
		return;
	}
	if (!ipc_hello_ok(msg, AUTH_PROTO, AUTH_PROTO_VERSION)) {
		log_warnx("client pid=%ld: bad hello; closing", (long)cl->pid);
		client_free(cl);
		return;
	}
	cl->hello = true;
	(void)conn;
}

static void
client_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	struct authd_client	*cl = arg;

	log_debug("client pid=%ld closed: %s", (long)cl->pid, reason);
	client_free(cl);
	(void)conn;
}

static const struct ipc_handler client_handler = {
	client_on_msg, client_on_close,
};

void
client_accept(int fd, unsigned events, void *arg)
{
	struct authd		*a = arg;
	struct authd_client	*cl = xcalloc(1, sizeof(*cl));

	cl->a = a;
	if ((cl->conn = ipc_accept(a->svc->ev, fd, a->peers, a->npeers,
	    &client_handler, cl, &cl->pid)) == NULL) {
		free(cl);
		return;
	}
	cl->next = a->clients;
	a->clients = cl;
	(void)events;
}
