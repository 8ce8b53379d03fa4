/*
 * master/tls.c — a self-signed certificate for a first start.
 *
 * When neither tls_cert_file nor tls_key_file is set in main.conf and the
 * default files do not exist, the master makes an ECDSA P-256 key and a
 * self-signed certificate for myhostname (CN and subjectAltName), valid
 * for ten years, so STARTTLS works out of the box.  An admin who sets
 * either key gets an error instead of a surprise file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "conf.h"
#include "log.h"
#include "xmalloc.h"
#include "master.h"

static int
mkdir_parent(const char *path, char **err_r)
{
	char	*dir = xstrdup(path), *slash = strrchr(dir, '/');
	int	 rc = 0;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
			*err_r = xasprintf("mkdir %s: %s", dir,
			    strerror(errno));
			rc = -1;
		}
	}
	free(dir);
	return rc;
}

static int
add_san(X509 *x, const char *host)
{
	char		*san = xasprintf("DNS:%s", host);
	X509_EXTENSION	*ext;
	X509V3_CTX	 ctx;
	int		 rc = -1;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	if (ext != NULL && X509_add_ext(x, ext, -1) == 1)
		rc = 0;
	X509_EXTENSION_free(ext);
	free(san);
	return rc;
}

static X509 *
make_cert(EVP_PKEY *key, const char *host)
{
	X509		*x = X509_new();
	X509_NAME	*name;
	unsigned char	 serial[16];
	BIGNUM		*bn;

	if (x == NULL)
		return NULL;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)host, -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (add_san(x, host) == -1 || X509_sign(x, key, EVP_sha256()) == 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/* Write a PEM file atomically: temp name, fsync, rename. */
static int
write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *x,
    char **err_r)
{
	char	*tmp = xasprintf("%s.tmp", path);
	int	 fd, ok;
	FILE	*f;

	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		*err_r = xasprintf("%s: %s", tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		free(tmp);
		return -1;
	}
	ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL,
	    NULL) : PEM_write_X509(f, x);
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok && rename(tmp, path) == 0;
	if (!ok) {
		*err_r = xasprintf("writing %s failed", path);
		unlink(tmp);
	}
	free(tmp);
	return ok ? 0 : -1;
}

static int
make_self_signed(const char *cert, const char *keyf, const char *host,
    char **err_r)
{
	EVP_PKEY	*key = EVP_EC_gen("P-256");
	X509		*x = NULL;
	int		 rc = -1;

	if (key == NULL || (x = make_cert(key, host)) == NULL) {
		*err_r = xstrdup("cannot generate a TLS key and certificate");
		goto out;
	}
	if (mkdir_parent(cert, err_r) == -1 || mkdir_parent(keyf, err_r) == -1)
		goto out;
	if (write_pem(keyf, 0600, key, NULL, err_r) == -1 ||
	    write_pem(cert, 0644, NULL, x, err_r) == -1)
		goto out;
	log_info("made a self-signed TLS certificate for %s in %s", host,
	    cert);
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int
tls_ensure_cert(struct master *m, char **err_r)
{
	const char	*cert = conf_str(m->conf, "tls_cert_file");
	const char	*key = conf_str(m->conf, "tls_key_file");
	bool		 have_cert = access(cert, F_OK) == 0;
	bool		 have_key = access(key, F_OK) == 0;

	if (have_cert && have_key)
		return 0;
	if (conf_is_set(m->conf, "tls_cert_file") ||
	    conf_is_set(m->conf, "tls_key_file")) {
		*err_r = xasprintf("%s: %s", have_cert ? key : cert,
		    strerror(ENOENT));
		return -1;
	}
	return make_self_signed(cert, key, conf_str(m->conf, "myhostname"),
	    err_r);
}
