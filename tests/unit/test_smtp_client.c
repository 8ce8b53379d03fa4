/*
 * Unit tests for lib/smtp_client: the engine drives a whole transaction
 * over a socketpair against a scripted fake server (lib/io on the other
 * end, in the same loop): each line the client sends must be the next
 * line of the script, which says what to answer and what to do then
 * (close, start TLS, drop the connection in the body...).  The body the
 * server receives is kept, as on the wire, for comparison.
 *
 * Table-driven: one row per conversation, with the expected outcome
 * (overall status, each recipient's, texts, TLS); a few cases that need
 * more (big bodies, freeing, bad arguments) have their own functions.
 * TLS uses a self-signed P-256 certificate for "localhost" made at start.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bsd/string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "ev.h"
#include "io.h"
#include "log.h"
#include "smtp_client.h"
#include "tls.h"

#define ACT_NONE	0
#define ACT_CLOSE	1	/* close after the reply is out */
#define ACT_STARTTLS	2	/* server side handshake after the reply */
#define ACT_DROP	3	/* 354, then drop at the first body line */
#define ACT_EARLY	4	/* 354, then a 552 at the first body line */
#define ACT_KILL	5	/* close at once, reply or not */

#define PIPE_ANY	0
#define PIPE_YES	1	/* RCPT... DATA arrive with MAIL */
#define PIPE_NO		2	/* nothing after MAIL */

#define NSTEPS		16
#define NRCPTS		4

#define TEST_HELO	"client.example"
#define PEER_TEXT	"localhost[127.0.0.1]"

struct step {
	const char	*expect;	/* the line; a final '*': prefix */
	const char	*reply;		/* raw bytes; NULL: none */
	int		 action;
};

struct tcase {
	const char		*name;
	const char		*greeting;	/* NULL: silent */
	bool			 close_after_greeting;
	struct step		 steps[NSTEPS];
	int			 pipe;
	/* The client. */
	enum smtp_tls_policy	 tls;
	bool			 verify_ctx;	/* our cert as the CA */
	const char		*peer_name;	/* NULL: "localhost" */
	enum smtp_client_auth	 auth;
	uint64_t		 timeout_ms;	/* every timeout; 0: 3000 */
	const char		*from;		/* NULL: a@example.org */
	const char		*rcpts[NRCPTS];	/* NULL: one, b@example.net */
	unsigned		 notify;
	const char		*orcpt;
	const char		*envid;
	enum smtp_ret		 ret;
	enum smtp_client_body	 body;
	bool			 utf8;
	const char		*msg;		/* NULL: MSG */
	const char		*prefix;
	uint64_t		 size;
	off_t			 extra_len;	/* msg_len past the file */
	/* Expected. */
	enum smtp_client_status	 status;
	const char		*rcpt_status;	/* "OTP": one per rcpt */
	const char		*text;		/* in result.dsn.text */
	const char		*rtext[NRCPTS];	/* in rcpts[i].result.text */
	const char		*wire;		/* body as received */
	const char		*enh;		/* of rcpts[0] */
	int			 stage;		/* STAGE(x); 0: any */
	bool			 tls_used;
	bool			 tls_failed;
	bool			 auth_used;
};

#define STAGE(x)	((int)SMTP_CLIENT_STAGE_ ## x + 1)

#define MSG		"Subject: t\r\n\r\nhello\r\n"
#define EHLO_LINE	"EHLO " TEST_HELO
#define EHLO_PIPE	"250-mx.example\r\n250-PIPELINING\r\n250-SIZE " \
			"100000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
#define EHLO_PLAIN	"250-mx.example\r\n250 8BITMIME\r\n"
#define GREET		"220 mx.example ESMTP\r\n"
#define FROM_LINE	"MAIL FROM:<a@example.org>"
#define TO_B		"RCPT TO:<b@example.net>"
#define TO_C		"RCPT TO:<c@example.net>"
#define TO_D		"RCPT TO:<d@example.net>"
#define OK_FROM		"250 2.1.0 Ok\r\n"
#define OK_RCPT		"250 2.1.5 Ok\r\n"
#define GO_DATA		"354 End data with <CR><LF>.<CR><LF>\r\n"
#define QUEUED		"250 2.0.0 Ok: queued as 4XyZ\r\n"
#define BYE		{ "QUIT", "221 2.0.0 Bye\r\n", ACT_CLOSE }

/* Key material and contexts, made once. */
static struct {
	char	 dir[64];
	char	 cert[128], key[128];
	SSL_CTX	*srv;
	SSL_CTX	*cli;		/* no verification */
	SSL_CTX	*cli_verify;	/* trusts our certificate */
} g;

/* ---- helpers ---- */

static uint64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define RUN_UNTIL(ev, cond, max_ms) do {				\
	uint64_t _end = mono_ms() + (max_ms);				\
	while (!(cond) && mono_ms() < _end)				\
		assert_int_equal(ev_run_once((ev), 10), 0);		\
} while (0)

