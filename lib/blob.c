/* blob — the blob store (blob.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "blob.h"
#include "xmalloc.h"

#define BLOB_PATH_MAX	4096

static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";

bool
blob_name_valid(const char *name)
{
	size_t	 n = strlen(name);

	if (n < 8 || n > 128)
		return false;
	return strspn(name, alphabet) == n;
}

static int
fail(char **err_r, const char *what, const char *path)
{
	*err_r = xasprintf("%s %s: %s", what, path, strerror(errno));
	return -1;
}

static int
mkdir_if_missing(const char *path, bool *made)
{
	if (mkdir(path, 0750) == 0) {
		if (made != NULL)
			*made = true;
		return 0;
	}
	return errno == EEXIST ? 0 : -1;
}

int
blob_store_init(const char *dir, char **err_r)
{
	char	 path[BLOB_PATH_MAX];

	snprintf(path, sizeof(path), "%s/tmp", dir);
	if (mkdir_if_missing(dir, NULL) == -1)
		return fail(err_r, "mkdir", dir);
	if (mkdir_if_missing(path, NULL) == -1)
		return fail(err_r, "mkdir", path);
	return 0;
}

/* Uniform over the alphabet: reject bytes that would bias it. */
static int
random_name(char *name)
{
	unsigned char	 r[64];
	size_t		 n = 0;

	while (n < BLOB_NAME_LEN) {
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return -1;
		for (size_t i = 0; i < sizeof(r) && n < BLOB_NAME_LEN; i++)
			if (r[i] < 252)		/* 252 = 7 * 36 */
				name[n++] = alphabet[r[i] % 36];
	}
	name[n] = '\0';
	return 0;
}

int
blob_tmp_create(const char *dir, char *name_r, char **err_r)
{
	char	 path[BLOB_PATH_MAX];
	int	 fd;

	do {
		if (random_name(name_r) == -1)
			return fail(err_r, "getrandom", "");
		snprintf(path, sizeof(path), "%s/tmp/%s", dir, name_r);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	} while (fd == -1 && errno == EEXIST);
	if (fd == -1)
		return fail(err_r, "create", path);
	return fd;
}

int
blob_tmp_anon(const char *dir, char **err_r)
{
	char	 path[BLOB_PATH_MAX];
	int	 fd;

	snprintf(path, sizeof(path), "%s/tmp", dir);
	if ((fd = open(path, O_RDWR | O_TMPFILE | O_CLOEXEC, 0640)) == -1)
		return fail(err_r, "create an unnamed file in", path);
	return fd;
}

/* Through /proc: linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH. */
int
blob_tmp_name(const char *dir, int fd, char *name_r, char **err_r)
{
	char	 path[BLOB_PATH_MAX], self[64];
	int	 r;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	do {
		if (random_name(name_r) == -1)
			return fail(err_r, "getrandom", "");
		snprintf(path, sizeof(path), "%s/tmp/%s", dir, name_r);
		r = linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
	} while (r == -1 && errno == EEXIST);
	if (r == -1)
		return fail(err_r, "link", path);
	return 0;
}

static int
fsync_dir(const char *path)
{
	int	 fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
blob_commit(const char *dir, const char *name, int fd, char **err_r)
{
	char	 ab[BLOB_PATH_MAX];
	char	 from[BLOB_PATH_MAX], to[BLOB_PATH_MAX * 2];
	bool	 made_ab = false;

	snprintf(ab, sizeof(ab), "%s/%.2s", dir, name);
	snprintf(from, sizeof(from), "%s/tmp/%s", dir, name);
	snprintf(to, sizeof(to), "%s/%s", ab, name);
	if (fsync(fd) == -1)
		return fail(err_r, "fsync", from);
	if (mkdir_if_missing(ab, &made_ab) == -1)
		return fail(err_r, "mkdir", ab);
	if (rename(from, to) == -1)
		return fail(err_r, "rename", from);
	/* The new entry, and the directory if made for it, must be durable. */
	if (fsync_dir(ab) == -1 || (made_ab && fsync_dir(dir) == -1))
		return fail(err_r, "fsync directory of", to);
	return 0;
}

void
blob_tmp_unlink(const char *dir, const char *name)
{
	char	 path[BLOB_PATH_MAX];

	snprintf(path, sizeof(path), "%s/tmp/%s", dir, name);
	unlink(path);
}

int
blob_tmp_clean(const char *dir)
{
	char		 path[BLOB_PATH_MAX];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	snprintf(path, sizeof(path), "%s/tmp", dir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (!blob_name_valid(e->d_name))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static int
blob_path(const char *dir, const char *name, char *out, size_t size)
{
	if (!blob_name_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(out, size, "%s/%.2s/%s", dir, name, name);
	return 0;
}

int
blob_open(const char *dir, const char *name)
{
	char	 path[BLOB_PATH_MAX];

	if (blob_path(dir, name, path, sizeof(path)) == -1)
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC);
}

int
blob_remove(const char *dir, const char *name)
{
	char	 path[BLOB_PATH_MAX];

	if (blob_path(dir, name, path, sizeof(path)) == -1)
		return -1;
	return unlink(path);
}
