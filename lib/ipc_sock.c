/*
 * ipc_sock — the UNIX sockets lib/ipc runs over: listening, connecting,
 * and accepting a peer whose uid is allowed (ipc.h).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "xmalloc.h"

static int
set_err(char **err_r, const char *what, const char *path)
{
	if (err_r != NULL)
		*err_r = xasprintf("%s %s: %s", what, path, strerror(errno));
	return -1;
}

static int
unix_addr(struct sockaddr_un *sun, const char *path, char **err_r)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlcpy(sun->sun_path, path, sizeof(sun->sun_path)) >=
	    sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return set_err(err_r, "socket path", path);
	}
	return 0;
}

/* Remove a socket left by a previous run; refuse anything else. */
static int
unlink_stale(const char *path, char **err_r)
{
	struct stat	 st;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : set_err(err_r, "lstat", path);
	if (!S_ISSOCK(st.st_mode)) {
		if (err_r != NULL)
			*err_r = xasprintf("%s: exists and is not a socket",
			    path);
		return -1;
	}
	if (unlink(path) == -1)
		return set_err(err_r, "unlink", path);
	return 0;
}

int
ipc_listen_unix(const char *path, mode_t mode, char **err_r)
{
	struct sockaddr_un	 sun;
	int			 fd;

	if (unix_addr(&sun, path, err_r) == -1 ||
	    unlink_stale(path, err_r) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return set_err(err_r, "socket", path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		set_err(err_r, "bind", path);
		goto fail;
	}
	if (chmod(path, mode) == -1) {
		set_err(err_r, "chmod", path);
		goto unlink;
	}
	if (listen(fd, SOMAXCONN) == -1) {
		set_err(err_r, "listen", path);
		goto unlink;
	}
	return fd;
unlink:
	unlink(path);
fail:
	close(fd);
	return -1;
}

int
ipc_connect_unix(const char *path, char **err_r)
{
	struct sockaddr_un	 sun;
	int			 fd;

	if (unix_addr(&sun, path, err_r) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return set_err(err_r, "socket", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		set_err(err_r, "connect", path);
		close(fd);
		return -1;
	}
	return fd;
}

struct ipc_conn *
ipc_accept(struct ev *ev, int listen_fd, const uid_t *uids, size_t nuids,
    const struct ipc_handler *h, void *arg, pid_t *pid_r)
{
	struct ucred	 uc = { .pid = 0, .uid = (uid_t)-1, .gid = 0 };
	socklen_t	 len = sizeof(uc);
	bool		 ok = false;
	int		 fd;

	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
		return NULL;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0)
		for (size_t i = 0; i < nuids && !ok; i++)
			ok = uids[i] == uc.uid;
	if (!ok) {
		log_warnx("refused peer uid=%ld pid=%ld", (long)uc.uid,
		    (long)uc.pid);
		close(fd);
		return NULL;
	}
	if (pid_r != NULL)
		*pid_r = uc.pid;
	return ipc_conn_new(ev, fd, h, arg);
}
