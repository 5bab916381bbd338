"""Request and response shapes of the users and keys admin API.

Inputs refuse unknown fields. A key's plaintext appears in exactly one output,
``KeyCreated``, the answer to the request that made it; listings carry only the prefix.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from previewgate.accounts.models import ApiKey, User

MICROUSD = 1_000_000
# One credit moves at most this much either way: a typo of a few zeros is refused, and
# the balance column (64-bit millionths of a USD) stays far from overflow.
MAX_CREDIT_USD = 1_000_000.0
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^\s*[^\s@]+@[^\s@]+\s*$")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Input):
    email: Email
    is_admin: bool = False


class CreditRequest(_Input):
    amount_usd: float = Field(
        description="USD added to the balance; negative removes credit.",
        ge=-MAX_CREDIT_USD,
        le=MAX_CREDIT_USD,
        allow_inf_nan=False,
    )

    @field_validator("amount_usd")
    @classmethod
    def _nonzero(cls, value: float) -> float:
        if round(value * MICROUSD) == 0:
            raise ValueError("must be at least 0.000001 USD either way")
        return value

    @property
    def microusd(self) -> int:
        return round(self.amount_usd * MICROUSD)


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    is_admin: bool
    balance_usd: float = Field(description="Prepaid credit for priced production models.")
    created_at: datetime
    deleted_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            is_admin=user.is_admin,
            balance_usd=user.balance_microusd / MICROUSD,
            created_at=user.created_at,
            deleted_at=user.deleted_at,
        )


class KeyOut(BaseModel):
    """A key as listed: never the key itself or its hash."""

    id: uuid.UUID
    user_id: uuid.UUID
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(
            id=key.id,
            user_id=key.user_id,
            prefix=key.prefix,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class KeyCreated(KeyOut):
    key: str = Field(description="The API key. Shown once: only its hash is stored.")


class PreviewModelOut(BaseModel):
    """A preview model's disclosure, what a caller agrees to by opting in."""

    id: str
    name: str
    disclosure: str | None
    disclosure_version: int
    shares_with_provider: bool = Field(
        description="Opting in lets the provider of the checkpoint that serves you receive "
        "your turns (redacted)."
    )
    opt_in: str = Field(description="The request that opts in, e.g. POST /v1/preview-models/…")


class OptInOut(BaseModel):
    public_id: str
    disclosure_version: int
    # As isoformat() writes it (+00:00), the form this answer has always had.
    accepted_at: str
