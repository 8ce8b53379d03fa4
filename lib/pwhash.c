/*
 * pwhash — password hash verification (argon2id/argon2i through
 * libsodium or libargon2; bcrypt, SHA-crypt and yescrypt through
 * libxcrypt's crypt_rn) and argon2id creation (libargon2).  See pwhash.h
 * for the accepted forms.
 *
 * Every stored string is first split into an optional Dovecot {SCHEME}
 * prefix and a "$id$" form that the prefix must allow, then its costs are
 * read and checked against the PWHASH_*_MAX limits before anything is
 * hashed: the libraries would happily spend gigabytes or hours on a
 * crafted row.  The cost readers here are stricter than the libraries'
 * own (no signs, spaces or leading zeros), so a string both accept means
 * the same costs to both.
 *
 * libsodium verifies argon2 about twice as fast as Debian's portable
 * libargon2 (it picks SSSE3/AVX2 code at run time), but its -1 says
 * only "no": it does not tell a malformed string from a wrong password.
 * So it gets only the strings it surely decodes and hashes just as
 * libargon2 would (sodium_alg()); all others go to libargon2, which
 * says what is wrong.  Either way a call runs one verification.
 */
#include <argon2.h>
#include <crypt.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "pwhash.h"
#include "xmalloc.h"

#define SCHEME_BIT(s)	(1U << (s))
#define CRYPT_SCHEMES	(SCHEME_BIT(PWHASH_BCRYPT) | \
			 SCHEME_BIT(PWHASH_SHA512_CRYPT) | \
			 SCHEME_BIT(PWHASH_SHA256_CRYPT) | \
			 SCHEME_BIT(PWHASH_YESCRYPT))
#define ALL_SCHEMES	(~0U)
#define TOKEN_MAX	32	/* longest {NAME} or $id$ quoted in errors */
#define DUMMY_PW_LEN	32

static const char *const scheme_names[] = {
	[PWHASH_UNKNOWN] = "unknown",
	[PWHASH_ARGON2ID] = "argon2id",
	[PWHASH_ARGON2I] = "argon2i",
	[PWHASH_BCRYPT] = "bcrypt",
	[PWHASH_SHA512_CRYPT] = "sha512-crypt",
	[PWHASH_SHA256_CRYPT] = "sha256-crypt",
	[PWHASH_YESCRYPT] = "yescrypt",
};

/* Dovecot's scheme prefixes, and the forms each may precede. */
static const struct prefix {
	const char	*name;
	unsigned	 schemes;
} prefixes[] = {
	{ "ARGON2ID", SCHEME_BIT(PWHASH_ARGON2ID) },
	{ "ARGON2I", SCHEME_BIT(PWHASH_ARGON2I) },
	{ "BLF-CRYPT", SCHEME_BIT(PWHASH_BCRYPT) },
	{ "SHA512-CRYPT", SCHEME_BIT(PWHASH_SHA512_CRYPT) },
	{ "SHA256-CRYPT", SCHEME_BIT(PWHASH_SHA256_CRYPT) },
	{ "CRYPT", CRYPT_SCHEMES },
};

/* The forms by their leading "$id$" (case matters here). */
static const struct ident {
	const char		*id;
	enum pwhash_scheme	 scheme;
} idents[] = {
	{ "$argon2id$", PWHASH_ARGON2ID },
	{ "$argon2i$", PWHASH_ARGON2I },
	{ "$2y$", PWHASH_BCRYPT },
	{ "$2b$", PWHASH_BCRYPT },
	{ "$2a$", PWHASH_BCRYPT },
	{ "$6$", PWHASH_SHA512_CRYPT },
	{ "$5$", PWHASH_SHA256_CRYPT },
	{ "$y$", PWHASH_YESCRYPT },
};

/* The costs in "$argon2id$v=19$m=65536,t=3,p=1$...". */
struct argon2_costs {
	uint64_t	 v, m, t, p;
};

