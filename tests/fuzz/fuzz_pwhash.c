/*
 * fuzz_pwhash — pwhash_verify on a fuzzed stored string.
 *
 * The input is the stored hash; the password is fixed ("hunter2", the
 * password of the seed corpus), then over-long.  Checked: the result is
 * -1, 0 or 1 with *err_r set exactly on -1; an unknown scheme never gets
 * past -1; an over-long password never matches and is only refused
 * (-1) when the stored string itself was; needs_rehash is false only for
 * argon2id.
 *
 * The library lets a stored hash cost up to its PWHASH_*_MAX limits
 * (gigabytes, seconds).  To keep runs fast this target skips any input
 * that could cost more than about a millisecond or a few MiB, judging
 * every place a cost could be read (a superset of where the library
 * reads it): argon2 m= over 1024 KiB, t= or p= over 2; bcrypt costs over
 * 06; rounds= over 5000; yescrypt parameters beyond N=2^10, r=8,
 * single-digit extras of 0 or 1 (so p<=3, t<=2).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pwhash.h"

#define STORED_MAX	(PWHASH_STORED_MAX + 64)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

/* Every number after name in s: true when one is over max. */
static bool
field_over(const char *s, const char *name, uint64_t max)
{
	const char	*p;
	uint64_t	 v;

	for (p = s; (p = strstr(p, name)) != NULL; ) {
		p += strlen(name);
		for (v = 0; *p >= '0' && *p <= '9'; p++)
			if ((v = v * 10 + (uint64_t)(*p - '0')) > max)
				return true;
	}
	return false;
}

/* "$2?$NN": a bcrypt cost over max anywhere. */
static bool
bcrypt_over(const char *s, unsigned max)
{
	const char	*p;

	for (p = s; (p = strstr(p, "$2")) != NULL; p++) {
		if (p[2] == '\0' || p[3] != '$')
			continue;
		if (p[4] >= '0' && p[4] <= '9' && p[5] >= '0' && p[5] <= '9' &&
		    (unsigned)(p[4] - '0') * 10 + (unsigned)(p[5] - '0') > max)
			return true;
	}
	return false;
}

static unsigned
yes_digit(char c)
{
	static const char	 digits[] = "./0123456789"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	const char		*p;

	if (c == '\0' || (p = strchr(digits, c)) == NULL)
		return 64;
	return (unsigned)(p - digits);
}

/* After every "$y$": flavor, N_log2 - 1 <= 9, r - 1 <= 7, extras <= 1. */
static bool
yescrypt_over(const char *s)
{
	const char	*p;
	size_t		 i;
	unsigned	 d;

	for (p = s; (p = strstr(p, "$y$")) != NULL; ) {
		p += 3;
		for (i = 0; p[i] != '\0' && p[i] != '$'; i++) {
			if ((d = yes_digit(p[i])) > 47)
				return true;	/* a multi-digit value */
			if ((i == 1 && d > 9) || (i == 2 && d > 7) ||
			    (i > 2 && d > 1) || i > 5)
				return true;
		}
	}
	return false;
}

static bool
costly(const char *s)
{
	return field_over(s, "m=", 1024) || field_over(s, "t=", 2) ||
	    field_over(s, "p=", 2) || field_over(s, "rounds=", 5000) ||
	    bcrypt_over(s, 6) || yescrypt_over(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pwhash_params	 pp = { 1, 64, 1 };
	static char				 long_pw[PWHASH_PASSWORD_MAX +
						    1];
	char					 stored[STORED_MAX + 1];
	char					*err = NULL, *err2 = NULL;
	enum pwhash_scheme			 s;
	int					 r, r2;

	if (size > STORED_MAX)
		return 0;
	memcpy(stored, data, size);
	stored[size] = '\0';
	if (costly(stored))
		return 0;
	s = pwhash_scheme(stored);
	check(strcmp(pwhash_scheme_name(s), "") != 0);
	r = pwhash_verify(stored, "hunter2", 7, &err);
	check(r >= -1 && r <= 1);
	check((r == -1) == (err != NULL));
	check(s != PWHASH_UNKNOWN || r == -1);
	free(err);

	memset(long_pw, 'x', sizeof(long_pw));
	r2 = pwhash_verify(stored, long_pw, sizeof(long_pw), &err2);
	check(r2 == -1 || r2 == 0);
	check((r2 == -1) == (err2 != NULL));
	check(r2 == 0 || r == -1);
	check(r == -1 || r2 == 0);
	free(err2);

	check(pwhash_needs_rehash(stored, &pp) || s == PWHASH_ARGON2ID);
	return 0;
}
