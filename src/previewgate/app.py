"""create_app(): the hot path in front, FastAPI for everything else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from previewgate import observability
from previewgate.accounts import endpoints as accounts_endpoints
from previewgate.admin_pages import endpoints as admin_pages_endpoints
from previewgate.catalog import endpoints as catalog_endpoints
from previewgate.config import Settings
from previewgate.errors import PreviewGateError
from previewgate.evidence import endpoints as evidence_endpoints
from previewgate.experiments import endpoints as experiments_endpoints
from previewgate.feedback import endpoints as feedback_endpoints
from previewgate.gateway.endpoints import MODEL_PATHS, ModelEndpoints
from previewgate.gateway.openapi import document_chat
from previewgate.partner_pages import endpoints as partner_pages_endpoints
from previewgate.partners import endpoints as partners_endpoints
from previewgate.partners import portal_endpoints
from previewgate.reporting import endpoints as reporting_endpoints
from previewgate.runtime import Runtime
from previewgate.store.outage import (
    RETRY_AFTER_S,
    STORE_UNAVAILABLE,
    describe,
    is_store_unreachable,
    sqlstate,
)
from previewgate.webhooks import endpoints as webhooks_endpoints

log = logging.getLogger(__name__)


def _error(status: int, message: str, code: str, type_: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": type_, "code": code}}, status_code=status
    )


def store_unavailable(exc: BaseException) -> JSONResponse:
    """503 for an unreachable store, logged by names only (no SQL, parameters or DSN)."""
    log.warning("the store is unavailable (%s): answered 503", describe(exc))
    response = _error(503, STORE_UNAVAILABLE, "store_unavailable", "server_error")
    response.headers["retry-after"] = str(RETRY_AFTER_S)
    return response


def build_api(runtime: Runtime, manage_runtime: bool) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            await runtime.start()
        try:
            yield
        finally:
            if manage_runtime:
                await runtime.stop()

    api = FastAPI(title="PreviewGate", version="0.1.0", lifespan=lifespan)
    api.state.runtime = runtime

    @api.exception_handler(PreviewGateError)
    async def _domain_error(_: Request, exc: PreviewGateError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @api.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return _error(422, f"{where}: {first.get('msg')}", "invalid_input", "invalid_request_error")

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else "http_error"
        return _error(exc.status_code, str(exc.detail), code, "invalid_request_error")

    @api.exception_handler(DBAPIError)
    async def _store_refused(_: Request, exc: DBAPIError) -> JSONResponse:
        if is_store_unreachable(exc):
            return store_unavailable(exc)
        # SQLSTATE class 22 (data exception, e.g. NUL in text on PostgreSQL) and 23
        # (integrity) mean the input is at fault, not the server.
        state = sqlstate(exc)
        if state.startswith("22") or isinstance(exc, DataError):
            log.info("store refused a value (SQLSTATE %s)", state)
            return _error(
                422,
                "a value cannot be stored (e.g. a NUL character)",
                "invalid_input",
                "invalid_request_error",
            )
        if state.startswith("23") or isinstance(exc, IntegrityError):
            log.info("store constraint refused a change (SQLSTATE %s)", state)
            return _error(
                409, "the change conflicts with stored data", "conflict", "invalid_request_error"
            )
        return await _unexpected(_, exc)

    @api.exception_handler(PoolTimeout)
    @api.exception_handler(OSError)
    async def _store_unreachable(request: Request, exc: Exception) -> JSONResponse:
        # Connect attempts let refused/reset/timed-out sockets through unwrapped.
        if is_store_unreachable(exc):
            return store_unavailable(exc)
        return await _unexpected(request, exc)

    @api.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
        return _error(500, "internal error", "internal_error", "server_error")

    api.include_router(observability.router)
    api.include_router(catalog_endpoints.public)
    api.include_router(catalog_endpoints.admin)
    api.include_router(accounts_endpoints.router)
    api.include_router(accounts_endpoints.admin)
    api.include_router(feedback_endpoints.router)
    api.include_router(partners_endpoints.router)
    api.include_router(partners_endpoints.slots)
    api.include_router(webhooks_endpoints.router)
    api.include_router(portal_endpoints.router)
    api.include_router(admin_pages_endpoints.router)
    api.include_router(admin_pages_endpoints.site)
    api.include_router(partner_pages_endpoints.router)
    api.include_router(experiments_endpoints.router)
    api.include_router(reporting_endpoints.router)
    api.include_router(evidence_endpoints.router)
    document_chat(api)  # the ASGI chat path, in /openapi.json
    return api


class PreviewGateApp:
    """The outermost ASGI app: the model endpoints (chat, responses, messages) bypass the
    framework."""

    def __init__(self, runtime: Runtime, manage_runtime: bool = True) -> None:
        self.runtime = runtime
        self.api = build_api(runtime, manage_runtime)
        self.models = ModelEndpoints(runtime)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in MODEL_PATHS:
            await self.models(scope, receive, send)
            return
        await self.api(scope, receive, send)


def create_app(settings: Settings) -> PreviewGateApp:
    return PreviewGateApp(Runtime.build(settings))


def create_app_from_env() -> PreviewGateApp:
    """Factory for `uvicorn --factory` (used by `previewgate serve --workers N`)."""
    from previewgate.config import load_settings

    return create_app(load_settings())