/* The parameters in "$y$j9T$..." (yescrypt's own encoding). */
struct yescrypt_costs {
	uint64_t	 flavor, n_log2, r, have, p, t, g, nrom_log2;
};

static char			*dummy;
static struct pwhash_params	 dummy_params;

static int	fail(char **, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static int
fail(char **err_r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	*err_r = xvasprintf(fmt, ap);
	va_end(ap);
	return -1;
}

const char *
pwhash_scheme_name(enum pwhash_scheme s)
{
	if ((unsigned)s >= sizeof(scheme_names) / sizeof(scheme_names[0]))
		return scheme_names[PWHASH_UNKNOWN];
	return scheme_names[s];
}

/*
 * The schemes a leading "{NAME}" allows (all of them without one, none
 * for an unknown one); *rest_r points past it.
 */
static unsigned
prefix_allows(const char *stored, const char **rest_r)
{
	const char	*end;
	size_t		 i, len;

	*rest_r = stored;
	if (stored[0] != '{')
		return ALL_SCHEMES;
	if ((end = strchr(stored, '}')) == NULL)
		return 0;
	len = (size_t)(end - stored - 1);
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (strlen(prefixes[i].name) == len &&
		    strncasecmp(stored + 1, prefixes[i].name, len) == 0) {
			*rest_r = end + 1;
			return prefixes[i].schemes;
		}
	}
	return 0;
}

static enum pwhash_scheme
ident_scheme(const char *s)
{
	size_t	 i;

	for (i = 0; i < sizeof(idents) / sizeof(idents[0]); i++)
		if (strncmp(s, idents[i].id, strlen(idents[i].id)) == 0)
			return idents[i].scheme;
	return PWHASH_UNKNOWN;
}

/* The scheme, and in *hash_r the "$id$..." form without any prefix. */
static enum pwhash_scheme
split(const char *stored, const char **hash_r)
{
	enum pwhash_scheme	 s;
	unsigned		 allows;

	allows = prefix_allows(stored, hash_r);
	s = ident_scheme(*hash_r);
	if (s == PWHASH_UNKNOWN || (allows & SCHEME_BIT(s)) == 0)
		return PWHASH_UNKNOWN;
	return s;
}

enum pwhash_scheme
pwhash_scheme(const char *stored)
{
	const char	*hash;

	return split(stored, &hash);
}

/* Past the "$id$" that split() found at the start of h. */
static const char *
skip_ident(const char *h)
{
	return strchr(h + 1, '$') + 1;
}

/* A decimal without sign or leading zeros, at most max; its end or NULL. */
static const char *
decimal(const char *s, uint64_t max, uint64_t *v_r)
{
	const char	*p;
	uint64_t	 v = 0;

	if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
		return NULL;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return NULL;
	}
	if (p == s)
		return NULL;
	*v_r = v;
	return p;
}

/* "name" then a decimal (argon2 fields are 32-bit). */
static const char *
field(const char *s, const char *name, uint64_t *v_r)
{
	size_t	 len = strlen(name);

	if (strncmp(s, name, len) != 0)
		return NULL;
	return decimal(s + len, UINT32_MAX, v_r);
}

/*
 * "$argon2id$" ["v=" V "$"] "m=" M ",t=" T ",p=" P "$" salt "$" hash:
 * the costs, and the '$' before the salt (NULL when malformed).
 */
static const char *
argon2_parse(const char *h, struct argon2_costs *c)
{
	h = skip_ident(h);
	c->v = ARGON2_VERSION_10;	/* libargon2's default too */
	if (strncmp(h, "v=", 2) == 0 &&
	    ((h = field(h, "v=", &c->v)) == NULL || *h++ != '$'))
		return NULL;
	if ((h = field(h, "m=", &c->m)) == NULL ||
	    (h = field(h, ",t=", &c->t)) == NULL ||
	    (h = field(h, ",p=", &c->p)) == NULL || *h != '$')
		return NULL;
	return h;
}

