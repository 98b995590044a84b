-- Reproduction records and the financial module: row security, audit, the rules every writer
-- obeys (sexes, dates in order, stock), the analytics view of services, the seed price list.
-- reprotech_core.reproduction checks the same rules first, so a form or an import reports
-- them all before writing; these triggers are the backstop for every other writer.

-- ---------------------------------------------------------------------------------------
-- Row security and audit.
SELECT core.apply_tenant_policies(t::regclass, 'reproduction:write')
  FROM unnest(ARRAY['core.semen_lots', 'core.inseminations', 'core.embryo_flushes',
                    'core.ivf_sessions', 'core.embryos', 'core.embryo_transfers',
                    'core.pregnancy_diagnoses', 'core.calvings',
                    'core.inventory_movements']) AS t;

-- The acting user may open a module: their role's modules, cut to their customer's tier.
CREATE FUNCTION core.actor_has_module(mod text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM core.users u
      JOIN core.role_modules rm ON rm.role = u.role
      LEFT JOIN core.customers c ON c.id = u.customer_id
      LEFT JOIN core.subscription_tiers t ON t.code = c.tier
     WHERE u.id = core.actor_id() AND rm.module = mod
       AND (u.customer_id IS NULL OR mod = ANY (t.modules)))
$$;

-- Orders and invoices: read by those who may open the financial module (admins; a customer's
-- admin on a tier with it), within the customers they see; written with financial:write.
SELECT core.apply_tenant_policies(t::regclass, 'financial:write')
  FROM unnest(ARRAY['core.service_orders', 'core.invoices']) AS t;
DROP POLICY tenant_read ON core.service_orders;
DROP POLICY tenant_read ON core.invoices;
CREATE POLICY tenant_read ON core.service_orders FOR SELECT
  USING ((SELECT core.actor_has_module('financial')) AND (SELECT core.sees_all_customers()
         OR customer_id = ANY ((SELECT core.visible_customer_ids())::bigint[])));
CREATE POLICY tenant_read ON core.invoices FOR SELECT
  USING ((SELECT core.actor_has_module('financial')) AND (SELECT core.sees_all_customers()
         OR customer_id = ANY ((SELECT core.visible_customer_ids())::bigint[])));

-- The price list is public to every signed-in actor; only financial:write changes it.
ALTER TABLE core.service_prices ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.service_prices FORCE ROW LEVEL SECURITY;
CREATE POLICY signed_in_read ON core.service_prices FOR SELECT
  USING ((SELECT core.actor_id()) IS NOT NULL);
CREATE POLICY staff_write ON core.service_prices FOR ALL
  USING ((SELECT core.actor_has_permission('financial:write')))
  WITH CHECK ((SELECT core.actor_has_permission('financial:write')));

-- The audit log rows of these tables are written once per statement from its transition
-- tables: the same rows audit.record_change writes (actor, login, application, action, table,
-- key, customer, old and new values, reason), without a function call and a partition routing
-- per row, which made a bulk import of breeding events 5-15x slower.
CREATE FUNCTION audit.record_statement() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  actor bigint := core.actor_id();
  app text := NULLIF(current_setting('application_name', true), '');
  why text := NULLIF(current_setting('app.change_reason', true), '');
  tbl text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO audit.log (actor_user_id, db_login, application, action, table_name, row_id,
                           customer_id, old_values, new_values, reason)
    SELECT actor, session_user, app, TG_OP, tbl, n.id::text, n.customer_id, NULL, to_jsonb(n),
           why
      FROM new_rows n ORDER BY n.id;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO audit.log (actor_user_id, db_login, application, action, table_name, row_id,
                           customer_id, old_values, new_values, reason)
    SELECT actor, session_user, app, TG_OP, tbl, n.id::text, n.customer_id, to_jsonb(o),
           to_jsonb(n), why
      FROM new_rows n JOIN old_rows o ON o.id = n.id ORDER BY n.id;
  ELSE
    INSERT INTO audit.log (actor_user_id, db_login, application, action, table_name, row_id,
                           customer_id, old_values, new_values, reason)
    SELECT actor, session_user, app, TG_OP, tbl, o.id::text, o.customer_id, to_jsonb(o), NULL,
           why
      FROM old_rows o ORDER BY o.id;
  END IF;
  RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['semen_lots', 'inseminations', 'embryo_flushes', 'ivf_sessions',
      'embryos', 'embryo_transfers', 'pregnancy_diagnoses', 'calvings', 'inventory_movements',
      'service_orders', 'invoices'] LOOP
    EXECUTE format('CREATE TRIGGER audit_insert AFTER INSERT ON core.%I REFERENCING NEW TABLE '
                   'AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit.record_statement()', t);
    EXECUTE format('CREATE TRIGGER audit_update AFTER UPDATE ON core.%I REFERENCING OLD TABLE '
                   'AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT '
                   'EXECUTE FUNCTION audit.record_statement()', t);
    EXECUTE format('CREATE TRIGGER audit_delete AFTER DELETE ON core.%I REFERENCING OLD TABLE '
                   'AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION audit.record_statement()', t);
  END LOOP;
