"""The stats report against hand-computed values, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from previewgate.cli.reporting import gc, report, wipe
from previewgate.errors import NotFound, Unprocessable
from previewgate.evidence.blobs import FolderBlobStore
from previewgate.reporting import queries
from previewgate.reporting.figures import StatsFilter, interpolate
from previewgate.reporting.service import experiment_stats
from previewgate.store.engine import create_engine, session_factory
from tests.reporting.fixtures import (
    T0,
    add_feedback,
    assert_no_secrets,
    insert_requests,
    make_experiment,
    request_rows,
)

Sessions = async_sessionmaker[AsyncSession]
U1, U2, U3, U4, U5 = (uuid.uuid4() for _ in range(5))


async def seed_small(session: AsyncSession) -> tuple[str, str, str]:
    """Control A: 5 requests (1 error, 4 subjects, 3 messages); B: 3 in the window + 1 before."""
    experiment = await make_experiment(session, [("a", 1), ("b", 1)])
    a1 = experiment.variants[0].versions[0].id
    b1 = experiment.variants[1].versions[0].id
    at = T0 + timedelta(hours=1)
    await insert_requests(
        session,
        [
            request_rows(a1, at=at, user_id=U1, crid="m1", ttfb=100, total=1000, tokens=(10, 20)),
            request_rows(a1, at=at, user_id=U1, crid="m1", ttfb=200, total=2000, tokens=(30, 40)),
            request_rows(a1, at=at, user_id=U2, crid="m2", ttfb=300, total=3000, tokens=(50, 60)),
            request_rows(a1, at=at, user_id=U3, error=True, total=500),
            request_rows(
                a1,
                at=at,
                subject="machine",
                machine_id="mach-1",
                user_id=U1,
                crid="m3",
                ttfb=400,
                total=4000,
                tokens=(70, 80),
            ),
            request_rows(b1, at=at, user_id=U4, crid="m4", ttfb=50, total=500, tokens=(5, 5)),
            request_rows(b1, at=at, user_id=U5, crid="m5", ttfb=150, total=700, tokens=(15, 25)),
            request_rows(b1, at=at, user_id=U5, crid="m6", error=True, total=100),
            # Before the window used below.
            request_rows(b1, at=T0 - timedelta(days=2), user_id=U4, crid="m7", total=9),
        ],
    )
    await add_feedback(session, "m1", "down", T0 + timedelta(minutes=5), user_id=U1)
    # U2 never sent m1: a rating by anyone but the sender never counts.
    await add_feedback(session, "m1", "up", T0, user_id=U2)
    await add_feedback(session, "m2", "up", user_id=U2)
    await add_feedback(session, "m4", "up", user_id=U4)
    await add_feedback(session, "m5", "up", user_id=U5)
    await add_feedback(session, "m6", "down", user_id=U5)
    await add_feedback(session, "m99", "up", user_id=U1)  # no such request
    await session.commit()
    return str(experiment.id), str(a1), str(b1)


def by_version(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["variant_version_id"]: row for row in report["versions"]}


async def test_stats_match_hand_computed_values(sessions: Sessions) -> None:
    async with sessions() as session:
        experiment_id, a1, b1 = await seed_small(session)
        report = await experiment_stats(session, uuid.UUID(experiment_id), since=T0)
    json.dumps(report, allow_nan=False)
    rows = by_version(report)
    a, b = rows[a1], rows[b1]
    assert (a["requests"], a["errors"], a["messages"], a["subjects"]) == (5, 1, 3, 4)
    assert a["error_rate"] == pytest.approx(0.2)
    assert a["ttfb_ms"] == {"p50": pytest.approx(250.0), "p95": pytest.approx(385.0)}
    assert a["total_ms"]["p50"] == pytest.approx(2500.0)
    assert a["total_ms"]["p95"] == pytest.approx(3850.0)
    assert a["total_ms"]["mean"] == pytest.approx(2500.0)
    assert a["input_tokens"] == {"sum": 160, "mean": 40.0}
    assert a["output_tokens"] == {"sum": 200, "mean": 50.0}
    assert a["feedback"]["up"] == 1 and a["feedback"]["down"] == 1
    assert a["feedback"]["up_rate"] == pytest.approx(0.5)
    assert (a["internal_id"], a["base_url"]) == ("a-rc1", "https://a.example/v1")
    assert a["effective_from"] == T0.isoformat() and a["effective_until"] is None
    assert a["small_sample"] is True

    assert (b["requests"], b["errors"], b["messages"], b["subjects"]) == (3, 1, 3, 2)
    assert b["ttfb_ms"] == {"p50": pytest.approx(100.0), "p95": pytest.approx(145.0)}
    assert b["total_ms"]["p50"] == pytest.approx(600.0)
    assert b["total_ms"]["p95"] == pytest.approx(690.0)
    assert b["input_tokens"] == {"sum": 20, "mean": 10.0}
    assert b["output_tokens"] == {"sum": 30, "mean": 15.0}
    assert (b["feedback"]["up"], b["feedback"]["down"]) == (2, 1)

    [comparison] = report["comparisons"]
    assert comparison["scope"] == "slot"
    assert comparison["control"]["variant_label"] == "a"
    assert comparison["error_rate"]["control"]["successes"] == 1
    assert comparison["error_rate"]["treatment"]["n"] == 3
    assert comparison["up_rate"]["difference"] == pytest.approx(2 / 3 - 0.5)
    latency = comparison["total_ms_mean"]
    assert latency["control"]["mean"] == pytest.approx(2500.0)
    assert latency["control"]["variance"] == pytest.approx(1_666_666.6667)
    assert latency["treatment"]["variance"] == pytest.approx(20_000.0)
    assert comparison["output_tokens_mean"]["difference"] == pytest.approx(15.0 - 50.0)
    assert report["inference"]["mode"] == "sequential"
    assert comparison["error_rate"]["mode"] == "sequential"
    assert report["srm"]["status"] == "insufficient_sample"
    assert any("single-shot" in c for c in report["caveats"])


async def test_window_and_subject_filters(sessions: Sessions) -> None:
    async with sessions() as session:
        experiment_id, a1, b1 = await seed_small(session)
        everything = by_version(await experiment_stats(session, uuid.UUID(experiment_id)))
        machine = by_version(
            await experiment_stats(session, uuid.UUID(experiment_id), allocation_subject="machine")
        )
        before = by_version(
            await experiment_stats(
                session, uuid.UUID(experiment_id), until=T0, mode="fixed_horizon"
            )
        )
    assert everything[b1]["requests"] == 4 and everything[b1]["messages"] == 4
    assert (machine[a1]["requests"], machine[a1]["subjects"], machine[b1]["requests"]) == (1, 1, 0)
    assert machine[a1]["ttfb_ms"]["p95"] == pytest.approx(400.0)
    assert before[b1]["requests"] == 1 and before[a1]["requests"] == 0
    assert before[a1]["ttfb_ms"] == {"p50": None, "p95": None}
    assert before[a1]["error_rate"] is None


async def test_feedback_counts_each_senders_own_rating_once(sessions: Sessions) -> None:
    """One rating per rater and message: the sender's (user, or machine when anonymous)."""
    async with sessions() as session:
        experiment = await make_experiment(session, [("a", 1), ("b", 1)])
        a1 = experiment.variants[0].versions[0].id
        b1 = experiment.variants[1].versions[0].id
        at = T0 + timedelta(hours=1)
        anon = {"subject": "machine", "at": at}
        await insert_requests(
            session,
            [
                # "shared" was sent by U1 (twice, to a), by machine m-1 anonymously (to a) and
                # by U2 (to b): three senders of one client request id.
                request_rows(a1, at=at, user_id=U1, crid="shared"),
                request_rows(a1, at=at, user_id=U1, crid="shared"),
                request_rows(a1, machine_id="m-1", crid="shared", **anon),
                request_rows(b1, at=at, user_id=U2, crid="shared"),
                request_rows(b1, machine_id="m-2", crid="anon-only", **anon),
            ],
        )
        await add_feedback(session, "shared", "up", user_id=U1)
        await add_feedback(session, "shared", "down", machine_id="m-1")
        await add_feedback(session, "shared", "down", user_id=U2)
        # Raters who sent no such request: never counted.
        await add_feedback(session, "shared", "up", user_id=U3)
        await add_feedback(session, "shared", "up", machine_id="m-2")
        await add_feedback(session, "anon-only", "up", machine_id="m-2")
        await add_feedback(session, "anon-only", "down", machine_id="m-1")
        await add_feedback(session, "anon-only", "down", user_id=U1, machine_id="m-2")
        await session.commit()
        rows = by_version(await experiment_stats(session, experiment.id, since=T0))
    a, b = rows[str(a1)], rows[str(b1)]
    assert (a["messages"], a["feedback"]["up"], a["feedback"]["down"]) == (1, 1, 1)
    assert (b["messages"], b["feedback"]["up"], b["feedback"]["down"]) == (2, 1, 1)


