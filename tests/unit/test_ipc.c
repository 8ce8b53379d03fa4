/* Unit tests for lib/ipc: fields, framing, fds, partial I/O, lifetime. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bsd/string.h>

#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "xmalloc.h"

/* Helpers. */

static int
count_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*de;
	int		 n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static uint64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
make_socketpair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
}

static void
set_nonblock(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK),
	    0);
}

/* Raw frame bytes: header (host order) then payload. */
static size_t
frame(uint8_t *out, uint32_t type, uint32_t len, uint32_t id,
    uint32_t flags, const void *payload, size_t plen)
{
	struct ipc_hdr	 h = { type, len, id, flags };

	memcpy(out, &h, sizeof(h));
	if (plen > 0)
		memcpy(out + sizeof(h), payload, plen);
	return sizeof(h) + plen;
}

/* sendmsg with up to 16 fds attached. */
static void
raw_send(int fd, const void *data, size_t len, const int *fds, int nfd)
{
	union {
		struct cmsghdr	hdr;
		uint8_t		buf[CMSG_SPACE(16 * sizeof(int))];
	}		 cm;
	struct msghdr	 mh;
	struct iovec	 iov = { (void *)(uintptr_t)data, len };

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfd > 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfd * sizeof(int));
		cm.hdr.cmsg_len = CMSG_LEN((size_t)nfd * sizeof(int));
		cm.hdr.cmsg_level = SOL_SOCKET;
		cm.hdr.cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(&cm.hdr), fds, (size_t)nfd * sizeof(int));
	}
	assert_int_equal(sendmsg(fd, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

/* A recording endpoint. */

#define MAXREC	256

struct rec;
typedef void rec_hook(struct rec *, struct ipc_msg *);

struct rec {
	struct ev	*ev;
	struct ipc_conn	*c;
	int		 nmsg;
	struct ipc_hdr	 hdr[MAXREC];
	int		 seen_fd[MAXREC];
	int		 taken_fd[MAXREC];
	bool		 take_fd;
	int		 ncloses;
	char		 reason[128];
	int		 order;		/* sequence of callbacks */
	int		 close_order;
	bool		 free_on_close;
	bool		 free_on_msg;
	rec_hook	*hook;
	void		*hook_arg;
	uint8_t		 last[IPC_MAX_PAYLOAD];
	size_t		 lastlen;
};

static void
rec_on_msg(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct rec	*r = arg;
	int		 i = r->nmsg++ % MAXREC;

	assert_ptr_equal(c, r->c);
	r->order++;
	r->hdr[i] = m->hdr;
	r->seen_fd[i] = m->fd;
	r->taken_fd[i] = r->take_fd ? ipc_msg_take_fd(m) : -1;
	memcpy(r->last, m->data, m->hdr.len);
	r->lastlen = m->hdr.len;
	if (r->hook != NULL)
		r->hook(r, m);
	if (r->free_on_msg)
		ipc_conn_free(&r->c);
}

static void
rec_on_close(struct ipc_conn *c, const char *reason, void *arg)
{
	struct rec	*r = arg;

	assert_ptr_equal(c, r->c);
	r->ncloses++;
	r->close_order = ++r->order;
	strlcpy(r->reason, reason, sizeof(r->reason));
	if (r->free_on_close)
		ipc_conn_free(&r->c);
}

static const struct ipc_handler rec_handler = { rec_on_msg, rec_on_close };

static struct rec *
rec_new(struct ev *ev, int fd)
{
	struct rec	*r = xcalloc(1, sizeof(*r));

	r->ev = ev;
	r->c = ipc_conn_new(ev, fd, &rec_handler, r);
	assert_non_null(r->c);
	return r;
}

static void
rec_free(struct rec **rp)
{
	struct rec	*r = *rp;

	for (int i = 0; i < r->nmsg && i < MAXREC; i++)
		if (r->taken_fd[i] != -1)
			close(r->taken_fd[i]);
	ipc_conn_free(&r->c);
	free(r);
	*rp = NULL;
}

/* Run ev until cond holds or max rounds pass. */
#define RUN_UNTIL(ev, cond, max) do {					\
	for (int _i = 0; _i < (max) && !(cond); _i++)			\
		assert_int_equal(ev_run_once((ev), 10), 0);		\
} while (0)

/* Decoding, pure. */

struct decode_case {
	const char	*name;
	uint32_t	 len;		/* header len */
	uint32_t	 flags;
	size_t		 have;		/* bytes given to the decoder */
	int		 want;		/* 1, 0, -1 */
	const char	*err;
};

static void
test_decode_table(void **state)
{
	static const struct decode_case cases[] = {
		{ "empty", 0, 0, 0, 0, NULL },
		{ "short header", 0, 0, IPC_HDR_SIZE - 1, 0, NULL },
		{ "empty payload", 0, 0, IPC_HDR_SIZE, 1, NULL },
		{ "payload", 8, 0, IPC_HDR_SIZE + 8, 1, NULL },
		{ "payload + next", 8, 0, IPC_HDR_SIZE + 20, 1, NULL },
		{ "partial payload", 8, 0, IPC_HDR_SIZE + 7, 0, NULL },
		{ "max payload", IPC_MAX_PAYLOAD, 0,
		    IPC_HDR_SIZE + IPC_MAX_PAYLOAD, 1, NULL },
		{ "oversized", IPC_MAX_PAYLOAD + 1, 0, IPC_HDR_SIZE, -1,
		    "oversized frame" },
		{ "huge", UINT32_MAX, 0, IPC_HDR_SIZE, -1, "oversized frame" },
		{ "flags fd|reply", 0, IPC_F_FD | IPC_F_REPLY, IPC_HDR_SIZE,
		    1, NULL },
		{ "unknown flag", 0, 0x4, IPC_HDR_SIZE, -1, "unknown flags" },
		{ "high flag", 0, 0x80000000u, IPC_HDR_SIZE, -1,
		    "unknown flags" },
	};
	uint8_t		*data = xcalloc(1, IPC_HDR_SIZE + IPC_MAX_PAYLOAD + 64);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct decode_case *tc = &cases[i];
		struct ipc_msg	 m;
		size_t		 used = 12345;
		const char	*err = NULL;
		int		 r;

		frame(data, 7, tc->len, 99, tc->flags, NULL, 0);
		r = ipc_frame_decode(data, tc->have, &m, &used, &err);
		if (r != tc->want)
			fail_msg("%s: got %d want %d", tc->name, r, tc->want);
		if (r == 1) {
			assert_int_equal(used, IPC_HDR_SIZE + tc->len);
			assert_int_equal(m.hdr.type, 7);
			assert_int_equal(m.hdr.id, 99);
			assert_int_equal(m.hdr.len, tc->len);
			assert_int_equal(m.hdr.flags, tc->flags);
			assert_ptr_equal(m.data, data + IPC_HDR_SIZE);
			assert_int_equal(m.pos, 0);
			assert_false(m.err);
			assert_int_equal(m.fd, -1);
		}
		if (r == -1)
			assert_string_equal(err, tc->err);
	}
	free(data);
}

