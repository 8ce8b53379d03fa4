/*
 * ipc — framed messages over UNIX stream sockets (ipc.h).
 *
 * Reading: recvmsg into a bounded input buffer, then every complete frame
 * in it is decoded (ipc_frame_decode) and dispatched.  A received fd is
 * remembered with the stream offsets of the bytes that came with it; the
 * sender attaches it to the first byte of its frame, so the frame that
 * claims it (IPC_F_FD) must start inside that range.  An fd whose range
 * is passed without a claim, a claim without an fd, or more than one fd
 * per recvmsg is a protocol violation and closes the connection.
 *
 * Writing: a queue of whole frames sent with sendmsg (gathered, at most
 * one fd per call, attached to its frame's first byte).  EV_WRITE is armed
 * only while output is pending; reading stops above IPC_OUT_HIGH pending
 * bytes and resumes below half of it.
 *
 * Lifetime: every entry point that runs callbacks holds the conn
 * (c->busy); ipc_conn_free inside a callback only marks it dying and the
 * last release frees it, so no caller touches freed memory.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "xmalloc.h"

#define IPC_IN_MAX	(IPC_HDR_SIZE + IPC_MAX_PAYLOAD + 4096)
#define IPC_READ_CHUNK	(64 * 1024)
#define IPC_IOV_MAX	64
#define IPC_RECV_FDS	8	/* room to see (and refuse) extra fds */
#define IPC_FLAGS_KNOWN	(IPC_F_FD | IPC_F_REPLY)

struct ipc_fdent {
	int			 fd;
	uint64_t		 start;	/* stream offsets of the bytes */
	uint64_t		 end;	/* received with this fd */
	TAILQ_ENTRY(ipc_fdent)	 entry;
};

struct ipc_out {
	struct ipc_conn		*conn;
	struct buf		 data;	/* header + payload */
	size_t			 off;	/* bytes already sent */
	int			 fd;	/* -1 or not yet sent */
	bool			 bad;
	TAILQ_ENTRY(ipc_out)	 entry;
};

struct ipc_expect {
	struct ipc_conn		*conn;
	uint32_t		 id;
	ipc_reply_fn		*fn;
	void			*arg;
	struct ev_timer		*timer;
	TAILQ_ENTRY(ipc_expect)	 entry;
};

struct ipc_conn {
	struct ev			*ev;
	int				 fd;
	struct ev_io			*io;
	struct ipc_handler		 h;
	void				*arg;
	struct buf			 in;
	uint64_t			 in_total;	/* bytes received */
	TAILQ_HEAD(, ipc_fdent)		 fds;
	TAILQ_HEAD(, ipc_out)		 outq;
	size_t				 pending;
	TAILQ_HEAD(, ipc_expect)	 expects;
	uint32_t			 next_id;
	int				 busy;
	bool				 dispatching;
	bool				 paused;
	bool				 closed;
	bool				 dying;
};

static void	conn_destroy(struct ipc_conn *);
static void	fds_clear(struct ipc_conn *);

/* Decoding. */

int
ipc_frame_decode(const uint8_t *data, size_t len, struct ipc_msg *m,
    size_t *used_r, const char **err_r)
{
	struct ipc_hdr	 hdr;

	if (len < IPC_HDR_SIZE)
		return 0;
	memcpy(&hdr, data, sizeof(hdr));
	if (hdr.len > IPC_MAX_PAYLOAD) {
		*err_r = "oversized frame";
		return -1;
	}
	if (hdr.flags & ~IPC_FLAGS_KNOWN) {
		*err_r = "unknown flags";
		return -1;
	}
	if (len - IPC_HDR_SIZE < hdr.len)
		return 0;
	memset(m, 0, sizeof(*m));
	m->hdr = hdr;
	m->data = data + IPC_HDR_SIZE;
	m->fd = -1;
	*used_r = IPC_HDR_SIZE + (size_t)hdr.len;
	return 1;
}

/* n bytes of payload, or NULL (and the sticky error) past the end. */
static const uint8_t *
msg_take(struct ipc_msg *m, size_t n)
{
	const uint8_t	*p;

	if (m->err || m->pos > m->hdr.len || n > m->hdr.len - m->pos) {
		m->err = true;
		return NULL;
	}
	p = m->data + m->pos;
	m->pos += n;
	return p;
}