static int
argon2_check(const char *h, enum pwhash_scheme s, char **err_r)
{
	struct argon2_costs	 c;
	const char		*name = pwhash_scheme_name(s);

	if (argon2_parse(h, &c) == NULL)
		return fail(err_r, "%s: malformed parameters", name);
	if (c.v != ARGON2_VERSION_10 && c.v != ARGON2_VERSION_13)
		return fail(err_r, "%s: unknown version %" PRIu64, name, c.v);
	if (c.m > PWHASH_ARGON2_M_MAX || c.t > PWHASH_ARGON2_T_MAX ||
	    c.p > PWHASH_ARGON2_P_MAX)
		return fail(err_r, "%s: costs m=%" PRIu64 " KiB t=%" PRIu64
		    " p=%" PRIu64 " over the limits (m<=%u t<=%d p<=%d)",
		    name, c.m, c.t, c.p, PWHASH_ARGON2_M_MAX,
		    PWHASH_ARGON2_T_MAX, PWHASH_ARGON2_P_MAX);
	return 0;
}

/* "$2y$" two-digit cost "$" 22 salt + 31 hash characters */
static int
bcrypt_check(const char *h, char **err_r)
{
	unsigned	 cost;

	h = skip_ident(h);
	if (h[0] < '0' || h[0] > '9' || h[1] < '0' || h[1] > '9' ||
	    h[2] != '$')
		return fail(err_r, "bcrypt: malformed cost");
	cost = (unsigned)(h[0] - '0') * 10 + (unsigned)(h[1] - '0');
	if (cost > PWHASH_BCRYPT_COST_MAX)
		return fail(err_r, "bcrypt: cost %u over the limit (%d)", cost,
		    PWHASH_BCRYPT_COST_MAX);
	return 0;
}

/* "$6$" ["rounds=" N "$"] salt "$" hash (also "$5$") */
static int
sha_check(const char *h, enum pwhash_scheme s, char **err_r)
{
	const char	*name = pwhash_scheme_name(s);
	uint64_t	 rounds;

	h = skip_ident(h);
	if (strncmp(h, "rounds=", 7) != 0)
		return 0;
	if ((h = decimal(h + 7, UINT32_MAX, &rounds)) == NULL || *h != '$')
		return fail(err_r, "%s: malformed rounds", name);
	if (rounds > PWHASH_SHA_ROUNDS_MAX)
		return fail(err_r, "%s: rounds=%" PRIu64 " over the limit (%d)",
		    name, rounds, PWHASH_SHA_ROUNDS_MAX);
	return 0;
}

/* The value of c in a 64-character alphabet; 64 for anything else. */
static unsigned
digit64(const char *digits, char c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(digits, c)) == NULL)
		return 64;
	return (unsigned)(p - digits);
}

