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


def test_standard_variables_are_reported_by_their_own_names_without_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "https://gw:pw-in-a-bad-url@proxy.corp:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://gw:other-pw@proxy.corp:notaport")
    monkeypatch.setenv("PREVIEWGATE_EGRESS_PROXIES", "eu=socks5://gw:third-pw@h:1")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("PREVIEWGATE_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    for name in (
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "PREVIEWGATE_EGRESS_PROXIES",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "PREVIEWGATE_LOG_FORMAT",
    ):
        assert name in message
    assert "PREVIEWGATE_HTTPS_PROXY" not in message
    for secret in ("pw-in-a-bad-url", "other-pw", "third-pw"):
        assert secret not in message
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_egress_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://gw:p%40ss@proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal")
    monkeypatch.setenv("PREVIEWGATE_EGRESS_PROXIES", "eu=10.0.0.5:8080, us=http://us-proxy")
    settings = load_settings()
    assert "p%40ss" not in repr(settings) and "p@ss" not in repr(settings)
    egress = settings.egress
    assert str(egress.https) == "proxy.corp:3128" and egress.http is None
    assert egress.https is not None and egress.https.authorization == b"Basic Z3c6cEBzcw=="
    assert "Basic" not in repr(egress)
    assert {n: str(p) for n, p in egress.named.items()} == {
        "eu": "10.0.0.5:8080",
        "us": "us-proxy:80",
    }
    assert egress.choose("https", "api.example", 443, None) is egress.https
    assert egress.choose("https", "svc.internal", 443, None) is None
    assert egress.choose("https", "api.example", 443, "direct") is None
    assert egress.choose("http", "svc.internal", 80, "eu") is egress.named["eu"]


@pytest.mark.parametrize(
    ("variables", "exporter"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, None),
    ],
)
def test_tracing_is_off_unless_asked_for(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], exporter: str | None
) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_TRACES_EXPORTER",
        "OTEL_SDK_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert load_settings().trace_exporter == exporter
