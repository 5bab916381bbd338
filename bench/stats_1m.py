"""Stats-report timing on PostgreSQL with 1,000,000 experimented requests.

Creates a throwaway database ``pgbench_stats_<random>`` next to the test database, migrates
it, seeds a two-slot experiment (three checkpoint versions per slot, hot-swapped over seven
days) with usage + attribution rows and some feedback, runs the same service function the
API and CLI use a few times, prints the timings and drops the database (also on failure or
Ctrl-C).

    .venv/bin/python bench/stats_1m.py [--rows 1000000] [--runs 5]

The machine is shared (tests, other benchmarks): each line prints the load average too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from previewgate.catalog.models import CatalogModel
from previewgate.experiments.models import Experiment, Variant, VariantVersion
from previewgate.reporting.service import experiment_stats
from previewgate.store.engine import create_engine, session_factory
from previewgate.store.migrate import upgrade

ADMIN_DSN = os.environ.get("PREVIEWGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
START = datetime(2025, 3, 1, tzinfo=UTC)
DAYS = 7
TARGET_S = 2.0

# One row per request, drawn once so that usage and attribution agree. Subjects: 20k users
# (70% of traffic), 5k machines (20%), 3k IPs (10%); slot = subject number mod 2; three
# versions per slot, swapped at day 0, 2.5 and 5; ~3% errors; 80% carry a client request id
# shared by up to 3 consecutive requests (agent tool loops).
SEED_SQL = f"""
CREATE UNLOGGED TABLE bench_src AS
SELECT
    md5('req' || g)::uuid AS id,
    $1::timestamptz + (g::float8 / $2) * interval '{DAYS} days' AS created_at,
    k.kind, k.subject_n,
    random() < 0.03 AS has_error,
    CASE WHEN random() < 0.8 THEN 'msg-' || (g / 3) END AS crid,
    (300 + 2000 * random() * random())::int AS ttfb_ms,
    (1500 + 20000 * random() * random())::int AS total_ms,
    (1000 + 30000 * random())::int AS input_tokens,
    (50 + 2000 * random() * random())::int AS output_tokens
FROM generate_series(1, $2) AS g
CROSS JOIN LATERAL (
    SELECT r, CASE WHEN r < 0.7 THEN 'user' WHEN r < 0.9 THEN 'machine' ELSE 'ip' END AS kind,
           (random() * CASE WHEN r < 0.7 THEN 20000 WHEN r < 0.9 THEN 5000 ELSE 3000 END)::int
               AS subject_n
    FROM (SELECT random() + g * 0 AS r) AS x
) AS k
"""

USAGE_SQL = """
INSERT INTO usage (id, created_at, user_id, public_model_id, request_kind, status_code,
    has_error, error_kind, input_tokens, output_tokens, cached_tokens, cost_microusd, ttfb_ms,
    total_ms, session_id, machine_id, client_ip, streamed, client_meta)
SELECT id, created_at,
    CASE WHEN kind = 'user' THEN md5('user' || subject_n)::uuid END,
    'acme/preview-bench', 'chat',
    CASE WHEN has_error THEN 502 ELSE 200 END, has_error,
    CASE WHEN has_error THEN 'upstream_5xx' END,
    CASE WHEN NOT has_error THEN input_tokens END,
    CASE WHEN NOT has_error THEN output_tokens END,
    NULL, 0,
    CASE WHEN NOT has_error THEN ttfb_ms END, total_ms, NULL,
    CASE WHEN kind = 'machine' THEN 'machine-' || subject_n END,
    CASE WHEN kind = 'ip' THEN '10.0.' || (subject_n / 256) || '.' || (subject_n % 256) END,
    true, NULL
FROM bench_src
"""

# $1: version ids, slot-major (slot 0's three versions, then slot 1's); swaps every 2.5 days.
REQUEST_SQL = """
INSERT INTO model_experiment_request (usage_id, variant_version_id, allocation_subject,
    client_request_id, system_prompt_sha256, request_body_sha256, response_sha256,
    was_truncated, created_at)
SELECT id, ($1::uuid[])[1 + 3 * (subject_n % 2)
        + LEAST(2, floor(extract(epoch FROM created_at - $2::timestamptz) / 216000)::int)],
    kind, crid, '__absent__', encode(sha256(id::text::bytea), 'hex'), '__absent__', false,
    created_at
