"""Trace export: a partner's turns of one UTC day as gzip JSONL files in the blob store.

Files (object keys under the blob store):

* ``partner/{partner_id}/traces/{day}/{session_hash}.jsonl.gz``: one line per turn, in time
  order; ``session_hash`` is an HMAC of the client's session id with the partner's secret
  (``no-session`` for turns sent without one);
* ``partner/{partner_id}/feedback/{day}.jsonl.gz``: the ratings of those turns;
* ``partner/{partner_id}/traces/{day}/manifest.jsonl``: one line per file above, with its
  sha256, size, records and the capture fidelity counts.

A line holds ``messages`` in the OpenAI/TRL chat shape (the request's messages and the
assistant's answer, tool calls included), ``tools`` when the request had them, and metadata
named after the OpenTelemetry GenAI attributes. Every string has gone through the redactor
with the partner's key. Ids are HMACs with the partner's secret: stable for the partner,
not joinable across partners. A re-export of a day writes the same bytes (sorted keys,
gzip without a timestamp) and replaces the day's index rows.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from previewgate.crypto import KeyCipher
from previewgate.evidence.blobs import BlobStore, BlobStoreError
from previewgate.evidence.models import DELETED, FAILED, SENTINELS
from previewgate.partners import export_queries as queries
from previewgate.partners.export_queries import TurnRow
from previewgate.partners.ids import keyed_id
from previewgate.partners.models import ExportFile, Partner
from previewgate.partners.service import get_partner, partner_secret
from previewgate.redaction import REDACTOR_VERSION, redact, redact_json
from previewgate.usage.ids import response_id
from previewgate.webhooks import events

SEMCONV_VERSION = "1.37.0"  # the OpenTelemetry GenAI semantic conventions the names follow
NO_SESSION = "no-session"
MANIFEST = "manifest.jsonl"
# Message fields a partner receives; anything else a client sent stays with us.
MESSAGE_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id")
TOOL_CALL_FIELDS = ("id", "type", "function")
PREFETCH = 64  # turns whose blobs are read together
PARSED_BLOBS = 4 * PREFETCH  # a chunk's blobs stay parsed until its turns are written


def _gzip(lines: list[bytes]) -> bytes:
    # mtime=0 and no file name: the same lines give the same bytes on every run.
    return gzip.compress(b"".join(lines), compresslevel=6, mtime=0)


def _dumps(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) + b"\n"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pick(doc: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {k: doc[k] for k in names if isinstance(doc, dict) and k in doc}


def _message(raw: Any) -> dict[str, Any]:
    message = _pick(raw, MESSAGE_FIELDS)
    if isinstance(message.get("tool_calls"), list):
        message["tool_calls"] = [_pick(c, TOOL_CALL_FIELDS) for c in message["tool_calls"]]
    return message


def _answer(response: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The assistant message of the first choice and its finish reason."""
    choices = response.get("choices") if isinstance(response, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None, None
    message = _message(choices[0].get("message") or {})
    message["role"] = "assistant"
    reason = choices[0].get("finish_reason")
    return message, reason if isinstance(reason, str) else None


@dataclass
class SessionFile:
    session_hash: str | None  # None: the day's feedback file
    lines: list[bytes] = field(default_factory=list)
    truncated: int = 0
    wiped: int = 0
    failed: int = 0


@dataclass
class DayExport:
    partner_id: uuid.UUID
    day: date
    files: list[ExportFile] = field(default_factory=list)
    # Files of the previous export that this one no longer has (a session whose turns were
    # all wiped or withdrawn): deleted once the new index is committed.
    stale: set[str] = field(default_factory=set)

    @property
    def turns(self) -> int:
        return sum(f.records for f in self.files if f.kind == "traces")


class Exporter:
    """Writes one partner's day; ``export_day`` is safe to repeat and to interrupt."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], blobs: BlobStore, cipher: KeyCipher
    ) -> None:
        self.sessions = sessions
        self.blobs = blobs
        self._cipher = cipher
        self._parsed: OrderedDict[str, Any] = OrderedDict()

    async def export_day(
        self, partner_ref: uuid.UUID | str, day: date, index: AsyncSession | None = None
    ) -> DayExport:
        """Write the day's files, then replace its index rows: in ``index`` (the caller's
        transaction, which holds the day's claim) or in a transaction of its own."""
        start = datetime.combine(day, time(), tzinfo=UTC)
        async with self.sessions() as session:
            partner = await get_partner(session, partner_ref)
            secret = partner_secret(self._cipher, partner)
            result = DayExport(partner.id, day)
            feedback_lines: list[bytes] = []
            async for file in self._session_files(session, partner, secret, start):
                feedback_lines += await self._rate(session, secret, file)
                key = _object_key(partner, day, f"{file.session_hash}.jsonl.gz")
                await self._write(result, "traces", key, file)
            if feedback_lines:
                key = f"partner/{partner.id}/feedback/{day.isoformat()}.jsonl.gz"
                await self._write(result, "feedback", key, SessionFile(None, feedback_lines))
            await self._write_manifest(result, partner, day)
        if index is not None:
            await self._index(index, result, partner)
            return result  # the caller deletes the stale files after its commit
        async with self.sessions() as session, session.begin():
            await self._index(session, result, partner)
        await self.delete_stale(result)
        return result

    async def _index(self, session: AsyncSession, result: DayExport, partner: Partner) -> None:
        """Replace the day's index rows with the new files, noting the ones that went."""
        previous = await queries.day_object_keys(session, result.partner_id, result.day)
        result.stale = previous - {f.object_key for f in result.files}
        await queries.replace_files(session, partner.id, result.day, result.files)
        # In the same transaction: the partner hears of the files exactly when they are indexed.
        await events.export_ready(
            session,
            partner.id,
            result.day,
            _object_key(partner, result.day, MANIFEST),
            [(f.kind, f.bytes, f.records) for f in result.files],
        )

    async def delete_stale(self, result: DayExport) -> None:
        """After the new index is committed, so an indexed file is never missing."""
        for key in sorted(result.stale):
            await self.blobs.delete_named(key)

    async def _session_files(
        self, session: AsyncSession, partner: Partner, secret: bytes, start: datetime
    ) -> AsyncIterator[_Pending]:
        current: _Pending | None = None
        redacted = _Redacted(secret)
        turns = queries.partner_turns(session, partner.id, start, start + timedelta(1))
        async for chunk in _chunks(turns, PREFETCH):
            # Blob reads are thread hops: a chunk's run side by side, not one after another.
            await asyncio.gather(
                *(
                    self._load(sha)
                    for sha in {t.request_sha256 for t in chunk}
                    | {t.response_sha256 for t in chunk}
                )
            )
            for turn in chunk:
                key = turn.session_id or ""
                if current is None or current.key != key:
                    if current is not None:
                        yield current
                    name = keyed_id(secret, "session", key) if key else NO_SESSION
                    current = _Pending(key=key, session_hash=name)
                await self._add_turn(current, turn, redacted)
        if current is not None:
            yield current

    async def _add_turn(self, file: _Pending, turn: TurnRow, redacted: _Redacted) -> None:
        if DELETED in (turn.request_sha256, turn.response_sha256):
            file.wiped += 1
            return
        request = await self._load(turn.request_sha256)
        response = await self._load(turn.response_sha256)
        if request is None or response is _FAILED_BLOB:
            file.failed += 1
            return
        file.turns.append((turn.usage_id, turn.client_request_id))
        file.truncated += turn.was_truncated
        file.docs.append(_line(turn, request, response, redacted))

    async def _load(self, sha256: str) -> Any:
        """The parsed blob; None when absent (no answer) and ``_FAILED_BLOB`` when it was
        not stored or cannot be read."""
        if sha256 == FAILED:
            return _FAILED_BLOB
        if sha256 in SENTINELS:
            return None
        found = self._parsed.get(sha256, _MISSING)
        if found is not _MISSING:
            self._parsed.move_to_end(sha256)
            return found
        try:
            data = await self.blobs.get(sha256)
        except BlobStoreError:
            return _FAILED_BLOB
        if data is None:
            return _FAILED_BLOB
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            return _FAILED_BLOB
        # Content-addressed: a hash always names the same bytes, so a parse can be reused
        # (turns of one conversation often share their system prompt blob).
        self._parsed[sha256] = parsed
        if len(self._parsed) > PARSED_BLOBS:
            self._parsed.popitem(last=False)
        return parsed

    async def _rate(self, session: AsyncSession, secret: bytes, file: _Pending) -> list[bytes]:
        """Put each turn's latest rating into its line, serialise the session's lines, and
        return the lines of the feedback file for these turns."""
        by_usage = {usage_id: index for index, (usage_id, _) in enumerate(file.turns)}
        by_message: dict[str, list[int]] = {}
        for index, (_, crid) in enumerate(file.turns):
            if crid:
                by_message.setdefault(crid, []).append(index)
        feedback = []
        for found in await queries.ratings(session, list(by_usage), list(by_message)):
            if found.usage_id is not None:
                targets = [by_usage[found.usage_id]] if found.usage_id in by_usage else []
            else:
                targets = by_message.get(found.client_request_id or "", [])
            text = redact(found.comment, hash_key=secret)[0] if found.comment else None
            for index in targets:  # ratings come oldest first: the last one stays
                file.docs[index]["metadata"]["previewgate.feedback.rating"] = found.rating
                feedback.append(
                    _dumps(
                        {
                            "turn_id": file.docs[index]["turn_id"],
                            "session_id": file.docs[index]["session_id"],
                            "rating": found.rating,
                            "comment": text,
                            "scope": "response" if found.usage_id is not None else "message",
                            "time": _iso(found.created_at),
                            "redactor_version": REDACTOR_VERSION,
                        }
                    )
                )
        file.lines = [_dumps(doc) for doc in file.docs]
        return feedback

    async def _write(self, result: DayExport, kind: str, key: str, file: SessionFile) -> None:
        data = _gzip(file.lines)
        await self.blobs.put_named(key, data)
        result.files.append(
            ExportFile(
                partner_id=result.partner_id,
                day=result.day,
                kind=kind,
                session_hash=file.session_hash,
                object_key=key,
                bytes=len(data),
                records=len(file.lines),
                sha256=hashlib.sha256(data).hexdigest(),
                redactor_version=REDACTOR_VERSION,
                truncated=file.truncated,
                wiped=file.wiped,
                failed=file.failed,
            )
        )

    async def _write_manifest(self, result: DayExport, partner: Partner, day: date) -> None:
        key = _object_key(partner, day, MANIFEST)
        lines = [
            _dumps(
                {
                    "object_key": f.object_key,
                    "kind": f.kind,
                    "sha256": f.sha256,
                    "bytes": f.bytes,
                    "records": f.records,
                    "truncated": f.truncated,
                    "wiped": f.wiped,
                    "failed": f.failed,
                    "redactor_version": f.redactor_version,
                }
            )
            for f in result.files
        ]
        await self.blobs.put_named(key, b"".join(lines))


_FAILED_BLOB = object()


def _object_key(partner: Partner, day: date, name: str) -> str:
    """Where a file of the partner's traces of ``day`` lives in the blob store."""
    return f"partner/{partner.id}/traces/{day.isoformat()}/{name}"


@dataclass
class _Pending(SessionFile):
    key: str = ""
    turns: list[tuple[uuid.UUID, str | None]] = field(default_factory=list)
    docs: list[dict[str, Any]] = field(default_factory=list)


class _Redacted:
    """Redaction by value, remembered: an agent's session resends the same system prompt,
    tools and history on every turn, so each distinct value is redacted once per export.
    ``redact_json`` is pure, so a remembered result is exactly what it would give again.
    Results are shared between lines and never changed."""

    def __init__(self, secret: bytes, size: int = 4096) -> None:
        self.secret = secret
        self._size = size
        self._done: OrderedDict[bytes, Any] = OrderedDict()

    def __call__(self, value: Any) -> Any:
        key = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        found = self._done.get(key, _MISSING)
        if found is not _MISSING:
            self._done.move_to_end(key)
            return found
        result = redact_json(value, hash_key=self.secret)[0]
        self._done[key] = result
        if len(self._done) > self._size:
            self._done.popitem(last=False)
        return result


_MISSING = object()


async def _chunks(rows: AsyncIterator[TurnRow], size: int) -> AsyncIterator[list[TurnRow]]:
    chunk: list[TurnRow] = []
    async for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _line(turn: TurnRow, request: Any, response: Any, redacted: _Redacted) -> dict[str, Any]:
    body = request if isinstance(request, dict) else {}
    raw_messages = body.get("messages")
    messages = [_message(m) for m in raw_messages] if isinstance(raw_messages, list) else []
    answer, finish_reason = _answer(response) if response is not None else (None, None)
    if answer is not None:
        messages.append(answer)
    secret = redacted.secret
    line: dict[str, Any] = {
        "turn_id": keyed_id(secret, "turn", str(turn.usage_id)),
        "session_id": keyed_id(secret, "session", turn.session_id) if turn.session_id else None,
        "time": _iso(turn.created_at),
        "messages": [redacted(m) for m in messages],
        "tools": redacted(body["tools"]) if isinstance(body.get("tools"), list) else None,
        "metadata": {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": str(turn.upstream.get("internal_id", "")),
            "gen_ai.response.id": response_id(turn.usage_id),
            "gen_ai.response.finish_reasons": [finish_reason] if finish_reason else [],
            "gen_ai.usage.input_tokens": turn.input_tokens,
            "gen_ai.usage.output_tokens": turn.output_tokens,
            "gen_ai.usage.cache_read.input_tokens": turn.cached_tokens,
            "error.type": turn.error_kind,
            "http.response.status_code": turn.status_code,
            "previewgate.latency_ms": turn.total_ms,
            "previewgate.ttft_ms": turn.ttfb_ms,
            "previewgate.streamed": turn.streamed,
            "previewgate.slot_label": turn.slot_label,
            "previewgate.version_id": str(turn.version_id),
            "previewgate.capture_truncated": turn.was_truncated,
            "previewgate.feedback.rating": None,
            "previewgate.redactor_version": REDACTOR_VERSION,
            "semconv_version": SEMCONV_VERSION,
        },
    }
    return line