/* Every prefix of a stream of frames: 0 until a frame is whole. */
static void
test_decode_bytewise(void **state)
{
	uint8_t		 s[256];
	size_t		 n = 0, off = 0, ends[3];
	struct ipc_msg	 m;
	size_t		 used;
	const char	*err;
	int		 k = 0;

	n += frame(s + n, 1, 4, 1, 0, "abcd", 4);
	ends[0] = n;
	n += frame(s + n, 2, 0, 2, IPC_F_REPLY, NULL, 0);
	ends[1] = n;
	n += frame(s + n, 3, 5, 3, 0, "hello", 5);
	ends[2] = n;
	for (size_t have = 0; have <= n; have++) {
		int	 r = ipc_frame_decode(s + off, have - off, &m, &used,
		    &err);

		if (have == ends[k]) {
			assert_int_equal(r, 1);
			assert_int_equal(m.hdr.type, (uint32_t)k + 1);
			assert_int_equal(off + used, ends[k]);
			off += used;
			k++;
		} else
			assert_int_equal(r, 0);
	}
	assert_int_equal(k, 3);
}

/* Field reads on hand-built payloads. */

/* OP_NONE is 0: unset table entries end the list. */
enum op { OP_NONE, OP_U32, OP_U64, OP_STR, OP_BYTES, OP_END };

struct get_step {
	enum op		 op;
	int		 want;		/* return value */
	uint64_t	 num;		/* expected u32/u64 */
	const char	*str;		/* expected str / bytes */
	size_t		 len;		/* expected bytes length */
};

struct get_case {
	const char	*name;
	const char	*payload;
	size_t		 plen;
	struct get_step	 steps[6];
};

#define LE32(n)	(char)((n) & 0xff), (char)(((n) >> 8) & 0xff), \
		(char)(((n) >> 16) & 0xff), (char)(((n) >> 24) & 0xff)

static const char p_u32[] = { LE32(0x01020304) };
static const char p_u64[] = { LE32(0x05060708), LE32(0x01020304) };
static const char p_str[] = { LE32(4), 'a', 'b', 'c', 0 };
static const char p_str_nonul[] = { LE32(3), 'a', 'b', 'c' };
static const char p_str_embnul[] = { LE32(4), 'a', 0, 'c', 0 };
static const char p_str_zero[] = { LE32(0) };
static const char p_str_empty[] = { LE32(1), 0 };
static const char p_str_long[] = { LE32(9), 'a', 'b', 0 };
static const char p_bytes[] = { LE32(3), 0, 1, 2, LE32(0) };
static const char p_bytes_huge[] = { LE32(0xffffffff), 1, 2 };
static const char p_mixed[] = { LE32(7), LE32(2), 'x', 0, LE32(9) };

static void
check_step(const struct get_case *tc, int i, struct ipc_msg *m)
{
	const struct get_step	*st = &tc->steps[i];
	uint32_t		 u32;
	uint64_t		 u64;
	const char		*s;
	const void		*p;
	size_t			 len;
	int			 r = 0;

	switch (st->op) {
	case OP_U32:
		r = ipc_get_u32(m, &u32);
		if (r == 0)
			assert_int_equal(u32, st->num);
		break;
	case OP_U64:
		r = ipc_get_u64(m, &u64);
		if (r == 0)
			assert_int_equal(u64, st->num);
		break;
	case OP_STR:
		r = ipc_get_str(m, &s);
		assert_non_null(s);
		if (r == 0)
			assert_string_equal(s, st->str);
		else
			assert_string_equal(s, "");
		break;
	case OP_BYTES:
		r = ipc_get_bytes(m, &p, &len);
		if (r == 0) {
			assert_int_equal(len, st->len);
			assert_memory_equal(p, st->str, len);
		} else
			assert_int_equal(len, 0);
		break;
	case OP_END:
		r = ipc_get_end(m);
		break;
	case OP_NONE:
		return;
	}
	if (r != st->want)
		fail_msg("%s step %d: got %d want %d", tc->name, i, r,
		    st->want);
}

static void
test_get_table(void **state)
{
	static const struct get_case cases[] = {
		{ "u32", p_u32, sizeof(p_u32), {
		    { OP_U32, 0, 0x01020304, NULL, 0 }, { OP_END, 0, 0, 0, 0 },
		} },
		{ "u64", p_u64, sizeof(p_u64), {
		    { OP_U64, 0, 0x0102030405060708ULL, NULL, 0 },
		    { OP_END, 0, 0, NULL, 0 } } },
		{ "past end sticky", p_u32, sizeof(p_u32), {
		    { OP_U64, -1, 0, NULL, 0 },
		    { OP_U32, -1, 0, NULL, 0 },	/* would fit: sticky */
		    { OP_END, -1, 0, NULL, 0 } } },
		{ "leftover bytes", p_u64, sizeof(p_u64), {
		    { OP_U32, 0, 0x05060708, NULL, 0 },
		    { OP_END, -1, 0, NULL, 0 } } },
		{ "empty payload", "", 0, {
		    { OP_END, 0, 0, NULL, 0 }, { OP_U32, -1, 0, NULL, 0 },
		    { OP_END, -1, 0, NULL, 0 } } },
		{ "str", p_str, sizeof(p_str), {
		    { OP_STR, 0, 0, "abc", 0 }, { OP_END, 0, 0, NULL, 0 } } },
		{ "str no NUL", p_str_nonul, sizeof(p_str_nonul), {
		    { OP_STR, -1, 0, NULL, 0 }, { OP_END, -1, 0, NULL, 0 } } },
		{ "str embedded NUL", p_str_embnul, sizeof(p_str_embnul), {
		    { OP_STR, -1, 0, NULL, 0 }, { OP_END, -1, 0, NULL, 0 } } },
		{ "str zero length", p_str_zero, sizeof(p_str_zero), {
		    { OP_STR, -1, 0, NULL, 0 }, { OP_END, -1, 0, NULL, 0 } } },
		{ "str empty", p_str_empty, sizeof(p_str_empty), {
		    { OP_STR, 0, 0, "", 0 }, { OP_END, 0, 0, NULL, 0 } } },
		{ "str past end", p_str_long, sizeof(p_str_long), {
		    { OP_STR, -1, 0, NULL, 0 }, { OP_END, -1, 0, NULL, 0 } } },
		{ "bytes + empty bytes", p_bytes, sizeof(p_bytes), {
		    { OP_BYTES, 0, 0, "\0\1\2", 3 },
		    { OP_BYTES, 0, 0, "", 0 }, { OP_END, 0, 0, NULL, 0 } } },
		{ "bytes huge", p_bytes_huge, sizeof(p_bytes_huge), {
		    { OP_BYTES, -1, 0, NULL, 0 },
		    { OP_END, -1, 0, NULL, 0 } } },
		{ "mixed", p_mixed, sizeof(p_mixed), {
		    { OP_U32, 0, 7, NULL, 0 }, { OP_STR, 0, 0, "x", 0 },
		    { OP_U32, 0, 9, NULL, 0 }, { OP_END, 0, 0, NULL, 0 } } },
		{ "mixed wrong order", p_mixed, sizeof(p_mixed), {
		    { OP_U64, 0, 0x0000000200000007ULL, NULL, 0 },
		    { OP_STR, -1, 0, NULL, 0 }, { OP_U32, -1, 0, NULL, 0 },
		    { OP_END, -1, 0, NULL, 0 } } },
	};
	uint8_t		 buf[IPC_HDR_SIZE + 64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct get_case	*tc = &cases[i];
		struct ipc_msg		 m;
		size_t			 used;
		const char		*err;
		size_t			 n;

		n = frame(buf, 1, (uint32_t)tc->plen, 0, 0, tc->payload,
		    tc->plen);
		assert_int_equal(ipc_frame_decode(buf, n, &m, &used, &err), 1);
		for (int k = 0; k < 6 && tc->steps[k].op != OP_NONE; k++)
			check_step(tc, k, &m);
		/* A taken fd is -1 when none was attached. */
		assert_int_equal(ipc_msg_take_fd(&m), -1);
	}
}

