-- Password self-service (issue 20). The application login may read only the acting user's own
-- row of core.users (policy self_read) and may not update it; these SECURITY DEFINER functions
-- (owner reprotech_definer by privileges.sql) let it do exactly three things more, each
-- executable by the application login only (notebook logins get nothing):
--
-- * core.change_own_password: the acting user replaces their own hash, only while it is still
--   the hash the application verified the current password against (compare and swap: two
--   tabs cannot both change it from the same old password);
-- * core.password_reset_issue: store the SHA-256 of a new reset token for the active user
--   with that username or email address and say where to send it (nothing for no such user);
-- * core.password_reset_spend: spend a token once, before it expires, setting the new hash.
--   An unknown, used or expired token is a named rule; nothing is changed.
--
-- password_resets has row security and no policy for the application: only these functions
-- read and write it. The users table's audit trigger records each change (hash redacted),
-- with the reason set here.
ALTER TABLE core.password_resets ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.password_resets FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE ON core.password_resets TO reprotech_definer;

CREATE FUNCTION core.change_own_password(p_expected text, p_new text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n int;
BEGIN
  PERFORM set_config('app.change_reason', 'password changed by its user', true);
  UPDATE core.users SET password_hash = p_new
   WHERE id = core.actor_id() AND active AND password_hash IS NOT DISTINCT FROM p_expected;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n = 1;
END $$;

CREATE FUNCTION core.password_reset_issue(p_login text, p_token_sha256 bytea, p_minutes int)
RETURNS TABLE (username text, email text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  u record;
BEGIN
  SELECT id, users.username, users.email INTO u FROM core.users
   WHERE active AND users.email IS NOT NULL
     AND (lower(users.username) = lower(btrim(p_login))
          OR lower(users.email) = lower(btrim(p_login)))
   ORDER BY id LIMIT 1;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  -- One live link per user: a new request retires the older ones.
  UPDATE core.password_resets SET used_at = clock_timestamp()
   WHERE user_id = u.id AND used_at IS NULL;
  INSERT INTO core.password_resets (user_id, token_sha256, expires_at)
  VALUES (u.id, p_token_sha256, clock_timestamp() + make_interval(mins => p_minutes));
  username := u.username;
  email := u.email;
  RETURN NEXT;
END $$;

CREATE FUNCTION core.password_reset_spend(p_token_sha256 bytea, p_new text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r record;
  who text;
BEGIN
  SELECT * INTO r FROM core.password_resets WHERE token_sha256 = p_token_sha256 FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM core.raise_rule('password_reset.unknown',
      'this password-reset link is not valid; ask for a new one');
  ELSIF r.used_at IS NOT NULL THEN
    PERFORM core.raise_rule('password_reset.used',
      'this password-reset link has been used already; ask for a new one');
  ELSIF r.expires_at <= clock_timestamp() THEN
    PERFORM core.raise_rule('password_reset.expired',
      'this password-reset link has expired; ask for a new one');
  END IF;
  PERFORM set_config('app.change_reason', 'password reset through an emailed link', true);
  UPDATE core.users SET password_hash = p_new WHERE id = r.user_id AND active
  RETURNING username INTO who;
  IF who IS NULL THEN
    PERFORM core.raise_rule('password_reset.unknown',
      'this password-reset link is not valid; ask for a new one');
  END IF;
  UPDATE core.password_resets SET used_at = clock_timestamp() WHERE id = r.id;
  RETURN who;
END $$;

REVOKE ALL ON FUNCTION core.change_own_password(text, text),
  core.password_reset_issue(text, bytea, int), core.password_reset_spend(bytea, text)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.change_own_password(text, text),
  core.password_reset_issue(text, bytea, int), core.password_reset_spend(bytea, text)
  TO reprotech_app;

-- Is this email address already an account's (any customer's, or staff)? Inviting a user asks
-- before it creates one: a customer admin cannot see other farms' users, and one address must
-- not open two accounts (a reset link goes to the address). Answers yes/no, nothing more.
CREATE FUNCTION core.email_in_use(p_email text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM core.users WHERE lower(email) = lower(btrim(p_email)))
$$;
REVOKE ALL ON FUNCTION core.email_in_use(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.email_in_use(text) TO reprotech_app;
