/*
 * pwhash — password hash verification and creation (authd, `wharf`).
 *
 * New hashes are argon2id (RFC 9106) PHC strings:
 *	$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt b64>$<hash b64>
 * with a 16-byte salt from getentropy(3) and a 32-byte hash.
 *
 * Verification also takes the strings people bring from Dovecot and
 * Postfix/system password files, with or without Dovecot's {SCHEME}
 * prefix (matched case-insensitively, as Dovecot does):
 *	argon2id	[{ARGON2ID}]$argon2id$...	libsodium or libargon2
 *	argon2i		[{ARGON2I}]$argon2i$...		libsodium or libargon2
 *	bcrypt		[{BLF-CRYPT}]$2y$ / $2b$ / $2a$	crypt_rn(3)
 *	sha512-crypt	[{SHA512-CRYPT}]$6$...		crypt_rn(3)
 *	sha256-crypt	[{SHA256-CRYPT}]$5$...		crypt_rn(3)
 *	yescrypt	$y$...				crypt_rn(3)
 * "{CRYPT}" may precede any of the crypt_rn forms (not argon2, which
 * crypt(3) does not do, so Dovecot's {CRYPT} never verified it either).
 * A prefix must agree with the form after it: "{SHA512-CRYPT}$2y$..." is
 * malformed.  Everything else -- {PLAIN}, {SSHA512}, MD5 "$1$", DES,
 * scrypt "$7$", empty, garbage -- is unsupported and never matches.
 *
 * A stored hash is configuration, not a secret, but it may come from a
 * careless import: costs beyond the PWHASH_*_MAX limits below are refused
 * as malformed rather than spent, so one bad row cannot stall authd.
 *
 * Not thread-safe (pwhash_dummy keeps one process-wide string); authd
 * hashes in single-threaded worker processes.
 */
#ifndef WHARF_PWHASH_H
#define WHARF_PWHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longer passwords never match (verify) and are refused (new). */
#define PWHASH_PASSWORD_MAX	1024
/* Longer stored strings are malformed. */
#define PWHASH_STORED_MAX	512

/* Cost limits on stored hashes and on pwhash_new parameters. */
#define PWHASH_ARGON2_M_MAX	(4U * 1024 * 1024)	/* KiB: 4 GiB */
#define PWHASH_ARGON2_T_MAX	100
#define PWHASH_ARGON2_P_MAX	64
#define PWHASH_BCRYPT_COST_MAX	16
#define PWHASH_SHA_ROUNDS_MAX	10000000
/* yescrypt: 128 * N * r bytes (libxcrypt's costliest, cost 11). */
#define PWHASH_YESCRYPT_MEM_MAX	(1ULL << 30)
/* yescrypt: the memory times p times (t + 1): 4 such passes. */
#define PWHASH_YESCRYPT_WORK_MAX (4ULL << 30)

#define PWHASH_SALT_LEN		16	/* bytes, pwhash_new */
#define PWHASH_HASH_LEN		32	/* bytes, pwhash_new */

enum pwhash_scheme {
	PWHASH_UNKNOWN,
	PWHASH_ARGON2ID,
	PWHASH_ARGON2I,
	PWHASH_BCRYPT,
	PWHASH_SHA512_CRYPT,
	PWHASH_SHA256_CRYPT,
	PWHASH_YESCRYPT,
};

/* argon2id costs for pwhash_new (main.conf argon2_*; m in KiB). */
struct pwhash_params {
	uint32_t	t_cost;		/* passes, 1..PWHASH_ARGON2_T_MAX */
	uint32_t	m_cost_kib;	/* KiB, 8 * parallelism..M_MAX */
	uint32_t	parallelism;	/* lanes, 1..PWHASH_ARGON2_P_MAX */
};

/*
 * The scheme of a stored string, looking past a {PREFIX} that agrees
 * with it; PWHASH_UNKNOWN when unsupported.  Only the leading identifier
 * is read: a PWHASH_UNKNOWN answer is final, any other may still be
 * malformed (pwhash_verify says).
 */
enum pwhash_scheme pwhash_scheme(const char *stored);

/* "argon2id", "argon2i", "bcrypt", "sha512-crypt", "sha256-crypt",
   "yescrypt" or "unknown": a static string for logs. */
const char *pwhash_scheme_name(enum pwhash_scheme);

/*
 * Does pw (pwlen bytes, any bytes) match stored?  1: it matches; 0: it
 * does not (also, without hashing, when pwlen > PWHASH_PASSWORD_MAX, or
 * for a crypt_rn scheme when pw holds a NUL or has 512 bytes or more:
 * crypt takes a C string of at most 511 bytes, so never made such a hash);
 * -1: stored is unsupported or malformed, or hashing failed, with *err_r
 * set (malloc'd, caller frees; it never quotes the password or the hash).
 * The hash itself is compared in constant time.
 */
int	pwhash_verify(const char *stored, const char *pw, size_t pwlen,
	    char **err_r);

/*
 * A new argon2id PHC string (malloc'd, caller frees) for pw with the
 * given costs, a PWHASH_SALT_LEN salt and a PWHASH_HASH_LEN hash; NULL
 * with *err_r on bad costs, a password over PWHASH_PASSWORD_MAX, or a
 * getentropy/argon2 failure (err_r as "getentropy: <why>" or
 * "argon2id (t=3 m=65536 KiB p=1): <why>").
 */
char	*pwhash_new(const struct pwhash_params *, const char *pw,
	    size_t pwlen, char **err_r);

/*
 * True when stored is not an argon2id v=19 string with exactly these
 * t, m and p (a {ARGON2ID} prefix is fine): a login that just verified
 * against it should store pwhash_new()'s answer instead.  Only the
 * identifier and the costs are read, so ask after pwhash_verify said 1.
 */
bool	pwhash_needs_rehash(const char *stored, const struct pwhash_params *);

/*
 * An argon2id hash with these costs of a random password that is wiped
 * at once, made on the first call and kept (made again when the costs
 * change).  authd verifies a login for a missing user against it, so a
 * missing user costs the same time as a wrong password; it never
 * matches.  The string stays owned by this module, valid until the next
 * call with other costs or pwhash_dummy_free().  NULL with *err_r as for
 * pwhash_new (call it once at startup to catch bad costs early).
 */
const char *pwhash_dummy(const struct pwhash_params *, char **err_r);
/* Forget the dummy hash (at exit, so leak checkers stay quiet). */
void	pwhash_dummy_free(void);

#endif