/* Round trips through two connections. */

struct field {
	enum op		 op;
	uint64_t	 num;
	const char	*str;
	size_t		 len;
};

struct rt_case {
	uint32_t	 type;
	uint32_t	 flags;
	struct field	 f[6];
};

static const struct rt_case rt_cases[] = {
	{ 10, 0, { { OP_NONE, 0, NULL, 0 } } },
	{ 11, 0, { { OP_U32, 0, NULL, 0 }, { OP_U32, UINT32_MAX, NULL, 0 },
	    { OP_NONE, 0, NULL, 0 } } },
	{ 12, 0, { { OP_U64, 0x0123456789abcdefULL, NULL, 0 },
	    { OP_U64, UINT64_MAX, NULL, 0 }, { OP_NONE, 0, NULL, 0 } } },
	{ 13, IPC_F_REPLY, { { OP_STR, 0, "", 0 },
	    { OP_STR, 0, "user@example.org", 0 }, { OP_NONE, 0, NULL, 0 } } },
	{ 14, 0, { { OP_BYTES, 0, "", 0 }, { OP_BYTES, 0, "\0\xff\0", 3 },
	    { OP_NONE, 0, NULL, 0 } } },
	{ 15, 0, { { OP_U32, 42, NULL, 0 }, { OP_STR, 0, "x y", 0 },
	    { OP_BYTES, 0, "bin\0ary", 7 }, { OP_U64, 7, NULL, 0 },
	    { OP_STR, 0, "last", 0 }, { OP_NONE, 0, NULL, 0 } } },
};

static void
rt_put(struct ipc_out *o, const struct field *f)
{
	switch (f->op) {
	case OP_U32:
		ipc_put_u32(o, (uint32_t)f->num);
		break;
	case OP_U64:
		ipc_put_u64(o, f->num);
		break;
	case OP_STR:
		ipc_put_str(o, f->str);
		break;
	case OP_BYTES:
		ipc_put_bytes(o, f->str, f->len);
		break;
	default:
		break;
	}
}

static void
rt_check(struct rec *r, struct ipc_msg *m)
{
	const struct rt_case	*tc = &rt_cases[r->nmsg - 1];
	uint32_t		 u32;
	uint64_t		 u64;
	const char		*s;
	const void		*p;
	size_t			 len;

	assert_int_equal(m->hdr.type, tc->type);
	assert_int_equal(m->hdr.flags, tc->flags);
	assert_int_equal(m->hdr.id, 1000 + (uint32_t)r->nmsg);
	for (int i = 0; i < 6 && tc->f[i].op != OP_NONE; i++) {
		const struct field	*f = &tc->f[i];

		switch (f->op) {
		case OP_U32:
			assert_int_equal(ipc_get_u32(m, &u32), 0);
			assert_int_equal(u32, (uint32_t)f->num);
			break;
		case OP_U64:
			assert_int_equal(ipc_get_u64(m, &u64), 0);
			assert_int_equal(u64, f->num);
			break;
		case OP_STR:
			assert_int_equal(ipc_get_str(m, &s), 0);
			assert_string_equal(s, f->str);
			break;
		case OP_BYTES:
			assert_int_equal(ipc_get_bytes(m, &p, &len), 0);
			assert_int_equal(len, f->len);
			assert_memory_equal(p, f->str, len);
			break;
		default:
			break;
		}
	}
	assert_int_equal(ipc_get_end(m), 0);
}

static void
test_roundtrip_fields(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2];
	struct rec	*a, *b;
	size_t		 ncase = sizeof(rt_cases) / sizeof(rt_cases[0]);

	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	b = rec_new(ev, sv[1]);
	b->hook = rt_check;
	for (size_t i = 0; i < ncase; i++) {
		struct ipc_out	*o = ipc_msg_begin(a->c, rt_cases[i].type,
		    1000 + (uint32_t)i + 1, rt_cases[i].flags);

		for (int k = 0; k < 6 && rt_cases[i].f[k].op != OP_NONE; k++)
			rt_put(o, &rt_cases[i].f[k]);
		assert_int_equal(ipc_msg_end(o), 0);
	}
	assert_true(ipc_conn_pending(a->c) > 0);
	RUN_UNTIL(ev, b->nmsg == (int)ncase, 100);
	assert_int_equal(b->nmsg, (int)ncase);
	assert_int_equal(ipc_conn_pending(a->c), 0);
	assert_int_equal(a->ncloses + b->ncloses, 0);
	/* NULL str is sent as "". */
	{
		struct ipc_out	*o = ipc_msg_begin(b->c, 1, 0, 0);

		ipc_put_str(o, NULL);
		assert_int_equal(ipc_msg_end(o), 0);
		RUN_UNTIL(ev, a->nmsg == 1, 100);
		assert_int_equal(a->lastlen, 5);
		assert_int_equal(a->last[4], 0);
	}
	assert_int_equal(ipc_send_empty(a->c, 77, 5, IPC_F_REPLY), 0);
	b->hook = NULL;
	RUN_UNTIL(ev, b->nmsg == (int)ncase + 1, 100);
	assert_int_equal(b->hdr[ncase].type, 77);
	assert_int_equal(b->hdr[ncase].len, 0);
	assert_int_equal(b->hdr[ncase].flags, IPC_F_REPLY);
	rec_free(&a);
	rec_free(&b);
	ev_free(&ev);
}

static void
test_max_payload(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2];
	struct rec	*a, *b;
	uint8_t		*big = xcalloc(1, IPC_MAX_PAYLOAD + 8);
	struct ipc_out	*o;

	for (size_t i = 0; i < IPC_MAX_PAYLOAD; i++)
		big[i] = (uint8_t)(i * 7);
	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	b = rec_new(ev, sv[1]);
	/* Exactly the maximum: accepted and delivered intact. */
	o = ipc_msg_begin(a->c, 1, 0, 0);
	ipc_put_bytes(o, big, IPC_MAX_PAYLOAD - 4);
	assert_int_equal(ipc_msg_end(o), 0);
	RUN_UNTIL(ev, b->nmsg == 1, 100);
	assert_int_equal(b->lastlen, IPC_MAX_PAYLOAD);
	assert_memory_equal(b->last + 4, big, IPC_MAX_PAYLOAD - 4);
	/* One byte more: refused, nothing queued. */
	o = ipc_msg_begin(a->c, 2, 0, 0);
	ipc_put_bytes(o, big, IPC_MAX_PAYLOAD - 3);
	assert_int_equal(ipc_msg_end(o), -1);
	assert_int_equal(ipc_conn_pending(a->c), 0);
	/* Bytes longer than any payload, and many small fields. */
	o = ipc_msg_begin(a->c, 3, 0, 0);
	ipc_put_bytes(o, big, IPC_MAX_PAYLOAD + 1);
	assert_int_equal(ipc_msg_end(o), -1);
	o = ipc_msg_begin(a->c, 4, 0, 0);
	for (int i = 0; i < IPC_MAX_PAYLOAD / 8 + 1; i++)
		ipc_put_u64(o, (uint64_t)i);
	assert_int_equal(ipc_msg_end(o), -1);
	/* A refused message with an fd closes it. */
	{
		int	 p[2], before;

		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		close(p[0]);
		before = count_fds();
		o = ipc_msg_begin(a->c, 5, 0, 0);
		ipc_put_fd(o, p[1]);
		ipc_put_bytes(o, big, IPC_MAX_PAYLOAD);
		assert_int_equal(ipc_msg_end(o), -1);
		assert_int_equal(count_fds(), before - 1);
	}
	assert_int_equal(ipc_conn_pending(a->c), 0);
	assert_int_equal(ev_run_once(ev, 10), 0);
	assert_int_equal(b->nmsg, 1);
	assert_int_equal(b->ncloses, 0);
	free(big);
	rec_free(&a);
	rec_free(&b);
	ev_free(&ev);
}

