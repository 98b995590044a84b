-- Farmers record their own breeding events (issue 21, item 3): a customer's admin and users
-- may write reproduction records. Row security still confines every write to the customers
-- the actor sees (core.apply_tenant_policies: reproduction:write AND the customer is visible),
-- which for tenants:own is their own farm only; the statement audit triggers name the actor.
-- Registering a live calf writes core.animals (animals:write): a customer admin has it, a
-- customer user does not, and the portal refuses such a calving by name before writing.
INSERT INTO core.role_permissions (role, permission)
VALUES ('customer_admin', 'reproduction:write'), ('customer_user', 'reproduction:write')
ON CONFLICT DO NOTHING;