int
ipc_get_u32(struct ipc_msg *m, uint32_t *v)
{
	const uint8_t	*p;

	*v = 0;
	if ((p = msg_take(m, sizeof(*v))) == NULL)
		return -1;
	memcpy(v, p, sizeof(*v));
	return 0;
}

int
ipc_get_u64(struct ipc_msg *m, uint64_t *v)
{
	const uint8_t	*p;

	*v = 0;
	if ((p = msg_take(m, sizeof(*v))) == NULL)
		return -1;
	memcpy(v, p, sizeof(*v));
	return 0;
}

int
ipc_get_bytes(struct ipc_msg *m, const void **p_r, size_t *len_r)
{
	uint32_t	 n;
	const uint8_t	*p;

	*p_r = "";
	*len_r = 0;
	if (ipc_get_u32(m, &n) == -1 || (p = msg_take(m, n)) == NULL)
		return -1;
	*p_r = p;
	*len_r = n;
	return 0;
}

/* On failure *s is "" so a careless handler still has a string. */
int
ipc_get_str(struct ipc_msg *m, const char **s)
{
	const void	*v;
	const char	*p;
	size_t		 n;

	*s = "";
	if (ipc_get_bytes(m, &v, &n) == -1)
		return -1;
	p = v;
	if (n == 0 || p[n - 1] != '\0' || memchr(p, '\0', n - 1) != NULL) {
		m->err = true;
		return -1;
	}
	*s = p;
	return 0;
}

int
ipc_get_end(struct ipc_msg *m)
{
	return m->err || m->pos != m->hdr.len ? -1 : 0;
}

int
ipc_msg_take_fd(struct ipc_msg *m)
{
	int	 fd = m->fd;

	m->fd = -1;
	return fd;
}

/* Lifetime. */

static void
conn_hold(struct ipc_conn *c)
{
	c->busy++;
}

static void
conn_release(struct ipc_conn *c)
{
	if (--c->busy == 0 && c->dying)
		conn_destroy(c);
}


/* Expected replies. */

static void
expect_remove(struct ipc_conn *c, struct ipc_expect *x)
{
	TAILQ_REMOVE(&c->expects, x, entry);
	ev_timer_del(&x->timer);
}

/* Remove x and hand it msg (NULL: failed); frees x. */
static void
expect_finish(struct ipc_conn *c, struct ipc_expect *x, struct ipc_msg *m)
{
	expect_remove(c, x);
	x->fn(c, m, x->arg);
	free(x);
}

static void
expect_timeout(void *arg)
{
	struct ipc_expect	*x = arg;
	struct ipc_conn		*c = x->conn;

	conn_hold(c);
	expect_finish(c, x, NULL);
	conn_release(c);
}

static void
expect_fail_all(struct ipc_conn *c)
{
	struct ipc_expect	*x;

	while ((x = TAILQ_FIRST(&c->expects)) != NULL)
		expect_finish(c, x, NULL);
}

static struct ipc_expect *
expect_find(struct ipc_conn *c, uint32_t id)
{
	struct ipc_expect	*x;

	TAILQ_FOREACH(x, &c->expects, entry) {
		if (x->id == id)
			return x;
	}
	return NULL;
}

void
ipc_conn_expect(struct ipc_conn *c, uint32_t id, uint64_t timeout_ms,
    ipc_reply_fn *fn, void *arg)
{
	struct ipc_expect	*x;

	if (c->dying) {
		fn(c, NULL, arg);
		return;
	}
	x = xcalloc(1, sizeof(*x));
	x->conn = c;
	x->id = id;
	x->fn = fn;
	x->arg = arg;
	x->timer = ev_timer_add(c->ev, timeout_ms, expect_timeout, x);
	TAILQ_INSERT_TAIL(&c->expects, x, entry);
}

/* Output queue. */

static void
out_free(struct ipc_out *o)
{
	if (o->fd != -1)
		close(o->fd);
	buf_clear(&o->data);
	free(o);
}

