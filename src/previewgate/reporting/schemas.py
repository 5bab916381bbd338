"""Response shapes of the reporting admin API: the stats report and the request browser.

The report's comparisons reuse the result types of ``inference`` as they are; ids are
UUIDs and timestamps the isoformat() strings the service writes (``+00:00``).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from previewgate.reporting.figures import Subject
from previewgate.reporting.inference import Interval, MeanComparison, Mode, RateComparison


class SlotSummary(BaseModel):
    variant_id: uuid.UUID
    label: str
    weight: int


class ExperimentSummary(BaseModel):
    id: uuid.UUID
    name: str
    public_model_id: str
    status: str
    design: Literal["sequential", "parallel"]
    control_variant_id: uuid.UUID | None = Field(description="The first slot by id.")
    slots: list[SlotSummary]


class StatsFilters(BaseModel):
    since: str | None
    until: str | None
    allocation_subject: Subject | None


class InferenceInfo(BaseModel):
    mode: Mode
    alpha: float
    description: str


class SrmSlot(BaseModel):
    variant_id: uuid.UUID
    variant_label: str
    weight: int
    subjects: int
    expected: float


class SrmChecked(BaseModel):
    """The sample-ratio check of a parallel experiment (chi-square goodness of fit)."""

    status: Literal["ok", "mismatch", "insufficient_sample"]
    flagged: bool
    chi2: float | None
    p_value: float | None
    df: int
    threshold: float
    observed: list[int]
    expected: list[float]
    slots: list[SrmSlot]
    message: str | None


class SrmNotApplicable(BaseModel):
    """A sequential (one-slot) experiment has no split to check."""

    status: Literal["not_applicable"]
    flagged: Literal[False]
    slots: list[SrmSlot]
    message: None


class Percentiles(BaseModel):
    p50: float | None
    p95: float | None


class Latency(Percentiles):
    mean: float | None


class Tokens(BaseModel):
    sum: int
    mean: float | None


class FeedbackFigures(BaseModel):
    up: int
    down: int
    up_rate: float | None
    up_rate_interval: Interval | None


class VersionRow(BaseModel):
    """One checkpoint version's figures; latency and tokens describe successful requests."""

    variant_id: uuid.UUID
    variant_label: str
    variant_version_id: uuid.UUID
    internal_id: str | None
    base_url: str | None
    effective_from: str | None
    effective_until: str | None
    requests: int
    errors: int
    error_rate: float | None
    error_rate_interval: Interval | None
    messages: int
    subjects: int
    ttfb_ms: Percentiles
    total_ms: Latency
    input_tokens: Tokens
    output_tokens: Tokens
    feedback: FeedbackFigures
    small_sample: bool


class SlotRef(BaseModel):
    variant_id: uuid.UUID
    variant_label: str


class VersionRef(SlotRef):
    variant_version_id: uuid.UUID
    internal_id: str | None


class Comparison(BaseModel):
    """Sequential experiments (scope ``version``): a later checkpoint against the slot's
    first one. Parallel ones (scope ``slot``): a slot against the control slot, each
    pooling its versions."""

    scope: Literal["version", "slot"]
    # A version is referred to with its checkpoint, a slot without.
    control: VersionRef | SlotRef
    treatment: VersionRef | SlotRef
    error_rate: RateComparison
    up_rate: RateComparison
    total_ms_mean: MeanComparison
    output_tokens_mean: MeanComparison


Srm = Annotated[SrmChecked | SrmNotApplicable, Field(discriminator="status")]


class StatsReport(BaseModel):
    experiment: ExperimentSummary
    filters: StatsFilters
    inference: InferenceInfo
    alerts: list[str] = Field(description="A sample ratio mismatch, when there is one.")
    srm: Srm
    versions: list[VersionRow]
    comparisons: list[Comparison]
    caveats: list[str]
    generated_at: str


class RequestRow(BaseModel):
    """One experimented request: usage fields and prompt/response hashes, never a key."""

    usage_id: uuid.UUID
    created_at: str
    experiment_id: uuid.UUID
    variant_id: uuid.UUID
    variant_label: str
    variant_version_id: uuid.UUID
    internal_id: str | None
    base_url: str | None
    allocation_subject: str
    client_request_id: str | None
    user_id: uuid.UUID | None
    machine_id: str | None
    session_id: str | None
    status_code: int
    has_error: bool
    error_kind: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    ttfb_ms: int | None
    total_ms: int
    streamed: bool
    system_prompt_sha256: str
    request_body_sha256: str
    response_sha256: str
    was_truncated: bool


class RequestPage(BaseModel):
    data: list[RequestRow] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as cursor for the next page.")
