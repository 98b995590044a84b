"""audit-log retention records itself in the audit log

``reprotech ops audit-retention`` (reprotech_core/ops/audit_retention.py) exports old monthly
partitions of ``audit.log`` to checksummed files and drops them, as the administrative login
(only a table's owner may detach and drop it; the application login never can). What it dropped
is recorded in the log itself through ``audit.record_retention``: a SECURITY DEFINER function
(owner ``reprotech_definer``, the only writer of ``audit.log``), because the log has no INSERT
policy and an administrative login need not bypass row security. Executable by the tables'
owner role ``reprotech_owner`` (privileges.sql), which the administrative login is or belongs
to; never by the application or notebook logins.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION audit.record_retention(p_partition text, p_from timestamptz,
                                               p_to timestamptz, p_rows bigint, p_file text,
                                               p_sha256 text, p_keep_months int)
        RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
          INSERT INTO audit.log (actor_user_id, db_login, application, action, table_name,
                                 row_id, customer_id, old_values, new_values, reason)
          VALUES (core.actor_id(), session_user,
                  NULLIF(current_setting('application_name', true), ''), 'DROP',
                  'audit.log', p_partition, NULL,
                  jsonb_build_object('partition', p_partition, 'from', p_from, 'to', p_to,
                                     'rows', p_rows),
                  jsonb_build_object('file', p_file, 'sha256', p_sha256, 'rows', p_rows),
                  format('audit retention: partition %s (%s rows) exported to %s and dropped; '
                         'keeping %s months', p_partition, p_rows, p_file, p_keep_months))
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION audit.record_retention(text, timestamptz, timestamptz, bigint, "
               "text, text, int)")
