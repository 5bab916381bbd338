"""Thumbs up/down from clients, joined to experiment requests.

A rating has exactly one target: a message (``client_request_id``, every request the rater
sent with that id) or one request (``usage_id``, given by the gateway's response id
``gen-<usage id hex>``; migration 0004).

A rating belongs to its rater, the caller who made the request: the user for a request
made with an API key (``user_id`` set), else the machine (``user_id`` null, ``machine_id``
set). Each rater holds at most one rating per client request id (two partial unique
indexes, migration 0003) and a request, having one rater, at most one rating (a partial
unique index on ``usage_id``); rating again replaces the rater's own rating and moves
``updated_at``, while ``created_at`` keeps the first rating's time.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from previewgate.store.base import Base, new_id, utcnow

# The predicates of the two partial unique indexes, one per kind of rater.
USER_RATER = "user_id is not null"
MACHINE_RATER = "user_id is null"
# The predicate of the one-rating-per-request index.
REQUEST_TARGET = "usage_id is not null"


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("rating in ('up', 'down')", name="rating_known"),
        CheckConstraint("(client_request_id is null) <> (usage_id is null)", name="one_target"),
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
        Index(
            "uq_feedback_request_rating",
            "usage_id",
            unique=True,
            postgresql_where=text(REQUEST_TARGET),
            sqlite_where=text(REQUEST_TARGET),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    client_request_id: Mapped[str | None] = mapped_column(String(200), default=None)
    usage_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("model_experiment_request.usage_id", ondelete="CASCADE"), default=None
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    machine_id: Mapped[str | None] = mapped_column(String(200), default=None)
    rating: Mapped[str] = mapped_column(String(4))
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
