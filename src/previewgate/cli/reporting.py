"""`previewgate report`, `wipe` and `gc`: experiment results and retention from the shell.

The statistics (SciPy, NumPy) and the retention service (SQLAlchemy) are imported inside
the commands: ``--help`` needs neither.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from previewgate.cli.common import run_in_session, settings_or_exit, table
from previewgate.config import MAX_GC_GRACE_S
from previewgate.evidence.blobs import open_blob_store

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from previewgate.reporting.inference import Mode


def _iso(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _num(value: float | None, fmt: str = ".0f") -> str:
    return "-" if value is None else format(value, fmt)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _one_decimal(value: float | None) -> str:
    return _num(value, ".1f")


VERSION_COLUMNS = (
    "slot", "checkpoint", "from", "req", "msgs", "subj", "err", "ttft p50/p95",
    "total p50/p95", "in avg", "out avg", "up/down", "up%",
)  # fmt: skip
VERSION_NUMBERS = range(3, len(VERSION_COLUMNS))
COMPARISON_COLUMNS = ("comparison", "metric", "diff", "95% interval", "p", "note")
COMPARISON_NUMBERS = (2, 3, 4)
CLIPPED = " (clipped)"


def _version_cells(row: dict[str, Any]) -> list[str]:
    ttfb, total, fb = row["ttfb_ms"], row["total_ms"], row["feedback"]
    return [
        row["variant_label"],
        str(row["internal_id"]) + (" *" if row["small_sample"] else ""),
        (row["effective_from"] or "")[:16],
        str(row["requests"]),
        str(row["messages"]),
        str(row["subjects"]),
        _pct(row["error_rate"]),
        f"{_num(ttfb['p50'])}/{_num(ttfb['p95'])}",
        f"{_num(total['p50'])}/{_num(total['p95'])}",
        _num(row["input_tokens"]["mean"]),
        _num(row["output_tokens"]["mean"]),
        f"{fb['up']}/{fb['down']}",
        _pct(fb["up_rate"]),
    ]


def _interval(interval: dict[str, Any] | None, show: Callable[[float | None], str]) -> str:
    """``[lower, upper]``; a bound clipped to the metric's range is labelled as such."""
    if not interval:
        return "-"
    lower = show(interval["lower"]) + (CLIPPED if interval.get("lower_clipped") else "")
    upper = show(interval["upper"]) + (CLIPPED if interval.get("upper_clipped") else "")
    return f"[{lower}, {upper}]"


def _comparison_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for comparison in report["comparisons"]:
        control = comparison["control"]
        treatment = comparison["treatment"]
        label = (
            f"{treatment.get('internal_id', treatment['variant_label'])} vs "
            f"{control.get('internal_id', control['variant_label'])}"
        )
        for metric in ("error_rate", "up_rate", "total_ms_mean", "output_tokens_mean"):
            found = comparison[metric]
            show = _pct if metric.endswith("rate") else _one_decimal
            ci = _interval(found["interval"], show)
            note = "small sample" if found["small_sample"] else ""
            note = "SIGNIFICANT" if found["significant"] else note
            p_value = "-" if found["p_value"] is None else f"{found['p_value']:.3g}"
            rows.append([label, metric, show(found["difference"]), ci, p_value, note])
    return rows


def format_report(report: dict[str, Any]) -> str:
    """The report as a terminal page: SRM banner (if flagged), versions, comparisons."""
    lines: list[str] = []
    for alert in report["alerts"]:
        bar = "!" * min(100, len(alert))
        lines += [bar, alert, bar, ""]
    experiment, inference, srm = report["experiment"], report["inference"], report["srm"]
    lines.append(f"{experiment['name']}  ({experiment['public_model_id']}, {experiment['status']}, "
                 f"{experiment['design']})")  # fmt: skip
    lines.append(f"inference: {inference['mode']} (alpha {inference['alpha']}): "
                 f"{inference['description']}")  # fmt: skip
    srm_line = f"sample-ratio check: {srm['status']}"
    if srm.get("p_value") is not None:
        srm_line += f" (p = {srm['p_value']:.3g})"
    lines += [srm_line, ""]
    rows = [_version_cells(row) for row in report["versions"]]
    lines += table(VERSION_COLUMNS, rows, VERSION_NUMBERS)
    lines.append("(* small sample; latency in ms over successful requests)")
    if report["comparisons"]:
        lines.append("")
        lines += table(COMPARISON_COLUMNS, _comparison_rows(report), COMPARISON_NUMBERS)
        lines.append(
            "(diff = treatment - control; a bound marked (clipped) lay beyond the metric's "
            "range and is cut to it)"
        )
    lines += ["", "caveats:"] + [f"- {caveat}" for caveat in report["caveats"]]
    return "\n".join(lines)


@click.command("report")
@click.argument("experiment_id", type=click.UUID)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option("--fixed-horizon", is_flag=True, help="Fixed-horizon instead of sequential.")
@click.option("--since", callback=_iso, help="ISO 8601 start (inclusive); UTC if no offset.")
@click.option("--until", callback=_iso, help="ISO 8601 end (exclusive); UTC if no offset.")
def report(
    experiment_id: uuid.UUID,
    as_json: bool,
    fixed_horizon: bool,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Live statistics of an experiment."""
    from previewgate.reporting.service import experiment_stats

    async def work(session: AsyncSession) -> dict[str, Any]:
        mode: Mode = "fixed_horizon" if fixed_horizon else "sequential"
        return await experiment_stats(session, experiment_id, since=since, until=until, mode=mode)

    found = run_in_session(settings_or_exit(), work)
    click.echo(json.dumps(found, indent=2) if as_json else format_report(found))


@click.command("wipe")
@click.argument("experiment_id", type=click.UUID)
@click.option("--drop-rows", is_flag=True, help="Delete the attribution rows too.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def wipe(experiment_id: uuid.UUID, drop_rows: bool, yes: bool) -> None:
    """Forget an experiment's prompts (hashes become __deleted__); run `gc` to free storage."""
    from previewgate.evidence import retention

    if not yes:
        what = "delete the attribution rows" if drop_rows else "wipe the prompt hashes"
        click.confirm(f"This will {what} of experiment {experiment_id}. Continue?", abort=True)

    async def work(session: AsyncSession) -> int:
        return await retention.wipe_prompts(session, experiment_id, drop_rows=drop_rows)

    rows = run_in_session(settings_or_exit(), work)
    click.echo(f"{'deleted' if drop_rows else 'wiped'} {rows} attribution row(s)")


@click.command("gc")
@click.option(
    "--grace-s",
    type=click.FloatRange(0, MAX_GC_GRACE_S),
    help="Keep blobs younger than this many seconds (default: settings; at most a century).",
)
def gc(grace_s: float | None) -> None:
    """Delete stored prompts and responses that no attribution row references."""
    from previewgate.evidence import retention

    settings = settings_or_exit()
    grace = settings.gc_grace_s if grace_s is None else grace_s

    async def work(session: AsyncSession) -> retention.GcResult:
        blobs = open_blob_store(settings.resolved_blob_url)
        try:
            return await retention.gc_blobs(session, blobs, grace)
        finally:
            await blobs.close()

    result = run_in_session(settings, work)
    click.echo(" ".join(f"{key}={value}" for key, value in asdict(result).items()))
