"""`previewgate demo`: a local mock upstream plus the gateway on embedded defaults.

The app, uvicorn and the demo seed are imported when the demo starts: ``--help`` needs none.
"""

from __future__ import annotations

import asyncio

import click

from previewgate.cli.common import prepare_store, settings_or_exit
from previewgate.cli.serve import uvicorn_config_kwargs
from previewgate.config import Settings
from previewgate.telemetry.logs import configure_logging


def _banner(settings: Settings, admin_key: str) -> str:
    from previewgate.demo.seed import DEMO_MODEL, DEMO_PREVIEW

    base = f"http://{settings.host}:{settings.port}"
    return f"""
PreviewGate demo is running at {base}
  admin API key: {admin_key}

Send a first request ({DEMO_MODEL} is priced: the answer's usage.cost is what it cost the
admin's demo credit):
  curl -s {base}/v1/chat/completions -H 'content-type: application/json' \\
    -H 'authorization: Bearer {admin_key}' \\
    -d '{{"model": "{DEMO_MODEL}", "messages": [{{"role": "user", "content": "Hi"}}]}}'

A preview experiment splits machines between two checkpoints (blind: the response never
says which; the demo checkpoints introduce themselves in their reply text):
  for m in laptop-1 laptop-2 laptop-3 laptop-4 laptop-5 laptop-6; do
    curl -s {base}/v1/chat/completions -H 'content-type: application/json' \
      -H "x-kilocode-machineid: $m" \
      -d '{{"model": "{DEMO_PREVIEW}", "messages": [{{"role": "user", "content": "Hi"}}]}}' \
      | python3 -c 'import json,sys; r=json.load(sys.stdin); \
          print(r["model"], "->", r["choices"][0]["message"]["content"])'
  done
Run it twice: each machine stays on its checkpoint.

Stop with Ctrl-C. Data lives in {settings.data_dir.resolve()}.
"""


async def _run_demo(settings: Settings) -> None:
    import uvicorn

    from previewgate.app import PreviewGateApp
    from previewgate.demo.mock_upstream import MockUpstream, serve_mock
    from previewgate.demo.seed import seed_demo, seed_demo_experiment
    from previewgate.runtime import Runtime

    await prepare_store(settings, migrate=True)
    mock_port = settings.port + 1
    mocks = [await serve_mock(MockUpstream(), settings.host, mock_port)]
    checkpoint_bases = []
    for offset, name in ((2, "A"), (3, "B")):
        reply = f"Hello from release candidate {name}. How can I help?"
        mocks.append(await serve_mock(MockUpstream(reply=reply), settings.host, mock_port + offset))
        checkpoint_bases.append(f"http://{settings.host}:{mock_port + offset}/v1")
    runtime = Runtime.build(settings)
    async with runtime.sessions() as session, session.begin():
        seeded = await seed_demo(
            session, runtime.cipher, settings.data_dir, f"http://{settings.host}:{mock_port}/v1"
        )
        await seed_demo_experiment(session, runtime.cipher, checkpoint_bases)
    app = PreviewGateApp(runtime)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            log_config=None,
            **uvicorn_config_kwargs(),
        )
    )
    click.echo(_banner(settings, seeded.admin_key))
    try:
        await server.serve()
    finally:
        for mock in mocks:
            await mock.cleanup()


@click.command()
def demo() -> None:
    """Start a local mock upstream and the gateway on embedded defaults, with demo data."""
    settings = settings_or_exit()
    if not settings.is_embedded:
        raise click.ClickException("the demo runs on embedded defaults (unset DATABASE_URL)")
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(_run_demo(settings))
