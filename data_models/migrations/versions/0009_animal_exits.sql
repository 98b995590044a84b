-- Exits from the herd (sold, slaughter, died): a tenant table like the reproduction records,
-- audited per statement, written with reproduction:write. Two rules hold for every writer
-- (reprotech_core checks them first and reports them with the others):
--   repro.after_exit   no insemination, transfer, diagnosis, calving, flush or OPU of an animal
--                      after the day it left;
--   exit.events_after  an exit is not dated before the animal's recorded events or its birth.
-- Both run once per statement over its transition table, so bulk writes stay cheap.

SELECT core.apply_tenant_policies('core.animal_exits'::regclass, 'reproduction:write');

CREATE TRIGGER audit_insert AFTER INSERT ON core.animal_exits REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit.record_statement();
CREATE TRIGGER audit_update AFTER UPDATE ON core.animal_exits REFERENCING OLD TABLE AS old_rows
  NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit.record_statement();
CREATE TRIGGER audit_delete AFTER DELETE ON core.animal_exits REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit.record_statement();

-- The animal's events, in one shape, for the exit rule.
CREATE FUNCTION core.check_exit() RETURNS trigger
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

CREATE TRIGGER check_exit_insert AFTER INSERT ON core.animal_exits
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION core.check_exit();
CREATE TRIGGER check_exit_update AFTER UPDATE ON core.animal_exits
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION core.check_exit();

-- Arguments: the record's phrase ('insemination of %s on %s'), its animal column, its date.
CREATE FUNCTION core.check_after_exit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r record;
BEGIN
  EXECUTE format($q$
    SELECT a.official_id, n.%2$I AS day, x.exit_date, x.reason
      FROM new_rows n JOIN core.animal_exits x ON x.animal_id = n.%1$I
      JOIN core.animals a ON a.id = n.%1$I
     WHERE n.%2$I > x.exit_date LIMIT 1 $q$, TG_ARGV[1], TG_ARGV[2]) INTO r;
  IF r.official_id IS NOT NULL THEN
    PERFORM core.raise_rule('repro.after_exit', format(
      '%s: %s left the herd on %s (%s)', format(TG_ARGV[0], r.official_id, r.day),
      r.official_id, r.exit_date, r.reason));
  END IF;
  RETURN NULL;
END $$;

DO $$
DECLARE
  spec text[];
  ev text;
BEGIN
  FOREACH spec SLICE 1 IN ARRAY ARRAY[
    ARRAY['inseminations', 'insemination of %s on %s', 'cow_id', 'service_date'],
    ARRAY['embryo_transfers', 'embryo transfer to %s on %s', 'recipient_id', 'transfer_date'],
    ARRAY['pregnancy_diagnoses', 'pregnancy diagnosis of %s on %s', 'cow_id', 'diagnosis_date'],
    ARRAY['calvings', 'calving of %s on %s', 'dam_id', 'calving_date'],
    ARRAY['embryo_flushes', 'embryo flush of %s on %s', 'donor_id', 'flush_date'],
    ARRAY['ivf_sessions', 'OPU/IVF session of %s on %s', 'donor_id', 'opu_date']
  ] LOOP
    FOREACH ev IN ARRAY ARRAY['insert', 'update'] LOOP
      EXECUTE format(
        'CREATE TRIGGER check_after_exit_%s AFTER %s ON core.%I REFERENCING NEW TABLE AS '
        'new_rows FOR EACH STATEMENT EXECUTE FUNCTION core.check_after_exit(%L, %L, %L)',
        ev, upper(ev), spec[1], spec[2], spec[3], spec[4]);
    END LOOP;
  END LOOP;
END $$;
