"""Everything the hot path needs to decide a route, loaded in one go from the store.

A snapshot is immutable once built; the routing cache swaps whole snapshots, so a
request never sees half of an update.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.accounts.models import ApiKey, PreviewOptIn, User
from previewgate.catalog.models import CatalogModel
from previewgate.catalog.partner_key import partner_key_problem
from previewgate.catalog.upstream import UpstreamSpec
from previewgate.crypto import DecryptionFailed, EncryptionKeyMissing, KeyCipher
from previewgate.experiments.models import ROUTING_STATUSES, Experiment

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Snapshot:
    loaded_at: float
    models: dict[str, ModelEntry] = field(default_factory=dict)
    experiments: dict[str, ExperimentEntry] = field(default_factory=dict)
    callers: dict[str, Caller] = field(default_factory=dict)  # api key hash -> caller
    opt_ins: frozenset[tuple[uuid.UUID, str, int]] = frozenset()
    funded_users: frozenset[uuid.UUID] = frozenset()


def _decrypt(cipher: KeyCipher, sealed: dict[str, str] | None) -> tuple[str | None, bool]:
    if sealed is None:
        return None, False
    try:
        key = cipher.decrypt(sealed)
    except (DecryptionFailed, EncryptionKeyMissing):
        return None, True
    # A key stored before the rule existed (CR/LF, non-ASCII) cannot go into a header.
    if partner_key_problem(key) is not None:
        return None, True
    return key, False


async def load_snapshot(session: AsyncSession, cipher: KeyCipher, loaded_at: float) -> Snapshot:
    models: dict[str, ModelEntry] = {}
    for m in await session.scalars(select(CatalogModel)):
        key, key_error = _decrypt(cipher, m.encrypted_api_key)
        pricing = m.pricing or {}
        models[m.public_id] = ModelEntry(
            public_id=m.public_id,
            kind=m.kind,
            display_name=m.display_name,
            description=m.description,
            context_length=m.context_length,
            upstream=UpstreamSpec.model_validate(m.upstream) if m.upstream else None,
            api_key=key,
            price_in=float(pricing.get("input", 0)),
            price_out=float(pricing.get("output", 0)),
            disclosure_text=m.disclosure_text,
            disclosure_version=m.disclosure_version,
            key_error=key_error,
        )

    experiments: dict[str, ExperimentEntry] = {}
    rows = await session.scalars(select(Experiment).where(Experiment.status.in_(ROUTING_STATUSES)))
    for exp in rows:
        unroutable = False
        slots = []
        for variant in sorted(exp.variants, key=lambda v: v.id):
            versions = []
            for version in sorted(variant.versions, key=lambda v: (v.effective_at, v.id)):
                key, key_error = _decrypt(cipher, version.encrypted_api_key)
                if key is None or key_error:
                    unroutable = True
                    continue
                upstream = UpstreamSpec.model_validate(version.upstream)
                versions.append(VersionEntry(version.id, version.effective_at, upstream, key))
            slots.append(SlotEntry(variant.id, variant.label, variant.weight, tuple(versions)))
        if unroutable:
            log.error("experiment %s has keys that cannot be decrypted; failing closed", exp.id)
        experiments[exp.public_model_id] = ExperimentEntry(
            id=exp.id,
            id_str=str(exp.id),
            public_id=exp.public_model_id,
            status=exp.status,
            require_opt_in=exp.require_opt_in,
            allow_anonymous=exp.allow_anonymous,
            slots=tuple(slots),
            weights=tuple(s.weight for s in slots),
            unroutable=unroutable or not slots,
        )

    callers: dict[str, Caller] = {}
    funded: set[uuid.UUID] = set()
    key_rows = await session.execute(
        select(ApiKey.hash, User.id, User.is_admin, User.balance_microusd)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.revoked_at.is_(None), User.deleted_at.is_(None))
    )
    for key_hash, user_id, is_admin, balance in key_rows:
        callers[key_hash] = Caller(user_id, is_admin)
        if balance > 0:
            funded.add(user_id)
    opt_rows = await session.execute(
        select(PreviewOptIn.user_id, PreviewOptIn.public_model_id, PreviewOptIn.disclosure_version)
    )
    opt_ins = frozenset((u, p, v) for u, p, v in opt_rows)
    return Snapshot(loaded_at, models, experiments, callers, opt_ins, frozenset(funded))
