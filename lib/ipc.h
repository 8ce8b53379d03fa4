/*
 * ipc — framed messages over UNIX stream sockets (like OpenBSD imsg).
 *
 * Frame: header {u32 type, u32 len, u32 id, u32 flags} in host byte order
 * (both ends are on one machine), then len payload bytes, len <=
 * IPC_MAX_PAYLOAD.  A frame with IPC_F_FD set carries exactly one file
 * descriptor (SCM_RIGHTS) sent with its first byte; a received descriptor
 * not claimed by such a frame closes the connection.
 *
 * Payload fields, written with ipc_put_* and read back in the same order
 * with ipc_get_*:
 *	u32   = 4 bytes            u64 = 8 bytes
 *	str   = u32 n, n bytes, the last one NUL, no other NUL
 *	bytes = u32 n, n bytes
 * Each message type's grammar is one comment line in its proto_*.h.
 *
 * Reading is sticky: after the first failed get every later get fails too
 * and ipc_get_end() returns -1, so a handler checks once at the end.  A
 * malformed message is the peer's problem, never ours: log it, drop it or
 * close that connection, and carry on.
 *
 * Connections are driven by lib/ev, handle partial reads and writes, and
 * apply back-pressure: while more than IPC_OUT_HIGH bytes wait to be sent,
 * the connection stops reading (so a peer that does not read its replies
 * cannot make us queue without bound).
 */
#ifndef WHARF_IPC_H
#define WHARF_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IPC_HDR_SIZE	16
#define IPC_MAX_PAYLOAD	(64 * 1024)
#define IPC_OUT_HIGH	(1024 * 1024)

#define IPC_F_FD	0x0001	/* one fd accompanies this frame */
#define IPC_F_REPLY	0x0002	/* a reply to the request with this id */

/* Types shared by every protocol; each protocol has its own range. */
#define IPC_HELLO	1	/* u32 protocol, u32 version */
#define IPC_ERROR	2	/* str reason: reply to an unusable request */

struct ipc_hdr {
	uint32_t	type;
	uint32_t	len;
	uint32_t	id;
	uint32_t	flags;
};

/* A received message; valid only during the on_msg callback. */
struct ipc_msg {
	struct ipc_hdr	 hdr;
	const uint8_t	*data;
	size_t		 pos;
	bool		 err;		/* sticky read error */
	int		 fd;		/* -1, or the attached fd until claimed */
};

int	ipc_get_u32(struct ipc_msg *, uint32_t *);
int	ipc_get_u64(struct ipc_msg *, uint64_t *);
int	ipc_get_str(struct ipc_msg *, const char **);	/* points into msg */
int	ipc_get_bytes(struct ipc_msg *, const void **, size_t *);
/* 0 when every byte was read and no get failed, else -1. */
int	ipc_get_end(struct ipc_msg *);
/* Take ownership of the attached fd (-1 if none). */
int	ipc_msg_take_fd(struct ipc_msg *);

/*
 * Decode one frame at the front of data (pure: no I/O, no fd; the reader
 * of ipc_conn uses it, as do the fuzzer and tests).  1: *m describes the
 * frame (m->data points into data, m->fd = -1) and *used_r is its size;
 * 0: need more bytes; -1: invalid header, *err_r a static reason
 * ("oversized frame", "unknown flags").
 */
int	ipc_frame_decode(const uint8_t *data, size_t len, struct ipc_msg *m,
	    size_t *used_r, const char **err_r);

struct ipc_conn;

struct ipc_handler {
	/* One complete message.  The conn may be freed inside. */
	void	(*on_msg)(struct ipc_conn *, struct ipc_msg *, void *arg);
	/* EOF, I/O error or protocol violation; reason is for the log.
	   Called once; the owner frees the conn (now or deferred). */
	void	(*on_close)(struct ipc_conn *, const char *reason, void *arg);
};

struct ev;

/* Takes ownership of fd (made non-blocking, closed by ipc_conn_free);
   NULL, fd closed, if the fd cannot be watched. */
struct ipc_conn *ipc_conn_new(struct ev *, int fd,
	    const struct ipc_handler *, void *arg);
void	ipc_conn_free(struct ipc_conn **);
int	ipc_conn_fd(const struct ipc_conn *);
/* SO_PEERCRED of the peer; 0 or -1. */
int	ipc_conn_peer(const struct ipc_conn *, pid_t *, uid_t *, gid_t *);
size_t	ipc_conn_pending(const struct ipc_conn *);	/* bytes to send */
/* A fresh request id (never 0). */
uint32_t ipc_conn_next_id(struct ipc_conn *);

/*
 * Building a message: begin, put fields, end.  end() queues it (and arms
 * EV_WRITE); it returns -1 and queues nothing if the payload passed
 * IPC_MAX_PAYLOAD.  put_fd passes ownership of fd to the message.
 */
struct ipc_out;
struct ipc_out *ipc_msg_begin(struct ipc_conn *, uint32_t type, uint32_t id,
	    uint32_t flags);
void	ipc_put_u32(struct ipc_out *, uint32_t);
void	ipc_put_u64(struct ipc_out *, uint64_t);
void	ipc_put_str(struct ipc_out *, const char *);
void	ipc_put_bytes(struct ipc_out *, const void *, size_t);
void	ipc_put_fd(struct ipc_out *, int fd);
int	ipc_msg_end(struct ipc_out *);

/*
 * The first message on every connection: IPC_HELLO (u32 protocol,
 * u32 version).  ipc_hello_ok() is true when msg is exactly that hello.
 */
int	ipc_send_hello(struct ipc_conn *, uint32_t proto, uint32_t version);
bool	ipc_hello_ok(struct ipc_msg *, uint32_t proto, uint32_t version);

/* Convenience: a message with no payload. */
int	ipc_send_empty(struct ipc_conn *, uint32_t type, uint32_t id,
	    uint32_t flags);

/*
 * Pending requests with deadlines.  After sending request `id`, expect()
 * routes the reply (a frame with IPC_F_REPLY and that id) to fn instead
 * of on_msg; fn gets NULL when timeout_ms passes or the conn closes.
 */
typedef void ipc_reply_fn(struct ipc_conn *, struct ipc_msg *, void *arg);
void	ipc_conn_expect(struct ipc_conn *, uint32_t id, uint64_t timeout_ms,
	    ipc_reply_fn *, void *arg);

/*
 * Blocking helpers for command-line tools: send everything queued, or
 * wait for one message, within timeout_ms.  0 or -1 (errno ETIMEDOUT on
 * timeout).  These run the conn's ev loop.
 */
int	ipc_conn_flush_sync(struct ipc_conn *, int timeout_ms);

/* Socket helpers. */
int	ipc_listen_unix(const char *path, mode_t mode, char **err_r);
int	ipc_connect_unix(const char *path, char **err_r);
/*
 * Accept one connection on listen_fd if its peer's uid (SO_PEERCRED) is
 * one of uids[]; the new conn calls h with arg.  NULL when there was
 * nothing to accept, or the peer was refused (logged and closed).
 */
struct ipc_conn *ipc_accept(struct ev *, int listen_fd, const uid_t *uids,
	    size_t nuids, const struct ipc_handler *h, void *arg,
	    pid_t *pid_r);

#endif
