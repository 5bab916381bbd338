"""initial schema

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from previewgate.store.base import JSONType, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


HASH_COLUMNS = ("system_prompt_sha256", "request_body_sha256", "response_sha256")
SENTINELS = "('__absent__', '__failed__', '__deleted__')"


def _hash_check(column: str) -> sa.CheckConstraint:
    # A 64-char lowercase hex digest or one of the sentinels; SQLite has GLOB, not regex.
    if op.get_context().dialect.name == "postgresql":
        digest = f"{column} ~ '^[0-9a-f]{{64}}$'"
    else:
        digest = f"(length({column}) = 64 and {column} not glob '*[^0-9a-f]*')"
    return sa.CheckConstraint(f"{digest} or {column} in {SENTINELS}", name=f"{column}_format")


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_request_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("machine_id", sa.String(length=200), nullable=True),
        sa.Column("rating", sa.String(length=4), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("rating in ('up', 'down')", name=op.f("ck_feedback_rating_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_client_request_id", ["client_request_id"], unique=False)

    op.create_table(
        "model",
        sa.Column("public_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("context_length", sa.Integer(), nullable=True),
        sa.Column("upstream", JSONType, nullable=True),
        sa.Column("encrypted_api_key", JSONType, nullable=True),
        sa.Column("pricing", JSONType, nullable=True),
        sa.Column("disclosure_text", sa.Text(), nullable=True),
        sa.Column("disclosure_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind in ('production', 'preview')", name=op.f("ck_model_kind")),
        sa.PrimaryKeyConstraint("public_id", name=op.f("pk_model")),
    )
    op.create_table(
        "usage",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("public_model_id", sa.String(length=200), nullable=False),
        sa.Column("request_kind", sa.String(length=32), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("has_error", sa.Boolean(), nullable=False),
        sa.Column("error_kind", sa.String(length=64), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cached_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_microusd", sa.BigInteger(), nullable=False),
        sa.Column("ttfb_ms", sa.Integer(), nullable=True),
        sa.Column("total_ms", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("machine_id", sa.String(length=200), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("streamed", sa.Boolean(), nullable=False),
        sa.Column("client_meta", JSONType, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage")),
    )
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.create_index("ix_usage_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_usage_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "user",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("balance_microusd", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("email", name=op.f("uq_user_email")),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_api_key_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("hash", name=op.f("uq_api_key_hash")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_user_id"), ["user_id"], unique=False)

    op.create_table(
        "model_experiment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("public_model_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("require_opt_in", sa.Boolean(), nullable=False),
        sa.Column("allow_anonymous", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status <> 'active' or not is_archived",
            name=op.f("ck_model_experiment_active_not_archived"),
        ),
        sa.CheckConstraint(
            "status in ('draft', 'active', 'paused', 'completed')",
            name=op.f("ck_model_experiment_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["public_model_id"],
            ["model.public_id"],
            name=op.f("fk_model_experiment_public_model_id_model"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_experiment")),
    )
    with op.batch_alter_table("model_experiment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_experiment_public_model_id"), ["public_model_id"], unique=False
        )
        batch_op.create_index(
            "uq_model_experiment_routing_public_id",
            ["public_model_id"],
            unique=True,
            postgresql_where=sa.text("status in ('active', 'paused')"),
            sqlite_where=sa.text("status in ('active', 'paused')"),
        )

    op.create_table(
        "preview_opt_in",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("public_model_id", sa.String(length=200), nullable=False),
        sa.Column("disclosure_version", sa.Integer(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["public_model_id"],
            ["model.public_id"],
            name=op.f("fk_preview_opt_in_public_model_id_model"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_preview_opt_in_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "public_model_id", "disclosure_version", name=op.f("pk_preview_opt_in")
        ),
    )
    op.create_table(
        "model_experiment_variant",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("weight > 0", name=op.f("ck_model_experiment_variant_weight_positive")),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["model_experiment.id"],
            name=op.f("fk_model_experiment_variant_experiment_id_model_experiment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_experiment_variant")),
    )
    with op.batch_alter_table("model_experiment_variant", schema=None) as batch_op:
        batch_op.create_index(
            "uq_model_experiment_variant_label", ["experiment_id", "label"], unique=True
        )

    op.create_table(
        "model_experiment_variant_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("variant_id", sa.Uuid(), nullable=False),
        sa.Column("upstream", JSONType, nullable=False),
        sa.Column("encrypted_api_key", JSONType, nullable=False),
        sa.Column("effective_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["model_experiment_variant.id"],
            name=op.f("fk_model_experiment_variant_version_variant_id_model_experiment_variant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_experiment_variant_version")),
    )
    op.create_index(
        "ix_variant_version_effective",
        "model_experiment_variant_version",
        ["variant_id", sa.text("effective_at DESC")],
    )
    op.create_table(
        "model_experiment_request",
        sa.Column("usage_id", sa.Uuid(), nullable=False),
        sa.Column("variant_version_id", sa.Uuid(), nullable=False),
        sa.Column("allocation_subject", sa.String(length=8), nullable=False),
        sa.Column("client_request_id", sa.String(length=200), nullable=True),
        sa.Column("system_prompt_sha256", sa.String(length=64), nullable=False),
        sa.Column("request_body_sha256", sa.String(length=64), nullable=False),
        sa.Column("response_sha256", sa.String(length=64), nullable=False),
        sa.Column("was_truncated", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        *[_hash_check(column) for column in HASH_COLUMNS],
        sa.ForeignKeyConstraint(
            ["usage_id"],
            ["usage.id"],
            name=op.f("fk_model_experiment_request_usage_id_usage"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_version_id"],
            ["model_experiment_variant_version.id"],
            name=op.f(
                "fk_model_experiment_request_variant_version_id_model_experiment_variant_version"
            ),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("usage_id", name=op.f("pk_model_experiment_request")),
    )
    with op.batch_alter_table("model_experiment_request", schema=None) as batch_op:
        batch_op.create_index(
            "ix_experiment_request_client_request_id",
            ["client_request_id"],
            unique=False,
            postgresql_where=sa.text("client_request_id is not null"),
            sqlite_where=sa.text("client_request_id is not null"),
        )
        batch_op.create_index(
            "ix_experiment_request_version_created",
            ["variant_version_id", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("model_experiment_request", schema=None) as batch_op:
        batch_op.drop_index("ix_experiment_request_version_created")
        batch_op.drop_index(
            "ix_experiment_request_client_request_id",
            postgresql_where=sa.text("client_request_id is not null"),
            sqlite_where=sa.text("client_request_id is not null"),
        )

    op.drop_table("model_experiment_request")
    op.drop_index("ix_variant_version_effective", "model_experiment_variant_version")
    op.drop_table("model_experiment_variant_version")
    with op.batch_alter_table("model_experiment_variant", schema=None) as batch_op:
        batch_op.drop_index("uq_model_experiment_variant_label")

    op.drop_table("model_experiment_variant")
    op.drop_table("preview_opt_in")
    with op.batch_alter_table("model_experiment", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_model_experiment_routing_public_id",
            postgresql_where=sa.text("status in ('active', 'paused')"),
            sqlite_where=sa.text("status in ('active', 'paused')"),
        )
        batch_op.drop_index(batch_op.f("ix_model_experiment_public_model_id"))

    op.drop_table("model_experiment")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_user_id"))

    op.drop_table("api_key")
    op.drop_table("user")
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_user_created")
        batch_op.drop_index("ix_usage_created_at")

    op.drop_table("usage")
    op.drop_table("model")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_client_request_id")

    op.drop_table("feedback")
