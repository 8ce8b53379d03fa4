/* service — the child skeleton of every daemon (service.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "buf.h"
#include "conf.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "proc.h"
#include "proto_master.h"
#include "service.h"
#include "xmalloc.h"

#define SERVICE_NOFILE	65536

#define CONF_SNAPSHOT_MAX	(1024 * 1024)

static const struct service_ops *ops;

int
service_parse_listen(const char *s, struct service_listener **l_r,
    size_t *n_r, char **err_r)
{
	char		**items = str_split(s, " ", NULL), *colon;
	const char	 *why;
	uint64_t	  fd;
	size_t		  n = 0;

	*l_r = NULL;
	for (char **p = items; *p != NULL; p++) {
		if ((colon = strrchr(*p, ':')) == NULL || colon == *p ||
		    str_to_u64(colon + 1, MASTER_FD_LISTEN, 1024, &fd,
		    &why) == -1) {
			*err_r = xasprintf("WHARF_LISTEN: bad item \"%s\"", *p);
			while (n > 0)
				free((char *)(*l_r)[--n].key);
			free(*l_r);
			*l_r = NULL;
			str_list_free(&items);
			return -1;
		}
		*colon = '\0';
		*l_r = xreallocarray(*l_r, n + 1, sizeof(**l_r));
		(*l_r)[n].key = xstrdup(*p);
		(*l_r)[n].fd = (int)fd;
		n++;
	}
	str_list_free(&items);
	*n_r = n;
	return 0;
}

/* fd 4: the sealed config snapshot. */
static struct conf *
read_conf_snapshot(char **err_r)
{
	struct buf	 b;
	uint8_t		*p;
	ssize_t		 r;
	struct conf	*c;

	/*
	 * pread, never lseek + read: every child shares this open file (and
	 * so its offset) with the master and its siblings, and two children
	 * starting at once would read each other's parts of it.
	 */
	buf_init(&b, CONF_SNAPSHOT_MAX);
	for (;;) {
		if ((p = buf_reserve(&b, 4096)) == NULL) {
			*err_r = xstrdup("config snapshot too large");
			buf_clear(&b);
			return NULL;
		}
		r = pread(MASTER_FD_CONF, p, 4096, (off_t)b.len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			*err_r = xasprintf("config fd: %s", strerror(errno));
			buf_clear(&b);
			return NULL;
		}
		if (r == 0)
			break;
		buf_commit(&b, (size_t)r);
	}
	c = conf_parse(buf_cstr(&b), b.len, "(config snapshot)", err_r);
	buf_clear(&b);
	return c;
}

static void
service_log_setup(struct service *svc, bool to_stderr)
{
	const struct conf *c = svc->conf;
	int		 flags = to_stderr ? LOG_TO_STDERR : LOG_TO_SYSLOG;

	if (strcmp(conf_str(c, "log_format"), "json") == 0)
		flags |= LOG_JSON;
	log_set_facility(log_facility_from_name(conf_str(c,
	    "syslog_facility")));
	log_init(svc->name, flags, log_level_from_name(conf_str(c,
	    "log_level")));
}

static void
service_begin_stop(struct service *svc, const char *why)
{
	if (svc->stopping)
		return;
	svc->stopping = true;
	log_info("stopping: %s", why);
	if (ops->stop != NULL)
		ops->stop(svc);
	else
		service_done(svc);
}

void
service_done(struct service *svc)
{
	ev_break(svc->ev);
}

void
service_report(struct service *svc, unsigned connections)
{
	struct ipc_out	*o;

	if (svc->master == NULL)
		return;
	o = ipc_msg_begin(svc->master, MASTER_STATUS, 0, 0);
	ipc_put_u32(o, connections);
	ipc_msg_end(o);
}

static void
master_on_msg(struct ipc_conn *conn, struct ipc_msg *msg, void *arg)
{
	struct service	*svc = arg;

	if (msg->hdr.type == MASTER_STOP && ipc_get_end(msg) == 0)
		service_begin_stop(svc, "master asked");
	else
		log_warnx("master: unexpected message type=%u",
		    msg->hdr.type);
	(void)conn;
}

static void
master_on_close(struct ipc_conn *conn, const char *reason, void *arg)
{
	struct service	*svc = arg;

	log_debug("master socket closed: %s", reason);
	service_begin_stop(svc, "master gone");
	(void)conn;
}

static const struct ipc_handler master_handler = {
	master_on_msg, master_on_close,
};

static void
on_sigterm(int signo, void *arg)
{
	service_begin_stop(arg, signo == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Everything up to READY; 0 or -1 with *err_r. */
static int
service_setup(struct service *svc, char **err_r)
{
	const char	*listen = getenv("WHARF_LISTEN");

	if ((svc->conf = read_conf_snapshot(err_r)) == NULL)
		return -1;
	service_log_setup(svc, getenv("WHARF_LOG") != NULL &&
	    strcmp(getenv("WHARF_LOG"), "stderr") == 0);
	if (listen != NULL && service_parse_listen(listen, &svc->listeners,
	    &svc->nlisteners, err_r) == -1)
		return -1;
	if (ops->init != NULL && ops->init(svc, err_r) == -1)
		return -1;
	if (ops->chroot_subdir != NULL && proc_is_root())
		svc->chroot = xasprintf("%s/%s", conf_str(svc->conf, "run_dir"),
		    ops->chroot_subdir);
	if (ops->user_key != NULL && proc_drop(conf_str(svc->conf,
	    ops->user_key), svc->chroot, err_r) == -1)
		return -1;
	svc->master = ipc_conn_new(svc->ev, MASTER_FD_CTL, &master_handler,
	    svc);
	if (ops->start != NULL && ops->start(svc, err_r) == -1)
		return -1;
	return ipc_send_empty(svc->master, MASTER_READY, 0, 0);
}

static void
service_free(struct service *svc)
{
	if (ops->cleanup != NULL)
		ops->cleanup(svc);
	ipc_conn_free(&svc->master);
	for (size_t i = 0; i < svc->nlisteners; i++) {
		free((char *)svc->listeners[i].key);
		close(svc->listeners[i].fd);
	}
	free(svc->listeners);
	free(svc->chroot);
	conf_free(&svc->conf);
}

int
service_main(int argc, char *argv[], const struct service_ops *o)
{
	struct service	 svc = { .name = o->name };
	struct ev_signal *term, *intr;
	char		*err = NULL;
	int		 rc = 0;

	ops = o;
	proc_title_init(argc, argv, NULL);
	log_init(o->name, LOG_TO_STDERR, LOG_LEVEL_INFO);
	signal(SIGPIPE, SIG_IGN);
	/* A socket per client, a file per message: the soft limit of
	   descriptors (often 1024) up to the hard one, at most this. */
	if (proc_limits(SERVICE_NOFILE, false, &err) == -1) {
		log_warnx("%s", err);
		free(err);
		err = NULL;
	}
	svc.ev = ev_new();
	term = ev_signal_add(svc.ev, SIGTERM, on_sigterm, &svc);
	intr = ev_signal_add(svc.ev, SIGINT, on_sigterm, &svc);
	if (service_setup(&svc, &err) == -1) {
		log_warnx("startup failed: %s", err != NULL ? err : "?");
		free(err);
		rc = 1;
	} else {
		proc_title("%s", o->name);
		log_info("ready");
		ev_run(svc.ev);
	}
	service_free(&svc);
	ev_signal_del(&term);
	ev_signal_del(&intr);
	ev_free(&svc.ev);
	return rc;
}
