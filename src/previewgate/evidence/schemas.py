"""Request and response shapes of the retention admin API."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from previewgate.config import MAX_GC_GRACE_S


class WipeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drop_rows: bool = False


class GcIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_s: float | None = Field(default=None, ge=0, le=MAX_GC_GRACE_S)


class WipeOut(BaseModel):
    experiment_id: uuid.UUID
    drop_rows: bool
    rows: int = Field(description="Attribution rows wiped (or deleted, with drop_rows).")


class GcOut(BaseModel):
    grace_s: float = Field(description="Blobs younger than this many seconds were kept.")
    scanned: int
    deleted: int
    kept_referenced: int
    kept_young: int
