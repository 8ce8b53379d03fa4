/*
 * imapload — IMAP load generator for the Wharf bench (bench/run.py).
 *
 * SECURITY: a client tool run by the bench against servers it started on
 * loopback.  It parses server responses (trusted, but every line and
 * literal still has a limit) and sends a password given on the command
 * line.  Never run as a service.
 *
 * STANDARDS: RFC 3501 / RFC 9051 (LOGIN, SELECT, FETCH, STORE, SEARCH,
 * APPEND, EXPUNGE, LOGOUT), RFC 2177 (IDLE).
 *
 * Modes:
 *   imapload [options] mix	clients run a weighted command mix for -t
 *				seconds, in the spirit of Dovecot's imaptest
 *   imapload [options] fill N	clients APPEND N numbered messages to -b
 *				(client i logs in as user i % users)
 *   imapload [-s size] write N DIR
 *				the same N messages as maildir files in
 *				DIR/cur, no network (a store that is faster
 *				to fill directly, then resynchronise)
 * One epoll loop drives every client; each has one command in flight.
 * The result is one JSON object on stdout: per command the count, the
 * errors (NO, BAD, timeouts), operations per second and latency p50/p99.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "buf.h"
#include "imapload.h"
#include "log.h"
#include "xmalloc.h"

#define LINE_MAX_BYTES	(1024 * 1024)	/* longest response line */
#define READ_CHUNK	65536
#define MAX_EVENTS	256

enum op {
	OP_LOGIN,
	OP_SELECT,
	OP_FETCH_HDR,
	OP_FETCH_BODY,
	OP_STORE,
	OP_SEARCH,
	OP_APPEND,
	OP_EXPUNGE,
	OP_IDLE,
	OP_LOGOUT,
	OP_COUNT
};

/* Names in the JSON and in -m; default weights (sum 100). */
static const char *const op_names[OP_COUNT] = {
	"LOGIN", "SELECT", "FETCH_HDR", "FETCH_BODY", "STORE", "SEARCH",
	"APPEND", "EXPUNGE", "IDLE", "LOGOUT"
};
static const unsigned op_default_weight[OP_COUNT] = {
	0, 5, 30, 15, 15, 10, 8, 7, 8, 2
};

enum client_state {
	CS_CONNECTING,		/* non-blocking connect in progress */
	CS_GREETING,		/* waiting for "* OK" */
	CS_COMMAND,		/* a tagged command in flight */
	CS_APPEND_CONT,		/* APPEND sent, waiting for "+" */
	CS_IDLE_CONT,		/* IDLE sent, waiting for "+" */
	CS_IDLING,		/* holding IDLE until the deadline */
	CS_DONE			/* fill mode: nothing more to do */
};

struct latencies {
	uint32_t	*us;
	size_t		 len;
	size_t		 cap;
};

struct op_stats {
	uint64_t	 count;
	uint64_t	 errors;
	struct latencies lat;
};

struct config {
	const char	*host;
	uint16_t	 port;
	const char	*user_fmt;	/* one %u: the user's number */
	unsigned	 users;
	const char	*password;
	unsigned	 clients;
	unsigned	 seconds;
	unsigned	 timeout_ms;	/* per command */
	unsigned	 idle_ms;	/* how long an IDLE is held */
	size_t		 msg_size;
	const char	*mailbox;
	unsigned	 weight[OP_COUNT];
	bool		 fill;
	uint64_t	 fill_total;
	const char	*write_dir;	/* write mode: the maildir */
	uint64_t	 seed;
};

struct client {
	unsigned	 id;
	unsigned	 user;
	int		 fd;
	enum client_state state;
	enum op		 op;		/* command in flight */
	bool		 then_expunge;	/* STORE \Deleted, then EXPUNGE */
	bool		 continued;	/* next line follows a literal */
	unsigned	 seq;
	unsigned	 conn;		/* connection generation */
	char		 tag[16];
	uint64_t	 sent_ns;	/* when the command went out */
	uint64_t	 spent_ns;	/* IDLE: time already counted */
	uint64_t	 deadline_ns;
	uint64_t	 exists;
	uint64_t	 skip;		/* literal bytes still to skip */
	struct buf	 in;
	struct buf	 out;
	struct buf	 literal;	/* APPEND: sent after the "+" */
};

