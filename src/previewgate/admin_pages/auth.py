"""Admin sessions: a server-side session per sign-in, a signed cookie, per-session CSRF tokens.

Sign-in exchanges a live admin's API key for a session row in the store
(``admin_session``: the sha256 of a random token, the user and the key it was made from,
an expiry ``SESSION_MAX_AGE_S`` ahead) and a cookie ``{"s": token, "c": csrf token}``
signed with itsdangerous. The key itself is never stored. Every page request reads the
row back (admin pages are not the hot path; one indexed read), so signing out (the row is
deleted), revoking the key, deleting the user or dropping the admin flag ends the session
at once, and a copied cookie stops working with it.

The signing secret is ``PREVIEWGATE_SESSION_SECRET`` when set; otherwise it is derived by
HMAC from the encryption key (stable across restarts and workers, and distinct from the
key itself); with neither, a random per-process secret is used and sessions end when the
process restarts (and do not carry across ``--workers`` processes).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from previewgate.accounts import queries as account_queries
from previewgate.accounts import service as accounts
from previewgate.config import Settings
from previewgate.crypto import hash_api_key
from previewgate.deps import RuntimeDep
from previewgate.routing.snapshot import Caller
from previewgate.runtime import Runtime

log = logging.getLogger(__name__)

SESSION_COOKIE = "pg_admin_session"
PRESESSION_COOKIE = "pg_admin_presession"
COOKIE_PATH = "/admin"
SESSION_MAX_AGE_S = 12 * 3600
PRESESSION_MAX_AGE_S = 3600
CSRF_FIELD = "csrf_token"
_PROCESS_SECRET = secrets.token_bytes(32)
_warned = False


class SignInRequired(Exception):
    """No valid admin session: the page answers with a redirect to the sign-in form."""


class CsrfRejected(Exception):
    """A form post without this session's CSRF token: the page answers 403."""


@dataclass(frozen=True)
class AdminSession:
    caller: Caller
    session_id: str  # sha256 of the cookie's token: the admin_session row's key
    csrf: str


def session_secret(settings: Settings) -> bytes:
    if settings.session_secret:
        return settings.session_secret.encode()
    key = settings.encryption_key_bytes()
    if key is not None:
        # A derived value, so the cookie signature never exposes the encryption key itself.
        return hmac.new(key, b"previewgate admin session v1", hashlib.sha256).digest()
    global _warned
    if not _warned:
        _warned = True
        log.warning("no session secret or encryption key: admin sessions end on restart")
    return _PROCESS_SECRET


def _serializer(runtime: Runtime, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(session_secret(runtime.settings), salt=salt)


def _load(runtime: Runtime, salt: str, token: str | None, max_age: int) -> Any:
    if not token:
        return None
    try:
        return _serializer(runtime, salt).loads(token, max_age=max_age)
    except BadSignature:  # includes SignatureExpired
        return None


def secure_cookies(request: Request, settings: Settings) -> bool:
    """HTTPS seen directly, or reported by a trusted proxy (``X-Forwarded-Proto``)."""
    if request.url.scheme == "https":
        return True
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    peer = request.client.host if request.client else None
    if proto != "https" or peer is None:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in settings.trusted_networks)


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(runtime: Runtime, api_key: str) -> str | None:
    """A new session for a live admin's API key, as the signed cookie value; else None."""
    key = api_key.strip()
    if not key:
        return None
    token = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=SESSION_MAX_AGE_S)
    async with runtime.sessions() as session, session.begin():
        found = await account_queries.live_admin_key(session, hash_api_key(key))
        if found is None:
            return None
        await accounts.open_admin_session(session, found, _session_id(token), lifetime)
    payload = {"s": token, "c": secrets.token_urlsafe(32)}
    return _serializer(runtime, "session").dumps(payload)


async def current_session(request: Request, runtime: Runtime) -> AdminSession | None:
    """The signed-in admin, checked against the store on every call; None otherwise."""
    data = _load(runtime, "session", request.cookies.get(SESSION_COOKIE), SESSION_MAX_AGE_S)
    if not isinstance(data, dict):
        return None
    token, csrf = data.get("s"), data.get("c")
    if not isinstance(token, str) or not isinstance(csrf, str):
        return None
    session_id = _session_id(token)
    async with runtime.sessions() as session:
        user_id = await account_queries.admin_of_session(session, session_id)
    if user_id is None:
        return None
    return AdminSession(Caller(user_id, is_admin=True), session_id, csrf)


async def end_session(runtime: Runtime, found: AdminSession) -> None:
    """Sign out: the session row goes, so every copy of the cookie stops working."""
    async with runtime.sessions() as session, session.begin():
        await account_queries.close_admin_session(session, found.session_id)


def signed_in(request: Request) -> AdminSession | None:
    """The session ``require_session`` found for this request (no store read)."""
    found = getattr(request.state, "admin_session", None)
    return found if isinstance(found, AdminSession) else None


async def require_session(request: Request, runtime: RuntimeDep) -> AdminSession:
    found = await current_session(request, runtime)
    if found is None:
        raise SignInRequired
    request.state.admin_session = found
    # Lets deps.require_admin accept this request, e.g. for shared read helpers.
    request.state.admin_caller = found.caller
    return found


async def require_csrf(
    request: Request, session: Annotated[AdminSession, Depends(require_session)]
) -> AdminSession:
    """For every state-changing page POST: the form must carry this session's token."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
        raise CsrfRejected
    return session


async def session_for_reads(request: Request, runtime: RuntimeDep) -> None:
    """Optional router dependency for the REST API: a session authenticates GETs only.

    Mutations over REST still need an API key; with cookies they go through the
    CSRF-checked forms of these pages.
    """
    if request.method in ("GET", "HEAD"):
        found = await current_session(request, runtime)
        if found is not None:
            request.state.admin_caller = found.caller


def presession_token(request: Request, runtime: Runtime) -> tuple[str, str | None]:
    """The sign-in form's CSRF token and, when new, the signed cookie to set for it."""
    token = _load(
        runtime, "presession", request.cookies.get(PRESESSION_COOKIE), PRESESSION_MAX_AGE_S
    )
    if isinstance(token, str):
        return token, None
    token = secrets.token_urlsafe(32)
    return token, _serializer(runtime, "presession").dumps(token)


def check_presession(request: Request, runtime: Runtime, sent: object) -> None:
    """Sign-in is a form too: a double-submit token bound to a signed cookie."""
    token = _load(
        runtime, "presession", request.cookies.get(PRESESSION_COOKIE), PRESESSION_MAX_AGE_S
    )
    ok = isinstance(token, str) and isinstance(sent, str)
    if not ok or not hmac.compare_digest(str(sent), str(token)):
        raise CsrfRejected


SessionPage = Annotated[AdminSession, Depends(require_session)]
SessionForm = Annotated[AdminSession, Depends(require_csrf)]