async def test_bad_arguments(sessions: Sessions) -> None:
    async with sessions() as session:
        experiment_id, _, _ = await seed_small(session)
        with pytest.raises(NotFound):
            await experiment_stats(session, uuid.uuid4())
        with pytest.raises(Unprocessable):
            await experiment_stats(session, uuid.UUID(experiment_id), since=T0, until=T0)
        with pytest.raises(Unprocessable):
            await experiment_stats(session, uuid.UUID(experiment_id), mode="peeking")  # type: ignore[arg-type]


async def seed_split(session: AsyncSession, a: int, b: int) -> uuid.UUID:
    """A 50/50 experiment with ``a`` and ``b`` unique subjects (2 requests each)."""
    experiment = await make_experiment(session, [("a", 1), ("b", 1)])
    pairs = []
    for variant, count in zip(experiment.variants, (a, b), strict=True):
        for i in range(count):
            ip = f"10.{variant.label}.{i}"
            for _ in range(2):
                pairs.append(
                    request_rows(variant.versions[0].id, at=T0, subject="ip", client_ip=ip)
                )
    await insert_requests(session, pairs)
    await session.commit()
    return experiment.id


@pytest.mark.parametrize(
    ("a", "b", "status"),
    [(600, 400, "mismatch"), (500, 500, "ok"), (7, 7, "insufficient_sample")],
)
async def test_sample_ratio_mismatch(sessions: Sessions, a: int, b: int, status: str) -> None:
    async with sessions() as session:
        experiment_id = await seed_split(session, a, b)
        report = await experiment_stats(session, experiment_id)
    srm = report["srm"]
    assert srm["status"] == status
    assert [s["subjects"] for s in srm["slots"]] == [a, b]
    assert srm["flagged"] is (status == "mismatch")
    if status == "mismatch":
        assert srm["p_value"] < 0.001
        assert report["alerts"] and "SAMPLE RATIO MISMATCH" in report["alerts"][0]
    else:
        assert report["alerts"] == []


