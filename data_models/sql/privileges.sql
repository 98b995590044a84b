-- Ownership and privileges, re-applied after every migration (idempotent), so that every
-- object a migration creates ends up with exactly these rights. The rules:
--   * tables belong to reprotech_owner; nobody logs in as it;
--   * SECURITY DEFINER functions and the research views belong to reprotech_definer
--     (BYPASSRLS, no members);
--   * the application and notebook logins get table rights, row security does the rest;
--   * nothing is granted on audit partitions, and nothing on audit.log but SELECT.

ALTER SCHEMA core OWNER TO reprotech_owner;
ALTER SCHEMA audit OWNER TO reprotech_owner;
ALTER SCHEMA research OWNER TO reprotech_owner;
REVOKE ALL ON SCHEMA core, audit, research FROM PUBLIC;

DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT n.nspname, c.relname, c.relkind
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('core', 'audit') AND c.relkind IN ('r', 'p', 'v')
  LOOP
    EXECUTE format('ALTER %s %I.%I OWNER TO reprotech_owner',
                   CASE r.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, r.nspname, r.relname);
    EXECUTE format('REVOKE ALL ON %I.%I FROM PUBLIC', r.nspname, r.relname);
  END LOOP;
  FOR r IN
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'research' AND c.relkind = 'v'
  LOOP
    EXECUTE format('ALTER VIEW research.%I OWNER TO reprotech_definer', r.relname);
    EXECUTE format('REVOKE ALL ON research.%I FROM PUBLIC', r.relname);
  END LOOP;
  FOR r IN
    SELECT p.oid::regprocedure AS fn, p.prosecdef
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('core', 'audit')
  LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO %I', r.fn,
                   CASE WHEN r.prosecdef THEN 'reprotech_definer' ELSE 'reprotech_owner' END);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', r.fn);
  END LOOP;
END
$$;

-- The definer role reads what the rules need and writes the audit log and stage events.
GRANT USAGE ON SCHEMA core, audit, research TO reprotech_definer;
GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA core TO reprotech_definer;
GRANT INSERT ON core.batch_stage_events TO reprotech_definer;
GRANT SELECT, INSERT ON audit.log TO reprotech_definer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA core TO reprotech_definer;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA core, audit TO reprotech_definer;
REVOKE ALL ON core.pseudonym_key FROM reprotech_app, reprotech_notebook, reprotech_research;

-- Row-security helpers: every login that touches a policy needs them.
GRANT EXECUTE ON FUNCTION core.actor_id(), core.actor_has_permission(text), core.sees_all_customers(),
  core.visible_customer_ids(), core.writable_customer_ids(text), core.reference_customer_ids(),
  core.raise_rule(text, text)
  TO reprotech_app, reprotech_notebook, reprotech_research;
GRANT EXECUTE ON FUNCTION core.resolve_login(text) TO reprotech_app;
-- The portal's anonymous population comparison (shares per bin, three customers at least).
GRANT EXECUTE ON FUNCTION core.population_gebv_bins(text, float8, float8, int, float8)
  TO reprotech_app;
-- Audit retention (reprotech ops audit-retention) records what it dropped. It runs as the
-- administrative login, which drops partitions as (a member of) their owner; granted to the
-- owner role, not to a login, so a dump restores on any cluster holding roles.sql's roles.
GRANT EXECUTE ON FUNCTION audit.record_retention(text, timestamptz, timestamptz, bigint, text,
  text, int) TO reprotech_owner;
-- The financial records' read policies ask whether the actor may open the module.
GRANT EXECUTE ON FUNCTION core.actor_has_module(text) TO reprotech_app, reprotech_notebook;

-- The application.
GRANT USAGE ON SCHEMA core, audit, research TO reprotech_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA core TO reprotech_app;
REVOKE ALL ON core.pseudonym_key FROM reprotech_app;
REVOKE INSERT, UPDATE, DELETE ON core.roles, core.role_permissions, core.role_modules,
  core.modules, core.alembic_version, core.batch_stage_events FROM reprotech_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA core TO reprotech_app;
GRANT SELECT ON audit.log TO reprotech_app;
GRANT SELECT ON ALL TABLES IN SCHEMA research TO reprotech_app;

-- Staff notebooks: read everything row security lets them; write tenant records their role
-- allows; never users' secrets nor user administration.
GRANT USAGE ON SCHEMA core, audit, research TO reprotech_notebook;
GRANT SELECT ON ALL TABLES IN SCHEMA core TO reprotech_notebook;
REVOKE ALL ON core.pseudonym_key, core.users FROM reprotech_notebook;
GRANT SELECT (id, username, display_name, role, customer_id, active) ON core.users
  TO reprotech_notebook;
