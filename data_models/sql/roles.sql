-- Cluster roles of the platform (idempotent; applied before the migrations).
-- reprotech_owner     owns schemas and tables; used by nobody at run time (NOLOGIN).
-- reprotech_definer   owns the SECURITY DEFINER functions (row-security helpers, audit and rule
--                     triggers) and the research views; BYPASSRLS so they can read across
--                     tenants what the rules need. NOLOGIN, and no role is ever its member.
-- reprotech_app       the application's login (dashboards, jobs, CLI). Not owner, not
--                     BYPASSRLS: it sees what the per-transaction identity may see.
-- reprotech_notebook  group of staff notebook logins (one LOGIN role per user, rt_<name>).
-- reprotech_research  group of researcher notebook logins: pseudonymised research views only.
-- reprotech_backup    the backup login (pg_dump): BYPASSRLS, because FORCE ROW LEVEL SECURITY
--                     would otherwise make pg_dump fail (it refuses to dump a table it would
--                     see filtered); reads through pg_read_all_data, writes nothing, owns
--                     nothing, not superuser. See docs/operations.md.
DO $$
DECLARE
  spec text[];
BEGIN
  FOREACH spec SLICE 1 IN ARRAY ARRAY[
    ARRAY['reprotech_owner',    'NOLOGIN NOBYPASSRLS'],
    ARRAY['reprotech_definer',  'NOLOGIN BYPASSRLS'],
    ARRAY['reprotech_app',      'LOGIN NOBYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE'],
    ARRAY['reprotech_notebook', 'NOLOGIN NOBYPASSRLS'],
    ARRAY['reprotech_research', 'NOLOGIN NOBYPASSRLS'],
    ARRAY['reprotech_backup',   'LOGIN BYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE']
  ] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = spec[1]) THEN
      EXECUTE format('CREATE ROLE %I %s', spec[1], spec[2]);
    ELSE
      EXECUTE format('ALTER ROLE %I %s', spec[1], spec[2]);
    END IF;
  END LOOP;
END
$$;
-- The backup login reads every table and sequence (PostgreSQL's predefined read-only role).
GRANT pg_read_all_data TO reprotech_backup;
-- The application exports database metrics (connections by state, running statements): it may
-- read other sessions' statistics. It sees no more data than before (row security still applies).
GRANT pg_read_all_stats TO reprotech_app;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS research;
