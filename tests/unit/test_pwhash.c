/* Unit tests for lib/pwhash.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/wait.h>

#include <argon2.h>
#include <dlfcn.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pwhash.h"
#include "xmalloc.h"

/* The three passwords of the vectors. */
#define PW_PLAIN	"hunter2"
#define PW_SPACES	"correct horse battery staple"
/* "Grüße, 密码 ✓" in UTF-8 */
#define PW_UTF8		"Gr\xc3\xbc\xc3\x9f" "e, \xe5\xaf\x86\xe7\xa0\x81 " \
			"\xe2\x9c\x93"

/*
 * Test vectors, each made by the real tool named above it (Dovecot
 * 2.3 doveadm, whois's mkpasswd, Python's crypt and argon2-cffi modules
 * over the system libxcrypt and libargon2).  A *_BARE macro is the
 * output without its {PREFIX}.
 */
/* doveadm pw -s ARGON2ID -p 'hunter2' */
#define V_DOVE_ARGON2ID	"{ARGON2ID}" V_DOVE_ARGON2ID_BARE
#define V_DOVE_ARGON2ID_BARE \
	"$argon2id$v=19$m=65536,t=3,p=1$/i5SF7l1NKQMCbqwAwHl+g$" \
	"4XdpLAtsKFtSXpb6D5nnyYC9pcY2sXaTCcKgIxFW+7A"
/* doveadm pw -s ARGON2ID -p 'correct horse battery staple' */
#define V_DOVE_ARGON2ID_SPACES \
	"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$gerIkAsOC48QiiG6Gk6DFQ$" \
	"U/t2ZHV3c54BwQrEAmOB01kFQHnyPnrclwG6KUlAq0c"
/* doveadm pw -s ARGON2ID -p 'Grüße, 密码 ✓' */
#define V_DOVE_ARGON2ID_UTF8 \
	"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$OAfakZwT94OwhYeJLNDgRg$" \
	"8dKOYkT6gsZ0AW4QFJoBnmujyzVmpCkMo/lWRSmuO6o"
/* doveadm pw -s ARGON2I -p 'hunter2' */
#define V_DOVE_ARGON2I	"{ARGON2I}" V_DOVE_ARGON2I_BARE
#define V_DOVE_ARGON2I_BARE \
	"$argon2i$v=19$m=32768,t=4,p=1$V3NrqxwBfxbnar+nmWAF9w$" \
	"X8Uryf/N2QEhwO//+722YO627w+BUIhMgUAvD8YCrPI"
/* doveadm pw -s BLF-CRYPT -p 'hunter2' */
#define V_DOVE_BLF	"{BLF-CRYPT}" V_DOVE_BLF_BARE
#define V_DOVE_BLF_BARE \
	"$2y$05$JNVOmqTHZVflR1J470HjDewI4q9ErzE6UT5BY4rG11lcEdWLeVzoO"
/* doveadm pw -s BLF-CRYPT -p 'Grüße, 密码 ✓' */
#define V_DOVE_BLF_UTF8 \
	"{BLF-CRYPT}$2y$05$n3In3JvWDGTPhNB34uk52uekdN.wy4KHKg8Mw2JKNdaOsAQ3oh" \
	"TCW"
/* doveadm pw -s SHA512-CRYPT -p 'hunter2' */
#define V_DOVE_SHA512	"{SHA512-CRYPT}" V_DOVE_SHA512_BARE
#define V_DOVE_SHA512_BARE \
	"$6$3Mz.Ce7D5Jn.rQj.$IT85CR/8u9H.VFBZFjT92jef8MeMdM7pF1" \
	"Gruc53xYtiSkrieOQrSs3vmImMyw5rUn/FsfuGXD0QR.Q0SUkKj0"
/* doveadm pw -s SHA512-CRYPT -p 'Grüße, 密码 ✓' */
#define V_DOVE_SHA512_UTF8 \
	"{SHA512-CRYPT}$6$evADFk4b0HbHtqUn$usEDIxUmyaiteLf0m9NWSLrV4pkwf2t8Mo" \
	"kF5SI9jADXnDEQgwpiasD9w0N14VCW7BXfZ8AIgSfljRHtld8E4/"
/* doveadm pw -s SHA256-CRYPT -p 'hunter2' */
#define V_DOVE_SHA256 \
	"{SHA256-CRYPT}$5$3fk4RPfsNLfjYU3n$hU81TLJEOl73qyzr4nnr5hrdMeUPvjNs/Q" \
	"gCe/4ijh0"
/* mkpasswd -m yescrypt 'hunter2' */
#define V_MK_YESCRYPT \
	"$y$j9T$xNkmR/0lB3fiPOgHAqwsZ/$DLXRlmtpcnMEha8XZkZt8/fr3P0YlkflXMQYXI" \
	"E6Hi9"
/* mkpasswd -m yescrypt 'correct horse battery staple' */
#define V_MK_YESCRYPT_SPACES \
	"$y$j9T$StPRL3vCx0MXhVlpxmJnq/$O6H7i0eJV00G7jJ03WIwyVe2a80DpF3AVD/8II" \
	"XT5r."
/* mkpasswd -m yescrypt 'Grüße, 密码 ✓' */
#define V_MK_YESCRYPT_UTF8 \
	"$y$j9T$jEhEd2/oEVSBTLtXqj1ls1$a.vGtHTZevdmFhtJm8f8sHELrVAP8q4TqTG.uj" \
	"5pKYA"
/* mkpasswd -m bcrypt -R 5 'hunter2' */
#define V_MK_BCRYPT \
	"$2b$05$.cIC7lS.YxS.Hy/dot8DkO8Su9y.t6g.45l.2Oe9KG6ggsAghy3ny"
/* mkpasswd -m bcrypt-a -R 5 'correct horse battery staple' */
#define V_MK_BCRYPT_A \
	"$2a$05$4uEK77QGqKkug3UQoMt17eDhAn7jINlcMCKxGg0xJvT7/4SpJPk7O"
/* mkpasswd -m sha512crypt 'correct horse battery staple' */
#define V_MK_SHA512 \
	"$6$FBpGfx53ETMF9brT$H61PreosGzJfUq68EqOkK.SZTgEEqgdGi5Y7.Wj3uKjXNQd4" \
	"JAx6o6yLsAzFet6vQHHxXSBuy/sR29ZEIG1aG0"
/* mkpasswd -m sha512crypt -R 10000 'hunter2' */
#define V_MK_SHA512_ROUNDS \
	"$6$rounds=10000$rw.UK.04B9LmSR2P$CIXVxRNkhTBwIS4w.FfC1PzxfcWHHVRczyZ" \
	"xEgVp7AKWqTAc2CVNaQOe2FacQU375zA/X/Uc0qa/88IUJzND4."
/* mkpasswd -m sha256crypt 'Grüße, 密码 ✓' */
#define V_MK_SHA256_UTF8 \
	"$5$keQsmEjCVtyT3CTN$ho668WyEjP/DKPBgH4Ln8AWm3.sU5Z1uHwKFggQW067"
/* mkpasswd -m sha256crypt -R 2000 'hunter2' */
#define V_MK_SHA256_ROUNDS \
	"$5$rounds=2000$JeMXNYaA5ryMRd0e$PfANDqZZTzM9D3stQQ/fUBfRKpbFisRxIedr" \
	"/vENlK5"
