"""Form posts → the service schemas, with errors per field for inline display.

Validation here only decides where a message is shown; the services validate again
(the upstream through ``catalog.service.parse_upstream``) and stay the authority.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

T = TypeVar("T", bound=BaseModel)
# Never echoed back into a page, even when the form is re-rendered with errors.
SECRET_FIELDS = frozenset({"api_key"})


@dataclass
class FormResult:
    """What the page needs to re-render a refused form: messages and the safe values."""

    key: str
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def checkbox(form: FormData, name: str) -> bool:
    return text(form, name) in ("on", "true", "1")


def safe_values(form: FormData) -> dict[str, str]:
    return {
        name: value
        for name, value in form.items()
        if isinstance(value, str) and name not in SECRET_FIELDS and name != "csrf_token"
    }


def parse_json_field(raw: str, name: str, result: FormResult) -> Any:
    """JSON text from a textarea; a syntax error is reported with its line and column."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        result.errors[name] = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        return None


def _messages(exc: ValidationError) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        name = loc[0] if loc else "form"
        inner = ".".join(loc[1:])
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field (the upstream schema is strict)"
        found.setdefault(name, []).append(f"{inner}: {message}" if inner else message)
    return {name: "; ".join(parts) for name, parts in found.items()}


def validate(schema: type[T], data: dict[str, Any], result: FormResult) -> T | None:
    """The schema instance, or None with the field errors recorded in ``result``."""
    try:
        parsed = schema.model_validate(data)
    except ValidationError as exc:
        for name, message in _messages(exc).items():
            result.errors.setdefault(name, message)  # a JSON syntax error stays first
        return None
    return None if result.errors else parsed
