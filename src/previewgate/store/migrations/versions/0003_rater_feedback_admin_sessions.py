"""feedback per rater; server-side admin sessions

* ``feedback``: one rating per rater and client request id. The rater is the user for a
  request made with an API key (``user_id`` set) and the machine otherwise (``user_id``
  null, ``machine_id``); two partial unique indexes hold that, and ``updated_at`` records
  when the rating in force was given. Ratings stored before this revision may repeat a
  rater: only each rater's latest (by ``created_at``, then ``id``) is kept.
* ``admin_session``: admin page sessions checked against the store on every page request,
  so signing out (row deleted) or revoking the key ends them at once.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from previewgate.store.base import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_RATER = "user_id is not null"
MACHINE_RATER = "user_id is null"
# (index, rater column, predicate)
RATER_INDEXES = (
    ("uq_feedback_user_rating", "user_id", USER_RATER),
    ("uq_feedback_machine_rating", "machine_id", MACHINE_RATER),
)


def _drop_superseded_ratings(column: str, predicate: str) -> None:
    # Window functions: PostgreSQL, and SQLite since 3.25.
    op.execute(
        sa.text(
            "delete from feedback where id in ("
            " select id from ("
            "  select id, row_number() over ("
            f"   partition by client_request_id, {column}"
            "   order by created_at desc, id desc) as rn"
            f"  from feedback where {predicate} and {column} is not null"
            " ) ranked where rn > 1)"
        )
    )


def upgrade() -> None:
    for _, column, predicate in RATER_INDEXES:
        _drop_superseded_ratings(column, predicate)
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
    op.execute(sa.text("update feedback set updated_at = created_at"))
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.alter_column("updated_at", existing_type=UTCDateTime(), nullable=False)
    for name, column, predicate in RATER_INDEXES:
        op.create_index(
            name,
            "feedback",
            ["client_request_id", column],
            unique=True,
            postgresql_where=sa.text(predicate),
            sqlite_where=sa.text(predicate),
        )

    op.create_table(
        "admin_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_admin_session_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_key.id"],
            name=op.f("fk_admin_session_api_key_id_api_key"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_session")),
    )


def downgrade() -> None:
    op.drop_table("admin_session")
    for name, _, _ in reversed(RATER_INDEXES):
        op.drop_index(name, "feedback")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
