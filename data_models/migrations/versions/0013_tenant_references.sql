-- Every reference a tenant's record makes to another tenant-scoped row stays inside the tenant.
--
-- Most references name a row that must belong to the record's own customer; those are
-- declarative composite foreign keys (animal_id, customer_id) -> animals (id, customer_id) in
-- the models, so PostgreSQL itself refuses another customer's row. A few name an animal that
-- may also come from the shared AI-sire catalogue (customer kind 'reference'): sires and dams
-- in the pedigree, bulls of semen lots and inseminations, sires and donors of embryos, parents
-- in parentage results. A foreign key cannot say "same customer or the catalogue", and a
-- foreign key check ignores row security, so until now a writer could name another farm's
-- animal there (a semen lot whose bull is a competitor's bull). This file closes that for
-- every writer, notebooks included:
--   * core.catalogue_references() lists those columns, once (the models tag the same columns
--     with info={"catalogue_reference": role}; tests/db/test_tenant_references.py compares);
--   * check_tenant_references_insert/update triggers on each of their tables refuse a row
--     naming an animal of another farm (rule tenant.reference), once per statement;
--   * an animal named by such a reference cannot move to another farm, and the catalogue
--     cannot stop being the catalogue while other farms' records name its animals.
-- The functions are SECURITY DEFINER (owner reprotech_definer, privileges.sql) because the
-- writer cannot see the other farm's animal it names, and must not need to.

CREATE FUNCTION core.catalogue_references()
RETURNS TABLE (table_name text, column_name text, role text)
LANGUAGE sql IMMUTABLE AS $$
  VALUES ('animals', 'sire_id', 'sire'), ('animals', 'dam_id', 'dam'),
         ('semen_lots', 'bull_id', 'bull'), ('inseminations', 'bull_id', 'bull'),
         ('embryo_flushes', 'sire_id', 'sire'), ('ivf_sessions', 'sire_id', 'sire'),
         ('embryos', 'donor_id', 'donor'), ('embryos', 'sire_id', 'sire'),
         ('parentage_results', 'recorded_parent_id', 'recorded parent'),
         ('parentage_results', 'suggested_parent_id', 'suggested parent')
$$;

-- Per statement over its new rows: the first row naming an animal that is neither of the
-- row's customer nor of the catalogue is refused. The message names the table, the row, the
-- column and the id the writer gave, and nothing about the animal's owner.
CREATE FUNCTION core.check_tenant_references() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ref record;
  r record;
BEGIN
  FOR ref IN SELECT * FROM core.catalogue_references() c WHERE c.table_name = TG_TABLE_NAME LOOP
    EXECUTE format($q$
      SELECT n.id, n.%1$I AS named
        FROM new_rows n
        LEFT JOIN core.animals a ON a.id = n.%1$I
        LEFT JOIN core.customers c ON c.id = a.customer_id
       WHERE n.%1$I IS NOT NULL
         AND a.customer_id IS DISTINCT FROM n.customer_id
         AND c.kind IS DISTINCT FROM 'reference'
       ORDER BY n.id LIMIT 1 $q$, ref.column_name) INTO r;
    IF r.id IS NOT NULL THEN
      PERFORM core.raise_rule('tenant.reference', format(
        'core.%s id %s, column %s: %s id %s is not an animal of this customer or of the '
        'reference catalogue', TG_TABLE_NAME, r.id, ref.column_name, ref.role, r.named));
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT DISTINCT table_name FROM core.catalogue_references() LOOP
    EXECUTE format('CREATE TRIGGER check_tenant_references_insert AFTER INSERT ON core.%I '
                   'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                   'EXECUTE FUNCTION core.check_tenant_references()', t);
    EXECUTE format('CREATE TRIGGER check_tenant_references_update AFTER UPDATE ON core.%I '
                   'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                   'EXECUTE FUNCTION core.check_tenant_references()', t);
  END LOOP;
END $$;

-- An animal that records of its farm name as bull, sire, dam, ... would, once moved to another
-- farm, be another farm's animal named by them. Moving it is refused unless it moves into the
-- catalogue (the composite foreign keys already refuse moving an animal with own-only records).
CREATE FUNCTION core.check_animal_move() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ref record;
  hit bigint;
BEGIN
  IF (SELECT c.kind FROM core.customers c WHERE c.id = NEW.customer_id) = 'reference' THEN
    RETURN NULL;
  END IF;
  FOR ref IN SELECT * FROM core.catalogue_references() LOOP
    EXECUTE format('SELECT x.id FROM core.%I x WHERE x.%I = $1 AND x.customer_id <> $2 LIMIT 1',
                   ref.table_name, ref.column_name) INTO hit USING NEW.id, NEW.customer_id;
    IF hit IS NOT NULL THEN
      PERFORM core.raise_rule('tenant.reference', format(
        'animal %s cannot move to customer id %s: records of another customer name it as %s '
        '(core.%s.%s)', NEW.official_id, NEW.customer_id, ref.role, ref.table_name,
        ref.column_name));
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER check_tenant_references_move AFTER UPDATE OF customer_id ON core.animals
  FOR EACH ROW WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id)
  EXECUTE FUNCTION core.check_animal_move();

-- The catalogue stops being shared only when no other farm's record names its animals.
CREATE FUNCTION core.check_catalogue_kind() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ref record;
  hit bigint;
BEGIN
  FOR ref IN SELECT * FROM core.catalogue_references() LOOP
    EXECUTE format('SELECT x.id FROM core.%I x JOIN core.animals a ON a.id = x.%I '
                   'WHERE a.customer_id = $1 AND x.customer_id <> $1 LIMIT 1',
                   ref.table_name, ref.column_name) INTO hit USING NEW.id;
    IF hit IS NOT NULL THEN
      PERFORM core.raise_rule('tenant.reference', format(
        'customer %s cannot stop being a reference catalogue: records of other customers name '
        'its animals as %s (core.%s.%s)', NEW.code, ref.role, ref.table_name, ref.column_name));
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER check_tenant_references_kind AFTER UPDATE OF kind ON core.customers
  FOR EACH ROW WHEN (OLD.kind = 'reference' AND NEW.kind IS DISTINCT FROM 'reference')
  EXECUTE FUNCTION core.check_catalogue_kind();

-- Records written before this migration are held to the same rule: the migration stops,
-- naming the first offending row, rather than leave a cross-tenant reference in place.
DO $$
DECLARE
  ref record;
  r record;
BEGIN
  FOR ref IN SELECT * FROM core.catalogue_references() LOOP
    EXECUTE format($q$
      SELECT x.id, x.%2$I AS named FROM core.%1$I x
        JOIN core.animals a ON a.id = x.%2$I JOIN core.customers c ON c.id = a.customer_id
       WHERE a.customer_id <> x.customer_id AND c.kind <> 'reference'
       ORDER BY x.id LIMIT 1 $q$, ref.table_name, ref.column_name) INTO r;
    IF r.id IS NOT NULL THEN
      PERFORM core.raise_rule('tenant.reference', format(
        'cannot migrate: core.%s id %s names animal id %s of another customer in %s; correct '
        'or remove it first', ref.table_name, r.id, r.named, ref.column_name));
    END IF;
  END LOOP;
END $$;