FROM bench_src
"""

# Ratings come from the request's sender (the user, or the machine of an anonymous request;
# IP-only callers cannot rate): one per (message, sender), for ~5% of them.
FEEDBACK_SQL = """
INSERT INTO feedback (id, client_request_id, user_id, machine_id, rating, comment, created_at,
    updated_at)
SELECT gen_random_uuid(), crid,
    CASE WHEN kind = 'user' THEN md5('user' || subject_n)::uuid END,
    CASE WHEN kind = 'machine' THEN 'machine-' || subject_n END,
    CASE WHEN random() < 0.7 THEN 'up' ELSE 'down' END, NULL, max(created_at), max(created_at)
FROM bench_src WHERE crid IS NOT NULL AND kind <> 'ip' AND random() < 0.05
GROUP BY crid, kind, subject_n
"""


def _url(database: str) -> str:
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _seed_experiment(url: str) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """The experiment and its version ids, slot-major, oldest first."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            session.add(
                CatalogModel(public_id="acme/preview-bench", kind="preview", disclosure_text="x")
            )
            experiment = Experiment(public_model_id="acme/preview-bench", name="bench")
            session.add(experiment)
            await session.flush()
            slots = sorted(uuid.uuid4() for _ in range(2))
            versions = []
            for label, slot in zip("ab", slots, strict=True):
                session.add(Variant(id=slot, experiment_id=experiment.id, label=label, weight=1))
                await session.flush()
                for n in range(3):
                    versions.append(uuid.uuid4())
                    session.add(
                        VariantVersion(
                            id=versions[-1],
                            variant_id=slot,
                            upstream={"internal_id": f"{label}-rc{n}", "base_url": "https://x/v1"},
                            encrypted_api_key={"iv": "x", "data": "x", "auth_tag": "x"},
                            effective_at=START + timedelta(days=2.5 * n),
                        )
                    )
            return experiment.id, versions
    finally:
        await engine.dispose()


async def _seed_rows(dsn: str, rows: int, versions: list[uuid.UUID]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        steps = [
            ("source rows", SEED_SQL, (START, rows)),
            ("usage", USAGE_SQL, ()),
            ("attribution", REQUEST_SQL, (versions, START)),
            ("feedback", FEEDBACK_SQL, ()),
            ("cleanup", "DROP TABLE bench_src", ()),
            ("vacuum analyze", "VACUUM ANALYZE", ()),
        ]
        for name, sql, args in steps:
            started = time.perf_counter()
            await conn.execute(sql, *args)
            print(f"  seeded {name:15} {time.perf_counter() - started:6.1f} s", flush=True)
    finally:
        await conn.close()


async def _time_reports(url: str, experiment_id: uuid.UUID, runs: int) -> bool:
    """Time the service call (what the API and CLI run); one warm-up call first."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    windows: list[tuple[str, datetime | None]] = [
        ("full 7 days", None),
        ("last 24 h", START + timedelta(days=DAYS - 1)),
    ]
    try:
        async with sessions() as session:
            await experiment_stats(session, experiment_id)
        ok = True
        for label, since in windows:
            timings = []
            for _ in range(runs):
                async with sessions() as session, session.begin():
                    started = time.perf_counter()
                    report = await experiment_stats(session, experiment_id, since=since)
                    timings.append(time.perf_counter() - started)
            total = sum(row["requests"] for row in report["versions"])
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(
                f"stats {label:12} ({total:>9,} requests): "
                + " ".join(f"{t:.2f}" for t in timings)
                + f" s; median {statistics.median(timings):.2f} s, max {max(timings):.2f} s"
                + f" (load average {load})"
            )
            ok = ok and statistics.median(timings) < TARGET_S
        return ok
    finally:
        await engine.dispose()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    database = f"pgbench_stats_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{database}"')
    try:
        url = _url(database)
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        experiment_id, versions = await _seed_experiment(url)
        print(f"seeding {args.rows:,} requests into {database}", flush=True)
        await _seed_rows(ADMIN_DSN.rsplit("/", 1)[0] + "/" + database, args.rows, versions)
        ok = await _time_reports(url, experiment_id, args.runs)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        print(f"dropped {database}")
    print(f"target: median < {TARGET_S:.0f} s per stats call: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
