"""Page sessions: a server-side session per sign-in, a signed cookie, per-session CSRF tokens.

Two realms use them: the operator's admin pages (``/admin``, a live admin's key) and the
partner portal (``/partner``, the key of a user with a partner membership). Each realm has
its own cookies (path, names and signing salt) and its own rule for who may hold a session.

Sign-in exchanges such an API key for a session row in the store (``admin_session``: the
sha256 of a random token, the user and the key it was made from, the realm, an expiry
``SESSION_MAX_AGE_S`` ahead) and a cookie ``{"s": token, "c": csrf token}`` signed with
itsdangerous. The key itself is never stored. Every page request reads the row back (pages
are not the hot path; one indexed read), so signing out (the row is deleted), revoking the
key, deleting the user or losing the realm's right (the admin flag, every membership) ends
the session at once, and a copied cookie stops working with it.

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
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.accounts import queries as account_queries
from previewgate.accounts import service as accounts
from previewgate.accounts.models import ApiKey
from previewgate.config import Settings
from previewgate.crypto import hash_api_key
from previewgate.deps import RuntimeDep
from previewgate.routing.snapshot import Caller
from previewgate.runtime import Runtime

log = logging.getLogger(__name__)

SESSION_MAX_AGE_S = 12 * 3600
PRESESSION_MAX_AGE_S = 3600
CSRF_FIELD = "csrf_token"
_PROCESS_SECRET = secrets.token_bytes(32)
_warned = False


@dataclass(frozen=True)
class Realm:
    """An area of pages with its own sessions: where it lives and who may sign in."""

    name: str  # "admin" | "partner": the session row's realm and the cookies' names
    path: str  # the URL prefix, and the path of every cookie of the realm
    home: str  # where a signed-in visitor lands
    live_key: Callable[[AsyncSession, str], Awaitable[ApiKey | None]]
    user_of_session: Callable[[AsyncSession, str], Awaitable[uuid.UUID | None]]
    key_refused: str  # the sign-in form's message for a key that does not qualify

    @property
    def session_cookie(self) -> str:
        return f"pg_{self.name}_session"

    @property
    def presession_cookie(self) -> str:
        return f"pg_{self.name}_presession"

    @property
    def flash_cookie(self) -> str:
        return f"pg_{self.name}_flash"

    def salt(self, purpose: str) -> str:
        # Distinct per realm, so no cookie of one realm verifies in the other.
        return purpose if self.name == "admin" else f"{self.name} {purpose}"


ADMIN = Realm(
    name="admin",
    path="/admin",
    home="/admin/experiments",
    live_key=account_queries.live_admin_key,
    user_of_session=account_queries.admin_of_session,
    key_refused="That is not an active admin API key.",
)
SESSION_COOKIE = ADMIN.session_cookie
PRESESSION_COOKIE = ADMIN.presession_cookie
COOKIE_PATH = ADMIN.path


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to its realm's sign-in form."""


class CsrfRejected(Exception):
    """A form post without this session's CSRF token: the page answers 403."""


@dataclass(frozen=True)
class PageSession:
    user_id: uuid.UUID
    session_id: str  # sha256 of the cookie's token: the admin_session row's key
    csrf: str
    realm: Realm

    @property
    def caller(self) -> Caller:
        return Caller(self.user_id, is_admin=self.realm is ADMIN)


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


def serializer(runtime: Runtime, realm: Realm, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(session_secret(runtime.settings), salt=realm.salt(purpose))


def _load(runtime: Runtime, realm: Realm, purpose: str, token: str | None, max_age: int) -> Any:
    if not token:
        return None
    try:
        return serializer(runtime, realm, purpose).loads(token, max_age=max_age)
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


async def open_session(runtime: Runtime, api_key: str, realm: Realm = ADMIN) -> str | None:
    """A new session for a key that qualifies for ``realm``, as the signed cookie; else None."""
    key = api_key.strip()
    if not key:
        return None
    token = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=SESSION_MAX_AGE_S)
    async with runtime.sessions() as session, session.begin():
        found = await realm.live_key(session, hash_api_key(key))
        if found is None:
            return None
        await accounts.open_page_session(session, found, _session_id(token), lifetime, realm.name)
    payload = {"s": token, "c": secrets.token_urlsafe(32)}
    return serializer(runtime, realm, "session").dumps(payload)