static jmp_buf	 fatal_jmp;

static void
fatal_hook(void)
{
	longjmp(fatal_jmp, 1);
}

static void
test_begin_unknown_flags_fatal(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2];
	struct rec	*a;
	volatile int	 died = 0;

	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	log_set_fatal_hook(fatal_hook);
	if (setjmp(fatal_jmp) == 0)
		ipc_msg_begin(a->c, 1, 0, 0x100);
	else
		died = 1;
	log_set_fatal_hook(NULL);
	assert_true(died);
	rec_free(&a);
	close(sv[1]);
	ev_free(&ev);
}

static void
test_put_fd_errors(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2], p[2], before;
	struct rec	*a;
	struct ipc_out	*o;

	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	before = count_fds();
	/* Two fds on one message: refused, both closed. */
	o = ipc_msg_begin(a->c, 1, 0, 0);
	ipc_put_fd(o, p[0]);
	ipc_put_fd(o, p[1]);
	assert_int_equal(ipc_msg_end(o), -1);
	assert_int_equal(count_fds(), before - 2);
	/* IPC_F_FD asked for but no fd put; a negative fd. */
	o = ipc_msg_begin(a->c, 1, 0, IPC_F_FD);
	assert_int_equal(ipc_msg_end(o), -1);
	o = ipc_msg_begin(a->c, 1, 0, 0);
	ipc_put_fd(o, -1);
	assert_int_equal(ipc_msg_end(o), -1);
	assert_int_equal(ipc_conn_pending(a->c), 0);
	rec_free(&a);
	close(sv[1]);
	ev_free(&ev);
}

/* Protocol violations from a raw peer. */

struct bad_case {
	const char	*name;
	uint32_t	 len;
	uint32_t	 flags;
	size_t		 send;		/* bytes actually sent */
	const char	*reason;
};

static void
test_bad_frames(void **state)
{
	static const struct bad_case cases[] = {
		{ "oversized", IPC_MAX_PAYLOAD + 1, 0, IPC_HDR_SIZE,
		    "oversized frame" },
		{ "huge", 0xffffffffu, 0, IPC_HDR_SIZE, "oversized frame" },
		{ "unknown flags", 0, 0x10, IPC_HDR_SIZE, "unknown flags" },
		{ "fd flag, no fd", 0, IPC_F_FD, IPC_HDR_SIZE, "missing fd" },
		{ "eof mid header", 0, 0, 5, "eof" },
		{ "eof mid payload", 10, 0, IPC_HDR_SIZE + 3, "eof" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case	*tc = &cases[i];
		struct ev		*ev = ev_new();
		uint8_t			 buf[IPC_HDR_SIZE + 16] = { 0 };
		int			 sv[2];
		struct rec		*a;

		make_socketpair(sv);
		a = rec_new(ev, sv[0]);
		frame(buf, 1, tc->len, 0, tc->flags, NULL, 0);
		raw_send(sv[1], buf, tc->send, NULL, 0);
		close(sv[1]);
		RUN_UNTIL(ev, a->ncloses > 0, 100);
		if (a->ncloses != 1 || strcmp(a->reason, tc->reason) != 0)
			fail_msg("%s: closes %d reason \"%s\"", tc->name,
			    a->ncloses, a->reason);
		assert_int_equal(a->nmsg, 0);
		/* Closed: nothing more happens, on_close not repeated. */
		assert_int_equal(ev_run_once(ev, 0), 0);
		assert_int_equal(a->ncloses, 1);
		assert_int_equal(ipc_send_empty(a->c, 1, 0, 0), -1);
		rec_free(&a);
		ev_free(&ev);
	}
}

/* fd passing. */

static void
test_fd_passing(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2], p[2];
	struct rec	*a, *b;
	struct ipc_out	*o;
	char		 got[8] = { 0 };
	int		 fd, before;

	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	b = rec_new(ev, sv[1]);
	b->take_fd = true;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	before = count_fds();
	o = ipc_msg_begin(a->c, 9, 1, 0);
	ipc_put_str(o, "spool");
	ipc_put_fd(o, p[1]);		/* ownership passes */
	assert_int_equal(ipc_msg_end(o), 0);
	assert_int_equal(ipc_send_empty(a->c, 10, 2, 0), 0);
	RUN_UNTIL(ev, b->nmsg == 2, 100);
	assert_int_equal(b->nmsg, 2);
	/* The sender's copy was closed, the receiver holds a new one. */
	assert_int_equal(count_fds(), before);
	assert_int_equal(b->hdr[0].flags, IPC_F_FD);
	fd = b->taken_fd[0];
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(fd, "hello", 5), 5);
	assert_int_equal(read(p[0], got, sizeof(got)), 5);
	assert_string_equal(got, "hello");
	assert_int_equal(b->hdr[1].flags, 0);
	assert_int_equal(b->taken_fd[1], -1);
	assert_int_equal(b->ncloses, 0);
	close(p[0]);
	rec_free(&a);
	rec_free(&b);
	ev_free(&ev);
}

static void
test_fd_unclaimed_closed(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2], p[2], before, seen;
	struct rec	*a, *b;
	struct ipc_out	*o;

	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	b = rec_new(ev, sv[1]);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	before = count_fds();
	o = ipc_msg_begin(a->c, 9, 1, IPC_F_FD);
	ipc_put_fd(o, p[1]);
	assert_int_equal(ipc_msg_end(o), 0);
	RUN_UNTIL(ev, b->nmsg == 1, 100);
	seen = b->seen_fd[0];
	assert_true(seen >= 0);
	assert_false(fd_is_open(seen));
	assert_int_equal(count_fds(), before - 1);	/* p[1] went away */
	assert_int_equal(b->ncloses, 0);
	close(p[0]);
	rec_free(&a);
	rec_free(&b);
	ev_free(&ev);
}

struct fdbad_case {
	const char	*name;
	int		 nframes;	/* 4-byte payload frames */
	uint32_t	 last_flags;	/* flags of the last frame */
	int		 nfd;		/* fds attached */
	size_t		 fd_at;		/* byte offset the fds travel with */
	const char	*reason;	/* NULL: no close */
	int		 nmsg;		/* frames dispatched */
};