END $$;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.service_prices
  FOR EACH ROW EXECUTE FUNCTION audit.record_change('tenant=none');

-- ---------------------------------------------------------------------------------------
-- Rules, checked once per statement over all its new rows (set-based: a bulk import of
-- 100,000 rows costs a few joins, not 100,000 function calls). An animal of a reproduction
-- record is of this customer (bulls and sires also from the reference catalogue), of the right
-- sex, born before the event; another farm's animal is reported as unknown, revealing nothing.
-- Arguments: the record's phrase ('insemination of %s on %s'), the column naming the record's
-- animal, its date column, then one 'column:role:sex:own|any' per animal the row names.
CREATE FUNCTION core.check_reproduction() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  phrase text := TG_ARGV[0];
  label_col text := TG_ARGV[1];
  day_col text := TG_ARGV[2];
  col text;
  role text;
  want text;
  own boolean;
  r record;
  rec text;
BEGIN
  FOR i IN 3 .. TG_NARGS - 1 LOOP
    col := split_part(TG_ARGV[i], ':', 1);
    role := split_part(TG_ARGV[i], ':', 2);
    want := split_part(TG_ARGV[i], ':', 3);
    own := split_part(TG_ARGV[i], ':', 4) = 'own';
    EXECUTE format($q$
      SELECT n.%1$I AS animal_id, n.%2$I AS day, a.official_id, a.sex, a.birth_date,
             (a.id IS NULL OR (a.customer_id <> n.customer_id
                               AND (%3$L OR c.kind <> 'reference'))) AS unknown,
             coalesce(l.official_id, 'id ' || n.%4$I) AS label
        FROM new_rows n
        LEFT JOIN core.animals a ON a.id = n.%1$I
        LEFT JOIN core.customers c ON c.id = a.customer_id
        LEFT JOIN core.animals l ON l.id = n.%4$I AND l.customer_id = n.customer_id
       WHERE n.%1$I IS NOT NULL
         AND (a.id IS NULL OR (a.customer_id <> n.customer_id AND (%3$L OR c.kind <> 'reference'))
              OR a.sex <> %5$L OR n.%2$I < a.birth_date)
       LIMIT 1 $q$, col, day_col, own, label_col, want) INTO r;
    CONTINUE WHEN r.animal_id IS NULL;
    rec := format(phrase, r.label, r.day);
    IF r.unknown THEN
      PERFORM core.raise_rule('repro.animal_unknown', format(
        '%s: %s id %s is not an animal of this customer%s', rec, role, r.animal_id,
        CASE WHEN own THEN '' ELSE ' or of the reference catalogue' END));
    ELSIF r.sex <> want THEN
      PERFORM core.raise_rule('repro.' || role || '_sex', format(
        '%s: %s %s is %s; a %s must be %s', rec, role, r.official_id,
        CASE r.sex WHEN 'M' THEN 'male' ELSE 'female' END, role,
        CASE want WHEN 'M' THEN 'male' ELSE 'female' END));
    ELSE
      PERFORM core.raise_rule('repro.before_birth', format(
        '%s: %s %s was born %s, after the event', rec, role, r.official_id, r.birth_date));
    END IF;
  END LOOP;

  IF TG_TABLE_NAME = 'inseminations' THEN
    IF TG_OP = 'UPDATE' THEN
      SELECT n.service_date AS day, a.official_id AS label INTO r
        FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN core.animals a ON a.id = n.cow_id
       WHERE n.semen_lot_id IS DISTINCT FROM o.semen_lot_id LIMIT 1;
      IF FOUND THEN
        PERFORM core.raise_rule('inventory.use_is_final', format(phrase, r.label, r.day)
                                || ': the straw used cannot change');
      END IF;
    END IF;
    SELECT n.service_date AS day, a.official_id AS label, l.lot_code INTO r
      FROM new_rows n JOIN core.semen_lots l ON l.id = n.semen_lot_id
      JOIN core.animals a ON a.id = n.cow_id
     WHERE l.bull_id <> n.bull_id LIMIT 1;
    IF FOUND THEN
      PERFORM core.raise_rule('inventory.lot_bull', format(
        '%s: semen lot %s is of another bull', format(phrase, r.label, r.day), r.lot_code));
    END IF;
  ELSIF TG_TABLE_NAME = 'embryo_transfers' THEN
    SELECT n.transfer_date AS day, a.official_id AS label, e.code, e.produced_on INTO r
      FROM new_rows n JOIN core.embryos e ON e.id = n.embryo_id
      JOIN core.animals a ON a.id = n.recipient_id
     WHERE e.produced_on > n.transfer_date LIMIT 1;
    IF FOUND THEN
      PERFORM core.raise_rule('transfer.before_embryo', format(
        '%s: embryo %s was produced %s, after the transfer', format(phrase, r.label, r.day),
        r.code, r.produced_on));
    END IF;
  ELSIF TG_TABLE_NAME = 'pregnancy_diagnoses' THEN
    SELECT n.diagnosis_date AS day, a.official_id AS label INTO r
      FROM new_rows n JOIN core.animals a ON a.id = n.cow_id
     WHERE NOT EXISTS (SELECT 1 FROM core.inseminations i
                        WHERE i.cow_id = n.cow_id AND i.service_date < n.diagnosis_date)
       AND NOT EXISTS (SELECT 1 FROM core.embryo_transfers t
                        WHERE t.recipient_id = n.cow_id AND t.transfer_date < n.diagnosis_date)
     LIMIT 1;
    IF FOUND THEN
      PERFORM core.raise_rule('pregnancy.before_service', format(
        '%s: the cow has no insemination or embryo transfer before this date',
        format(phrase, r.label, r.day)));
    END IF;
  ELSIF TG_TABLE_NAME = 'calvings' THEN
    SELECT n.calving_date AS day, a.official_id AS label INTO r
      FROM new_rows n JOIN core.animals a ON a.id = n.dam_id
     WHERE NOT EXISTS (SELECT 1 FROM core.inseminations i
                        WHERE i.cow_id = n.dam_id AND i.service_date <= n.calving_date - 240)
       AND NOT EXISTS (SELECT 1 FROM core.embryo_transfers t
                        WHERE t.recipient_id = n.dam_id AND t.transfer_date <= n.calving_date - 240)
     LIMIT 1;
    IF FOUND THEN
      PERFORM core.raise_rule('calving.before_conception', format(
        '%s: the dam has no insemination or embryo transfer at least 240 days before',
        format(phrase, r.label, r.day)));
    END IF;
    SELECT n.calving_date AS day, a.official_id AS label, k.official_id AS calf,
           k.birth_date INTO r
      FROM new_rows n JOIN core.animals a ON a.id = n.dam_id
      JOIN core.animals k ON k.id = n.calf_id
     WHERE k.birth_date IS DISTINCT FROM n.calving_date LIMIT 1;
    IF FOUND THEN
      PERFORM core.raise_rule('calving.calf_birth_date', format(
        '%s: calf %s is recorded as born %s', format(phrase, r.label, r.day), r.calf,
        coalesce(r.birth_date::text, 'on an unknown date')));
    END IF;
  END IF;
  RETURN NULL;
