"""One typed settings object: the only reader of the environment.

Every value comes from a ``PREVIEWGATE_*`` variable and is validated when the
process starts, so a bad value stops the start with one clear line per error.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from previewgate.egress import (
    DIRECT,
    PROXY_NAME,
    Egress,
    EgressProxy,
    NoProxy,
    parse_proxy_url,
)

DEFAULT_DATA_DIR = Path(".previewgate")
MiB = 1024 * 1024


class ConfigError(Exception):
    """The environment does not describe a runnable gateway."""


# A century: any longer and "now - grace" falls before year 1 (an overflow, not a refusal).
MAX_GC_GRACE_S = 100 * 365 * 86400


class Settings(BaseSettings):
    # populate_by_name: the standard variables below are read by their own names (aliases)
    # and still passed by field name in code.
    model_config = SettingsConfigDict(
        env_prefix="PREVIEWGATE_", extra="ignore", populate_by_name=True
    )

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    redis_url: str | None = None
    blob_url: str = ""
    encryption_key: str | None = None
    default_upstream_url: str | None = None
    default_upstream_key: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Networks webhook deliveries may reach although they are not public (e.g. loopback for
    # a receiver on the same host); empty means public addresses only.
    webhook_allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=32 * MiB, gt=0)
    auto_candidates: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cache_ttl_s: float = Field(default=60.0, gt=0)
    # How often each process reads the store's routing generation (a change made anywhere
    # is live everywhere within this, Redis or not).
    routing_poll_s: float = Field(default=1.0, gt=0, le=3600)
    # Lookups in the store of API keys the routing state does not know (new keys), per
    # second and in a burst; beyond, unknown keys are refused from memory.
    key_lookup_rate_per_s: float = Field(default=20.0, gt=0)
    key_lookup_burst: int = Field(default=50, ge=1)
    upstream_connect_timeout_s: float = Field(default=10.0, gt=0)
    upstream_read_timeout_s: float = Field(default=300.0, gt=0)
    writer_batch_size: int = Field(default=500, ge=1)
    writer_max_buffer: int = Field(default=100_000, ge=1)
    writer_linger_s: float = Field(default=0.25, ge=0, le=10)
    # How often the event-loop lag monitor samples (0: off); /metrics has its histogram.
    loop_lag_interval_s: float = Field(default=0.005, ge=0, le=1)
    # Run the partner trace export worker inside `serve` (or run `previewgate export worker`).
    export_worker: bool = False
    # Run the webhook delivery worker inside `serve` (or run `previewgate webhooks worker`).
    webhook_worker: bool = False
    # Delays before attempts 1, 2, ... (seconds, comma-separated), each +-jitter; a claimed
    # delivery is another worker's again after the lease (a worker killed mid-send).
    webhook_schedule_s: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        min_length=1,
    )
    webhook_jitter: float = Field(default=0.1, ge=0, le=1)
    webhook_lease_s: float = Field(default=120.0, gt=0)
    export_interval_s: float = Field(default=30.0, gt=0)
    export_settle_s: float = Field(default=600.0, ge=0)  # after midnight UTC, before a day
    capture_limit_bytes: int = Field(default=4 * MiB, ge=1024)
    gc_grace_s: float = Field(default=3600.0, ge=0, le=MAX_GC_GRACE_S)
    session_secret: str | None = None
    # A Bearer value that means "anonymous caller", for SDKs that refuse an empty key.
    # Empty disables it (any key then must be a real one).
    anonymous_key: str = Field(default="anonymous", max_length=200)
    log_level: str = "INFO"
    # text: human-readable lines; json: one JSON object per line, for log pipelines.
    log_format: Literal["text", "json"] = "text"
    # Egress proxies for upstream calls, by the standard variables (either case; no prefix).
    # Secret: a proxy URL may carry a password.
    https_proxy: SecretStr | None = Field(default=None, validation_alias="HTTPS_PROXY")
    http_proxy: SecretStr | None = Field(default=None, validation_alias="HTTP_PROXY")
    no_proxy: str = Field(default="", validation_alias="NO_PROXY")
    # Proxies an upstream may pick by name with its "proxy" field: "name=URL,name=URL".
    egress_proxies: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict)
    # Tracing is off unless an exporter or an OTLP endpoint is named (the SDK itself reads
    # the rest of the OTEL_* variables: headers, timeouts, sampler, service name).
    otel_sdk_disabled: bool = Field(default=False, validation_alias="OTEL_SDK_DISABLED")
    otel_traces_exporter: str | None = Field(default=None, validation_alias="OTEL_TRACES_EXPORTER")
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    otel_exporter_otlp_protocol: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_PROTOCOL"
    )
    otel_exporter_otlp_traces_protocol: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    )
    # Message content on spans (the GenAI instrumentations' variable); never for
    # experimented ids.
    otel_capture_message_content: bool = Field(
        default=False, validation_alias="OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
    )
    # Identity header names, lower-case, first match wins.
    request_id_headers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["x-kilo-request", "x-client-request-id"]
    )
    session_headers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["x-kilocode-taskid", "x-kilo-session", "x-session-id"]
    )
    machine_headers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["x-kilocode-machineid", "x-machine-id"]
    )

    @field_validator(
        "trusted_proxies",
        "webhook_allowed_networks",
        "auto_candidates",
        "request_id_headers",
        "session_headers",
        "machine_headers",
        "webhook_schedule_s",
        mode="before",
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("request_id_headers", "session_headers", "machine_headers")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.lower() for v in value]

    @field_validator("trusted_proxies", "webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("blob_url")
    @classmethod
    def _blob_url(cls, value: str) -> str:
        if value and not value.startswith(("file://", "s3://")):
            raise ValueError("must be file://PATH or s3://BUCKET?endpoint_url=...")
        return value

    @field_validator("default_upstream_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @field_validator(
        "https_proxy",
        "http_proxy",
        "otel_traces_exporter",
        "otel_exporter_otlp_endpoint",
        "otel_exporter_otlp_traces_endpoint",
        "otel_exporter_otlp_protocol",
        "otel_exporter_otlp_traces_protocol",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("https_proxy", "http_proxy")
    @classmethod
    def _proxy_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_proxy_url(value.get_secret_value())  # its errors never quote the URL
        return value

    @field_validator("egress_proxies", mode="before")
    @classmethod
    def _named_proxies(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        named: dict[str, str] = {}
        for item in value.split(","):
            if not item.strip():
                continue
            name, sep, url = item.partition("=")
            name = name.strip()
            if not sep or not PROXY_NAME.fullmatch(name) or name == DIRECT:
                raise ValueError(
                    "expected name=URL pairs separated by commas; names are lower-case "
                    f"letters, digits, '.', '_' or '-', and not {DIRECT!r}"
                )
            try:
                parse_proxy_url(url)
            except ValueError as exc:
                raise ValueError(f"proxy {name!r}: {exc}") from None
            named[name] = url.strip()
        return named

    @field_validator("otel_traces_exporter")
    @classmethod
    def _traces_exporter(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() not in ("otlp", "console", "none"):
            raise ValueError("supported trace exporters: otlp, console, none")
        return value.strip().lower() if value else value

    @field_validator("otel_exporter_otlp_protocol", "otel_exporter_otlp_traces_protocol")
    @classmethod
    def _otlp_protocol(cls, value: str | None) -> str | None:
        if value is not None and value.strip() != "http/protobuf":
            raise ValueError("only http/protobuf is supported for OTLP")
        return value

    @field_validator("encryption_key")
    @classmethod
    def _encryption_key(cls, value: str | None) -> str | None:
        if value:
            try:
                raw = base64.b64decode(value, validate=True)
            except ValueError as exc:
                raise ValueError("must be base64") from exc
            if len(raw) != 32:
                raise ValueError("must be base64 of exactly 32 bytes")
        return value

    def replace(self, **changes: object) -> Settings:
        """A re-validated copy with ``changes`` applied (derived values recomputed)."""
        return type(self)(**{**self.model_dump(), **changes})

    @property
    def is_embedded(self) -> bool:
        """True when running on the embedded defaults (SQLite file in the data folder)."""
        return self.resolved_database_url.startswith("sqlite")

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve()}/previewgate.db"

    @cached_property
    def resolved_blob_url(self) -> str:
        return self.blob_url or f"file://{self.data_dir.resolve()}/blobs"

    @cached_property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies)

    @cached_property
    def webhook_allowed_network_list(
        self,
    ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.webhook_allowed_networks)

    @cached_property
    def egress(self) -> Egress:
        """The egress policy for upstream calls (the URLs were checked when read)."""

        def proxy(value: SecretStr) -> EgressProxy:
            return parse_proxy_url(value.get_secret_value())

        return Egress(
            http=proxy(self.http_proxy) if self.http_proxy else None,
            https=proxy(self.https_proxy) if self.https_proxy else None,
            no_proxy=NoProxy(self.no_proxy),
            named={name: proxy(url) for name, url in self.egress_proxies.items()},
        )

    @property
    def trace_exporter(self) -> Literal["otlp", "console"] | None:
        """Which span exporter to run, or None: tracing is off unless asked for."""
        chosen = self.otel_traces_exporter
        if self.otel_sdk_disabled or chosen == "none":
            return None
        if chosen == "console":
            return "console"
        if chosen == "otlp":
            return "otlp"
        endpoint = self.otel_exporter_otlp_traces_endpoint or self.otel_exporter_otlp_endpoint
        return "otlp" if endpoint else None

    def encryption_key_bytes(self) -> bytes | None:
        """The 32-byte key, or None when no key is configured or generated."""
        if self.encryption_key:
            return base64.b64decode(self.encryption_key)
        if self.is_embedded:
            path = self.data_dir / "encryption.key"
            if path.exists():
                return base64.b64decode(path.read_text().strip())
        return None

    def ensure_embedded_key(self) -> None:
        """On embedded defaults, generate the encryption key once into the data folder."""
        if self.encryption_key or not self.is_embedded:
            return
        path = self.data_dir / "encryption.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(base64.b64encode(os.urandom(32)).decode())


def load_settings(**overrides: object) -> Settings:
    """Read and validate the environment; raise ConfigError with one line per bad value."""
    lines = []
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        for err in exc.errors():
            where = str(err["loc"][0]) if err["loc"] else "?"
            # Standard variables (HTTPS_PROXY, OTEL_*) are reported by their own names.
            name = where if where.isupper() else "PREVIEWGATE_" + where.upper()
            lines.append(f"{name}: {err['msg']}")
    # Raised outside the handler, so it carries no context: pydantic's own text quotes every
    # input, a proxy password included.
    raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
