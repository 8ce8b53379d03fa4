/*
 * tls — OpenSSL 3 contexts for the protocol daemons, and the facts about a
 * finished handshake that go into Received: headers and log lines.
 *
 * Both kinds of context refuse anything older than TLS 1.2 (RFC 8996),
 * keep OpenSSL's default cipher lists and groups (ECDHE is always on in
 * OpenSSL 3; DHE uses the built-in parameters), disable compression
 * (CRIME) and renegotiation, and keep session tickets on.  Ticket keys are
 * made per process, so a ticket resumes only in the process that issued
 * it; that costs a full handshake now and then, never correctness.
 *
 * tls_server_ctx_new() reads the key when it is called: a daemon calls it
 * as root in its init hook, and after the privilege drop the context holds
 * the key in memory.  tls_client_ctx_new() likewise loads its trust
 * anchors at once (not lazily from a hashed directory), so it works in a
 * chroot.
 *
 * Error strings come from the OpenSSL error queue, which every failing call
 * here drains: the next caller starts from an empty queue.
 */
#ifndef WHARF_TLS_H
#define WHARF_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/*
 * A server context with the certificate chain (PEM, leaf first) and the
 * private key (PEM).  NULL with *err_r ("tls_cert_file /x: ...") when a
 * file is missing or unreadable or the key does not match the certificate.
 */
SSL_CTX	*tls_server_ctx_new(const char *cert_file, const char *key_file,
	    char **err_r);

/*
 * A client context.  Trust anchors come from ca_file, or when it is NULL
 * from OpenSSL's default bundle (X509_get_default_cert_file()).  verify:
 * a peer whose chain does not verify fails the handshake; without it the
 * handshake goes on and the result is only reported (opportunistic
 * security, RFC 7435), in which case a missing default bundle is not an
 * error.  Name checks are the caller's: SSL_set1_host() on the
 * connection (see io_ssl()).
 */
SSL_CTX	*tls_client_ctx_new(bool verify, const char *ca_file, char **err_r);

void	 tls_ctx_free(SSL_CTX **);	/* accepts NULL, sets NULL */

/*
 * Drain the OpenSSL error queue into one malloc'd line:
 * "<what>: reason (detail); reason ..." capped at about 500 bytes, or
 * "<what>: unknown error" when the queue was empty.
 */
char	*tls_error_str(const char *what);

/* What a finished handshake agreed on; strings are always terminated. */
struct tls_info {
	char	 version[16];		/* "TLSv1.3" */
	char	 cipher[64];		/* "TLS_AES_256_GCM_SHA384" */
	int	 bits;			/* secret bits used */
	int	 alg_bits;		/* bits of the algorithm */
	bool	 peer_cert;		/* the peer showed a certificate */
	bool	 verified;		/* ...whose chain (and name) verified */
	char	 verify_error[96];	/* "ok" or why not */
};

/* Fill *info from a connection whose handshake is done. */
void	 tls_info_get(const SSL *, struct tls_info *);
/*
 * The Received: clause, as Postfix writes it:
 * "using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)".
 * Returns out.
 */
const char *tls_info_received(const struct tls_info *, char *out,
	    size_t size);

#endif
