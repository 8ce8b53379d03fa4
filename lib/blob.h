/*
 * blob — the blob store: immutable message files under $state_dir/blobs.
 *
 * A message is written once to tmp/<name>, then made durable by
 * blob_commit(): fsync the file, rename it to <ab>/<name> (<ab> the first
 * two characters of the name: 1,296 directories, each made once, ~800
 * files apiece at a million messages), fsync the directory (and the top
 * one when <ab> was made).  (A second level, <ab>/<cd>/, made a new
 * directory for nearly every message: 1.7 million possible ones, each an
 * inode and two more fsyncs.)  Names are 20 random characters of [0-9a-z]; the
 * blobs table refers to them (sql/001_initial.sql).  Files under tmp/ are
 * never referenced by the database: blob_tmp_clean() removes them at
 * start, after a crash.
 */
#ifndef WHARF_BLOB_H
#define WHARF_BLOB_H

#include <stdbool.h>
#include <stddef.h>

#define BLOB_NAME_LEN	20

/* Make dir and dir/tmp if missing (mode 0750). */
int	blob_store_init(const char *dir, char **err_r);
/* New empty tmp file; name_r gets BLOB_NAME_LEN + 1 bytes.  fd or -1. */
int	blob_tmp_create(const char *dir, char *name_r, char **err_r);
/* fsync fd, rename tmp/name into place, fsync directories. */
int	blob_commit(const char *dir, const char *name, int fd, char **err_r);
/*
 * A file in tmp/ with no name yet (O_TMPFILE: made ahead, it leaves
 * nothing behind if we die), then named by blob_tmp_name() as
 * blob_tmp_create() would.  fd or -1; 0 or -1 (name_r as above).
 */
int	blob_tmp_anon(const char *dir, char **err_r);
int	blob_tmp_name(const char *dir, int fd, char *name_r, char **err_r);
void	blob_tmp_unlink(const char *dir, const char *name);
/* Remove every file in tmp/; returns how many. */
int	blob_tmp_clean(const char *dir);
/* Open a committed blob read-only; -1 with errno. */
int	blob_open(const char *dir, const char *name);
/* Remove a committed blob (refcount reached 0). */
int	blob_remove(const char *dir, const char *name);
bool	blob_name_valid(const char *name);

#endif
