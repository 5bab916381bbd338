"""warehouse_turns: one secret-free row per experimented request, for warehouse loading

request -> version -> variant -> experiment -> usage, flattened. It names the checkpoint by
its internal id (read from the version's upstream JSON) and never carries the upstream JSON
itself (base URLs may hold credentials), sealed keys, prompts or answers.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = """
    r.usage_id AS usage_id,
    r.created_at AS created_at,
    e.id AS experiment_id,
    e.public_model_id AS public_model_id,
    e.name AS experiment_name,
    v.id AS variant_id,
    v.label AS variant_label,
    v.partner_id AS partner_id,
    vv.id AS version_id,
    {internal_id} AS internal_id,
    r.allocation_subject AS allocation_subject,
    r.client_request_id AS client_request_id,
    r.was_truncated AS capture_truncated,
    u.user_id AS user_id,
    u.session_id AS session_id,
    u.status_code AS status_code,
    u.has_error AS has_error,
    u.error_kind AS error_kind,
    u.input_tokens AS input_tokens,
    u.output_tokens AS output_tokens,
    u.cached_tokens AS cached_tokens,
    u.cost_microusd AS cost_microusd,
    u.ttfb_ms AS ttfb_ms,
    u.total_ms AS total_ms,
    u.streamed AS streamed
"""
FROM = """
FROM model_experiment_request r
JOIN usage u ON u.id = r.usage_id
JOIN model_experiment_variant_version vv ON vv.id = r.variant_version_id
JOIN model_experiment_variant v ON v.id = vv.variant_id
JOIN model_experiment e ON e.id = v.experiment_id
"""


def upgrade() -> None:
    internal_id = (
        "vv.upstream ->> 'internal_id'"
        if op.get_bind().dialect.name == "postgresql"
        else "json_extract(vv.upstream, '$.internal_id')"
    )
    op.execute(
        f"CREATE VIEW warehouse_turns AS SELECT {COLUMNS.format(internal_id=internal_id)} {FROM}"
    )


def downgrade() -> None:
    op.execute("DROP VIEW warehouse_turns")
