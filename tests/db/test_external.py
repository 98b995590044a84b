"""The external-database path: the platform given URLs instead of an embedded cluster."""

from __future__ import annotations

from reprotech_core.db.migrate import admin_url, app_url, head_revision, migrate
from reprotech_core.db.session import Database
from tests.conftest import make_settings


def test_external_urls_migrate_and_serve(pg_settings, tmp_path, monkeypatch):
    # The session's test cluster plays the external server: the platform only gets URLs.
    external = make_settings(tmp_path, db_port=pg_settings.db_port,
                             database_url=app_url(pg_settings).replace("+psycopg", ""),
                             database_admin_url=admin_url(pg_settings))
    assert not external.embedded
    assert migrate(external) == head_revision()
    db = Database(app_url(external))
    try:
        assert db.identity("system").role == "super_admin"
    finally:
        db.dispose()
    assert not (tmp_path / "var" / "pg").exists()  # no embedded cluster was created
