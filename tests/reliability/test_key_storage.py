"""API keys are stored as sha256 digests and looked up by digest; admin sessions are signed.

Why no ``hmac.compare_digest`` on the key path: the gateway never compares a presented
key with a stored one. It hashes the presented key (sha256) and looks the digest up in
a dict. A timing side channel there could at best reveal bytes of a *digest* the
attacker already controls the preimage of; learning a prefix of the digest of a
256-bit random key does not help finding the key (preimage resistance), so the
byte-wise early exit of ``==`` inside the dict lookup leaks nothing usable. Constant-time
comparison is needed where a secret is compared with attacker input directly: CSRF
tokens (admin_pages.auth uses ``hmac.compare_digest``) and signatures (itsdangerous
verifies with a constant-time compare).
"""

from __future__ import annotations

import hashlib
import re
import time
from functools import partial
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from previewgate.accounts.models import ApiKey
from previewgate.crypto import API_KEY_PREFIX, hash_api_key
from tests.support.seed import create_user
from tests.support.servers import GatewayServer

HEX64 = re.compile(r"[0-9a-f]{64}")


async def _stored_keys(rt: Any) -> list[tuple[str, str]]:
    async with rt.sessions() as session:
        return [(k.hash, k.prefix) for k in await session.scalars(select(ApiKey))]


def test_api_keys_are_stored_as_sha256(gateway: GatewayServer) -> None:
    emails = [f"u{i}@example.com" for i in range(3)]
    plaintexts = [gateway.call(partial(create_user, email=email)) for email in emails]
    stored = gateway.call(_stored_keys)
    assert len(stored) == 3
    digests = {h for h, _ in stored}
    for key in plaintexts:
        assert key.startswith(API_KEY_PREFIX) and len(key) >= 40  # >= 256 bits of entropy
        assert hashlib.sha256(key.encode()).hexdigest() in digests
    for digest, prefix in stored:
        assert HEX64.fullmatch(digest)
        assert len(prefix) <= 10  # a display prefix only: far too short to guess the rest
        assert all(digest != k and k not in digest for k in plaintexts)
    # The key authenticates; its digest presented as a key does not.
    url = f"{gateway.base_url}/v1/preview-models/no-such-model/opt-in"

    def status(token: str) -> int:
        return httpx.post(url, headers={"authorization": f"Bearer {token}"}).status_code

    assert status(plaintexts[0]) == 404  # authenticated, then: no such model
    assert status(hash_api_key(plaintexts[0])) == 401
    assert status(plaintexts[0][:-1]) == 401


def _has_sign_in(gateway: GatewayServer) -> bool:
    r = httpx.get(f"{gateway.base_url}/admin/sign-in")
    return r.status_code == 200 and "csrf_token" in r.text


def test_admin_session_cookie_is_signed_and_expires(gateway: GatewayServer) -> None:
    if not _has_sign_in(gateway):
        pytest.skip("the admin pages (/admin/sign-in) are not mounted in this build")
    from previewgate.admin_pages import auth

    key = gateway.call(lambda rt: create_user(rt, "root@example.com", admin=True))
    secret = auth.session_secret(gateway.settings)
    # A real session row (sessions are revocable server-side); its token goes into cookies
    # signed at chosen ages below.
    opened = gateway.call(lambda rt: auth.open_session(rt, key))
    assert opened is not None
    token = URLSafeTimedSerializer(secret, salt="session").loads(opened)["s"]

    def cookie(age_s: float, signing_secret: bytes = secret) -> str:
        class Past(TimestampSigner):
            def get_timestamp(self) -> int:  # signed as if ``age_s`` ago
                return int(time.time() - age_s)

        signer = URLSafeTimedSerializer(signing_secret, salt="session", signer=Past)
        return signer.dumps({"s": token, "c": "csrf"})

    def page(value: str) -> int:
        r = httpx.get(
            f"{gateway.base_url}/admin/experiments",
            cookies={auth.SESSION_COOKIE: value},
            follow_redirects=False,
        )
        return r.status_code

    assert page(cookie(0)) == 200  # a well-formed, fresh, signed cookie is a session
    fresh = cookie(0)
    tampered = fresh[:-2] + ("A" if fresh[-2] != "A" else "B") + fresh[-1]
    assert page(tampered) == 303
    assert page(cookie(0, b"not the secret")) == 303
    assert page(cookie(auth.SESSION_MAX_AGE_S + 60)) == 303
    assert page(cookie(auth.SESSION_MAX_AGE_S - 60)) == 200
