"""Settings: typed, documented, secrets only from the environment or a 0600 file."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprotech_core.settings import (
    Settings,
    SettingsError,
    get_settings,
    read_secret_file,
    settings_markdown,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("REPROTECH_"):
            monkeypatch.delenv(name)


def test_every_setting_is_described_and_the_docs_are_current():
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
    docs = (ROOT / "docs" / "settings.md").read_text()
    assert docs == settings_markdown(), "docs/settings.md is stale: reprotech settings docs"


def test_environment_overrides_file(tmp_path, monkeypatch):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "reprotech.toml").write_text("db_port = 6000\nlog_level = 'DEBUG'\n")
    monkeypatch.setenv("REPROTECH_HOME", str(tmp_path))
    monkeypatch.setenv("REPROTECH_DB_PORT", "6001")
    s = Settings()
    assert s.db_port == 6001 and s.log_level == "DEBUG"
    assert s.home == tmp_path and s.var_dir == tmp_path / "var"


def test_secret_in_settings_file_is_refused(tmp_path, monkeypatch):
    cfg = tmp_path / "reprotech.toml"
    cfg.write_text("database_url = 'postgresql://app:pw@db/x'\n")
    monkeypatch.setenv("REPROTECH_CONFIG", str(cfg))
    with pytest.raises(SettingsError, match="database_url must not be in the settings file"):
        Settings()


def test_wrong_setting_is_named(monkeypatch):
    monkeypatch.setenv("REPROTECH_DB_PORT", "eighty")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match="db_port"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_unknown_setting_in_file_is_refused(tmp_path, monkeypatch):
    cfg = tmp_path / "reprotech.toml"
    cfg.write_text("db_prot = 5\n")
    monkeypatch.setenv("REPROTECH_CONFIG", str(cfg))
    with pytest.raises(Exception, match="db_prot"):
        Settings()


def test_secret_file_must_be_private(tmp_path):
    secret = tmp_path / "url"
    secret.write_text("postgresql://x\n")
    secret.chmod(0o644)
    with pytest.raises(SettingsError, match="readable by others"):
        read_secret_file(secret, "database_url")
    secret.chmod(0o600)
    assert read_secret_file(secret, "database_url") == "postgresql://x"


def test_external_database_url_from_private_file(tmp_path, monkeypatch):
    secret = tmp_path / "url"
    secret.write_text("postgresql://reprotech_app:pw@db.example:5432/reprotech")
    secret.chmod(0o600)
    monkeypatch.setenv("REPROTECH_DATABASE_URL_FILE", str(secret))
    s = Settings()
    assert not s.embedded
    assert s.resolved_database_url().endswith("@db.example:5432/reprotech")
    assert "pw" not in repr(s)


def test_validation_dispersion_range_must_straddle_one(tmp_path, monkeypatch):
    """A range that excludes 1 (no dispersion) would block every run's automatic release."""
    cfg = tmp_path / "reprotech.toml"
    cfg.write_text("validation_dispersion_range = [0.8, 1.2]\n")
    monkeypatch.setenv("REPROTECH_CONFIG", str(cfg))
    assert Settings().validation_dispersion_range == (0.8, 1.2)
    cfg.write_text("validation_dispersion_range = [1.1, 1.3]\n")
    with pytest.raises(ValueError, match="0 < low < 1 < high"):
        Settings()
