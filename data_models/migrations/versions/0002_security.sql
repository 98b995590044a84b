-- Security layer of the foundation: who is acting, what they may see and write (row-level
-- security), business rules that must hold for every writer (pedigree, tier limits, released
-- results, batch stages), the append-only audit log, and pseudonymised research views.
-- See docs/security-model.md. Ownership and grants live in data_models/sql/privileges.sql.

-- ---------------------------------------------------------------------------------------
-- Rule violations carry SQLSTATE RT001 and "rule: <code>" in DETAIL; reprotech_core maps
-- them to RuleViolation.
CREATE FUNCTION core.raise_rule(rule text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'RT001', MESSAGE = message, DETAIL = 'rule: ' || rule;
END $$;

-- ---------------------------------------------------------------------------------------
-- The acting user. For the application login it is the per-transaction setting the server
-- sets from the authenticated identity; for any other login (a notebook's) it is the user whose
-- db_login is the *session* user, which neither SET ROLE nor any setting can change.
CREATE FUNCTION core.actor_id() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE
    WHEN pg_has_role(session_user, 'reprotech_app', 'MEMBER') THEN
      (SELECT u.id FROM core.users u
        WHERE u.id = NULLIF(current_setting('app.user_id', true), '')::bigint AND u.active)
    ELSE
      (SELECT u.id FROM core.users u WHERE u.db_login = session_user::text AND u.active)
  END
$$;

CREATE FUNCTION core.actor_has_permission(perm text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM core.users u JOIN core.role_permissions p ON p.role = u.role
     WHERE u.id = core.actor_id() AND p.permission = perm)
$$;

-- Customers the actor may read: all (tenants:all), assigned ones (tenants:assigned) or their
-- own (tenants:own). The application may narrow this to one tenant per transaction with
-- app.tenant_id; narrowing can only remove customers, never add one.
CREATE FUNCTION core.visible_customer_ids() RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  WITH me AS (
    SELECT u.id, u.role, u.customer_id FROM core.users u WHERE u.id = core.actor_id()
  ), perms AS (
    SELECT p.permission FROM core.role_permissions p JOIN me ON p.role = me.role
  ), scope AS (
    SELECT c.id FROM core.customers c
     WHERE EXISTS (SELECT 1 FROM perms WHERE permission = 'tenants:all')
    UNION
    SELECT a.customer_id FROM core.user_customer_assignments a JOIN me ON a.user_id = me.id
     WHERE EXISTS (SELECT 1 FROM perms WHERE permission = 'tenants:assigned')
    UNION
    SELECT me.customer_id FROM me
     WHERE me.customer_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM perms WHERE permission = 'tenants:own')
  )
  SELECT coalesce(array_agg(id ORDER BY id), '{}'::bigint[]) FROM scope
   WHERE NOT pg_has_role(session_user, 'reprotech_app', 'MEMBER')
      OR NULLIF(current_setting('app.tenant_id', true), '') IS NULL
      OR id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
$$;

CREATE FUNCTION core.writable_customer_ids(perm text) RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN core.actor_has_permission(perm) THEN core.visible_customer_ids()
              ELSE '{}'::bigint[] END
$$;

-- True for roles that read every customer (tenants:all) unless the application narrowed the
-- transaction to one tenant. Policies test it first, so all-tenant roles skip the array.
CREATE FUNCTION core.sees_all_customers() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT core.actor_has_permission('tenants:all')
     AND (NOT pg_has_role(session_user, 'reprotech_app', 'MEMBER')
          OR NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
$$;

-- Policy expression: the row's customer is visible.
CREATE FUNCTION core.visible_expr(key text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format('((SELECT core.sees_all_customers()) OR %I = ANY ((SELECT core.visible_customer_ids())::bigint[]))', key)
$$;

-- The shared AI-sire catalogue: readable by every signed-in actor.
CREATE FUNCTION core.reference_customer_ids() RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(array_agg(c.id), '{}'::bigint[]) FROM core.customers c
   WHERE c.kind = 'reference' AND core.actor_id() IS NOT NULL
$$;

-- Identity lookup for the application's sign-in (granted to reprotech_app only).
CREATE FUNCTION core.resolve_login(login_name text)
RETURNS TABLE (id bigint, username text, role text, customer_id bigint, active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT u.id, u.username::text, u.role::text, u.customer_id, u.active
    FROM core.users u WHERE u.username = login_name
$$;

-- ---------------------------------------------------------------------------------------
-- Row-level security. Tenant tables: read what is visible, write what is writable for the
-- table's permission. The helper calls are wrapped in (SELECT …) so they run once per
-- statement (an InitPlan), not once per row.
CREATE FUNCTION core.apply_tenant_policies(tbl regclass, perm text, key text DEFAULT 'customer_id')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  vis text := core.visible_expr(key);
  can text := format('(SELECT core.actor_has_permission(%L)) AND %s', perm, core.visible_expr(key));
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format('CREATE POLICY tenant_read ON %s FOR SELECT USING (%s)', tbl, vis);
  EXECUTE format('CREATE POLICY tenant_insert ON %s FOR INSERT WITH CHECK (%s)', tbl, can);
  EXECUTE format('CREATE POLICY tenant_update ON %s FOR UPDATE USING (%s) WITH CHECK (%s)',
                 tbl, can, can);
  EXECUTE format('CREATE POLICY tenant_delete ON %s FOR DELETE USING (%s)', tbl, can);
END $$;

-- Staff-only tables without a tenant: read and write by permission.
CREATE FUNCTION core.apply_permission_policies(tbl regclass, read_perm text, write_perm text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format('CREATE POLICY staff_read ON %s FOR SELECT '
                 'USING ((SELECT core.actor_has_permission(%L)))', tbl, read_perm);
  EXECUTE format('CREATE POLICY staff_write ON %s FOR ALL '
                 'USING ((SELECT core.actor_has_permission(%L))) '
                 'WITH CHECK ((SELECT core.actor_has_permission(%L)))', tbl, write_perm, write_perm);
END $$;

-- Customers: the customer's id is the tenant key; creating one is a matter of permission.
SELECT core.apply_tenant_policies('core.customers', 'customers:manage', 'id');
DROP POLICY tenant_insert ON core.customers;
CREATE POLICY tenant_insert ON core.customers FOR INSERT
  WITH CHECK ((SELECT core.actor_has_permission('customers:manage')));
SELECT core.apply_tenant_policies('core.herds', 'animals:write');
SELECT core.apply_tenant_policies('core.animals', 'animals:write');
SELECT core.apply_tenant_policies('core.samples', 'lab:write');
SELECT core.apply_tenant_policies('core.genotypes', 'genotypes:write');
SELECT core.apply_tenant_policies('core.qc_results', 'qc:decide');
SELECT core.apply_tenant_policies('core.evaluation_results', 'results:write');
SELECT core.apply_tenant_policies('core.parentage_results', 'results:write');

-- The reference catalogue's bulls and their proofs are readable by everyone signed in.
CREATE POLICY reference_read ON core.customers FOR SELECT
  USING (id = ANY ((SELECT core.reference_customer_ids())::bigint[]));
CREATE POLICY reference_read ON core.animals FOR SELECT
  USING (customer_id = ANY ((SELECT core.reference_customer_ids())::bigint[]));
CREATE POLICY reference_read ON core.evaluation_results FOR SELECT
  USING (customer_id = ANY ((SELECT core.reference_customer_ids())::bigint[]) AND released);

SELECT core.apply_permission_policies('core.genotyping_batches', 'lab:read', 'lab:write');
SELECT core.apply_permission_policies('core.batch_stage_events', 'lab:read', 'lab:write');
SELECT core.apply_permission_policies('core.evaluation_runs', 'runs:read', 'results:write');

-- Job runs: staff by permission; a customer sees the runs made for them (their reports).
ALTER TABLE core.job_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.job_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY staff_read ON core.job_runs FOR SELECT
  USING ((SELECT core.actor_has_permission('jobs:read')));
CREATE POLICY own_read ON core.job_runs FOR SELECT
  USING (customer_id = ANY ((SELECT core.visible_customer_ids())::bigint[]));
CREATE POLICY staff_write ON core.job_runs FOR ALL
  USING ((SELECT core.actor_has_permission('jobs:run')))
  WITH CHECK ((SELECT core.actor_has_permission('jobs:run')));

-- Users: everyone reads their own row; customer admins manage their organisation's customer
-- users (never staff roles, never another organisation); admins manage everyone.
ALTER TABLE core.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.users FORCE ROW LEVEL SECURITY;
CREATE POLICY self_read ON core.users FOR SELECT USING (id = (SELECT core.actor_id()));
CREATE POLICY admin_all ON core.users FOR ALL
  USING ((SELECT core.actor_has_permission('users:manage_all')))
  WITH CHECK ((SELECT core.actor_has_permission('users:manage_all')));
CREATE POLICY org_manage ON core.users FOR ALL
  USING (customer_id = ANY ((SELECT core.writable_customer_ids('users:manage'))::bigint[]))
  WITH CHECK (customer_id = ANY ((SELECT core.writable_customer_ids('users:manage'))::bigint[])
              AND role IN ('customer_admin', 'customer_user'));

ALTER TABLE core.user_customer_assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.user_customer_assignments FORCE ROW LEVEL SECURITY;
CREATE POLICY self_read ON core.user_customer_assignments FOR SELECT
  USING (user_id = (SELECT core.actor_id()));
CREATE POLICY admin_all ON core.user_customer_assignments FOR ALL
  USING ((SELECT core.actor_has_permission('users:manage_all')))
  WITH CHECK ((SELECT core.actor_has_permission('users:manage_all')));

-- ---------------------------------------------------------------------------------------
-- Pedigree rules, for every writer. Messages name the record and the rule; a parent that
-- belongs to another farm is reported as unknown, so the error reveals nothing about it.
CREATE FUNCTION core.check_parent(child core.animals, parent_id bigint, parent_role text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record;
  want_sex text := CASE parent_role WHEN 'sire' THEN 'M' ELSE 'F' END;
BEGIN
  SELECT a.official_id, a.sex, a.birth_date, a.customer_id, c.kind
    INTO p FROM core.animals a JOIN core.customers c ON c.id = a.customer_id
   WHERE a.id = parent_id;
  IF NOT FOUND OR (p.customer_id <> child.customer_id AND p.kind <> 'reference') THEN
    PERFORM core.raise_rule('pedigree.parent_unknown', format(
      'animal %s: %s id %s is not an animal of this customer or of the reference catalogue',
      child.official_id, parent_role, parent_id));
  END IF;
  IF p.sex <> want_sex THEN
    PERFORM core.raise_rule('pedigree.' || parent_role || '_sex', format(
      'animal %s: %s %s is %s; a %s must be %s', child.official_id, parent_role, p.official_id,
      CASE p.sex WHEN 'M' THEN 'male' ELSE 'female' END, parent_role,
      CASE want_sex WHEN 'M' THEN 'male' ELSE 'female' END));
  END IF;
  IF p.birth_date IS NOT NULL AND child.birth_date IS NOT NULL
     AND p.birth_date >= child.birth_date THEN
    PERFORM core.raise_rule('pedigree.parent_born_after_calf', format(
      'animal %s (born %s): %s %s was born %s, not before the calf',
      child.official_id, child.birth_date, parent_role, p.official_id, p.birth_date));
  END IF;
END $$;

CREATE FUNCTION core.check_pedigree() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  changed_parents boolean := TG_OP = 'INSERT'
    OR NEW.sire_id IS DISTINCT FROM OLD.sire_id OR NEW.dam_id IS DISTINCT FROM OLD.dam_id
    OR NEW.birth_date IS DISTINCT FROM OLD.birth_date
    OR NEW.customer_id IS DISTINCT FROM OLD.customer_id;
BEGIN
  IF changed_parents AND NEW.sire_id IS NOT NULL THEN
    PERFORM core.check_parent(NEW, NEW.sire_id, 'sire');
  END IF;
  IF changed_parents AND NEW.dam_id IS NOT NULL THEN
    PERFORM core.check_parent(NEW, NEW.dam_id, 'dam');
  END IF;
  IF TG_OP = 'UPDATE' THEN
    -- A new row has no descendants, so only an update can close a loop.
    IF (NEW.sire_id IS DISTINCT FROM OLD.sire_id OR NEW.dam_id IS DISTINCT FROM OLD.dam_id)
       AND EXISTS (
         WITH RECURSIVE ancestors(id) AS (
           SELECT x FROM unnest(ARRAY[NEW.sire_id, NEW.dam_id]) x WHERE x IS NOT NULL
           UNION
           SELECT parent FROM core.animals a JOIN ancestors ON a.id = ancestors.id,
                  LATERAL unnest(ARRAY[a.sire_id, a.dam_id]) parent
            WHERE parent IS NOT NULL)
         SELECT 1 FROM ancestors WHERE id = NEW.id) THEN
      PERFORM core.raise_rule('pedigree.loop', format(
        'animal %s would become its own ancestor through its new sire/dam', NEW.official_id));
    END IF;
    IF NEW.sex IS DISTINCT FROM OLD.sex AND EXISTS (
         SELECT 1 FROM core.animals c
          WHERE (OLD.sex = 'M' AND c.sire_id = NEW.id) OR (OLD.sex = 'F' AND c.dam_id = NEW.id)) THEN
      PERFORM core.raise_rule('pedigree.parent_sex_change', format(
        'animal %s has progeny recorded with it as %s; its sex cannot change',
        NEW.official_id, CASE OLD.sex WHEN 'M' THEN 'sire' ELSE 'dam' END));
    END IF;
    IF NEW.birth_date IS DISTINCT FROM OLD.birth_date AND NEW.birth_date IS NOT NULL AND EXISTS (
         SELECT 1 FROM core.animals c
          WHERE (c.sire_id = NEW.id OR c.dam_id = NEW.id) AND c.birth_date <= NEW.birth_date) THEN
      PERFORM core.raise_rule('pedigree.parent_born_after_calf', format(
        'animal %s: birth date %s is not before the birth of all its recorded progeny',
        NEW.official_id, NEW.birth_date));
    END IF;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER check_pedigree BEFORE INSERT OR UPDATE ON core.animals
  FOR EACH ROW EXECUTE FUNCTION core.check_pedigree();

-- ---------------------------------------------------------------------------------------
-- Subscription tier limits (animals, users per customer), checked once per statement.
-- Locking the customer row serialises concurrent writers of one customer, so two sessions
-- cannot both take the last place.
CREATE FUNCTION core.enforce_tier_limits() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  cust record;
  n bigint;
  lim int;
BEGIN
  FOR cust IN
    SELECT c.id, c.code, t.max_animals, t.max_users, t.name AS tier
      FROM core.customers c JOIN core.subscription_tiers t ON t.code = c.tier
     WHERE c.id IN (SELECT DISTINCT customer_id FROM new_rows WHERE customer_id IS NOT NULL)
     ORDER BY c.id
       FOR UPDATE OF c
  LOOP
    IF TG_TABLE_NAME = 'animals' THEN
      SELECT count(*) INTO n FROM core.animals WHERE customer_id = cust.id;
      lim := cust.max_animals;
    ELSE
      SELECT count(*) INTO n FROM core.users WHERE customer_id = cust.id AND active;
      lim := cust.max_users;
    END IF;
    IF n > lim THEN
      PERFORM core.raise_rule('tier.max_' || TG_TABLE_NAME, format(
        'customer %s: %s %s exceed the %s tier limit of %s', cust.code, n, TG_TABLE_NAME,
        cust.tier, lim));
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER tier_limit_insert AFTER INSERT ON core.animals
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION core.enforce_tier_limits();
CREATE TRIGGER tier_limit_update AFTER UPDATE ON core.animals
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION core.enforce_tier_limits();
CREATE TRIGGER tier_limit_insert AFTER INSERT ON core.users
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION core.enforce_tier_limits();
CREATE TRIGGER tier_limit_update AFTER UPDATE ON core.users
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION core.enforce_tier_limits();

-- ---------------------------------------------------------------------------------------
-- Released results change only with a stated reason (recorded by the audit trigger).
CREATE FUNCTION core.guard_released_results() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.released AND NULLIF(current_setting('app.change_reason', true), '') IS NULL THEN
    PERFORM core.raise_rule('results.released_change_needs_reason', format(
      'evaluation result %s (%s) is released; %s it needs a reason '
      '(reprotech_core: with_reason(...); SQL: SET LOCAL app.change_reason = ''…'')',
      OLD.id, OLD.trait, lower(TG_OP) || 'ing'));
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TRIGGER guard_released BEFORE UPDATE OR DELETE ON core.evaluation_results
  FOR EACH ROW EXECUTE FUNCTION core.guard_released_results();

-- ---------------------------------------------------------------------------------------
-- Genotyping batches walk received -> extracted -> genotyped -> qc -> released; any stage
-- before released may go to failed; released and failed are final. Each move is recorded.
CREATE FUNCTION core.check_batch_stage() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  next_stage text := CASE OLD.stage WHEN 'received' THEN 'extracted'
    WHEN 'extracted' THEN 'genotyped' WHEN 'genotyped' THEN 'qc' WHEN 'qc' THEN 'released' END;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.stage IS DISTINCT FROM OLD.stage THEN
    IF NOT (NEW.stage = next_stage OR (NEW.stage = 'failed' AND next_stage IS NOT NULL)) THEN
      PERFORM core.raise_rule('batch.stage_order', format(
        'batch %s cannot move from %s to %s (next allowed: %s)', OLD.name, OLD.stage,
        NEW.stage, coalesce(next_stage || ' or failed', 'none, the stage is final')));
    END IF;
  END IF;
  IF TG_OP = 'INSERT' OR NEW.stage IS DISTINCT FROM OLD.stage THEN
    INSERT INTO core.batch_stage_events (batch_id, stage, actor_user_id)
    VALUES (NEW.id, NEW.stage, core.actor_id());
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER check_stage AFTER INSERT OR UPDATE OF stage ON core.genotyping_batches
  FOR EACH ROW EXECUTE FUNCTION core.check_batch_stage();

-- ---------------------------------------------------------------------------------------
-- The audit log: append-only, written only by this trigger. Arguments:
--   pk=<col>[,<col>]  primary key columns (default id)
--   tenant=<col>      column holding the customer (default customer_id)
--   digest=<col>      bytea column recorded as its SHA-256 and length, not its content
--   redact=<col>      secret column recorded as "[redacted]"
CREATE FUNCTION audit.record_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
  new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
  pk_cols text[] := ARRAY['id'];
  tenant_col text := 'customer_id';
  arg text;
  kind text;
  col text;
  r jsonb;
BEGIN
  FOREACH arg IN ARRAY coalesce(TG_ARGV, '{}'::text[]) LOOP
    kind := split_part(arg, '=', 1);
    col := split_part(arg, '=', 2);
    IF kind = 'pk' THEN pk_cols := string_to_array(col, ',');
    ELSIF kind = 'tenant' THEN tenant_col := col;
    ELSIF kind IN ('digest', 'redact') THEN
      IF old_row ? col AND old_row->>col IS NOT NULL THEN
        old_row := jsonb_set(old_row, ARRAY[col], audit.mask(kind, old_row->>col));
      END IF;
      IF new_row ? col AND new_row->>col IS NOT NULL THEN
        new_row := jsonb_set(new_row, ARRAY[col], audit.mask(kind, new_row->>col));
      END IF;
    END IF;
  END LOOP;
  r := coalesce(new_row, old_row);
  INSERT INTO audit.log (actor_user_id, db_login, application, action, table_name, row_id,
                         customer_id, old_values, new_values, reason)
  VALUES (core.actor_id(), session_user, NULLIF(current_setting('application_name', true), ''),
          TG_OP, TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
          (SELECT string_agg(r->>c, ':') FROM unnest(pk_cols) c),
          (r->>tenant_col)::bigint, old_row, new_row,
          NULLIF(current_setting('app.change_reason', true), ''));
  RETURN NULL;
END $$;

CREATE FUNCTION audit.mask(kind text, value text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE kind
    WHEN 'redact' THEN to_jsonb('[redacted]'::text)
    ELSE jsonb_build_object(
      'sha256', encode(sha256(decode(substr(value, 3), 'hex')), 'hex'),
      'bytes', length(value) / 2 - 1)
  END
$$;

CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.customers
  FOR EACH ROW EXECUTE FUNCTION audit.record_change('tenant=id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.herds
  FOR EACH ROW EXECUTE FUNCTION audit.record_change();
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.users
  FOR EACH ROW EXECUTE FUNCTION audit.record_change('redact=password_hash', 'redact=totp_secret');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.user_customer_assignments
  FOR EACH ROW EXECUTE FUNCTION audit.record_change('pk=user_id,customer_id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.animals
  FOR EACH ROW EXECUTE FUNCTION audit.record_change();
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.samples
  FOR EACH ROW EXECUTE FUNCTION audit.record_change();
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.genotypes
  FOR EACH ROW EXECUTE FUNCTION audit.record_change('digest=calls');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.qc_results
  FOR EACH ROW EXECUTE FUNCTION audit.record_change();
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.evaluation_results
  FOR EACH ROW EXECUTE FUNCTION audit.record_change();
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.parentage_results
  FOR EACH ROW EXECUTE FUNCTION audit.record_change();
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.genotyping_batches
  FOR EACH ROW EXECUTE FUNCTION audit.record_change('tenant=none');

-- Nobody updates, deletes or truncates audit rows: not the application, not the owner.
CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM core.raise_rule('audit.append_only',
    format('the audit log is append-only: %s refused', TG_OP));
  RETURN NULL;
END $$;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON audit.log
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER no_truncate BEFORE TRUNCATE ON audit.log
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- Readers: admins everything; customer admins their organisation's rows.
ALTER TABLE audit.log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit.log FORCE ROW LEVEL SECURITY;
CREATE POLICY admin_read ON audit.log FOR SELECT
  USING ((SELECT core.actor_has_permission('audit:read_all')));
CREATE POLICY org_read ON audit.log FOR SELECT
  USING (customer_id = ANY ((SELECT core.writable_customer_ids('audit:read'))::bigint[]));

-- Monthly partitions from last month to `months_ahead` months ahead, plus a default
-- partition so an insert never fails. Partitions get no grants: they are reached only
-- through the parent, where the policies are (partitions do not inherit them).
CREATE FUNCTION audit.ensure_partitions(months_ahead int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  m date := date_trunc('month', now() AT TIME ZONE 'UTC')::date - interval '1 month';
  name text;
BEGIN
  -- Row triggers are cloned onto partitions, TRUNCATE triggers are not: add them to each.
  IF to_regclass('audit.log_default') IS NULL THEN
    EXECUTE 'CREATE TABLE audit.log_default PARTITION OF audit.log DEFAULT';
    EXECUTE 'CREATE TRIGGER no_truncate BEFORE TRUNCATE ON audit.log_default '
            'FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change()';
  END IF;
  FOR i IN 0..months_ahead + 1 LOOP
    name := 'log_' || to_char(m, 'YYYY_MM');
    IF to_regclass('audit.' || name) IS NULL THEN
      EXECUTE format('CREATE TABLE audit.%I PARTITION OF audit.log FOR VALUES FROM (%L) TO (%L)',
                     name, m::timestamptz, (m + interval '1 month')::timestamptz);
      EXECUTE format('CREATE TRIGGER no_truncate BEFORE TRUNCATE ON audit.%I '
                     'FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change()', name);
    END IF;
    m := m + interval '1 month';
  END LOOP;
END $$;

SELECT audit.ensure_partitions(3);

-- ---------------------------------------------------------------------------------------
-- Research data: pseudonymised, across tenants, for actors with research:read. The views run
-- with their owner's rights (reprotech_definer) on purpose — that is what lets a researcher
-- see all herds — and expose no customer, name or official ID. Pseudonyms are stable: a
-- keyed SHA-256 of the record id with a secret key researchers cannot read.
CREATE TABLE core.pseudonym_key (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  key text NOT NULL
);
INSERT INTO core.pseudonym_key (key)
VALUES (replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

CREATE VIEW research.herds AS
  SELECT 'H' || substr(encode(sha256(convert_to(k.key || ':herd:' || h.id, 'UTF8')), 'hex'), 1, 12)
           AS herd,
         'C' || substr(encode(sha256(convert_to(k.key || ':customer:' || h.customer_id, 'UTF8')), 'hex'), 1, 12)
           AS customer
    FROM core.herds h CROSS JOIN core.pseudonym_key k
   WHERE (SELECT core.actor_has_permission('research:read'));

CREATE VIEW research.animals AS
  SELECT 'A' || substr(encode(sha256(convert_to(k.key || ':animal:' || a.id, 'UTF8')), 'hex'), 1, 12)
           AS animal,
         'A' || substr(encode(sha256(convert_to(k.key || ':animal:' || a.sire_id, 'UTF8')), 'hex'), 1, 12)
           AS sire,
         'A' || substr(encode(sha256(convert_to(k.key || ':animal:' || a.dam_id, 'UTF8')), 'hex'), 1, 12)
           AS dam,
         'H' || substr(encode(sha256(convert_to(k.key || ':herd:' || a.herd_id, 'UTF8')), 'hex'), 1, 12)
           AS herd,
         'C' || substr(encode(sha256(convert_to(k.key || ':customer:' || a.customer_id, 'UTF8')), 'hex'), 1, 12)
           AS customer,
         a.breed, a.sex, extract(year FROM a.birth_date)::int AS birth_year
    FROM core.animals a CROSS JOIN core.pseudonym_key k
   WHERE (SELECT core.actor_has_permission('research:read'));

CREATE VIEW research.genotypes AS
  SELECT 'A' || substr(encode(sha256(convert_to(k.key || ':animal:' || g.animal_id, 'UTF8')), 'hex'), 1, 12)
           AS animal,
         g.panel_id, g.n_snps, g.calls, g.call_rate
    FROM core.genotypes g CROSS JOIN core.pseudonym_key k
   WHERE (SELECT core.actor_has_permission('research:read'));

CREATE VIEW research.evaluation_results AS
  SELECT 'A' || substr(encode(sha256(convert_to(k.key || ':animal:' || r.animal_id, 'UTF8')), 'hex'), 1, 12)
           AS animal,
         r.run_id, r.trait, r.gebv, r.reliability, r.released
    FROM core.evaluation_results r CROSS JOIN core.pseudonym_key k
   WHERE (SELECT core.actor_has_permission('research:read'));