static void
outq_clear(struct ipc_conn *c)
{
	struct ipc_out	*o;

	while ((o = TAILQ_FIRST(&c->outq)) != NULL) {
		TAILQ_REMOVE(&c->outq, o, entry);
		out_free(o);
	}
	c->pending = 0;
}

/* Recompute back-pressure and the events we wait for. */
static void
conn_update(struct ipc_conn *c)
{
	unsigned	 events = 0;

	if (c->pending > IPC_OUT_HIGH)
		c->paused = true;
	else if (c->paused && c->pending < IPC_OUT_HIGH / 2)
		c->paused = false;
	if (c->io == NULL)
		return;
	if (!c->paused)
		events |= EV_READ;
	if (c->pending > 0)
		events |= EV_WRITE;
	ev_io_set(c->io, events);
}

/* Called once; then the conn only waits to be freed. */
static void
conn_close(struct ipc_conn *c, const char *reason)
{
	if (c->closed)
		return;
	c->closed = true;
	ev_io_del(&c->io);
	outq_clear(c);
	fds_clear(c);
	conn_hold(c);
	expect_fail_all(c);
	if (!c->dying && c->h.on_close != NULL)
		c->h.on_close(c, reason, c->arg);
	conn_release(c);
}

static void
conn_close_errno(struct ipc_conn *c, const char *what)
{
	char	 reason[128];

	snprintf(reason, sizeof(reason), "%s: %s", what, strerror(errno));
	conn_close(c, reason);
}

/* Gather frames from the head; a frame with an fd starts a new call. */
static ssize_t
conn_send(struct ipc_conn *c)
{
	struct iovec	 iov[IPC_IOV_MAX];
	struct msghdr	 mh;
	union {
		struct cmsghdr	hdr;
		uint8_t		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct ipc_out	*o, *first = TAILQ_FIRST(&c->outq);
	size_t		 n = 0;
	ssize_t		 r;

	TAILQ_FOREACH(o, &c->outq, entry) {
		if (n == IPC_IOV_MAX || (o != first && o->fd != -1))
			break;
		iov[n].iov_base = BUF_DATA(&o->data) + o->off;
		iov[n++].iov_len = o->data.len - o->off;
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = n;
	if (first->fd != -1) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		cm.hdr.cmsg_len = CMSG_LEN(sizeof(int));
		cm.hdr.cmsg_level = SOL_SOCKET;
		cm.hdr.cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(&cm.hdr), &first->fd, sizeof(int));
	}
	if ((r = sendmsg(c->fd, &mh, MSG_NOSIGNAL)) > 0 && first->fd != -1) {
		close(first->fd);
		first->fd = -1;
	}
	return r;
}

static void
out_advance(struct ipc_conn *c, size_t n)
{
	struct ipc_out	*o;
	size_t		 left;

	c->pending -= n;
	while (n > 0 && (o = TAILQ_FIRST(&c->outq)) != NULL) {
		left = o->data.len - o->off;
		if (n < left) {
			o->off += n;
			return;
		}
		n -= left;
		TAILQ_REMOVE(&c->outq, o, entry);
		out_free(o);
	}
}

