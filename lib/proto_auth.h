/*
 * proto_auth — asking authd, over $run_dir/private/authd.sock.
 *
 * Clients (smtpd, and later imapd and qmgr) send IPC_HELLO (u32
 * AUTH_PROTO, u32 AUTH_PROTO_VERSION) first.  authd checks SO_PEERCRED
 * (root, its own user, wharf_user, wharf_null_user).  Every request gets
 * one reply with IPC_F_REPLY and the request's id; answers may come out of
 * order.  Payload grammars:
 *
 *	AUTH_RCPT	request	str address [u64 submitter]
 *	    address	= "local@domain"
 *	    submitter	= the authenticated user's id on submission: the
 *			  recipient counts against that user's
 *			  submission_recipient_rate_limit (AUTH_TOOMANY
 *			  when over it, and then it is not counted)
 *	AUTH_RCPT_R	reply	u32 status, u32 n, n * dest
 *	    dest	= u32 kind, str address, u64 user_id (0 unless LOCAL)
 *	    status	= AUTH_OK (a local domain, and the address exists: an
 *			  alias, a user, user+tag, a catch-all or postmaster)
 *			| AUTH_NOUSER (a local domain, no such address)
 *			| AUTH_NOTLOCAL (not one of our domains; n = 0)
 *			| AUTH_TEMPFAIL (database unavailable; n = 0)
 *	    kind	= AUTH_DEST_LOCAL | AUTH_DEST_REMOTE | AUTH_DEST_UNKNOWN
 *			| AUTH_DEST_LOOP | AUTH_DEST_POSTMASTER
 *	AUTH_DOMAIN	request	str domain
 *	AUTH_DOMAIN_R	reply	u32 status	(AUTH_OK | AUTH_NOTLOCAL |
 *						 AUTH_TEMPFAIL)
 *	AUTH_RELAY	request	str client address (numeric IPv4 or IPv6)
 *	AUTH_RELAY_R	reply	u32 status	(AUTH_OK: inside mynetworks,
 *						 else AUTH_NOTLOCAL)
 *	AUTH_CONNECT	request	str client address, u32 limit
 *	AUTH_CONNECT_R	reply	u32 status, u32 relay
 *	    status	= AUTH_OK (counted) | AUTH_TOOMANY (that address
 *			  already has limit connections, over every smtpd)
 *	    relay	= 1 when the address is inside mynetworks
 *	AUTH_DISCONNECT	request	str client address		(no reply)
 *	AUTH_PASSWORD	request	str service, str username, str password,
 *			str client address, str mechanism
 *	AUTH_PASSWORD_R	reply	u32 status, u64 user_id, str account
 *	    service	= "smtpd" | "imapd" | ... (for the audit log)
 *	    status	= AUTH_OK (user_id and account, "local@domain", set)
 *			| AUTH_FAILED (wrong password, no such user, account
 *			  disabled or locked, client address locked: one
 *			  answer for all, after the same delay)
 *			| AUTH_TEMPFAIL (database or hashing unavailable)
 *	AUTH_MAIL	request	u64 user_id, str sender ("" for <>)
 *	AUTH_MAIL_R	reply	u32 status
 *	    status	= AUTH_OK (the sender is the user's, and the message
 *			  is counted against submission_message_rate_limit)
 *			| AUTH_DENIED (not an address of the user's)
 *			| AUTH_TOOMANY (over the rate limit; not counted)
 *			| AUTH_TEMPFAIL
 *	AUTH_SENDER	request	u64 user_id, str address	(a From: address)
 *	AUTH_SENDER_R	reply	u32 status (AUTH_OK | AUTH_DENIED | AUTH_TEMPFAIL)
 * "The user's" addresses: submission_sender_check (main.conf(5)).
 * Connections are counted per reporting smtpd connection, so those of an
 * smtpd process that dies are forgotten with it (like Postfix's anvil).
 * imapd counts with the same two requests under other keys: "imap/<client
 * address>" (imap_client_connection_limit) and "imapuser/<user id>"
 * (imap_user_connection_limit, at login).
 * An alias expands to its targets recursively; targets that lead nowhere
 * (UNKNOWN) or back onto the chain (LOOP) are listed so delivery can bounce
 * them, while the RCPT itself is accepted.
 */
#ifndef WHARF_PROTO_AUTH_H
#define WHARF_PROTO_AUTH_H

#define AUTH_PROTO		3
#define AUTH_PROTO_VERSION	1

#define AUTH_RCPT		0x0301
#define AUTH_RCPT_R		0x0302
#define AUTH_DOMAIN		0x0303
#define AUTH_DOMAIN_R		0x0304
#define AUTH_RELAY		0x0305
#define AUTH_RELAY_R		0x0306
#define AUTH_CONNECT		0x0307
#define AUTH_CONNECT_R		0x0308
#define AUTH_DISCONNECT		0x0309
#define AUTH_PASSWORD		0x030a
#define AUTH_PASSWORD_R		0x030b
#define AUTH_MAIL		0x030c
#define AUTH_MAIL_R		0x030d
#define AUTH_SENDER		0x030e
#define AUTH_SENDER_R		0x030f

#define AUTH_OK			0
#define AUTH_NOUSER		1
#define AUTH_NOTLOCAL		2
#define AUTH_TEMPFAIL		3
#define AUTH_TOOMANY		4
#define AUTH_FAILED		5
#define AUTH_DENIED		6

#define AUTH_DEST_LOCAL		1
#define AUTH_DEST_REMOTE	2
#define AUTH_DEST_UNKNOWN	3
#define AUTH_DEST_LOOP		4
#define AUTH_DEST_POSTMASTER	5

#define AUTH_SOCKET_NAME	"authd.sock"	/* in $run_dir/private */

#endif
