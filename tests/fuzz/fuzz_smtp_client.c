/*
 * fuzz_smtp_client — the SMTP client engine (lib/smtp_client) against
 * arbitrary server bytes.
 *
 * Byte 0, options: bit 0 TLS MAY (a STARTTLS offer leads to a handshake
 * over the fuzz bytes), bit 1 8-bit body, bit 2 SMTPUTF8, bits 3-4 the
 * recipients (1-4, one of them with a bad address when bit 5 is set),
 * bit 6 DSN fields, bit 7 free the client before the end (after the
 * chunk that byte 1's high nibble names).  Byte 1, low nibble: chunk
 * size seed.  The rest goes to the client's peer end of a socketpair in
 * chunks, with a few loop rounds after each while the peer's input is
 * read and dropped; then the peer closes.  The engine must finish within
 * a bounded number of rounds (no hang), call done once (never after a
 * free), and decide every recipient.  Timeouts are long: only EOF ends a
 * conversation here.
 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"
#include "smtp_client.h"
#include "tls.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define ROUNDS_PER_CHUNK	3
#define ROUNDS_AFTER_CLOSE	400

static SSL_CTX	*cli_ctx;
static int	 msg_fd = -1;
static size_t	 msg_len;

struct state {
	int				 ncalls;
	bool				 freed;
	struct smtp_client_result	 res;
};

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static void
on_done(struct smtp_client *c, const struct smtp_client_result *res,
    void *arg)
{
	struct state	*st = arg;

	check(!st->freed);
	st->ncalls++;
	st->res = *res;
}

/* A message with dot lines, bare LF and CR, no final CRLF. */
static void
init_once(void)
{
	static const char	 line[] = ".dot line\r\nplain\nbare\rcr\r\n";
	char			*err = NULL;
	size_t			 i;

	if (msg_fd != -1)
		return;
	signal(SIGPIPE, SIG_IGN);
	log_init("fuzz_smtp_client", 0, LOG_LEVEL_ERR);
	if ((cli_ctx = tls_client_ctx_new(false, NULL, &err)) == NULL)
		abort();
	msg_fd = memfd_create("msg", MFD_CLOEXEC);
	check(msg_fd >= 0);
	for (i = 0; i < 2000; i++)
		check(write(msg_fd, line, sizeof(line) - 1) ==
		    (ssize_t)sizeof(line) - 1);
	check(write(msg_fd, "end", 3) == 3);
	msg_len = 2000 * (sizeof(line) - 1) + 3;
}

static void
drain(int fd)
{
	char	 buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void
setup(uint8_t opt, struct smtp_client_params *p, struct smtp_client_tx *tx,
    struct smtp_client_rcpt *rcpts)
{
	static const char *const addrs[] = { "b@example.net",
	    "j\xc3\xb6rg@example.net", "c@example.net", "d@example.net" };
	size_t	 i;

	memset(p, 0, sizeof(*p));
	p->helo_name = "client.example";
	p->peer_name = "mx.example";
	p->peer_addr = "192.0.2.1";
	if (opt & 0x01) {
		p->tls = SMTP_TLS_MAY;
		p->tls_ctx = cli_ctx;
	}
	p->timeout_greeting_ms = p->timeout_cmd_ms = 60000;
	p->timeout_data_init_ms = p->timeout_data_block_ms = 60000;
	p->timeout_final_ms = p->timeout_quit_ms = 60000;
	memset(tx, 0, sizeof(*tx));
	tx->mail_from = "a@example.org";
	tx->body = (opt & 0x02) ? SMTP_CLIENT_BODY_8BITMIME :
	    SMTP_CLIENT_BODY_7BIT;
	tx->smtputf8 = (opt & 0x04) != 0;
	tx->nrcpts = (size_t)((opt >> 3) & 0x03) + 1;
	tx->rcpts = rcpts;
	for (i = 0; i < tx->nrcpts; i++) {
		memset(&rcpts[i], 0, sizeof(rcpts[i]));
		rcpts[i].address = addrs[i];
		if (opt & 0x40) {
			rcpts[i].notify = SMTP_NOTIFY_FAILURE;
			rcpts[i].orcpt = "rfc822;b@example.net";
		}
	}
	if (opt & 0x20)
		rcpts[tx->nrcpts - 1].address = "bad address";
	if (opt & 0x40) {
		tx->envid = "ENV+2B1";
		tx->ret = SMTP_RET_HDRS;
	}
	tx->prefix = "Received: by fuzz\r\n.";
	tx->prefix_len = strlen(tx->prefix);
	tx->msg_fd = msg_fd;
	tx->msg_len = (off_t)msg_len;
}

static void
rounds(struct ev *ev, int peer, int n)
{
	int	 i;

	for (i = 0; i < n; i++) {
		check(ev_run_once(ev, 0) == 0);
		if (peer != -1)
			drain(peer);
	}
}

static void
check_result(const struct state *st, const struct smtp_client_tx *tx)
{
	size_t	 i;

	check(st->ncalls == 1);
	check(st->res.status != SMTP_CLIENT_NONE);
	check(strlen(st->res.dsn.text) < sizeof(st->res.dsn.text));
	for (i = 0; i < tx->nrcpts; i++) {
		check(tx->rcpts[i].result.status == SMTP_CLIENT_OK ||
		    tx->rcpts[i].result.status == SMTP_CLIENT_TEMP ||
		    tx->rcpts[i].result.status == SMTP_CLIENT_PERM);
		check(tx->rcpts[i].result.enh[0] != '\0');
		check(strlen(tx->rcpts[i].result.text) <
		    sizeof(tx->rcpts[i].result.text));
	}
	if (st->res.status == SMTP_CLIENT_OK)
		check(st->res.ndelivered <= tx->nrcpts);
}

static void
feed(struct ev *ev, int peer, const uint8_t *data, size_t len,
    uint8_t sizes, struct smtp_client **cp, int free_after,
    struct state *st)
{
	size_t	 off = 0, n;
	int	 chunk = 0;

	while (off < len && st->ncalls == 0) {
		n = (size_t)(sizes & 0x0f) * 7 + 1 + (size_t)chunk % 5;
		if (n > len - off)
			n = len - off;
		/* The socket buffer is large; a short write is fine. */
		if (write(peer, data + off, n) <= 0)
			break;
		off += n;
		rounds(ev, peer, ROUNDS_PER_CHUNK);
		if (chunk++ == free_after && *cp != NULL) {
			smtp_client_free(cp);
			st->freed = true;
			return;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_client_params	 p;
	struct smtp_client_tx		 tx;
	struct smtp_client_rcpt		 rcpts[4];
	struct smtp_client		*c;
	struct state			 st;
	struct ev			*ev;
	int				 sv[2], free_after = -1, i;

	if (size < 2)
		return 0;
	init_once();
	memset(&st, 0, sizeof(st));
	setup(data[0], &p, &tx, rcpts);
	if (data[0] & 0x80)
		free_after = data[1] >> 4;
	ev = ev_new();
	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == 0);
	c = smtp_client_new(ev, sv[0], &p, &tx, on_done, &st);
	check(c != NULL);
	feed(ev, sv[1], data + 2, size - 2, data[1], &c, free_after, &st);
	close(sv[1]);
	if (!st.freed) {
		/* EOF must end every conversation, and soon. */
		for (i = 0; i < ROUNDS_AFTER_CLOSE && st.ncalls == 0; i++)
			check(ev_run_once(ev, 0) == 0);
		check_result(&st, &tx);
	} else
		rounds(ev, -1, 2);
	check(st.ncalls <= 1);
	smtp_client_free(&c);
	ev_free(&ev);
	return 0;
}