static void
test_fd_violations(void **state)
{
	static const struct fdbad_case cases[] = {
		{ "fd without flag", 1, 0, 1, 0, "unexpected fd", 0 },
		{ "two fds", 1, IPC_F_FD, 2, 0, "too many fds", 0 },
		{ "eight fds", 1, IPC_F_FD, 8, 0, "too many fds", 0 },
		{ "sixteen fds", 1, IPC_F_FD, 16, 0,
		    "control data truncated", 0 },
		{ "fd mid frame", 1, IPC_F_FD, 1, 3, "missing fd", 0 },
		{ "fd with 2nd frame, no flag", 2, 0, 1, IPC_HDR_SIZE + 4,
		    "unexpected fd", 1 },
		{ "fd with 2nd frame, flag", 2, IPC_F_FD, 1, IPC_HDR_SIZE + 4,
		    NULL, 2 },
		/* Lenient on purpose: a recvmsg may join the bytes before
		   a frame to the ones carrying its fd. */
		{ "fd range covers 2nd frame", 2, IPC_F_FD, 1, 2, NULL, 2 },
		{ "fd on a partial frame, eof", 1, 0, 1, IPC_HDR_SIZE + 4,
		    "eof", 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fdbad_case	*tc = &cases[i];
		struct ev		*ev = ev_new();
		uint8_t			 buf[64];
		int			 sv[2], p[2], fds[16], before;
		size_t			 n = 0;
		struct rec		*a;

		make_socketpair(sv);
		a = rec_new(ev, sv[0]);
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		before = count_fds();
		for (int k = 0; k < 16; k++)
			fds[k] = p[k % 2];
		for (int k = 0; k < tc->nframes; k++)
			n += frame(buf + n, 1, 4, 0, k + 1 == tc->nframes ?
			    tc->last_flags : 0, "abcd", 4);
		/* The reader takes the first part alone: a recvmsg would
		   otherwise join it to the bytes carrying the fd. */
		if (tc->fd_at > 0) {
			raw_send(sv[1], buf, tc->fd_at, NULL, 0);
			assert_int_equal(ev_run_once(ev, 100), 0);
		}
		if (tc->fd_at < n)
			raw_send(sv[1], buf + tc->fd_at, n - tc->fd_at, fds,
			    tc->nfd);
		else {	/* one byte of a next frame carries it, then EOF */
			raw_send(sv[1], "x", 1, fds, tc->nfd);
			close(sv[1]);
			sv[1] = -1;
		}
		if (tc->reason != NULL)
			RUN_UNTIL(ev, a->ncloses > 0, 100);
		else
			RUN_UNTIL(ev, a->nmsg == tc->nmsg, 100);
		if (tc->reason != NULL && (a->ncloses != 1 ||
		    strcmp(a->reason, tc->reason) != 0))
			fail_msg("%s: closes %d reason \"%s\"", tc->name,
			    a->ncloses, a->reason);
		if (tc->reason == NULL && a->ncloses != 0)
			fail_msg("%s: closed: %s", tc->name, a->reason);
		if (a->nmsg != tc->nmsg)
			fail_msg("%s: %d messages", tc->name, a->nmsg);
		/* Every received copy is closed again. */
		if (sv[1] == -1)
			before--;
		if (count_fds() != before)
			fail_msg("%s: %d fds, had %d", tc->name, count_fds(),
			    before);
		rec_free(&a);
		if (sv[1] != -1)
			close(sv[1]);
		close(p[0]);
		close(p[1]);
		ev_free(&ev);
	}
}

/* Frames written one byte at a time still decode. */

static size_t
capture_frames(uint8_t *out, size_t max)
{
	struct ev	*ev = ev_new();
	int		 sv[2];
	struct rec	*x;
	struct ipc_out	*o;
	size_t		 n = 0;
	ssize_t		 r;

	make_socketpair(sv);
	set_nonblock(sv[1]);
	x = rec_new(ev, sv[0]);
	for (size_t i = 0; i < sizeof(rt_cases) / sizeof(rt_cases[0]); i++) {
		o = ipc_msg_begin(x->c, rt_cases[i].type,
		    1000 + (uint32_t)i + 1, rt_cases[i].flags);
		for (int k = 0; k < 6 && rt_cases[i].f[k].op != OP_NONE; k++)
			rt_put(o, &rt_cases[i].f[k]);
		assert_int_equal(ipc_msg_end(o), 0);
	}
	assert_int_equal(ipc_conn_flush_sync(x->c, 1000), 0);
	while ((r = read(sv[1], out + n, max - n)) > 0)
		n += (size_t)r;
	rec_free(&x);
	close(sv[1]);
	ev_free(&ev);
	return n;
}

static void
test_bytewise_delivery(void **state)
{
	struct ev	*ev = ev_new();
	uint8_t		 bytes[1024], fdframe[IPC_HDR_SIZE + 2];
	size_t		 n = capture_frames(bytes, sizeof(bytes));
	size_t		 ncase = sizeof(rt_cases) / sizeof(rt_cases[0]);
	int		 sv[2], p[2];
	struct rec	*b;

	assert_true(n > 0);
	make_socketpair(sv);
	b = rec_new(ev, sv[1]);
	b->hook = rt_check;
	for (size_t i = 0; i < n; i++) {
		raw_send(sv[0], bytes + i, 1, NULL, 0);
		assert_int_equal(ev_run_once(ev, 0), 0);
		assert_int_equal(b->ncloses, 0);
	}
	assert_int_equal(b->nmsg, (int)ncase);
	/* A frame with an fd: the fd rides on its first byte. */
	b->hook = NULL;
	b->take_fd = true;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	frame(fdframe, 50, 2, 0, IPC_F_FD, "ok", 2);
	for (size_t i = 0; i < sizeof(fdframe); i++) {
		raw_send(sv[0], fdframe + i, 1, p, i == 0 ? 1 : 0);
		assert_int_equal(ev_run_once(ev, 0), 0);
	}
	assert_int_equal(b->nmsg, (int)ncase + 1);
	assert_int_equal(b->ncloses, 0);
	assert_true(b->taken_fd[ncase] >= 0);
	close(p[0]);
	close(p[1]);
	rec_free(&b);
	close(sv[0]);
	ev_free(&ev);
}

/* Partial writes: small socket buffers, big frames, a slow reader. */

#define PW_N		40
#define PW_FD_EVERY	8

struct pw_state {
	int	 next;
	int	 fds;
};

static size_t
pw_len(int seq)
{
	return 60000 - (size_t)seq * 7;
}

static void
pw_check(struct rec *r, struct ipc_msg *m)
{
	struct pw_state	*st = r->hook_arg;
	uint32_t	 seq;
	const void	*p;
	const uint8_t	*b;
	size_t		 len;
	int		 fd;

	assert_int_equal(ipc_get_u32(m, &seq), 0);
	assert_int_equal(seq, (uint32_t)st->next);
	assert_int_equal(ipc_get_bytes(m, &p, &len), 0);
	assert_int_equal(ipc_get_end(m), 0);
	assert_int_equal(len, pw_len(st->next));
	b = p;
	for (size_t i = 0; i < len; i++)
		if (b[i] != (uint8_t)(seq + i))
			fail_msg("frame %u byte %zu", seq, i);
	fd = ipc_msg_take_fd(m);
	if (seq % PW_FD_EVERY == 0) {
		struct stat	 sb;

		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &sb), 0);
		assert_true(S_ISFIFO(sb.st_mode));
		close(fd);
		st->fds++;
	} else
		assert_int_equal(fd, -1);
	st->next++;
}

