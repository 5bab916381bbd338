"""One usage row per proxied request, including failed ones."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from previewgate.store.base import Base


class Usage(Base):
    __tablename__ = "usage"
    __table_args__ = (
        Index("ix_usage_created_at", "created_at"),
        Index("ix_usage_user_created", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    # No foreign key: usage outlives users and is written in batches off the request path.
    user_id: Mapped[uuid.UUID | None]
    public_model_id: Mapped[str] = mapped_column(String(200))
    # The client's API: chat | responses | messages (migration 0010 renamed chat.completions).
    request_kind: Mapped[str] = mapped_column(String(32), default="chat")
    status_code: Mapped[int] = mapped_column(Integer)
    has_error: Mapped[bool]
    error_kind: Mapped[str | None] = mapped_column(String(64))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cached_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_microusd: Mapped[int] = mapped_column(BigInteger, default=0)
    ttfb_ms: Mapped[int | None] = mapped_column(Integer)
    total_ms: Mapped[int] = mapped_column(Integer)
    session_id: Mapped[str | None] = mapped_column(String(200))
    machine_id: Mapped[str | None] = mapped_column(String(200))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    streamed: Mapped[bool]
    # Client facts for reporting: user_agent, feature, mode, editor.
    client_meta: Mapped[dict[str, Any] | None]
    # The upstream's own id for its answer, for support; clients only see ours (gen-...).
    upstream_response_id: Mapped[str | None] = mapped_column(String(200))
