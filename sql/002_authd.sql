-- 002_authd: recipient resolution and the authd role.
--
-- wharf_resolve(address, separators) says where mail for one address goes,
-- as rows (kind, address, user_id):
--   'local'      a mailbox: user_id is users.id
--   'remote'     an address in a domain that is not ours
--   'unknown'    a local domain, but no such user or alias
--   'loop'       an alias chain that comes back to an address on it
--   'postmaster' postmaster@ a local domain with no user or alias of that
--                name (RFC 5321 4.5.1: it must always be accepted)
-- Order of lookup for localpart@domain in a local domain: an alias of
-- that exact localpart; a user; if the localpart holds one of the
-- separator characters, the same two for the part before it (user+tag);
-- the domain's catch-all alias (localpart ''); postmaster; unknown.
-- Aliases expand recursively (at most 16 levels deep) into their targets.
-- Called by authd for every RCPT TO; one round trip answers it.

CREATE FUNCTION wharf_resolve_step(addr text, seps text, depth int,
    seen text[])
RETURNS TABLE (kind text, address text, user_id bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	at	int := length(addr) - strpos(reverse(addr), '@') + 1;
	lp	text;
	dom	text;
	dom_id	bigint;
	base	text;
	cut	int;
	found_any boolean;
BEGIN
	IF strpos(addr, '@') = 0 THEN
		RETURN QUERY SELECT 'unknown'::text, addr, NULL::bigint;
		RETURN;
	END IF;
	lp := lower(substr(addr, 1, at - 1));
	dom := lower(substr(addr, at + 1));
	SELECT d.id INTO dom_id FROM domains d WHERE d.name = dom;
	IF dom_id IS NULL THEN
		RETURN QUERY SELECT 'remote'::text, addr, NULL::bigint;
		RETURN;
	END IF;
	IF lower(addr) = ANY (seen) OR depth > 16 THEN
		RETURN QUERY SELECT 'loop'::text, addr, NULL::bigint;
		RETURN;
	END IF;
	seen := seen || lower(addr);
	base := lp;
	FOR pass IN 1..2 LOOP
		-- An alias of this exact name wins over a user of that name.
		found_any := false;
		FOR kind, address, user_id IN
			SELECT r.kind, r.address, r.user_id
			FROM aliases a, LATERAL wharf_resolve_step(a.target,
			    seps, depth + 1, seen) r
			WHERE a.domain_id = dom_id AND a.localpart = base
		LOOP
			found_any := true;
			RETURN NEXT;
		END LOOP;
		IF found_any THEN
			RETURN;
		END IF;
		RETURN QUERY SELECT 'local'::text, base || '@' || dom, u.id
			FROM users u
			WHERE u.domain_id = dom_id AND u.localpart = base;
		IF FOUND THEN
			RETURN;
		END IF;
		-- user+tag: try the part before the first separator.
		cut := 0;
		IF seps <> '' AND pass = 1 THEN
			FOR i IN 1..length(lp) LOOP
				IF strpos(seps, substr(lp, i, 1)) > 0 THEN
					cut := i;
					EXIT;
				END IF;
			END LOOP;
		END IF;
		EXIT WHEN cut <= 1;
		base := substr(lp, 1, cut - 1);
	END LOOP;
	found_any := false;
	FOR kind, address, user_id IN
		SELECT r.kind, r.address, r.user_id
		FROM aliases a, LATERAL wharf_resolve_step(a.target, seps,
		    depth + 1, seen) r
		WHERE a.domain_id = dom_id AND a.localpart = ''
	LOOP
		found_any := true;
		RETURN NEXT;
	END LOOP;
	IF found_any THEN
		RETURN;
	END IF;
	IF lp = 'postmaster' THEN
		RETURN QUERY SELECT 'postmaster'::text, lp || '@' || dom,
		    NULL::bigint;
		RETURN;
	END IF;
	RETURN QUERY SELECT 'unknown'::text, addr, NULL::bigint;
END
$$;

CREATE FUNCTION wharf_resolve(addr text, seps text)
RETURNS TABLE (kind text, address text, user_id bigint)
LANGUAGE sql STABLE AS $$
	SELECT DISTINCT * FROM wharf_resolve_step(addr, seps, 0, '{}')
$$;

-- The authd role: lookups and, later, password checks; the only role
-- that may read password hashes.  Roles are cluster-wide, so create it
-- only if an earlier database of this cluster has not.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wharf_authd')
	THEN
		CREATE ROLE wharf_authd LOGIN;
	END IF;
END
$$;
GRANT SELECT ON domains, users, aliases TO wharf_authd;
GRANT UPDATE (failed_logins, locked_until, last_login_at, password_hash)
	ON users TO wharf_authd;
GRANT INSERT ON audit_log TO wharf_authd;
GRANT USAGE ON SEQUENCE audit_log_id_seq TO wharf_authd;
GRANT EXECUTE ON FUNCTION wharf_resolve(text, text),
	wharf_resolve_step(text, text, int, text[]) TO wharf_authd;
