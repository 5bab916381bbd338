"""The routing read model: everything the hot path needs to decide a route.

Each domain builds its own part from the store (``catalog.queries``, ``experiments.queries``,
``accounts.queries``); ``runtime`` composes them into one Snapshot per load. A snapshot is
never changed once built, with one additive exception: a key seen for the first time and
found in the store is added to ``callers`` (see ``routing.keys``). The cache swaps whole
snapshots, so a request never sees half of an update.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from previewgate.catalog.upstream import UpstreamSpec


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: uuid.UUID
    is_admin: bool


@dataclass(frozen=True, slots=True)
class ModelEntry:
    public_id: str
    kind: str
    display_name: str
    description: str
    context_length: int | None
    upstream: UpstreamSpec | None
    api_key: str | None
    price_in: float  # USD per million input tokens == microUSD per token
    price_out: float
    disclosure_text: str | None
    disclosure_version: int
    key_error: bool = False
    disclosure_shares: bool = False  # accepting it shares turns with the checkpoint's provider

    @property
    def priced(self) -> bool:
        return self.price_in > 0 or self.price_out > 0


@dataclass(frozen=True, slots=True)
class VersionEntry:
    id: uuid.UUID
    effective_at: datetime
    upstream: UpstreamSpec
    api_key: str


@dataclass(frozen=True, slots=True)
class SlotEntry:
    variant_id: uuid.UUID
    label: str
    weight: int
    versions: tuple[VersionEntry, ...]  # ascending by (effective_at, id)

    def current(self, now: datetime) -> VersionEntry | None:
        """Latest version effective at ``now``; ties on effective_at go to the greater id."""
        for version in reversed(self.versions):
            if version.effective_at <= now:
                return version
        return None


@dataclass(frozen=True, slots=True)
class ExperimentEntry:
    id: uuid.UUID
    id_str: str
    public_id: str
    status: str
    require_opt_in: bool
    allow_anonymous: bool
    slots: tuple[SlotEntry, ...]  # ordered by variant id: the assignment order
    weights: tuple[int, ...]
    # True when a key could not be decrypted: fail closed for this experiment.
    unroutable: bool = False


@dataclass(frozen=True, slots=True)
class CallerRows:
    """The accounts part of a snapshot."""

    callers: dict[str, Caller]  # api key hash -> caller
    funded_users: set[uuid.UUID]  # users with a positive balance
    opt_ins: frozenset[tuple[uuid.UUID, str, int]]  # (user, public id, disclosure version)


@dataclass(frozen=True)
class Snapshot:
    loaded_at: float  # monotonic time the load began: the state is at least that fresh
    generation: int = 0  # the store's routing generation when the load began
    models: dict[str, ModelEntry] = field(default_factory=dict)
    experiments: dict[str, ExperimentEntry] = field(default_factory=dict)
    callers: dict[str, Caller] = field(default_factory=dict)  # api key hash -> caller
    opt_ins: frozenset[tuple[uuid.UUID, str, int]] = frozenset()
    funded_users: set[uuid.UUID] = field(default_factory=set)
