-- 006_recent: the \Recent flag of IMAP4rev1 (RFC 3501 2.3.2).
--
-- A message is \Recent in exactly one session: the first read-write
-- IMAP4rev1 session to see it in its mailbox.  recent_uid splits a
-- mailbox's UIDs: those below it were claimed by some session, those at
-- or above it not yet.  A session claims [recent_uid, uidnext) as it
-- selects the mailbox or learns of new messages, moving recent_uid up to
-- the uidnext of what it saw, in one UPDATE under the mailbox row lock
-- (imapd/mailbox_db.c), so two sessions never claim the same message.
-- STATUS RECENT is the number of messages with uid >= recent_uid.
--
-- Existing mailboxes start with nothing recent.

ALTER TABLE mailboxes ADD COLUMN recent_uid bigint NOT NULL DEFAULT 1
	CHECK (recent_uid >= 1);
UPDATE mailboxes SET recent_uid = uidnext;