/* A digit of yescrypt's alphabet "./0-9A-Za-z"; 64 for anything else. */
static unsigned
yescrypt_digit(char c)
{
	return digit64("./0123456789"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", c);
}

/*
 * One yescrypt parameter, plus min.  Its first digit also says how many
 * digits follow: 0-47 none, 48-55 one, 56-59 two, 60-61 three, 62 four,
 * 63 five; each longer form counts on from where the shorter ones end.
 * Computed in 64 bits, so a value libxcrypt would wrap reads as huge.
 */
static const char *
yescrypt_param(const char *s, uint64_t min, uint64_t *v_r)
{
	uint64_t	 v = min, lo = 0, hi = 47;
	unsigned	 c, more = 0;

	if ((c = yescrypt_digit(*s++)) > 63)
		return NULL;
	while (c > hi) {
		v += (hi + 1 - lo) << (6 * more);
		lo = hi + 1;
		hi = lo + (62 - hi) / 2;
		more++;
	}
	v += (c - lo) << (6 * more);
	while (more-- > 0) {
		if ((c = yescrypt_digit(*s++)) > 63)
			return NULL;
		v += (uint64_t)c << (6 * more);
	}
	*v_r = v;
	return s;
}

/* "$y$" flavor N_log2 r [have [p] [t] [g] [NROM_log2]] "$" salt "$" hash */
static int
yescrypt_parse(const char *h, struct yescrypt_costs *y)
{
	memset(y, 0, sizeof(*y));
	y->p = 1;
	h = skip_ident(h);
	if ((h = yescrypt_param(h, 0, &y->flavor)) == NULL ||
	    (h = yescrypt_param(h, 1, &y->n_log2)) == NULL ||
	    (h = yescrypt_param(h, 1, &y->r)) == NULL)
		return -1;
	if (*h != '$') {
		if ((h = yescrypt_param(h, 1, &y->have)) == NULL ||
		    y->have > 15 ||
		    ((y->have & 1) && (h = yescrypt_param(h, 2, &y->p)) ==
		    NULL) ||
		    ((y->have & 2) && (h = yescrypt_param(h, 1, &y->t)) ==
		    NULL) ||
		    ((y->have & 4) && (h = yescrypt_param(h, 1, &y->g)) ==
		    NULL) ||
		    ((y->have & 8) && (h = yescrypt_param(h, 1,
		    &y->nrom_log2)) == NULL))
			return -1;
	}
	return *h == '$' ? 0 : -1;
}

static int
yescrypt_check(const char *h, char **err_r)
{
	struct yescrypt_costs	 y;
	uint64_t		 mem;

	if (yescrypt_parse(h, &y) == -1)
		return fail(err_r, "yescrypt: malformed parameters");
	/* crypt(3) has no ROM to give; upgrades never come from it. */
	if (y.have & (4 | 8))
		return fail(err_r, "yescrypt: hash upgrades and ROMs are not "
		    "supported");
	if (y.n_log2 > 30 || y.r > PWHASH_YESCRYPT_MEM_MAX / 128 ||
	    (mem = (128 * y.r) << y.n_log2) > PWHASH_YESCRYPT_MEM_MAX ||
	    y.p > 64 || y.t > 64 ||
	    mem * y.p * (y.t + 1) > PWHASH_YESCRYPT_WORK_MAX)
		return fail(err_r, "yescrypt: costs over the limits (128*N*r "
		    "<= %llu bytes, times p*(t+1) <= %llu)",
		    (unsigned long long)PWHASH_YESCRYPT_MEM_MAX,
		    (unsigned long long)PWHASH_YESCRYPT_WORK_MAX);
	return 0;
}

static int
check_costs(enum pwhash_scheme s, const char *h, char **err_r)
{
	switch (s) {
	case PWHASH_ARGON2ID:
	case PWHASH_ARGON2I:
		return argon2_check(h, s, err_r);
	case PWHASH_BCRYPT:
		return bcrypt_check(h, err_r);
	case PWHASH_SHA512_CRYPT:
	case PWHASH_SHA256_CRYPT:
		return sha_check(h, s, err_r);
	case PWHASH_YESCRYPT:
		return yescrypt_check(h, err_r);
	default:
		return fail(err_r, "unsupported password scheme");
	}
}

/* The length of a leading open...close of safe bytes, or 0. */
static size_t
token_len(const char *s, char open, char close)
{
	static const char	 safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_.";
	size_t			 n;

	if (s[0] != open)
		return 0;
	for (n = 1; n < TOKEN_MAX && s[n] != '\0'; n++) {
		if (s[n] == close)
			return n + 1;
		if (strchr(safe, s[n]) == NULL)
			return 0;
	}
	return 0;
}

/* Names the "{NAME}" and "$id$" found, never the rest of the hash. */
static int
unsupported(const char *stored, char **err_r)
{
	size_t	 plen, ilen;

	if (stored[0] == '\0')
		return fail(err_r, "empty password hash");
	plen = token_len(stored, '{', '}');
	ilen = token_len(stored + plen, '$', '$');
	if (plen + ilen == 0)
		return fail(err_r, "unsupported password scheme");
	return fail(err_r, "unsupported password scheme %.*s", (int)(plen +
	    ilen), stored);
}

/* A digit of standard base64 ("A-Za-z0-9+/"); 64 for anything else. */
static unsigned
b64_digit(char c)
{
	return digit64("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/", c);
}

/*
 * The end of an unpadded base64 field at s that both libraries decode
 * the same way, with its length in bytes in *len_r; NULL when a digit
 * is left over (length 1 mod 4) or the last one has bits set past the
 * last byte (both libraries refuse those).
 */
static const char *
b64_field(const char *s, size_t *len_r)
{
	size_t		 n;
	unsigned	 d, last = 0;

	for (n = 0; (d = b64_digit(s[n])) < 64; n++)
		last = d;
	if (n % 4 == 1 || (n % 4 == 2 && (last & 0xf) != 0) ||
	    (n % 4 == 3 && (last & 0x3) != 0))
		return NULL;
	*len_r = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
	return s + n;
}

/* libsodium's limits per algorithm (memory in bytes, as it counts). */
static const struct sodium_alg {
	enum pwhash_scheme	 scheme;
	uint64_t		 t_min, t_max, m_min, m_max;
	size_t			 hash_min, str_max;
	int			(*verify)(const char *, const char *,
				    unsigned long long);
} sodium_algs[] = {
	{ PWHASH_ARGON2ID, crypto_pwhash_argon2id_OPSLIMIT_MIN,
	  crypto_pwhash_argon2id_OPSLIMIT_MAX,
	  crypto_pwhash_argon2id_MEMLIMIT_MIN,
	  crypto_pwhash_argon2id_MEMLIMIT_MAX,
	  crypto_pwhash_argon2id_BYTES_MIN, crypto_pwhash_argon2id_STRBYTES,
	  crypto_pwhash_argon2id_str_verify },
	{ PWHASH_ARGON2I, crypto_pwhash_argon2i_OPSLIMIT_MIN,
	  crypto_pwhash_argon2i_OPSLIMIT_MAX,
	  crypto_pwhash_argon2i_MEMLIMIT_MIN,
	  crypto_pwhash_argon2i_MEMLIMIT_MAX,
	  crypto_pwhash_argon2i_BYTES_MIN, crypto_pwhash_argon2i_STRBYTES,
	  crypto_pwhash_argon2i_str_verify },
};

/* sodium_init() once; false (libargon2 only) when it failed. */
static bool
sodium_ready(void)
{
	static int	 state;		/* 0 not yet, 1 ready, -1 failed */

	if (state == 0)
		state = sodium_init() == -1 ? -1 : 1;
	return state == 1;
}

/*
 * From the '$' at p: clean base64 salt, '$', clean base64 hash to the
 * end; at least argon2's 8 salt bytes and a's hash bytes (libsodium
 * wants 16 where libargon2 takes 4).
 */
static bool
sodium_fields(const char *p, const struct sodium_alg *a)
{
	size_t	 salt, hash;

	if ((p = b64_field(p + 1, &salt)) == NULL || *p != '$' ||
	    (p = b64_field(p + 1, &hash)) == NULL || *p != '\0')
		return false;
	return salt >= ARGON2_MIN_SALT_LENGTH && hash >= a->hash_min;
}

/*
 * libsodium's verifier for h when it decides h exactly as libargon2
 * would, so that its -1 can only mean a wrong password; else NULL.
 * That is: "v=19" written out (libsodium has no other version and
 * refuses a string without one), one lane (all libsodium documents),
 * t and m inside its limits, clean salt and hash fields long enough,
 * and the string shorter than STRBYTES (the array its verifier
 * declares).  Decided from the stored string only, never the password.
 */
static const struct sodium_alg *
sodium_alg(const char *h, enum pwhash_scheme s)
{
	const struct sodium_alg	*a = NULL;
	struct argon2_costs	 c;
	const char		*p;
	size_t			 i;

	for (i = 0; i < sizeof(sodium_algs) / sizeof(sodium_algs[0]); i++)
		if (sodium_algs[i].scheme == s)
			a = &sodium_algs[i];
	if (a == NULL || strlen(h) >= a->str_max ||
	    (p = argon2_parse(h, &c)) == NULL || c.v != ARGON2_VERSION_13 ||
	    c.p != 1 || c.t < a->t_min || c.t > a->t_max ||
	    c.m * 1024 < a->m_min || c.m * 1024 > a->m_max ||
	    !sodium_fields(p, a) || !sodium_ready())
		return NULL;
	return a;
}

/*
 * One verification: libsodium's when it can decide h, else libargon2's.
 * (Where libargon2 cannot allocate the memory it says so; libsodium
 * 1.0.18 then says "no", which denies the login all the same.)
 */
static int
argon2_match(const char *h, enum pwhash_scheme s, const char *pw,
    size_t pwlen, char **err_r)
{
	const struct sodium_alg	*a;
	int			 r;

	if ((a = sodium_alg(h, s)) != NULL)
		return a->verify(h, pw, pwlen) == 0 ? 1 : 0;
	r = argon2_verify(h, pw, pwlen, s == PWHASH_ARGON2ID ? Argon2_id :
	    Argon2_i);
	if (r == ARGON2_OK)
		return 1;
	if (r == ARGON2_VERIFY_MISMATCH)
		return 0;
	return fail(err_r, "%s: %s", pwhash_scheme_name(s),
	    argon2_error_message(r));
}

/*
 * A correct stored string is exactly what crypt_rn gives back, so a
 * different length or setting (everything up to the last '$', which
 * holds no secret) means the stored string is malformed, not a wrong
 * password; only then is the whole compared in constant time.
 */
static int
crypt_compare(enum pwhash_scheme s, const char *out, const char *h,
    char **err_r)
{
	size_t	 len = strlen(h), setting;

	setting = (size_t)(strrchr(h, '$') - h);
	if (strlen(out) != len || memcmp(out, h, setting) != 0)
		return fail(err_r, "%s: malformed hash",
		    pwhash_scheme_name(s));
	return CRYPTO_memcmp(out, h, len) == 0 ? 1 : 0;
}

static int
crypt_match(const char *h, enum pwhash_scheme s, const char *pw,
    size_t pwlen, char **err_r)
{
	struct crypt_data	*cd;
	char			 phrase[CRYPT_MAX_PASSPHRASE_SIZE];
	const char		*out;
	int			 rc;

	/*
	 * crypt(3) reads a C string: with a NUL it would hash less.  And
	 * libxcrypt refuses longer phrases, which it cannot have hashed.
	 */
	if (pwlen >= CRYPT_MAX_PASSPHRASE_SIZE ||
	    (pwlen > 0 && memchr(pw, '\0', pwlen) != NULL))
		return 0;
	if (pwlen > 0)
		memcpy(phrase, pw, pwlen);
	phrase[pwlen] = '\0';
	cd = xcalloc(1, sizeof(*cd));
	errno = 0;
	out = crypt_rn(phrase, h, cd, (int)sizeof(*cd));
	explicit_bzero(phrase, pwlen);
	if (out == NULL || out[0] == '*')
		rc = fail(err_r, "%s: malformed hash (crypt: %s)",
		    pwhash_scheme_name(s), errno != 0 ? strerror(errno) :
		    "failed");
	else
		rc = crypt_compare(s, out, h, err_r);
	xfreezero(cd, sizeof(*cd));
	return rc;
}

int
pwhash_verify(const char *stored, const char *pw, size_t pwlen,
    char **err_r)
{
	enum pwhash_scheme	 s;
	const char		*h;

	if (strnlen(stored, PWHASH_STORED_MAX + 1) > PWHASH_STORED_MAX)
		return fail(err_r, "stored password hash over %d bytes",
		    PWHASH_STORED_MAX);
	if ((s = split(stored, &h)) == PWHASH_UNKNOWN)
		return unsupported(stored, err_r);
	if (check_costs(s, h, err_r) == -1)
		return -1;
	if (pwlen > PWHASH_PASSWORD_MAX)
		return 0;
	if (s == PWHASH_ARGON2ID || s == PWHASH_ARGON2I)
		return argon2_match(h, s, pw, pwlen, err_r);
	return crypt_match(h, s, pw, pwlen, err_r);
}

char *
pwhash_new(const struct pwhash_params *pp, const char *pw, size_t pwlen,
    char **err_r)
{
	uint8_t		 salt[PWHASH_SALT_LEN];
	uint32_t	 t = pp->t_cost, m = pp->m_cost_kib;
	uint32_t	 p = pp->parallelism;
	size_t		 len;
	char		*enc;
	int		 r;

	if (pwlen > PWHASH_PASSWORD_MAX) {
		fail(err_r, "password too long (at most %d bytes)",
		    PWHASH_PASSWORD_MAX);
		return NULL;
	}
	/* Below the minimums, argon2 says which itself. */
	if (t > PWHASH_ARGON2_T_MAX || m > PWHASH_ARGON2_M_MAX ||
	    p > PWHASH_ARGON2_P_MAX) {
		fail(err_r, "argon2id (t=%u m=%u KiB p=%u): costs over the "
		    "limits (t<=%d m<=%u p<=%d)", t, m, p, PWHASH_ARGON2_T_MAX,
		    PWHASH_ARGON2_M_MAX, PWHASH_ARGON2_P_MAX);
		return NULL;
	}
	if (getentropy(salt, sizeof(salt)) == -1) {
		fail(err_r, "getentropy: %s", strerror(errno));
		return NULL;
	}
	len = argon2_encodedlen(t, m, p, sizeof(salt), PWHASH_HASH_LEN,
	    Argon2_id) + 1;
	enc = xmalloc(len);
	r = argon2id_hash_encoded(t, m, p, pw, pwlen, salt, sizeof(salt),
	    PWHASH_HASH_LEN, enc, len);
	if (r != ARGON2_OK) {
		free(enc);
		fail(err_r, "argon2id (t=%u m=%u KiB p=%u): %s", t, m, p,
		    argon2_error_message(r));
		return NULL;
	}
	return enc;
}

bool
pwhash_needs_rehash(const char *stored, const struct pwhash_params *pp)
{
	struct argon2_costs	 c;
	const char		*h;

	if (strnlen(stored, PWHASH_STORED_MAX + 1) > PWHASH_STORED_MAX ||
	    split(stored, &h) != PWHASH_ARGON2ID ||
	    argon2_parse(h, &c) == NULL)
		return true;
	return c.v != ARGON2_VERSION_13 || c.t != pp->t_cost ||
	    c.m != pp->m_cost_kib || c.p != pp->parallelism;
}

const char *
pwhash_dummy(const struct pwhash_params *pp, char **err_r)
{
	uint8_t	 pw[DUMMY_PW_LEN];

	if (dummy != NULL && dummy_params.t_cost == pp->t_cost &&
	    dummy_params.m_cost_kib == pp->m_cost_kib &&
	    dummy_params.parallelism == pp->parallelism)
		return dummy;
	pwhash_dummy_free();
	if (getentropy(pw, sizeof(pw)) == -1) {
		fail(err_r, "getentropy: %s", strerror(errno));
		return NULL;
	}
	dummy = pwhash_new(pp, (const char *)pw, sizeof(pw), err_r);
	explicit_bzero(pw, sizeof(pw));
	if (dummy != NULL)
		dummy_params = *pp;
	return dummy;
}

void
pwhash_dummy_free(void)
{
	free(dummy);
	dummy = NULL;
}
