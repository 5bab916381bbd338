"""The list of optional routers mounted by the app, kept in one place."""

from __future__ import annotations

from fastapi import APIRouter

from previewgate.experiments import endpoints as experiments_endpoints


def extra_routers() -> list[APIRouter]:
    return [experiments_endpoints.router]
