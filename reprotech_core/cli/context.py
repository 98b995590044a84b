"""What every ``reprotech`` subcommand needs: the settings and a database session as the
platform's ``system`` user (the embedded cluster is started when needed)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from reprotech_core.db.cluster import Cluster
from reprotech_core.db.migrate import app_url
from reprotech_core.db.session import Database, Identity
from reprotech_core.settings import Settings, get_settings


def settings() -> Settings:
    return get_settings()


def database(config: Settings, *, start: bool = True) -> Database:
    if config.embedded and start:
        Cluster(config).start()
    return Database(app_url(config), pool_size=2,
                    transaction_pooling=config.db_transaction_pooling)


def open_database() -> tuple[Database, Identity]:
    db = database(settings())
    return db, db.identity("system")


@contextmanager
def system_session(reason: str | None = None) -> Iterator[Session]:
    """One unit of work as the platform's ``system`` user; the connection is closed after."""
    db, system = open_database()
    try:
        with db.session(system, reason=reason) as session:
            yield session
    finally:
        db.dispose()


def print_table(columns: Iterable[str], rows: Iterable[Iterable[object]], *,
                title: str | None = None) -> None:
    """Print rows as a table; ``None`` shows as a dash."""
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("—" if v is None else escape(str(v)) for v in row))  # data, not markup
    Console().print(table)
