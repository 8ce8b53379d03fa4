/*
 * proto_mta — qmgr handing remote recipients to the outbound mta, over
 * $run_dir/private/mta.sock (shared by every mta process).
 *
 * qmgr sends IPC_HELLO (u32 MTA_PROTO, u32 MTA_PROTO_VERSION) on each
 * connection, then any number of requests, several in flight at once;
 * each is answered once, in any order, matched by the frame id.
 *
 *	MTA_DELIVER	request, with the message's blob as the frame's fd
 *			(opened read-only by qmgr; the mta reads it with
 *			pread and closes it when the transaction is over)
 *		str queue_id	for logs ("4F2A...")
 *		u64 size	octets of the blob, as queued
 *		str sender	envelope sender, "" for the null sender
 *		str envid	ENVID as received (xtext), "" if none
 *		u32 ret		MTA_RET_*
 *		u32 body	MTA_BODY_*
 *		u32 smtputf8	1 if MAIL carried SMTPUTF8
 *		str domain	destination: the recipients' domain (every
 *				recipient of one request has it)
 *		u32 n		1 .. MTA_RCPTS_MAX
 *		n * rcpt
 *	    rcpt = u64 row	queue_recipients.id, echoed in the result
 *		   str address	"local@domain" to put in RCPT TO
 *		   str orcpt	ORCPT "rfc822;xtext" as received, "" if none
 *		   u32 notify	QUEUE_NOTIFY_* bits (0: not given)
 *
 *	MTA_DELIVER_R	reply	u32 n, n * result (one per request rcpt)
 *	    result = u64 row
 *		     u32 status	MTA_OK | MTA_TEMPFAIL | MTA_PERMFAIL
 *		     str dsn	RFC 3463 status "2.0.0", "4.4.1", "5.1.1"
 *		     str reply	diagnostic for logs and DSNs, Postfix's
 *				wording: "host mx.example.com[192.0.2.1]
 *				said: 550 5.1.1 ... (in reply to RCPT TO
 *				command)", "connect to ...: Connection
 *				refused", "Host or domain name not found..."
 *		     str relay	"mx.example.com[192.0.2.1]:25", or "none"
 *				when no server was reached
 *		     u32 flags	MTA_F_*
 *
 * The mta never touches the database: qmgr records every result (sent,
 * deferred with the next attempt, bounced) when the reply comes.  A
 * request whose reply never comes (mta killed, connection lost) leaves
 * its recipients pending for the next attempt.
 */
#ifndef WHARF_PROTO_MTA_H
#define WHARF_PROTO_MTA_H

#define MTA_PROTO		6
#define MTA_PROTO_VERSION	1

#define MTA_DELIVER		0x0601
#define MTA_DELIVER_R		0x0602

#define MTA_RCPTS_MAX		1000

#define MTA_RET_DEFAULT		0
#define MTA_RET_FULL		1
#define MTA_RET_HDRS		2

#define MTA_BODY_7BIT		0
#define MTA_BODY_8BITMIME	1
#define MTA_BODY_BINARYMIME	2

#define MTA_OK			0
#define MTA_TEMPFAIL		1
#define MTA_PERMFAIL		2

/* The peer took the recipient without DSN support while a NOTIFY was
   given: a SUCCESS notice says "relayed" (RFC 3461 4.1, 3464 2.3.3). */
#define MTA_F_RELAYED		0x0001

#define MTA_SOCKET_NAME		"mta.sock"	/* in $run_dir/private */

#endif
