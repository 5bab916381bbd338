"""Every read the reporting domain makes, in one place.

The reporting select joins request -> version -> variant -> experiment -> usage and exposes
``internal_id`` and ``base_url`` from the version's upstream JSON; it never selects
``encrypted_api_key``.  Stats aggregate in SQL, grouped by ``variant_version_id``.

Definitions the report relies on:

* Time window: ``since <= created_at < until`` on the attribution row's ``created_at`` (equal
  to the usage row's by construction).
* Unique subjects: distinct ``(allocation_subject, value)`` where value is the subject the
  allocation used: ``user_id`` for 'user', ``machine_id`` for 'machine', ``client_ip`` for
  'ip'.  Slot subjects count a subject once across all versions of its slot.
* Latency and token statistics (percentiles, sums, means, variances) describe successful
  requests (``has_error = false``) with a recorded value; failures count in the error rate.
* Percentiles interpolate linearly between closest ranks, as PostgreSQL's
  ``percentile_cont``: for sorted values ``x_0..x_{n-1}``, ``h = p (n - 1)``, result
  ``x_floor(h) + (h - floor(h)) (x_floor(h)+1 - x_floor(h))``.  PostgreSQL runs
  ``percentile_cont``; SQLite, which lacks it, ranks rows with window functions and returns
  only the two ranks around each percentile, interpolated by ``interpolate`` (same formula).
* Feedback: one rating per rater and message (client request id): a rating counts for
  every version that served that message to its rater (the user who sent it, or the machine
  for an anonymous request), so another caller's rating never counts for a request.  A
  rating given by response id counts once, for the version that served that request, and
  replaces its rater's message rating for that request (one rating per rater and request).

Performance (1M rows, see ``bench/stats_1m.py``): one pass over request x usage computes
everything per version; on PostgreSQL the distinct subjects of each version are kept as
arrays so the per-slot counts come from the same pass.  Messages and feedback read only the
attribution table (index-only, migration 0002).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Float,
    Integer,
    Select,
    String,
    and_,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy import ColumnElement as Col
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from previewgate.evidence.models import ExperimentRequest as R
from previewgate.experiments import queries as experiment_queries
from previewgate.experiments.models import Experiment, Variant, VariantVersion
from previewgate.feedback.models import Feedback
from previewgate.reporting.figures import (
    PERCENTILE_METRICS,
    PERCENTILES,
    Moments,
    StatsFilter,
    VersionStats,
    interpolate,
)
from previewgate.usage.models import Usage as U

_KINDS: dict[str, InstrumentedAttribute[Any]] = {
    "user": U.user_id,
    "machine": U.machine_id,
    "ip": U.client_ip,
}
_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "ttfb_ms": U.ttfb_ms,
    "total_ms": U.total_ms,
    "input_tokens": U.input_tokens,
    "output_tokens": U.output_tokens,
}
_OK = U.has_error == false()


def reporting_select() -> Select[Any]:
    """One row per experimented request with its checkpoint, slot, experiment and usage."""
    upstream = VariantVersion.upstream
    return (
        select(
            R.usage_id,
            R.created_at,
            Experiment.id.label("experiment_id"),
            Variant.id.label("variant_id"),
            Variant.label.label("variant_label"),
            R.variant_version_id,
            upstream["internal_id"].as_string().label("internal_id"),
            upstream["base_url"].as_string().label("base_url"),
            R.allocation_subject,
            R.client_request_id,
            *(getattr(U, c) for c in ("user_id", "machine_id", "session_id", "status_code")),
            *(getattr(U, c) for c in ("has_error", "error_kind", "input_tokens")),
            *(getattr(U, c) for c in ("output_tokens", "cached_tokens", "ttfb_ms", "total_ms")),
            U.streamed,
            R.system_prompt_sha256,
            R.request_body_sha256,
            R.response_sha256,
            R.was_truncated,
        )
        .join(VariantVersion, VariantVersion.id == R.variant_version_id)
        .join(Variant, Variant.id == VariantVersion.variant_id)
        .join(Experiment, Experiment.id == Variant.experiment_id)
        .join(U, U.id == R.usage_id)
    )


# One loader for experiments, shared with the experiments domain.
load_experiment = experiment_queries.load_experiment


@dataclass(frozen=True)
class _Scope:
    """The requests a report covers, and the created_at span they occupy."""

    ids: list[uuid.UUID]
    filters: StatsFilter
    first: datetime | None = None
    last: datetime | None = None

    def requests(self) -> list[Col[bool]]:
        clauses: list[Col[bool]] = [R.variant_version_id.in_(self.ids)]
        if self.filters.since is not None:
            clauses.append(R.created_at >= self.filters.since)
        if self.filters.until is not None:
            clauses.append(R.created_at < self.filters.until)
        if self.filters.allocation_subject is not None:
            clauses.append(R.allocation_subject == self.filters.allocation_subject)
        return clauses

    def joined(self) -> list[Col[bool]]:
        # Usage rows share created_at with their attribution rows, so bounding usage by the
        # span lets its created_at index skip traffic outside the experiment.
        clauses = self.requests()
        if self.first is not None and self.last is not None:
            clauses += [U.created_at >= self.first, U.created_at <= self.last]
        return clauses


async def _scope(session: AsyncSession, ids: list[uuid.UUID], filters: StatsFilter) -> _Scope:
    scope = _Scope(ids, filters)
    # One MIN/MAX per version: each is an index probe on (variant_version_id, created_at).
    parts = [
        select(func.min(R.created_at).label("lo"), func.max(R.created_at).label("hi")).where(
            *_Scope([vid], filters).requests()
        )
        for vid in ids
    ]
    spans = [(lo, hi) for lo, hi in await session.execute(union_all(*parts)) if lo is not None]
    if not spans:
        return scope
    return _Scope(ids, filters, min(lo for lo, _ in spans), max(hi for _, hi in spans))


def _moments() -> list[Col[Any]]:
    cols: list[Col[Any]] = []
    for name, column in _COLUMNS.items():
        big = column.cast(BigInteger)  # bigint: squares overflow int4 on PostgreSQL
        cols += [
            func.count(column).filter(_OK).label(f"{name}_n"),
            func.sum(big).filter(_OK).label(f"{name}_sum"),
            func.sum(big * big).filter(_OK).label(f"{name}_sq"),
        ]
    return cols


def _kind_filter(kind: str) -> Col[bool]:
    return and_(R.allocation_subject == kind, _KINDS[kind].is_not(None))


@dataclass
class StatsResult:
    versions: dict[uuid.UUID, VersionStats]
    slot_subjects: dict[uuid.UUID, int] = field(default_factory=dict)


async def version_stats(
    session: AsyncSession, slots: Mapping[uuid.UUID, uuid.UUID], filters: StatsFilter
) -> StatsResult:
    """Aggregates per ``variant_version_id`` (``slots`` maps version id -> variant id) and
    unique subjects per slot; versions without traffic get zero rows."""
    out = StatsResult({vid: VersionStats(vid) for vid in slots})
    scope = await _scope(session, list(slots), filters) if slots else None
    if scope is None or scope.first is None:
        return out  # no traffic in the window: every figure is zero
    base: list[Col[Any]] = [
        R.variant_version_id.label("vid"),
        func.count().label("requests"),
        func.count().filter(U.has_error).label("errors"),
        *_moments(),
    ]
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # JIT compiling this wide aggregate costs ~0.15 s and buys nothing for sort-bound work.
        await session.execute(text("SET LOCAL jit = off"))
        rows = await _postgres_rows(session, scope, base)
    else:
        subjects = [func.count(_KINDS[k].distinct()).filter(_kind_filter(k)) for k in _KINDS]
        query = _joined([*base, sum(subjects[1:], subjects[0]).label("subjects")], scope)
        rows = list((await session.execute(query)).mappings())
    for row in rows:
        stats = out.versions[row["vid"]]
        stats.requests, stats.errors = int(row["requests"]), int(row["errors"] or 0)
        stats.subjects = int(row["subjects"] or 0)
        for name in _COLUMNS:
            parts = (int(row[f"{name}_{p}"] or 0) for p in ("n", "sum", "sq"))
            setattr(stats, name, Moments(*parts))
        for name in PERCENTILE_METRICS if postgres else ():
            values = row[f"{name}_pct"] or [None] * len(PERCENTILES)
            stats.percentiles[name] = dict(zip(PERCENTILES, values, strict=True))
        if postgres:
            out.slot_subjects[slots[row["vid"]]] = int(row["slot_subjects"] or 0)
    if not postgres:
        for name in PERCENTILE_METRICS:
            found = await _ranked_percentiles(session, scope, _COLUMNS[name])
            for vid, values in found.items():
                out.versions[vid].percentiles[name] = values
        out.slot_subjects = await _slot_subjects(session, scope)
    await _add_messages(session, scope, out.versions)
    return out


def _joined(columns: list[Col[Any]], scope: _Scope) -> Any:
    return (
        select(*columns)
        .join(U, U.id == R.usage_id)
        .where(*scope.joined())
        .group_by(R.variant_version_id)
    )


async def _postgres_rows(
    session: AsyncSession, scope: _Scope, base: list[Col[Any]]
) -> list[RowMapping]:
    """One pass: percentile_cont, and each version's distinct subjects as arrays whose
    union per slot gives the slot counts without a second pass over the join."""
    levels = array([literal(p, Float) for p in PERCENTILES])
    extra: list[Col[Any]] = [
        func.percentile_cont(levels).within_group(_COLUMNS[n]).filter(_OK).label(f"{n}_pct")
        for n in PERCENTILE_METRICS
    ]
    extra += [func.array_agg(_KINDS[k].distinct()).filter(_kind_filter(k)).label(k) for k in _KINDS]
    m = _joined(base + extra, scope).cte("m")
    vv = VariantVersion.__table__
    keys = [
        select(
            vv.c.variant_id.label("slot"), literal(f"{k}:") + func.unnest(m.c[k]).cast(String)
        ).join_from(m, vv, vv.c.id == m.c.vid)
        for k in _KINDS
    ]
    union = keys[0].union(*keys[1:]).subquery()
    per_slot = select(union.c.slot, func.count().label("n")).group_by(union.c.slot).subquery()
    cards = [func.coalesce(func.cardinality(m.c[k]), 0) for k in _KINDS]
    scalars = [column for column in m.c if column.name not in _KINDS]  # arrays stay in SQL
    subjects = sum(cards[1:], cards[0]).label("subjects")
    query = (
        select(*scalars, subjects, per_slot.c.n.label("slot_subjects"))
        .join_from(m, vv, vv.c.id == m.c.vid)
        .outerjoin(per_slot, per_slot.c.slot == vv.c.variant_id)
    )
    return list((await session.execute(query)).mappings())


async def _slot_subjects(session: AsyncSession, scope: _Scope) -> dict[uuid.UUID, int]:
    counts = [func.count(_KINDS[k].distinct()).filter(_kind_filter(k)) for k in _KINDS]
    query = (
        select(VariantVersion.variant_id, sum(counts[1:], counts[0]))
        .join(U, U.id == R.usage_id)
        .join(VariantVersion, VariantVersion.id == R.variant_version_id)
        .where(*scope.joined())
        .group_by(VariantVersion.variant_id)
    )
    return {slot: int(n) for slot, n in await session.execute(query)}


async def _ranked_percentiles(
    session: AsyncSession, scope: _Scope, column: InstrumentedAttribute[Any]
) -> dict[uuid.UUID, dict[float, float | None]]:
    """percentile_cont without the function: only the ranks around each percentile."""
    ranked = (
        select(
            R.variant_version_id.label("vid"),
            column.label("x"),
            func.row_number().over(partition_by=R.variant_version_id, order_by=column).label("rn"),
            func.count().over(partition_by=R.variant_version_id).label("n"),
        )
        .join(U, U.id == R.usage_id)
        .where(*scope.joined(), _OK, column.is_not(None))
        .subquery()
    )
    wanted = []
    for p in PERCENTILES:
        lower = ((ranked.c.n - 1) * p).cast(Integer)  # truncation = floor: never negative
        wanted += [ranked.c.rn - 1 == lower, ranked.c.rn - 1 == lower + 1]
    query = select(ranked.c.vid, ranked.c.rn, ranked.c.n, ranked.c.x).where(or_(*wanted))
    ranks: dict[uuid.UUID, dict[int, float]] = {}
    sizes: dict[uuid.UUID, int] = {}
    for vid, rn, n, x in await session.execute(query):
        ranks.setdefault(vid, {})[int(rn) - 1] = float(x)
        sizes[vid] = int(n)
    return {vid: {p: interpolate(ranks[vid], sizes[vid], p) for p in PERCENTILES} for vid in ranks}


async def _add_messages(
    session: AsyncSession, scope: _Scope, out: dict[uuid.UUID, VersionStats]
) -> None:
    """Distinct messages per version, and the ratings their own senders gave them."""
    where = [*scope.requests(), R.client_request_id.is_not(None)]
    pairs = select(R.variant_version_id, R.client_request_id).where(*where).distinct().subquery()
    query = select(pairs.c.variant_version_id, func.count()).group_by(pairs.c.variant_version_id)
    for vid, n in await session.execute(query):
        out[vid].messages = int(n)
    rated = _rated(scope, where).subquery()
    query = select(rated.c.vid, rated.c.rating, func.count()).group_by(rated.c.vid, rated.c.rating)
    for vid, rating, count in await session.execute(query):
        if rating == "up":
            out[vid].thumbs_up = int(count)
        else:
            out[vid].thumbs_down = int(count)


_AT = Feedback.updated_at.label("at")


def _rated(scope: _Scope, where: list[Col[bool]]) -> CompoundSelect[Any]:
    """Every rating that counts for a served version, one row ``(vid, fid, rating, at)`` per
    version it counts for; ``where`` bounds the requests (those with a client request id)."""
    # Feedback is small next to requests: join it to the served requests its rater made
    # (one rating per rater and message, a unique index) and count each rating once per
    # version, however many of the rater's requests with that id the version served.
    by_sender = or_(
        Feedback.user_id == U.user_id,
        and_(U.user_id.is_(None), Feedback.user_id.is_(None), Feedback.machine_id == U.machine_id),
    )
    # A request rated by its response id is rated by that rating alone: the more specific
    # rating wins, so its rater's message rating does not count for it (one per request).
    per_request = aliased(Feedback)
    rated_alone = exists().where(per_request.usage_id == R.usage_id)
    by_message = (
        select(R.variant_version_id.label("vid"), Feedback.id.label("fid"), Feedback.rating, _AT)
        .join(Feedback, Feedback.client_request_id == R.client_request_id)
        .join(U, U.id == R.usage_id)
        .where(*where, by_sender, ~rated_alone)
        .distinct()
    )
    # Ratings by response id name one request each, owned by their rater (checked on write).
    by_request = (
        select(R.variant_version_id.label("vid"), Feedback.id.label("fid"), Feedback.rating, _AT)
        .join(Feedback, Feedback.usage_id == R.usage_id)
        .where(*scope.requests())
    )
    return union_all(by_message, by_request)


async def request_page(
    session: AsyncSession,
    version_ids: Iterable[uuid.UUID],
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
    has_error: bool | None = None,
) -> list[RowMapping]:
    """Newest first on ``(created_at, usage_id)``; ``before`` is the last key of the prior page."""
    query = reporting_select().where(R.variant_version_id.in_(list(version_ids)))
    if has_error is not None:
        query = query.where(U.has_error == has_error)
    if before is not None:
        at, usage_id = before
        key = tuple_(literal(at, R.created_at.type), literal(usage_id, R.usage_id.type))
        query = query.where(tuple_(R.created_at, R.usage_id) < key)
    query = query.order_by(R.created_at.desc(), R.usage_id.desc()).limit(limit)
    return list((await session.execute(query)).mappings())


async def rating_days(
    session: AsyncSession, version_ids: Iterable[uuid.UUID], since: datetime
) -> dict[uuid.UUID, dict[date, tuple[int, int]]]:
    """Thumbs up and down per version and UTC day of rating, for ratings since ``since``."""
    scope = _Scope(list(version_ids), StatsFilter())
    where = [*scope.requests(), R.client_request_id.is_not(None)]
    rated = _rated(scope, where).subquery()
    query = select(rated.c.vid, rated.c.rating, rated.c.at).where(rated.c.at >= since)
    days: dict[uuid.UUID, dict[date, list[int]]] = {}
    for vid, rating, at in await session.execute(query):
        counts = days.setdefault(vid, {}).setdefault(at.date(), [0, 0])
        counts[0 if rating == "up" else 1] += 1
    return {
        vid: {d: (up, down) for d, (up, down) in by_day.items()} for vid, by_day in days.items()
    }
