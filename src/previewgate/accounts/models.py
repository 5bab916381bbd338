"""Users, API keys (stored hashed), admin page sessions and preview opt-ins."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from previewgate.store.base import Base, new_id, utcnow


class User(Base):
    __tablename__ = "user"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    # Prepaid credit for priced production models, in millionths of a USD.
    balance_microusd: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiKey(Base):
    __tablename__ = "api_key"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AdminSessionRecord(Base):
    """A signed-in page session, made from one API key; deleted on sign-out.

    ``realm`` is the area it was opened for: ``admin`` (operator pages, a live admin) or
    ``partner`` (the partner portal, a user with a membership); a row of one realm never
    opens the other.

    ``id`` is the sha256 of the random token in the session cookie, so the table alone
    cannot be replayed as cookies. A session is live while its row exists, it has not
    expired, its key is not revoked and its user is a live admin (checked per request).
    """

    __tablename__ = "admin_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    realm: Mapped[str] = mapped_column(String(16), server_default="admin")


class PreviewOptIn(Base):
    __tablename__ = "preview_opt_in"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    public_model_id: Mapped[str] = mapped_column(
        ForeignKey("model.public_id", ondelete="CASCADE"), primary_key=True
    )
    disclosure_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
