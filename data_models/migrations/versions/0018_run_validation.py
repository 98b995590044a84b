"""every evaluation run records its forward validation and the genetic trend

``core.evaluation_runs.validation`` (JSONB, ``{}`` for runs before this revision) holds the
LR-method statistics of the run (Legarra & Reverter 2018; bias, dispersion, ratio of
accuracies, accuracy of the partial GEBVs per trait, or "validation not possible: N animals"),
the validation cohort, the genetic trend per birth year, and the release verdict: the named
reasons that keep the run from an automatic release, and, once a person releases it anyway,
who did so and why (``reprotech_core/store/evaluations.py``).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("evaluation_runs", sa.Column("validation", JSONB(), nullable=False,
                                               server_default="{}"), schema="core")


def downgrade() -> None:
    op.drop_column("evaluation_runs", "validation", schema="core")
