"""Migrate and seed the benchmark's store: every `previewgate` command in one process.

    python bench/seed.py UPSTREAM_JSON PROD_MODEL PREVIEW_MODEL USER_EMAIL

Run with the gateway's environment; prints the user's API key. Each command run
on its own would spend ~2 s importing the app; eight of them dominated the start-up.
Seeds a production model and a preview id with an active 1:1 experiment between
two slots, all on the upstream ``UPSTREAM_JSON`` (key from ``$BENCH_UPSTREAM_KEY``).
"""

from __future__ import annotations

import sys

from click.testing import CliRunner

from previewgate.cli.main import cli


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    if result.exit_code != 0:
        detail = result.output + (f"\n{result.exception!r}" if result.exception else "")
        sys.exit(f"previewgate {' '.join(args)} failed ({result.exit_code}):\n{detail}")
    return result.stdout


def main(argv: list[str]) -> int:
    upstream, prod, preview, user = argv
    key = ("--api-key-env", "BENCH_UPSTREAM_KEY")
    run("migrate")
    run("models", "add", prod, "--kind", "production", "--upstream", upstream, *key)
    run("models", "add", preview, "--kind", "preview")
    create = ("experiments", "create", preview, "--name", "bench", "--no-require-opt-in")
    experiment_id = run(*create).split()[-1]
    for label in ("rc-a", "rc-b"):
        run("experiments", "add-variant", experiment_id, label, "--upstream", upstream, *key)
    run("experiments", "activate", experiment_id)
    # Real clients authenticate, so the key lookup is part of the measured path.
    print(run("users", "create", user).split()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
