"""The per-process runtime: store, caches, HTTP client, writer. Built once by the app."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from previewgate.accounts import queries as accounts
from previewgate.catalog import queries as catalog
from previewgate.config import Settings
from previewgate.crypto import KeyCipher
from previewgate.evidence.blobs import BlobStore, open_blob_store
from previewgate.evidence.recorder import EvidenceRecorder
from previewgate.experiments import queries as experiments
from previewgate.gateway.http_client import UpstreamClient
from previewgate.loop_lag import LoopLagMonitor
from previewgate.partners.export import Exporter
from previewgate.partners.export_worker import ExportWorker
from previewgate.routing.cache import RoutingCache
from previewgate.routing.change import routing_change
from previewgate.routing.generation import read_generation
from previewgate.routing.keys import Found, MissLimits
from previewgate.routing.snapshot import Snapshot
from previewgate.store.engine import create_engine, session_factory
from previewgate.telemetry.tracing import tracer_provider
from previewgate.usage.writer import UsageWriter
from previewgate.webhooks.delivery import DeliveryWorker, options_from

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.trace import TracerProvider

    from previewgate.gateway.spans import ChatSpans

log = logging.getLogger(__name__)


_frozen = False


def _freeze_startup_objects() -> None:
    """Keep what start-up made (modules, the app, the first snapshot) out of the collector.

    They live as long as the process, yet every full collection rescans them; full passes
    come often because requests' evidence (an answer's merged objects, held until the writer
    stores it) survives into the oldest generation. Measured with ``make bench`` at c=16:
    experimented CPU per request 0.45-0.55 ms without, 0.32-0.44 ms with. Once per process
    (a second freeze would also pin whatever the first runtime left behind).
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def _routing_cache(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], cipher: KeyCipher
) -> RoutingCache:
    """The routing read model, composed from each domain's own rows."""

    async def load(started: float) -> Snapshot:
        async with sessions() as session:
            # Read first: the rows below are at least this new, so a change committed
            # meanwhile shows as a newer generation at the next poll, never as none.
            generation = await read_generation(session)
            rows = await accounts.routing_callers(session)
            return Snapshot(
                loaded_at=started,
                generation=generation,
                models=await catalog.routing_models(session, cipher),
                experiments=await experiments.routing_experiments(session, cipher),
                callers=rows.callers,
                opt_ins=rows.opt_ins,
                funded_users=rows.funded_users,
            )

    async def generation() -> int:
        async with sessions() as session:
            return await read_generation(session)

    async def find_key(key_hash: str) -> Found:
        async with sessions() as session:
            return await accounts.caller_by_key_hash(session, key_hash)

    return RoutingCache(
        load,
        settings.cache_ttl_s,
        read_generation=generation,
        find_key=find_key,
        poll_s=settings.routing_poll_s,
        redis_url=settings.redis_url,
        miss_limits=MissLimits(
            rate_per_s=settings.key_lookup_rate_per_s, burst=settings.key_lookup_burst
        ),
    )


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cipher: KeyCipher
    blobs: BlobStore
    routing: RoutingCache
    writer: UsageWriter
    # Tracing: a provider given by the caller (tests: an in-memory exporter), else the one
    # the OTEL_* variables ask for, else none (`spans` stays None: nothing on the path).
    tracer_provider: TracerProvider | None = field(default=None)
    spans: ChatSpans | None = field(default=None)
    _http: UpstreamClient | None = field(default=None)
    _export: ExportWorker | None = field(default=None)
    _webhooks: DeliveryWorker | None = field(default=None)
    _loop_lag: LoopLagMonitor | None = field(default=None)
    _own_tracing: SdkTracerProvider | None = field(default=None)

    @property
    def http(self) -> UpstreamClient:
        assert self._http is not None, "runtime not started"
        return self._http

    def change(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A transaction for a routing change: see ``routing.change``."""
        return routing_change(self.sessions, self.routing.changed)

    @classmethod
    def build(cls, settings: Settings, tracer_provider: TracerProvider | None = None) -> Runtime:
        engine = create_engine(settings.resolved_database_url)
        sessions = session_factory(engine)
        cipher = KeyCipher(settings.encryption_key_bytes())
        blobs = open_blob_store(settings.resolved_blob_url)
        routing = _routing_cache(settings, sessions, cipher)
        recorder = EvidenceRecorder(blobs, settings.capture_limit_bytes)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            cipher=cipher,
            blobs=blobs,
            routing=routing,
            writer=UsageWriter(
                sessions,
                recorder,
                batch_size=settings.writer_batch_size,
                max_buffer=settings.writer_max_buffer,
                linger_s=settings.writer_linger_s,
                routing_changed=routing.changed,
            ),
            tracer_provider=tracer_provider,
        )

    async def start(self) -> None:
        if not self.cipher.available:
            log.error("PREVIEWGATE_ENCRYPTION_KEY is missing: experimented models will answer 503")
        egress = self.settings.egress
        for scheme, proxy in (("https", egress.https), ("http", egress.http)):
            if proxy is not None:  # host and port only: the URL may hold a password
                log.info("%s upstreams go through the egress proxy %s", scheme, proxy)
        self._http = UpstreamClient(
            self.settings.upstream_connect_timeout_s,
            self.settings.upstream_read_timeout_s,
            egress=egress,
        )
        self._start_tracing()
        await self.routing.start()
        self.writer.start()
        if self.settings.loop_lag_interval_s > 0:
            self._loop_lag = LoopLagMonitor(self.settings.loop_lag_interval_s).start()
        if self.settings.export_worker:
            exporter = Exporter(self.sessions, self.blobs, self.cipher)
            self._export = ExportWorker(
                self.sessions,
                exporter,
                interval_s=self.settings.export_interval_s,
                settle_s=self.settings.export_settle_s,
            )
            self._export.start()
        if self.settings.webhook_worker:
            self._webhooks = DeliveryWorker(self.sessions, self.cipher, options_from(self.settings))
            self._webhooks.start()
        _freeze_startup_objects()

    def _start_tracing(self) -> None:
        provider = self.tracer_provider
        if provider is None:
            provider = self._own_tracing = tracer_provider(self.settings)
        if provider is None:
            return
        from previewgate.gateway.spans import ChatSpans  # loads the OpenTelemetry API

        self.spans = ChatSpans(
            provider.get_tracer("previewgate"),
            capture_content=self.settings.otel_capture_message_content,
        )
        log.info("tracing on (%s)", self.settings.trace_exporter or "provider given")

    async def stop(self) -> None:
        if self._loop_lag is not None:
            await self._loop_lag.stop()
        if self._export is not None:
            await self._export.stop()
        if self._webhooks is not None:
            await self._webhooks.stop()
        await self.writer.stop()
        await self.routing.stop()
        if self._http is not None:
            await self._http.close()
        await self.blobs.close()
        await self.engine.dispose()
        if self._own_tracing is not None:
            # Flushes the last spans; blocking (the exporter's timeout), so off the loop.
            await asyncio.to_thread(self._own_tracing.shutdown)
