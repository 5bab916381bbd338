"""The strict upstream schema shared by catalog models and experiment versions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

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

    @property
    def base(self) -> str:
        return str(self.base_url).rstrip("/")

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
