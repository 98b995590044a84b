"""tenant references: every animal a record names is of its customer or of the AI-sire catalogue

Own-only references were already composite foreign keys (models). The columns that may also
name the shared reference catalogue (pedigree sires and dams, bulls, embryo sires and donors,
parentage parents; ``core.catalogue_references()``) get statement triggers refusing another
farm's animal (rule ``tenant.reference``), and such a named animal cannot move to another farm
nor the catalogue stop being one while others name it. See 0013_tenant_references.sql.

Revision ID: 0013
Revises: 0012
"""

from pathlib import Path

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        (HERE / "0013_tenant_references.sql").read_text())


def downgrade() -> None:
    op.execute("""
        DO $$
        DECLARE t text;
        BEGIN
          FOR t IN SELECT DISTINCT table_name FROM core.catalogue_references() LOOP
            EXECUTE format('DROP TRIGGER check_tenant_references_insert ON core.%I', t);
            EXECUTE format('DROP TRIGGER check_tenant_references_update ON core.%I', t);
          END LOOP;
        END $$""")
    op.execute("DROP TRIGGER check_tenant_references_move ON core.animals")
    op.execute("DROP TRIGGER check_tenant_references_kind ON core.customers")
    for fn in ("core.check_tenant_references()", "core.check_animal_move()",
               "core.check_catalogue_kind()", "core.catalogue_references()"):
        op.execute(f"DROP FUNCTION {fn}")
