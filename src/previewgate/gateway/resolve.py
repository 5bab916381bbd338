"""Public model id -> a RouteDecision, or a refusal. Memory only: no I/O here."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from previewgate import metrics
from previewgate.catalog.upstream import UpstreamSpec
from previewgate.config import Settings
from previewgate.errors import (
    DataCollectionRequired,
    ModelUnavailable,
    NotFound,
    OptInRequired,
    PaymentRequired,
    ServiceUnavailable,
    Unauthorized,
)
from previewgate.experiments.assignment import choose_subject, pick_slot
from previewgate.identity import Identity
from previewgate.routing.snapshot import ExperimentEntry, Snapshot

log = logging.getLogger(__name__)
UNAVAILABLE = "this model is temporarily unavailable; please retry shortly"


@dataclass(frozen=True, slots=True)
class RouteDecision:
    public_id: str
    base_url: str  # the upstream's API base; the path is its format's (or the client's)
    api_key: str | None
    upstream: UpstreamSpec | None  # None: the default upstream, body passed as sent
    price_in: float = 0.0
    price_out: float = 0.0
    # Set only for experimented requests: the place attribution is decided and recorded.
    version_id: uuid.UUID | None = None
    allocation_subject: str | None = None

    @property
    def api_format(self) -> str | None:
        """The upstream's format; None for the default upstream, which speaks every one."""
        return self.upstream.api_format if self.upstream is not None else None

    @property
    def experimented(self) -> bool:
        return self.version_id is not None

    @property
    def kind(self) -> str:
        """How the request is routed: experiment, catalog or default (for logs and spans)."""
        if self.version_id is not None:
            return "experiment"
        return "catalog" if self.upstream is not None else "default"

    @property
    def proxy(self) -> str | None:
        """The upstream's own egress choice; None follows the environment's."""
        return self.upstream.proxy if self.upstream is not None else None

    def credentials(self) -> tuple[str, ...]:
        """The route's key and base URL: never stored, even in what the model wrote."""
        values = [self.api_key] if self.api_key else []
        if self.upstream is not None:
            values.append(self.upstream.base)
        return tuple(values)

    def secrets(self) -> tuple[str, ...]:
        """What an upstream error text must never reveal to the client."""
        if self.upstream is None:
            return (self.api_key,) if self.api_key else ()
        values = [self.upstream.internal_id, self.upstream.base]
        if self.api_key:
            values.append(self.api_key)
        host = self.upstream.base_url.host
        if host:
            values.append(host)
        return tuple(values)


def forbids_data_collection(body: dict[str, Any]) -> bool:
    provider = body.get("provider")
    if not isinstance(provider, dict):
        return False
    return provider.get("data_collection") == "deny" or provider.get("zdr") is True


def _default_route(
    public_id: str, settings: Settings, price_in: float = 0.0, price_out: float = 0.0
) -> RouteDecision:
    """The OpenRouter-style default upstream; the body goes as sent, model id unchanged."""
    assert settings.default_upstream_url is not None
    return RouteDecision(
        public_id=public_id,
        base_url=settings.default_upstream_url,
        api_key=settings.default_upstream_key,
        upstream=None,
        price_in=price_in,
        price_out=price_out,
    )


def resolve_auto(snapshot: Snapshot, settings: Settings) -> str:
    """First configured candidate that is a routable production or default-upstream id."""
    for candidate in settings.auto_candidates:
        if candidate in snapshot.experiments:
            continue
        entry = snapshot.models.get(candidate)
        if entry is not None:
            if entry.kind == "production":
                return candidate
            continue
        if settings.default_upstream_url:
            return candidate
    raise ModelUnavailable("no model is available for 'auto'")


