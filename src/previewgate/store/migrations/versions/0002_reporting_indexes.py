"""reporting and retention indexes on model_experiment_request

* (variant_version_id, client_request_id) for distinct messages and feedback per version; on
  PostgreSQL it carries created_at and allocation_subject so the stats filters are answered by
  an index-only scan.
* (created_at, usage_id) for the request browser's newest-first keyset pages.
* One index per hash column so the blob GC asks "which of these keys are referenced?" in
  batches without scanning the table.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "model_experiment_request"
HASH_INDEXES = {
    "ix_experiment_request_system_sha256": "system_prompt_sha256",
    "ix_experiment_request_request_sha256": "request_body_sha256",
    "ix_experiment_request_response_sha256": "response_sha256",
}


def upgrade() -> None:
    op.create_index(
        "ix_experiment_request_version_message",
        TABLE,
        ["variant_version_id", "client_request_id"],
        postgresql_include=["created_at", "allocation_subject"],
        postgresql_where=sa.text("client_request_id is not null"),
        sqlite_where=sa.text("client_request_id is not null"),
    )
    op.create_index("ix_experiment_request_created_usage", TABLE, ["created_at", "usage_id"])
    for name, column in HASH_INDEXES.items():
        op.create_index(name, TABLE, [column])


def downgrade() -> None:
    for name in HASH_INDEXES:
        op.drop_index(name, TABLE)
    op.drop_index("ix_experiment_request_created_usage", TABLE)
    op.drop_index("ix_experiment_request_version_message", TABLE)