static void
conn_write(struct ipc_conn *c)
{
	ssize_t	 n;

	while (!c->closed && !c->dying && !TAILQ_EMPTY(&c->outq)) {
		if ((n = conn_send(c)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close_errno(c, "write");
			return;
		}
		out_advance(c, (size_t)n);
	}
	conn_update(c);
}

/* Received fds. */

static void
fds_clear(struct ipc_conn *c)
{
	struct ipc_fdent	*e;

	while ((e = TAILQ_FIRST(&c->fds)) != NULL) {
		TAILQ_REMOVE(&c->fds, e, entry);
		close(e->fd);
		free(e);
	}
}

/* Match the fd queue against the frame at stream offset off. */
static int
fd_claim(struct ipc_conn *c, struct ipc_msg *m, size_t used,
    const char **err_r)
{
	struct ipc_fdent	*e = TAILQ_FIRST(&c->fds);
	uint64_t		 off = c->in_total - c->in.len;
	bool			 here;

	if (e != NULL && e->end <= off) {
		*err_r = "unexpected fd";
		return -1;
	}
	here = e != NULL && e->start <= off;
	if ((m->hdr.flags & IPC_F_FD) == 0) {
		if (here && off + used >= e->end) {
			*err_r = "unexpected fd";
			return -1;
		}
		return 0;
	}
	if (!here) {
		*err_r = "missing fd";
		return -1;
	}
	m->fd = e->fd;
	TAILQ_REMOVE(&c->fds, e, entry);
	free(e);
	return 0;
}

/* True when an fd came with bytes that are all consumed: unclaimable. */
static bool
fds_stale(struct ipc_conn *c)
{
	struct ipc_fdent	*e = TAILQ_FIRST(&c->fds);

	return e != NULL && e->end <= c->in_total - c->in.len;
}

/* Reading and dispatch. */

static void
conn_deliver(struct ipc_conn *c, struct ipc_msg *m)
{
	struct ipc_expect	*x;

	if ((m->hdr.flags & IPC_F_REPLY) &&
	    (x = expect_find(c, m->hdr.id)) != NULL)
		expect_finish(c, x, m);
	else if (c->h.on_msg != NULL)
		c->h.on_msg(c, m, c->arg);
}

static bool
conn_can_dispatch(const struct ipc_conn *c)
{
	return !c->closed && !c->dying && !c->paused;
}

static void
conn_dispatch(struct ipc_conn *c)
{
	struct ipc_msg	 m;
	size_t		 used;
	const char	*why;
	int		 r;

	c->dispatching = true;
	while (conn_can_dispatch(c)) {
		r = ipc_frame_decode(BUF_DATA(&c->in), c->in.len, &m, &used,
		    &why);
		if (r == 0)
			break;
		if (r == -1 || fd_claim(c, &m, used, &why) == -1) {
			conn_close(c, why);
			break;
		}
		conn_deliver(c, &m);
		if (m.fd != -1)
			close(m.fd);
		buf_consume(&c->in, used);
	}
	c->dispatching = false;
	if (!c->closed && !c->dying && fds_stale(c))
		conn_close(c, "unexpected fd");
}

/* Collect SCM_RIGHTS fds; returns how many (fds[] holds at most max). */
static int
cmsg_fds(struct msghdr *mh, int *fds, int max)
{
	struct cmsghdr	*cm;
	int		 n = 0, k, fd;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
			    sizeof(int));
			if (n < max)
				fds[n] = fd;
			else
				close(fd);
			n++;
		}
	}
	return n;
}

static void
close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* Check the ancillary data; -1 (fds closed, *err_r set) if refused. */
static int
recv_check(struct msghdr *mh, ssize_t n, int *fds, int nfd,
    const char **err_r)
{
	*err_r = NULL;
	if (mh->msg_flags & MSG_CTRUNC)
		*err_r = "control data truncated";
	else if (nfd > 1)
		*err_r = "too many fds";
	else if (n == 0 && nfd > 0)
		*err_r = "unexpected fd";
	if (*err_r == NULL)
		return 0;
	close_fds(fds, nfd < IPC_RECV_FDS ? nfd : IPC_RECV_FDS);
	return -1;
}

static void
fd_push(struct ipc_conn *c, int fd, size_t n)
{
	struct ipc_fdent	*e = xcalloc(1, sizeof(*e));

	e->fd = fd;
	e->start = c->in_total;
	e->end = c->in_total + n;
	TAILQ_INSERT_TAIL(&c->fds, e, entry);
}

/* One recvmsg: 1 got bytes, 0 nothing now, -1 closed. */
static int
conn_recv(struct ipc_conn *c)
{
	union {
		struct cmsghdr	hdr;
		uint8_t		buf[CMSG_SPACE(IPC_RECV_FDS * sizeof(int))];
	}		 cm;
	struct msghdr	 mh;
	struct iovec	 iov;
	size_t		 room = buf_avail(&c->in);
	int		 fds[IPC_RECV_FDS], nfd;
	const char	*why;
	ssize_t		 n;

	if (room == 0) {
		conn_close(c, "input buffer full");
		return -1;
	}
	iov.iov_len = room < IPC_READ_CHUNK ? room : IPC_READ_CHUNK;
	iov.iov_base = buf_reserve(&c->in, iov.iov_len);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	if ((n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC)) == -1) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		conn_close_errno(c, "read");
		return -1;
	}
	nfd = cmsg_fds(&mh, fds, IPC_RECV_FDS);
	if (recv_check(&mh, n, fds, nfd, &why) == -1 || n == 0) {
		conn_close(c, why != NULL ? why : "eof");
		return -1;
	}
	buf_commit(&c->in, (size_t)n);
	if (nfd == 1)
		fd_push(c, fds[0], (size_t)n);
	c->in_total += (uint64_t)n;
	return 1;
}

