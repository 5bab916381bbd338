"""The strict upstream schema shared by catalog models and experiment versions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from previewgate.egress import DIRECT, PROXY_NAME

ApiFormat = Literal["openai-chat", "openai-responses", "anthropic-messages"]


class UpstreamSpec(BaseModel):
    """Where and how to call a model. Unknown fields are refused; no headers, no key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    internal_id: str = Field(min_length=1, max_length=300)
    base_url: HttpUrl
    api_format: ApiFormat = "openai-chat"
    extra_body: dict[str, Any] = Field(default_factory=dict)
    remove_from_body: list[str] = Field(default_factory=list)
    add_cache_breakpoints: bool = False
    inject_reasoning_into_content: bool = False
    # The egress proxy for this upstream: unset follows HTTPS_PROXY/HTTP_PROXY/NO_PROXY,
    # "direct" bypasses them, any other value names a proxy of PREVIEWGATE_EGRESS_PROXIES
    # (a name, never a URL: this JSON is stored in clear and a proxy URL may hold a password).
    proxy: str | None = Field(default=None, max_length=63)

    @field_validator("base_url")
    @classmethod
    def _http_only(cls, value: HttpUrl) -> HttpUrl:
        if value.scheme not in ("http", "https"):
            raise ValueError("base_url must be http or https")
        return value

    @field_validator("remove_from_body")
    @classmethod
    def _protect_core_fields(cls, value: list[str]) -> list[str]:
        if {"model", "messages"} & set(value):
            raise ValueError("remove_from_body may not remove 'model' or 'messages'")
        return value

    @field_validator("proxy")
    @classmethod
    def _proxy_name(cls, value: str | None) -> str | None:
        if value is not None and value != DIRECT and not PROXY_NAME.fullmatch(value):
            raise ValueError(
                f"proxy is {DIRECT!r} or the name of a proxy in PREVIEWGATE_EGRESS_PROXIES "
                "(lower-case letters, digits, '.', '_', '-'); URLs are not accepted"
            )
        return value

    @property
    def base(self) -> str:
        return str(self.base_url).rstrip("/")

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
