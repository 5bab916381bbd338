"""The live stats report of one experiment, as a JSON-ready dict.

Rows are per checkpoint version (the primary grouping).  Comparisons use ``inference.py``
(difference = treatment - control): in a parallel experiment each slot is compared with the
control slot (the first variant by id), pooling the slot's versions; in a sequential
(one-slot) experiment each version is compared with the slot's first version.  Error rate
and up-rate use ``compare_rates``; mean total latency and mean output tokens use
``compare_means_from_summary`` (Welch / mSPRT).  The sample-ratio-mismatch check compares
unique subjects per slot with the slot weights and is surfaced first in ``alerts``.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.errors import Unprocessable
from previewgate.experiments.models import Experiment, Variant, VariantVersion
from previewgate.reporting import queries
from previewgate.reporting.figures import Moments, StatsFilter, Subject, VersionStats
from previewgate.reporting.inference import (
    MIN_MEAN_N,
    NON_NEGATIVE,
    Mode,
    compare_means_from_summary,
    compare_rates,
    sample_ratio_mismatch,
    wilson_interval,
)

MODES: tuple[Mode, ...] = ("sequential", "fixed_horizon")
MODE_TEXT = {
    "sequential": "always-valid sequential inference (mixture SPRT): intervals and p-values "
    "stay valid however often the report is looked at",
    "fixed_horizon": "fixed-horizon inference: valid only for one look at a sample size "
    "fixed in advance; repeated looks inflate false positives",
}
CAVEATS = [
    "A request's version is both the intended and the served checkpoint: the gateway is "
    "single-shot (no retries across upstreams).",
    "Distinct messages use distinct client request ids; requests sent without one count as "
    "requests only.",
    "Feedback counts one rating per rater and message (client request id) or request "
    "(response id, gen-...): only the caller who sent it (the user, or the machine for "
    "anonymous requests) can rate it, rating again replaces their earlier rating, and a "
    "request's own rating replaces its message's rating for that request.",
    "Latency and token statistics describe successful requests; failures count in the error rate.",
    "Percentiles interpolate linearly between closest ranks (percentile_cont).",
    "Intervals are clipped to the range the quantity can take (rates to [0, 1], differences "
    "of rates to [-1, 1], mean latencies and token counts to >= 0); a clipped bound is "
    "labelled lower_clipped / upper_clipped: the computed bound lay beyond the range.",
    "Unique subjects are distinct (subject kind, value) pairs: user id, machine id or client "
    "IP, whichever the allocation used.",
]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _interval(part: int, whole: int) -> dict[str, float] | None:
    found = wilson_interval(part, whole)
    return asdict(found) if found is not None else None


def _figures(stats: VersionStats) -> dict[str, Any]:
    """The figures a version row and a pooled slot row share."""
    rated = stats.thumbs_up + stats.thumbs_down
    return {
        "requests": stats.requests,
        "errors": stats.errors,
        "error_rate": _rate(stats.errors, stats.requests),
        "error_rate_interval": _interval(stats.errors, stats.requests),
        "messages": stats.messages,
        "input_tokens": {"sum": stats.input_tokens.total, "mean": stats.input_tokens.mean},
        "output_tokens": {"sum": stats.output_tokens.total, "mean": stats.output_tokens.mean},
        "feedback": {
            "up": stats.thumbs_up,
            "down": stats.thumbs_down,
            "up_rate": _rate(stats.thumbs_up, rated),
            "up_rate_interval": _interval(stats.thumbs_up, rated),
        },
        "small_sample": stats.requests < MIN_MEAN_N,
    }


def _version_row(
    variant: Variant, version: VariantVersion, until: datetime | None, stats: VersionStats
) -> dict[str, Any]:
    pct = stats.percentiles
    return {
        "variant_id": str(variant.id),
        "variant_label": variant.label,
        "variant_version_id": str(version.id),
        # Only these two upstream fields: the version's key never leaves the service layer.
        "internal_id": version.upstream.get("internal_id"),
        "base_url": version.upstream.get("base_url"),
        "effective_from": _iso(version.effective_at),
        "effective_until": _iso(until),
        "subjects": stats.subjects,
        "ttfb_ms": {"p50": pct["ttfb_ms"][0.5], "p95": pct["ttfb_ms"][0.95]},
        "total_ms": {
            "p50": pct["total_ms"][0.5],
            "p95": pct["total_ms"][0.95],
            "mean": stats.total_ms.mean,
        },
    } | _figures(stats)


def _slot_row(variant: Variant, stats: VersionStats, subjects: int) -> dict[str, Any]:
    """A slot's versions pooled: additive figures only (percentiles do not pool)."""
    return {
        "variant_id": str(variant.id),
        "variant_label": variant.label,
        "weight": variant.weight,
        "versions": len(variant.versions),
        "subjects": subjects,
        "ttfb_ms": {"mean": stats.ttfb_ms.mean},
        "total_ms": {"mean": stats.total_ms.mean},
    } | _figures(stats)


