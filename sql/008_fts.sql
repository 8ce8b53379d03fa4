-- 008_fts: full-text candidates for IMAP SEARCH BODY/TEXT.
--
-- deliver and imapd's APPEND store strip(to_tsvector('simple', words)) in
-- messages.fts (messages_fts_idx, GIN, from 001); imapd's search asks
-- "(fts IS NULL OR fts @@ query)": NULL means no vector (a message from
-- before it, or text too long), so the message is always read.  This
-- index answers the "fts IS NULL" half, letting PostgreSQL combine both
-- halves in a BitmapOr instead of reading every row of the mailbox.
-- The grants of 003 (wharf_deliver: INSERT) and 005 (wharf_imapd:
-- SELECT, INSERT, UPDATE) cover the column already.

CREATE INDEX messages_fts_null_idx ON messages (mailbox_id, uid)
	WHERE fts IS NULL;
