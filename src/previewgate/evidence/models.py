"""The attribution row: which checkpoint served a request, and what was said."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from previewgate.store.base import Base

ABSENT = "__absent__"
FAILED = "__failed__"
DELETED = "__deleted__"
SENTINELS = (ABSENT, FAILED, DELETED)
HASH_COLUMNS = ("system_prompt_sha256", "request_body_sha256", "response_sha256")


class ExperimentRequest(Base):
    __tablename__ = "model_experiment_request"
    __table_args__ = (
        Index("ix_experiment_request_version_created", "variant_version_id", "created_at"),
        Index(
            "ix_experiment_request_client_request_id",
            "client_request_id",
            postgresql_where=text("client_request_id is not null"),
            sqlite_where=text("client_request_id is not null"),
        ),
        # Reporting and retention (migration 0002).
        Index(
            "ix_experiment_request_version_message",
            "variant_version_id",
            "client_request_id",
            postgresql_include=["created_at", "allocation_subject"],
            postgresql_where=text("client_request_id is not null"),
            sqlite_where=text("client_request_id is not null"),
        ),
        Index("ix_experiment_request_created_usage", "created_at", "usage_id"),
        Index("ix_experiment_request_system_sha256", "system_prompt_sha256"),
        Index("ix_experiment_request_request_sha256", "request_body_sha256"),
        Index("ix_experiment_request_response_sha256", "response_sha256"),
    )

    usage_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("usage.id", ondelete="CASCADE"), primary_key=True
    )
    # Versions are never deleted (insert-only), so no cascade from them.
    variant_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("model_experiment_variant_version.id", ondelete="RESTRICT")
    )
    allocation_subject: Mapped[str] = mapped_column(String(8))
    client_request_id: Mapped[str | None] = mapped_column(String(200))
    system_prompt_sha256: Mapped[str] = mapped_column(String(64))
    request_body_sha256: Mapped[str] = mapped_column(String(64))
    response_sha256: Mapped[str] = mapped_column(String(64))
    was_truncated: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    # The client's API (chat | responses | messages); captures are canonical whatever it is.
    request_kind: Mapped[str] = mapped_column(String(16), server_default=text("'chat'"))
