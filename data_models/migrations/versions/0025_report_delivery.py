"""reports delivered and notices: the scheduled herd reports kept for the portal (PDF in the
database), each user's choice of emails, and the news for a customer written by trigger when an
evaluation is released or samples fail QC; a limit on password-reset links per account and hour; export and erasure requests from the
portal, pending until an admin decides

Tables from the models (data_models/delivery.py); row security, permissions and the audit of
the email choices in 0025_report_delivery.sql.

Revision ID: 0025
Revises: 0024
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

from data_models.delivery import NOTIFICATION_TOPICS
from data_models.security import DATA_REQUEST_STATUSES

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent


def upgrade() -> None:
    op.create_table(
        "customer_reports",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True),
                  server_default=sa.text("clock_timestamp()"), nullable=False),
        sa.Column("job_run_id", sa.BigInteger(), nullable=True),
        sa.Column("evaluation_run_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.LargeBinary(), nullable=False),
        sa.Column("emailed_to", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("octet_length(pdf) = size_bytes",
                           name=op.f("ck_customer_reports_size_bytes")),
        sa.ForeignKeyConstraint(["customer_id"], ["core.customers.id"],
                                name=op.f("fk_customer_reports_customer_id_customers")),
        sa.ForeignKeyConstraint(["evaluation_run_id"], ["core.evaluation_runs.id"],
                                name=op.f("fk_customer_reports_evaluation_run_id_evaluation_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_reports")),
        schema="core",
    )
    op.create_index("ix_customer_reports_customer_id_created_at", "customer_reports",
                    ["customer_id", "created_at"], unique=False, schema="core")
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.CheckConstraint(f"topic IN {NOTIFICATION_TOPICS!r}".replace('"', "'"),
                           name=op.f("ck_notification_settings_topic")),
        sa.ForeignKeyConstraint(["user_id"], ["core.users.id"],
                                name=op.f("fk_notification_settings_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "topic", name=op.f("pk_notification_settings")),
        schema="core",
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True),
                  server_default=sa.text("clock_timestamp()"), nullable=False),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emailed_to", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(f"topic IN {NOTIFICATION_TOPICS!r}".replace('"', "'"),
                           name=op.f("ck_notices_topic")),
        sa.ForeignKeyConstraint(["customer_id"], ["core.customers.id"],
                                name=op.f("fk_notices_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        schema="core",
    )
    op.create_index("ix_notices_customer_id_created_at", "notices",
                    ["customer_id", "created_at"], unique=False, schema="core")
    op.create_index("ix_notices_unsent", "notices", ["id"], unique=False, schema="core",
                    postgresql_where=sa.text("emailed_at IS NULL"))
    op.add_column("data_requests", sa.Column("status", sa.String(length=16),
                                             server_default="done", nullable=False),
                  schema="core")
    op.add_column("data_requests", sa.Column("decided_by", sa.BigInteger(), nullable=True),
                  schema="core")
    op.add_column("data_requests", sa.Column("decided_at", sa.DateTime(timezone=True),
                                             nullable=True), schema="core")
    op.create_check_constraint(op.f("ck_data_requests_status"), "data_requests",
                               f"status IN {DATA_REQUEST_STATUSES!r}".replace('"', "'"),
                               schema="core")
    op.create_index("uq_data_requests_one_pending", "data_requests", ["customer_id", "kind"],
                    unique=True, schema="core", postgresql_where=sa.text("status = 'pending'"))
    op.get_bind().connection.driver_connection.execute(
        (HERE / "0025_report_delivery.sql").read_text())


def downgrade() -> None:
    op.execute("DROP FUNCTION core.password_reset_issue(text, bytea, int, int)")
    earlier = (HERE / "0024_password_self_service.sql").read_text()
    start = earlier.index("CREATE FUNCTION core.password_reset_issue")
    op.execute(earlier[start:earlier.index("END $$;", start) + len("END $$;")])
    op.execute("GRANT EXECUTE ON FUNCTION core.password_reset_issue(text, bytea, int) "
               "TO reprotech_app")
    op.execute("DELETE FROM core.role_permissions WHERE permission IN "
               "('reports:write', 'notifications:send', 'data_requests:create')")
    op.execute("DROP TRIGGER notice_release ON core.evaluation_runs")
    op.execute("DROP TRIGGER notice_qc ON core.genotyping_batches")
    op.execute("DROP FUNCTION core.notice_release()")
    op.execute("DROP FUNCTION core.notice_qc()")
    op.drop_table("notices", schema="core")
    op.execute("DROP POLICY request_by_customer_admin ON core.data_requests")
    op.drop_index("uq_data_requests_one_pending", "data_requests", schema="core")
    for column in ("decided_at", "decided_by", "status"):
        op.drop_column("data_requests", column, schema="core")
    op.drop_table("notification_settings", schema="core")
    op.drop_table("customer_reports", schema="core")
