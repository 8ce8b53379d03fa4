-- 004_submission: who may send as which address, and authd's login grants.
--
-- A submitted message's envelope sender and From: addresses must belong
-- to the authenticated user (unless submission_sender_check = any):
--   - the user's own address, also with a +tag (recipient_delimiter);
--   - an alias of that exact name (not a domain's catch-all) whose
--     expansion reaches the user;
--   - any address in a domain the user administers (domain_admins).
-- wharf_sender_owned(address, user id, separators) answers it in one
-- round trip; authd calls it for MAIL FROM and for each From: address.

-- Users who administer a domain: they may send as any of its addresses.
CREATE TABLE domain_admins (
	domain_id	bigint NOT NULL REFERENCES domains(id)
			ON DELETE CASCADE,
	user_id		bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (domain_id, user_id)
);
CREATE INDEX domain_admins_user_idx ON domain_admins (user_id);

CREATE FUNCTION wharf_sender_owned(addr text, uid bigint, seps text)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
	at	int := length(addr) - strpos(reverse(addr), '@') + 1;
	lp	text;
	base	text;
	dom_id	bigint;
BEGIN
	IF strpos(addr, '@') = 0 THEN
		RETURN false;
	END IF;
	lp := lower(substr(addr, 1, at - 1));
	SELECT d.id INTO dom_id FROM domains d
	    WHERE d.name = lower(substr(addr, at + 1));
	IF dom_id IS NULL OR lp = '' THEN
		RETURN false;
	END IF;
	IF EXISTS (SELECT 1 FROM domain_admins a
	    WHERE a.domain_id = dom_id AND a.user_id = uid) THEN
		RETURN true;
	END IF;
	-- user+tag@domain belongs to whoever owns user@domain.
	base := lp;
	IF seps <> '' THEN
		FOR i IN 2..length(lp) LOOP
			IF strpos(seps, substr(lp, i, 1)) > 0 THEN
				base := substr(lp, 1, i - 1);
				EXIT;
			END IF;
		END LOOP;
	END IF;
	IF EXISTS (SELECT 1 FROM users u WHERE u.id = uid
	    AND u.domain_id = dom_id AND u.localpart IN (lp, base)) THEN
		RETURN true;
	END IF;
	RETURN EXISTS (SELECT 1 FROM aliases a, LATERAL
	    wharf_resolve_step(a.target, seps, 1, ARRAY[lower(addr)]) r
	    WHERE a.domain_id = dom_id AND a.localpart IN (lp, base)
	    AND a.localpart <> '' AND r.kind = 'local' AND r.user_id = uid);
END
$$;

-- Failed logins count only while each follows the one before within
-- auth_lockout_time (authd/login.c).
ALTER TABLE users ADD COLUMN last_failed_at timestamptz;

GRANT SELECT ON domain_admins TO wharf_authd;
GRANT UPDATE (last_failed_at) ON users TO wharf_authd;
GRANT EXECUTE ON FUNCTION wharf_sender_owned(text, bigint, text)
	TO wharf_authd;
