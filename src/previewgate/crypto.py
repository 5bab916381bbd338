"""AES-256-GCM for partner keys at rest; hashing for our own API keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

API_KEY_PREFIX = "pg-"
_TAG_BYTES = 16


class EncryptionKeyMissing(Exception):
    """No encryption key is configured, so partner keys cannot be used."""


class DecryptionFailed(Exception):
    """The ciphertext does not match the configured key (wrong key or tampering)."""


class KeyCipher:
    """Encrypts partner API keys as {iv, data, auth_tag}, all base64."""

    def __init__(self, key: bytes | None) -> None:
        if key is not None and len(key) != 32:
            raise ValueError("encryption key must be 32 bytes")
        self._aead = AESGCM(key) if key else None

    @property
    def available(self) -> bool:
        return self._aead is not None

    def _require(self) -> AESGCM:
        if self._aead is None:
            raise EncryptionKeyMissing("PREVIEWGATE_ENCRYPTION_KEY is not configured")
        return self._aead

    def encrypt(self, plaintext: str) -> dict[str, str]:
        iv = os.urandom(12)
        sealed = self._require().encrypt(iv, plaintext.encode(), None)
        data, tag = sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]
        return {
            "iv": base64.b64encode(iv).decode(),
            "data": base64.b64encode(data).decode(),
            "auth_tag": base64.b64encode(tag).decode(),
        }

    def decrypt(self, sealed: dict[str, str]) -> str:
        aead = self._require()
        try:
            iv = base64.b64decode(sealed["iv"])
            blob = base64.b64decode(sealed["data"]) + base64.b64decode(sealed["auth_tag"])
            return aead.decrypt(iv, blob, None).decode()
        except (InvalidTag, KeyError, ValueError) as exc:
            raise DecryptionFailed(
                "stored key cannot be decrypted with the configured key"
            ) from exc


def new_api_key() -> str:
    """A fresh API key: high-entropy, so a plain sha256 is a safe at-rest hash."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_prefix(key: str) -> str:
    return key[:10]


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
