"""Partners (the providers whose checkpoints run in experiments), their members, and what
has been exported to them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from previewgate.store.base import Base, new_id, utcnow

ROLES = ("viewer", "admin")


class Partner(Base):
    __tablename__ = "partner"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The key of the partner's HMAC ids (sessions, turns, repository URLs), sealed like
    # partner API keys: {iv, data, auth_tag}. Never leaves the service layer.
    encrypted_secret: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartnerMembership(Base):
    __tablename__ = "partner_membership"
    __table_args__ = (CheckConstraint("role in ('viewer', 'admin')", name="role"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partner.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExportCursor(Base):
    """How far the export worker has followed attribution rows: (created_at, usage_id)."""

    __tablename__ = "export_cursor"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime | None] = mapped_column(default=None)
    usage_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExportDay(Base):
    """A partner's UTC day that has turns: exported when ``dirty`` is false."""

    __tablename__ = "export_day"
    __table_args__ = (Index("ix_export_day_dirty", "dirty", "day"),)

    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partner.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dirty: Mapped[bool] = mapped_column(default=True)
    exported_at: Mapped[datetime | None] = mapped_column(default=None)


class ExportFile(Base):
    __tablename__ = "export_file"
    __table_args__ = (Index("ix_export_file_partner_day", "partner_id", "day"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partner.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # traces | feedback | manifest
    session_hash: Mapped[str | None] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(400), unique=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
    records: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    redactor_version: Mapped[str] = mapped_column(String(32))
    # Capture fidelity: turns cut at the capture cap, wiped, or whose blobs failed.
    truncated: Mapped[int] = mapped_column(Integer, default=0)
    wiped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