def resolve(
    body: dict[str, Any],
    identity: Identity,
    snapshot: Snapshot | None,
    fresh: bool,
    settings: Settings,
    now: datetime,
) -> RouteDecision:
    if snapshot is None:
        raise ServiceUnavailable(UNAVAILABLE)
    public_id: str = body["model"]
    if public_id == "auto":
        public_id = resolve_auto(snapshot, settings)
    experiment = snapshot.experiments.get(public_id)
    entry = snapshot.models.get(public_id)
    if not fresh and (experiment is not None or entry is None or entry.kind == "preview"):
        # The state is too old to know whether this id is experimented: fail closed.
        raise ServiceUnavailable(UNAVAILABLE)
    if experiment is not None:
        return _route_experiment(experiment, body, identity, snapshot, now)
    if entry is None:
        if settings.default_upstream_url is None:
            raise NotFound(f"model {public_id!r} does not exist", code="model_not_found")
        return _default_route(public_id, settings)
    if entry.key_error:
        log.error("model %s has a key that cannot be decrypted", public_id)
        raise ServiceUnavailable(UNAVAILABLE)
    if entry.kind == "preview" and entry.upstream is None:
        raise ModelUnavailable(f"model {public_id!r} is not available right now")
    if entry.priced:
        if identity.caller is None:
            raise Unauthorized(f"model {public_id!r} requires an API key")
        if identity.caller.user_id not in snapshot.funded_users:
            raise PaymentRequired("insufficient credit balance for this model")
    if entry.upstream is None:
        if settings.default_upstream_url is None:
            raise ModelUnavailable(f"model {public_id!r} has no upstream configured")
        return _default_route(public_id, settings, entry.price_in, entry.price_out)
    return RouteDecision(
        public_id=public_id,
        base_url=entry.upstream.base,
        api_key=entry.api_key,
        upstream=entry.upstream,
        price_in=entry.price_in,
        price_out=entry.price_out,
    )


def _route_experiment(
    experiment: ExperimentEntry,
    body: dict[str, Any],
    identity: Identity,
    snapshot: Snapshot,
    now: datetime,
) -> RouteDecision:
    public_id = experiment.public_id
    if experiment.status == "paused":
        raise ModelUnavailable(f"model {public_id!r} is paused; try again later")
    if experiment.unroutable:
        raise ServiceUnavailable(UNAVAILABLE)
    if forbids_data_collection(body):
        raise DataCollectionRequired(
            f"model {public_id!r} is a preview model that requires data collection: prompts "
            "are retained for experiment analysis. Remove provider.data_collection='deny' / "
            "provider.zdr=true, or choose another model."
        )
    caller = identity.caller
    opt_in_path = f"POST /v1/preview-models/{public_id}/opt-in"
    if caller is None:
        if not experiment.allow_anonymous:
            raise Unauthorized(
                f"model {public_id!r} is a preview model: sign in with an API key and opt in "
                f"with {opt_in_path}"
            )
    elif experiment.require_opt_in:
        model = snapshot.models.get(public_id)
        disclosure_version = model.disclosure_version if model else 0
        if (caller.user_id, public_id, disclosure_version) not in snapshot.opt_ins:
            raise OptInRequired(
                f"model {public_id!r} is a preview model: read its disclosure at "
                f"GET /v1/preview-models/{public_id} and opt in with {opt_in_path}"
            )
    subject = choose_subject(identity.user_id_str, identity.machine_id, identity.client_ip)
    if subject is None:
        metrics.INVARIANT_VIOLATIONS.labels("no_allocation_subject").inc()
        log.error("invariant violated: no allocation subject for experiment %s", experiment.id)
        raise ServiceUnavailable(UNAVAILABLE)
    slot = experiment.slots[pick_slot(experiment.id_str, subject, experiment.weights)]
    version = slot.current(now)
    if version is None:
        log.error("experiment %s slot %s has no effective version", experiment.id, slot.variant_id)
        raise ServiceUnavailable(UNAVAILABLE)
    return RouteDecision(
        public_id=public_id,
        base_url=version.upstream.base,
        api_key=version.api_key,
        upstream=version.upstream,
        version_id=version.id,
        allocation_subject=subject.kind,
    )
