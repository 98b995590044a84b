-- Farmers record their own breeding events (issue 21, item 3): heats seen get a table of their
-- own, and a customer's admin and users may write reproduction records. Row security still confines every write to the customers
-- the actor sees (core.apply_tenant_policies: reproduction:write AND the customer is visible),
-- which for tenants:own is their own farm only; the statement audit triggers name the actor.
-- Registering a live calf writes core.animals (animals:write): a customer admin has it, a
-- customer user does not, and the portal refuses such a calving by name before writing.
INSERT INTO core.role_permissions (role, permission)
VALUES ('customer_admin', 'reproduction:write'), ('customer_user', 'reproduction:write')
ON CONFLICT DO NOTHING;

-- Heats seen (core.heat_observations, created from the model by 0028_farmer_events.py): a tenant
-- table like the other reproduction records, audited per statement, written with
-- reproduction:write; no heat after the cow left the herd (repro.after_exit), and an exit is
-- not dated before one (exit.events_after).
SELECT core.apply_tenant_policies('core.heat_observations'::regclass, 'reproduction:write');

CREATE TRIGGER audit_insert AFTER INSERT ON core.heat_observations
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit.record_statement();
CREATE TRIGGER audit_update AFTER UPDATE ON core.heat_observations
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit.record_statement();
CREATE TRIGGER audit_delete AFTER DELETE ON core.heat_observations
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION audit.record_statement();

CREATE TRIGGER check_after_exit_insert AFTER INSERT ON core.heat_observations
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION core.check_after_exit('heat of %s on %s', 'cow_id', 'heat_date');
CREATE TRIGGER check_after_exit_update AFTER UPDATE ON core.heat_observations
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION core.check_after_exit('heat of %s on %s', 'cow_id', 'heat_date');

-- The exit rule (0009) with heats among the animal's events.
CREATE OR REPLACE FUNCTION core.check_exit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r record;
BEGIN
  SELECT n.exit_date, a.official_id, a.birth_date INTO r
    FROM new_rows n JOIN core.animals a ON a.id = n.animal_id
   WHERE n.exit_date < a.birth_date LIMIT 1;
  IF FOUND THEN
    PERFORM core.raise_rule('repro.before_birth', format(
      'exit of %s on %s: the animal was born %s, after this date', r.official_id, r.exit_date,
      r.birth_date));
  END IF;
  SELECT n.exit_date, a.official_id, e.what, e.day INTO r
    FROM new_rows n JOIN core.animals a ON a.id = n.animal_id
    JOIN LATERAL (
      SELECT 'insemination' AS what, service_date AS day FROM core.inseminations
       WHERE cow_id = n.animal_id
      UNION ALL SELECT 'heat', heat_date FROM core.heat_observations WHERE cow_id = n.animal_id
      UNION ALL SELECT 'embryo transfer', transfer_date FROM core.embryo_transfers
       WHERE recipient_id = n.animal_id
      UNION ALL SELECT 'pregnancy diagnosis', diagnosis_date FROM core.pregnancy_diagnoses
       WHERE cow_id = n.animal_id
      UNION ALL SELECT 'calving', calving_date FROM core.calvings WHERE dam_id = n.animal_id
      UNION ALL SELECT 'embryo flush', flush_date FROM core.embryo_flushes
       WHERE donor_id = n.animal_id
      UNION ALL SELECT 'OPU/IVF session', opu_date FROM core.ivf_sessions
       WHERE donor_id = n.animal_id) e ON e.day > n.exit_date
   LIMIT 1;
  IF FOUND THEN
    PERFORM core.raise_rule('exit.events_after', format(
      'exit of %s on %s: the animal has a %s recorded on %s, after it left', r.official_id,
      r.exit_date, r.what, r.day));
  END IF;
  RETURN NULL;
END $$;
