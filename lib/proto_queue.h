/*
 * proto_queue — handing a message to qmgr, over $run_dir/private/qmgr.sock.
 *
 * smtpd (and later the sendmail command) sends IPC_HELLO (u32 QUEUE_PROTO,
 * u32 QUEUE_PROTO_VERSION) first; qmgr checks SO_PEERCRED.  The life of a
 * message (ARCHITECTURE.md):
 *
 *	QUEUE_SPOOL	request	(empty)
 *	QUEUE_SPOOL_R	reply	u32 status, str spool_id
 *			with IPC_F_FD when status is QUEUE_OK: a new, empty
 *			file in the blob store's tmp/ directory, open for
 *			writing; the client writes the whole message to it
 *			(Received: first) and closes it.
 *	QUEUE_COMMIT	request	str spool_id, envelope
 *	    envelope	= str sender ("" for <>), str envid, u32 ret,
 *			  u32 body, u32 smtputf8, str client_addr,
 *			  str client_name, str helo, str protocol,
 *			  str auth_user, u32 nrcpt, nrcpt * rcpt
 *	    rcpt	= str address, str orcpt, u32 notify
 *	    ret		= QUEUE_RET_NONE | QUEUE_RET_FULL | QUEUE_RET_HDRS
 *	    body	= QUEUE_BODY_7BIT | QUEUE_BODY_8BITMIME |
 *			  QUEUE_BODY_BINARYMIME
 *	    notify	= 0 (not given) or QUEUE_NOTIFY_* bits
 *	QUEUE_COMMIT_R	reply	u32 status, str queue_id
 *	QUEUE_ABORT	request	str spool_id		(no reply)
 * qmgr answers QUEUE_COMMIT with QUEUE_OK only after the file and its
 * directory are fsynced and the queue rows are committed: the client may
 * then say "250 2.0.0 Ok: queued as <queue_id>".  A spool that is neither
 * committed nor aborted is removed when its connection closes, and at the
 * next start of qmgr.
 */
#ifndef WHARF_PROTO_QUEUE_H
#define WHARF_PROTO_QUEUE_H

#define QUEUE_PROTO		4
#define QUEUE_PROTO_VERSION	1

#define QUEUE_SPOOL		0x0401
#define QUEUE_SPOOL_R		0x0402
#define QUEUE_COMMIT		0x0403
#define QUEUE_COMMIT_R		0x0404
#define QUEUE_ABORT		0x0405

#define QUEUE_OK		0
#define QUEUE_TEMPFAIL		1	/* 451 4.3.0 */
#define QUEUE_REJECT		2	/* 554 5.3.4: e.g. no recipients */

#define QUEUE_RET_NONE		0
#define QUEUE_RET_FULL		1
#define QUEUE_RET_HDRS		2

#define QUEUE_BODY_7BIT		0
#define QUEUE_BODY_8BITMIME	1
#define QUEUE_BODY_BINARYMIME	2

#define QUEUE_NOTIFY_NEVER	0x1
#define QUEUE_NOTIFY_SUCCESS	0x2
#define QUEUE_NOTIFY_FAILURE	0x4
#define QUEUE_NOTIFY_DELAY	0x8

#define QUEUE_SOCKET_NAME	"qmgr.sock"	/* in $run_dir/private */
#define QUEUE_RCPT_MAX		10000		/* per message, hard */

#endif
