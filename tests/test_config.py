"""Configuration is validated at start with one clear line per bad value."""

from __future__ import annotations

import pytest

from previewgate.config import ConfigError, load_settings


def test_bad_values_are_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREVIEWGATE_PORT", "not-a-port")
    monkeypatch.setenv("PREVIEWGATE_ENCRYPTION_KEY", "c2hvcnQ=")
    monkeypatch.setenv("PREVIEWGATE_DATABASE_URL", "mysql://x")
    monkeypatch.setenv("PREVIEWGATE_TRUSTED_PROXIES", "10.0.0.0/8,banana")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    for name in (
        "PREVIEWGATE_PORT",
        "PREVIEWGATE_ENCRYPTION_KEY",
        "PREVIEWGATE_DATABASE_URL",
        "PREVIEWGATE_TRUSTED_PROXIES",
    ):
        assert name in message


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.is_embedded
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.resolved_blob_url.startswith("file://")
    assert settings.port == 8080 and settings.max_body_bytes == 32 * 1024 * 1024
    assert settings.encryption_key_bytes() is None
    settings.ensure_embedded_key()
    key = settings.encryption_key_bytes()
    assert key is not None and len(key) == 32
    settings.ensure_embedded_key()  # generated once, then reused
    assert settings.encryption_key_bytes() == key


def test_csv_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREVIEWGATE_AUTO_CANDIDATES", "a/b, c/d")
    monkeypatch.setenv("PREVIEWGATE_MACHINE_HEADERS", "X-My-Machine")
    settings = load_settings()
    assert settings.auto_candidates == ["a/b", "c/d"]
    assert settings.machine_headers == ["x-my-machine"]