static void
test_partial_writes(void **state)
{
	struct ev	*eva = ev_new(), *evb = ev_new();
	int		 sv[2], p[2], small = 4096, rounds = 0;
	struct rec	*a, *b;
	struct pw_state	 st = { 0 };
	uint8_t		*data = xmalloc(60000);

	make_socketpair(sv);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small)), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	a = rec_new(eva, sv[0]);
	b = rec_new(evb, sv[1]);
	b->hook = pw_check;
	b->hook_arg = &st;
	for (int seq = 0; seq < PW_N; seq++) {
		struct ipc_out	*o = ipc_msg_begin(a->c, 20, 0, 0);

		for (size_t i = 0; i < pw_len(seq); i++)
			data[i] = (uint8_t)(seq + i);
		ipc_put_u32(o, (uint32_t)seq);
		ipc_put_bytes(o, data, pw_len(seq));
		if (seq % PW_FD_EVERY == 0)
			ipc_put_fd(o, dup(p[1]));
		assert_int_equal(ipc_msg_end(o), 0);
	}
	while (st.next < PW_N && rounds++ < 100000) {
		assert_int_equal(ev_run_once(eva, 0), 0);
		assert_int_equal(ev_run_once(evb, 0), 0);
	}
	assert_int_equal(st.next, PW_N);
	assert_int_equal(st.fds, (PW_N + PW_FD_EVERY - 1) / PW_FD_EVERY);
	assert_int_equal(ipc_conn_pending(a->c), 0);
	assert_int_equal(a->ncloses + b->ncloses, 0);
	/* Many rounds: the writes were partial. */
	assert_true(rounds > PW_N);
	free(data);
	close(p[0]);
	close(p[1]);
	rec_free(&a);
	rec_free(&b);
	ev_free(&eva);
	ev_free(&evb);
}

/* Back-pressure: the peer sends requests but never reads replies. */

#define BP_N		200
#define BP_REPLY	60000

static void
bp_answer(struct rec *r, struct ipc_msg *m)
{
	static uint8_t	 data[BP_REPLY];
	struct ipc_out	*o;

	o = ipc_msg_begin(r->c, 21, m->hdr.id, IPC_F_REPLY);
	ipc_put_bytes(o, data, sizeof(data));
	assert_int_equal(ipc_msg_end(o), 0);
}

static void
test_backpressure(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2], small = 4096, stuck;
	struct rec	*a;
	uint8_t		 req[BP_N * IPC_HDR_SIZE], *sink = xmalloc(1 << 16);
	size_t		 total = 0, n = 0, frame_sz;
	ssize_t		 r;

	make_socketpair(sv);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	set_nonblock(sv[1]);
	a = rec_new(ev, sv[0]);
	a->hook = bp_answer;
	for (uint32_t i = 0; i < BP_N; i++)
		n += frame(req + n, 20, 0, i + 1, 0, NULL, 0);
	raw_send(sv[1], req, n, NULL, 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(ev_run_once(ev, 0), 0);
	/* Reading stopped just past the high-water mark. */
	stuck = a->nmsg;
	frame_sz = IPC_HDR_SIZE + 4 + BP_REPLY;
	assert_true(stuck < BP_N);
	assert_true(ipc_conn_pending(a->c) > IPC_OUT_HIGH);
	assert_true((size_t)stuck * frame_sz <=
	    IPC_OUT_HIGH + frame_sz + 64 * 1024);
	for (int i = 0; i < 20; i++)
		assert_int_equal(ev_run_once(ev, 5), 0);
	assert_int_equal(a->nmsg, stuck);
	/* The peer reads: every request gets answered, in order. */
	for (int i = 0; i < 100000 && total < BP_N * frame_sz; i++) {
		while ((r = read(sv[1], sink, 1 << 16)) > 0)
			total += (size_t)r;
		assert_int_equal(ev_run_once(ev, 0), 0);
	}
	assert_int_equal(a->nmsg, BP_N);
	assert_int_equal(total, BP_N * frame_sz);
	for (int i = 0; i < BP_N; i++)
		assert_int_equal(a->hdr[i].id, (uint32_t)i + 1);
	assert_int_equal(ipc_conn_pending(a->c), 0);
	assert_int_equal(a->ncloses, 0);
	free(sink);
	rec_free(&a);
	close(sv[1]);
	ev_free(&ev);
}

/* Lifetime: freeing from callbacks. */

static void
test_on_msg_frees_conn(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2], p[2], before;
	struct rec	*a;
	uint8_t		 buf[3 * IPC_HDR_SIZE];
	size_t		 n = 0;

	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	a->free_on_msg = true;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	before = count_fds();
	/* Three frames in one read, the first with an unclaimed fd. */
	n += frame(buf + n, 1, 0, 1, IPC_F_FD, NULL, 0);
	n += frame(buf + n, 2, 0, 2, 0, NULL, 0);
	n += frame(buf + n, 3, 0, 3, 0, NULL, 0);
	raw_send(sv[1], buf, n, p, 1);
	RUN_UNTIL(ev, a->nmsg > 0, 100);
	assert_int_equal(a->nmsg, 1);
	assert_null(a->c);
	assert_int_equal(a->ncloses, 0);
	/* The conn's socket and the received fd are both closed. */
	assert_int_equal(count_fds(), before - 1);
	assert_int_equal(ev_run_once(ev, 0), 0);
	assert_int_equal(a->nmsg, 1);
	assert_int_equal(ev_run(ev), 0);	/* nothing left */
	free(a);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	ev_free(&ev);
}

static void
test_close_reasons(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2];
	struct rec	*a;

	/* eof, the conn freed from on_close. */
	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	a->free_on_close = true;
	close(sv[1]);
	RUN_UNTIL(ev, a->ncloses > 0, 100);
	assert_int_equal(a->ncloses, 1);
	assert_string_equal(a->reason, "eof");
	assert_null(a->c);
	free(a);
	/* Unread data at the peer's close: connection reset. */
	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	assert_int_equal(ipc_send_empty(a->c, 1, 0, 0), 0);
	assert_int_equal(ev_run_once(ev, 0), 0);
	close(sv[1]);
	RUN_UNTIL(ev, a->ncloses > 0, 100);
	assert_string_equal(a->reason, "read: Connection reset by peer");
	rec_free(&a);
	/* Output pending towards a closed peer: write error. */
	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	close(sv[1]);
	assert_int_equal(ipc_send_empty(a->c, 1, 0, 0), 0);
	RUN_UNTIL(ev, a->ncloses > 0, 100);
	assert_string_equal(a->reason, "write: Broken pipe");
	assert_int_equal(ipc_conn_pending(a->c), 0);
	rec_free(&a);
	ev_free(&ev);
}

/* Expected replies. */

struct exp {
	int		 calls;
	int		 nulls;
	uint32_t	 value;
	int		 order;
	struct rec	*r;
	bool		 free_conn;
};

static void
exp_fn(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct exp	*e = arg;

	e->calls++;
	if (e->r != NULL)
		e->order = ++e->r->order;
	if (m == NULL) {
		e->nulls++;
		return;
	}
	assert_true(m->hdr.flags & IPC_F_REPLY);
	assert_int_equal(ipc_get_u32(m, &e->value), 0);
	assert_int_equal(ipc_get_end(m), 0);
	if (e->free_conn && e->r != NULL)
		ipc_conn_free(&e->r->c);
}

