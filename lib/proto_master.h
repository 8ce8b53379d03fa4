/*
 * proto_master — the contract between the master and its children.
 *
 * File descriptors a child starts with (everything else is closed):
 *	0, 1, 2	/dev/null, /dev/null, the master's stderr (foreground
 *		mode) or /dev/null (daemon mode; the child logs to syslog)
 *	3	MASTER_FD_CTL: a UNIX stream socket to the master, speaking
 *		lib/ipc with the messages below.  EOF means the master is
 *		gone: the child exits.
 *	4	MASTER_FD_CONF: a sealed memfd holding the validated,
 *		expanded config snapshot (conf_serialize), so children never
 *		read /etc and work inside a chroot.
 *	5...	MASTER_FD_LISTEN: listening sockets, in the order named by
 *		the environment variable WHARF_LISTEN:
 *		    WHARF_LISTEN = *( key ":" fd SP )
 *		e.g. "smtp_listen:5 smtp_listen:6 submission_listen:7".
 * The environment also holds WHARF_LOG = "stderr" (foreground master: log
 * to fd 2) or "syslog".
 * The child is started as root when the master is root and drops
 * privileges itself (lib/proc) after opening what only root may open; it
 * then sends MASTER_READY.  Exit before READY, or no READY within
 * service_ready_timeout, throttles the service (restart delay doubling from
 * service_backoff_min to service_backoff_max); a crash after READY is
 * restarted at once.
 *
 * Messages (lib/ipc framing; payload grammar after the name):
 *	MASTER_READY	child -> master		(empty)
 *	MASTER_STATUS	child -> master		u32 connections
 *	MASTER_STOP	master -> child		(empty): stop accepting, finish
 *						in-flight work, exit 0
 * Reload is done by the master starting a new generation of children and
 * sending MASTER_STOP to the old one.
 */
#ifndef WHARF_PROTO_MASTER_H
#define WHARF_PROTO_MASTER_H

#define MASTER_FD_CTL		3
#define MASTER_FD_CONF		4
#define MASTER_FD_LISTEN	5

#define MASTER_PROTO		1
#define MASTER_PROTO_VERSION	1

#define MASTER_READY		0x0101
#define MASTER_STATUS		0x0102
#define MASTER_STOP		0x0103

#endif
