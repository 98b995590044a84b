-- Herd targets: a tenant table read by whoever sees the customer, written with targets:write
-- (the customer's admin, the customer's vets, admins), audited per statement.

INSERT INTO core.role_permissions (role, permission) VALUES
  ('super_admin', 'targets:write'), ('admin', 'targets:write'),
  ('customer_admin', 'targets:write'), ('veterinarian', 'targets:write');

SELECT core.apply_tenant_policies('core.herd_targets'::regclass, 'targets:write');

CREATE TRIGGER audit_insert AFTER INSERT ON core.herd_targets REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit.record_statement();
CREATE TRIGGER audit_update AFTER UPDATE ON core.herd_targets REFERENCING OLD TABLE AS old_rows
  NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit.record_statement();
CREATE TRIGGER audit_delete AFTER DELETE ON core.herd_targets REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit.record_statement();
