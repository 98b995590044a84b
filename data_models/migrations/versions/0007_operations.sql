-- Sign-in protection (docs/threat-model.md): failures and lock-outs are counted in the database
-- so every hub process agrees. The tables have row security and no policy for the application:
-- only these SECURITY DEFINER functions (owner reprotech_definer) read and write them. Usernames
-- are compared in lower case; unknown usernames are counted like known ones, so a lock-out
-- reveals nothing about which accounts exist.
ALTER TABLE core.signin_failures ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.signin_failures FORCE ROW LEVEL SECURITY;
SELECT core.apply_permission_policies('core.signin_lockouts', 'users:manage_all',
                                      'users:manage_all');
GRANT SELECT, INSERT, DELETE ON core.signin_failures TO reprotech_definer;
GRANT SELECT, INSERT, UPDATE ON core.signin_lockouts TO reprotech_definer;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.signin_lockouts
  FOR EACH ROW EXECUTE FUNCTION audit.record_change('tenant=none');

-- When is this username (or this source address) locked out until? NULL: not locked.
CREATE FUNCTION core.signin_locked_until(p_username text, p_source text)
RETURNS timestamptz LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
  SELECT max(locked_until) FROM core.signin_lockouts
   WHERE locked_until > clock_timestamp()
     AND (username = lower(p_username)
          OR (username IS NULL AND p_source IS NOT NULL AND source = p_source))
$$;

-- Record a failed sign-in; lock the username (or the source) out when it reaches its limit
-- within the window. Returns the new lock-out's end, or NULL.
CREATE FUNCTION core.signin_failed(p_username text, p_source text, max_per_user int,
                                   max_per_source int, window_s int, lockout_s int)
RETURNS timestamptz LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  who text := lower(left(p_username, 64));
  src text := left(p_source, 64);
  since timestamptz := clock_timestamp() - make_interval(secs => window_s);
  until timestamptz := clock_timestamp() + make_interval(secs => lockout_s);
  n int;
  locked timestamptz;
BEGIN
  -- One failure at a time per username: concurrent attempts cannot all slip under the limit.
  PERFORM pg_advisory_xact_lock(hashtext('reprotech.signin:' || who));
  DELETE FROM core.signin_failures WHERE failed_at < since;
  INSERT INTO core.signin_failures (username, source) VALUES (who, src);
  SELECT count(*) INTO n FROM core.signin_failures WHERE username = who AND failed_at >= since;
  IF n >= max_per_user AND NOT EXISTS (
      SELECT 1 FROM core.signin_lockouts
       WHERE username = who AND locked_until > clock_timestamp()) THEN
    INSERT INTO core.signin_lockouts (username, source, failures, locked_until)
    VALUES (who, src, n, until);
    locked := until;
  END IF;
  IF src IS NOT NULL THEN
    SELECT count(*) INTO n FROM core.signin_failures WHERE source = src AND failed_at >= since;
    IF n >= max_per_source AND NOT EXISTS (
        SELECT 1 FROM core.signin_lockouts
         WHERE username IS NULL AND source = src AND locked_until > clock_timestamp()) THEN
      INSERT INTO core.signin_lockouts (username, source, failures, locked_until)
      VALUES (NULL, src, n, until);
      locked := until;
    END IF;
  END IF;
  RETURN locked;
END $$;

-- A successful sign-in clears the username's failures (not an active lock-out).
CREATE FUNCTION core.signin_succeeded(p_username text)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  DELETE FROM core.signin_failures WHERE username = lower(p_username)
$$;

-- An administrator lifts a lock-out early (audited as an UPDATE of the lock-out row).
CREATE FUNCTION core.signin_unlock(p_username text)
RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n int;
BEGIN
  IF NOT core.actor_has_permission('users:manage_all') THEN
    RAISE EXCEPTION 'lifting a sign-in lock-out needs permission users:manage_all'
      USING ERRCODE = '42501';
  END IF;
  UPDATE core.signin_lockouts SET locked_until = clock_timestamp(), lifted_by = core.actor_id()
   WHERE (username = lower(p_username) OR (username IS NULL AND source = p_username))
     AND locked_until > clock_timestamp();
  GET DIAGNOSTICS n = ROW_COUNT;
  DELETE FROM core.signin_failures WHERE username = lower(p_username) OR source = p_username;
  RETURN n;
END $$;

GRANT EXECUTE ON FUNCTION core.signin_locked_until(text, text),
  core.signin_failed(text, text, int, int, int, int), core.signin_succeeded(text),
  core.signin_unlock(text) TO reprotech_app;

-- Customer data requests: export (portability) and erasure. Read by whoever sees the customer;
-- written by the platform's customer administrators (customers:manage). Audited.
SELECT core.apply_tenant_policies('core.data_requests', 'customers:manage');
-- Data portability is self-service: whoever sees a customer may record an export of it (the
-- export holds only what row security lets them read), in their own name.
CREATE POLICY export_by_viewer ON core.data_requests FOR INSERT WITH CHECK (
  kind = 'export' AND requested_by = (SELECT core.actor_id())
  AND ((SELECT core.sees_all_customers())
       OR customer_id = ANY ((SELECT core.visible_customer_ids())::bigint[])));
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.data_requests
  FOR EACH ROW EXECUTE FUNCTION audit.record_change();