static void
conn_read(struct ipc_conn *c)
{
	if (!conn_can_dispatch(c) || c->dispatching)
		return;
	if (conn_recv(c) == 1)
		conn_dispatch(c);
}

static void
conn_io(int fd, unsigned events, void *arg)
{
	struct ipc_conn	*c = arg;

	conn_hold(c);
	if (events & EV_WRITE)
		conn_write(c);
	/* Frames left in the buffer when reading paused. */
	if (conn_can_dispatch(c) && !c->dispatching &&
	    c->in.len >= IPC_HDR_SIZE)
		conn_dispatch(c);
	if (events & EV_READ)
		conn_read(c);
	else if ((events & (EV_ERROR | EV_WRITE)) == EV_ERROR)
		conn_close(c, "hangup");
	conn_release(c);
}

/* The connection. */

struct ipc_conn *
ipc_conn_new(struct ev *ev, int fd, const struct ipc_handler *h, void *arg)
{
	struct ipc_conn	*c;
	int		 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		log_warn("ipc: fcntl fd %d", fd);
		close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	if ((c->io = ev_io_add(ev, fd, EV_READ, conn_io, c)) == NULL) {
		log_warn("ipc: ev_io_add fd %d", fd);
		close(fd);
		free(c);
		return NULL;
	}
	c->ev = ev;
	c->fd = fd;
	c->h = *h;
	c->arg = arg;
	buf_init(&c->in, IPC_IN_MAX);
	TAILQ_INIT(&c->fds);
	TAILQ_INIT(&c->outq);
	TAILQ_INIT(&c->expects);
	return c;
}

static void
conn_destroy(struct ipc_conn *c)
{
	struct ipc_expect	*x;

	while ((x = TAILQ_FIRST(&c->expects)) != NULL) {
		expect_remove(c, x);
		free(x);
	}
	ev_io_del(&c->io);
	outq_clear(c);
	fds_clear(c);
	buf_clear(&c->in);
	close(c->fd);
	free(c);
}

/* Pending reply fns get NULL now; the memory goes at the last release. */
void
ipc_conn_free(struct ipc_conn **cp)
{
	struct ipc_conn	*c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->dying)
		return;
	c->dying = true;
	conn_hold(c);
	expect_fail_all(c);
	conn_release(c);
}

int
ipc_conn_fd(const struct ipc_conn *c)
{
	return c->fd;
}

int
ipc_conn_peer(const struct ipc_conn *c, pid_t *pid, uid_t *uid, gid_t *gid)
{
	struct ucred	 uc;
	socklen_t	 len = sizeof(uc);

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1)
		return -1;
	if (pid != NULL)
		*pid = uc.pid;
	if (uid != NULL)
		*uid = uc.uid;
	if (gid != NULL)
		*gid = uc.gid;
	return 0;
}

size_t
ipc_conn_pending(const struct ipc_conn *c)
{
	return c->pending;
}

uint32_t
ipc_conn_next_id(struct ipc_conn *c)
{
	if (++c->next_id == 0)
		c->next_id = 1;
	return c->next_id;
}

/* Building messages. */

struct ipc_out *
ipc_msg_begin(struct ipc_conn *c, uint32_t type, uint32_t id, uint32_t flags)
{
	struct ipc_out	*o;
	struct ipc_hdr	 hdr;

	if (flags & ~IPC_FLAGS_KNOWN)
		fatalx("ipc_msg_begin: unknown flags 0x%x", flags);
	o = xcalloc(1, sizeof(*o));
	o->conn = c;
	o->fd = -1;
	buf_init(&o->data, IPC_HDR_SIZE + IPC_MAX_PAYLOAD);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.id = id;
	hdr.flags = flags;
	if (buf_add(&o->data, &hdr, sizeof(hdr)) == -1)
		fatalx("ipc_msg_begin: header");
	return o;
}

