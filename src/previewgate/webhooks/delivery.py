"""The delivery worker: sends due deliveries, records every attempt, retries on a schedule.

* Claims are leases: a claimed delivery is invisible to other workers (``SKIP LOCKED`` on
  PostgreSQL) until ``leased_until``; a worker killed mid-send leaves a lease that expires,
  and the delivery is sent again. Delivery is at least once: receivers dedupe by
  ``webhook-id``, which is the same on every attempt.
* Fairness: each endpoint has at most ``per_endpoint`` sends in flight, and a claim takes
  at most that many per endpoint (oldest first), so a slow or failing endpoint never holds
  up another's deliveries.
* Outcomes: 2xx delivered; 410 disables the endpoint; 429/503 wait ``Retry-After``; other
  failures (3xx included: redirects are not followed) wait the next step of the schedule;
  after the last step the delivery is dead and an operator notice is written. An endpoint
  failing without a success for ``disable_after`` is disabled with a notice.
* Before every attempt the URL's addresses are checked again (``ssrf``) and the connection
  goes to a vetted address only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from previewgate import metrics
from previewgate.config import Settings
from previewgate.crypto import KeyCipher
from previewgate.store.base import utcnow
from previewgate.webhooks import queries, signing
from previewgate.webhooks.models import DEAD, DELIVERED, WebhookDelivery, WebhookEndpoint
from previewgate.webhooks.ssrf import DestinationRefused, check_destination, redirect_refusal

log = logging.getLogger(__name__)
Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

# Delays before attempt 1, 2, ... (Standard Webhooks' usual schedule): immediately, 5 s,
# 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_STEPS_S = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
RESPONSE_PREFIX = 1024
MAX_RETRY_AFTER_S = 86_400.0
GAUGE_EVERY_S = 15.0


@dataclass(frozen=True)
class Schedule:
    steps_s: tuple[float, ...] = DEFAULT_STEPS_S
    jitter: float = 0.1  # each delay is drawn within +-10 %

    def delay_before(self, attempt: int) -> float | None:
        """Seconds to wait before attempt ``attempt`` (0-based); None past the last."""
        if attempt >= len(self.steps_s):
            return None
        base = self.steps_s[attempt]
        return max(0.0, base * (1 + random.uniform(-self.jitter, self.jitter)))


@dataclass
class Result:
    status: int | None = None
    body_prefix: str = ""
    error: str | None = None
    retry_after_s: float | None = None
    latency_ms: int = 0


@dataclass
class WorkerOptions:
    allowed_networks: Sequence[Network] = ()
    schedule: Schedule = field(default_factory=Schedule)
    timeout_s: float = 15.0
    per_endpoint: int = 2
    claim_limit: int = 100
    poll_s: float = 1.0
    lease_s: float = 120.0
    disable_after: timedelta = timedelta(days=5)


class _PinnedResolver(AbstractResolver):
    """Answers with the addresses the SSRF check vetted: no second lookup to rebind."""

    def __init__(self, addresses: Sequence[Address]) -> None:
        self._addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=str(a),
                port=port,
                family=socket.AF_INET6 if a.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for a in self._addresses
        ]

    async def close(self) -> None:
        return None


def _retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def options_from(settings: Settings) -> WorkerOptions:
    """The worker's options as configured (``PREVIEWGATE_WEBHOOK_*``)."""
    return WorkerOptions(
        allowed_networks=settings.webhook_allowed_network_list,
        schedule=Schedule(tuple(settings.webhook_schedule_s), settings.webhook_jitter),
        lease_s=settings.webhook_lease_s,
    )


class DeliveryWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cipher: KeyCipher,
        options: WorkerOptions | None = None,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self.options = options or WorkerOptions()
        self._in_flight: dict[uuid.UUID, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def claim_and_send(self) -> int:
        """One round: claim what is due for endpoints with room, start their sends; how
        many sends started."""
        now = utcnow()
        options = self.options
        async with self._sessions() as session, session.begin():
            claimed = await queries.claim_due(
                session,
                now,
                per_endpoint=options.per_endpoint,
                limit=options.claim_limit,
                in_flight=self._in_flight,
                lease_until=now + timedelta(seconds=options.lease_s),
            )
        for delivery_id, endpoint_id in claimed:
            self._in_flight[endpoint_id] = self._in_flight.get(endpoint_id, 0) + 1
            task = asyncio.create_task(self._deliver(delivery_id, endpoint_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    async def drain(self) -> None:
        """Wait for the sends in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, delivery_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
        try:
            async with self._sessions() as session:
                loaded = await queries.delivery_to_send(session, delivery_id)
            if loaded is None:
                return
            delivery, endpoint, message_body = loaded
            result = await self._send(delivery, endpoint, message_body)
            async with self._sessions() as session, session.begin():
                await self._record(session, delivery_id, result)
        except Exception as exc:  # the lease expires and the delivery is retried
            log.warning("webhook delivery %s failed in the worker: %s", delivery_id, exc)
        finally:
            self._in_flight[endpoint_id] -= 1
            if not self._in_flight[endpoint_id]:
                del self._in_flight[endpoint_id]
            self._wake.set()

    async def _send(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint, body: str
    ) -> Result:
        started = time.perf_counter()
        result = Result()
        try:
            addresses = await check_destination(endpoint.url, self.options.allowed_networks)
        except DestinationRefused as exc:
            result.error = exc.message
            return result
        secrets = [self._cipher.decrypt(endpoint.sealed_secret)]
        now = utcnow()
        expires = endpoint.previous_secret_expires_at
        if endpoint.sealed_previous_secret and expires and expires > now:
            secrets.append(self._cipher.decrypt(endpoint.sealed_previous_secret))
        headers = signing.headers(delivery.message_id, now, body, secrets)
        headers["user-agent"] = "PreviewGate-Webhooks/1"
        connector = aiohttp.TCPConnector(resolver=_PinnedResolver(addresses), force_close=True)
        timeout = aiohttp.ClientTimeout(total=self.options.timeout_s)
        try:
            async with (
                aiohttp.ClientSession(connector=connector, timeout=timeout) as client,
                client.post(
                    endpoint.url, data=body.encode(), headers=headers, allow_redirects=False
                ) as response,
            ):
                prefix = await response.content.read(RESPONSE_PREFIX)
                result.status = response.status
                result.body_prefix = prefix.decode("utf-8", "replace")
                result.error = redirect_refusal(response.status)
                if response.status in (429, 503):
                    result.retry_after_s = _retry_after(response.headers.get("retry-after"), now)
        except TimeoutError:
            result.error = f"timed out after {self.options.timeout_s:g} s"
        except aiohttp.ClientError as exc:
            result.error = f"{type(exc).__name__}: {exc}"[:400]
        finally:
            result.latency_ms = int((time.perf_counter() - started) * 1000)
        return result

    async def _record(self, session: AsyncSession, delivery_id: uuid.UUID, result: Result) -> None:
        now = utcnow()
        loaded = await queries.delivery_for_update(session, delivery_id)
        if loaded is None:
            return
        delivery, endpoint = loaded
        queries.add_attempt(session, delivery_id, now, result)
        delivery.attempts += 1
        delivery.leased_until = None
        delivery.updated_at = now
        ok = result.status is not None and 200 <= result.status < 300 and result.error is None
        metrics.WEBHOOK_ATTEMPTS.labels("success" if ok else "failure").inc()
        metrics.WEBHOOK_LATENCY.observe(result.latency_ms / 1000)
        if ok:
            delivery.status = DELIVERED
            delivery.next_attempt_at = None
            endpoint.failing_since = None
            metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
            return
        if result.status == 410:
            await queries.disable_endpoint(session, endpoint, "the receiver answered 410 Gone")
            delivery.status = DEAD
            delivery.next_attempt_at = None
            metrics.WEBHOOK_DELIVERIES.labels("dead").inc()
            return
        endpoint.failing_since = endpoint.failing_since or now
        if now - endpoint.failing_since >= self.options.disable_after:
            days = self.options.disable_after.total_seconds() / 86400
            await queries.disable_endpoint(session, endpoint, f"failing for {days:g} days")
        delay = self.options.schedule.delay_before(delivery.attempts)
        if result.retry_after_s is not None and delay is not None:
            delay = result.retry_after_s
        if delay is None:
            delivery.status = DEAD
            delivery.next_attempt_at = None
            metrics.WEBHOOK_DELIVERIES.labels("dead").inc()
            await queries.notice(
                session,
                "webhook_dead_letter",
                f"message {delivery.message_id} to endpoint {endpoint.id} is dead after "
                f"{delivery.attempts} attempts (last: {result.status or result.error})",
                endpoint.partner_id,
            )
            return
        delivery.next_attempt_at = now + timedelta(seconds=delay)

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="webhook-worker")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def export_gauges(self) -> None:
        """Endpoint states and the backlog on ``/metrics`` (one grouped count each)."""
        async with self._sessions() as session:
            endpoints, deliveries = await queries.state_counts(session)
        for state, n in endpoints.items():
            metrics.WEBHOOK_ENDPOINTS.labels(state).set(n)
        for status, n in deliveries.items():
            metrics.WEBHOOK_BACKLOG.labels(status).set(n)

    async def _loop(self) -> None:
        counted = 0.0
        while True:
            try:
                await self.claim_and_send()
                if time.monotonic() - counted >= GAUGE_EVERY_S:
                    counted = time.monotonic()
                    await self.export_gauges()
            except Exception as exc:
                log.warning("webhook claim failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.options.poll_s)
            self._wake.clear()
