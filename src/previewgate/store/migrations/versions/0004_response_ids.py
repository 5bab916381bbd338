"""feedback by the gateway's response id; the upstream's own response id on usage rows

* ``feedback.usage_id``: a rating given by the gateway's response id (``gen-<usage id hex>``)
  rates that one request, so it points at the request's attribution row (cascade: dropping
  the rows drops their ratings). A rating now has exactly one target, the client request id
  (a message, possibly several requests) or the usage id (one request):
  ``client_request_id`` becomes nullable and a check holds one of the two. A request belongs
  to one rater, so one rating per rater and request is a partial unique index on
  ``usage_id``.
* ``usage.upstream_response_id``: the id the upstream gave its answer, for support (clients
  only ever see ours).

The partial indexes of ``feedback`` are dropped before and recreated after the SQLite batch
copy, so their predicates never depend on reflection.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index, columns, predicate) of feedback's partial unique indexes, one per rating target.
MESSAGE_INDEXES = (
    ("uq_feedback_user_rating", ["client_request_id", "user_id"], "user_id is not null"),
    ("uq_feedback_machine_rating", ["client_request_id", "machine_id"], "user_id is null"),
)
REQUEST_INDEX = ("uq_feedback_request_rating", ["usage_id"], "usage_id is not null")
ONE_TARGET = "(client_request_id is null) <> (usage_id is null)"


def _create(indexes: Sequence[tuple[str, list[str], str]]) -> None:
    for name, columns, predicate in indexes:
        op.create_index(
            name,
            "feedback",
            columns,
            unique=True,
            postgresql_where=sa.text(predicate),
            sqlite_where=sa.text(predicate),
        )


def upgrade() -> None:
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upstream_response_id", sa.String(length=200), nullable=True))

    for name, _, _ in MESSAGE_INDEXES:
        op.drop_index(name, "feedback")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("usage_id", sa.Uuid(), nullable=True))
        batch_op.alter_column(
            "client_request_id", existing_type=sa.String(length=200), nullable=True
        )
        batch_op.create_foreign_key(
            op.f("fk_feedback_usage_id_model_experiment_request"),
            "model_experiment_request",
            ["usage_id"],
            ["usage_id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint(op.f("ck_feedback_one_target"), ONE_TARGET)
    _create([*MESSAGE_INDEXES, REQUEST_INDEX])


def downgrade() -> None:
    # Ratings by response id have no client request id to fall back on: they go.
    op.execute(sa.text("delete from feedback where usage_id is not null"))
    for name, _, _ in (*MESSAGE_INDEXES, REQUEST_INDEX):
        op.drop_index(name, "feedback")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_feedback_one_target"), type_="check")
        batch_op.drop_constraint(
            op.f("fk_feedback_usage_id_model_experiment_request"), type_="foreignkey"
        )
        batch_op.alter_column(
            "client_request_id", existing_type=sa.String(length=200), nullable=False
        )
        batch_op.drop_column("usage_id")
    _create(MESSAGE_INDEXES)

    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.drop_column("upstream_response_id")