/* mkpasswd -m sha256crypt "$(printf 'x%.0s' $(seq 511))" (511 x) */
#define V_MK_SHA256_511 \
	"$5$V3OS/lKQRmaVYJoM$rN376ai6ugK5nD/y6u6YY7MMODFiuVM9VkCsd1bZfm3"
/* python3 -c 'import crypt; print(crypt.crypt("hunter2",
   "$y$j560..$xNkmR/0lB3fiPOgHAqwsZ/$"))' -- yescrypt with p=2, t=1 */
#define V_PY_YESCRYPT_PT \
	"$y$j560..$xNkmR/0lB3fiPOgHAqwsZ/$40HbVDnbs9x49eA/qEWxs/mE/N8mlp6fOdk" \
	"YXHIn5P4"
/* python3 -c 'import argon2.low_level as l; print(l.hash_secret(
   b"hunter2", b"saltsaltsalt", time_cost=1, memory_cost=64,
   parallelism=1, hash_len=32, type=l.Type.ID, version=16))' */
#define V_PY_ARGON2ID_V16 \
	"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$l5MZOzv44Ych53hp5boW+AI" \
	"YVhzyUXYqxuL+xWLmVvc"
/* The same without "v=" (libargon2 reads that as version 16). */
#define V_PY_ARGON2ID_NOV \
	"$argon2id$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$l5MZOzv44Ych53hp5boW+AIYVhzy" \
	"UXYqxuL+xWLmVvc"
/* python3 -c 'import argon2.low_level as l; print(l.hash_secret(
   b"correct horse battery staple", b"0123456789abcdef", time_cost=2,
   memory_cost=256, parallelism=2, hash_len=32, type=l.Type.ID,
   version=19))' */
#define V_PY_ARGON2ID_P2 \
	"$argon2id$v=19$m=256,t=2,p=2$MDEyMzQ1Njc4OWFiY2RlZg$JQjBk212HvDL280U" \
	"Gt/qmWk+aAY+YlUdSEtxHjQw9Ew"

/* libxcrypt's CRYPT_MAX_PASSPHRASE_SIZE less the NUL */
#define CRYPT_PW_MAX	511

/* Small argon2 costs so the tests run fast (argon2 wants m >= 8 p). */
static const struct pwhash_params	 fast = { 1, 64, 1 };

/*
 * Which library verified.  These definitions take the place of
 * libsodium's and libargon2's (the executable's symbols come first),
 * count the calls and pass them on to the real ones (RTLD_NEXT).
 * sodium_init can be made to fail (in a child: pwhash keeps its answer).
 */
static unsigned	 n_sodium, n_argon2, n_sodium_init;
static bool	 sodium_init_fails;

static void *
real(const char *name)
{
	void	*f;

	if ((f = dlsym(RTLD_NEXT, name)) == NULL)
		fail_msg("dlsym %s: %s", name, dlerror());
	return f;
}

int
sodium_init(void)
{
	int	(*f)(void) = (int (*)(void))real("sodium_init");

	n_sodium_init++;
	return sodium_init_fails ? -1 : f();
}

int
crypto_pwhash_argon2id_str_verify(
    const char str[crypto_pwhash_argon2id_STRBYTES], const char *const pw,
    unsigned long long len)
{
	int	(*f)(const char *, const char *, unsigned long long) =
		    (int (*)(const char *, const char *, unsigned long long))
		    real("crypto_pwhash_argon2id_str_verify");

	n_sodium++;
	return f(str, pw, len);
}

int
crypto_pwhash_argon2i_str_verify(
    const char str[crypto_pwhash_argon2i_STRBYTES], const char *const pw,
    unsigned long long len)
{
	int	(*f)(const char *, const char *, unsigned long long) =
		    (int (*)(const char *, const char *, unsigned long long))
		    real("crypto_pwhash_argon2i_str_verify");

	n_sodium++;
	return f(str, pw, len);
}

int
argon2_verify(const char *enc, const void *pw, const size_t len,
    argon2_type type)
{
	int	(*f)(const char *, const void *, size_t, argon2_type) =
		    (int (*)(const char *, const void *, size_t, argon2_type))
		    real("argon2_verify");

	n_argon2++;
	return f(enc, pw, len, type);
}

struct vector {
	const char		*stored;
	const char		*pw;
	enum pwhash_scheme	 scheme;
};

static const struct vector	 vectors[] = {
	{ V_DOVE_ARGON2ID, PW_PLAIN, PWHASH_ARGON2ID },
	{ V_DOVE_ARGON2ID_SPACES, PW_SPACES, PWHASH_ARGON2ID },
	{ V_DOVE_ARGON2ID_UTF8, PW_UTF8, PWHASH_ARGON2ID },
	{ V_DOVE_ARGON2I, PW_PLAIN, PWHASH_ARGON2I },
	{ V_DOVE_BLF, PW_PLAIN, PWHASH_BCRYPT },
	{ V_DOVE_BLF_UTF8, PW_UTF8, PWHASH_BCRYPT },
	{ V_DOVE_SHA512, PW_PLAIN, PWHASH_SHA512_CRYPT },
	{ V_DOVE_SHA512_UTF8, PW_UTF8, PWHASH_SHA512_CRYPT },
	{ V_DOVE_SHA256, PW_PLAIN, PWHASH_SHA256_CRYPT },
	{ V_MK_YESCRYPT, PW_PLAIN, PWHASH_YESCRYPT },
	{ V_MK_YESCRYPT_SPACES, PW_SPACES, PWHASH_YESCRYPT },
	{ V_MK_YESCRYPT_UTF8, PW_UTF8, PWHASH_YESCRYPT },
	{ V_MK_BCRYPT, PW_PLAIN, PWHASH_BCRYPT },
	{ V_MK_BCRYPT_A, PW_SPACES, PWHASH_BCRYPT },
	{ V_MK_SHA512, PW_SPACES, PWHASH_SHA512_CRYPT },
	{ V_MK_SHA512_ROUNDS, PW_PLAIN, PWHASH_SHA512_CRYPT },
	{ V_MK_SHA256_UTF8, PW_UTF8, PWHASH_SHA256_CRYPT },
	{ V_MK_SHA256_ROUNDS, PW_PLAIN, PWHASH_SHA256_CRYPT },
	{ V_PY_YESCRYPT_PT, PW_PLAIN, PWHASH_YESCRYPT },
	{ V_PY_ARGON2ID_V16, PW_PLAIN, PWHASH_ARGON2ID },
	{ V_PY_ARGON2ID_NOV, PW_PLAIN, PWHASH_ARGON2ID },
	{ V_PY_ARGON2ID_P2, PW_SPACES, PWHASH_ARGON2ID },
};

