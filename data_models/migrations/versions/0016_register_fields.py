"""the herd register's own fields on an animal: management number, entry, placeholder parents

A herd-book export carries the farm's management (barn) number, the date the animal entered
the herd and how (born here, purchased …); the register import (docs/onboarding.md) stores
them on ``core.animals`` instead of reading and dropping them. ``placeholder`` marks a parent
created only because a register named it (``--create-parents``): it has no birth date or herd
yet, and a later register with its row fills it in (and clears the mark). An entry before the
birth date is refused for every writer.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("animals", sa.Column("management_number", sa.String(length=32)), schema="core")
    op.add_column("animals", sa.Column("entry_date", sa.Date()), schema="core")
    op.add_column("animals", sa.Column("entry_status", sa.String(length=32)), schema="core")
    op.add_column("animals", sa.Column("placeholder", sa.Boolean(), nullable=False,
                                       server_default=sa.text("false")), schema="core")
    op.create_check_constraint(op.f("ck_animals_entry_after_birth"), "animals",
                               "entry_date IS NULL OR birth_date IS NULL "
                               "OR entry_date >= birth_date", schema="core")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_animals_entry_after_birth"), "animals", schema="core")
    for column in ("placeholder", "entry_status", "entry_date", "management_number"):
        op.drop_column("animals", column, schema="core")
