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

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['semen_lots', 'inseminations', 'embryo_flushes', 'ivf_sessions',
      'embryos', 'embryo_transfers', 'pregnancy_diagnoses', 'calvings', 'inventory_movements',
      'service_orders', 'invoices'] LOOP
    EXECUTE format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.%I '
                   'FOR EACH ROW EXECUTE FUNCTION audit.record_change()', t);
  END LOOP;
END $$;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.service_prices
  FOR EACH ROW EXECUTE FUNCTION audit.record_change('tenant=none');

-- ---------------------------------------------------------------------------------------
-- Rules. An animal of a reproduction record: of this customer (bulls and sires also from the
-- reference catalogue), of the right sex, born before the event. Another farm's animal is
-- reported as unknown, revealing nothing about it.
CREATE FUNCTION core.repro_check_animal(animal_id bigint, customer bigint, role text,
                                        want_sex text, record text, on_date date,
                                        own_only boolean) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a record;
BEGIN
  SELECT x.official_id, x.sex, x.birth_date, x.customer_id, c.kind
    INTO a FROM core.animals x JOIN core.customers c ON c.id = x.customer_id
   WHERE x.id = animal_id;
  IF NOT FOUND OR (a.customer_id <> customer AND (own_only OR a.kind <> 'reference')) THEN
    PERFORM core.raise_rule('repro.animal_unknown', format(
      '%s: %s id %s is not an animal of this customer%s', record, role, animal_id,
      CASE WHEN own_only THEN '' ELSE ' or of the reference catalogue' END));
  END IF;
  IF a.sex <> want_sex THEN
    PERFORM core.raise_rule('repro.' || role || '_sex', format(
      '%s: %s %s is %s; a %s must be %s', record, role, a.official_id,
      CASE a.sex WHEN 'M' THEN 'male' ELSE 'female' END, role,
      CASE want_sex WHEN 'M' THEN 'male' ELSE 'female' END));
  END IF;
  IF a.birth_date IS NOT NULL AND on_date < a.birth_date THEN
    PERFORM core.raise_rule('repro.before_birth', format(
      '%s: %s %s was born %s, after the event', record, role, a.official_id, a.birth_date));
  END IF;
END $$;

-- How a record names its animal: the official ID if it is the customer's, else only the id.
CREATE FUNCTION core.animal_label(animal_id bigint, customer bigint) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce((SELECT official_id FROM core.animals WHERE id = animal_id
                    AND customer_id = customer), 'id ' || animal_id)
$$;

-- The latest service (insemination or embryo transfer) of a cow on or before a date.
CREATE FUNCTION core.last_service_on_or_before(cow bigint, day date) RETURNS date
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT max(d) FROM (
    SELECT service_date AS d FROM core.inseminations WHERE cow_id = cow AND service_date <= day
    UNION ALL
    SELECT transfer_date FROM core.embryo_transfers WHERE recipient_id = cow AND transfer_date <= day
  ) s
$$;

CREATE FUNCTION core.check_reproduction() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  rec text;
  lot record;
  emb record;
  calf record;
