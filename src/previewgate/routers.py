"""The list of optional routers mounted by the app, kept in one place."""

from __future__ import annotations

from fastapi import APIRouter


def extra_routers() -> list[APIRouter]:
    return []