END $$;

DO $$
DECLARE
  spec text[];
  ev text;
BEGIN
  FOREACH spec SLICE 1 IN ARRAY ARRAY[
    ARRAY['inseminations', 'insemination of %s on %s', 'cow_id', 'service_date',
          'cow_id:cow:F:own', 'bull_id:bull:M:any'],
    ARRAY['embryo_flushes', 'embryo flush of %s on %s', 'donor_id', 'flush_date',
          'donor_id:donor:F:own', 'sire_id:sire:M:any'],
    ARRAY['ivf_sessions', 'OPU/IVF session of %s on %s', 'donor_id', 'opu_date',
          'donor_id:donor:F:own', 'sire_id:sire:M:any'],
    ARRAY['embryos', 'embryo of %s produced %s', 'donor_id', 'produced_on',
          'donor_id:donor:F:any', 'sire_id:sire:M:any'],
    ARRAY['embryo_transfers', 'embryo transfer to %s on %s', 'recipient_id', 'transfer_date',
          'recipient_id:recipient:F:own', ''],
    ARRAY['pregnancy_diagnoses', 'pregnancy diagnosis of %s on %s', 'cow_id', 'diagnosis_date',
          'cow_id:cow:F:own', ''],
    ARRAY['calvings', 'calving of %s on %s', 'dam_id', 'calving_date', 'dam_id:dam:F:own', '']
  ] LOOP
    FOREACH ev IN ARRAY ARRAY['insert', 'update'] LOOP
      EXECUTE format(
        'CREATE TRIGGER check_reproduction_%s AFTER %s ON core.%I REFERENCING %s NEW TABLE AS '
        'new_rows FOR EACH STATEMENT EXECUTE FUNCTION core.check_reproduction(%s)',
        ev, upper(ev), spec[1], CASE ev WHEN 'update' THEN 'OLD TABLE AS old_rows' ELSE '' END,
        (SELECT string_agg(quote_literal(a), ', ') FROM unnest(spec[2:6]) a WHERE a <> ''));
    END LOOP;
  END LOOP;
