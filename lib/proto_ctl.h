/*
 * proto_ctl — `wharf` talking to the master over $run_dir/master.sock.
 *
 * The socket is mode 0600; the master also checks SO_PEERCRED (root or its
 * own uid).  Every request gets exactly one reply with IPC_F_REPLY and the
 * request's id.  Payload grammars:
 *
 *	CTL_STATUS	request		(empty)
 *	CTL_STATUS_R	reply		u32 master_pid, u64 started (unix s),
 *					u32 generation, u32 nservices,
 *					nservices * service
 *	    service	= str name, u32 state, u32 restarts, u32 nchildren,
 *			  nchildren * (u32 pid, u64 started (unix s),
 *			  u32 ready)
 *	    state	= CTL_SVC_RUNNING | CTL_SVC_STARTING |
 *			  CTL_SVC_THROTTLED | CTL_SVC_STOPPING
 *	CTL_RELOAD	request		(empty)
 *	CTL_STOP	request		(empty)
 *	CTL_RESULT	reply		u32 ok (1/0), str message
 * CTL_STOP is answered before the master starts stopping; the caller then
 * waits for the pid to go away.
 */
#ifndef WHARF_PROTO_CTL_H
#define WHARF_PROTO_CTL_H

#define CTL_PROTO		2
#define CTL_PROTO_VERSION	1

#define CTL_STATUS		0x0201
#define CTL_STATUS_R		0x0202
#define CTL_RELOAD		0x0203
#define CTL_STOP		0x0204
#define CTL_RESULT		0x0205

#define CTL_SVC_RUNNING		0
#define CTL_SVC_STARTING	1
#define CTL_SVC_THROTTLED	2
#define CTL_SVC_STOPPING	3

#define CTL_SOCKET_NAME		"master.sock"
#define CTL_PIDFILE_NAME	"master.pid"

#endif