static void
out_add(struct ipc_out *o, const void *p, size_t n)
{
	if (!o->bad && buf_add(&o->data, p, n) == -1)
		o->bad = true;
}

void
ipc_put_u32(struct ipc_out *o, uint32_t v)
{
	out_add(o, &v, sizeof(v));
}

void
ipc_put_u64(struct ipc_out *o, uint64_t v)
{
	out_add(o, &v, sizeof(v));
}

void
ipc_put_bytes(struct ipc_out *o, const void *p, size_t n)
{
	if (n > IPC_MAX_PAYLOAD) {
		o->bad = true;
		return;
	}
	ipc_put_u32(o, (uint32_t)n);
	out_add(o, p, n);
}

/* NULL is sent as "". */
void
ipc_put_str(struct ipc_out *o, const char *s)
{
	if (s == NULL)
		s = "";
	ipc_put_bytes(o, s, strlen(s) + 1);
}

/* A second fd, or a bad one, fails the message at ipc_msg_end. */
void
ipc_put_fd(struct ipc_out *o, int fd)
{
	if (fd < 0 || o->fd != -1) {
		if (fd >= 0)
			close(fd);
		o->bad = true;
		return;
	}
	o->fd = fd;
}

/* IPC_F_FD is set when an fd was put; asked for without one fails. */
int
ipc_msg_end(struct ipc_out *o)
{
	struct ipc_conn	*c = o->conn;
	struct ipc_hdr	 hdr;

	memcpy(&hdr, BUF_DATA(&o->data), sizeof(hdr));
	if (o->bad || c->closed || c->dying ||
	    ((hdr.flags & IPC_F_FD) && o->fd == -1)) {
		out_free(o);
		return -1;
	}
	hdr.len = (uint32_t)(o->data.len - IPC_HDR_SIZE);
	if (o->fd != -1)
		hdr.flags |= IPC_F_FD;
	memcpy(BUF_DATA(&o->data), &hdr, sizeof(hdr));
	TAILQ_INSERT_TAIL(&c->outq, o, entry);
	c->pending += o->data.len;
	conn_update(c);
	return 0;
}

int
ipc_send_hello(struct ipc_conn *c, uint32_t proto, uint32_t version)
{
	struct ipc_out	*o = ipc_msg_begin(c, IPC_HELLO, 0, 0);

	ipc_put_u32(o, proto);
	ipc_put_u32(o, version);
	return ipc_msg_end(o);
}

bool
ipc_hello_ok(struct ipc_msg *m, uint32_t proto, uint32_t version)
{
	uint32_t	 p = 0, v = 0;

	if (m->hdr.type != IPC_HELLO)
		return false;
	ipc_get_u32(m, &p);
	ipc_get_u32(m, &v);
	return ipc_get_end(m) == 0 && p == proto && v == version;
}

int
ipc_send_empty(struct ipc_conn *c, uint32_t type, uint32_t id,
    uint32_t flags)
{
	return ipc_msg_end(ipc_msg_begin(c, type, id, flags));
}

/* Blocking helpers. */

int
ipc_conn_flush_sync(struct ipc_conn *c, int timeout_ms)
{
	uint64_t	 start = ev_clock_ms(), el;
	int		 rc = 0, saved = 0, wait;

	conn_hold(c);
	while (!c->closed && !c->dying && c->pending > 0) {
		el = ev_clock_ms() - start;
		if (timeout_ms >= 0 && el >= (uint64_t)timeout_ms) {
			saved = ETIMEDOUT;
			break;
		}
		wait = timeout_ms < 0 ? -1 : timeout_ms - (int)el;
		if (ev_run_once(c->ev, wait) == -1) {
			saved = errno;
			break;
		}
	}
	if (saved == 0 && (c->closed || c->dying))
		saved = EPIPE;
	if (saved != 0)
		rc = -1;
	conn_release(c);
	if (rc == -1)
		errno = saved;
	return rc;
}