END $$;

-- A straw is used once and only if in stock: each insemination naming a lot takes one straw,
-- per statement (the lots are locked, checked, then updated in one statement), and the stock
-- never goes below zero (a check constraint backs this). Runs with the writer's rights.
CREATE FUNCTION core.use_straws() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  PERFORM 1 FROM core.semen_lots l
   WHERE l.id IN (SELECT semen_lot_id FROM new_rows) ORDER BY l.id FOR UPDATE;
  SELECT l.lot_code, u.used, l.straws_in_stock INTO r
    FROM (SELECT semen_lot_id, count(*) AS used FROM new_rows
           WHERE semen_lot_id IS NOT NULL GROUP BY 1) u
    JOIN core.semen_lots l ON l.id = u.semen_lot_id
   WHERE l.straws_in_stock < u.used LIMIT 1;
  IF FOUND THEN
    PERFORM core.raise_rule('inventory.out_of_stock', format(
      'semen lot %s: %s straw(s) used but %s in stock', r.lot_code, r.used, r.straws_in_stock));
  END IF;
  UPDATE core.semen_lots l SET straws_in_stock = l.straws_in_stock - u.used
    FROM (SELECT semen_lot_id, count(*) AS used FROM new_rows
           WHERE semen_lot_id IS NOT NULL GROUP BY 1) u
   WHERE l.id = u.semen_lot_id;
  RETURN NULL;
END $$;
CREATE TRIGGER use_straws AFTER INSERT ON core.inseminations
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION core.use_straws();

-- An embryo is transferred once and only if in stock.
CREATE FUNCTION core.use_embryo() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE core.embryos SET status = 'transferred'
   WHERE id = NEW.embryo_id AND status = 'in_stock';
  IF NOT FOUND THEN
    PERFORM core.raise_rule('embryo.not_in_stock', format(
      'embryo transfer %s: embryo %s is not in stock', NEW.transfer_date,
      (SELECT code FROM core.embryos WHERE id = NEW.embryo_id)));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER use_embryo AFTER INSERT ON core.embryo_transfers
  FOR EACH ROW EXECUTE FUNCTION core.use_embryo();

-- ---------------------------------------------------------------------------------------
-- Services (inseminations and embryo transfers) in one shape, for KPIs, dashboards and
-- notebooks; the reader's row security applies.
CREATE VIEW core.reproduction_services WITH (security_invoker = true) AS
  SELECT i.customer_id, 'ai'::text AS kind, i.id AS record_id, i.cow_id, a.herd_id,
         i.service_date, i.bull_id AS sire_id, i.technician
    FROM core.inseminations i JOIN core.animals a ON a.id = i.cow_id
  UNION ALL
  SELECT t.customer_id, 'et', t.id, t.recipient_id, a.herd_id, t.transfer_date, e.sire_id,
         t.technician
    FROM core.embryo_transfers t
    JOIN core.embryos e ON e.id = t.embryo_id
    JOIN core.animals a ON a.id = t.recipient_id;

-- ---------------------------------------------------------------------------------------
-- Seed: who writes the financial records, and the price list.
INSERT INTO core.role_permissions (role, permission) VALUES
  ('super_admin', 'financial:write'), ('admin', 'financial:write');

INSERT INTO core.service_prices (service, description, unit_price, currency, valid_from) VALUES
  ('genotyping', 'Genomic test on the 60k SNP chip, with parentage', 38.00, 'EUR', '2020-01-01'),
  ('embryo_flush', 'Superovulation and embryo flush of a donor, grading', 260.00, 'EUR', '2020-01-01'),
  ('opu_ivf', 'Ovum pick-up and in-vitro embryo production', 340.00, 'EUR', '2020-01-01'),
  ('embryo_transfer', 'Transfer of one embryo to a recipient', 95.00, 'EUR', '2020-01-01'),
  ('pregnancy_diagnosis', 'Pregnancy diagnosis by ultrasound', 12.50, 'EUR', '2020-01-01');