static void
reply_u32(struct ipc_conn *c, uint32_t id, uint32_t flags, uint32_t v)
{
	struct ipc_out	*o = ipc_msg_begin(c, 30, id, flags);

	ipc_put_u32(o, v);
	assert_int_equal(ipc_msg_end(o), 0);
}

static void
test_expect_routing(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2];
	struct rec	*a, *b;
	struct exp	 e1 = { 0 }, e2 = { 0 };
	uint32_t	 id1, id2;

	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	b = rec_new(ev, sv[1]);
	id1 = ipc_conn_next_id(a->c);
	id2 = ipc_conn_next_id(a->c);
	assert_true(id1 != 0 && id2 != 0 && id1 != id2);
	ipc_conn_expect(a->c, id1, 1000, exp_fn, &e1);
	ipc_conn_expect(a->c, id2, 1000, exp_fn, &e2);
	/* Replies in reverse order, plus noise. */
	reply_u32(b->c, id2, IPC_F_REPLY, 222);
	reply_u32(b->c, id1, 0, 999);		/* not a reply: on_msg */
	reply_u32(b->c, 4242, IPC_F_REPLY, 5);	/* unexpected: on_msg */
	reply_u32(b->c, id1, IPC_F_REPLY, 111);
	reply_u32(b->c, id1, IPC_F_REPLY, 333);	/* second: on_msg */
	RUN_UNTIL(ev, a->nmsg == 3 && e1.calls == 1, 100);
	assert_int_equal(e1.calls, 1);
	assert_int_equal(e1.value, 111);
	assert_int_equal(e2.calls, 1);
	assert_int_equal(e2.value, 222);
	assert_int_equal(e1.nulls + e2.nulls, 0);
	assert_int_equal(a->nmsg, 3);
	assert_int_equal(a->hdr[0].id, id1);
	assert_int_equal(a->hdr[1].id, 4242);
	assert_int_equal(a->hdr[2].id, id1);
	/* Replies answered: no timers left, ev_run does not wait. */
	rec_free(&b);
	RUN_UNTIL(ev, a->ncloses == 1, 100);
	assert_int_equal(e1.calls + e2.calls, 2);
	rec_free(&a);
	ev_free(&ev);
}

static void
test_expect_timeout(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2];
	struct rec	*a, *b;
	struct exp	 e = { 0 };
	uint64_t	 t0 = mono_ms();

	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	b = rec_new(ev, sv[1]);
	ipc_conn_expect(a->c, 99, 30, exp_fn, &e);
	RUN_UNTIL(ev, e.calls > 0, 100);
	assert_int_equal(e.calls, 1);
	assert_int_equal(e.nulls, 1);
	assert_true(mono_ms() - t0 >= 30);
	/* A late reply is no longer expected. */
	reply_u32(b->c, 99, IPC_F_REPLY, 1);
	RUN_UNTIL(ev, a->nmsg == 1, 100);
	assert_int_equal(a->nmsg, 1);
	assert_int_equal(e.calls, 1);
	rec_free(&a);
	rec_free(&b);
	ev_free(&ev);
}

static void
test_expect_close_and_free(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2];
	struct rec	*a;
	struct exp	 e1 = { 0 }, e2 = { 0 }, e3 = { 0 };

	/* The peer closes: each pending fn gets NULL once, then on_close. */
	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	e1.r = e2.r = a;
	ipc_conn_expect(a->c, 1, 10000, exp_fn, &e1);
	ipc_conn_expect(a->c, 2, 10000, exp_fn, &e2);
	close(sv[1]);
	RUN_UNTIL(ev, a->ncloses > 0, 100);
	assert_int_equal(e1.nulls, 1);
	assert_int_equal(e2.nulls, 1);
	assert_true(e1.order < a->close_order);
	assert_true(e2.order < a->close_order);
	assert_string_equal(a->reason, "eof");
	rec_free(&a);
	assert_int_equal(e1.calls + e2.calls, 2);
	/* Freed by its owner: NULL too, and the timer goes with it. */
	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	ipc_conn_expect(a->c, 3, 10000, exp_fn, &e3);
	rec_free(&a);
	assert_int_equal(e3.nulls, 1);
	assert_int_equal(ev_run(ev), 0);	/* no timer left behind */
	close(sv[1]);
	ev_free(&ev);
}

/* A reply fn freeing the conn while more frames wait in the buffer. */
static void
test_expect_fn_frees_conn(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2];
	struct rec	*a, *b;
	struct exp	 e1 = { 0 }, e2 = { 0 };

	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	b = rec_new(ev, sv[1]);
	e1.r = a;
	e1.free_conn = true;
	ipc_conn_expect(a->c, 1, 10000, exp_fn, &e1);
	ipc_conn_expect(a->c, 2, 10000, exp_fn, &e2);
	reply_u32(b->c, 1, IPC_F_REPLY, 1);
	reply_u32(b->c, 2, IPC_F_REPLY, 2);
	assert_int_equal(ipc_conn_flush_sync(b->c, 1000), 0);
	RUN_UNTIL(ev, e1.calls > 0, 100);
	assert_null(a->c);
	assert_int_equal(e1.value, 1);
	assert_int_equal(e2.calls, 1);
	assert_int_equal(e2.nulls, 1);
	assert_int_equal(a->ncloses, 0);
	free(a);
	rec_free(&b);
	ev_free(&ev);
}

/* Peer credentials and sockets on the file system. */

static void
test_peercred(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2];
	struct rec	*a;
	pid_t		 pid;
	uid_t		 uid;
	gid_t		 gid;

	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	assert_int_equal(ipc_conn_fd(a->c), sv[0]);
	assert_int_equal(ipc_conn_peer(a->c, &pid, &uid, &gid), 0);
	assert_int_equal(pid, getpid());
	assert_int_equal(uid, getuid());
	assert_int_equal(gid, getgid());
	assert_int_equal(ipc_conn_peer(a->c, NULL, NULL, NULL), 0);
	rec_free(&a);
	close(sv[1]);
	ev_free(&ev);
}

