"""The JSON the results charts draw: per-checkpoint series, latencies, hot-swap marks.

Times are epoch milliseconds (what the browser's Date takes). A version's series is
filled with zero buckets over its effective period, so lines drop to zero instead of
interpolating across hours without traffic.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from previewgate.admin_pages.queries import MAX_BUCKETS, Series
from previewgate.experiments.schemas import ExperimentOut, VersionOut

TICKS = 8  # at most this many labels on a time axis


def window(view: ExperimentOut, now: datetime | None = None) -> tuple[datetime, datetime]:
    """From the first version's effective time to the end (or now), at most MAX_BUCKETS days."""
    now = now or datetime.now(UTC)
    end = min(view.ended_at or now, now) + timedelta(seconds=1)
    starts = [v.effective_at for slot in view.variants for v in slot.versions]
    start = min(starts) if starts else end - timedelta(hours=1)
    return max(start, end - timedelta(days=MAX_BUCKETS)), end


def version_label(label: str, version: VersionOut) -> str:
    return f"{label} · {version.internal_id}"


def _ms(seconds: int) -> int:
    return seconds * 1000


def _periods(view: ExperimentOut, end: datetime) -> dict[uuid.UUID, tuple[datetime, datetime]]:
    periods = {}
    for slot in view.variants:
        versions = slot.versions
        for index, version in enumerate(versions):
            until = versions[index + 1].effective_at if index + 1 < len(versions) else end
            periods[version.id] = (version.effective_at, until)
    return periods


def _filled(
    points: dict[int, tuple[int, int]], period: tuple[datetime, datetime], width: int, lo: int
) -> list[dict[str, Any]]:
    first = max(int(period[0].timestamp()) // width * width, lo)
    last = int(period[1].timestamp()) // width * width
    buckets = sorted(set(range(first, last + 1, width)) | set(points))
    rows = []
    for at in buckets:
        requests, errors = points.get(at, (0, 0))
        rate = errors / requests if requests else None
        rows.append({"t": _ms(at), "requests": requests, "errors": errors, "error_rate": rate})
    return rows


def chart_data(
    view: ExperimentOut,
    series: Series,
    stats_rows: list[dict[str, Any]],
    span: tuple[datetime, datetime],
) -> dict[str, Any]:
    """Everything ``charts.js`` needs; no upstream detail beyond internal ids and labels."""
    periods = _periods(view, span[1])
    lo = int(span[0].timestamp()) // series.width_s * series.width_s
    lines = []
    swaps = []
    for slot in view.variants:
        for index, version in enumerate(slot.versions):
            lines.append(
                {
                    "label": version_label(slot.label, version),
                    "points": _filled(
                        series.points.get(version.id, {}), periods[version.id], series.width_s, lo
                    ),
                }
            )
            if index > 0:
                swaps.append(
                    {
                        "t": int(version.effective_at.timestamp() * 1000),
                        "label": f"{slot.label} → {version.internal_id}",
                    }
                )
    latency = [
        {
            "label": f"{row['variant_label']} · {row['internal_id']}",
            "p50": row["total_ms"]["p50"],
            "p95": row["total_ms"]["p95"],
            "ttfb_p50": row["ttfb_ms"]["p50"],
            "ttfb_p95": row["ttfb_ms"]["p95"],
        }
        for row in stats_rows
    ]
    # Axis limits on bucket boundaries, so ticks fall on round times (whole hours...).
    hi = -(-int(span[1].timestamp()) // series.width_s) * series.width_s
    buckets = max((hi - lo) // series.width_s, 1)
    return {
        "bucket_ms": _ms(series.width_s),
        "tick_ms": _ms(series.width_s * -(-buckets // TICKS)),
        "start": _ms(lo),
        "end": _ms(hi),
        "series": lines,
        "swaps": swaps,
        "latency": latency,
    }
