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
