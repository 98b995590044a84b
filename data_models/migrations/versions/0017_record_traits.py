"""the traits of imported performance records and of phenotypes derived from reproduction

Lactation yields, health events and the fertility/longevity phenotypes derived from the
platform's own records (reprotech_core/records/) are stored in ``core.phenotypes`` under these
trait codes, so the evaluation, the research views and the audit trigger serve them as they
serve every phenotype. The list is the one in ``reprotech_core/records/traits.py`` (a test
checks that every code there is a row here).

Revision ID: 0017
Revises: 0015
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TRAITS = (
    ("milk_305d", "Milk yield of a 305-day lactation (recorded on its calving date)", "kg"),
    ("fat_305d", "Fat yield of a 305-day lactation (recorded on its calving date)", "kg"),
    ("protein_305d", "Protein yield of a 305-day lactation (recorded on its calving date)", "kg"),
    ("clinical_mastitis", "Health event: clinical mastitis (1 on the day diagnosed)", "event"),
    ("lameness", "Health event: lameness (1 on the day diagnosed)", "event"),
    ("metritis", "Health event: metritis (1 on the day diagnosed)", "event"),
    ("retained_placenta", "Health event: retained placenta (1 on the day diagnosed)", "event"),
    ("ketosis", "Health event: clinical ketosis (1 on the day diagnosed)", "event"),
    ("displaced_abomasum", "Health event: displaced abomasum (1 on the day diagnosed)", "event"),
    ("milk_fever", "Health event: milk fever (hypocalcaemia; 1 on the day diagnosed)", "event"),
    ("days_open", "Calving to conception interval, derived from the reproduction records",
     "days"),
    ("first_service_conception", "Conception at the first service after calving (1/0), "
     "derived from the reproduction records", "0/1"),
    ("productive_life", "Days from first calving to exit, derived from calvings and exits",
     "days"),
)


def upgrade() -> None:
    for code, description, unit in TRAITS:
        op.execute(
            "INSERT INTO core.traits (code, description, unit) VALUES "
            f"('{code}', '{description}', '{unit}')"
        )


def downgrade() -> None:
    codes = ", ".join(f"'{code}'" for code, _, _ in TRAITS)
    op.execute(f"DELETE FROM core.traits WHERE code IN ({codes})")
