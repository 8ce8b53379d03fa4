/*
 * fuzz_ipc — the IPC frame decoder, the field readers and the real
 * connection reader.
 *
 * Input byte 0 picks the mode:
 *   bit 0 clear: decode.  The rest is a byte stream cut into frames with
 *	ipc_frame_decode; each frame's fields are read in an order driven
 *	by its first payload bytes.
 *   bit 0 set: connection.  Bits 1-6 give a chunk size, bit 7 makes
 *	on_close free the conn; byte 1 is a mask of which chunks carry an
 *	fd (SCM_RIGHTS); byte 2 drives the handler (take fds, answer,
 *	free the conn from on_msg, expect replies).  The rest is written
 *	into a socketpair, chunk by chunk, and an ipc_conn reads it with
 *	ev_run_once until it closes or drains.
 * Besides the sanitizers, the target checks that no fd leaks.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "ipc.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static volatile uint64_t sink;

/* Read fields in an order taken from the payload's first bytes. */
static void
read_fields(struct ipc_msg *m)
{
	size_t		 nops = m->hdr.len < 16 ? m->hdr.len : 16;
	uint32_t	 u32;
	uint64_t	 u64;
	const char	*s;
	const void	*p;
	size_t		 len;

	for (size_t i = 0; i < nops; i++) {
		switch (m->data[i] % 4) {
		case 0:
			if (ipc_get_u32(m, &u32) == 0)
				sink += u32;
			break;
		case 1:
			if (ipc_get_u64(m, &u64) == 0)
				sink += u64;
			break;
		case 2:
			if (ipc_get_str(m, &s) == 0 &&
			    strlen(s) + 1 > m->hdr.len)
				abort();
			sink += strlen(s);
			break;
		default:
			if (ipc_get_bytes(m, &p, &len) == 0 && len > 0)
				sink += ((const uint8_t *)p)[len - 1];
			break;
		}
	}
	if (ipc_get_end(m) == 0 && (m->err || m->pos != m->hdr.len))
		abort();
	if (m->pos > m->hdr.len)
		abort();
}

static void
fuzz_decode(const uint8_t *in, size_t size)
{
	uint8_t		*buf = malloc(size == 0 ? 1 : size);
	size_t		 off = 0, used;
	struct ipc_msg	 m;
	const char	*err;
	int		 r;

	if (buf == NULL)
		return;
	memcpy(buf, in, size);		/* exact size: ASan sees overreads */
	while ((r = ipc_frame_decode(buf + off, size - off, &m, &used,
	    &err)) == 1) {
		if (used < IPC_HDR_SIZE || used > size - off)
			abort();
		read_fields(&m);
		if (ipc_msg_take_fd(&m) != -1)
			abort();
		off += used;
	}
	if (r == -1 && err == NULL)
		abort();
	free(buf);
}

/* Connection mode. */

#define B_TAKE_FD	0x01
#define B_ANSWER	0x02
#define B_FREE_ON_MSG	0x04
#define B_EXPECT	0x08

struct fz {
	struct ipc_conn	*c;
	unsigned	 behave;
	bool		 free_on_close;
	bool		 closed;
	int		 nmsg;
};

static void
fz_reply(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	if (m != NULL)
		read_fields(m);
}

static void
fz_on_msg(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct fz	*f = arg;
	int		 fd;

	f->nmsg++;
	read_fields(m);
	if ((f->behave & B_TAKE_FD) && (fd = ipc_msg_take_fd(m)) != -1)
		close(fd);
	if (f->behave & B_ANSWER) {
		struct ipc_out	*o = ipc_msg_begin(c, m->hdr.type, m->hdr.id,
		    IPC_F_REPLY);

		ipc_put_bytes(o, m->data, m->hdr.len);
		(void)ipc_msg_end(o);
	}
	if ((f->behave & B_FREE_ON_MSG) && f->nmsg == 2)
		ipc_conn_free(&f->c);
}

static void
fz_on_close(struct ipc_conn *c, const char *reason, void *arg)
{
	struct fz	*f = arg;

	if (f->closed || reason == NULL)
		abort();
	f->closed = true;
	if (f->free_on_close)
		ipc_conn_free(&f->c);
}

static const struct ipc_handler fz_handler = { fz_on_msg, fz_on_close };

/* One chunk, with an fd when asked; 0 sent, 1 try later, -1 give up. */
static int
send_chunk(int fd, const uint8_t *p, size_t n, bool with_fd)
{
	union {
		struct cmsghdr	hdr;
		uint8_t		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct msghdr	 mh;
	struct iovec	 iov = { (void *)(uintptr_t)p, n };
	int		 nul = -1;
	ssize_t		 r;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (with_fd && (nul = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		cm.hdr.cmsg_len = CMSG_LEN(sizeof(int));
		cm.hdr.cmsg_level = SOL_SOCKET;
		cm.hdr.cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(&cm.hdr), &nul, sizeof(int));
	}
	r = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (nul != -1)
		close(nul);
	if (r == (ssize_t)n)
		return 0;
	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return 1;
	return -1;	/* closed peer, or a short write we do not retry */
}

static bool
fz_done(const struct fz *f)
{
	return f->c == NULL || f->closed;
}

static void
fuzz_conn(const uint8_t *in, size_t size)
{
	struct fz	 f = { 0 };
	struct ev	*ev;
	size_t		 chunk, off = 0, n;
	unsigned	 mask;
	int		 sv[2], k = 0, idle = 0, r;

	if (size < 3)
		return;
	chunk = (size_t)((in[0] >> 1) & 0x3f) + 1;
	f.free_on_close = (in[0] & 0x80) != 0;
	mask = in[1];
	f.behave = in[2];
	in += 3;
	size -= 3;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	ev = ev_new();
	if ((f.c = ipc_conn_new(ev, sv[0], &fz_handler, &f)) == NULL)
		abort();
	if (f.behave & B_EXPECT)
		for (uint32_t id = 1; id <= 3; id++)
			ipc_conn_expect(f.c, id, 60000, fz_reply, NULL);
	while (off < size && !fz_done(&f)) {
		n = size - off < chunk ? size - off : chunk;
		r = send_chunk(sv[1], in + off, n, mask & (1u << (k % 8)));
		if (r == -1)
			break;
		if (r == 0) {
			off += n;
			k++;
		}
		(void)ev_run_once(ev, 0);
	}
	shutdown(sv[1], SHUT_WR);
	/* Drain until closed, or until nothing more happens. */
	while (!fz_done(&f) && idle < 4) {
		int	 before = f.nmsg;

		(void)ev_run_once(ev, 0);
		idle = f.nmsg == before ? idle + 1 : 0;
	}
	ipc_conn_free(&f.c);
	close(sv[1]);
	ev_free(&ev);
}

/* The lowest free fd must not creep up: nothing leaked. */
static void
check_fds(void)
{
	static int	 baseline = -1;
	int		 fd = dup(0);

	if (fd == -1)
		return;
	close(fd);
	if (baseline == -1)
		baseline = fd;
	else if (fd != baseline)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool	 init;

	if (!init) {
		log_init("fuzz_ipc", 0, LOG_LEVEL_ERR);
		init = true;
	}
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_conn(data, size);
	else
		fuzz_decode(data + 1, size - 1);
	check_fds();
	return 0;
}
