/*
 * proto_deliver — qmgr handing local recipients to deliver, over
 * $run_dir/private/deliver.sock (shared by every deliver process).
 *
 * qmgr sends IPC_HELLO (u32 DELIVER_PROTO, u32 DELIVER_PROTO_VERSION).
 *
 *	DELIVER_MSG	request	str queue_id, str blob, u64 size,
 *				str sender, u32 n, n * rcpt
 *	    rcpt	= u64 rcpt_row (queue_recipients.id), u64 user_id,
 *			  str address (the mailbox's address),
 *			  str orig (the envelope recipient, for Delivered-To)
 *	DELIVER_MSG_R	reply	u32 n, n * result
 *	    result	= u64 rcpt_row, u32 status, str reply
 *	    status	= DELIVER_OK | DELIVER_TEMPFAIL | DELIVER_PERMFAIL
 *
 * Exactly once: deliver marks the queue_recipients row sent in the same
 * transaction that inserts the message, and skips a row that is already
 * sent, so a delivery retried after any crash never makes a second copy.
 */
#ifndef WHARF_PROTO_DELIVER_H
#define WHARF_PROTO_DELIVER_H

#define DELIVER_PROTO		5
#define DELIVER_PROTO_VERSION	1

#define DELIVER_MSG		0x0501
#define DELIVER_MSG_R		0x0502

#define DELIVER_OK		0
#define DELIVER_TEMPFAIL	1
#define DELIVER_PERMFAIL	2

#define DELIVER_SOCKET_NAME	"deliver.sock"	/* in $run_dir/private */

#endif
