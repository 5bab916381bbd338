"""CLI tables: `report` (clipped intervals labelled), `experiments list`, `models list`."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from previewgate.cli.common import table
from previewgate.cli.main import cli
from previewgate.store.engine import create_engine, session_factory
from tests.reporting.fixtures import T0, insert_requests, make_experiment, request_rows


@pytest.fixture
def env(database_url: str, encryption_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PREVIEWGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PREVIEWGATE_ENCRYPTION_KEY", encryption_key)
    monkeypatch.setenv("PREVIEWGATE_DATA_DIR", str(tmp_path / "data"))
    return database_url


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def assert_aligned(lines: list[str]) -> None:
    """Header, rule, rows: no cell crosses the gap between two columns of the rule."""
    header, rule, *rows = lines
    gaps = [i for i, ch in enumerate(rule) if ch == " "]
    assert gaps, rule
    for line in (header, *rows):
        assert len(line) <= len(rule), (line, rule)
        assert all(line[i] == " " for i in gaps if i < len(line)), (line, rule)


def tables(output: str) -> list[list[str]]:
    """Every table in ``output``: the line above each rule line, the rule, and its rows."""
    lines = output.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("---") and set(line) <= {"-", " "}:
            end = next((j for j in range(i + 1, len(lines)) if not lines[j].strip()), len(lines))
            rows = [r for r in lines[i + 1 : end] if not r.startswith("(")]
            found.append([lines[i - 1], line, *rows])
    return found


async def _seed(url: str) -> uuid.UUID:
    """A two-slot experiment with a few requests: too few for tight intervals."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            exp = await make_experiment(session, [("control", 1), ("candidate-long-label", 1)])
            pairs = []
            for slot, errors in zip(exp.variants, (1, 2), strict=True):
                for i in range(4):
                    pairs.append(
                        request_rows(
                            slot.versions[0].id,
                            at=T0 + timedelta(minutes=i),
                            user_id=uuid.uuid4(),
                            error=i < errors,
                            ttfb=20 + i,
                            total=[5, 6, 900, 4000][i],
                            tokens=(10, 3 + 100 * i),
                        )
                    )
            await insert_requests(session, pairs)
            return exp.id
    finally:
        await engine.dispose()


def test_report_clips_and_labels_intervals_in_aligned_tables(env: str) -> None:
    experiment_id = str(asyncio.run(_seed(env)))
    page = run("report", experiment_id)
    versions, comparisons = tables(page)
    for found in (versions, comparisons):
        assert_aligned(found)
    assert comparisons[0].split() == [
        "comparison",
        "metric",
        "diff",
        "95%",
        "interval",
        "p",
        "note",
    ]
    [error_rate] = [row for row in comparisons[2:] if " error_rate " in row]
    assert "[-100.0% (clipped), 100.0% (clipped)]" in error_rate
    assert "\n(diff = treatment - control; a bound marked (clipped) lay beyond" in page
    assert "-1" not in error_rate.replace("-100.0%", "")  # nothing beyond the range

    report = json.loads(run("report", experiment_id, "--json"))
    [comparison] = report["comparisons"]
    interval = comparison["error_rate"]["interval"]
    assert interval == {"lower": -1.0, "upper": 1.0, "lower_clipped": True, "upper_clipped": True}
    for arm in ("control", "treatment"):
        latency = comparison["total_ms_mean"][arm]["interval"]
        assert latency["lower"] == 0.0 and latency["lower_clipped"] is True
        rate = comparison["error_rate"][arm]["interval"]
        assert 0 <= rate["lower"] <= rate["upper"] <= 1 and not rate["upper_clipped"]
    for row in report["versions"]:
        wilson = row["error_rate_interval"]
        assert 0 <= wilson["lower"] <= wilson["upper"] <= 1


def test_experiments_and_models_lists_line_up(env: str) -> None:
    asyncio.run(_seed(env))
    asyncio.run(_seed(env))
    run("models", "add", "x/a-much-longer-production-model-id", "--price-in", "0.5")
    experiments = run("experiments", "list").splitlines()
    assert experiments[0].split() == ["id", "status", "model", "variants", "archived", "name"]
    assert len(experiments) == 4
    assert_aligned(experiments)
    models = run("models", "list").splitlines()
    assert len(models) == 5 and models[-1].split()[3] == "0.5"  # sorted by id
    assert_aligned(models)


def test_table_right_aligns_numbers() -> None:
    lines = table(("name", "n"), [["a", "5"], ["bbbb", "12345"]], right={1})
    assert lines == ["name      n", "----  -----", "a         5", "bbbb  12345"]
