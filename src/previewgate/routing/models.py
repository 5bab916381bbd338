"""The routing generation: one row whose value grows with every routing change."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from previewgate.store.base import Base

GENERATION_ROW = 1


class RoutingGeneration(Base):
    __tablename__ = "routing_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
