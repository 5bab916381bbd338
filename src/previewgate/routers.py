"""The list of optional routers mounted by the app, kept in one place."""

from __future__ import annotations

from typing import Any


def extra_routers() -> list[Any]:
    return []
