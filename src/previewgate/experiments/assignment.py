"""Deterministic, sticky slot assignment (pure functions).

Seed ``model_exp_{experiment_id}_{subject}_{value}``; sha256 of it; the first 8
bytes as an unsigned big-endian integer modulo the total weight; then a walk of
cumulative weights over the variants in the order of their immutable ids. A
64-bit input makes the modulo bias at most total_weight / 2**64: negligible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

SubjectKind = Literal["user", "machine", "ip"]


@dataclass(frozen=True, slots=True)
class Subject:
    kind: SubjectKind
    value: str


def choose_subject(
    user_id: str | None, machine_id: str | None, client_ip: str | None
) -> Subject | None:
    """First available of authenticated user, machine id, client IP; None when none is known."""
    if user_id:
        return Subject("user", user_id)
    if machine_id:
        return Subject("machine", machine_id)
    if client_ip:
        return Subject("ip", client_ip)
    return None


def bucket_point(experiment_id: str, subject: Subject, total_weight: int) -> int:
    """The subject's point in [0, total_weight)."""
    seed = f"model_exp_{experiment_id}_{subject.kind}_{subject.value}".encode()
    return int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") % total_weight


def pick_slot(experiment_id: str, subject: Subject, weights: Sequence[int]) -> int:
    """Index of the slot (variants ordered by id) that ``subject`` belongs to."""
    point = bucket_point(experiment_id, subject, sum(weights))
    cumulative = 0
    for index, weight in enumerate(weights):
        cumulative += weight
        if point < cumulative:
            return index
    raise ValueError("weights must be positive")  # unreachable for positive weights
