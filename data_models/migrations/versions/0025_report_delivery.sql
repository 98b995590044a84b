-- Reports delivered (issue 20): the scheduled herd reports, readable by whoever sees the
-- customer (the farm's users, its vets, admins) and written by the reports job (reports:write);
-- each user's email choices, their own to read and change, readable by whoever sends the
-- platform's notifications (notifications:send: the jobs' system user, admins, lab ops).

INSERT INTO core.role_permissions (role, permission) VALUES
  ('super_admin', 'reports:write'), ('admin', 'reports:write'), ('lab_ops', 'reports:write'),
  ('super_admin', 'notifications:send'), ('admin', 'notifications:send'),
  ('lab_ops', 'notifications:send');

SELECT core.apply_tenant_policies('core.customer_reports'::regclass, 'reports:write');

ALTER TABLE core.notification_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.notification_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY own_settings ON core.notification_settings FOR ALL
  USING (user_id = (SELECT core.actor_id())) WITH CHECK (user_id = (SELECT core.actor_id()));
CREATE POLICY sender_read ON core.notification_settings FOR SELECT
  USING ((SELECT core.actor_has_permission('notifications:send')));

-- Audited per row; a report's PDF is recorded as its SHA-256 and length, not its content.
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.customer_reports
  FOR EACH ROW EXECUTE FUNCTION audit.record_change('digest=pdf', 'digest=sha256');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.notification_settings
  FOR EACH ROW EXECUTE FUNCTION audit.record_change('pk=user_id,topic');

-- Notices: news for a customer, written by the database in the transaction that made it
-- (whoever released the run or QC'd the batch, whatever their own rights: SECURITY DEFINER),
-- read by whoever sees the customer, emailed once by notifications:send.
SELECT core.apply_tenant_policies('core.notices'::regclass, 'notifications:send');
GRANT INSERT ON core.notices TO reprotech_definer;

-- An evaluation released: one notice per farm with results in the run.
CREATE FUNCTION core.notice_release() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO core.notices (customer_id, topic, subject, body)
  SELECT r.customer_id, 'evaluation_released', 'New breeding values released',
         format('Evaluation run %s was released on %s: %s animal(s) of your herd have new '
                'breeding values. The portal''s Animals and Rankings pages show them now.',
                NEW.id, to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'),
                count(DISTINCT r.animal_id))
    FROM core.evaluation_results r JOIN core.customers c ON c.id = r.customer_id
   WHERE r.run_id = NEW.id AND c.kind = 'farm'
   GROUP BY r.customer_id;
  RETURN NULL;
END $$;
CREATE TRIGGER notice_release AFTER UPDATE OF status ON core.evaluation_runs FOR EACH ROW
  WHEN (NEW.status = 'released' AND OLD.status IS DISTINCT FROM 'released')
  EXECUTE FUNCTION core.notice_release();

-- A batch QC'd: one notice per farm whose samples failed, naming the animals (a new sample of
-- each is needed). A batch failed as a whole: one notice per farm with samples in it.
CREATE FUNCTION core.notice_qc() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.stage = 'qc' THEN
    INSERT INTO core.notices (customer_id, topic, subject, body)
    SELECT q.customer_id, 'qc_failed', 'Samples failed genotype QC',
           format('%s sample(s) of your herd in genotyping batch %s failed genotype QC: %s. '
                  'A new sample of each animal is needed; the lab will contact you.',
                  count(*), NEW.name,
                  string_agg(a.official_id || ' (' || array_to_string(q.reasons, ', ') || ')',
                             '; ' ORDER BY a.official_id))
      FROM core.qc_results q JOIN core.samples s ON s.id = q.sample_id
      JOIN core.animals a ON a.id = s.animal_id JOIN core.customers c ON c.id = q.customer_id
     WHERE q.batch_id = NEW.id AND q.decision = 'fail' AND c.kind = 'farm'
     GROUP BY q.customer_id;
  ELSE
    INSERT INTO core.notices (customer_id, topic, subject, body)
    SELECT s.customer_id, 'qc_failed', 'Genotyping batch failed',
           format('Genotyping batch %s failed as a whole; %s sample(s) of your herd were in it '
                  'and are being processed again. The lab will contact you.', NEW.name, count(*))
      FROM core.samples s JOIN core.customers c ON c.id = s.customer_id
     WHERE s.batch_id = NEW.id AND c.kind = 'farm'
     GROUP BY s.customer_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER notice_qc AFTER UPDATE OF stage ON core.genotyping_batches FOR EACH ROW
  WHEN (NEW.stage IN ('qc', 'failed') AND OLD.stage IS DISTINCT FROM NEW.stage)
  EXECUTE FUNCTION core.notice_qc();

-- Reset links per account and hour (issue 20): beyond p_per_hour links issued in the last
-- hour, a request issues nothing and sends nothing, with the same answer as an unknown account
-- (nobody learns that the account exists, nobody's inbox is flooded). NULL: no limit (an
-- invitation, sent by the farm's admin).
DROP FUNCTION core.password_reset_issue(text, bytea, int);
CREATE FUNCTION core.password_reset_issue(p_login text, p_token_sha256 bytea, p_minutes int,
                                          p_per_hour int DEFAULT NULL)
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
  IF p_per_hour IS NOT NULL AND (
      SELECT count(*) FROM core.password_resets
       WHERE user_id = u.id AND created_at > clock_timestamp() - interval '1 hour'
    ) >= p_per_hour THEN
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
REVOKE ALL ON FUNCTION core.password_reset_issue(text, bytea, int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.password_reset_issue(text, bytea, int, int) TO reprotech_app;

-- Export and erasure requests from the portal (issue 20): a customer admin
-- (data_requests:create) records a pending request for their own farm, in their own name;
-- an administrator (customers:manage, the existing policies) carries it out or declines it.
-- One pending request of a kind per customer (uq_data_requests_one_pending).
INSERT INTO core.role_permissions (role, permission) VALUES
  ('customer_admin', 'data_requests:create');
CREATE POLICY request_by_customer_admin ON core.data_requests FOR INSERT WITH CHECK (
  status = 'pending' AND requested_by = (SELECT core.actor_id())
  AND (SELECT core.actor_has_permission('data_requests:create'))
  AND customer_id = ANY ((SELECT core.visible_customer_ids())::bigint[]));
