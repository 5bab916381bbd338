"""request_kind on attribution rows; usage rows name the client's API as chat | responses |
messages (chat.completions becomes chat)

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both stores: SQLite's batch copy would trip on the warehouse view.
    op.add_column(
        "model_experiment_request",
        sa.Column(
            "request_kind", sa.String(length=16), nullable=False, server_default=sa.text("'chat'")
        ),
    )
    op.execute("UPDATE usage SET request_kind = 'chat' WHERE request_kind = 'chat.completions'")


def downgrade() -> None:
    op.execute("UPDATE usage SET request_kind = 'chat.completions' WHERE request_kind = 'chat'")
    op.drop_column("model_experiment_request", "request_kind")
