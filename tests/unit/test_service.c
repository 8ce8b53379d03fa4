/* Unit tests for lib/service: the child side of lib/proto_master.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "buf.h"
#include "conf.h"
#include "ipc.h"
#include "proto_master.h"
#include "service.h"

static int	fail_init;

static int
t_init(struct service *svc, char **err_r)
{
	if (fail_init) {
		*err_r = strdup("init refused");
		return -1;
	}
	/* The listener named in WHARF_LISTEN arrived at fd 5. */
	if (svc->nlisteners != 1 || strcmp(svc->listeners[0].key,
	    "smtp_listen") != 0 || svc->listeners[0].fd != MASTER_FD_LISTEN ||
	    fcntl(MASTER_FD_LISTEN, F_GETFD) == -1) {
		*err_r = strdup("listeners wrong");
		return -1;
	}
	return 0;
}

static void
t_stop(struct service *svc)
{
	service_done(svc);
}

static const struct service_ops t_ops = {
	.name = "test", .init = t_init, .stop = t_stop,
};

/* Fork a child running service_main with the proto_master fds. */
static pid_t
spawn(int *master_fd)
{
	int		 sv[2], mfd, lfd;
	struct conf	*c = conf_defaults();
	struct buf	 b;
	pid_t		 pid;
	static char	 name[] = "test";	/* titles rewrite argv */
	char		*argv[] = { name, NULL };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	buf_init(&b, 1 << 20);
	assert_int_equal(conf_serialize(c, &b), 0);
	mfd = memfd_create("conf", 0);
	assert_int_equal(write(mfd, BUF_DATA(&b), b.len), (ssize_t)b.len);
	buf_clear(&b);
	conf_free(&c);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	if ((pid = fork()) == 0) {
		dup2(sv[1], 100);
		dup2(mfd, 101);
		dup2(lfd, 102);
		dup2(100, MASTER_FD_CTL);
		dup2(101, MASTER_FD_CONF);
		dup2(102, MASTER_FD_LISTEN);
		close_range(MASTER_FD_LISTEN + 1, ~0U, 0);
		setenv("WHARF_LISTEN", "smtp_listen:5", 1);
		_exit(service_main(1, argv, &t_ops));
	}
	close(sv[1]);
	close(mfd);
	close(lfd);
	*master_fd = sv[0];
	return pid;
}

/* Read one frame header (blocking) with a 10 s bound; type or -1. */
static int
read_type(int fd)
{
	struct ipc_hdr	 h;
	uint8_t		 skip[256];
	size_t		 got = 0;
	ssize_t		 r;

	alarm(10);
	while (got < sizeof(h)) {
		if ((r = read(fd, (char *)&h + got, sizeof(h) - got)) <= 0) {
			alarm(0);
			return -1;
		}
		got += (size_t)r;
	}
	for (size_t left = h.len; left > 0; left -= (size_t)r)
		if ((r = read(fd, skip, left < sizeof(skip) ? left :
		    sizeof(skip))) <= 0)
			break;
	alarm(0);
	return (int)h.type;
}

static int
wait_exit(pid_t pid)
{
	int	 status;

	alarm(10);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	alarm(0);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
test_ready_then_stop(void **state)
{
	int		 fd;
	pid_t		 pid;
	struct ipc_hdr	 stop = { MASTER_STOP, 0, 0, 0 };

	fail_init = 0;
	pid = spawn(&fd);
	assert_int_equal(read_type(fd), MASTER_READY);
	assert_int_equal(write(fd, &stop, sizeof(stop)), sizeof(stop));
	assert_int_equal(wait_exit(pid), 0);
	close(fd);
	(void)state;
}

static void
test_master_eof_stops(void **state)
{
	int	 fd;
	pid_t	 pid;

	fail_init = 0;
	pid = spawn(&fd);
	assert_int_equal(read_type(fd), MASTER_READY);
	close(fd);
	assert_int_equal(wait_exit(pid), 0);
	(void)state;
}

static void
test_sigterm_stops(void **state)
{
	int	 fd;
	pid_t	 pid;

	fail_init = 0;
	pid = spawn(&fd);
	assert_int_equal(read_type(fd), MASTER_READY);
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid), 0);
	close(fd);
	(void)state;
}

static void
test_init_failure_no_ready(void **state)
{
	int	 fd;
	pid_t	 pid;

	fail_init = 1;
	pid = spawn(&fd);
	assert_int_equal(wait_exit(pid), 1);
	assert_int_equal(read_type(fd), -1);	/* EOF, never READY */
	close(fd);
	fail_init = 0;
	(void)state;
}

static void
test_parse_listen(void **state)
{
	static const struct {
		const char	*in;
		int		 ok;
		size_t		 n;
	} cases[] = {
		{ "", 0, 0 },
		{ "smtp_listen:5", 0, 1 },
		{ "smtp_listen:5 smtp_listen:6 submission_listen:7", 0, 3 },
		{ "smtp_listen", -1, 0 },
		{ ":5", -1, 0 },
		{ "smtp_listen:4", -1, 0 },	/* below MASTER_FD_LISTEN */
		{ "smtp_listen:x", -1, 0 },
		{ "smtp_listen:99999", -1, 0 },
	};
	struct service_listener	*l;
	size_t			 n;
	char			*err = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = service_parse_listen(cases[i].in, &l, &n, &err);

		assert_int_equal(rc, cases[i].ok);
		if (rc == 0) {
			assert_int_equal(n, cases[i].n);
			for (size_t j = 0; j < n; j++)
				free((char *)l[j].key);
			free(l);
		} else {
			assert_non_null(strstr(err, "WHARF_LISTEN"));
			free(err);
			err = NULL;
		}
	}
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_ready_then_stop),
		cmocka_unit_test(test_master_eof_stops),
		cmocka_unit_test(test_sigterm_stops),
		cmocka_unit_test(test_init_failure_no_ready),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