async def test_sequential_experiment_compares_versions(sessions: Sessions) -> None:
    async with sessions() as session:
        experiment = await make_experiment(session, [("only", 1)], versions=3)
        v1, v2, v3 = (v.id for v in experiment.variants[0].versions)
        pairs = [request_rows(v1, at=T0, client_ip=f"ip{i}", error=i < 2) for i in range(10)]
        pairs += [request_rows(v2, at=T0 + timedelta(days=1), error=i < 5) for i in range(10)]
        await insert_requests(session, pairs)
        await session.commit()
        report = await experiment_stats(session, experiment.id, mode="fixed_horizon")
    assert report["experiment"]["design"] == "sequential"
    assert report["srm"]["status"] == "not_applicable"
    first, second = report["comparisons"]
    assert first["scope"] == "version"
    assert first["control"]["variant_version_id"] == str(v1)
    assert first["treatment"]["variant_version_id"] == str(v2)
    assert second["treatment"]["variant_version_id"] == str(v3)
    assert first["error_rate"]["difference"] == pytest.approx(0.3)
    assert first["error_rate"]["mode"] == "fixed_horizon"
    assert second["error_rate"]["treatment"]["n"] == 0
    periods = by_version(report)
    assert periods[str(v1)]["effective_until"] == periods[str(v2)]["effective_from"]