/* The vectors above with another or no {PREFIX}, in any case. */
static const struct vector	 prefixed[] = {
	{ V_DOVE_ARGON2ID_BARE, PW_PLAIN, PWHASH_ARGON2ID },
	{ "{argon2id}" V_DOVE_ARGON2ID_BARE, PW_PLAIN, PWHASH_ARGON2ID },
	{ "{Argon2ID}" V_PY_ARGON2ID_P2, PW_SPACES, PWHASH_ARGON2ID },
	{ "{argon2i}" V_DOVE_ARGON2I_BARE, PW_PLAIN, PWHASH_ARGON2I },
	{ V_DOVE_ARGON2I_BARE, PW_PLAIN, PWHASH_ARGON2I },
	{ V_DOVE_BLF_BARE, PW_PLAIN, PWHASH_BCRYPT },
	{ "{blf-crypt}" V_MK_BCRYPT, PW_PLAIN, PWHASH_BCRYPT },
	{ "{CRYPT}" V_MK_BCRYPT_A, PW_SPACES, PWHASH_BCRYPT },
	{ "{crypt}" V_MK_YESCRYPT, PW_PLAIN, PWHASH_YESCRYPT },
	{ "{Crypt}" V_MK_SHA512, PW_SPACES, PWHASH_SHA512_CRYPT },
	{ "{CRYPT}" V_MK_SHA256_ROUNDS, PW_PLAIN, PWHASH_SHA256_CRYPT },
	{ "{sha512-crypt}" V_MK_SHA512_ROUNDS, PW_PLAIN,
	  PWHASH_SHA512_CRYPT },
	{ "{Sha256-Crypt}" V_MK_SHA256_UTF8, PW_UTF8, PWHASH_SHA256_CRYPT },
	{ V_DOVE_SHA512_BARE, PW_PLAIN, PWHASH_SHA512_CRYPT },
};

static int
verify(const char *stored, const char *pw, size_t len)
{
	char	*err = NULL;
	int	 r;

	r = pwhash_verify(stored, pw, len, &err);
	if (r == -1)
		fprintf(stderr, "verify %s: %s\n", stored, err);
	assert_true(r == -1 ? err != NULL : err == NULL);
	free(err);
	return r;
}

static void
test_vectors(void **state)
{
	const struct vector	*v;
	char			 more[PWHASH_PASSWORD_MAX + 2];
	size_t			 i, len;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		v = &vectors[i];
		len = strlen(v->pw);
		assert_int_equal(pwhash_scheme(v->stored), v->scheme);
		assert_int_equal(verify(v->stored, v->pw, len), 1);
		assert_int_equal(verify(v->stored, "wrong", 5), 0);
		assert_int_equal(verify(v->stored, v->pw, len - 1), 0);
		snprintf(more, sizeof(more), "%sx", v->pw);
		assert_int_equal(verify(v->stored, more, len + 1), 0);
		assert_int_equal(verify(v->stored, "", 0), 0);
	}
}

static void
test_prefixes(void **state)
{
	const struct vector	*v;
	size_t			 i;

	for (i = 0; i < sizeof(prefixed) / sizeof(prefixed[0]); i++) {
		v = &prefixed[i];
		assert_int_equal(pwhash_scheme(v->stored), v->scheme);
		assert_int_equal(verify(v->stored, v->pw, strlen(v->pw)), 1);
	}
	/* a one-byte change of case in the password is another password */
	assert_int_equal(verify(V_MK_YESCRYPT, "Hunter2", 7), 0);
	assert_int_equal(verify(V_DOVE_ARGON2I, "hunteR2", 7), 0);
}

/* Unsupported or malformed: -1 and an error that says why. */
struct bad {
	const char		*stored;
	enum pwhash_scheme	 scheme;	/* pwhash_scheme() says */
	const char		*err;		/* a substring of *err_r */
};

#define HASH43	"$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
#define A2_SALT	"$c2FsdHNhbHRzYWx0"
#define A2_SALT16 "$c2FsdHNhbHRzYWx0c2FsdA"	/* "saltsaltsaltsalt" */

