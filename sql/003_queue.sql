-- 003_queue: queue recipients after alias expansion; qmgr and deliver roles.
--
-- qmgr expands each envelope recipient with wharf_resolve() when it
-- commits a message: one queue_recipients row per destination, rcpt being
-- the envelope recipient it came from and address where it goes.
-- transport 'local' rows (user_id set) go to deliver, 'remote' rows to mta.

ALTER TABLE queue_recipients
	ADD COLUMN address	text,
	ADD COLUMN user_id	bigint REFERENCES users(id) ON DELETE SET NULL,
	ADD COLUMN transport	text NOT NULL DEFAULT 'local'
				CHECK (transport IN ('local', 'remote'));
UPDATE queue_recipients SET address = rcpt WHERE address IS NULL;
ALTER TABLE queue_recipients ALTER COLUMN address SET NOT NULL;
CREATE INDEX queue_recipients_pending_idx ON queue_recipients
	(transport, next_attempt_at) WHERE status IN ('pending', 'deferred');

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wharf_qmgr')
	THEN
		CREATE ROLE wharf_qmgr LOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wharf_deliver')
	THEN
		CREATE ROLE wharf_deliver LOGIN;
	END IF;
END
$$;

-- qmgr: the queue and the blobs; recipient resolution reads the account
-- tables, but never users.password_hash.
GRANT SELECT, INSERT, UPDATE, DELETE ON queue, queue_recipients, blobs
	TO wharf_qmgr;
GRANT USAGE ON SEQUENCE queue_id_seq, queue_recipients_id_seq,
	blobs_id_seq TO wharf_qmgr;
GRANT SELECT ON domains, aliases TO wharf_qmgr;
GRANT SELECT (id, domain_id, localpart, enabled) ON users TO wharf_qmgr;
GRANT EXECUTE ON FUNCTION wharf_resolve(text, text),
	wharf_resolve_step(text, text, int, text[]) TO wharf_qmgr;

-- deliver: mailboxes and messages; it marks its recipient rows sent in the
-- same statement that inserts the message (exactly-once delivery).
GRANT SELECT, INSERT, UPDATE ON mailboxes TO wharf_deliver;
GRANT SELECT, INSERT ON messages TO wharf_deliver;
GRANT USAGE ON SEQUENCE mailboxes_id_seq, messages_id_seq TO wharf_deliver;
GRANT SELECT, UPDATE (refcount) ON blobs TO wharf_deliver;
GRANT SELECT, UPDATE (status, attempts, last_attempt_at, last_reply,
	dsn_status) ON queue_recipients TO wharf_deliver;
GRANT SELECT (id, domain_id, localpart, quota_bytes, enabled) ON users
	TO wharf_deliver;