struct load {
	struct config	 cfg;
	int		 ep;
	struct client	*clients;
	struct op_stats	 stats[OP_COUNT];
	unsigned	 weight_sum;
	uint64_t	 rng;
	uint64_t	 start_ns;
	uint64_t	 end_ns;
	uint64_t	 fill_next;	/* next message number to hand out */
	uint64_t	 fill_done;
	uint64_t	 timeouts;
	uint64_t	 disconnects;
};

static volatile sig_atomic_t interrupted;

static void	client_start(struct load *, struct client *);
static void	client_next(struct load *, struct client *);
static void	client_reset(struct load *, struct client *);

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- statistics ---- */

static void
latency_add(struct latencies *lat, uint64_t ns)
{
	uint64_t us = ns / 1000;

	if (lat->len == lat->cap) {
		lat->cap = lat->cap ? lat->cap * 2 : 1024;
		lat->us = xreallocarray(lat->us, lat->cap, sizeof(*lat->us));
	}
	lat->us[lat->len++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static double
latency_pct_ms(const struct latencies *lat, unsigned pct)
{
	if (lat->len == 0)
		return 0;
	return lat->us[(lat->len - 1) * pct / 100] / 1000.0;
}

static void
op_done(struct load *l, struct client *c, bool ok)
{
	struct op_stats *st = &l->stats[c->op];
	uint64_t t = now_ns();

	if (!l->cfg.fill && t > l->end_ns)
		return;		/* finished after the clock stopped */
	if (!ok) {
		st->errors++;
		return;
	}
	st->count++;
	latency_add(&st->lat, c->spent_ns + (t - c->sent_ns));
}

/* ---- output ---- */

static int
out_flush(struct client *c)
{
	ssize_t n;

	while (c->out.len > 0) {
		n = write(c->fd, BUF_DATA(&c->out), c->out.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

static void
client_watch(struct load *l, struct client *c)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (c->out.len > 0 ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		fatal("epoll_ctl");
}

static void
client_send(struct load *l, struct client *c, const void *p, size_t len)
{
	if (buf_add(&c->out, p, len) == -1)
		fatalx("client %u: output buffer full", c->id);
	if (out_flush(c) == -1) {
		client_reset(l, c);
		return;
	}
	if (c->out.len > 0)
		client_watch(l, c);
}

/* Send "TAG " + the formatted command + CRLF and start its clock. */
static void __attribute__((format(printf, 4, 5)))
command(struct load *l, struct client *c, enum op op, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n, m;

	c->op = op;
	c->state = CS_COMMAND;
	snprintf(c->tag, sizeof(c->tag), "a%u", ++c->seq);
	n = snprintf(line, sizeof(line), "%s ", c->tag);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)(n + m) >= sizeof(line) - 2)
		fatalx("command too long");
	memcpy(line + n + m, "\r\n", 2);
	c->sent_ns = now_ns();
	c->spent_ns = 0;
	c->deadline_ns = c->sent_ns + l->cfg.timeout_ms * 1000000ull;
	client_send(l, c, line, (size_t)(n + m + 2));
}

/* ---- messages ---- */

static void
append_start(struct load *l, struct client *c, uint64_t k)
{
	msg_build(&l->rng, k, l->cfg.msg_size, &c->literal);
	command(l, c, OP_APPEND, "APPEND \"%s\" {%zu}", l->cfg.mailbox,
	    c->literal.len);
	c->state = CS_APPEND_CONT;
}

/* ---- the mix ---- */

static enum op
mix_pick(struct load *l)
{
	uint64_t r = msg_rng_below(&l->rng, l->weight_sum);
	int op;

	for (op = 0; op < OP_COUNT; op++) {
		if (r < l->cfg.weight[op])
			return (enum op)op;
		r -= l->cfg.weight[op];
	}
	return OP_SELECT;
}

static uint64_t
pick_msg(struct load *l, struct client *c)
{
	return 1 + msg_rng_below(&l->rng, c->exists);
}

static void
mix_fetch(struct load *l, struct client *c, enum op op)
{
	uint64_t first = pick_msg(l, c), last = first + 9;

	if (last > c->exists)
		last = c->exists;
	if (op == OP_FETCH_HDR)
		command(l, c, op, "FETCH %" PRIu64 ":%" PRIu64
		    " (UID FLAGS BODY.PEEK[HEADER])", first, last);
	else
		command(l, c, op, "FETCH %" PRIu64 " (UID BODY.PEEK[])", first);
}

static void
mix_store(struct load *l, struct client *c)
{
	static const char *const flags[] = { "\\Seen", "\\Flagged",
	    "\\Answered", "$Bench" };
	uint64_t r = msg_rng(&l->rng);

	command(l, c, OP_STORE, "STORE %" PRIu64 " %cFLAGS (%s)",
	    pick_msg(l, c), (r & 1) ? '+' : '-', flags[(r >> 1) % 4]);
}

static void
mix_search(struct load *l, struct client *c)
{
	if (msg_rng(&l->rng) & 1)
		command(l, c, OP_SEARCH, "UID SEARCH UNSEEN");
	else
		command(l, c, OP_SEARCH, "UID SEARCH SUBJECT \"%s\"",
		    msg_word(msg_rng(&l->rng)));
}

/* Issue the next command of the mix; those needing a message fall back
 * to APPEND while the mailbox is empty. */
static void
mix_next(struct load *l, struct client *c)
{
	enum op op = mix_pick(l);

	if (c->exists == 0 && (op == OP_FETCH_HDR || op == OP_FETCH_BODY ||
	    op == OP_STORE || op == OP_EXPUNGE))
		op = OP_APPEND;
	switch (op) {
	case OP_FETCH_HDR:
	case OP_FETCH_BODY:
		mix_fetch(l, c, op);
		break;
	case OP_STORE:
		mix_store(l, c);
		break;
	case OP_SEARCH:
		mix_search(l, c);
		break;
	case OP_APPEND:
		append_start(l, c, msg_rng(&l->rng) % 1000000);
		break;
	case OP_EXPUNGE:
		command(l, c, OP_STORE, "STORE %" PRIu64
		    " +FLAGS.SILENT (\\Deleted)", pick_msg(l, c));
		c->then_expunge = true;
		break;
	case OP_IDLE:
		command(l, c, OP_IDLE, "IDLE");
		c->state = CS_IDLE_CONT;
		break;
	case OP_LOGOUT:
		command(l, c, OP_LOGOUT, "LOGOUT");
		break;
	default:
		command(l, c, OP_SELECT, "SELECT \"%s\"", l->cfg.mailbox);
		break;
	}
}

/* ---- fill ---- */

static void
fill_next(struct load *l, struct client *c)
{
	if (l->fill_next >= l->cfg.fill_total) {
		c->state = CS_DONE;
		return;
	}
	append_start(l, c, l->fill_next++);
}

/* ---- responses ---- */

static void
client_next(struct load *l, struct client *c)
{
	if (interrupted || (!l->cfg.fill && now_ns() >= l->end_ns)) {
		c->state = CS_DONE;
		return;
	}
	if (l->cfg.fill)
		fill_next(l, c);
	else
		mix_next(l, c);
}

static void
login(struct load *l, struct client *c)
{
	const char *fmt = l->cfg.user_fmt, *pct = strchr(fmt, '%');

	/* user_fmt has one "%u" (checked in main): prefix, number, rest. */
	command(l, c, OP_LOGIN, "LOGIN \"%.*s%u%s\" \"%s\"",
	    (int)(pct - fmt), fmt, c->user, pct + 2, l->cfg.password);
}

static void
tagged_ok(struct load *l, struct client *c)
{
	switch (c->op) {
	case OP_LOGIN:
		if (!l->cfg.fill) {
			command(l, c, OP_SELECT, "SELECT \"%s\"",
			    l->cfg.mailbox);
			return;
		}
		break;
	case OP_LOGOUT:
		client_reset(l, c);
		return;
	case OP_APPEND:
		if (l->cfg.fill)
			l->fill_done++;
		break;
	case OP_STORE:
		if (c->then_expunge) {
			c->then_expunge = false;
			command(l, c, OP_EXPUNGE, "EXPUNGE");
			return;
		}
		break;
	default:
		break;
	}
	client_next(l, c);
}

static void
tagged(struct load *l, struct client *c, const char *status)
{
	bool ok = strncmp(status, "OK", 2) == 0;

	op_done(l, c, ok);
	if (!ok) {
		log_warnx("client %u: %s failed: %.200s", c->id,
		    op_names[c->op], status);
		if (c->op == OP_LOGIN) {
			client_reset(l, c);
			return;
		}
		c->then_expunge = false;
		client_next(l, c);
		return;
	}
	tagged_ok(l, c);
}

static void
continuation(struct load *l, struct client *c)
{
	if (c->state == CS_APPEND_CONT) {
		c->state = CS_COMMAND;
		if (buf_add_str(&c->literal, "\r\n") == -1)
			fatalx("message buffer");
		client_send(l, c, BUF_DATA(&c->literal), c->literal.len);
	} else if (c->state == CS_IDLE_CONT) {
		c->state = CS_IDLING;
		c->spent_ns = now_ns() - c->sent_ns;
		c->deadline_ns = now_ns() + l->cfg.idle_ms * 1000000ull;
	}
}

static void
untagged(struct client *c, const char *line)
{
	uint64_t n;
	const char *sp = strchr(line + 2, ' '), *err;
	char num[24];

	if (sp == NULL || (size_t)(sp - line - 2) >= sizeof(num))
		return;
	memcpy(num, line + 2, (size_t)(sp - line - 2));
	num[sp - line - 2] = '\0';
	if (str_to_u64(num, 0, UINT32_MAX, &n, &err) == -1)
		return;
	if (strncmp(sp, " EXISTS", 7) == 0)
		c->exists = n;
	else if (strncmp(sp, " EXPUNGE", 8) == 0 && c->exists > 0)
		c->exists--;
}

/* A trailing "{N}" announces N literal bytes after the line. */
static void
literal_check(struct client *c, const char *line, size_t len)
{
	const char *open, *err;
	uint64_t n;
	char num[24];
	size_t dl;

	if (len < 3 || line[len - 1] != '}')
		return;
	open = memrchr(line, '{', len);
	if (open == NULL)
		return;
	dl = (size_t)(line + len - 1 - open - 1);
	if (dl == 0 || dl >= sizeof(num))
		return;
	memcpy(num, open + 1, dl);
	num[dl] = '\0';
	if (str_to_u64(num, 0, UINT32_MAX, &n, &err) == 0) {
		c->skip = n;
		c->continued = true;
	}
}

static void
handle_line(struct load *l, struct client *c, char *line, size_t len)
{
	size_t tl = strlen(c->tag);

	if (c->continued) {
		c->continued = false;
		literal_check(c, line, len);
		return;
	}
	literal_check(c, line, len);
	if (c->state == CS_GREETING) {
		if (strncmp(line, "* OK", 4) != 0)
			fatalx("client %u: greeting %.200s", c->id, line);
		login(l, c);
	} else if (line[0] == '*' && line[1] == ' ') {
		untagged(c, line);
	} else if (line[0] == '+') {
		continuation(l, c);
	} else if (c->state == CS_COMMAND && strncmp(line, c->tag, tl) == 0 &&
	    line[tl] == ' ') {
		tagged(l, c, line + tl + 1);
	}
}

/* Consume what the input buffer holds: literal bytes, then lines. */
static void
parse_input(struct load *l, struct client *c)
{
	unsigned conn = c->conn;
	ssize_t lf;
	size_t n;
	char *line;

	while (c->in.len > 0) {
		if (c->skip > 0) {
			n = c->skip < c->in.len ? (size_t)c->skip : c->in.len;
			buf_consume(&c->in, n);
			c->skip -= n;
			continue;
		}
		if ((lf = buf_find_lf(&c->in)) < 0)
			break;
		line = (char *)BUF_DATA(&c->in);
		line[lf] = '\0';
		if (lf > 0 && line[lf - 1] == '\r')
			line[lf - 1] = '\0';
		handle_line(l, c, line, strlen(line));
		if (c->conn != conn)
			return;	/* the connection was replaced */
		buf_consume(&c->in, (size_t)lf + 1);
	}
}

static void
client_read(struct load *l, struct client *c)
{
	uint8_t *p = buf_reserve(&c->in, READ_CHUNK);
	ssize_t n;

	if (p == NULL)
		fatalx("client %u: response line over %d bytes", c->id,
		    LINE_MAX_BYTES);
	n = read(c->fd, p, READ_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->state != CS_DONE) {
			log_warnx("client %u: disconnected during %s", c->id,
			    op_names[c->op]);
			l->disconnects++;
		}
		client_reset(l, c);
		return;
	}
	buf_commit(&c->in, (size_t)n);
	parse_input(l, c);
}

/* ---- connections ---- */

static void
client_close(struct load *l, struct client *c)
{
	if (c->fd != -1) {
		epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	c->conn++;
	buf_reset(&c->in);
	buf_reset(&c->out);
	c->skip = 0;
	c->continued = false;
	c->then_expunge = false;
	c->exists = 0;
}

/* Drop the connection and, unless the run is over, open a new one. */
static void
client_reset(struct load *l, struct client *c)
{
	bool over = interrupted || l->cfg.fill || now_ns() >= l->end_ns;

	if (l->cfg.fill && c->state != CS_DONE)
		fatalx("client %u: connection lost while filling", c->id);
	client_close(l, c);
	c->state = CS_DONE;
	if (!over)
		client_start(l, c);
}

static void
client_start(struct load *l, struct client *c)
{
	struct sockaddr_in sin;
	struct epoll_event ev;
	int one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(l->cfg.port);
	if (inet_pton(AF_INET, l->cfg.host, &sin.sin_addr) != 1)
		fatalx("bad address %s", l->cfg.host);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		fatal("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS)
		fatal("connect %s:%u", l->cfg.host, l->cfg.port);
	c->state = CS_CONNECTING;
	c->sent_ns = now_ns();
	c->spent_ns = 0;
	c->op = OP_LOGIN;
	c->deadline_ns = c->sent_ns + l->cfg.timeout_ms * 1000000ull;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		fatal("epoll_ctl");
}

static void
client_connected(struct load *l, struct client *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0)
		fatalx("connect %s:%u: %s", l->cfg.host, l->cfg.port,
		    strerror(err));
	c->state = CS_GREETING;
	client_watch(l, c);
}

static void
client_event(struct load *l, struct client *c, uint32_t events)
{
	if (c->state == CS_CONNECTING) {
		client_connected(l, c);
		return;
	}
	if ((events & EPOLLOUT) && c->out.len > 0) {
		if (out_flush(c) == -1) {
			client_reset(l, c);
			return;
		}
		client_watch(l, c);
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		client_read(l, c);
}

/* Deadlines: an IDLE held long enough gets DONE; a command that took
 * longer than the timeout counts as an error and its connection is
 * replaced. */
static void
client_timer(struct load *l, struct client *c, uint64_t t)
{
	if (c->fd == -1 || c->state == CS_DONE || t < c->deadline_ns)
		return;
	if (c->state == CS_IDLING) {
		c->state = CS_COMMAND;
		c->sent_ns = t;
		c->deadline_ns = t + l->cfg.timeout_ms * 1000000ull;
		client_send(l, c, "DONE\r\n", 6);
		return;
	}
	log_warnx("client %u: %s timed out", c->id, op_names[c->op]);
	l->timeouts++;
	l->stats[c->op].errors++;
	client_reset(l, c);
}

static int
next_timeout_ms(struct load *l, uint64_t t)
{
	uint64_t soonest = t + 100000000ull;
	unsigned i;

	for (i = 0; i < l->cfg.clients; i++) {
		struct client *c = &l->clients[i];

		if (c->fd != -1 && c->state != CS_DONE &&
		    c->deadline_ns < soonest)
			soonest = c->deadline_ns;
	}
	return soonest <= t ? 0 : (int)((soonest - t) / 1000000 + 1);
}

static bool
all_done(struct load *l)
{
	unsigned i;

	for (i = 0; i < l->cfg.clients; i++)
		if (l->clients[i].state != CS_DONE)
			return false;
	return true;
}

static void
load_loop(struct load *l)
{
	struct epoll_event evs[MAX_EVENTS];
	uint64_t t;
	unsigned i;
	int n, k;

	while (!interrupted) {
		t = now_ns();
		if (!l->cfg.fill && t >= l->end_ns)
			break;
		if (l->cfg.fill && all_done(l))
			break;
		n = epoll_wait(l->ep, evs, MAX_EVENTS, next_timeout_ms(l, t));
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		for (k = 0; k < n; k++)
			client_event(l, evs[k].data.ptr, evs[k].events);
		t = now_ns();
		for (i = 0; i < l->cfg.clients; i++)
			client_timer(l, &l->clients[i], t);
	}
}

/* ---- setup, report ---- */

static void
load_init(struct load *l)
{
	unsigned i;

	if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	for (i = 0; i < OP_COUNT; i++)
		l->weight_sum += l->cfg.weight[i];
	if (!l->cfg.fill && l->weight_sum == 0)
		fatalx("the mix has no command with a weight");
	l->clients = xcalloc(l->cfg.clients, sizeof(*l->clients));
	for (i = 0; i < l->cfg.clients; i++) {
		struct client *c = &l->clients[i];

		c->id = i;
		c->user = i % l->cfg.users;
		c->fd = -1;
		buf_init(&c->in, LINE_MAX_BYTES);
		buf_init(&c->out, l->cfg.msg_size + 4096);
		buf_init(&c->literal, l->cfg.msg_size + 4096);
	}
	l->start_ns = now_ns();
	l->end_ns = l->start_ns + l->cfg.seconds * 1000000000ull;
	for (i = 0; i < l->cfg.clients; i++)
		client_start(l, &l->clients[i]);
}

static void
load_clear(struct load *l)
{
	unsigned i;

	for (i = 0; i < l->cfg.clients; i++) {
		client_close(l, &l->clients[i]);
		buf_clear(&l->clients[i].in);
		buf_clear(&l->clients[i].out);
		buf_clear(&l->clients[i].literal);
	}
	free(l->clients);
	l->clients = NULL;
	for (i = 0; i < OP_COUNT; i++)
		free(l->stats[i].lat.us);
	close(l->ep);
}

static void
report(struct load *l, double secs)
{
	uint64_t total = 0, errors = 0;
	const char *sep = "";
	int i;

	printf("{\"mode\": \"%s\", \"clients\": %u, \"seconds\": %.3f, "
	    "\"commands\": {", l->cfg.fill ? "fill" : "mix", l->cfg.clients,
	    secs);
	for (i = 0; i < OP_COUNT; i++) {
		struct op_stats *st = &l->stats[i];

		if (st->count == 0 && st->errors == 0)
			continue;
		if (st->lat.len > 0)
			qsort(st->lat.us, st->lat.len, sizeof(*st->lat.us),
			    cmp_u32);
		printf("%s\"%s\": {\"count\": %" PRIu64 ", \"errors\": %"
		    PRIu64 ", \"per_sec\": %.2f, \"p50_ms\": %.3f, "
		    "\"p99_ms\": %.3f}", sep, op_names[i], st->count,
		    st->errors, st->count / secs,
		    latency_pct_ms(&st->lat, 50), latency_pct_ms(&st->lat, 99));
		sep = ", ";
		total += st->count;
		errors += st->errors;
	}
	printf("}, \"total\": %" PRIu64 ", \"per_sec\": %.2f, \"errors\": %"
	    PRIu64 ", \"timeouts\": %" PRIu64 ", \"disconnects\": %" PRIu64
	    ", \"appended\": %" PRIu64 "}\n", total, total / secs, errors,
	    l->timeouts, l->disconnects, l->fill_done);
}

static void
on_signal(int sig)
{
	interrupted = 1;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: imapload [-p port] [-H host] [-u user_fmt] "
	    "[-n users] [-w password]\n"
	    "\t[-c clients] [-t seconds] [-T timeout_ms] [-i idle_ms] "
	    "[-s msg_size]\n\t[-b mailbox] [-m op=weight,...] [-S seed] "
	    "mix | fill N | write N DIR\n");
	exit(2);
}

static unsigned
num_arg(const char *s, uint64_t min, uint64_t max, const char *what)
{
	const char *err;
	uint64_t v;

	if (str_to_u64(s, min, max, &v, &err) == -1)
		fatalx("%s %s: %s", what, s, err);
	return (unsigned)v;
}

/* "-m fetch_hdr=30,idle=0": weights by case-insensitive name. */
static void
parse_mix(struct config *cfg, const char *spec)
{
	char *copy = xstrdup(spec), *p = copy, *item, *eq;
	int i;

	while ((item = strsep(&p, ",")) != NULL) {
		if (*item == '\0')
			continue;
		if ((eq = strchr(item, '=')) == NULL)
			fatalx("-m %s: want name=weight", item);
		*eq = '\0';
		for (i = 0; i < OP_COUNT; i++)
			if (strcasecmp(item, op_names[i]) == 0)
				break;
		if (i == OP_COUNT || i == OP_LOGIN)
			fatalx("-m: unknown command %s", item);
		cfg->weight[i] = num_arg(eq + 1, 0, 1000000, "-m weight");
	}
	free(copy);
}

static void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = "127.0.0.1";
	cfg->port = 143;
	cfg->user_fmt = "u%u@bench.test";
	cfg->users = 1;
	cfg->password = "";
	cfg->clients = 10;
	cfg->seconds = 10;
	cfg->timeout_ms = 30000;
	cfg->idle_ms = 100;
	cfg->msg_size = 4096;
	cfg->mailbox = "INBOX";
	memcpy(cfg->weight, op_default_weight, sizeof(cfg->weight));
}

/* The user format must have exactly one conversion, %u. */
static void
check_user_fmt(const char *fmt)
{
	const char *p = strchr(fmt, '%');

	if (p == NULL || p[1] != 'u' || strchr(p + 2, '%') != NULL ||
	    strpbrk(fmt, "\"\\") != NULL)
		fatalx("-u %s: want one %%u and no quotes", fmt);
}

static void
parse_opt(struct config *cfg, int ch, char *arg)
{
	if (ch == 'H')
		cfg->host = arg;
	else if (ch == 'p')
		cfg->port = (uint16_t)num_arg(arg, 1, 65535, "-p");
	else if (ch == 'u')
		cfg->user_fmt = arg;
	else if (ch == 'n')
		cfg->users = num_arg(arg, 1, 1000000, "-n");
	else if (ch == 'w')
		cfg->password = arg;
	else if (ch == 'c')
		cfg->clients = num_arg(arg, 1, 100000, "-c");
	else if (ch == 't')
		cfg->seconds = num_arg(arg, 1, 86400, "-t");
	else if (ch == 'T')
		cfg->timeout_ms = num_arg(arg, 1, 3600000, "-T");
	else if (ch == 'i')
		cfg->idle_ms = num_arg(arg, 0, 3600000, "-i");
	else if (ch == 's')
		cfg->msg_size = num_arg(arg, 64, 16777216, "-s");
	else if (ch == 'b')
		cfg->mailbox = arg;
	else if (ch == 'm')
		parse_mix(cfg, arg);
	else if (ch == 'S')
		cfg->seed = num_arg(arg, 1, UINT32_MAX, "-S");
	else
		usage();
}

static void
parse_args(struct config *cfg, int argc, char **argv)
{
	int ch;

	config_defaults(cfg);
	while ((ch = getopt(argc, argv, "H:p:u:n:w:c:t:T:i:s:b:m:S:")) != -1)
		parse_opt(cfg, ch, optarg);
	argc -= optind;
	argv += optind;
	if (argc == 1 && strcmp(argv[0], "mix") == 0)
		return;
	if (argc == 3 && strcmp(argv[0], "write") == 0)
		cfg->write_dir = argv[2];
	else if (argc != 2 || strcmp(argv[0], "fill") != 0)
		usage();
	cfg->fill = true;
	cfg->fill_total = num_arg(argv[1], 0, UINT32_MAX, "message count");
}

int
main(int argc, char **argv)
{
	struct load l;
	double secs;

	log_init("imapload", LOG_TO_STDERR, LOG_LEVEL_INFO);
	memset(&l, 0, sizeof(l));
	parse_args(&l.cfg, argc, argv);
	check_user_fmt(l.cfg.user_fmt);
	if (strpbrk(l.cfg.password, "\"\\") != NULL ||
	    strpbrk(l.cfg.mailbox, "\"\\") != NULL)
		fatalx("password and mailbox may not hold quotes");
	l.rng = l.cfg.seed ? l.cfg.seed : 0x9e3779b97f4a7c15ull;
	if (l.cfg.write_dir != NULL) {
		msg_write_maildir(&l.rng, l.cfg.write_dir, l.cfg.fill_total,
		    l.cfg.msg_size);
		printf("{\"mode\": \"write\", \"written\": %" PRIu64 "}\n",
		    l.cfg.fill_total);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	load_init(&l);
	load_loop(&l);
	secs = (double)((l.cfg.fill ? now_ns() : l.end_ns) - l.start_ns) / 1e9;
	report(&l, secs);
	load_clear(&l);
	return interrupted ? 1 : 0;
}
