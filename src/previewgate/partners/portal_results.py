"""An experiment's live results as one partner may see them.

The report is the admin's (same queries, same inference: always-valid intervals, the SRM
check), rebuilt from an allowlist: the partner's own slots keep their labels, version rows
and internal ids; every other slot is only its alias ("control", "other slot N") with
figures pooled over its versions, so neither its checkpoints, their number nor its owner
show. Comparisons are kept where one side is the partner's own slot.
"""

from __future__ import annotations

import uuid
from typing import Any

from previewgate.experiments.schemas import ExperimentOut
from previewgate.partners.portal_schemas import slot_names
from previewgate.reporting.service import caveats

FIGURES = (
    "requests",
    "errors",
    "error_rate",
    "error_rate_interval",
    "messages",
    "subjects",
    "ttfb_ms",
    "total_ms",
    "input_tokens",
    "output_tokens",
    "feedback",
    "small_sample",
)
COMPARED = ("error_rate", "up_rate", "total_ms_mean", "output_tokens_mean")
SRM_FIELDS = ("status", "flagged", "chi2", "p_value", "df", "threshold", "message")


def _pick(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: row[key] for key in keys if key in row}


class _Names:
    def __init__(self, view: ExperimentOut, partner_id: uuid.UUID) -> None:
        self.names = {str(k): v for k, v in slot_names(view, partner_id).items()}
        self.own = {str(s.id) for s in view.variants if s.partner_id == partner_id}

    def slot(self, variant_id: str) -> dict[str, Any]:
        """How a slot is named in every part of the report: own ones carry their id."""
        found: dict[str, Any] = {"slot": self.names[variant_id], "own": variant_id in self.own}
        if found["own"]:
            found["variant_id"] = variant_id
        return found

    def ref(self, ref: dict[str, Any]) -> dict[str, Any]:
        found = self.slot(ref["variant_id"])
        if found["own"] and "variant_version_id" in ref:
            found |= _pick(ref, ("variant_version_id", "internal_id"))
        return found


def scoped_report(
    report: dict[str, Any], view: ExperimentOut, partner_id: uuid.UUID
) -> dict[str, Any]:
    names = _Names(view, partner_id)
    srm = report["srm"]
    versions = _own_versions(report, names)
    return {
        "experiment": {
            "id": report["experiment"]["id"],
            "public_model_id": report["experiment"]["public_model_id"],
            "status": report["experiment"]["status"],
            "design": report["experiment"]["design"],
            "slots": [
                names.slot(s["variant_id"]) | {"weight": s["weight"]}
                for s in report["experiment"]["slots"]
            ],
        },
        "filters": report["filters"],
        "inference": report["inference"],
        "alerts": report["alerts"],
        "srm": _pick(srm, SRM_FIELDS)
        | {
            "slots": [
                names.slot(s["variant_id"]) | _pick(s, ("weight", "subjects", "expected"))
                for s in srm["slots"]
            ]
        },
        "versions": versions,
        "slots": [
            names.slot(row["variant_id"]) | {"weight": row["weight"]} | _pick(row, FIGURES)
            for row in report["slots"]
        ],
        "comparisons": [
            {
                "scope": c["scope"],
                "control": names.ref(c["control"]),
                "treatment": names.ref(c["treatment"]),
            }
            | _pick(c, COMPARED)
            for c in report["comparisons"]
            if {c["control"]["variant_id"], c["treatment"]["variant_id"]} & names.own
        ],
        # Said of own versions only: how many checkpoints another slot had (or whether it
        # was hot-swapped) does not show.
        "caveats": [
            *caveats(
                versions,
                report["inference"]["mode"],
                pooled_swaps=report["experiment"]["design"] == "parallel"
                and len(versions) > len(names.own),
            ),
            OTHERS_CAVEAT,
        ],
        "generated_at": report["generated_at"],
    }


def _own_versions(report: dict[str, Any], names: _Names) -> list[dict[str, Any]]:
    return [
        names.slot(row["variant_id"])
        | _pick(row, ("variant_version_id", "internal_id", "effective_from", "effective_until"))
        | _pick(row, FIGURES)
        for row in report["versions"]
        if row["variant_id"] in names.own
    ]


OTHERS_CAVEAT = (
    'Slots that are not yours appear as "control" or "other slot N" with their figures '
    "pooled over all their checkpoints (percentiles do not pool, so only means are shown)."
)