BEGIN
  CASE TG_TABLE_NAME
  WHEN 'inseminations' THEN
    rec := format('insemination of %s on %s', core.animal_label(NEW.cow_id, NEW.customer_id),
                  NEW.service_date);
    IF TG_OP = 'UPDATE' AND NEW.semen_lot_id IS DISTINCT FROM OLD.semen_lot_id THEN
      PERFORM core.raise_rule('inventory.use_is_final', rec || ': the straw used cannot change');
    END IF;
    PERFORM core.repro_check_animal(NEW.cow_id, NEW.customer_id, 'cow', 'F', rec,
                                    NEW.service_date, true);
    PERFORM core.repro_check_animal(NEW.bull_id, NEW.customer_id, 'bull', 'M', rec,
                                    NEW.service_date, false);
    IF NEW.semen_lot_id IS NOT NULL THEN
      SELECT bull_id, lot_code INTO lot FROM core.semen_lots WHERE id = NEW.semen_lot_id;
      IF lot.bull_id <> NEW.bull_id THEN
        PERFORM core.raise_rule('inventory.lot_bull', format(
          '%s: semen lot %s is of another bull', rec, lot.lot_code));
      END IF;
    END IF;
  WHEN 'embryo_flushes' THEN
    rec := format('embryo flush of %s on %s', core.animal_label(NEW.donor_id, NEW.customer_id),
                  NEW.flush_date);
    PERFORM core.repro_check_animal(NEW.donor_id, NEW.customer_id, 'donor', 'F', rec,
                                    NEW.flush_date, true);
    PERFORM core.repro_check_animal(NEW.sire_id, NEW.customer_id, 'sire', 'M', rec,
                                    NEW.flush_date, false);
  WHEN 'ivf_sessions' THEN
    rec := format('OPU/IVF session of %s on %s', core.animal_label(NEW.donor_id, NEW.customer_id),
                  NEW.opu_date);
    PERFORM core.repro_check_animal(NEW.donor_id, NEW.customer_id, 'donor', 'F', rec,
                                    NEW.opu_date, true);
    PERFORM core.repro_check_animal(NEW.sire_id, NEW.customer_id, 'sire', 'M', rec,
                                    NEW.opu_date, false);
  WHEN 'embryos' THEN
    rec := format('embryo %s', NEW.code);
    IF NEW.donor_id IS NOT NULL THEN
      PERFORM core.repro_check_animal(NEW.donor_id, NEW.customer_id, 'donor', 'F', rec,
                                      NEW.produced_on, false);
    END IF;
    IF NEW.sire_id IS NOT NULL THEN
      PERFORM core.repro_check_animal(NEW.sire_id, NEW.customer_id, 'sire', 'M', rec,
                                      NEW.produced_on, false);
    END IF;
  WHEN 'embryo_transfers' THEN
    rec := format('embryo transfer to %s on %s', core.animal_label(NEW.recipient_id, NEW.customer_id),
                  NEW.transfer_date);
    PERFORM core.repro_check_animal(NEW.recipient_id, NEW.customer_id, 'recipient', 'F', rec,
                                    NEW.transfer_date, true);
    SELECT code, produced_on INTO emb FROM core.embryos WHERE id = NEW.embryo_id;
    IF emb.produced_on > NEW.transfer_date THEN
      PERFORM core.raise_rule('transfer.before_embryo', format(
        '%s: embryo %s was produced %s, after the transfer', rec, emb.code, emb.produced_on));
    END IF;
  WHEN 'pregnancy_diagnoses' THEN
    rec := format('pregnancy diagnosis of %s on %s', core.animal_label(NEW.cow_id, NEW.customer_id),
                  NEW.diagnosis_date);
    PERFORM core.repro_check_animal(NEW.cow_id, NEW.customer_id, 'cow', 'F', rec,
                                    NEW.diagnosis_date, true);
    IF core.last_service_on_or_before(NEW.cow_id, NEW.diagnosis_date - 1) IS NULL THEN
      PERFORM core.raise_rule('pregnancy.before_service', format(
        '%s: the cow has no insemination or embryo transfer before this date', rec));
    END IF;
  WHEN 'calvings' THEN
    rec := format('calving of %s on %s', core.animal_label(NEW.dam_id, NEW.customer_id),
                  NEW.calving_date);
    PERFORM core.repro_check_animal(NEW.dam_id, NEW.customer_id, 'dam', 'F', rec,
                                    NEW.calving_date, true);
    IF core.last_service_on_or_before(NEW.dam_id, NEW.calving_date - 240) IS NULL THEN
      PERFORM core.raise_rule('calving.before_conception', format(
        '%s: the dam has no insemination or embryo transfer at least 240 days before', rec));
    END IF;
    IF NEW.calf_id IS NOT NULL THEN
      SELECT official_id, birth_date INTO calf FROM core.animals WHERE id = NEW.calf_id;
      IF calf.birth_date IS DISTINCT FROM NEW.calving_date THEN
        PERFORM core.raise_rule('calving.calf_birth_date', format(
          '%s: calf %s is recorded as born %s', rec, calf.official_id,
          coalesce(calf.birth_date::text, 'on an unknown date')));
      END IF;
    END IF;
  END CASE;
  RETURN NEW;
END $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['inseminations', 'embryo_flushes', 'ivf_sessions', 'embryos',
      'embryo_transfers', 'pregnancy_diagnoses', 'calvings'] LOOP
    EXECUTE format('CREATE TRIGGER check_reproduction BEFORE INSERT OR UPDATE ON core.%I '
                   'FOR EACH ROW EXECUTE FUNCTION core.check_reproduction()', t);
  END LOOP;
END $$;

-- A straw is used once and only if in stock: each insemination naming a lot takes one straw,
-- per statement, and the stock never goes below zero. Runs with the writer's rights.
CREATE FUNCTION core.use_straws() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT n.semen_lot_id, count(*) AS used FROM new_rows n
            WHERE n.semen_lot_id IS NOT NULL GROUP BY 1 ORDER BY 1 LOOP
    UPDATE core.semen_lots SET straws_in_stock = straws_in_stock - r.used
     WHERE id = r.semen_lot_id AND straws_in_stock >= r.used;
    IF NOT FOUND THEN
      PERFORM core.raise_rule('inventory.out_of_stock', format(
        'semen lot %s: %s straw(s) used but %s in stock',
        (SELECT lot_code FROM core.semen_lots WHERE id = r.semen_lot_id), r.used,
        coalesce((SELECT straws_in_stock FROM core.semen_lots WHERE id = r.semen_lot_id), 0)));
    END IF;
  END LOOP;
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
