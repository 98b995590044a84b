"""The append-only audit log, partitioned by month.

It grows with every audited write and is never deleted from, so it is the one table that is
partitioned: old months can be detached and archived whole, and queries for a period touch
only its partitions. The other tables stay unpartitioned: the largest (genotypes, ~15 KB per
animal) holds ~150 MB for 10,000 animals and ~1.5 GB for 100,000, which one heap and its
indexes serve well; partitioning them would add planning cost and RLS pitfalls (partitions
do not inherit policies) for no gain. Rows are written only by the audit trigger.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from data_models.base import Base

AUDIT = "audit"


class AuditEvent(Base):
    __tablename__ = "log"
    __table_args__ = {"schema": AUDIT, "postgresql_partition_by": "RANGE (occurred_at)"}
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, server_default=text("clock_timestamp()")
    )
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    db_login: Mapped[str] = mapped_column(String(63), nullable=False)
    application: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(8), nullable=False)
    table_name: Mapped[str] = mapped_column(String(63), nullable=False)
    row_id: Mapped[str | None] = mapped_column(Text)
    customer_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    old_values: Mapped[dict | None] = mapped_column(JSONB)
    new_values: Mapped[dict | None] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(Text)
    transaction_id: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=text("txid_current()")
    )