static const struct bad	 bads[] = {
	{ "", PWHASH_UNKNOWN, "empty password hash" },
	{ "{PLAIN}hunter2", PWHASH_UNKNOWN,
	  "unsupported password scheme {PLAIN}" },
	/* doveadm pw -s SSHA512 -p hunter2 */
	{ "{SSHA512}5oWWQA+hgsbMjmdMQ3qJ6tup/J/95K+mF7fsHGcQg+lRUb0ycwdEcAWU"
	  "yy+8imXqwfYvPpSQFKQrU1/u/aORGeZxQSs=", PWHASH_UNKNOWN,
	  "unsupported password scheme {SSHA512}" },
	/* mkpasswd -m md5crypt hunter2 */
	{ "$1$kqjj3M.l$P1xe1MbcmMTBktTNDQZkq.", PWHASH_UNKNOWN,
	  "unsupported password scheme $1$" },
	{ "{CRYPT}$1$kqjj3M.l$P1xe1MbcmMTBktTNDQZkq.", PWHASH_UNKNOWN,
	  "unsupported password scheme {CRYPT}$1$" },
	/* mkpasswd -m descrypt hunter2 */
	{ "3BmvLEO8Lhj1s", PWHASH_UNKNOWN, "unsupported password scheme" },
	{ "{CRYPT}3BmvLEO8Lhj1s", PWHASH_UNKNOWN,
	  "unsupported password scheme {CRYPT}" },
	/* mkpasswd -m scrypt hunter2 */
	{ "$7$CU..../....JHczcc4UXx9LK9Kr4hYyq.$tBhrwQ2Lxfvs5Sz56NsK6qjvo8rWT"
	  "So.ARWYkVxEEH/", PWHASH_UNKNOWN,
	  "unsupported password scheme $7$" },
	/* mkpasswd -m gost-yescrypt hunter2 */
	{ "$gy$j9T$lI7rOI7RzfUi.f9y6L9Id.$edESDyKIFzMjiyisMOUVfZqg.a/Hjm5W5Kq"
	  "EhJdYGt2", PWHASH_UNKNOWN, "unsupported password scheme $gy$" },
	{ "garbage", PWHASH_UNKNOWN, "unsupported password scheme" },
	{ " " V_MK_SHA512, PWHASH_UNKNOWN, "unsupported password scheme" },
	{ "$ARGON2ID$v=19$m=64,t=1,p=1" A2_SALT HASH43, PWHASH_UNKNOWN,
	  "unsupported password scheme $ARGON2ID$" },
	{ "$argon2d$v=19$m=64,t=1,p=1" A2_SALT HASH43, PWHASH_UNKNOWN,
	  "unsupported password scheme $argon2d$" },
	/* a prefix must agree with the form after it */
	{ "{SHA512-CRYPT}" V_MK_BCRYPT, PWHASH_UNKNOWN,
	  "unsupported password scheme {SHA512-CRYPT}$2b$" },
	{ "{BLF-CRYPT}" V_MK_SHA512, PWHASH_UNKNOWN,
	  "unsupported password scheme {BLF-CRYPT}$6$" },
	{ "{SHA256-CRYPT}" V_MK_SHA512, PWHASH_UNKNOWN,
	  "{SHA256-CRYPT}$6$" },
	{ "{CRYPT}" V_DOVE_ARGON2ID_BARE, PWHASH_UNKNOWN,
	  "{CRYPT}$argon2id$" },
	{ "{ARGON2I}" V_DOVE_ARGON2ID_BARE, PWHASH_UNKNOWN,
	  "{ARGON2I}$argon2id$" },
	{ "{ARGON2ID}" V_DOVE_ARGON2I_BARE, PWHASH_UNKNOWN,
	  "{ARGON2ID}$argon2i$" },
	{ "{ARGON2ID}{ARGON2ID}" V_DOVE_ARGON2ID_BARE, PWHASH_UNKNOWN,
	  "unsupported password scheme {ARGON2ID}" },
	{ "{YESCRYPT}" V_MK_YESCRYPT, PWHASH_UNKNOWN,
	  "unsupported password scheme {YESCRYPT}$y$" },
	{ "{SHA512-CRYPT" V_MK_SHA512, PWHASH_UNKNOWN,
	  "unsupported password scheme" },
	{ "{}" V_MK_SHA512, PWHASH_UNKNOWN,
	  "unsupported password scheme {}$6$" },
	{ "{CRYPT }" V_MK_SHA512, PWHASH_UNKNOWN,
	  "unsupported password scheme" },
	{ "{ARGON2ID}", PWHASH_UNKNOWN, "unsupported password scheme" },
	/* argon2: the parameters */
	{ "$argon2id$v=19$m=65536,t=3,p=1", PWHASH_ARGON2ID,
	  "argon2id: malformed parameters" },
	{ "$argon2id$", PWHASH_ARGON2ID, "argon2id: malformed parameters" },
	{ "$argon2id$v=19$m=64,t=1,p=1x" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: malformed parameters" },
	{ "$argon2id$v=19$t=1,m=64,p=1" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: malformed parameters" },
	{ "$argon2id$v=19$m=064,t=1,p=1" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: malformed parameters" },
	{ "$argon2id$v=19$m=+64,t=1,p=1" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: malformed parameters" },
	{ "$argon2id$v=19$m= 64,t=1,p=1" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: malformed parameters" },
	{ "$argon2id$v=19$m=,t=1,p=1" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: malformed parameters" },
	{ "$argon2id$v=19$m=4294967296,t=1,p=1" A2_SALT HASH43,
	  PWHASH_ARGON2ID, "argon2id: malformed parameters" },
	{ "$argon2id$v=19$m=99999999999999999999999,t=1,p=1" A2_SALT HASH43,
	  PWHASH_ARGON2ID, "argon2id: malformed parameters" },
	{ "$argon2id$v=19m=64,t=1,p=1" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: malformed parameters" },
	{ "$argon2id$v=$m=64,t=1,p=1" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: malformed parameters" },
	{ "$argon2i$v=19$m=64,t=1" A2_SALT HASH43, PWHASH_ARGON2I,
	  "argon2i: malformed parameters" },
	{ "$argon2id$v=18$m=64,t=1,p=1" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: unknown version 18" },
	{ "$argon2id$v=19$m=4194305,t=1,p=1" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: costs m=4194305 KiB t=1 p=1 over the limits" },
	{ "$argon2id$v=19$m=4294967295,t=1,p=1" A2_SALT HASH43,
	  PWHASH_ARGON2ID, "over the limits" },
	{ "$argon2i$v=19$m=64,t=101,p=1" A2_SALT HASH43, PWHASH_ARGON2I,
	  "argon2i: costs m=64 KiB t=101 p=1 over the limits" },
	{ "$argon2id$v=19$m=1024,t=1,p=65" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: costs m=1024 KiB t=1 p=65 over the limits" },
	/* argon2: what libargon2 itself refuses */
	{ "$argon2id$v=19$m=64,t=1,p=1$", PWHASH_ARGON2ID,
	  "argon2id: Decoding failed" },
	{ "$argon2id$v=19$m=64,t=1,p=1" A2_SALT, PWHASH_ARGON2ID,
	  "argon2id: Decoding failed" },
	{ "$argon2id$v=19$m=64,t=1,p=1" A2_SALT HASH43 "$", PWHASH_ARGON2ID,
	  "argon2id: Decoding failed" },
	{ "$argon2id$v=19$m=64,t=1,p=1$c2FsdA" HASH43, PWHASH_ARGON2ID,
	  "argon2id: Salt is too short" },
	{ "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbA" HASH43, PWHASH_ARGON2ID,
	  "argon2id: Salt is too short" },		/* 7 bytes */
	/* base64 that neither library takes (so libsodium never sees) */
	{ "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdB" HASH43,
	  PWHASH_ARGON2ID, "argon2id: Decoding failed" },	/* bits left */
	{ "$argon2id$v=19$m=64,t=1,p=1" A2_SALT16 "$aGFzaGhhc2hoYXNoaGFzaGhh"
	  "c2hoYXNoaGFzaGhhc2h", PWHASH_ARGON2ID,
	  "argon2id: Decoding failed" },
	{ "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA==" HASH43,
	  PWHASH_ARGON2ID, "argon2id: Decoding failed" },	/* padding */
	{ "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c" HASH43,
	  PWHASH_ARGON2ID, "argon2id: Decoding failed" },	/* 1 mod 4 */
	{ "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNh.HRzYWx0c2FsdA" HASH43,
	  PWHASH_ARGON2ID, "argon2id: Decoding failed" },
	{ "$argon2id$v=19$m=64,t=1,p=1" A2_SALT16 HASH43 "_",
	  PWHASH_ARGON2ID, "argon2id: Decoding failed" },	/* base64url */
	{ "$argon2id$v=19$m=64,t=1,p=1" A2_SALT16 HASH43 " ",
	  PWHASH_ARGON2ID, "argon2id: Decoding failed" },
	{ "$argon2i$v=19$m=64,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdB" HASH43,
	  PWHASH_ARGON2I, "argon2i: Decoding failed" },
	/* costs under libsodium's limits are libargon2's to refuse */
	{ "$argon2id$v=19$m=7,t=1,p=1" A2_SALT16 HASH43, PWHASH_ARGON2ID,
	  "argon2id: Memory cost is too small" },
	{ "$argon2i$v=19$m=64,t=0,p=1" A2_SALT16 HASH43, PWHASH_ARGON2I,
	  "argon2i: Time cost is too small" },
	{ "$argon2id$v=19$m=64,t=1,p=1" A2_SALT "$aGFz", PWHASH_ARGON2ID,
	  "argon2id: Output is too short" },
	{ "$argon2id$v=19$m=64,t=1,p=1" A2_SALT "$!!!!", PWHASH_ARGON2ID,
	  "argon2id: Output is too short" },	/* reads no hash bytes */
	{ "$argon2id$v=19$m=8,t=1,p=2" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: Memory cost is too small" },
	{ "$argon2id$v=19$m=64,t=0,p=1" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: Time cost is too small" },
	{ "$argon2id$v=19$m=64,t=1,p=0" A2_SALT HASH43, PWHASH_ARGON2ID,
	  "argon2id: " },
	/* bcrypt */
	{ "$2y$17$JNVOmqTHZVflR1J470HjDewI4q9ErzE6UT5BY4rG11lcEdWLeVzoO",
	  PWHASH_BCRYPT, "bcrypt: cost 17 over the limit (16)" },
	{ "$2y$99$JNVOmqTHZVflR1J470HjDewI4q9ErzE6UT5BY4rG11lcEdWLeVzoO",
	  PWHASH_BCRYPT, "bcrypt: cost 99 over the limit" },
	{ "$2y$1x$JNVOmqTHZVflR1J470HjDewI4q9ErzE6UT5BY4rG11lcEdWLeVzoO",
	  PWHASH_BCRYPT, "bcrypt: malformed cost" },
	{ "$2y$5$JNVOmqTHZVflR1J470HjDewI4q9ErzE6UT5BY4rG11lcEdWLeVzoO",
	  PWHASH_BCRYPT, "bcrypt: malformed cost" },
	{ "$2y$055$JNVOmqTHZVflR1J470HjDewI4q9ErzE6UT5BY4rG11lcEdWLeVzoO",
	  PWHASH_BCRYPT, "bcrypt: malformed cost" },
	{ "$2y$", PWHASH_BCRYPT, "bcrypt: malformed cost" },
	{ "$2y$03$JNVOmqTHZVflR1J470HjDewI4q9ErzE6UT5BY4rG11lcEdWLeVzoO",
	  PWHASH_BCRYPT, "bcrypt: malformed hash (crypt: " },
	{ "$2y$05$JNVOmqTHZVflR1J4", PWHASH_BCRYPT,
	  "bcrypt: malformed hash (crypt: " },
	{ "$2y$05$JNVOmqTHZVflR1J470HjDewI4q9ErzE6UT5BY4rG11lcEdWLeVzo",
	  PWHASH_BCRYPT, "bcrypt: malformed hash" },
	{ "$2y$05$JNVOmqTHZVflR1J470HjDewI4q9ErzE6UT5BY4rG11lcEdWLeVzoOO",
	  PWHASH_BCRYPT, "bcrypt: malformed hash" },
	/* SHA-crypt */
	{ "$6$rounds=10000001$rw.UK.04B9LmSR2P$CIXVxRNkhTBwIS4w",
	  PWHASH_SHA512_CRYPT,
	  "sha512-crypt: rounds=10000001 over the limit (10000000)" },
	{ "$5$rounds=999999999$rw.UK.04B9LmSR2P$CIXVxRNkhTBwIS4w",
	  PWHASH_SHA256_CRYPT, "sha256-crypt: rounds=999999999 over the" },
	{ "$6$rounds=99999999999999999999$abc$def", PWHASH_SHA512_CRYPT,
	  "sha512-crypt: malformed rounds" },
	{ "$6$rounds=-1$abc$def", PWHASH_SHA512_CRYPT,
	  "sha512-crypt: malformed rounds" },
	{ "$6$rounds= 5000$abc$def", PWHASH_SHA512_CRYPT,
	  "sha512-crypt: malformed rounds" },
	{ "$6$rounds=+5000$abc$def", PWHASH_SHA512_CRYPT,
	  "sha512-crypt: malformed rounds" },
	{ "$6$rounds=05000$abc$def", PWHASH_SHA512_CRYPT,
	  "sha512-crypt: malformed rounds" },
	{ "$6$rounds=$abc$def", PWHASH_SHA512_CRYPT,
	  "sha512-crypt: malformed rounds" },
	{ "$5$rounds=5000", PWHASH_SHA256_CRYPT,
	  "sha256-crypt: malformed rounds" },
	{ "$5$rounds=5000x$abc$def", PWHASH_SHA256_CRYPT,
	  "sha256-crypt: malformed rounds" },
	/* one character short, one too many */
	{ "$6$FBpGfx53ETMF9brT$H61PreosGzJfUq68EqOkK.SZTgEEqgdGi5Y7.Wj3uKjXNQd4"
	  "JAx6o6yLsAzFet6vQHHxXSBuy/sR29ZEIG1aG", PWHASH_SHA512_CRYPT,
	  "sha512-crypt: malformed hash" },
	{ V_MK_SHA256_UTF8 "x", PWHASH_SHA256_CRYPT,
	  "sha256-crypt: malformed hash" },
	/* the salt is cut to 16 characters: not what crypt gives back */
	{ "$6$rounds=1000$abcdefghijklmnopqrstu$1Zo6e5gKWP0lmwe.29MVR9eJxZv7o0W"
	  "xw.pGP/ohm9lfXpkkzLUuPXzHT7aytyKl.9XrFxNghw.0sHe0pyVPT.",
	  PWHASH_SHA512_CRYPT, "sha512-crypt: malformed hash" },
	/* a SHA-512 hash under the SHA-256 id */
	{ "$5$FBpGfx53ETMF9brT$H61PreosGzJfUq68EqOkK.SZTgEEqgdGi5Y7.Wj3uKjXNQd4"
	  "JAx6o6yLsAzFet6vQHHxXSBuy/sR29ZEIG1aG0", PWHASH_SHA256_CRYPT,
	  "sha256-crypt: malformed hash" },
	{ "$6$", PWHASH_SHA512_CRYPT, "sha512-crypt: malformed hash" },
	{ "$6$abc", PWHASH_SHA512_CRYPT, "sha512-crypt: malformed hash" },
	/* yescrypt */
	{ "$y$j9T", PWHASH_YESCRYPT, "yescrypt: malformed parameters" },
	{ "$y$", PWHASH_YESCRYPT, "yescrypt: malformed parameters" },
	{ "$y$j9", PWHASH_YESCRYPT, "yescrypt: malformed parameters" },
	{ "$y$!9T$xNkmR/0lB3fiPOgHAqwsZ/$DLXRlmtpcnMEha8XZkZt8/fr3P0YlkflXMQ"
	  "YXIE6Hi9", PWHASH_YESCRYPT, "yescrypt: malformed parameters" },
	{ "$y$j9Tz$xNkmR/0lB3fiPOgHAqwsZ/$DLXRlmtpcnMEha8XZkZt8/fr3P0YlkflXMQ"
	  "YXIE6Hi9", PWHASH_YESCRYPT, "yescrypt: malformed parameters" },
	{ "$y$j9T/$xNkmR/0lB3fiPOgHAqwsZ/$DLXRlmtpcnMEha8XZkZt8/fr3P0YlkflXMQ"
	  "YXIE6Hi9", PWHASH_YESCRYPT, "yescrypt: malformed parameters" },
	{ "$y$j9TE$xNkmR/0lB3fiPOgHAqwsZ/$DLXRlmtpcnMEha8XZkZt8/fr3P0YlkflXMQ"
	  "YXIE6Hi9", PWHASH_YESCRYPT, "yescrypt: malformed parameters" },
	{ "$y$j9T1.$xNkmR/0lB3fiPOgHAqwsZ/$DLXRlmtpcnMEha8XZkZt8/fr3P0YlkflXMQ"
	  "YXIE6Hi9", PWHASH_YESCRYPT,
	  "yescrypt: hash upgrades and ROMs are not supported" },
	{ "$y$j9T5.$xNkmR/0lB3fiPOgHAqwsZ/$DLXRlmtpcnMEha8XZkZt8/fr3P0YlkflXMQ"
	  "YXIE6Hi9", PWHASH_YESCRYPT,
	  "yescrypt: hash upgrades and ROMs are not supported" },
	/* N = 2^30, r = 32 */
	{ "$y$jRT$xNkmR/0lB3fiPOgHAqwsZ/$DLXRlmtpcnMEha8XZkZt8/fr3P0YlkflXMQ"
	  "YXIE6Hi9", PWHASH_YESCRYPT, "yescrypt: costs over the limits" },
	/* N = 2^19, r = 32: 2 GiB */
	{ "$y$jGT$xNkmR/0lB3fiPOgHAqwsZ/$DLXRlmtpcnMEha8XZkZt8/fr3P0YlkflXMQ"
	  "YXIE6Hi9", PWHASH_YESCRYPT, "yescrypt: costs over the limits" },
	/* N = 2^17, r = 32, p = 49: 512 MiB 49 times */
	{ "$y$jET.j$xNkmR/0lB3fiPOgHAqwsZ/$DLXRlmtpcnMEha8XZkZt8/fr3P0YlkflXMQ"
	  "YXIE6Hi9", PWHASH_YESCRYPT, "yescrypt: costs over the limits" },
	/* N = 2^63 (a six-digit N_log2) */
	{ "$y$jzzzzzzT$xNkmR/0lB3fiPOgHAqwsZ/$DLXRlmtpcnMEha8XZkZt8/fr3P0Ylkfl"
	  "XMQYXIE6Hi9", PWHASH_YESCRYPT, "yescrypt: costs over the limits" },
	{ "$y$j9T$xNkmR/0lB3fiPOgHAqwsZ/$DLXRlmtpcnMEha8XZkZt8/fr3P0YlkflXMQ"
	  "YXIE6Hi", PWHASH_YESCRYPT, "yescrypt: malformed hash" },
	{ "$y$j9T$xNkmR/0lB3fiPOgHAqwsZ/$", PWHASH_YESCRYPT,
	  "yescrypt: malformed hash" },
	{ "{CRYPT}$y$j9T$", PWHASH_YESCRYPT, "yescrypt: malformed hash" },
};

/* Refused before any hashing (so also for an over-long password). */
static bool
judged_early(const struct bad *b)
{
	static const char *const	 early[] = {
		"empty", "unsupported", "over 512 bytes", "malformed "
		"parameters", "unknown version", "over the",
		"malformed cost", "malformed rounds", "not supported",
	};
	size_t				 i;

	if (b->scheme == PWHASH_UNKNOWN)
		return true;
	for (i = 0; i < sizeof(early) / sizeof(early[0]); i++)
		if (strstr(b->err, early[i]) != NULL)
			return true;
	return false;
}

static void
test_bad(void **state)
{
	const struct bad	*b;
	char			 long_pw[PWHASH_PASSWORD_MAX + 1];
	char			*err;
	size_t			 i;
	int			 r;

	memset(long_pw, 'a', sizeof(long_pw));
	n_sodium = 0;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		b = &bads[i];
		err = NULL;
		assert_int_equal(pwhash_scheme(b->stored), b->scheme);
		assert_int_equal(pwhash_verify(b->stored, PW_PLAIN, 7, &err),
		    -1);
		assert_non_null(err);
		if (strstr(err, b->err) == NULL)
			fail_msg("%s: \"%s\" does not say \"%s\"", b->stored,
			    err, b->err);
		free(err);
		/*
		 * The form and costs are judged before the password's
		 * length; what only hashing finds out is not.
		 */
		err = NULL;
		r = pwhash_verify(b->stored, long_pw, sizeof(long_pw), &err);
		if (r != (judged_early(b) ? -1 : 0))
			fail_msg("%s: %d with a long password (%s)", b->stored,
			    r, err != NULL ? err : "no error");
		assert_true(r == -1 ? err != NULL : err == NULL);
		free(err);
		/* It reads the costs only (after a verify said 1). */
		if (judged_early(b))
			assert_true(pwhash_needs_rehash(b->stored, &fast));
	}
	/* libsodium would call them all a wrong password */
	assert_int_equal(n_sodium, 0);
}

static void
test_stored_too_long(void **state)
{
	char	 s[PWHASH_STORED_MAX + 2];
	char	*err = NULL;

	memset(s, 'a', sizeof(s));
	memcpy(s, "$6$", 3);
	s[PWHASH_STORED_MAX + 1] = '\0';
	assert_int_equal(pwhash_verify(s, PW_PLAIN, 7, &err), -1);
	assert_string_equal(err, "stored password hash over 512 bytes");
	free(err);
	assert_true(pwhash_needs_rehash(s, &fast));
	/* 512 is still read (and is no SHA-512 hash) */
	s[PWHASH_STORED_MAX] = '\0';
	assert_int_equal(pwhash_verify(s, PW_PLAIN, 7, &err), -1);
	assert_string_equal(err, "sha512-crypt: malformed hash");
	free(err);
}

/* At the cost limits argon2 still runs (cheap ones of them). */
static void
test_limits(void **state)
{
	assert_int_equal(verify("$argon2id$v=19$m=8,t=100,p=1" A2_SALT HASH43,
	    PW_PLAIN, 7), 0);
	assert_int_equal(verify("$argon2id$v=19$m=512,t=1,p=64" A2_SALT
	    HASH43, PW_PLAIN, 7), 0);
	assert_int_equal(verify("$2y$04$JNVOmqTHZVflR1J470HjDewI4q9ErzE6UT5BY"
	    "4rG11lcEdWLeVzoO", PW_PLAIN, 7), 0);
	assert_int_equal(verify("$5$rounds=1000$JeMXNYaA5ryMRd0e$PfANDqZZTzM9"
	    "D3stQQ/fUBfRKpbFisRxIedr/vENlK5", PW_PLAIN, 7), 0);
}

static void
test_password_bytes(void **state)
{
	char	 pw[PWHASH_PASSWORD_MAX + 1];
	char	*enc, *err = NULL;

	/* a NUL inside never matches a crypt scheme */
	assert_int_equal(verify(V_MK_SHA256_ROUNDS, "hunter2\0", 8), 0);
	assert_int_equal(verify(V_MK_SHA256_ROUNDS, "hunter2\0x", 9), 0);
	assert_int_equal(verify(V_MK_YESCRYPT, "\0hunter2", 8), 0);
	/* argon2 takes the length: a NUL is just a byte */
	enc = pwhash_new(&fast, "a\0b", 3, &err);
	assert_non_null(enc);
	assert_int_equal(verify(enc, "a\0b", 3), 1);
	assert_int_equal(verify(enc, "a", 1), 0);
	assert_int_equal(verify(enc, "a\0c", 3), 0);
	free(enc);
	/* the longest password, and one byte more */
	memset(pw, 0xff, sizeof(pw));
	enc = pwhash_new(&fast, pw, PWHASH_PASSWORD_MAX, &err);
	assert_non_null(enc);
	assert_int_equal(verify(enc, pw, PWHASH_PASSWORD_MAX), 1);
	assert_int_equal(verify(enc, pw, PWHASH_PASSWORD_MAX - 1), 0);
	assert_int_equal(verify(enc, pw, sizeof(pw)), 0);
	free(enc);
	assert_null(pwhash_new(&fast, pw, sizeof(pw), &err));
	assert_string_equal(err, "password too long (at most 1024 bytes)");
	free(err);
	/* over the maximum is a non-match, and no crypt is run */
	assert_int_equal(verify(V_MK_SHA512, pw, sizeof(pw)), 0);
	assert_int_equal(verify(V_DOVE_ARGON2ID, pw, sizeof(pw)), 0);
	/* crypt takes at most 511 bytes: longer ones never match */
	memset(pw, 'x', sizeof(pw));
	assert_int_equal(verify(V_MK_SHA256_511, pw, CRYPT_PW_MAX), 1);
	assert_int_equal(verify(V_MK_SHA256_511, pw, CRYPT_PW_MAX - 1), 0);
	assert_int_equal(verify(V_MK_SHA256_511, pw, CRYPT_PW_MAX + 1), 0);
	assert_int_equal(verify(V_MK_SHA256_511, pw, PWHASH_PASSWORD_MAX),
	    0);
}

/* pwhash_verify's answer, from exactly one verification by that library */
static int
verify_by(const char *stored, const char *pw, size_t len, bool sodium)
{
	unsigned	 s = n_sodium, a = n_argon2;
	int		 r;

	r = verify(stored, pw, len);
	if (n_sodium - s != (sodium ? 1U : 0U) || n_argon2 - a !=
	    (sodium ? 0U : 1U))
		fail_msg("%s: %u libsodium, %u libargon2 verifications", stored,
		    n_sodium - s, n_argon2 - a);
	return r;
}

/* Hashes libargon2 makes here, and which library is to verify them. */
struct made {
	argon2_type	 type;
	uint32_t	 v, t, m, p;
	size_t		 salt, hash;	/* bytes */
	bool		 sodium;
};

static const struct made	 mades[] = {
	{ Argon2_id, 0x13, 3, 256, 1, 16, 32, true },
	{ Argon2_i, 0x13, 3, 256, 1, 16, 32, true },
	{ Argon2_id, 0x13, 1, 8, 1, 8, 16, true },	/* the minimums */
	{ Argon2_id, 0x13, 1, 9, 1, 17, 33, true },	/* base64 "xxx" */
	{ Argon2_i, 0x13, 3, 11, 1, 18, 34, true },	/* and "xx" */
	{ Argon2_id, 0x13, 1, 64, 1, 16, 57, true },	/* 127 characters */
	{ Argon2_id, 0x13, 1, 64, 1, 17, 57, false },	/* 128: STRBYTES */
	{ Argon2_id, 0x13, 1, 64, 1, 64, 64, false },
	{ Argon2_id, 0x13, 1, 64, 1, 16, 15, false },	/* libsodium: >= 16 */
	{ Argon2_id, 0x13, 1, 64, 1, 16, 4, false },
	{ Argon2_i, 0x13, 2, 64, 1, 16, 32, false },	/* libsodium: t >= 3 */
	{ Argon2_i, 0x13, 1, 64, 1, 16, 32, false },
	{ Argon2_id, 0x13, 1, 64, 2, 16, 32, false },	/* one lane only */
	{ Argon2_i, 0x13, 3, 64, 2, 16, 32, false },
	{ Argon2_id, 0x10, 1, 64, 1, 16, 32, false },	/* v=16 */
	{ Argon2_i, 0x10, 3, 64, 1, 16, 32, false },
};

/* Made by libargon2 (a malloc'd string). */
static char *
make(const struct made *m, const char *pw)
{
	uint8_t	 salt[64];
	char	 enc[256];
	int	 r;

	memset(salt, 0xa5, sizeof(salt));
	r = argon2_hash(m->t, m->m, m->p, pw, strlen(pw), salt, m->salt,
	    NULL, m->hash, enc, sizeof(enc), m->type, m->v);
	if (r != ARGON2_OK)
		fail_msg("argon2_hash: %s", argon2_error_message(r));
	return xstrdup(enc);
}

static void
test_sodium_route(void **state)
{
	static const struct vector	 fixed[] = {
		{ V_DOVE_ARGON2ID, PW_PLAIN, PWHASH_ARGON2ID },
		{ V_DOVE_ARGON2ID_UTF8, PW_UTF8, PWHASH_ARGON2ID },
		{ V_DOVE_ARGON2I_BARE, PW_PLAIN, PWHASH_ARGON2I },
	};
	char				*enc, *pre;
	size_t				 i;
	bool				 sodium;

	for (i = 0; i < sizeof(mades) / sizeof(mades[0]); i++) {
		enc = make(&mades[i], PW_SPACES);
		sodium = mades[i].sodium;
		assert_int_equal(verify_by(enc, PW_SPACES, strlen(PW_SPACES),
		    sodium), 1);
		assert_int_equal(verify_by(enc, PW_PLAIN, 7, sodium), 0);
		assert_int_equal(verify_by(enc, "", 0, sodium), 0);
		pre = xasprintf("{%s}%s", mades[i].type == Argon2_id ?
		    "ARGON2ID" : "ARGON2I", enc);
		assert_int_equal(verify_by(pre, PW_SPACES, strlen(PW_SPACES),
		    sodium), 1);
		free(pre);
		free(enc);
	}
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		assert_int_equal(verify_by(fixed[i].stored, fixed[i].pw,
		    strlen(fixed[i].pw), true), 1);
		assert_int_equal(verify_by(fixed[i].stored, "wrong", 5, true),
		    0);
	}
	assert_int_equal(verify_by(V_PY_ARGON2ID_NOV, PW_PLAIN, 7, false), 1);
	assert_int_equal(verify_by(V_PY_ARGON2ID_P2, PW_SPACES,
	    strlen(PW_SPACES), false), 1);
}

/* Bytes libsodium takes by length: NULs, the longest password. */
static void
test_sodium_bytes(void **state)
{
	const struct pwhash_params	 pp = { 3, 256, 1 };
	char				 pw[PWHASH_PASSWORD_MAX + 1];
	char				*enc, *err = NULL;

	enc = pwhash_new(&pp, "a\0b", 3, &err);
	assert_non_null(enc);
	assert_int_equal(verify_by(enc, "a\0b", 3, true), 1);
	assert_int_equal(verify_by(enc, "a\0c", 3, true), 0);
	assert_int_equal(verify_by(enc, "a", 1, true), 0);
	free(enc);
	memset(pw, 'p', sizeof(pw));
	enc = pwhash_new(&pp, pw, PWHASH_PASSWORD_MAX, &err);
	assert_non_null(enc);
	assert_int_equal(verify_by(enc, pw, PWHASH_PASSWORD_MAX, true), 1);
	assert_int_equal(verify_by(enc, pw, PWHASH_PASSWORD_MAX - 1, true),
	    0);
	free(enc);
}

/*
 * When sodium_init fails, libargon2 verifies everything.  pwhash asks
 * it once per process, so this runs first, in a child.
 */
static void
test_sodium_init_fails(void **state)
{
	const struct made	*m = &mades[0];
	char			*enc, *err = NULL;
	pid_t			 pid;
	int			 status, ok;

	if (n_sodium_init != 0)
		fail_msg("test_sodium_init_fails must run first");
	/* (a call the test makes itself keeps libsodium linked in) */
	assert_non_null(sodium_version_string());
	enc = make(m, PW_PLAIN);
	if ((pid = fork()) == -1)
		fail_msg("fork failed");
	if (pid == 0) {
		sodium_init_fails = true;
		ok = pwhash_verify(enc, PW_PLAIN, 7, &err) == 1 &&
		    pwhash_verify(enc, "wrong", 5, &err) == 0 &&
		    n_sodium_init == 1 && n_sodium == 0 && n_argon2 == 2;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* here it works (and is asked once) */
	assert_int_equal(verify_by(enc, PW_PLAIN, 7, true), 1);
	assert_int_equal(verify_by(enc, "wrong", 5, true), 0);
	assert_int_equal(n_sodium_init, 1);
	free(enc);
}

/* "$argon2id$v=19$m=64,t=1,p=1$" + 22 salt + "$" + 43 hash characters */
static void
check_new_form(const char *enc, const char *costs)
{
	const char	*salt, *hash;

	assert_true(strncmp(enc, costs, strlen(costs)) == 0);
	salt = enc + strlen(costs);
	hash = strchr(salt, '$');
	assert_non_null(hash);
	assert_int_equal(hash - salt, 22);
	assert_int_equal(strlen(hash + 1), 43);
}

static void
test_new(void **state)
{
	static const struct pwhash_params	 other[] = {
		{ 2, 64, 1 }, { 1, 128, 1 }, { 1, 64, 2 }, { 0, 64, 1 },
	};
	const struct pwhash_params		 p2 = { 2, 256, 2 };
	char					*a, *b, *err = NULL;
	size_t					 i;

	a = pwhash_new(&fast, PW_UTF8, strlen(PW_UTF8), &err);
	b = pwhash_new(&fast, PW_UTF8, strlen(PW_UTF8), &err);
	assert_null(err);
	assert_non_null(a);
	assert_non_null(b);
	check_new_form(a, "$argon2id$v=19$m=64,t=1,p=1$");
	assert_string_not_equal(a, b);		/* a new salt each time */
	assert_int_equal(pwhash_scheme(a), PWHASH_ARGON2ID);
	assert_int_equal(verify(a, PW_UTF8, strlen(PW_UTF8)), 1);
	assert_int_equal(verify(b, PW_UTF8, strlen(PW_UTF8)), 1);
	assert_int_equal(verify(a, PW_PLAIN, strlen(PW_PLAIN)), 0);
	assert_false(pwhash_needs_rehash(a, &fast));
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		assert_true(pwhash_needs_rehash(a, &other[i]));
	free(b);
	/* Dovecot's prefix changes nothing */
	b = xasprintf("{ARGON2ID}%s", a);
	assert_int_equal(verify(b, PW_UTF8, strlen(PW_UTF8)), 1);
	assert_false(pwhash_needs_rehash(b, &fast));
	free(a);
	a = pwhash_new(&p2, "", 0, &err);
	assert_non_null(a);
	check_new_form(a, "$argon2id$v=19$m=256,t=2,p=2$");
	assert_int_equal(verify(a, "", 0), 1);
	assert_int_equal(verify(a, " ", 1), 0);
	assert_false(pwhash_needs_rehash(a, &p2));
	assert_true(pwhash_needs_rehash(a, &fast));
	free(a);
	free(b);
}

static void
test_needs_rehash(void **state)
{
	const struct pwhash_params	 dove = { 3, 65536, 1 };
	const struct pwhash_params	 dove_i = { 4, 32768, 1 };
	const struct pwhash_params	 p2 = { 2, 256, 2 };
	const struct pwhash_params	 v16 = { 1, 64, 1 };
	size_t				 i;

	assert_false(pwhash_needs_rehash(V_DOVE_ARGON2ID, &dove));
	assert_false(pwhash_needs_rehash(V_DOVE_ARGON2ID_BARE, &dove));
	assert_false(pwhash_needs_rehash("{argon2id}" V_DOVE_ARGON2ID_BARE,
	    &dove));
	assert_false(pwhash_needs_rehash(V_PY_ARGON2ID_P2, &p2));
	assert_true(pwhash_needs_rehash(V_DOVE_ARGON2ID, &fast));
	assert_true(pwhash_needs_rehash(V_PY_ARGON2ID_P2, &dove));
	/* argon2i, or version 1.0, is rehashed whatever the costs */
	assert_true(pwhash_needs_rehash(V_DOVE_ARGON2I, &dove_i));
	assert_true(pwhash_needs_rehash(V_PY_ARGON2ID_V16, &v16));
	assert_true(pwhash_needs_rehash(V_PY_ARGON2ID_NOV, &v16));
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		if (vectors[i].scheme != PWHASH_ARGON2ID)
			assert_true(pwhash_needs_rehash(vectors[i].stored,
			    &dove));
	assert_true(pwhash_needs_rehash("", &dove));
	assert_true(pwhash_needs_rehash("{PLAIN}x", &dove));
}

static void
test_new_errors(void **state)
{
	static const struct {
		struct pwhash_params	 pp;
		const char		*err;
	} bad[] = {
		{ { 0, 64, 1 }, "argon2id (t=0 m=64 KiB p=1): Time cost is "
		  "too small" },
		{ { 1, 4, 1 }, "argon2id (t=1 m=4 KiB p=1): Memory cost is "
		  "too small" },
		{ { 1, 64, 9 }, "argon2id (t=1 m=64 KiB p=9): Memory cost is "
		  "too small" },
		{ { 1, 64, 0 }, "argon2id (t=1 m=64 KiB p=0): " },
		{ { 101, 64, 1 }, "argon2id (t=101 m=64 KiB p=1): costs over "
		  "the limits (t<=100 m<=4194304 p<=64)" },
		{ { 1, 4194305, 1 }, "argon2id (t=1 m=4194305 KiB p=1): costs "
		  "over the limits" },
		{ { 1, 1024, 65 }, "argon2id (t=1 m=1024 KiB p=65): costs "
		  "over the limits" },
	};
	char	*err;
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_null(pwhash_new(&bad[i].pp, PW_PLAIN, 7, &err));
		assert_non_null(err);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fail_msg("\"%s\" does not start \"%s\"", err,
			    bad[i].err);
		free(err);
	}
}

static void
test_dummy(void **state)
{
	const struct pwhash_params	 p2 = { 1, 128, 2 };
	const struct pwhash_params	 bad = { 0, 64, 1 };
	const char			*d, *d2;
	char				*err = NULL;

	d = pwhash_dummy(&fast, &err);
	assert_non_null(d);
	check_new_form(d, "$argon2id$v=19$m=64,t=1,p=1$");
	assert_ptr_equal(pwhash_dummy(&fast, &err), d);	/* kept */
	assert_int_equal(pwhash_scheme(d), PWHASH_ARGON2ID);
	assert_false(pwhash_needs_rehash(d, &fast));
	assert_int_equal(verify(d, "", 0), 0);
	assert_int_equal(verify(d, PW_PLAIN, 7), 0);
	/* other costs: made again */
	d2 = pwhash_dummy(&p2, &err);
	assert_non_null(d2);
	check_new_form(d2, "$argon2id$v=19$m=128,t=1,p=2$");
	assert_int_equal(verify(d2, PW_PLAIN, 7), 0);
	/* bad costs: NULL, the error, nothing kept */
	assert_null(pwhash_dummy(&bad, &err));
	assert_string_equal(err, "argon2id (t=0 m=64 KiB p=1): Time cost is "
	    "too small");
	free(err);
	err = NULL;
	d = pwhash_dummy(&fast, &err);
	assert_non_null(d);
	pwhash_dummy_free();
	pwhash_dummy_free();
	d = pwhash_dummy(&fast, &err);
	assert_non_null(d);
	assert_null(err);
	pwhash_dummy_free();
}

static void
test_names(void **state)
{
	assert_string_equal(pwhash_scheme_name(PWHASH_UNKNOWN), "unknown");
	assert_string_equal(pwhash_scheme_name(PWHASH_ARGON2ID), "argon2id");
	assert_string_equal(pwhash_scheme_name(PWHASH_ARGON2I), "argon2i");
	assert_string_equal(pwhash_scheme_name(PWHASH_BCRYPT), "bcrypt");
	assert_string_equal(pwhash_scheme_name(PWHASH_SHA512_CRYPT),
	    "sha512-crypt");
	assert_string_equal(pwhash_scheme_name(PWHASH_SHA256_CRYPT),
	    "sha256-crypt");
	assert_string_equal(pwhash_scheme_name(PWHASH_YESCRYPT), "yescrypt");
	assert_string_equal(pwhash_scheme_name((enum pwhash_scheme)99),
	    "unknown");
	assert_string_equal(pwhash_scheme_name((enum pwhash_scheme)-1),
	    "unknown");
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_sodium_init_fails),	/* first */
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_stored_too_long),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_sodium_route),
		cmocka_unit_test(test_sodium_bytes),
		cmocka_unit_test(test_password_bytes),
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_needs_rehash),
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_dummy),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
