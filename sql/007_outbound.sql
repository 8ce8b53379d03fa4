-- 007_outbound: what qmgr needs to send mail out and to report on it.
--
-- dsn_pending: a delivery status notification may be due for this
-- recipient (it bounced, or it was delivered and NOTIFY asked for
-- SUCCESS); qmgr clears it in the statement that queues the notice (or
-- when none is wanted).  A queue entry is finished when no recipient is
-- pending, deferred or dsn_pending.
-- relayed: the next hop took the recipient without speaking DSN
-- (RFC 3464 2.3.3 Action: relayed).
-- queue.delay_warned: the sender had its delay notice.

ALTER TABLE queue_recipients
	ADD COLUMN dsn_pending	boolean NOT NULL DEFAULT false,
	ADD COLUMN relayed	boolean NOT NULL DEFAULT false;
ALTER TABLE queue
	ADD COLUMN delay_warned	boolean NOT NULL DEFAULT false;
UPDATE queue_recipients SET dsn_pending = true WHERE status = 'bounced';
CREATE INDEX queue_recipients_dsn_idx ON queue_recipients (queue)
	WHERE dsn_pending;
