"""The model catalog: production and preview public ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from previewgate.store.base import Base, utcnow


class CatalogModel(Base):
    __tablename__ = "model"
    __table_args__ = (CheckConstraint("kind in ('production', 'preview')", name="kind"),)

    public_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    context_length: Mapped[int | None] = mapped_column(Integer, default=None)
    upstream: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # {iv, data, auth_tag} base64; never leaves the service layer.
    encrypted_api_key: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # USD per million tokens: {"input": 1.0, "output": 2.0}
    pricing: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    disclosure_text: Mapped[str | None] = mapped_column(Text, default=None)
    disclosure_version: Mapped[int] = mapped_column(Integer, default=0)
    # Whether the current disclosure lets a checkpoint's provider receive callers' turns.
    disclosure_shares_with_partner: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ModelDisclosure(Base):
    """Every disclosure version callers could accept: what it said and whether it shares
    turns with the provider. Insert-only; a change of text or flag is a new version."""

    __tablename__ = "model_disclosure"

    public_model_id: Mapped[str] = mapped_column(
        ForeignKey("model.public_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str | None] = mapped_column(Text, default=None)
    shares_with_partner: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
