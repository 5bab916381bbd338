"""partners, their members and slots; sharing consent on disclosures; trace export state

* ``partner`` (with its sealed HMAC secret), ``partner_membership`` (viewer | admin), and a
  foreign key from ``model_experiment_variant.partner_id`` (the column existed, unbound).
* ``model.disclosure_shares_with_partner`` and ``model_disclosure``: every disclosure
  version a caller could accept, with its text and whether it lets the checkpoint's
  provider receive the caller's turns. Existing versions are recorded as not sharing.
* Export state: ``export_cursor``, ``export_day`` (partner days with turns, dirty until
  exported) and ``export_file`` (the index of written files).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from previewgate.store.base import JSONType

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("encrypted_secret", JSONType, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner")),
        sa.UniqueConstraint("slug", name=op.f("uq_partner_slug")),
    )
    op.create_table(
        "partner_membership",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role in ('viewer', 'admin')", name=op.f("ck_partner_membership_role")),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
            name=op.f("fk_partner_membership_partner_id_partner"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_partner_membership_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "partner_id", name=op.f("pk_partner_membership")),
    )
    with op.batch_alter_table("model_experiment_variant", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_model_experiment_variant_partner_id_partner"),
            "partner",
            ["partner_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("model", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "disclosure_shares_with_partner",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
    op.create_table(
        "model_disclosure",
        sa.Column("public_model_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("shares_with_partner", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["public_model_id"],
            ["model.public_id"],
            name=op.f("fk_model_disclosure_public_model_id_model"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("public_model_id", "version", name=op.f("pk_model_disclosure")),
    )
    op.execute(
        sa.text(
            "insert into model_disclosure "
            "(public_model_id, version, text, shares_with_partner, created_at) "
            "select public_id, disclosure_version, disclosure_text, false, updated_at "
            "from model where kind = 'preview'"
        )
    )

    op.create_table(
        "export_cursor",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("usage_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_export_cursor")),
    )
    op.create_table(
        "export_day",
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dirty", sa.Boolean(), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
            name=op.f("fk_export_day_partner_id_partner"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", "day", name=op.f("pk_export_day")),
    )
    op.create_index("ix_export_day_dirty", "export_day", ["dirty", "day"])
    op.create_table(
        "export_file",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=True),
        sa.Column("object_key", sa.String(length=400), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("redactor_version", sa.String(length=32), nullable=False),
        sa.Column("truncated", sa.Integer(), nullable=False),
        sa.Column("wiped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
            name=op.f("fk_export_file_partner_id_partner"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_file")),
        sa.UniqueConstraint("object_key", name=op.f("uq_export_file_object_key")),
    )
    op.create_index("ix_export_file_partner_day", "export_file", ["partner_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_export_file_partner_day", "export_file")
    op.drop_table("export_file")
    op.drop_index("ix_export_day_dirty", "export_day")
    op.drop_table("export_day")
    op.drop_table("export_cursor")
    op.drop_table("model_disclosure")
    with op.batch_alter_table("model", schema=None) as batch_op:
        batch_op.drop_column("disclosure_shares_with_partner")
    with op.batch_alter_table("model_experiment_variant", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_model_experiment_variant_partner_id_partner"), type_="foreignkey"
        )
    op.drop_table("partner_membership")
    op.drop_table("partner")
