"""research.phenotypes: recorded performance under the research pseudonyms

A GWAS or a cross-validation of a recorded trait needs phenotypes; the research views had none.
The view uses the same pseudonym as ``research.animals`` (so the two join on ``animal``), shows
the record's year only, and like every research view returns rows only to an actor with
``research:read``. Ownership and grants follow from data_models/sql/privileges.sql.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE VIEW research.phenotypes AS
          SELECT 'A' || substr(encode(sha256(convert_to(k.key || ':animal:' || p.animal_id,
                                                         'UTF8')), 'hex'), 1, 12) AS animal,
                 p.trait, p.value, extract(year FROM p.recorded_on)::int AS record_year
            FROM core.phenotypes p CROSS JOIN core.pseudonym_key k
           WHERE (SELECT core.actor_has_permission('research:read'))
        """
    )


def downgrade() -> None:
    op.execute("DROP VIEW research.phenotypes")
