/*
 * New passwords for `wharf user add|passwd`: read from the terminal
 * (asked twice) or as one line of stdin, never from argv; hashed with
 * argon2id (RFC 9106) using the main.conf argon2_* costs, so authd can
 * verify them and rehash when the costs change.  The clear text is wiped
 * as soon as the hash exists.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/readpassphrase.h>

#include "buf.h"
#include "conf.h"
#include "pwhash.h"
#include "wharf.h"

#define PASSWD_MAX	1024	/* buffer, so at most 1023 bytes */

static int
read_tty(const char *what, char *pw, size_t size)
{
	char	 again[PASSWD_MAX];
	size_t	 n;
	int	 rc = -1;

	if (readpassphrase("New password: ", pw, size, RPP_REQUIRE_TTY) ==
	    NULL ||
	    readpassphrase("Retype new password: ", again, sizeof(again),
	    RPP_REQUIRE_TTY) == NULL)
		wharf_errx("%s: cannot read the password: %s", what,
		    strerror(errno));
	else if ((n = strlen(pw)) != strlen(again) ||
	    !str_ct_equal(pw, again, n))
		wharf_errx("%s: the passwords do not match", what);
	else if (n + 1 >= size)
		wharf_errx("%s: password too long (at most %zu bytes)",
		    what, size - 2);
	else
		rc = 0;
	explicit_bzero(again, sizeof(again));
	return rc;
}

/* One line, byte by byte so that no stdio buffer keeps a copy. */
static int
read_line(const char *what, char *pw, size_t size)
{
	size_t	 n = 0;
	ssize_t	 r;
	char	 c;

	for (;;) {
		r = read(STDIN_FILENO, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			wharf_errx("%s: cannot read the password: %s", what,
			    strerror(errno));
			return -1;
		}
		if (r == 0 || c == '\n')
			break;
		if (n + 1 >= size) {
			wharf_errx("%s: password too long (at most %zu "
			    "bytes)", what, size - 1);
			return -1;
		}
		pw[n++] = c;
	}
	if (n > 0 && pw[n - 1] == '\r')
		n--;
	pw[n] = '\0';
	return 0;
}

static char *
hash(const struct conf *c, const char *what, const char *pw)
{
	struct pwhash_params	 pp;
	char			*enc, *err;

	/* The key table bounds each; argon2 refuses m < 8 p. */
	pp.t_cost = (uint32_t)conf_int(c, "argon2_time_cost");
	pp.m_cost_kib = (uint32_t)(conf_int(c, "argon2_memory_cost") / 1024);
	pp.parallelism = (uint32_t)conf_int(c, "argon2_parallelism");
	if ((enc = pwhash_new(&pp, pw, strlen(pw), &err)) == NULL) {
		wharf_errx("%s: %s", what, err);
		free(err);
	}
	return enc;
}

char *
passwd_new_hash(const struct conf *c, const char *what)
{
	char	 pw[PASSWD_MAX];
	char	*enc = NULL;
	int	 r;

	if (isatty(STDIN_FILENO))
		r = read_tty(what, pw, sizeof(pw));
	else
		r = read_line(what, pw, sizeof(pw));
	if (r == 0 && pw[0] == '\0')
		wharf_errx("%s: empty password", what);
	else if (r == 0)
		enc = hash(c, what, pw);
	explicit_bzero(pw, sizeof(pw));
	return enc;
}
