"""Admin sessions: a signed cookie holding an API key's hash, and per-session CSRF tokens.

Sign-in exchanges an admin API key for a cookie ``{"k": sha256(key), "c": csrf token}``
signed with itsdangerous and valid for ``SESSION_MAX_AGE_S``. The key itself is never
stored. Every request re-checks the hash against the routing snapshot's callers, so a
revoked key, a deleted user or a lost admin flag ends the session at the next refresh.

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
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from previewgate.config import Settings
from previewgate.crypto import hash_api_key
from previewgate.deps import RuntimeDep
from previewgate.gateway.endpoints import EMPTY_SNAPSHOT
from previewgate.gateway.snapshot import Caller
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
    key_hash: str
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


def admin_for_key(runtime: Runtime, api_key: str) -> Caller | None:
    """The admin behind a plaintext API key, or None (unknown, revoked or not an admin)."""
    caller = _callers(runtime).get(hash_api_key(api_key.strip()))
    return caller if caller is not None and caller.is_admin else None


def _callers(runtime: Runtime) -> dict[str, Caller]:
    return (runtime.routing.snapshot or EMPTY_SNAPSHOT).callers


def new_session_cookie(runtime: Runtime, api_key: str) -> str:
    payload = {"k": hash_api_key(api_key.strip()), "c": secrets.token_urlsafe(32)}
    return _serializer(runtime, "session").dumps(payload)


def current_session(request: Request, runtime: Runtime) -> AdminSession | None:
    """The signed-in admin, re-checked against the live key list; None otherwise."""
    data = _load(runtime, "session", request.cookies.get(SESSION_COOKIE), SESSION_MAX_AGE_S)
    if not isinstance(data, dict):
        return None
    key_hash, csrf = data.get("k"), data.get("c")
    if not isinstance(key_hash, str) or not isinstance(csrf, str):
        return None
    caller = _callers(runtime).get(key_hash)
    if caller is None or not caller.is_admin:
        return None
    return AdminSession(caller, key_hash, csrf)


def require_session(request: Request, runtime: RuntimeDep) -> AdminSession:
    found = current_session(request, runtime)
    if found is None:
        raise SignInRequired
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


def session_for_reads(request: Request, runtime: RuntimeDep) -> None:
    """Optional router dependency for the REST API: a session authenticates GETs only.

    Mutations over REST still need an API key; with cookies they go through the
    CSRF-checked forms of these pages.
    """
    if request.method in ("GET", "HEAD"):
        found = current_session(request, runtime)
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