async def current_session(
    request: Request, runtime: Runtime, realm: Realm = ADMIN
) -> PageSession | None:
    """The signed-in user of ``realm``, checked against the store on every call; else None."""
    cookie = request.cookies.get(realm.session_cookie)
    data = _load(runtime, realm, "session", cookie, SESSION_MAX_AGE_S)
    if not isinstance(data, dict):
        return None
    token, csrf = data.get("s"), data.get("c")
    if not isinstance(token, str) or not isinstance(csrf, str):
        return None
    session_id = _session_id(token)
    async with runtime.sessions() as session:
        user_id = await realm.user_of_session(session, session_id)
    if user_id is None:
        return None
    return PageSession(user_id, session_id, csrf, realm)


async def end_session(runtime: Runtime, found: PageSession) -> None:
    """Sign out: the session row goes, so every copy of the cookie stops working."""
    async with runtime.sessions() as session, session.begin():
        await account_queries.close_admin_session(session, found.session_id)


def signed_in(request: Request) -> PageSession | None:
    """The session ``require_session`` found for this request (no store read)."""
    found = getattr(request.state, "page_session", None)
    return found if isinstance(found, PageSession) else None


def realm_of(request: Request) -> Realm:
    """The realm a page belongs to, by its path (for flash cookies and sign-in redirects)."""
    found = signed_in(request)
    if found is not None:
        return found.realm
    return getattr(request.state, "page_realm", ADMIN)


async def signed_in_to(request: Request, runtime: Runtime, realm: Realm) -> PageSession:
    request.state.page_realm = realm
    found = await current_session(request, runtime, realm)
    if found is None:
        raise SignInRequired
    request.state.page_session = found
    return found


async def require_session(request: Request, runtime: RuntimeDep) -> PageSession:
    found = await signed_in_to(request, runtime, ADMIN)
    # Lets deps.require_admin accept this request, e.g. for shared read helpers.
    request.state.admin_caller = found.caller
    return found


def check_csrf(session: PageSession, sent: object) -> None:
    if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
        raise CsrfRejected


async def require_csrf(
    request: Request, session: Annotated[PageSession, Depends(require_session)]
) -> PageSession:
    """For every state-changing page POST: the form must carry this session's token."""
    form = await request.form()
    check_csrf(session, form.get(CSRF_FIELD))
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


def _presession(request: Request, runtime: Runtime, realm: Realm) -> Any:
    cookie = request.cookies.get(realm.presession_cookie)
    return _load(runtime, realm, "presession", cookie, PRESESSION_MAX_AGE_S)


def presession_token(
    request: Request, runtime: Runtime, realm: Realm = ADMIN
) -> tuple[str, str | None]:
    """The sign-in form's CSRF token and, when new, the signed cookie to set for it."""
    token = _presession(request, runtime, realm)
    if isinstance(token, str):
        return token, None
    token = secrets.token_urlsafe(32)
    return token, serializer(runtime, realm, "presession").dumps(token)


def check_presession(
    request: Request, runtime: Runtime, sent: object, realm: Realm = ADMIN
) -> None:
    """Sign-in is a form too: a double-submit token bound to a signed cookie."""
    token = _presession(request, runtime, realm)
    ok = isinstance(token, str) and isinstance(sent, str)
    if not ok or not hmac.compare_digest(str(sent), str(token)):
        raise CsrfRejected


SessionPage = Annotated[PageSession, Depends(require_session)]
SessionForm = Annotated[PageSession, Depends(require_csrf)]
