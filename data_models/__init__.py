"""The platform's schema, defined once.

SQLAlchemy models (this package) define tables and constraints; Alembic migrations
(``migrations/``) create them, and the security layer (roles, row-level security policies,
audit and rule triggers, research views) is SQL applied by those migrations. A test checks that
the migrated database and these models agree. See docs/data-model.md and docs/security-model.md.
"""

from data_models.base import Base
from data_models import (  # noqa: F401
    animals,
    audit,
    delivery,
    evaluation,
    finance,
    lab,
    operations,
    reproduction,
    security,
    tenancy,
)

metadata = Base.metadata
