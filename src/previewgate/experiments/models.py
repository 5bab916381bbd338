"""Experiments, their variant slots and the insert-only checkpoint versions of each slot."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from previewgate.store.base import Base, new_id, utcnow

ROUTING_STATUSES = ("active", "paused")


class Experiment(Base):
    __tablename__ = "model_experiment"
    __table_args__ = (
        CheckConstraint(
            "status in ('draft', 'active', 'paused', 'completed')", name="status_known"
        ),
        CheckConstraint("status <> 'active' or not is_archived", name="active_not_archived"),
        # The final guard against two routing experiments on one public id.
        Index(
            "uq_model_experiment_routing_public_id",
            "public_model_id",
            unique=True,
            postgresql_where=text("status in ('active', 'paused')"),
            sqlite_where=text("status in ('active', 'paused')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    public_model_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("model.public_id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    is_archived: Mapped[bool] = mapped_column(default=False)
    require_opt_in: Mapped[bool] = mapped_column(default=True)
    allow_anonymous: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)

    variants: Mapped[list[Variant]] = relationship(
        back_populates="experiment",
        order_by="Variant.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )


class Variant(Base):
    __tablename__ = "model_experiment_variant"
    __table_args__ = (
        CheckConstraint("weight > 0", name="weight_positive"),
        Index("uq_model_experiment_variant_label", "experiment_id", "label", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    experiment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("model_experiment.id", ondelete="CASCADE")
    )
    label: Mapped[str] = mapped_column(String(100))
    weight: Mapped[int] = mapped_column(Integer)
    # The partner owning this slot's checkpoints (none: a baseline owned by nobody).
    partner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("partner.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    experiment: Mapped[Experiment] = relationship(back_populates="variants")
    versions: Mapped[list[VariantVersion]] = relationship(
        order_by="(VariantVersion.effective_at, VariantVersion.id)",
        lazy="selectin",
        viewonly=True,
    )


class VariantVersion(Base):
    """A checkpoint behind a slot. Insert-only: no code path updates or deletes one."""

    __tablename__ = "model_experiment_variant_version"
    __table_args__ = (
        Index("ix_variant_version_effective", "variant_id", text("effective_at DESC")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    variant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("model_experiment_variant.id", ondelete="CASCADE")
    )
    upstream: Mapped[dict[str, Any]]
    encrypted_api_key: Mapped[dict[str, Any]]
    effective_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
