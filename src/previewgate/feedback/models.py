"""Thumbs up/down from clients, joined to experiment requests by client request id.

A rating belongs to its rater, the caller who made the request: the user for a request
made with an API key (``user_id`` set), else the machine (``user_id`` null, ``machine_id``
set). Each rater holds at most one rating per client request id (two partial unique
indexes, migration 0003); rating again replaces the rater's own rating and moves
``updated_at``, while ``created_at`` keeps the first rating's time.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from previewgate.store.base import Base, new_id, utcnow

# The predicates of the two partial unique indexes, one per kind of rater.
USER_RATER = "user_id is not null"
MACHINE_RATER = "user_id is null"


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("rating in ('up', 'down')", name="rating_known"),
        Index("ix_feedback_client_request_id", "client_request_id"),
        Index(
            "uq_feedback_user_rating",
            "client_request_id",
            "user_id",
            unique=True,
            postgresql_where=text(USER_RATER),
            sqlite_where=text(USER_RATER),
        ),
        Index(
            "uq_feedback_machine_rating",
            "client_request_id",
            "machine_id",
            unique=True,
            postgresql_where=text(MACHINE_RATER),
            sqlite_where=text(MACHINE_RATER),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    client_request_id: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    machine_id: Mapped[str | None] = mapped_column(String(200), default=None)
    rating: Mapped[str] = mapped_column(String(4))
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