def _pooled(variant_id: uuid.UUID, parts: list[VersionStats]) -> VersionStats:
    """A slot's figures from its versions: every figure used in comparisons is additive."""
    pooled = VersionStats(variant_id)
    for s in parts:
        pooled.requests += s.requests
        pooled.errors += s.errors
        pooled.messages += s.messages
        pooled.thumbs_up += s.thumbs_up
        pooled.thumbs_down += s.thumbs_down
        pooled.ttfb_ms = pooled.ttfb_ms + s.ttfb_ms
        pooled.total_ms = pooled.total_ms + s.total_ms
        pooled.input_tokens = pooled.input_tokens + s.input_tokens
        pooled.output_tokens = pooled.output_tokens + s.output_tokens
    return pooled


def _means(control: Moments, treatment: Moments, mode: Mode, alpha: float) -> dict[str, Any]:
    return asdict(
        compare_means_from_summary(
            control.n,
            control.mean,
            control.variance,
            treatment.n,
            treatment.mean,
            treatment.variance,
            mode=mode,
            alpha=alpha,
            value_range=NON_NEGATIVE,  # latencies and token counts
        )
    )


def _compare(
    control: VersionStats, treatment: VersionStats, mode: Mode, alpha: float
) -> dict[str, Any]:
    c_rated = control.thumbs_up + control.thumbs_down
    t_rated = treatment.thumbs_up + treatment.thumbs_down
    return {
        "error_rate": asdict(
            compare_rates(
                control.errors,
                control.requests,
                treatment.errors,
                treatment.requests,
                mode=mode,
                alpha=alpha,
            )
        ),
        "up_rate": asdict(
            compare_rates(
                control.thumbs_up, c_rated, treatment.thumbs_up, t_rated, mode=mode, alpha=alpha
            )
        ),
        "total_ms_mean": _means(control.total_ms, treatment.total_ms, mode, alpha),
        "output_tokens_mean": _means(control.output_tokens, treatment.output_tokens, mode, alpha),
    }


def _ref(variant: Variant, version: VariantVersion | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"variant_id": str(variant.id), "variant_label": variant.label}
    if version is not None:
        ref["variant_version_id"] = str(version.id)
        ref["internal_id"] = version.upstream.get("internal_id")
    return ref


def _srm(variants: list[Variant], subjects: dict[uuid.UUID, int]) -> dict[str, Any]:
    if len(variants) < 2:
        return {"status": "not_applicable", "flagged": False, "slots": [], "message": None}
    observed = [subjects.get(v.id, 0) for v in variants]
    result = sample_ratio_mismatch(observed, [v.weight for v in variants])
    slots = [
        {"variant_id": str(v.id), "variant_label": v.label, "weight": v.weight, "subjects": o}
        | {"expected": e}
        for v, o, e in zip(variants, observed, result.expected, strict=True)
    ]
    message = None
    if result.status == "mismatch":
        message = (
            f"SAMPLE RATIO MISMATCH: unique subjects per slot {observed} do not match the "
            f"weights (chi-square p = {result.p_value:.2g} < {result.threshold}); assignment or "
            "logging is broken and the comparisons are not trustworthy."
        )
    elif result.status == "insufficient_sample":
        message = "Sample-ratio check needs at least 8 unique subjects in every slot."
    return asdict(result) | {"slots": slots, "message": message}


def _check(filters: StatsFilter, mode: str, alpha: float) -> None:
    if mode not in MODES:
        raise Unprocessable(f"mode must be one of {', '.join(MODES)}")
    if not 0.0 < alpha < 1.0:
        raise Unprocessable("alpha must be in (0, 1)")
    if filters.since and filters.until and filters.since >= filters.until:
        raise Unprocessable("since must be earlier than until")


