/*
 * Unit tests for lib/tls and the TLS side of lib/io: contexts and their
 * errors, real handshakes between a server io and a client io in this
 * process (a self-signed EC P-256 certificate made at start-up), STARTTLS
 * with its plaintext-injection defence, old-protocol refusal, big
 * transfers with slow readers, verification results, close and timeouts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bsd/string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "ev.h"
#include "io.h"
#include "log.h"
#include "tls.h"
#include "xmalloc.h"

#define NEV	(IO_CLOSED + 1)

/* Key material made once for the whole run. */
static struct {
	char	 dir[64];
	char	 cert[128], key[128];		/* CN=localhost */
	char	 cert2[128], key2[128];		/* CN=other */
	char	 garbage[128], missing[128];
	SSL_CTX	*srv;
	SSL_CTX	*cli;				/* no verification */
} g;

/* Helpers. */

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
make_tcp_pair(int sv[2])
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 l;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	assert_true((sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) >= 0);
	assert_int_equal(connect(sv[1], (struct sockaddr *)&sin,
	    sizeof(sin)), 0);
	assert_true((sv[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC)) >= 0);
	close(l);
}

static void
set_sndbuf(int fd, int n)
{
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n)),
	    0);
}

static void
write_all(int fd, const void *data, size_t len)
{
	assert_int_equal(write(fd, data, len), (ssize_t)len);
}

#define RUN_UNTIL(ev, cond, max_ms) do {				\
	uint64_t _end = mono_ms() + (max_ms);				\
	while (!(cond) && mono_ms() < _end)				\
		assert_int_equal(ev_run_once((ev), 10), 0);		\
} while (0)

static uint8_t
pattern(size_t i)
{
	return (uint8_t)(i % 251);
}

/* Key material. */

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

static void
make_pair(const char *cn, const char *certp, const char *keyp)
{
	EVP_PKEY	*k = make_key();
	X509		*x = make_cert(k, cn);

	write_pem(keyp, k, NULL);
	write_pem(certp, NULL, x);
	X509_free(x);
	EVP_PKEY_free(k);
}

