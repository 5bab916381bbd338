"""The lifecycle rules of SPEC §7 as pure checks over loaded rows.

Each check raises a domain error whose message names the rule that refused the
action, so the API, the CLI and the admin pages all explain a refusal the same way.

    draft  ─activate→ active ─pause→ paused ─activate→ active
    active ─complete→ completed      paused ─complete→ completed
    draft  ─delete→ (gone)           completed is terminal
"""

from __future__ import annotations

import uuid
from datetime import datetime

from previewgate.catalog.models import CatalogModel
from previewgate.errors import Conflict, ServiceUnavailable, Unprocessable
from previewgate.experiments.models import Experiment

# target action -> statuses it may start from
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "activate": ("draft", "paused"),
    "pause": ("active",),
    "complete": ("active", "paused"),
    "delete": ("draft",),
}
_RESULT = {"activate": "active", "pause": "paused", "complete": "completed"}
VERSIONABLE = ("draft", "active", "paused")


class EncryptionUnavailable(ServiceUnavailable):
    """No encryption key is configured, so a partner key cannot be stored."""

    code = "encryption_key_missing"


def encryption_unavailable() -> EncryptionUnavailable:
    return EncryptionUnavailable(
        "partner API keys cannot be stored: PREVIEWGATE_ENCRYPTION_KEY is not configured "
        "on this server"
    )


def _states(statuses: tuple[str, ...]) -> str:
    return " or ".join(statuses)


def check_transition(experiment: Experiment, action: str) -> None:
    """Refuse ``action`` unless the state machine allows it from the current status."""
    allowed = TRANSITIONS[action]
    status = experiment.status
    if status in allowed:
        return
    if action == "delete":
        hint = "" if status == "completed" else " (complete and archive it instead)"
        raise Conflict(f"only draft experiments can be deleted; experiment is {status}{hint}")
    if status == "completed":
        raise Conflict(
            "completed is a terminal status: a completed experiment cannot change status; "
            "experiment is completed"
        )
    raise Conflict(
        f"{action} is allowed only from {_states(allowed)} (→ {_RESULT[action]}); "
        f"experiment is {status}"
    )


def check_structural_edit(experiment: Experiment) -> None:
    """Adding or removing a variant and changing a weight would re-bucket live subjects."""
    if experiment.status != "draft":
        raise Conflict(
            "structural edits (add/remove variant, change weight) are allowed only in draft; "
            f"experiment is {experiment.status}"
        )


def check_label_edit(experiment: Experiment) -> None:
    if experiment.status not in VERSIONABLE:
        raise Conflict(
            "variant labels can be edited only in draft, active or paused; "
            f"experiment is {experiment.status}"
        )


def check_new_version(experiment: Experiment) -> None:
    if experiment.status not in VERSIONABLE:
        raise Conflict(
            "hot-swap and key rotation (new versions) are allowed only in draft, active or "
            f"paused; experiment is {experiment.status}"
        )


def check_settings_edit(experiment: Experiment, fields: set[str]) -> None:
    # Name and description are documentation; the routing flags end with the experiment.
    policy = fields & {"require_opt_in", "allow_anonymous"}
    if policy and experiment.status == "completed":
        raise Conflict(
            f"{', '.join(sorted(policy))} cannot change once an experiment is completed; "
            "only name and description can"
        )


def check_archive(experiment: Experiment, archived: bool) -> None:
    if archived and experiment.status == "active":
        raise Conflict("an active experiment cannot be archived; pause or complete it first")


def check_target_model(model: CatalogModel | None, public_id: str) -> CatalogModel:
    """Experiments run only on registered preview ids (SPEC §2 rule 1)."""
    if model is None:
        raise Unprocessable(
            f"experiments target registered preview models; {public_id!r} is not in the catalog"
        )
    if model.kind != "preview":
        raise Unprocessable(
            f"experiments run only on preview models; {public_id!r} is a {model.kind} model"
        )
    return model


def check_activation(
    experiment: Experiment,
    model: CatalogModel | None,
    effective_variants: set[uuid.UUID],
    now: datetime,
) -> None:
    """Everything activation needs except the one-routing-experiment rule (checked in SQL)."""
    check_transition(experiment, "activate")
    if experiment.is_archived:
        raise Conflict("an archived experiment cannot be activated; unarchive it first")
    if model is None or model.kind != "preview":
        raise Conflict(
            f"activation requires {experiment.public_model_id!r} to be a preview model "
            "in the catalog"
        )
    if not (model.disclosure_text or "").strip():
        raise Conflict(
            f"activation requires preview model {model.public_id!r} to have a disclosure text"
        )
    variants = experiment.variants
    if not variants:
        raise Conflict("activation requires at least one variant")
    if any(v.weight <= 0 for v in variants):
        raise Conflict("activation requires every variant weight to be > 0")
    missing = [v.label for v in variants if v.id not in effective_variants]
    if missing:
        raise Conflict(
            "activation requires every variant to have a version effective now; "
            f"missing for {', '.join(sorted(missing))} (at {now.isoformat()})"
        )