static int
make_msg_fd(const void *data, size_t len)
{
	int	 fd = memfd_create("msg", MFD_CLOEXEC);

	assert_true(fd >= 0);
	if (len > 0)
		assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

static EVP_PKEY *
make_key(void)
{
	EVP_PKEY	*k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

static X509 *
make_cert(EVP_PKEY *key, const char *cn)
{
	X509		*x = X509_new();
	X509_NAME	*name;
	X509_EXTENSION	*ext;
	X509V3_CTX	 v3;
	char		 san[64];

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	snprintf(san, sizeof(san), "DNS:%s", cn);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

static void
write_pem(const char *path, EVP_PKEY *key, X509 *x)
{
	FILE	*f = fopen(path, "w");

	assert_non_null(f);
	if (key != NULL)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0,
		    NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_X509(f, x), 1);
	assert_int_equal(fclose(f), 0);
}

static int
group_setup(void **state)
{
	EVP_PKEY	*k;
	X509		*x;
	char		*err = NULL;

	strlcpy(g.dir, "/tmp/test_smtp_client.XXXXXX", sizeof(g.dir));
	if (mkdtemp(g.dir) == NULL)
		return -1;
	snprintf(g.cert, sizeof(g.cert), "%s/cert.pem", g.dir);
	snprintf(g.key, sizeof(g.key), "%s/key.pem", g.dir);
	k = make_key();
	x = make_cert(k, "localhost");
	write_pem(g.key, k, NULL);
	write_pem(g.cert, NULL, x);
	X509_free(x);
	EVP_PKEY_free(k);
	if ((g.srv = tls_server_ctx_new(g.cert, g.key, &err)) == NULL ||
	    (g.cli = tls_client_ctx_new(false, NULL, &err)) == NULL ||
	    (g.cli_verify = tls_client_ctx_new(true, g.cert, &err)) == NULL) {
		fprintf(stderr, "group_setup: %s\n", err);
		free(err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	tls_ctx_free(&g.srv);
	tls_ctx_free(&g.cli);
	tls_ctx_free(&g.cli_verify);
	unlink(g.cert);
	unlink(g.key);
	rmdir(g.dir);
	return 0;
}

/* ---- the fake server ---- */

struct fake {
	struct io		*io;
	const struct step	*steps;
	size_t			 next;
	int			 pipe;
	bool			 in_data;
	bool			 drop;
	bool			 early;
	bool			 closed;
	bool			 got_dot;
	bool			 dribble;	/* replies one octet a round */
	struct buf		 pending;	/* ...still to go */
	struct buf		 body;
	char			 err[512];
};

static void
fake_error(struct fake *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fake_error(struct fake *f, const char *fmt, ...)
{
	va_list	 ap;

	if (f->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
}

static void
fake_close(struct fake *f)
{
	io_free(&f->io);
	f->closed = true;
}

/* Dribbling: one octet whenever the queue is empty (IO_LOWAT). */
static void
fake_dribble(struct fake *f)
{
	if (f->io == NULL || f->pending.len == 0 || io_queued(f->io) > 0)
		return;
	if (io_write(f->io, BUF_DATA(&f->pending), 1) == -1)
		fake_error(f, "server write failed");
	buf_consume(&f->pending, 1);
}

static void
fake_flush(struct fake *f)
{
	if (f->io != NULL && f->pending.len > 0 && io_write(f->io,
	    BUF_DATA(&f->pending), f->pending.len) == -1)
		fake_error(f, "server write failed");
	buf_reset(&f->pending);
}

static void
fake_send(struct fake *f, const char *s)
{
	if (!f->dribble) {
		if (io_write(f->io, s, strlen(s)) == -1)
			fake_error(f, "server write failed");
		return;
	}
	if (buf_add_str(&f->pending, s) == -1)
		fake_error(f, "pending too big");
	fake_dribble(f);
}

static bool
fake_match(const char *expect, const char *line, size_t len)
{
	size_t	 n = strlen(expect);

	if (n > 0 && expect[n - 1] == '*')
		return len >= n - 1 && memcmp(expect, line, n - 1) == 0;
	return len == n && memcmp(expect, line, n) == 0;
}

/* RFC 2920: the whole group is there when MAIL is read (or nothing). */
static void
fake_check_pipe(struct fake *f)
{
	const uint8_t	*d = io_data(f->io);
	size_t		 n = io_datalen(f->io);

	if (f->pipe == PIPE_YES && (n < 6 ||
	    memcmp(d + n - 6, "DATA\r\n", 6) != 0))
		fake_error(f, "MAIL not pipelined with DATA (%zu after)", n);
	if (f->pipe == PIPE_NO && n > 0)
		fake_error(f, "%zu octets pipelined after MAIL", n);
}

static void
fake_act(struct fake *f, int action)
{
	switch (action) {
	case ACT_CLOSE:
		fake_flush(f);
		io_close_after_flush(f->io);
		break;
	case ACT_STARTTLS:
		/* What comes before the handshake is plaintext. */
		fake_flush(f);
		if (io_starttls(f->io, g.srv, true) == -1)
			fake_error(f, "server STARTTLS: %s", io_error(f->io));
		break;
	case ACT_DROP:
		f->drop = true;
		break;
	case ACT_EARLY:
		f->early = true;
		break;
	case ACT_KILL:
		fake_close(f);
		break;
	}
}

static void
fake_step(struct fake *f, const char *line, size_t len)
{
	const struct step	*s = &f->steps[f->next];

	if (s->expect == NULL) {
		fake_error(f, "line after the script: %.*s", (int)len, line);
		fake_close(f);
		return;
	}
	if (!fake_match(s->expect, line, len)) {
		fake_error(f, "step %zu: expected \"%s\", got \"%.*s\"",
		    f->next, s->expect, (int)len, line);
		fake_close(f);
		return;
	}
	if (len > 10 && memcmp(line, "MAIL FROM:", 10) == 0)
		fake_check_pipe(f);
	f->next++;
	if (s->reply != NULL)
		fake_send(f, s->reply);
	if (s->reply != NULL && strncmp(s->reply, "354", 3) == 0)
		f->in_data = true;
	fake_act(f, s->action);
}

static void
fake_body_line(struct fake *f, const char *line, size_t len)
{
	if (len == 1 && line[0] == '.') {
		f->in_data = false;
		f->got_dot = true;
		fake_step(f, line, len);
		return;
	}
	if (f->drop) {
		fake_close(f);
		return;
	}
	if (f->early) {
		f->early = false;
		fake_send(f, "552 5.3.4 Message too big\r\n");
	}
	if (buf_add(&f->body, line, len) == -1 ||
	    buf_add(&f->body, "\r\n", 2) == -1)
		fake_error(f, "body too big");
}

static void
fake_read(struct fake *f)
{
	char		*line;
	size_t		 len;
	enum io_line	 r;

	while (f->io != NULL &&
	    (r = io_getline(f->io, &line, &len, NULL)) != IO_LINE_MORE) {
		if (r == IO_LINE_TOOLONG) {
			fake_error(f, "line too long");
			continue;
		}
		if (f->in_data)
			fake_body_line(f, line, len);
		else
			fake_step(f, line, len);
	}
}

static void
fake_cb(struct io *io, enum io_event e, void *arg)
{
	struct fake	*f = arg;

	switch (e) {
	case IO_DATAIN:
		fake_read(f);
		break;
	case IO_LOWAT:
		fake_dribble(f);
		break;
	case IO_TLSREADY:
	case IO_TIMEOUT:
		break;
	default:
		fake_close(f);
		break;
	}
}

static void
fake_init(struct fake *f, struct ev *ev, int fd, const struct tcase *tc,
    bool dribble)
{
	memset(f, 0, sizeof(*f));
	f->steps = tc->steps;
	f->pipe = tc->pipe;
	f->dribble = dribble;
	buf_init(&f->body, 16 << 20);
	buf_init(&f->pending, 1 << 16);
	f->io = io_new(ev, fd, 1 << 16, 1 << 16, fake_cb, f);
	assert_non_null(f->io);
	if (tc->greeting != NULL)
		fake_send(f, tc->greeting);
	if (tc->close_after_greeting) {
		fake_flush(f);
		io_close_after_flush(f->io);
	}
}

static void
fake_clear(struct fake *f)
{
	io_free(&f->io);
	buf_clear(&f->body);
	buf_clear(&f->pending);
}

/* ---- the client side ---- */

struct run {
	struct ev			*ev;
	struct smtp_client		*c;
	int				 ncalls;
	bool				 free_in_cb;
	struct smtp_client_result	 res;
	struct smtp_client_rcpt		 rcpts[NRCPTS];
	struct smtp_client_tx		 tx;
	struct fake			 fake;
	int				 msg_fd;
};

static void
on_done(struct smtp_client *c, const struct smtp_client_result *res,
    void *arg)
{
	struct run	*r = arg;

	r->ncalls++;
	r->res = *res;
	if (r->free_in_cb) {
		assert_ptr_equal(c, r->c);
		smtp_client_free(&r->c);
	}
}

static void
params_init(struct smtp_client_params *p, const struct tcase *tc)
{
	uint64_t	 t = tc->timeout_ms != 0 ? tc->timeout_ms : 3000;

	memset(p, 0, sizeof(*p));
	p->helo_name = TEST_HELO;
	p->peer_name = tc->peer_name != NULL ? tc->peer_name : "localhost";
	p->peer_addr = "127.0.0.1";
	p->tls = tc->tls;
	if (tc->tls != SMTP_TLS_NONE)
		p->tls_ctx = tc->verify_ctx ? g.cli_verify : g.cli;
	p->auth = tc->auth;
	p->auth_user = "user";
	p->auth_pass = "pass";
	p->timeout_greeting_ms = t;
	p->timeout_cmd_ms = t;
	p->timeout_data_init_ms = t;
	p->timeout_data_block_ms = t;
	p->timeout_final_ms = t;
	p->timeout_quit_ms = t;
}

static void
tx_init(struct run *r, const struct tcase *tc, const void *msg,
    size_t msg_len)
{
	struct smtp_client_tx	*tx = &r->tx;
	size_t			 i;

	memset(tx, 0, sizeof(*tx));
	tx->mail_from = tc->from != NULL ? tc->from : "a@example.org";
	tx->size = tc->size;
	tx->body = tc->body;
	tx->smtputf8 = tc->utf8;
	tx->envid = tc->envid;
	tx->ret = tc->ret;
	tx->rcpts = r->rcpts;
	for (i = 0; i < NRCPTS && (i == 0 || tc->rcpts[i] != NULL); i++) {
		memset(&r->rcpts[i], 0, sizeof(r->rcpts[i]));
		r->rcpts[i].address = tc->rcpts[i] != NULL ? tc->rcpts[i] :
		    "b@example.net";
		r->rcpts[i].notify = tc->notify;
		r->rcpts[i].orcpt = tc->orcpt;
		/* Must be overwritten by the engine. */
		r->rcpts[i].result.status = SMTP_CLIENT_PERM;
	}
	tx->nrcpts = i;
	tx->prefix = tc->prefix;
	tx->prefix_len = tc->prefix != NULL ? strlen(tc->prefix) : 0;
	r->msg_fd = make_msg_fd(msg, msg_len);
	tx->msg_fd = r->msg_fd;
	tx->msg_len = (off_t)msg_len + tc->extra_len;
}

/* Start a conversation; the caller runs it. */
static void
run_start_x(struct run *r, const struct tcase *tc, const void *msg,
    size_t msg_len, bool dribble)
{
	struct smtp_client_params	 p;
	int				 sv[2];

	memset(r, 0, sizeof(*r));
	r->ev = ev_new();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	fake_init(&r->fake, r->ev, sv[1], tc, dribble);
	params_init(&p, tc);
	tx_init(r, tc, msg, msg_len);
	r->c = smtp_client_new(r->ev, sv[0], &p, &r->tx, on_done, r);
	assert_non_null(r->c);
}

static void
run_start(struct run *r, const struct tcase *tc, const void *msg,
    size_t msg_len)
{
	run_start_x(r, tc, msg, msg_len, false);
}

static void
run_wait(struct run *r, uint64_t max_ms)
{
	RUN_UNTIL(r->ev, r->ncalls > 0 && r->fake.closed, max_ms);
	assert_int_equal(r->ncalls, 1);
	assert_true(r->fake.closed);
	/* Nothing more comes. */
	assert_int_equal(ev_run_once(r->ev, 0), 0);
	assert_int_equal(r->ncalls, 1);
}

static void
run_clear(struct run *r)
{
	smtp_client_free(&r->c);
	fake_clear(&r->fake);
	close(r->msg_fd);
	ev_free(&r->ev);
}

static char
status_char(enum smtp_client_status s)
{
	switch (s) {
	case SMTP_CLIENT_OK:
		return 'O';
	case SMTP_CLIENT_TEMP:
		return 'T';
	case SMTP_CLIENT_PERM:
		return 'P';
	case SMTP_CLIENT_NEED_7BIT:
		return '7';
	default:
		return '-';
	}
}

static void
check_text(const char *what, const char *text, const char *want)
{
	if (want == NULL || strstr(text, want) != NULL)
		return;
	fail_msg("%s: \"%s\" does not contain \"%s\"", what, text, want);
}

static void
check_result(const struct tcase *tc, struct run *r)
{
	char	 got[NRCPTS + 1];
	size_t	 i;

	if (r->fake.err[0] != '\0')
		fail_msg("%s: server: %s", tc->name, r->fake.err);
	if (tc->steps[r->fake.next].expect != NULL)
		fail_msg("%s: script stopped at step %zu (%s); client: %s",
		    tc->name, r->fake.next, tc->steps[r->fake.next].expect,
		    r->res.dsn.text);
	if (r->res.status != tc->status)
		fail_msg("%s: status %s, want %s (%s)", tc->name,
		    smtp_client_status_str(r->res.status),
		    smtp_client_status_str(tc->status), r->res.dsn.text);
	for (i = 0; i < r->tx.nrcpts; i++)
		got[i] = status_char(r->rcpts[i].result.status);
	got[i] = '\0';
	if (tc->rcpt_status != NULL && strcmp(got, tc->rcpt_status) != 0)
		fail_msg("%s: recipients %s, want %s (%s)", tc->name, got,
		    tc->rcpt_status, r->rcpts[0].result.text);
	check_text(tc->name, r->res.dsn.text, tc->text);
	for (i = 0; i < r->tx.nrcpts; i++) {
		check_text(tc->name, r->rcpts[i].result.text, tc->rtext[i]);
		assert_true(r->rcpts[i].result.enh[0] != '\0');
	}
	if (tc->enh != NULL)
		assert_string_equal(r->rcpts[0].result.enh, tc->enh);
	if (tc->stage != 0 && (int)r->res.stage + 1 != tc->stage)
		fail_msg("%s: stage %s", tc->name,
		    smtp_client_stage_str(r->res.stage));
	if (tc->wire != NULL) {
		if (r->fake.body.len != strlen(tc->wire) ||
		    strcmp(buf_cstr(&r->fake.body), tc->wire) != 0)
			fail_msg("%s: body \"%s\", want \"%s\"", tc->name,
			    buf_cstr(&r->fake.body), tc->wire);
		assert_true(r->fake.got_dot);
	}
	assert_int_equal(r->res.tls_used, tc->tls_used);
	assert_int_equal(r->res.tls_failed, tc->tls_failed);
	assert_int_equal(r->res.auth_used, tc->auth_used);
}

/* Replies whole, or split everywhere (dribble). */
static void
run_case(const struct tcase *tc, bool dribble)
{
	struct run	 r;
	const char	*msg = tc->msg != NULL ? tc->msg : MSG;

	run_start_x(&r, tc, msg, strlen(msg), dribble);
	run_wait(&r, 5000);
	check_result(tc, &r);
	run_clear(&r);
}

/* ---- the table ---- */

static const struct tcase cases[] = {
{
	.name = "pipelined, two recipients",
	.greeting = GREET,
	.pipe = PIPE_YES,
	.rcpts = { "b@example.net", "c@example.net" },
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ TO_C, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.stage = STAGE(DOT),
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "OO",
	.text = "250 2.0.0 Ok: queued as 4XyZ",
	.rtext = { "250 2.0.0 Ok: queued as 4XyZ" },
	.enh = "2.0.0",
	.wire = MSG,
},
{
	.name = "no PIPELINING: one command at a time",
	.greeting = GREET,
	.pipe = PIPE_NO,
	.rcpts = { "b@example.net", "c@example.net" },
	.steps = {
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ TO_C, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "OO",
	.wire = MSG,
},
{
	.name = "HELO after EHLO's 5xx: no extensions",
	.greeting = GREET,
	.pipe = PIPE_NO,
	.steps = {
		{ EHLO_LINE, "502 5.5.2 Error: command not recognized\r\n", 0 },
		{ "HELO " TEST_HELO, "250 mx.example\r\n", 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.wire = MSG,
},
{
	.name = "HELO refused too",
	.greeting = GREET,
	.steps = {
		{ EHLO_LINE, "500 no\r\n", 0 },
		{ "HELO " TEST_HELO, "550 5.7.1 go away\r\n", 0 },
		BYE,
	},
	.status = SMTP_CLIENT_PERM,
	.rcpt_status = "P",
	.text = "host " PEER_TEXT " said: 550 5.7.1 go away (in reply to "
	    "HELO command)",
	.enh = "5.7.1",
},
{
	.name = "EHLO 421",
	.greeting = GREET,
	.steps = {
		{ EHLO_LINE, "421 4.3.2 shutting down\r\n", 0 },
		BYE,
	},
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "421 4.3.2 shutting down (in reply to EHLO command)",
},
{
	.name = "554 greeting: permanent for all",
	.greeting = "554 5.7.1 No SMTP service here\r\n",
	.rcpts = { "b@example.net", "c@example.net" },
	.steps = { BYE },
	.stage = STAGE(GREETING),
	.status = SMTP_CLIENT_PERM,
	.rcpt_status = "PP",
	.text = "host " PEER_TEXT " refused to talk to me: 554 5.7.1 No "
	    "SMTP service here",
	.rtext = { "refused to talk to me", "refused to talk to me" },
	.enh = "5.7.1",
},
{
	.name = "421 greeting without enhanced code: temporary",
	.greeting = "421 busy, try later\r\n",
	.steps = { BYE },
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "refused to talk to me: 421 busy, try later",
	.enh = "4.0.0",
},
{
	.name = "3xx greeting: temporary",
	.greeting = "354 what\r\n",
	.steps = { BYE },
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.enh = "4.0.0",
},
{
	.name = "RCPT 250/450/550 then DATA",
	.greeting = GREET,
	.pipe = PIPE_YES,
	.rcpts = { "b@example.net", "c@example.net", "d@example.net" },
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ TO_C, "450 4.2.0 <c@example.net>: greylisted\r\n", 0 },
		{ TO_D, "550 5.1.1 <d@example.net>: User unknown\r\n", 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "OTP",
	.rtext = { "queued as 4XyZ", "host " PEER_TEXT " said: 450 4.2.0 "
	    "<c@example.net>: greylisted (in reply to RCPT TO command)",
	    "said: 550 5.1.1 <d@example.net>: User unknown (in reply to "
	    "RCPT TO command)" },
	.wire = MSG,
},
{
	.name = "every RCPT fails, pipelined: DATA refused, no body",
	.greeting = GREET,
	.pipe = PIPE_YES,
	.rcpts = { "b@example.net", "c@example.net" },
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, "450 4.2.0 later\r\n", 0 },
		{ TO_C, "550 5.1.1 unknown\r\n", 0 },
		{ "DATA", "554 5.5.1 Error: no valid recipients\r\n", 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "TP",
	.rtext = { "450 4.2.0 later", "550 5.1.1 unknown" },
},
{
	.name = "every RCPT fails, pipelined, a 354 anyway: empty end",
	.greeting = GREET,
	.pipe = PIPE_YES,
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, "550 5.1.1 unknown\r\n", 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", "554 5.5.1 no recipients\r\n", 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "P",
	.wire = "",
},
{
	.name = "every RCPT fails, no PIPELINING: no DATA",
	.greeting = GREET,
	.pipe = PIPE_NO,
	.rcpts = { "b@example.net", "c@example.net" },
	.steps = {
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, "550 5.1.1 unknown\r\n", 0 },
		{ TO_C, "451 4.3.0 try later\r\n", 0 },
		BYE,
	},
	.stage = STAGE(RCPT),
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "PT",
},
{
	.name = "MAIL FROM refused, pipelined: replies drained",
	.greeting = GREET,
	.pipe = PIPE_YES,
	.rcpts = { "b@example.net", "c@example.net" },
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", "550 5.7.1 sender refused\r\n", 0 },
		{ TO_B, "503 5.5.1 need MAIL\r\n", 0 },
		{ TO_C, "503 5.5.1 need MAIL\r\n", 0 },
		{ "DATA", "503 5.5.1 need RCPT\r\n", 0 },
		BYE,
	},
	.status = SMTP_CLIENT_PERM,
	.rcpt_status = "PP",
	.text = "550 5.7.1 sender refused (in reply to MAIL FROM command)",
	.rtext = { "sender refused", "sender refused" },
},
{
	.name = "MAIL FROM 451, no PIPELINING",
	.greeting = GREET,
	.steps = {
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, "451 4.3.0 try again\r\n", 0 },
		BYE,
	},
	.stage = STAGE(MAIL),
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
},
{
	.name = "DATA 451: accepted recipients temporary",
	.greeting = GREET,
	.rcpts = { "b@example.net", "c@example.net" },
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ TO_C, "550 5.1.1 unknown\r\n", 0 },
		{ "DATA", "451 4.3.0 no\r\n", 0 },
		BYE,
	},
	.stage = STAGE(DATA),
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "TP",
	.rtext = { "451 4.3.0 no (in reply to DATA command)" },
},
{
	.name = "final 554: permanent",
	.greeting = GREET,
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", "554 5.7.1 spam\r\n", 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "P",
	.rtext = { "554 5.7.1 spam (in reply to end of DATA command)" },
	.enh = "5.7.1",
	.wire = MSG,
},
{
	.name = "final 451 without enhanced code",
	.greeting = GREET,
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", "451 local error\r\n", 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "T",
	.enh = "4.0.0",
	.wire = MSG,
},
{
	.name = "SIZE too big: 5.3.4, nothing sent",
	.greeting = GREET,
	.rcpts = { "b@example.net", "c@example.net" },
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n",
		    0 },
		BYE,
	},
	.stage = STAGE(MAIL),
	.status = SMTP_CLIENT_PERM,
	.rcpt_status = "PP",
	.text = "message size 21 exceeds size limit 10 of server "
	    PEER_TEXT,
	.enh = "5.3.4",
},
{
	.name = "SIZE 0 is no limit; tx.size is announced",
	.greeting = GREET,
	.size = 5000,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 SIZE 0\r\n", 0 },
		{ FROM_LINE " SIZE=5000", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.wire = MSG,
},
{
	.name = "SMTPUTF8 needed, not offered",
	.greeting = GREET,
	.utf8 = true,
	.steps = { { EHLO_LINE, EHLO_PIPE, 0 }, BYE },
	.status = SMTP_CLIENT_PERM,
	.rcpt_status = "P",
	.text = "SMTPUTF8 is required, but was not offered by host "
	    PEER_TEXT,
	.enh = "5.6.7",
},
{
	.name = "a UTF-8 recipient needs SMTPUTF8",
	.greeting = GREET,
	.rcpts = { "b@example.net", "j\xc3\xb6rg@example.net" },
	.steps = { { EHLO_LINE, EHLO_PIPE, 0 }, BYE },
	.status = SMTP_CLIENT_PERM,
	.rcpt_status = "PP",
	.enh = "5.6.7",
},
{
	.name = "SMTPUTF8 offered",
	.greeting = GREET,
	.rcpts = { "j\xc3\xb6rg@example.net" },
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n",
		    0 },
		{ FROM_LINE " SMTPUTF8", OK_FROM, 0 },
		{ "RCPT TO:<j\xc3\xb6rg@example.net>", OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
},
{
	.name = "8BITMIME needed, not offered: needs 7bit",
	.greeting = GREET,
	.body = SMTP_CLIENT_BODY_8BITMIME,
	.steps = { { EHLO_LINE, "250-mx\r\n250 PIPELINING\r\n", 0 }, BYE },
	.status = SMTP_CLIENT_NEED_7BIT,
	.rcpt_status = "P",
	.text = "8BITMIME is required",
	.enh = "5.6.3",
},
{
	.name = "8BITMIME offered: BODY=8BITMIME",
	.greeting = GREET,
	.body = SMTP_CLIENT_BODY_8BITMIME,
	.msg = "caf\xc3\xa9\r\n",
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=7 BODY=8BITMIME", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.wire = "caf\xc3\xa9\r\n",
},
{
	.name = "DSN offered: RET, ENVID, NOTIFY, ORCPT",
	.greeting = GREET,
	.ret = SMTP_RET_HDRS,
	.envid = "QQ+2B1",
	.notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE,
	.orcpt = "rfc822;b+2Bx@example.net",
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250-PIPELINING\r\n250 DSN\r\n", 0 },
		{ FROM_LINE " RET=HDRS ENVID=QQ+2B1", OK_FROM, 0 },
		{ TO_B " NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Bx@example.net",
		    OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
},
{
	.name = "DSN offered: NOTIFY=NEVER alone, bad ORCPT/ENVID left out",
	.greeting = GREET,
	.ret = SMTP_RET_FULL,
	.envid = "bad=envid",
	.notify = SMTP_NOTIFY_NEVER | SMTP_NOTIFY_DELAY,
	.orcpt = "rfc822",
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250-PIPELINING\r\n250 DSN\r\n", 0 },
		{ FROM_LINE " RET=FULL", OK_FROM, 0 },
		{ TO_B " NOTIFY=NEVER", OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
},
{
	.name = "DSN not offered: no DSN parameters",
	.greeting = GREET,
	.ret = SMTP_RET_HDRS,
	.envid = "QQ+2B1",
	.notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE,
	.orcpt = "rfc822;b@example.net",
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 PIPELINING\r\n", 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
},
{
	.name = "dot-stuffing",
	.greeting = GREET,
	.msg = ".leading\r\n..two\r\nmid.dle\r\n.\r\n. \r\nend.\r\n",
	.steps = {
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.wire = "..leading\r\n...two\r\nmid.dle\r\n..\r\n.. \r\nend.\r\n",
},
{
	.name = "no final CRLF",
	.greeting = GREET,
	.msg = "Subject: x\r\n\r\nno end",
	.steps = {
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.wire = "Subject: x\r\n\r\nno end\r\n",
},
{
	.name = "bare LF, stray CR, final lone CR",
	.greeting = GREET,
	.msg = "a\nb\rc\r\n.d\n\r\r\nx\r",
	.steps = {
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.wire = "a\r\nb c\r\n..d\r\n \r\nx\r\n",
},
{
	.name = "empty message",
	.greeting = GREET,
	.msg = "",
	.steps = {
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.wire = "",
},
{
	.name = "prefix, then the file: stuffing and CRLF across",
	.greeting = GREET,
	.prefix = "Received: x\r\n.y\r",
	.msg = "\n.z",
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 SIZE 1000\r\n", 0 },
		{ FROM_LINE " SIZE=19", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.wire = "Received: x\r\n..y\r\n..z\r\n",
},
{
	.name = "message file shorter than msg_len: no end of data",
	.greeting = GREET,
	.extra_len = 100,
	.steps = {
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
	},
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "cannot read the message: message file shorter than "
	    "expected",
	.enh = "4.3.0",
},
{
	.name = "multi-line replies",
	.greeting = "220-mx.example ESMTP\r\n220-second line\r\n220 third\r\n",
	.steps = {
		{ EHLO_LINE, "250-mx.example\r\n250-PIPELINING\r\n"
		    "250-SIZE 1000\r\n250 HELP\r\n", 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, "550-5.1.1 first line\r\n550-5.1.1 second\r\n"
		    "550 5.1.1 third\r\n", 0 },
		{ "DATA", "554 5.5.1 no valid recipients\r\n", 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "P",
	.rtext = { "host " PEER_TEXT " said: 550 5.1.1 first line second "
	    "third (in reply to RCPT TO command)" },
},
{
	.name = "control characters in a reply are made printable",
	.greeting = GREET,
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, "550 5.1.1 a\tb\x1b[31mc\xff\r\n", 0 },
		{ "DATA", "554 no\r\n", 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "P",
	.rtext = { "550 5.1.1 a\\tb\\033[31mc\\377 (in reply" },
},
{
	.name = "greeting timeout",
	.timeout_ms = 100,
	.steps = { { NULL, NULL, 0 } },
	.stage = STAGE(GREETING),
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "conversation with " PEER_TEXT " timed out while receiving "
	    "the initial server greeting",
	.enh = "4.4.2",
},
{
	.name = "RCPT timeout",
	.greeting = GREET,
	.timeout_ms = 150,
	.steps = {
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, NULL, 0 },
	},
	.stage = STAGE(RCPT),
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "timed out while sending RCPT TO",
},
{
	.name = "timeout after the end of data",
	.greeting = GREET,
	.timeout_ms = 150,
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", NULL, 0 },
	},
	.stage = STAGE(DOT),
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "timed out while sending end of data -- message may be "
	    "sent more than once",
	.wire = MSG,
},
{
	.name = "QUIT not answered: results stand",
	.greeting = GREET,
	.timeout_ms = 150,
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		{ "QUIT", NULL, 0 },
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.wire = MSG,
},
{
	.name = "connection closed after the greeting",
	.greeting = GREET,
	.close_after_greeting = true,
	.steps = { { NULL, NULL, 0 } },
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "lost connection with " PEER_TEXT " while performing the "
	    "EHLO handshake",
	.enh = "4.4.2",
},
{
	.name = "connection closed after 354",
	.greeting = GREET,
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, ACT_KILL },
	},
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "lost connection with " PEER_TEXT,
},
{
	.name = "garbage reply",
	.greeting = GREET,
	.steps = {
		{ EHLO_LINE, "250-mx.example\r\nxyz\r\n", 0 },
	},
	.stage = STAGE(EHLO),
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "malformed reply from " PEER_TEXT " while performing the "
	    "EHLO handshake: bad reply code",
	.enh = "4.5.0",
},
{
	.name = "garbage greeting",
	.greeting = "hello there\r\n",
	.steps = { { NULL, NULL, 0 } },
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "malformed reply",
},
{
	.name = "reply code changes within a reply",
	.greeting = GREET,
	.steps = {
		{ EHLO_LINE, "250-mx.example\r\n251 PIPELINING\r\n", 0 },
	},
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "reply code changed",
},
{
	.name = "bad recipient syntax: that one fails, others go",
	.greeting = GREET,
	.rcpts = { "b@example.net", "bad address@", "c@example.net" },
	.steps = {
		{ EHLO_LINE, EHLO_PIPE, 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ TO_C, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "OPO",
	.rtext = { NULL, "bad recipient address syntax: <bad address@>" },
	.wire = MSG,
},
{
	.name = "every recipient's syntax bad: nothing sent",
	.greeting = GREET,
	.rcpts = { "x", "<y@z>" },
	.steps = { { EHLO_LINE, EHLO_PIPE, 0 }, BYE },
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "PP",
	.enh = "5.1.3",
},
{
	.name = "bad sender syntax",
	.greeting = GREET,
	.from = "a@@b\r\nRSET",
	.steps = { { EHLO_LINE, EHLO_PIPE, 0 }, BYE },
	.status = SMTP_CLIENT_PERM,
	.rcpt_status = "P",
	.text = "bad sender address syntax: <a@@b\\r\\nRSET>",
	.enh = "5.1.7",
},
{
	.name = "null sender",
	.greeting = GREET,
	.from = "",
	.steps = {
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ "MAIL FROM:<>", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
},
/* TLS */
{
	.name = "STARTTLS (may) then AUTH PLAIN",
	.greeting = GREET,
	.tls = SMTP_TLS_MAY,
	.auth = SMTP_CLIENT_AUTH_ANY,
	.pipe = PIPE_YES,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250-STARTTLS\r\n250-AUTH LOGIN\r\n"
		    "250 PIPELINING\r\n", 0 },
		{ "STARTTLS", "220 2.0.0 Ready to start TLS\r\n",
		    ACT_STARTTLS },
		{ EHLO_LINE, "250-mx\r\n250-PIPELINING\r\n"
		    "250-AUTH PLAIN LOGIN\r\n250 SIZE 1000\r\n", 0 },
		{ "AUTH PLAIN AHVzZXIAcGFzcw==", "235 2.7.0 ok\r\n", 0 },
		{ FROM_LINE " SIZE=21", OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.wire = MSG,
	.tls_used = true,
	.auth_used = true,
},
{
	.name = "AUTH LOGIN over TLS (encrypt)",
	.greeting = GREET,
	.tls = SMTP_TLS_ENCRYPT,
	.auth = SMTP_CLIENT_AUTH_LOGIN,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
		{ "STARTTLS", "220 go ahead\r\n", ACT_STARTTLS },
		{ EHLO_LINE, "250-mx\r\n250 AUTH PLAIN LOGIN\r\n", 0 },
		{ "AUTH LOGIN", "334 VXNlcm5hbWU6\r\n", 0 },
		{ "dXNlcg==", "334 UGFzc3dvcmQ6\r\n", 0 },
		{ "cGFzcw==", "235 2.7.0 Authentication successful\r\n", 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.wire = MSG,
	.tls_used = true,
	.auth_used = true,
},
{
	.name = "AUTH refused: temporary",
	.greeting = GREET,
	.tls = SMTP_TLS_ENCRYPT,
	.auth = SMTP_CLIENT_AUTH_PLAIN,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
		{ "STARTTLS", "220 go ahead\r\n", ACT_STARTTLS },
		{ EHLO_LINE, "250-mx\r\n250 AUTH PLAIN\r\n", 0 },
		{ "AUTH PLAIN *", "535 5.7.8 Authentication credentials "
		    "invalid\r\n", 0 },
		BYE,
	},
	.stage = STAGE(AUTH),
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "SASL authentication failed; host " PEER_TEXT " said: 535 "
	    "5.7.8 Authentication credentials invalid",
	.enh = "4.7.8",
	.tls_used = true,
},
{
	.name = "AUTH not offered",
	.greeting = GREET,
	.tls = SMTP_TLS_ENCRYPT,
	.auth = SMTP_CLIENT_AUTH_ANY,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
		{ "STARTTLS", "220 go ahead\r\n", ACT_STARTTLS },
		{ EHLO_LINE, "250 mx\r\n", 0 },
		BYE,
	},
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "AUTH not offered by host " PEER_TEXT,
	.tls_used = true,
},
{
	.name = "AUTH without a common mechanism",
	.greeting = GREET,
	.tls = SMTP_TLS_ENCRYPT,
	.auth = SMTP_CLIENT_AUTH_PLAIN,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
		{ "STARTTLS", "220 go ahead\r\n", ACT_STARTTLS },
		{ EHLO_LINE, "250-mx\r\n250 AUTH LOGIN CRAM-MD5\r\n", 0 },
		BYE,
	},
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "no SASL mechanism in common with host " PEER_TEXT
	    " (offered: LOGIN CRAM-MD5)",
	.tls_used = true,
},
{
	.name = "AUTH without TLS: not sent",
	.greeting = GREET,
	.tls = SMTP_TLS_MAY,
	.auth = SMTP_CLIENT_AUTH_ANY,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 AUTH PLAIN\r\n", 0 },
		BYE,
	},
	.stage = STAGE(AUTH),
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "needs TLS",
},
{
	.name = "TLS may, not offered: plaintext",
	.greeting = GREET,
	.tls = SMTP_TLS_MAY,
	.steps = {
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
},
{
	.name = "TLS may, STARTTLS refused: plaintext",
	.greeting = GREET,
	.tls = SMTP_TLS_MAY,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
		{ "STARTTLS", "454 4.7.0 TLS not available\r\n", 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
},
{
	.name = "TLS encrypt, STARTTLS refused",
	.greeting = GREET,
	.tls = SMTP_TLS_ENCRYPT,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
		{ "STARTTLS", "554 5.7.0 no\r\n", 0 },
		BYE,
	},
	.stage = STAGE(STARTTLS),
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "(in reply to STARTTLS command)",
	.enh = "4.7.0",
},
{
	.name = "TLS required, not offered: 4.7.4",
	.greeting = GREET,
	.tls = SMTP_TLS_ENCRYPT,
	.steps = { { EHLO_LINE, EHLO_PIPE, 0 }, BYE },
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "TLS is required, but was not offered by host " PEER_TEXT,
	.enh = "4.7.4",
},
{
	.name = "TLS required, HELO only",
	.greeting = GREET,
	.tls = SMTP_TLS_VERIFY,
	.steps = {
		{ EHLO_LINE, "502 no\r\n", 0 },
		{ "HELO " TEST_HELO, "250 mx\r\n", 0 },
		BYE,
	},
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.enh = "4.7.4",
},
{
	.name = "TLS may, handshake fails: temporary, tls_failed",
	.greeting = GREET,
	.tls = SMTP_TLS_MAY,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
		{ "STARTTLS", "220 go ahead\r\n", ACT_CLOSE },
	},
	.stage = STAGE(TLS),
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "Cannot start TLS with " PEER_TEXT ": handshake failure",
	.enh = "4.7.5",
	.tls_failed = true,
},
{
	.name = "TLS verify, the name matches",
	.greeting = GREET,
	.tls = SMTP_TLS_VERIFY,
	.verify_ctx = true,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
		{ "STARTTLS", "220 go ahead\r\n", ACT_STARTTLS },
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.tls_used = true,
},
{
	.name = "TLS verify, wrong name: handshake fails",
	.greeting = GREET,
	.tls = SMTP_TLS_VERIFY,
	.verify_ctx = true,
	.peer_name = "mx.wrong.example",
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
		{ "STARTTLS", "220 go ahead\r\n", ACT_STARTTLS },
	},
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "Cannot start TLS with mx.wrong.example[127.0.0.1]: "
	    "handshake failure",
	.enh = "4.7.5",
	.tls_failed = true,
},
{
	.name = "TLS verify, untrusted certificate",
	.greeting = GREET,
	.tls = SMTP_TLS_VERIFY,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
		{ "STARTTLS", "220 go ahead\r\n", ACT_STARTTLS },
	},
	.status = SMTP_CLIENT_TEMP,
	.rcpt_status = "T",
	.text = "certificate verify failed",
	.tls_failed = true,
},
{
	.name = "TLS encrypt, wrong name is fine",
	.greeting = GREET,
	.tls = SMTP_TLS_ENCRYPT,
	.verify_ctx = true,
	.peer_name = "mx.wrong.example",
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
		{ "STARTTLS", "220 go ahead\r\n", ACT_STARTTLS },
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.tls_used = true,
},
{
	.name = "plaintext injected after STARTTLS's 220 is dropped",
	.greeting = GREET,
	.tls = SMTP_TLS_MAY,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
		{ "STARTTLS", "220 go ahead\r\n250-injected\r\n"
		    "250 AUTH PLAIN\r\n", ACT_STARTTLS },
		{ EHLO_LINE, EHLO_PLAIN, 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
	.tls_used = true,
},
};

static void
test_table(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], false);
}

static void
test_table_dribble(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], true);
}

/* ---- cases with more to check ---- */

static const struct tcase normal = {
	.name = "normal",
	.greeting = GREET,
	.steps = {
		{ EHLO_LINE, "250-mx\r\n250 PIPELINING\r\n", 0 },
		{ FROM_LINE, OK_FROM, 0 },
		{ TO_B, OK_RCPT, 0 },
		{ "DATA", GO_DATA, 0 },
		{ ".", QUEUED, 0 },
		BYE,
	},
	.status = SMTP_CLIENT_OK,
	.rcpt_status = "O",
};

static void
test_tls_info(void **state)
{
	static const struct tcase tc = {
		.name = "tls info",
		.greeting = GREET,
		.tls = SMTP_TLS_VERIFY,
		.verify_ctx = true,
		.steps = {
			{ EHLO_LINE, "250-mx\r\n250 STARTTLS\r\n", 0 },
			{ "STARTTLS", "220 go ahead\r\n", ACT_STARTTLS },
			{ EHLO_LINE, "250-mx\r\n250-PIPELINING\r\n"
			    "250 DSN\r\n", 0 },
			BYE,
		},
		.from = "a@@b",
		.status = SMTP_CLIENT_PERM,
		.tls_used = true,
	};
	struct run	 r;

	run_start(&r, &tc, MSG, strlen(MSG));
	run_wait(&r, 5000);
	check_result(&tc, &r);
	assert_true(r.res.tls.verified);
	assert_true(r.res.tls.peer_cert);
	assert_true(strncmp(r.res.tls.version, "TLSv1.", 6) == 0);
	/* Capabilities are the ones after TLS. */
	assert_true(r.res.esmtp);
	assert_int_equal(r.res.caps.flags, SMTP_CAP_PIPELINING |
	    SMTP_CAP_DSN);
	assert_int_equal(r.res.stage, SMTP_CLIENT_STAGE_MAIL);
	run_clear(&r);
}

static void
test_stage(void **state)
{
	struct run	 r;

	run_start(&r, &normal, MSG, strlen(MSG));
	run_wait(&r, 5000);
	check_result(&normal, &r);
	assert_int_equal(r.res.stage, SMTP_CLIENT_STAGE_DOT);
	assert_int_equal(r.res.ndelivered, 1);
	assert_int_equal(r.res.dsn.code, 250);
	assert_string_equal(r.rcpts[0].result.enh, "2.0.0");
	assert_int_equal(r.rcpts[0].result.code, 250);
	run_clear(&r);
}

static void
test_free_in_callback(void **state)
{
	struct run	 r;

	run_start(&r, &normal, MSG, strlen(MSG));
	r.free_in_cb = true;
	run_wait(&r, 5000);
	assert_null(r.c);
	check_result(&normal, &r);
	run_clear(&r);
}

/* Freed mid-conversation: no callback, the connection closes. */
static void
test_free_early(void **state)
{
	struct run	 r;

	run_start(&r, &normal, MSG, strlen(MSG));
	RUN_UNTIL(r.ev, r.fake.next >= 1, 2000);
	assert_int_equal(r.fake.next, 1);
	smtp_client_free(&r.c);
	assert_null(r.c);
	smtp_client_free(&r.c);
	RUN_UNTIL(r.ev, r.fake.closed, 2000);
	assert_true(r.fake.closed);
	assert_int_equal(r.ncalls, 0);
	run_clear(&r);
}

/* A body with many lines, some starting with "." */
static char *
gen_message(size_t len)
{
	char	*m = malloc(len);
	size_t	 i, col = 0;

	assert_non_null(m);
	for (i = 0; i < len; i++) {
		if (col == 70 || (i % 997) == 996) {
			m[i] = i + 1 < len ? '\r' : 'x';
			if (i + 1 < len)
				m[++i] = '\n';
			col = 0;
			continue;
		}
		m[i] = col == 0 && (i / 71) % 5 == 0 ? '.' :
		    (char)('a' + (i % 26));
		col++;
	}
	return m;
}

/* What the wire carries, done the obvious way. */
static void
stuff(struct buf *out, const char *m, size_t len)
{
	size_t	 i;
	bool	 bol = true;

	for (i = 0; i < len; i++) {
		if (bol && m[i] == '.')
			assert_int_equal(buf_add_u8(out, '.'), 0);
		assert_int_equal(buf_add_u8(out, (uint8_t)m[i]), 0);
		bol = m[i] == '\n';
	}
	if (!bol)
		assert_int_equal(buf_add(out, "\r\n", 2), 0);
}

static void
test_big_message(void **state)
{
	static const struct tcase tc = {
		.name = "big",
		.greeting = GREET,
		.steps = {
			{ EHLO_LINE, "250-mx\r\n250 PIPELINING\r\n", 0 },
			{ FROM_LINE, OK_FROM, 0 },
			{ TO_B, OK_RCPT, 0 },
			{ "DATA", GO_DATA, 0 },
			{ ".", QUEUED, 0 },
			BYE,
		},
		.prefix = "Received: from x\r\n\tby y\r\n",
		.status = SMTP_CLIENT_OK,
		.rcpt_status = "O",
	};
	size_t		 len = 3 * 1000 * 1000 + 7;
	char		*m = gen_message(len);
	struct buf	 want;
	struct run	 r;

	buf_init(&want, 16 << 20);
	stuff(&want, tc.prefix, strlen(tc.prefix));
	stuff(&want, m, len);
	run_start(&r, &tc, m, len);
	run_wait(&r, 20000);
	check_result(&tc, &r);
	assert_int_equal(r.fake.body.len, want.len);
	assert_memory_equal(BUF_DATA(&r.fake.body), BUF_DATA(&want),
	    want.len);
	run_clear(&r);
	buf_clear(&want);
	free(m);
}

static void
test_drop_mid_body(void **state)
{
	static const struct tcase tc = {
		.name = "drop",
		.greeting = GREET,
		.rcpts = { "b@example.net", "c@example.net" },
		.steps = {
			{ EHLO_LINE, "250-mx\r\n250 PIPELINING\r\n", 0 },
			{ FROM_LINE, OK_FROM, 0 },
			{ TO_B, OK_RCPT, 0 },
			{ TO_C, "550 5.1.1 no\r\n", 0 },
			{ "DATA", GO_DATA, ACT_DROP },
		},
		.status = SMTP_CLIENT_TEMP,
		.rcpt_status = "TP",
		.text = "lost connection with " PEER_TEXT " while sending "
		    "message body",
		.rtext = { "lost connection", "550 5.1.1 no" },
		.enh = "4.4.2",
	};
	size_t		 len = 4 * 1000 * 1000;
	char		*m = gen_message(len);
	struct run	 r;

	run_start(&r, &tc, m, len);
	run_wait(&r, 20000);
	check_result(&tc, &r);
	assert_int_equal(r.res.stage, SMTP_CLIENT_STAGE_BODY);
	assert_false(r.fake.got_dot);
	run_clear(&r);
	free(m);
}

static void
test_early_reply(void **state)
{
	static const struct tcase tc = {
		.name = "early",
		.greeting = GREET,
		.steps = {
			{ EHLO_LINE, "250-mx\r\n250 PIPELINING\r\n", 0 },
			{ FROM_LINE, OK_FROM, 0 },
			{ TO_B, OK_RCPT, 0 },
			{ "DATA", GO_DATA, ACT_EARLY },
		},
		.status = SMTP_CLIENT_OK,
		.rcpt_status = "P",
		.rtext = { "552 5.3.4 Message too big (in reply to message "
		    "body)" },
		.enh = "5.3.4",
	};
	size_t		 len = 4 * 1000 * 1000;
	char		*m = gen_message(len);
	struct run	 r;

	run_start(&r, &tc, m, len);
	run_wait(&r, 20000);
	check_result(&tc, &r);
	assert_false(r.fake.got_dot);
	run_clear(&r);
	free(m);
}

/* A body block that does not drain in time. */
static void
test_body_timeout(void **state)
{
	static const struct tcase tc = {
		.name = "body timeout",
		.greeting = GREET,
		.timeout_ms = 200,
		.steps = {
			{ EHLO_LINE, "250-mx\r\n250 PIPELINING\r\n", 0 },
			{ FROM_LINE, OK_FROM, 0 },
			{ TO_B, OK_RCPT, 0 },
			{ "DATA", GO_DATA, 0 },
		},
		.status = SMTP_CLIENT_TEMP,
		.rcpt_status = "T",
		.text = "timed out while sending message body",
	};
	size_t		 len = 8 * 1000 * 1000;
	char		*m = gen_message(len);
	struct run	 r;

	run_start(&r, &tc, m, len);
	RUN_UNTIL(r.ev, r.fake.in_data, 2000);
	assert_true(r.fake.in_data);
	/* The server stops reading. */
	io_pause_read(r.fake.io);
	RUN_UNTIL(r.ev, r.ncalls > 0, 3000);
	assert_int_equal(r.ncalls, 1);
	fake_clear(&r.fake);
	r.fake.closed = true;
	check_result(&tc, &r);
	assert_int_equal(r.res.stage, SMTP_CLIENT_STAGE_BODY);
	run_clear(&r);
	free(m);
}

static void
test_new_refused_fd(void **state)
{
	struct tcase			 tc = normal;
	struct smtp_client_params	 p;
	struct run			 r;
	int				 fd;

	memset(&r, 0, sizeof(r));
	r.ev = ev_new();
	params_init(&p, &tc);
	tx_init(&r, &tc, "", 0);
	/* epoll refuses regular files (and memfds). */
	fd = make_msg_fd("", 0);
	errno = 0;
	assert_null(smtp_client_new(r.ev, fd, &p, &r.tx, on_done, &r));
	assert_int_equal(errno, EPERM);
	close(r.msg_fd);
	ev_free(&r.ev);
}

static jmp_buf	fatal_jmp;

static void
on_fatal(void)
{
	longjmp(fatal_jmp, 1);
}

/* Bad arguments are bugs. */
static void
test_bad_args(void **state)
{
	static const int	 bad[] = { 0, 1, 2, 3, 4, 5, 6 };
	struct smtp_client_params p;
	struct run		 r;
	volatile int		 fired;
	size_t			 i;
	int			 sv[2];

	memset(&r, 0, sizeof(r));
	r.ev = ev_new();
	tx_init(&r, &normal, "", 0);
	log_set_fatal_hook(on_fatal);
	log_set_flags(0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		params_init(&p, &normal);
		r.tx.nrcpts = 1;
		switch (bad[i]) {
		case 0:
			r.tx.nrcpts = 0;
			break;
		case 1:
			r.tx.nrcpts = SMTP_CLIENT_RCPTS_MAX + 1;
			break;
		case 2:
			p.tls = SMTP_TLS_MAY;
			break;
		case 3:
			p.auth = SMTP_CLIENT_AUTH_PLAIN;
			p.auth_pass = NULL;
			break;
		case 4:
			p.peer_name = NULL;
			break;
		case 5:
			r.tx.msg_fd = -1;
			r.tx.msg_len = 10;
			break;
		case 6:
			p.helo_name = "x\r\nRSET";
			break;
		}
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		fired = 0;
		if (setjmp(fatal_jmp) == 0)
			(void)smtp_client_new(r.ev, sv[0], &p, &r.tx, on_done,
			    &r);
		else
			fired = 1;
		assert_int_equal(fired, 1);
		close(sv[0]);
		close(sv[1]);
		r.tx.msg_fd = r.msg_fd;
		r.tx.msg_len = 0;
	}
	log_set_flags(LOG_TO_STDERR);
	log_set_fatal_hook(NULL);
	close(r.msg_fd);
	ev_free(&r.ev);
}

static void
test_names(void **state)
{
	assert_string_equal(smtp_client_status_str(SMTP_CLIENT_OK), "sent");
	assert_string_equal(smtp_client_status_str(SMTP_CLIENT_TEMP),
	    "deferred");
	assert_string_equal(smtp_client_status_str(SMTP_CLIENT_PERM),
	    "bounced");
	assert_string_equal(smtp_client_status_str(SMTP_CLIENT_NONE), "none");
	assert_string_equal(smtp_client_stage_str(SMTP_CLIENT_STAGE_BODY),
	    "sending message body");
	assert_string_equal(smtp_client_stage_str(
	    (enum smtp_client_stage)99), "?");
}

/* A reply text longer than the result holds is cut and marked. */
static void
test_long_text(void **state)
{
	static char	 reply[3000];
	struct tcase	 tc = {
		.name = "long",
		.greeting = GREET,
		.steps = {
			{ EHLO_LINE, "250-mx\r\n250 PIPELINING\r\n", 0 },
			{ FROM_LINE, OK_FROM, 0 },
			{ TO_B, reply, 0 },
			{ "DATA", "554 no\r\n", 0 },
			BYE,
		},
		.status = SMTP_CLIENT_OK,
		.rcpt_status = "P",
	};
	struct run	 r;
	size_t		 i, n = 0;

	for (i = 0; i < 10; i++)
		n += (size_t)snprintf(reply + n, sizeof(reply) - n,
		    "550%c5.1.1 %0200d\r\n", i < 9 ? '-' : ' ', (int)i);
	run_start(&r, &tc, MSG, strlen(MSG));
	run_wait(&r, 5000);
	check_result(&tc, &r);
	n = strlen(r.rcpts[0].result.text);
	assert_true(n < SMTP_CLIENT_TEXT_MAX);
	assert_true(n > 400);
	assert_non_null(strstr(r.rcpts[0].result.text, "..."));
	run_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_dribble),
		cmocka_unit_test(test_tls_info),
		cmocka_unit_test(test_stage),
		cmocka_unit_test(test_free_in_callback),
		cmocka_unit_test(test_free_early),
		cmocka_unit_test(test_big_message),
		cmocka_unit_test(test_drop_mid_body),
		cmocka_unit_test(test_early_reply),
		cmocka_unit_test(test_body_timeout),
		cmocka_unit_test(test_new_refused_fd),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_long_text),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_smtp_client", LOG_TO_STDERR, LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