async def experiment_stats(
    session: AsyncSession,
    experiment_id: uuid.UUID,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    allocation_subject: Subject | None = None,
    mode: Mode = "sequential",
    alpha: float = 0.05,
) -> dict[str, Any]:
    """The stats report; every value is a JSON type (str, number, bool, None, list, dict)."""
    filters = StatsFilter(since, until, allocation_subject)
    _check(filters, mode, alpha)
    experiment = await queries.load_experiment(session, experiment_id)
    variants = list(experiment.variants)
    slots = {version.id: variant.id for variant in variants for version in variant.versions}
    result = await queries.version_stats(session, slots, filters)
    stats = result.versions
    rows = []
    for variant in variants:
        versions = list(variant.versions)
        ends = [v.effective_at for v in versions[1:]] + [None]
        rows += [
            _version_row(variant, v, end, stats[v.id])
            for v, end in zip(versions, ends, strict=True)
        ]
    pooled = {v.id: _pooled(v.id, [stats[x.id] for x in v.versions]) for v in variants}
    comparisons = _comparisons(variants, stats, pooled, mode, alpha)
    srm = _srm(variants, result.slot_subjects)
    return {
        "experiment": _experiment_view(experiment, variants),
        "filters": {
            "since": _iso(since),
            "until": _iso(until),
            "allocation_subject": allocation_subject,
        },
        "inference": {"mode": mode, "alpha": alpha, "description": MODE_TEXT[mode]},
        "alerts": [srm["message"]] if srm["flagged"] else [],
        "srm": srm,
        "versions": rows,
        "slots": [_slot_row(v, pooled[v.id], result.slot_subjects.get(v.id, 0)) for v in variants],
        "comparisons": comparisons,
        "caveats": caveats(
            rows,
            mode,
            pooled_swaps=len(variants) > 1 and any(len(v.versions) > 1 for v in variants),
        ),
        "generated_at": datetime.now(UTC).isoformat(),
    }


def _comparisons(
    variants: list[Variant],
    stats: dict[uuid.UUID, VersionStats],
    pooled: dict[uuid.UUID, VersionStats],
    mode: Mode,
    alpha: float,
) -> list[dict[str, Any]]:
    if not variants:
        return []
    if len(variants) == 1:
        # Sequential: every later checkpoint against the slot's first one.
        slot = variants[0]
        versions = list(slot.versions)
        return [
            {"scope": "version", "control": _ref(slot, versions[0]), "treatment": _ref(slot, v)}
            | _compare(stats[versions[0].id], stats[v.id], mode, alpha)
            for v in versions[1:]  # empty with fewer than two versions
        ]
    control = variants[0]
    return [
        {"scope": "slot", "control": _ref(control), "treatment": _ref(v)}
        | _compare(pooled[control.id], pooled[v.id], mode, alpha)
        for v in variants[1:]
    ]


def _experiment_view(experiment: Experiment, variants: list[Variant]) -> dict[str, Any]:
    return {
        "id": str(experiment.id),
        "name": experiment.name,
        "public_model_id": experiment.public_model_id,
        "status": experiment.status,
        "design": "sequential" if len(variants) == 1 else "parallel",
        "control_variant_id": str(variants[0].id) if variants else None,
        "slots": [
            {"variant_id": str(v.id), "label": v.label, "weight": v.weight} for v in variants
        ],
    }


def caveats(rows: list[dict[str, Any]], mode: Mode, *, pooled_swaps: bool) -> list[str]:
    """What to keep in mind reading ``rows`` (per-version rows); ``pooled_swaps``: slot
    comparisons pool a slot that had more than one version."""
    found = list(CAVEATS)
    if pooled_swaps:
        found.append(
            "Slot comparisons pool every version of a slot; see the per-version rows and "
            "their effective periods."
        )
    small = sum(1 for r in rows if r["small_sample"])
    if small:
        found.append(
            f"{small} version(s) have fewer than {MIN_MEAN_N} requests (small_sample): "
            "their figures are descriptive, not findings."
        )
    if mode == "fixed_horizon":
        found.append(MODE_TEXT["fixed_horizon"].capitalize() + ".")
    return found
