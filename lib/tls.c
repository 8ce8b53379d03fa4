/* tls — OpenSSL 3 contexts and handshake facts (tls.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "buf.h"
#include "tls.h"
#include "xmalloc.h"

#define TLS_ERR_MAX	500

/* Session cache entries of one server context must carry an id. */
static const unsigned char tls_sid_ctx[] = "wharf";

/* System errors (fopen...) carry errno in OpenSSL 3. */
static const char *
err_reason(unsigned long e)
{
	const char	*r;

	if (ERR_SYSTEM_ERROR(e))
		return strerror(ERR_GET_REASON(e));
	r = ERR_reason_error_string(e);
	return r != NULL ? r : "unknown";
}

char *
tls_error_str(const char *what)
{
	struct buf	 b;
	unsigned long	 e;
	const char	*data, *reason;
	char		 prev[128] = "", *s;
	int		 flags, n = 0;

	buf_init(&b, TLS_ERR_MAX);
	(void)buf_add_str(&b, what);
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		reason = err_reason(e);
		/* "system lib; system lib": each layer repeats the cause. */
		if (strcmp(prev, reason) == 0)
			continue;
		strlcpy(prev, reason, sizeof(prev));
		/* Past the cap, adds fail: the line ends at an entry. */
		(void)buf_printf(&b, "%s%s", n++ == 0 ? ": " : "; ", reason);
		if ((flags & ERR_TXT_STRING) && data != NULL && *data != '\0')
			(void)buf_printf(&b, " (%s)", data);
	}
	if (n == 0)
		(void)buf_add_str(&b, ": unknown error");
	s = xstrdup(buf_cstr(&b));
	buf_clear(&b);
	return s;
}

/* Settings shared by server and client contexts. */
static SSL_CTX *
ctx_common(const SSL_METHOD *method, char **err_r)
{
	SSL_CTX	*ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(method)) == NULL) {
		*err_r = tls_error_str("SSL_CTX_new");
		return NULL;
	}
	/* RFC 8996: TLS 1.0 and 1.1 are gone. */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		*err_r = tls_error_str("SSL_CTX_set_min_proto_version");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

static int
server_load(SSL_CTX *ctx, const char *cert_file, const char *key_file,
    char **err_r)
{
	char	*what;

	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		what = xasprintf("tls_cert_file %s", cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM)
	    != 1) {
		what = xasprintf("tls_key_file %s", key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		what = xasprintf("tls_key_file %s does not match %s",
		    key_file, cert_file);
		goto fail;
	}
	return 0;
fail:
	*err_r = tls_error_str(what);
	free(what);
	return -1;
}

SSL_CTX *
tls_server_ctx_new(const char *cert_file, const char *key_file, char **err_r)
{
	SSL_CTX	*ctx;

	if ((ctx = ctx_common(TLS_server_method(), err_r)) == NULL)
		return NULL;
	SSL_CTX_set_dh_auto(ctx, 1);
	if (SSL_CTX_set_session_id_context(ctx, tls_sid_ctx,
	    sizeof(tls_sid_ctx) - 1) != 1) {
		*err_r = tls_error_str("SSL_CTX_set_session_id_context");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (server_load(ctx, cert_file, key_file, err_r) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Load trust anchors now; a missing default bundle only matters if
   verification is required. */
static int
client_load(SSL_CTX *ctx, bool verify, const char *ca_file, char **err_r)
{
	const char	*file = ca_file;
	char		*what;

	if (file == NULL)
		file = X509_get_default_cert_file();
	if (SSL_CTX_load_verify_file(ctx, file) == 1)
		return 0;
	if (!verify && ca_file == NULL) {
		ERR_clear_error();
		return 0;
	}
	what = xasprintf("CA file %s", file);
	*err_r = tls_error_str(what);
	free(what);
	return -1;
}

SSL_CTX *
tls_client_ctx_new(bool verify, const char *ca_file, char **err_r)
{
	SSL_CTX	*ctx;

	if ((ctx = ctx_common(TLS_client_method(), err_r)) == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
	    NULL);
	if (client_load(ctx, verify, ca_file, err_r) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void
tls_ctx_free(SSL_CTX **ctxp)
{
	if (*ctxp == NULL)
		return;
	SSL_CTX_free(*ctxp);
	*ctxp = NULL;
}

/* Handshake facts. */

void
tls_info_get(const SSL *ssl, struct tls_info *info)
{
	const SSL_CIPHER	*c = SSL_get_current_cipher(ssl);
	long			 vr;

	memset(info, 0, sizeof(*info));
	strlcpy(info->version, SSL_get_version(ssl), sizeof(info->version));
	strlcpy(info->cipher, c != NULL ? SSL_CIPHER_get_name(c) : "none",
	    sizeof(info->cipher));
	if (c != NULL)
		info->bits = SSL_CIPHER_get_bits(c, &info->alg_bits);
	info->peer_cert = SSL_get0_peer_certificate(ssl) != NULL;
	if (!info->peer_cert) {
		strlcpy(info->verify_error, "no peer certificate",
		    sizeof(info->verify_error));
		return;
	}
	vr = SSL_get_verify_result(ssl);
	info->verified = vr == X509_V_OK;
	strlcpy(info->verify_error, X509_verify_cert_error_string(vr),
	    sizeof(info->verify_error));
}

const char *
tls_info_received(const struct tls_info *info, char *out, size_t size)
{
	(void)snprintf(out, size, "using %s with cipher %s (%d/%d bits)",
	    info->version, info->cipher, info->bits, info->alg_bits);
	return out;
}
