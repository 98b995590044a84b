"""each evaluation result says its basis: genomic or pedigree-based

``core.evaluation_results.basis`` is ``genomic`` when the value uses the animal's own genotype
and ``pedigree`` for a single-step value of a non-genotyped animal (its pedigree and its
relatives' genotypes and records; ``reprotech_core/store/single_step_run.py``). Every row
before this revision came from GBLUP of genotyped animals, so the default ``genomic`` is
their true basis. Row security is the table's, unchanged: the column adds no new rows' kind
of access. The research view carries the column too.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

RESEARCH_VIEW = """
CREATE OR REPLACE VIEW research.evaluation_results AS
  SELECT 'A' || substr(encode(sha256(convert_to(k.key || ':animal:' || r.animal_id, 'UTF8')), 'hex'), 1, 12)
           AS animal,
         r.run_id, r.trait, r.gebv, r.reliability, r.released{basis}
    FROM core.evaluation_results r CROSS JOIN core.pseudonym_key k
   WHERE (SELECT core.actor_has_permission('research:read'))
"""


def upgrade() -> None:
    op.add_column("evaluation_results", sa.Column("basis", sa.String(length=8), nullable=False,
                                                  server_default="genomic"), schema="core")
    op.create_check_constraint(op.f("ck_evaluation_results_basis"), "evaluation_results",
                               "basis IN ('genomic', 'pedigree')", schema="core")
    op.execute(RESEARCH_VIEW.format(basis=", r.basis"))


def downgrade() -> None:
    op.execute("DROP VIEW research.evaluation_results")
    op.execute(RESEARCH_VIEW.format(basis="").replace("CREATE OR REPLACE", "CREATE"))
    op.drop_constraint(op.f("ck_evaluation_results_basis"), "evaluation_results",
                       schema="core", type_="check")
    op.drop_column("evaluation_results", "basis", schema="core")