async def test_experiment_without_traffic_or_variants(sessions: Sessions) -> None:
    async with sessions() as session:
        empty = await make_experiment(session, [])
        idle = await make_experiment(session, [("only", 1)])
        await session.commit()
        bare = await experiment_stats(session, empty.id)
        quiet = await experiment_stats(session, idle.id)
    assert bare["versions"] == [] and bare["comparisons"] == []
    assert bare["srm"]["status"] == "not_applicable"
    [row] = quiet["versions"]
    assert (row["requests"], row["messages"], row["subjects"], row["error_rate"]) == (0, 0, 0, None)
    assert quiet["comparisons"] == [] and row["total_ms"]["mean"] is None


async def test_no_key_material_in_report_or_reporting_rows(sessions: Sessions) -> None:
    async with sessions() as session:
        experiment_id, _, _ = await seed_small(session)
        report = await experiment_stats(session, uuid.UUID(experiment_id))
        rows = (await session.execute(queries.reporting_select())).mappings().all()
        slots = {
            uuid.UUID(r["variant_version_id"]): uuid.UUID(r["variant_id"])
            for r in report["versions"]
        }
        stats = await queries.version_stats(session, slots, StatsFilter())
    assert len(rows) == 9 and {r["internal_id"] for r in rows} == {"a-rc1", "b-rc1"}
    assert_no_secrets(json.dumps(report))
    assert_no_secrets(json.dumps([dict(r) for r in rows], default=str))
    assert_no_secrets(repr(stats))


def test_interpolation_matches_percentile_cont_definition() -> None:
    values = [1.0, 2.0, 10.0]
    assert interpolate(values, 3, 0.5) == 2.0
    assert interpolate(values, 3, 0.95) == pytest.approx(2.0 + 0.9 * 8.0)
    assert interpolate([7.0], 1, 0.95) == 7.0


@pytest.fixture
def cli_env(
    database_url: str, encryption_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("PREVIEWGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PREVIEWGATE_ENCRYPTION_KEY", encryption_key)
    monkeypatch.setenv("PREVIEWGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PREVIEWGATE_BLOB_URL", f"file://{tmp_path}/cli-blobs")
    return tmp_path / "cli-blobs"


def test_cli_report_wipe_gc(backend: str, database_url: str, cli_env: Path) -> None:
    if backend != "sqlite":
        pytest.skip("the CLI is exercised once, against SQLite")

    async def prepare() -> tuple[str, uuid.UUID, str]:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                experiment_id, _, _ = await seed_small(session)
                mismatch = await seed_split(session, 600, 400)
            orphan = await FolderBlobStore(cli_env).put_if_absent(b"orphan")
        finally:
            await engine.dispose()
        return experiment_id, mismatch, orphan

    experiment_id, mismatch, orphan = asyncio.run(prepare())
    runner = CliRunner()
    table = runner.invoke(report, [experiment_id])
    assert table.exit_code == 0, table.output
    assert "checkpoint" in table.output and "a-rc1" in table.output
    assert "sample-ratio check: insufficient_sample" in table.output
    assert_no_secrets(table.output)

    flagged = runner.invoke(report, [str(mismatch)])
    assert flagged.exit_code == 0, flagged.output
    assert "SAMPLE RATIO MISMATCH" in flagged.output.splitlines()[1]

    as_json = runner.invoke(
        report,
        [experiment_id, "--json", "--fixed-horizon", "--since", T0.isoformat()],
    )
    assert as_json.exit_code == 0, as_json.output
    found = json.loads(as_json.output)
    assert found["inference"]["mode"] == "fixed_horizon"
    assert sum(row["requests"] for row in found["versions"]) == 8

    wiped = runner.invoke(wipe, [experiment_id, "--yes"])
    assert wiped.exit_code == 0 and "wiped 9 attribution row(s)" in wiped.output, wiped.output
    refused = runner.invoke(wipe, [experiment_id], input="n\n")
    assert refused.exit_code != 0
    swept = runner.invoke(gc, ["--grace-s", "0"])
    assert swept.exit_code == 0, swept.output
    assert "scanned=1 deleted=1" in swept.output
    assert not (cli_env / orphan[:2] / orphan[2:4] / orphan).exists()
    bad = runner.invoke(report, [experiment_id, "--since", "yesterday"])
    assert bad.exit_code != 0
