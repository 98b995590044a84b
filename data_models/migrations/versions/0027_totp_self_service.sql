-- A user's own TOTP secret (issue 20): set (enrol) or cleared (remove) by its user, only while
-- the password hash is still the one the application verified the password against (compare
-- and swap, as core.change_own_password). Executable by the application login only; the
-- users table's audit trigger records the change (secret redacted) with the reason set here.
CREATE FUNCTION core.set_own_totp(p_expected_hash text, p_secret text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n int;
BEGIN
  PERFORM set_config('app.change_reason', CASE WHEN p_secret IS NULL
    THEN 'second factor removed by its user' ELSE 'second factor enrolled by its user' END,
    true);
  UPDATE core.users SET totp_secret = p_secret
   WHERE id = core.actor_id() AND active AND password_hash IS NOT DISTINCT FROM p_expected_hash;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n = 1;
END $$;
REVOKE ALL ON FUNCTION core.set_own_totp(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.set_own_totp(text, text) TO reprotech_app;