static int
group_setup(void **state)
{
	char	*err = NULL;
	int	 fd;

	strlcpy(g.dir, "/tmp/test_tls.XXXXXX", sizeof(g.dir));
	if (mkdtemp(g.dir) == NULL)
		return -1;
	snprintf(g.cert, sizeof(g.cert), "%s/cert.pem", g.dir);
	snprintf(g.key, sizeof(g.key), "%s/key.pem", g.dir);
	snprintf(g.cert2, sizeof(g.cert2), "%s/cert2.pem", g.dir);
	snprintf(g.key2, sizeof(g.key2), "%s/key2.pem", g.dir);
	snprintf(g.garbage, sizeof(g.garbage), "%s/garbage.pem", g.dir);
	snprintf(g.missing, sizeof(g.missing), "%s/missing.pem", g.dir);
	make_pair("localhost", g.cert, g.key);
	make_pair("other", g.cert2, g.key2);
	if ((fd = open(g.garbage, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	write_all(fd, "not a pem file\n", 15);
	close(fd);
	if ((g.srv = tls_server_ctx_new(g.cert, g.key, &err)) == NULL ||
	    (g.cli = tls_client_ctx_new(false, NULL, &err)) == NULL) {
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
	unlink(g.cert);
	unlink(g.key);
	unlink(g.cert2);
	unlink(g.key2);
	unlink(g.garbage);
	rmdir(g.dir);
	return 0;
}

/* A recording owner. */

struct ep;
typedef void ep_hook(struct ep *, enum io_event);
typedef void ep_line_hook(struct ep *, const char *);

struct ep {
	struct ev	*ev;
	struct io	*io;
	int		 n[NEV];
	int		 total;
	char		 err[256];
	struct buf	 log;		/* "line|line|..." */
	int		 nlines;
	bool		 raw;		/* consume raw bytes, check pattern */
	bool		 slow;		/* pause after each DATAIN */
	size_t		 got;
	bool		 free_on[NEV];
	ep_hook		*hook;
	ep_line_hook	*on_line;
	SSL_CTX		*ctx;		/* for on_line STARTTLS */
	size_t		 produced;
	size_t		 produce_total;
	size_t		 produce_chunk;
};

static void
ep_raw(struct ep *p)
{
	const uint8_t	*d = io_data(p->io);
	size_t		 n = io_datalen(p->io);

	for (size_t i = 0; i < n; i++)
		if (d[i] != pattern(p->got + i))
			fail_msg("byte %zu: %u want %u", p->got + i, d[i],
			    pattern(p->got + i));
	p->got += n;
	io_consume(p->io, n);
	if (p->slow)
		io_pause_read(p->io);
}

static void
ep_read(struct ep *p)
{
	char		*line;
	size_t		 len;
	enum io_line	 r;

	if (p->raw) {
		ep_raw(p);
		return;
	}
	while (p->io != NULL && !io_read_paused(p->io)) {
		r = io_getline(p->io, &line, &len, NULL);
		if (r == IO_LINE_MORE)
			return;
		assert_int_equal(r, IO_LINE_OK);
		if (p->log.len > 0)
			assert_int_equal(buf_add_u8(&p->log, '|'), 0);
		assert_int_equal(buf_add_str(&p->log, line), 0);
		p->nlines++;
		if (p->on_line != NULL)
			p->on_line(p, line);
	}
}

static void
ep_cb(struct io *io, enum io_event e, void *arg)
{
	struct ep	*p = arg;

	assert_ptr_equal(io, p->io);
	assert_true(e < NEV);
	p->n[e]++;
	p->total++;
	strlcpy(p->err, io_error(io), sizeof(p->err));
	if (e == IO_DATAIN)
		ep_read(p);
	if (p->hook != NULL)
		p->hook(p, e);
	if (p->io != NULL && p->free_on[e])
		io_free(&p->io);
}

static struct ep *
ep_new(struct ev *ev, int fd, size_t in_max, size_t out_max)
{
	struct ep	*p = xcalloc(1, sizeof(*p));

	p->ev = ev;
	buf_init(&p->log, 1 << 20);
	p->io = io_new(ev, fd, in_max, out_max, ep_cb, p);
	assert_non_null(p->io);
	return p;
}

static void
ep_free(struct ep **pp)
{
	struct ep	*p = *pp;

	io_free(&p->io);
	buf_clear(&p->log);
	free(p);
	*pp = NULL;
}

static const char *
ep_logstr(const struct ep *p)
{
	return buf_cstr(&p->log);
}

/* A server and a client io on one loop. */
struct duo {
	struct ev	*ev;
	struct ep	*s;
	struct ep	*c;
};

static void
duo_init(struct duo *d, bool tcp, size_t in_max, size_t out_max)
{
	int	 sv[2];

	if (tcp)
		make_tcp_pair(sv);
	else
		make_socketpair(sv);
	d->ev = ev_new();
	d->s = ep_new(d->ev, sv[0], in_max, out_max);
	d->c = ep_new(d->ev, sv[1], in_max, out_max);
}

static void
duo_start(struct duo *d, SSL_CTX *cli)
{
	assert_int_equal(io_starttls(d->s->io, g.srv, true), 0);
	assert_int_equal(io_starttls(d->c->io, cli, false), 0);
}

static void
duo_clear(struct duo *d)
{
	ep_free(&d->s);
	ep_free(&d->c);
	ev_free(&d->ev);
}

static void
duo_handshake(struct duo *d)
{
	RUN_UNTIL(d->ev, d->s->n[IO_TLSREADY] == 1 &&
	    d->c->n[IO_TLSREADY] == 1, 5000);
	if (d->s->n[IO_TLSREADY] != 1 || d->c->n[IO_TLSREADY] != 1)
		fail_msg("handshake: server \"%s\" client \"%s\"", d->s->err,
		    d->c->err);
}

/* Contexts. */

static void
expect_server_error(const char *cert, const char *key, const char *want1,
    const char *want2)
{
	char	*err = NULL;

	assert_null(tls_server_ctx_new(cert, key, &err));
	assert_non_null(err);
	if (strstr(err, want1) == NULL || strstr(err, want2) == NULL)
		fail_msg("error \"%s\" lacks \"%s\" / \"%s\"", err, want1,
		    want2);
	assert_int_equal(ERR_peek_error(), 0);
	free(err);
}

static void
test_server_ctx(void **state)
{
	char	*err = NULL;
	SSL_CTX	*ctx;

	ctx = tls_server_ctx_new(g.cert, g.key, &err);
	assert_non_null(ctx);
	assert_null(err);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
	assert_false(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET);
	tls_ctx_free(&ctx);
	assert_null(ctx);
	tls_ctx_free(&ctx);
	expect_server_error(g.missing, g.key, "tls_cert_file", g.missing);
	expect_server_error(g.missing, g.key, "No such file", "");
	expect_server_error(g.cert, g.missing, "tls_key_file", g.missing);
	expect_server_error(g.cert, g.key2, "tls_key_file", "mismatch");
	expect_server_error(g.garbage, g.key, "tls_cert_file", g.garbage);
	expect_server_error(g.cert, g.garbage, "tls_key_file", g.garbage);
	expect_server_error(g.cert, g.cert, "tls_key_file", "");
}

static void
test_client_ctx(void **state)
{
	char	*err = NULL;
	SSL_CTX	*ctx;

	ctx = tls_client_ctx_new(true, g.cert, &err);
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	tls_ctx_free(&ctx);
	ctx = tls_client_ctx_new(false, NULL, &err);
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
	tls_ctx_free(&ctx);
	/* An explicit CA file must load, verifying or not. */
	for (int v = 0; v < 2; v++) {
		assert_null(tls_client_ctx_new(v, g.missing, &err));
		assert_non_null(strstr(err, "CA file"));
		assert_non_null(strstr(err, g.missing));
		assert_int_equal(ERR_peek_error(), 0);
		free(err);
		err = NULL;
	}
	assert_null(tls_client_ctx_new(true, g.garbage, &err));
	assert_non_null(strstr(err, "CA file"));
	free(err);
}

static void
test_error_str(void **state)
{
	char	*s;
	char	 detail[200];

	ERR_clear_error();
	s = tls_error_str("what");
	assert_string_equal(s, "what: unknown error");
	free(s);
	memset(detail, 'd', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	for (int i = 0; i < 20; i++)
		ERR_raise_data(ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL, "%s",
		    detail);
	s = tls_error_str("many");
	assert_true(strlen(s) <= 500);
	assert_true(str_has_prefix(s, "many: unsupported protocol (ddd"));
	assert_int_equal(ERR_peek_error(), 0);
	free(s);
}

/* Handshakes. */

static void
banner_hook(struct ep *p, enum io_event e)
{
	if (e == IO_TLSREADY)
		assert_int_equal(io_printf(p->io, "220 hi\r\n"), 0);
}

static void
reply_line(struct ep *p, const char *line)
{
	if (strcmp(line, "220 hi") == 0)
		assert_int_equal(io_printf(p->io, "EHLO x\r\n"), 0);
}

static void
run_implicit(bool tcp)
{
	struct duo	 d;
	struct tls_info	 si, ci;
	char		 rcv[128];

	duo_init(&d, tcp, 1024, 1024);
	assert_null(io_ssl(d.s->io));
	assert_int_equal(io_tls_info(d.s->io, &si), -1);
	duo_start(&d, g.cli);
	assert_non_null(io_ssl(d.s->io));
	assert_false(io_is_tls(d.s->io));
	assert_int_equal(io_tls_info(d.s->io, &si), -1);
	d.s->hook = banner_hook;
	d.c->on_line = reply_line;
	duo_handshake(&d);
	RUN_UNTIL(d.ev, d.s->nlines == 1, 5000);
	assert_string_equal(ep_logstr(d.c), "220 hi");
	assert_string_equal(ep_logstr(d.s), "EHLO x");
	assert_true(io_is_tls(d.s->io));
	assert_int_equal(io_tls_info(d.s->io, &si), 0);
	assert_int_equal(io_tls_info(d.c->io, &ci), 0);
	assert_true(strcmp(si.version, "TLSv1.3") == 0 ||
	    strcmp(si.version, "TLSv1.2") == 0);
	assert_string_equal(si.version, ci.version);
	assert_string_equal(si.cipher, ci.cipher);
	assert_true(strlen(si.cipher) > 0);
	assert_true(si.bits >= 128);
	assert_true(si.alg_bits >= si.bits);
	assert_false(si.peer_cert);
	assert_string_equal(si.verify_error, "no peer certificate");
	assert_true(ci.peer_cert);
	assert_false(ci.verified);
	assert_non_null(strstr(ci.verify_error, "self"));
	tls_info_received(&si, rcv, sizeof(rcv));
	assert_true(str_has_prefix(rcv, "using TLSv1."));
	assert_non_null(strstr(rcv, si.cipher));
	assert_non_null(strstr(rcv, " bits)"));
	assert_int_equal(d.s->n[IO_TLSERROR] + d.c->n[IO_TLSERROR], 0);
	duo_clear(&d);
}

static void
test_implicit_socketpair(void **state)
{
	run_implicit(false);
}

static void
test_implicit_tcp(void **state)
{
	run_implicit(true);
}

/* STARTTLS. */

static void
server_starttls(struct ep *p, const char *line)
{
	if (strcmp(line, "STARTTLS") == 0) {
		assert_int_equal(io_printf(p->io, "220 Ready\r\n"), 0);
		assert_int_equal(io_starttls(p->io, g.srv, true), 0);
		assert_int_equal(io_starttls(p->io, g.srv, true), -1);
		assert_string_equal(io_error(p->io), "TLS already started");
	}
}

static void
client_starttls(struct ep *p, const char *line)
{
	if (strcmp(line, "220 Ready") == 0)
		assert_int_equal(io_starttls(p->io, p->ctx, false), 0);
}

static void
client_quit_hook(struct ep *p, enum io_event e)
{
	if (e == IO_TLSREADY)
		assert_int_equal(io_printf(p->io, "QUIT\r\n"), 0);
}

/*
 * CVE-2011-0411: "STARTTLS\r\nNOOP\r\n" in one plaintext write.  The
 * NOOP is in the server's buffer when it starts TLS: it must be dropped,
 * and the first line after the handshake is what came over TLS.
 */
static void
test_starttls_injection(void **state)
{
	struct duo	 d;

	duo_init(&d, true, 1024, 1024);
	d.s->on_line = server_starttls;
	d.c->on_line = client_starttls;
	d.c->ctx = g.cli;
	d.c->hook = client_quit_hook;
	assert_int_equal(io_printf(d.c->io, "STARTTLS\r\nNOOP\r\n"), 0);
	duo_handshake(&d);
	RUN_UNTIL(d.ev, d.s->nlines == 2, 5000);
	assert_string_equal(ep_logstr(d.s), "STARTTLS|QUIT");
	assert_string_equal(ep_logstr(d.c), "220 Ready");
	duo_clear(&d);
}

/* The plaintext arrives after the server started TLS: it goes to the
   handshake, which fails; it is never read as a command. */
static void
test_starttls_injection_late(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*s;
	int		 sv[2];
	char		 b[64];

	make_socketpair(sv);
	s = ep_new(ev, sv[0], 1024, 1024);
	s->on_line = server_starttls;
	write_all(sv[1], "STARTTLS\r\n", 10);
	RUN_UNTIL(ev, s->nlines == 1, 2000);
	assert_int_equal(read(sv[1], b, sizeof(b)), 11);
	assert_memory_equal(b, "220 Ready\r\n", 11);
	write_all(sv[1], "NOOP\r\n", 6);
	RUN_UNTIL(ev, s->n[IO_TLSERROR] == 1, 2000);
	assert_int_equal(s->n[IO_TLSERROR], 1);
	assert_int_equal(s->n[IO_DATAIN], 1);
	assert_string_equal(ep_logstr(s), "STARTTLS");
	assert_true(str_has_prefix(s->err, "TLS handshake: "));
	ep_free(&s);
	close(sv[1]);
	ev_free(&ev);
}

static void
server_flood_starttls(struct ep *p, const char *line)
{
	char	 l[101];

	if (strcmp(line, "GO") != 0)
		return;
	memset(l, 'p', 98);
	memcpy(l + 98, "\r\n", 3);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(io_write(p->io, l, 100), 0);
	assert_int_equal(io_printf(p->io, "220 Ready\r\n"), 0);
	assert_int_equal(io_starttls(p->io, g.srv, true), 0);
	/* Queued after the call: must wait for TLS. */
	assert_int_equal(io_printf(p->io, "after\r\n"), 0);
}

/* Plaintext queued before io_starttls is all sent first, in plaintext,
   through partial writes; what is queued after goes over TLS. */
static void
test_starttls_flushes_first(void **state)
{
	struct duo	 d;
	const char	*log;

	duo_init(&d, false, 1024, 1 << 20);
	set_sndbuf(io_fd(d.s->io), 4096);
	d.s->on_line = server_flood_starttls;
	d.c->on_line = client_starttls;
	d.c->ctx = g.cli;
	assert_int_equal(io_printf(d.c->io, "GO\r\n"), 0);
	duo_handshake(&d);
	RUN_UNTIL(d.ev, d.c->nlines == 2002, 5000);
	assert_int_equal(d.c->nlines, 2002);
	log = ep_logstr(d.c);
	assert_int_equal(strlen(log), 2000 * 99 + strlen("220 Ready|after"));
	assert_string_equal(log + 2000 * 99, "220 Ready|after");
	duo_clear(&d);
}

/* RFC 8996: a client that offers at most TLS 1.1 is refused. */
static void
test_tls11_refused(void **state)
{
	struct duo	 d;
	SSL_CTX		*old = SSL_CTX_new(TLS_client_method());

	assert_non_null(old);
	SSL_CTX_set_security_level(old, 0);
	assert_int_equal(SSL_CTX_set_cipher_list(old, "DEFAULT:@SECLEVEL=0"),
	    1);
	assert_int_equal(SSL_CTX_set_min_proto_version(old, TLS1_VERSION), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION),
	    1);
	duo_init(&d, false, 1024, 1024);
	duo_start(&d, old);
	RUN_UNTIL(d.ev, d.s->n[IO_TLSERROR] == 1 &&
	    d.c->n[IO_TLSERROR] == 1, 5000);
	assert_int_equal(d.s->n[IO_TLSERROR], 1);
	assert_int_equal(d.c->n[IO_TLSERROR], 1);
	assert_int_equal(d.s->n[IO_TLSREADY] + d.c->n[IO_TLSREADY], 0);
	if (strstr(d.s->err, "unsupported protocol") == NULL)
		fail_msg("server error: %s", d.s->err);
	assert_true(str_has_prefix(d.c->err, "TLS handshake: "));
	assert_false(io_is_tls(d.s->io));
	assert_int_equal(io_write(d.s->io, "x", 1), -1);
	duo_clear(&d);
	SSL_CTX_free(old);
	ERR_clear_error();
}

/* Big transfers. */

static void
tls_producer(struct ep *p, enum io_event e)
{
	uint8_t	*chunk;
	size_t	 n;

	if ((e != IO_LOWAT && e != IO_TLSREADY) ||
	    p->produced >= p->produce_total)
		return;
	n = p->produce_chunk;
	if (n > p->produce_total - p->produced)
		n = p->produce_total - p->produced;
	chunk = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		chunk[i] = pattern(p->produced + i);
	assert_int_equal(io_write(p->io, chunk, n), 0);
	p->produced += n;
	free(chunk);
}

/* 1 MB each way at once; the readers pause after every read and resume
   one round later. */
static void
test_tls_big_transfer(void **state)
{
	struct duo	 d;
	size_t		 total = 1 << 20;
	uint64_t	 end;

	duo_init(&d, true, 4096, 1 << 20);
	set_sndbuf(io_fd(d.s->io), 8192);
	set_sndbuf(io_fd(d.c->io), 8192);
	for (int i = 0; i < 2; i++) {
		struct ep	*p = i == 0 ? d.s : d.c;

		p->raw = p->slow = true;
		p->hook = tls_producer;
		p->produce_total = total;
		p->produce_chunk = 128 * 1024;
		io_set_lowat(p->io, 32 * 1024);
	}
	duo_start(&d, g.cli);
	end = mono_ms() + 30000;
	while ((d.s->got < total || d.c->got < total) && mono_ms() < end) {
		assert_int_equal(ev_run_once(d.ev, 10), 0);
		io_resume_read(d.s->io);
		io_resume_read(d.c->io);
	}
	assert_int_equal(d.s->got, total);
	assert_int_equal(d.c->got, total);
	assert_int_equal(io_queued(d.s->io), 0);
	assert_int_equal(io_queued(d.c->io), 0);
	assert_true(d.s->n[IO_LOWAT] >= 8);
	assert_true(d.c->n[IO_LOWAT] >= 8);
	assert_int_equal(d.s->n[IO_ERROR] + d.c->n[IO_ERROR], 0);
	duo_clear(&d);
}

/* Decrypted bytes wait inside OpenSSL while our buffer is full: they
   must still come out although the socket has nothing more. */
static void
test_tls_small_input_buffer(void **state)
{
	struct duo	 d;
	size_t		 total = 40000;
	uint8_t		*data = xmalloc(total);

	for (size_t i = 0; i < total; i++)
		data[i] = pattern(i);
	duo_init(&d, false, 64, 1 << 20);
	d.c->raw = true;
	duo_start(&d, g.cli);
	duo_handshake(&d);
	assert_int_equal(io_write(d.s->io, data, total), 0);
	RUN_UNTIL(d.ev, d.c->got == total, 5000);
	assert_int_equal(d.c->got, total);
	assert_true(d.c->n[IO_DATAIN] >= (int)(total / 64));
	duo_clear(&d);
	free(data);
}

/* Verification results. */

static void
test_verify_ok(void **state)
{
	struct duo	 d;
	struct tls_info	 ci;
	char		*err = NULL;
	SSL_CTX		*cli = tls_client_ctx_new(true, g.cert, &err);

	assert_non_null(cli);
	duo_init(&d, false, 1024, 1024);
	duo_start(&d, cli);
	assert_int_equal(SSL_set1_host(io_ssl(d.c->io), "localhost"), 1);
	assert_int_equal(SSL_set_tlsext_host_name(io_ssl(d.c->io),
	    "localhost"), 1);
	duo_handshake(&d);
	assert_int_equal(io_tls_info(d.c->io, &ci), 0);
	assert_true(ci.peer_cert);
	assert_true(ci.verified);
	assert_string_equal(ci.verify_error, "ok");
	duo_clear(&d);
	tls_ctx_free(&cli);
}

static void
test_verify_fails(void **state)
{
	struct duo	 d;
	char		*err = NULL;
	SSL_CTX		*cli = tls_client_ctx_new(true, g.cert2, &err);

	assert_non_null(cli);
	duo_init(&d, false, 1024, 1024);
	duo_start(&d, cli);
	RUN_UNTIL(d.ev, d.c->n[IO_TLSERROR] == 1 &&
	    d.s->n[IO_TLSERROR] == 1, 5000);
	assert_int_equal(d.c->n[IO_TLSERROR], 1);
	assert_int_equal(d.s->n[IO_TLSERROR], 1);
	if (strstr(d.c->err, "certificate verify failed") == NULL ||
	    strstr(d.c->err, "(self-signed certificate)") == NULL)
		fail_msg("client error: %s", d.c->err);
	duo_clear(&d);
	tls_ctx_free(&cli);
}

/* Opportunistic: a name mismatch is reported, not fatal. */
static void
test_verify_name_mismatch_reported(void **state)
{
	struct duo	 d;
	struct tls_info	 ci;
	char		*err = NULL;
	SSL_CTX		*cli = tls_client_ctx_new(false, g.cert, &err);

	assert_non_null(cli);
	duo_init(&d, false, 1024, 1024);
	duo_start(&d, cli);
	assert_int_equal(SSL_set1_host(io_ssl(d.c->io), "example.org"), 1);
	duo_handshake(&d);
	assert_int_equal(io_tls_info(d.c->io, &ci), 0);
	assert_false(ci.verified);
	assert_non_null(strstr(ci.verify_error, "mismatch"));
	duo_clear(&d);
	tls_ctx_free(&cli);
}

/* Close, timeouts, bad peers, lifetime. */

static void
bye_line(struct ep *p, const char *line)
{
	if (strcmp(line, "QUIT") == 0) {
		assert_int_equal(io_printf(p->io, "221 Bye\r\n"), 0);
		io_close_after_flush(p->io);
		assert_int_equal(io_starttls(p->io, g.srv, true), -1);
		assert_string_equal(io_error(p->io), "connection closing");
	}
}

static void
test_tls_close_after_flush(void **state)
{
	struct duo	 d;

	duo_init(&d, false, 1024, 1024);
	duo_start(&d, g.cli);
	d.s->on_line = bye_line;
	duo_handshake(&d);
	assert_int_equal(io_printf(d.c->io, "QUIT\r\n"), 0);
	RUN_UNTIL(d.ev, d.c->n[IO_DISCONNECTED] == 1, 5000);
	assert_int_equal(d.s->n[IO_CLOSED], 1);
	assert_int_equal(d.c->n[IO_DISCONNECTED], 1);
	assert_int_equal(d.c->n[IO_ERROR], 0);
	assert_string_equal(ep_logstr(d.c), "221 Bye");
	duo_clear(&d);
}

/* Freeing a TLS io sends close_notify: the peer sees a clean EOF. */
static void
test_tls_free_sends_close_notify(void **state)
{
	struct duo	 d;

	duo_init(&d, false, 1024, 1024);
	duo_start(&d, g.cli);
	duo_handshake(&d);
	io_free(&d.c->io);
	RUN_UNTIL(d.ev, d.s->n[IO_DISCONNECTED] == 1, 5000);
	assert_int_equal(d.s->n[IO_DISCONNECTED], 1);
	assert_int_equal(d.s->n[IO_ERROR], 0);
	duo_clear(&d);
}

static void
test_handshake_timeout(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*s;
	int		 sv[2];
	uint64_t	 t0 = mono_ms();

	make_socketpair(sv);
	s = ep_new(ev, sv[0], 1024, 1024);
	io_set_timeout(s->io, 50);
	assert_int_equal(io_starttls(s->io, g.srv, true), 0);
	s->free_on[IO_TIMEOUT] = true;
	RUN_UNTIL(ev, s->n[IO_TIMEOUT] == 1, 2000);
	assert_int_equal(s->n[IO_TIMEOUT], 1);
	assert_true(mono_ms() - t0 >= 45);
	assert_string_equal(s->err, "idle timeout");
	assert_null(s->io);
	ep_free(&s);
	close(sv[1]);
	ev_free(&ev);
}

static void
test_handshake_bad_peers(void **state)
{
	struct ev	*ev = ev_new();
	struct ep	*s;
	int		 sv[2];
	const char	*http = "GET / HTTP/1.0\r\n\r\n";

	/* Not TLS at all. */
	make_socketpair(sv);
	s = ep_new(ev, sv[0], 1024, 1024);
	assert_int_equal(io_starttls(s->io, g.srv, true), 0);
	write_all(sv[1], http, strlen(http));
	RUN_UNTIL(ev, s->n[IO_TLSERROR] == 1, 2000);
	assert_int_equal(s->n[IO_TLSERROR], 1);
	assert_true(str_has_prefix(s->err, "TLS handshake: "));
	assert_true(strlen(s->err) > strlen("TLS handshake: "));
	assert_int_equal(ERR_peek_error(), 0);
	ep_free(&s);
	close(sv[1]);
	/* Gone before saying anything. */
	make_socketpair(sv);
	s = ep_new(ev, sv[0], 1024, 1024);
	assert_int_equal(io_starttls(s->io, g.srv, true), 0);
	close(sv[1]);
	RUN_UNTIL(ev, s->n[IO_TLSERROR] == 1, 2000);
	assert_int_equal(s->n[IO_TLSERROR], 1);
	assert_string_equal(s->err, "TLS handshake: connection closed by peer");
	ep_free(&s);
	ev_free(&ev);
}

static void
test_free_during_handshake(void **state)
{
	struct duo	 d;

	/* From the TLSREADY callback. */
	duo_init(&d, false, 1024, 1024);
	d.s->free_on[IO_TLSREADY] = true;
	duo_start(&d, g.cli);
	RUN_UNTIL(d.ev, d.s->io == NULL, 5000);
	assert_null(d.s->io);
	assert_int_equal(d.s->total, 1);
	RUN_UNTIL(d.ev, d.c->n[IO_DISCONNECTED] + d.c->n[IO_ERROR] +
	    d.c->n[IO_TLSERROR] > 0, 5000);
	assert_int_equal(d.c->n[IO_DISCONNECTED] + d.c->n[IO_ERROR] +
	    d.c->n[IO_TLSERROR], 1);
	duo_clear(&d);
	/* Outside callbacks, half-way. */
	duo_init(&d, false, 1024, 1024);
	duo_start(&d, g.cli);
	assert_int_equal(ev_run_once(d.ev, 100), 0);
	io_free(&d.s->io);
	RUN_UNTIL(d.ev, d.c->n[IO_TLSERROR] == 1, 5000);
	assert_int_equal(d.c->n[IO_TLSERROR], 1);
	duo_clear(&d);
}

/* Bytes that are not TLS records after the handshake. */
static void
test_tls_read_garbage(void **state)
{
	struct duo	 d;

	duo_init(&d, false, 1024, 1024);
	duo_start(&d, g.cli);
	duo_handshake(&d);
	write_all(io_fd(d.c->io), "NOOP\r\n", 6);
	RUN_UNTIL(d.ev, d.s->n[IO_ERROR] == 1, 5000);
	assert_int_equal(d.s->n[IO_ERROR], 1);
	assert_int_equal(d.s->n[IO_DATAIN], 0);
	assert_true(str_has_prefix(d.s->err, "TLS read: "));
	assert_int_equal(ERR_peek_error(), 0);
	duo_clear(&d);
}

/* Writing over TLS to a peer that is gone. */
static void
test_tls_write_error(void **state)
{
	struct duo	 d;

	duo_init(&d, false, 1024, 1024);
	duo_start(&d, g.cli);
	duo_handshake(&d);
	io_pause_read(d.s->io);
	io_free(&d.c->io);
	assert_int_equal(io_printf(d.s->io, "250 ok\r\n"), 0);
	RUN_UNTIL(d.ev, d.s->n[IO_ERROR] == 1, 5000);
	assert_int_equal(d.s->n[IO_ERROR], 1);
	if (!str_has_prefix(d.s->err, "TLS write: "))
		fail_msg("error: %s", d.s->err);
	duo_clear(&d);
}

static void
test_starttls_setup_error(void **state)
{
	struct duo	 d;

	duo_init(&d, false, 1024, 1024);
	assert_int_equal(io_starttls(d.s->io, NULL, true), -1);
	assert_true(str_has_prefix(io_error(d.s->io), "TLS setup: "));
	assert_null(io_ssl(d.s->io));
	assert_int_equal(ERR_peek_error(), 0);
	/* Nothing changed: a real start still works. */
	duo_start(&d, g.cli);
	duo_handshake(&d);
	duo_clear(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_ctx),
		cmocka_unit_test(test_client_ctx),
		cmocka_unit_test(test_error_str),
		cmocka_unit_test(test_implicit_socketpair),
		cmocka_unit_test(test_implicit_tcp),
		cmocka_unit_test(test_starttls_injection),
		cmocka_unit_test(test_starttls_injection_late),
		cmocka_unit_test(test_starttls_flushes_first),
		cmocka_unit_test(test_tls11_refused),
		cmocka_unit_test(test_tls_big_transfer),
		cmocka_unit_test(test_tls_small_input_buffer),
		cmocka_unit_test(test_verify_ok),
		cmocka_unit_test(test_verify_fails),
		cmocka_unit_test(test_verify_name_mismatch_reported),
		cmocka_unit_test(test_tls_close_after_flush),
		cmocka_unit_test(test_tls_free_sends_close_notify),
		cmocka_unit_test(test_handshake_timeout),
		cmocka_unit_test(test_handshake_bad_peers),
		cmocka_unit_test(test_free_during_handshake),
		cmocka_unit_test(test_tls_read_garbage),
		cmocka_unit_test(test_tls_write_error),
		cmocka_unit_test(test_starttls_setup_error),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_tls", LOG_TO_STDERR, LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