static void
test_listen_connect(void **state)
{
	char		 dir[] = "/tmp/test_ipc.XXXXXX", path[128];
	struct ev	*ev = ev_new();
	struct stat	 st;
	char		*err = NULL;
	int		 lfd, cfd, sfd;
	struct rec	*a, *b;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	lfd = ipc_listen_unix(path, 0660, &err);
	assert_true(lfd >= 0);
	assert_null(err);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_true(fcntl(lfd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
	cfd = ipc_connect_unix(path, &err);
	assert_true(cfd >= 0);
	assert_true(fcntl(cfd, F_GETFD) & FD_CLOEXEC);
	sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(sfd >= 0);
	a = rec_new(ev, cfd);
	b = rec_new(ev, sfd);
	reply_u32(a->c, 1, 0, 77);
	RUN_UNTIL(ev, b->nmsg == 1, 100);
	assert_int_equal(b->nmsg, 1);
	rec_free(&a);
	rec_free(&b);
	/* A stale socket left behind is replaced. */
	close(lfd);
	lfd = ipc_listen_unix(path, 0600, &err);
	assert_true(lfd >= 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	close(lfd);
	unlink(path);
	rmdir(dir);
	ev_free(&ev);
}

static bool	hello_seen[8];

static void
hello_hook(struct rec *r, struct ipc_msg *m)
{
	hello_seen[(r->nmsg - 1) % 8] = ipc_hello_ok(m, 3, 1);
}

static void
test_hello(void **state)
{
	struct ev	*ev = ev_new();
	struct rec	*a, *b;
	struct ipc_out	*o;
	int		 sv[2];

	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	b = rec_new(ev, sv[1]);
	b->hook = hello_hook;
	assert_int_equal(ipc_send_hello(a->c, 3, 1), 0);	/* right */
	assert_int_equal(ipc_send_hello(a->c, 3, 2), 0);	/* version */
	assert_int_equal(ipc_send_hello(a->c, 4, 1), 0);	/* protocol */
	o = ipc_msg_begin(a->c, IPC_ERROR, 0, 0);		/* type */
	ipc_put_u32(o, 3);
	ipc_put_u32(o, 1);
	ipc_msg_end(o);
	o = ipc_msg_begin(a->c, IPC_HELLO, 0, 0);		/* trailing */
	ipc_put_u32(o, 3);
	ipc_put_u32(o, 1);
	ipc_put_u32(o, 0);
	ipc_msg_end(o);
	assert_int_equal(ipc_send_empty(a->c, IPC_HELLO, 0, 0), 0); /* short */
	RUN_UNTIL(ev, b->nmsg == 6, 100);
	assert_int_equal(b->nmsg, 6);
	assert_true(hello_seen[0]);
	for (int i = 1; i < 6; i++)
		assert_false(hello_seen[i]);
	rec_free(&a);
	rec_free(&b);
	ev_free(&ev);
	(void)state;
}

static void
test_accept_peer_check(void **state)
{
	char		 dir[] = "/tmp/test_ipc.XXXXXX", path[128];
	struct ev	*ev = ev_new();
	char		*err = NULL;
	uid_t		 me = geteuid(), other = geteuid() + 1;
	pid_t		 pid = 0;
	struct ipc_conn	*c;
	int		 lfd, cfd;
	char		 byte;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	lfd = ipc_listen_unix(path, 0600, &err);
	assert_true(lfd >= 0);
	/* Nothing to accept yet. */
	assert_null(ipc_accept(ev, lfd, &me, 1, &rec_handler, NULL, &pid));
	/* Our own uid is allowed: a conn, and the peer's pid. */
	cfd = ipc_connect_unix(path, &err);
	assert_true(cfd >= 0);
	c = ipc_accept(ev, lfd, &me, 1, &rec_handler, NULL, &pid);
	assert_non_null(c);
	assert_int_equal(pid, getpid());
	ipc_conn_free(&c);
	close(cfd);
	/* Another uid only: refused, the peer sees the connection closed. */
	cfd = ipc_connect_unix(path, &err);
	assert_true(cfd >= 0);
	assert_null(ipc_accept(ev, lfd, &other, 1, &rec_handler, NULL, NULL));
	fcntl(cfd, F_SETFL, 0);
	assert_int_equal(read(cfd, &byte, 1), 0);
	close(cfd);
	close(lfd);
	unlink(path);
	rmdir(dir);
	ev_free(&ev);
	(void)state;
}

static void
test_listen_errors(void **state)
{
	char		 dir[] = "/tmp/test_ipc.XXXXXX", path[256];
	char		 longp[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	char		*err = NULL;
	int		 fd;

	assert_non_null(mkdtemp(dir));
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(ipc_listen_unix(longp, 0600, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, "File name too long"));
	free(err);
	err = NULL;
	assert_int_equal(ipc_connect_unix(longp, &err), -1);
	assert_non_null(err);
	free(err);
	err = NULL;
	/* Not a socket: left alone. */
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ipc_listen_unix(path, 0600, &err), -1);
	assert_non_null(strstr(err, "not a socket"));
	free(err);
	err = NULL;
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	/* Nobody listening; directory missing. */
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(ipc_connect_unix(path, &err), -1);
	assert_non_null(strstr(err, "connect"));
	free(err);
	err = NULL;
	snprintf(path, sizeof(path), "%s/no/such", dir);
	assert_int_equal(ipc_listen_unix(path, 0600, &err), -1);
	assert_non_null(err);
	free(err);
	assert_int_equal(ipc_listen_unix(path, 0600, NULL), -1);
	rmdir(dir);
}

static void
test_flush_sync(void **state)
{
	struct ev	*ev = ev_new();
	int		 sv[2], small = 4096;
	struct rec	*a;
	uint8_t		*big = xcalloc(1, 60000);
	uint64_t	 t0;
	struct ipc_out	*o;

	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	assert_int_equal(ipc_conn_flush_sync(a->c, 0), 0);  /* nothing */
	assert_int_equal(ipc_send_empty(a->c, 1, 0, 0), 0);
	assert_int_equal(ipc_conn_flush_sync(a->c, 1000), 0);
	assert_int_equal(ipc_conn_pending(a->c), 0);
	/* The peer never reads: timeout. */
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	for (int i = 0; i < 10; i++) {
		o = ipc_msg_begin(a->c, 2, 0, 0);
		ipc_put_bytes(o, big, 60000);
		assert_int_equal(ipc_msg_end(o), 0);
	}
	t0 = mono_ms();
	assert_int_equal(ipc_conn_flush_sync(a->c, 50), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(mono_ms() - t0 >= 50);
	assert_true(ipc_conn_pending(a->c) > 0);
	/* The peer goes away: error, not a hang. */
	close(sv[1]);
	assert_int_equal(ipc_conn_flush_sync(a->c, 5000), -1);
	assert_int_equal(a->ncloses, 1);
	/* on_close freeing the conn inside flush_sync is safe. */
	rec_free(&a);
	make_socketpair(sv);
	a = rec_new(ev, sv[0]);
	a->free_on_close = true;
	o = ipc_msg_begin(a->c, 2, 0, 0);
	ipc_put_bytes(o, big, 60000);
	assert_int_equal(ipc_msg_end(o), 0);
	close(sv[1]);
	assert_int_equal(ipc_conn_flush_sync(a->c, 5000), -1);
	assert_null(a->c);
	free(a);
	free(big);
	ev_free(&ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_decode_bytewise),
		cmocka_unit_test(test_get_table),
		cmocka_unit_test(test_roundtrip_fields),
		cmocka_unit_test(test_max_payload),
		cmocka_unit_test(test_begin_unknown_flags_fatal),
		cmocka_unit_test(test_put_fd_errors),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_fd_passing),
		cmocka_unit_test(test_fd_unclaimed_closed),
		cmocka_unit_test(test_fd_violations),
		cmocka_unit_test(test_bytewise_delivery),
		cmocka_unit_test(test_partial_writes),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_on_msg_frees_conn),
		cmocka_unit_test(test_close_reasons),
		cmocka_unit_test(test_expect_routing),
		cmocka_unit_test(test_expect_timeout),
		cmocka_unit_test(test_expect_close_and_free),
		cmocka_unit_test(test_expect_fn_frees_conn),
		cmocka_unit_test(test_peercred),
		cmocka_unit_test(test_listen_connect),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_accept_peer_check),
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_flush_sync),
	};

	log_init("test_ipc", LOG_TO_STDERR, LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
