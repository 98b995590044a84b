-- Reference data of the foundation: roles, modules, permissions, tiers, traits, the system user.

INSERT INTO core.roles (code, description, customer_scoped) VALUES
  ('super_admin',    'Runs the platform: everything, including admins',                     false),
  ('admin',          'Administers customers, users and all data',                           false),
  ('veterinarian',   'Works for assigned customers: animals and reproduction',              false),
  ('technician',     'Data entry and lab results for assigned customers',                   false),
  ('researcher',     'Genomic analysis on pseudonymised research data',                     false),
  ('lab_ops',        'Runs the genotyping lab: batches, QC, evaluations and jobs',          false),
  ('customer_admin', 'A customer''s administrator: their organisation''s users and animals', true),
  ('customer_user',  'A customer''s user: their own animals and reports',                   true);

INSERT INTO core.modules (code, description) VALUES
  ('genomics',     'Genotypes, genomic breeding values, parentage, inbreeding'),
  ('breeding',     'Rankings, selection index, mating advice'),
  ('reproduction', 'Inseminations, embryos, IVF, pregnancies, calvings and KPIs'),
  ('financial',    'Service orders and invoices'),
  ('research',     'Population genetics and research notebooks'),
  ('lab',          'Genotyping batches, QC and lab jobs'),
  ('admin',        'Customers, users and system figures');

-- Permissions named in the policies (data_models/migrations/versions/0002_security.sql):
--   tenants:all|assigned|own   which customers the role reads
--   <table group>:write        which tenant tables it may write (within the customers it reads)
INSERT INTO core.role_permissions (role, permission)
SELECT r, p FROM (VALUES
  ('super_admin', ARRAY['tenants:all','customers:manage','users:manage_all','users:manage',
    'animals:write','reproduction:write','lab:read','lab:write','genotypes:write','qc:decide',
    'results:write','results:release','runs:read','jobs:read','jobs:run','audit:read_all',
    'research:read']),
  ('admin', ARRAY['tenants:all','customers:manage','users:manage_all','users:manage',
    'animals:write','reproduction:write','lab:read','lab:write','genotypes:write','qc:decide',
    'results:write','results:release','runs:read','jobs:read','jobs:run','audit:read_all',
    'research:read']),
  ('veterinarian', ARRAY['tenants:assigned','animals:write','reproduction:write']),
  ('technician', ARRAY['tenants:assigned','animals:write','reproduction:write','lab:read',
    'lab:write']),
  ('researcher', ARRAY['research:read','runs:read']),
  ('lab_ops', ARRAY['tenants:all','lab:read','lab:write','genotypes:write','qc:decide',
    'results:write','runs:read','jobs:read','jobs:run']),
  ('customer_admin', ARRAY['tenants:own','users:manage','animals:write','audit:read']),
  ('customer_user', ARRAY['tenants:own'])
) AS t(r, perms), unnest(perms) AS p;

INSERT INTO core.role_modules (role, module)
SELECT r, m FROM (VALUES
  ('super_admin', ARRAY['genomics','breeding','reproduction','financial','research','lab','admin']),
  ('admin', ARRAY['genomics','breeding','reproduction','financial','research','lab','admin']),
  ('veterinarian', ARRAY['genomics','breeding','reproduction']),
  ('technician', ARRAY['genomics','reproduction','lab']),
  ('researcher', ARRAY['genomics','research']),
  ('lab_ops', ARRAY['genomics','lab']),
  ('customer_admin', ARRAY['genomics','breeding','reproduction','financial']),
  ('customer_user', ARRAY['genomics','breeding','reproduction'])
) AS t(r, mods), unnest(mods) AS m;

INSERT INTO core.subscription_tiers (code, name, max_animals, max_users, modules) VALUES
  ('basic',        'Basic',        500,     5,   ARRAY['genomics']),
  ('professional', 'Professional', 5000,    25,  ARRAY['genomics','breeding','reproduction']),
  ('enterprise',   'Enterprise',   100000,  200, ARRAY['genomics','breeding','reproduction','financial']),
  ('reference',    'Reference catalogue', 1000000, 1, ARRAY['genomics','breeding']);

INSERT INTO core.traits (code, description, unit) VALUES
  ('milk_production',    'Milk yield per 305-day lactation',              'kg'),
  ('fertility',          'Daughter pregnancy rate',                       '%'),
  ('disease_resistance', 'Resistance to mastitis and other diseases',     'index'),
  ('longevity',          'Productive life',                               'months');

-- The platform's own actor: the CLI and scheduled jobs act as it. It cannot sign in.
INSERT INTO core.users (username, display_name, role)
VALUES ('system', 'Reprotech platform (CLI and jobs)', 'super_admin');