GRANT INSERT, UPDATE, DELETE ON core.herds, core.animals, core.phenotypes, core.samples, core.genotypes,
  core.qc_results, core.evaluation_results, core.parentage_results, core.inbreeding
  TO reprotech_notebook;
-- Reproduction records (vets and technicians work in notebooks too); orders and invoices are
-- read-only there: they are written through reprotech_core only.
GRANT INSERT, UPDATE, DELETE ON core.semen_lots, core.inseminations, core.embryo_flushes,
  core.ivf_sessions, core.embryos, core.embryo_transfers, core.pregnancy_diagnoses,
  core.calvings, core.inventory_movements, core.animal_exits, core.heat_observations
  TO reprotech_notebook;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA core TO reprotech_notebook;
GRANT SELECT ON audit.log TO reprotech_notebook;
GRANT SELECT ON ALL TABLES IN SCHEMA research TO reprotech_notebook;

-- Researchers: catalogues and the pseudonymised research views only.
GRANT USAGE ON SCHEMA core, research TO reprotech_research;
GRANT SELECT ON core.traits, core.snp_panels, core.panel_snps TO reprotech_research;
GRANT SELECT ON ALL TABLES IN SCHEMA research TO reprotech_research;

-- Platform-wide activity is for monitoring only. By default every login may read the
-- statistics views (pg_stat_user_tables, pg_statio_*, pg_stat_activity: who is connected, from
-- where, since when), the functions under them (pg_stat_get_*), relation sizes and the
-- planner's row estimates (pg_class.reltuples, relpages): together they tell a notebook how
-- many animals, genotypes or inseminations the whole platform holds and when others work.
-- Revoked from PUBLIC and granted back to pg_read_all_stats, of which the application login
-- (the metrics exporter, reprotech_core/ops/dbmetrics.py) and any pg_monitor exporter are
-- members; staff and research notebook logins are not. pg_stats is left alone: PostgreSQL
-- already hides rows of tables under row security there. Large objects live outside row
-- security and the audit log: nobody but the administrative login may create one.
-- Catalog privileges need a superuser; an administrative login without it skips them with a
-- warning (docs/security-model.md says what remains open then).
DO $$
DECLARE
  r record;
  visible text;
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    RAISE WARNING 'privileges.sql: % is not a superuser; statistics views, pg_class row '
                  'estimates and large-object functions keep their default (PUBLIC) privileges',
                  current_user;
    RETURN;
  END IF;
  FOR r IN
    SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'v' AND (n.nspname = 'pg_catalog' AND (c.relname LIKE 'pg\_stat\_%'
                                                         OR c.relname LIKE 'pg\_statio\_%')
                                OR c.relname IN ('pg_stat_statements', 'pg_stat_statements_info'))
  LOOP
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', r.rel);
    EXECUTE format('GRANT SELECT ON %s TO pg_read_all_stats', r.rel);
  END LOOP;
  FOR r IN
    SELECT p.oid::regprocedure AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE (n.nspname = 'pg_catalog' AND (p.proname LIKE 'pg\_stat\_get\_%'
              OR p.proname IN ('pg_relation_size', 'pg_table_size', 'pg_indexes_size',
                               'pg_total_relation_size', 'pg_database_size')))
        OR p.proname IN ('pg_stat_statements', 'pg_stat_statements_info')
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', r.fn);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pg_read_all_stats', r.fn);
  END LOOP;
  -- pg_class stays readable (psql, SQLAlchemy and pg_dump read it) except the estimates.
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO visible
    FROM pg_attribute a
   WHERE a.attrelid = 'pg_catalog.pg_class'::regclass AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attname NOT IN ('reltuples', 'relpages', 'relallvisible');
  REVOKE SELECT ON pg_catalog.pg_class FROM PUBLIC;
  EXECUTE format('GRANT SELECT (%s) ON pg_catalog.pg_class TO PUBLIC', visible);
  GRANT SELECT ON pg_catalog.pg_class TO pg_read_all_stats;
  REVOKE ALL ON FUNCTION pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer),
    pg_catalog.lo_from_bytea(oid, bytea), pg_catalog.lo_import(text),
    pg_catalog.lo_import(text, oid) FROM PUBLIC;
END
$$;
