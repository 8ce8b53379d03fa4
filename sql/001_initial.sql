-- 001_initial: the initial Wharf schema (PostgreSQL 15).
--
-- Applied by db_migrate() inside one transaction together with its
-- schema_version row; it must not contain BEGIN/COMMIT.  Roles and GRANTs
-- are cluster-level and belong to the daemons' setup, not to migrations.
--
-- Conventions: ids are bigserial; times are timestamptz; domain names and
-- local parts are stored lower-cased (domains as ASCII, IDNs as A-labels)
-- and looked up lower-cased; an address is "localpart@domain".

-- Mail domains this installation is final destination for.
CREATE TABLE domains (
	id		bigserial PRIMARY KEY,
	name		text NOT NULL UNIQUE
			CHECK (name <> '' AND name = lower(name)),
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- Mail accounts: one per (domain, localpart); only authd's role reads
-- password_hash.  password_hash is an argon2id PHC string ("$argon2id$...")
-- or a scheme migrated from another server ("{SSHA512}...", "{CRYPT}...",
-- rehashed on the next login); NULL means no password login.
-- quota_bytes 0 means unlimited.  locked_until/failed_logins: lockout.
CREATE TABLE users (
	id		bigserial PRIMARY KEY,
	domain_id	bigint NOT NULL REFERENCES domains(id),
	localpart	text NOT NULL
			CHECK (localpart <> ''
			AND localpart = lower(localpart)),
	password_hash	text,
	quota_bytes	bigint NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
	enabled		boolean NOT NULL DEFAULT true,
	failed_logins	integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
	locked_until	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_login_at	timestamptz,
	UNIQUE (domain_id, localpart)
);

-- Aliases: mail to localpart@domain goes to each target address; the
-- empty localpart is the domain's catch-all.  One row per target.
CREATE TABLE aliases (
	id		bigserial PRIMARY KEY,
	domain_id	bigint NOT NULL REFERENCES domains(id)
			ON DELETE CASCADE,
	localpart	text NOT NULL CHECK (localpart = lower(localpart)),
	target		text NOT NULL CHECK (target <> ''),
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (domain_id, localpart, target)
);

-- IMAP mailboxes.  name is the full UTF-8 path with '/' as the hierarchy
-- delimiter ("Archive/2024"; imapd converts modified UTF-7 for IMAP4rev1
-- clients); the inbox is always "INBOX".  uidnext and highestmodseq are
-- taken with UPDATE ... RETURNING inside the inserting transaction
-- (RFC 3501 2.3.1.1, RFC 7162 CONDSTORE).  special_use: RFC 6154.
CREATE TABLE mailboxes (
	id		bigserial PRIMARY KEY,
	user_id		bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name		text NOT NULL
			CHECK (name <> '' AND name !~ '(^/|/$|//)'),
	uidvalidity	bigint NOT NULL
			CHECK (uidvalidity BETWEEN 1 AND 4294967295),
	uidnext		bigint NOT NULL DEFAULT 1 CHECK (uidnext >= 1),
	highestmodseq	bigint NOT NULL DEFAULT 1 CHECK (highestmodseq >= 1),
	special_use	text CHECK (special_use IN ('\All', '\Archive',
			'\Drafts', '\Flagged', '\Junk', '\Sent', '\Trash')),
	subscribed	boolean NOT NULL DEFAULT true,
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (user_id, name)
);

-- Immutable message files in the blob store, at blobs/ab/cd/<name> under
-- the data dir (ab, cd: the first four characters of name).  refcount
-- counts the queue and messages rows using the blob; it is kept by the
-- writers in the same transaction as those rows, and a blob at 0 may be
-- removed (row, then file).
CREATE TABLE blobs (
	id		bigserial PRIMARY KEY,
	name		text NOT NULL UNIQUE CHECK (name ~ '^[0-9a-z]{8,128}$'),
	size		bigint NOT NULL CHECK (size >= 0),
	refcount	integer NOT NULL DEFAULT 0 CHECK (refcount >= 0),
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- Messages in mailboxes.  One blob is shared by every local recipient;
-- prefix holds the per-recipient header lines served before it
-- (Return-Path:, Delivered-To:), and size is octets of prefix + blob
-- (RFC822.SIZE).  flags is a bitmask of system flags: 1 \Seen,
-- 2 \Answered, 4 \Flagged, 8 \Deleted, 16 \Draft; other keywords are in
-- keywords.  envelope and bodystructure cache the IMAP FETCH responses.
-- delivery_id is the queue_recipients id that delivered the message, so a
-- retried delivery cannot insert a second copy into one mailbox.
CREATE TABLE messages (
	id		bigserial PRIMARY KEY,
	mailbox_id	bigint NOT NULL REFERENCES mailboxes(id)
			ON DELETE CASCADE,
	uid		bigint NOT NULL CHECK (uid BETWEEN 1 AND 4294967295),
	modseq		bigint NOT NULL CHECK (modseq >= 1),
	flags		integer NOT NULL DEFAULT 0
			CHECK (flags >= 0 AND flags < 32),
	keywords	text[] NOT NULL DEFAULT '{}',
	internaldate	timestamptz NOT NULL DEFAULT now(),
	saved_at	timestamptz NOT NULL DEFAULT now(),
	size		bigint NOT NULL CHECK (size >= 0),
	blob_id		bigint NOT NULL REFERENCES blobs(id),
	prefix		bytea NOT NULL DEFAULT ''::bytea,
	envelope	text,
	bodystructure	text,
	fts		tsvector,
	delivery_id	bigint,
	UNIQUE (mailbox_id, uid)
);
CREATE INDEX messages_mailbox_modseq_idx ON messages (mailbox_id, modseq);
CREATE INDEX messages_blob_idx ON messages (blob_id);
CREATE INDEX messages_fts_idx ON messages USING gin (fts);
CREATE UNIQUE INDEX messages_delivery_idx ON messages (mailbox_id, delivery_id)
	WHERE delivery_id IS NOT NULL;

-- Expunge log: UIDs removed from a mailbox and the modseq of the removal,
-- for QRESYNC VANISHED (RFC 7162 3.2.10).
CREATE TABLE expunged (
	mailbox_id	bigint NOT NULL REFERENCES mailboxes(id)
			ON DELETE CASCADE,
	uid		bigint NOT NULL CHECK (uid BETWEEN 1 AND 4294967295),
	modseq		bigint NOT NULL CHECK (modseq >= 1),
	PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX expunged_mailbox_modseq_idx ON expunged (mailbox_id, modseq);

-- The mail queue, owned by qmgr: one row per accepted message.  queue_id is
-- the id in "250 2.0.0 Ok: queued as ID" and on every log line; sender ''
-- is the null reverse-path <>.  ret/envid: RFC 3461 DSN parameters;
-- body/smtputf8: RFC 6152, RFC 3030, RFC 6531.  client_*: the SMTP client
-- for the Received: trace and the logs.  held: kept until released.
CREATE TABLE queue (
	id		bigserial PRIMARY KEY,
	queue_id	text NOT NULL UNIQUE,
	blob_id		bigint NOT NULL REFERENCES blobs(id),
	sender		text NOT NULL,
	size		bigint NOT NULL CHECK (size >= 0),
	created_at	timestamptz NOT NULL DEFAULT now(),
	ret		text CHECK (ret IN ('FULL', 'HDRS')),
	envid		text,
	body		text CHECK (body IN ('7BIT', '8BITMIME', 'BINARYMIME')),
	smtputf8	boolean NOT NULL DEFAULT false,
	client_addr	inet,
	client_name	text,
	client_helo	text,
	protocol	text,
	submitted_by	bigint REFERENCES users(id) ON DELETE SET NULL,
	held		boolean NOT NULL DEFAULT false
);
CREATE INDEX queue_blob_idx ON queue (blob_id);

-- Recipients of a queued message and their delivery state.  orcpt and
-- notify: RFC 3461 (notify "NEVER" or a comma list of SUCCESS, FAILURE,
-- DELAY).  last_reply is the last server reply or error, dsn_status its
-- enhanced status code (RFC 3463), relay the host that gave it.
CREATE TABLE queue_recipients (
	id		bigserial PRIMARY KEY,
	queue		bigint NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
	rcpt		text NOT NULL,
	orcpt		text,
	notify		text CHECK (notify ~ ('^(NEVER|(SUCCESS|FAILURE|DELAY)'
			|| '(,(SUCCESS|FAILURE|DELAY))*)$')),
	status		text NOT NULL DEFAULT 'pending'
			CHECK (status IN ('pending', 'sent', 'deferred',
			'bounced')),
	attempts	integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_attempt_at	timestamptz NOT NULL DEFAULT now(),
	last_attempt_at	timestamptz,
	last_reply	text,
	dsn_status	text,
	relay		text
);
CREATE INDEX queue_recipients_queue_idx ON queue_recipients (queue);
CREATE INDEX queue_recipients_due_idx
	ON queue_recipients (status, next_attempt_at);

-- Security-relevant events (logins, lockouts, admin changes): who, from
-- where, what happened.  service: "imapd", "smtpd", "admind", "wharf"...
CREATE TABLE audit_log (
	id		bigserial PRIMARY KEY,
	at		timestamptz NOT NULL DEFAULT now(),
	service		text NOT NULL,
	account		text,
	client_ip	inet,
	result		text NOT NULL,
	detail		text
);
CREATE INDEX audit_log_account_at_idx ON audit_log (account, at);
CREATE INDEX audit_log_at_idx ON audit_log (at);
