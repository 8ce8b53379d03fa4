-- 005_imapd: the imapd role and what IMAP needs of the mailbox tables.
--
-- imapd reads and changes mailboxes and messages of the logged-in user
-- (the user id comes from authd); it never reads password hashes.  Every
-- change of a message takes a new modseq from its mailbox's
-- highestmodseq (RFC 7162), under the mailbox row lock, and NOTIFYs
-- wharf_mailbox with the mailbox id, so other sessions (IDLE) see it.
-- Expunged messages leave a row in expunged (QRESYNC VANISHED).

-- Messages by uid come in order; flags and searches by mailbox.
CREATE INDEX messages_mailbox_uid_idx ON messages (mailbox_id, uid)
	INCLUDE (flags, modseq);

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wharf_imapd')
	THEN
		CREATE ROLE wharf_imapd LOGIN;
	END IF;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON mailboxes, messages, expunged
	TO wharf_imapd;
GRANT USAGE ON SEQUENCE mailboxes_id_seq, messages_id_seq, blobs_id_seq
	TO wharf_imapd;
GRANT SELECT, INSERT, UPDATE (refcount) ON blobs TO wharf_imapd;
GRANT SELECT (id, domain_id, localpart, quota_bytes, enabled) ON users
	TO wharf_imapd;
GRANT SELECT (id, name) ON domains TO wharf_imapd;
