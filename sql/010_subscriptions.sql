-- 010_subscriptions: IMAP subscriptions as a list of names of their own.
--
-- RFC 9051 6.3.7: "A server MUST NOT unilaterally remove an existing
-- mailbox name from the subscription list even if a mailbox by that name
-- no longer exists", and a client may subscribe a name that does not
-- exist (yet).  So a subscription is a name, not a property of a
-- mailbox: DELETE and RENAME leave this table alone, and LIST (SUBSCRIBED)
-- and LSUB show the names without a mailbox (\NonExistent, \Noselect).
-- Names follow the rules of mailboxes.name (UTF-8, "/" between levels).
--
-- The rows come from mailboxes.subscribed, which is then dropped: one
-- place holds the subscriptions, and a column that nothing keeps up to
-- date any more would only mislead.
--
-- imapd subscribes (INSERT), unsubscribes (DELETE) and lists (SELECT);
-- deliver subscribes the default folders it makes (INSERT only, ON
-- CONFLICT DO NOTHING, which needs no more).

CREATE TABLE subscriptions (
	user_id		bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name		text NOT NULL
			CHECK (name <> '' AND name !~ '(^/|/$|//)'),
	PRIMARY KEY (user_id, name)
);

INSERT INTO subscriptions (user_id, name)
	SELECT user_id, name FROM mailboxes WHERE subscribed;
ALTER TABLE mailboxes DROP COLUMN subscribed;

GRANT SELECT, INSERT, DELETE ON subscriptions TO wharf_imapd;
GRANT INSERT ON subscriptions TO wharf_deliver;
