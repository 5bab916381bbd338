"""Unit tests for previewgate.sse: the one SSE parser of the relays and the evidence.

Pure functions and classes, no I/O. Property tests feed the same bytes with arbitrary split
points (including a CRLF split between its CR and its LF) and check that nothing depends on
where the network happened to cut the stream.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from previewgate.sse import (
    DONE,
    Invalid,
    SseEvents,
    SseLines,
    SseTooLarge,
    data_payload,
    loads_exact,
    strip_line_end,
)

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    database=None,  # no .hypothesis folder in the work tree
    suppress_health_check=[HealthCheck.too_slow],
)
HEAVY = settings(PROPERTY, max_examples=60)  # recursive values: fewer, bigger examples
EOLS = (b"\n", b"\r", b"\r\n")


# --- helpers ---------------------------------------------------------------------------


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def feed_lines(splitter: SseLines, pieces: list[bytes]) -> list[tuple[bytes, list[bytes]]]:
    """Every ``(lead, lines)`` result, then ``(b"", finish())``."""
    out = [splitter.feed(piece) for piece in pieces]
    out.append((b"", splitter.finish()))
    return out


def flat(results: list[tuple[bytes, list[bytes]]]) -> bytes:
    return b"".join(lead + b"".join(lines) for lead, lines in results)


def logical_lines(results: list[tuple[bytes, list[bytes]]]) -> list[bytes]:
    """Lines with a CRLF split between feeds put back together (the lead joins its CR)."""
    lines: list[bytes] = []
    for lead, new in results:
        if lead:
            assert lines and lines[-1].endswith(b"\r"), "a lead must complete a CR line"
            lines[-1] += lead
        lines.extend(new)
    return lines


def crlf_cuts(data: bytes) -> list[int]:
    """Cut positions that fall between the CR and the LF of a CRLF."""
    return [i for i in range(1, len(data)) if data[i - 1 : i + 1] == b"\r\n"]


def events_of(pieces: list[bytes], **kwargs: Any) -> list[Any]:
    parser = SseEvents(**kwargs)
    out: list[Any] = []
    for piece in pieces:
        out.extend(parser.feed(piece))
    out.extend(parser.finish())
    return out


def norm(events: list[Any]) -> list[Any]:
    """Comparable events: `Invalid` has no equality of its own."""
    return [("invalid", e.payload) if isinstance(e, Invalid) else e for e in events]


@st.composite
def data_and_cuts(draw: st.DrawFn, data: st.SearchStrategy[bytes]) -> tuple[bytes, list[int]]:
    raw = draw(data)
    cuts = draw(st.lists(st.integers(0, len(raw)), max_size=12))
    # Always try some CRLF splits too: they are the interesting case for the lead.
    crlf = crlf_cuts(raw)
    if crlf:
        cuts += draw(st.lists(st.sampled_from(crlf), max_size=3))
    return raw, sorted(cuts)


# Bytes with plenty of line ends (in every style) and repeated CRs and LFs.
LINE_BYTES = st.lists(
    st.sampled_from([b"a", b"data: x", b"\xff\x00", b"\n", b"\r", b"\r\n", b"\r\r", b"\n\r"])
    | st.binary(max_size=6),
    max_size=20,
).map(b"".join)


# --- SseLines: line ends and exact bytes -----------------------------------------------


@pytest.mark.parametrize("eol", EOLS)
def test_lines_keep_their_terminator(eol: bytes) -> None:
    lines = SseLines()
    assert lines.feed(b"one" + eol + b"two" + eol + b"thr") == (b"", [b"one" + eol, b"two" + eol])
    assert lines.feed(b"ee") == (b"", [])
    assert lines.finish() == [b"three"]
    assert lines.finish() == []


def test_mixed_line_ends_in_one_chunk() -> None:
    _, lines = SseLines().feed(b"a\nb\rc\r\nd\n\re\r\r\n")
    assert lines == [b"a\n", b"b\r", b"c\r\n", b"d\n", b"\r", b"e\r", b"\r\n"]


def test_crlf_split_between_cr_and_lf() -> None:
    lines = SseLines()
    assert lines.feed(b"data: 1\r") == (b"", [b"data: 1\r"])
    # The LF completes the CRLF: raw bytes handed back, but no (blank) line of its own.
    assert lines.feed(b"\ndata: 2\r\n") == (b"\n", [b"data: 2\r\n"])
    assert lines.feed(b"\r") == (b"", [b"\r"])
    assert lines.feed(b"\n") == (b"\n", [])
    assert lines.feed(b"\n") == (b"", [b"\n"])  # a second LF is a blank line
    assert lines.finish() == []


def test_cr_then_empty_chunk_then_lf() -> None:
    lines = SseLines()
    assert lines.feed(b"x\r") == (b"", [b"x\r"])
    assert lines.feed(b"") == (b"", [])
    assert lines.feed(b"\ny") == (b"\n", [])
    assert lines.finish() == [b"y"]


def test_cr_then_other_byte_is_not_a_lead() -> None:
    lines = SseLines()
    assert lines.feed(b"x\r") == (b"", [b"x\r"])
    assert lines.feed(b"y\n") == (b"", [b"y\n"])


def test_byte_at_a_time_realistic_stream() -> None:
    data = b': ping\r\n\r\nevent: message\rdata: {"a":1}\n\ndata: [DONE]\r\n\r\n'
    results = feed_lines(SseLines(), [data[i : i + 1] for i in range(len(data))])
    assert flat(results) == data
    assert logical_lines(results) == data.splitlines(True)


@PROPERTY
@given(data_and_cuts(LINE_BYTES))
def test_lines_reassemble_exactly_for_any_split(case: tuple[bytes, list[int]]) -> None:
    data, cuts = case
    results = feed_lines(SseLines(), split_at(data, cuts))
    assert flat(results) == data
    # The same lines as one read of the whole stream, terminators included.
    assert logical_lines(results) == data.splitlines(True)
    for _, lines in results[:-1]:
        for line in lines:
            assert line.endswith((b"\n", b"\r"))
            assert b"\n" not in strip_line_end(line) and b"\r" not in strip_line_end(line)


@PROPERTY
@given(data_and_cuts(st.binary(max_size=80)))
def test_lines_reassemble_arbitrary_bytes(case: tuple[bytes, list[int]]) -> None:
    data, cuts = case
    results = feed_lines(SseLines(), split_at(data, cuts))
    assert flat(results) == data
    assert logical_lines(results) == data.splitlines(True)


# --- SseLines: the size cap ------------------------------------------------------------

CAP = 8


def test_max_line_raises_on_a_long_complete_line() -> None:
    with pytest.raises(SseTooLarge):
        SseLines(CAP).feed(b"x" * (CAP + 5) + b"\n")


def test_max_line_raises_as_soon_as_the_tail_passes_the_cap() -> None:
    lines = SseLines(CAP)
    lines.feed(b"x" * (CAP - 2))
    lines.feed(b"xx")  # exactly at the cap: not yet
    with pytest.raises(SseTooLarge):
        lines.feed(b"x")  # one byte more, no line end in sight


def test_line_at_the_cap_passes() -> None:
    lines = SseLines(CAP)
    assert lines.feed(b"x" * (CAP - 1) + b"\n") == (b"", [b"x" * (CAP - 1) + b"\n"])
    lines.feed(b"y" * CAP)
    assert lines.finish() == [b"y" * CAP]


def test_big_chunk_of_short_lines_is_fine() -> None:
    data = b"abc\n" * 100
    assert SseLines(CAP).feed(data) == (b"", data.splitlines(True))


def first_overflow(data: bytes, cap: int) -> int | None:
    """Index of the byte that makes some line's content (terminator excluded) longer than
    ``cap``."""
    at = 0
    for line in data.splitlines(True):
        if len(strip_line_end(line)) > cap:
            return at + cap
        at += len(line)
    return None


@st.composite
def capped_streams(draw: st.DrawFn) -> bytes:
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        parts.append(b"x" * draw(st.integers(0, CAP + 3)) + draw(st.sampled_from(EOLS)))
    return b"".join(parts) + b"y" * draw(st.integers(0, CAP + 3))


@PROPERTY
@given(data_and_cuts(capped_streams()))
def test_max_line_raises_at_the_overflowing_byte_whatever_the_split(
    case: tuple[bytes, list[int]],
) -> None:
    """The feed that raises is the one holding the first content byte past the cap, and only
    then, whatever the split (a CRLF split between its CR and LF included)."""
    data, cuts = case
    overflow = first_overflow(data, CAP)
    splitter = SseLines(CAP)
    at = 0
    for piece in split_at(data, cuts):
        if overflow is not None and at <= overflow < at + len(piece):
            with pytest.raises(SseTooLarge):
                splitter.feed(piece)
            return
        splitter.feed(piece)
        at += len(piece)
    assert overflow is None
    splitter.finish()


def lines_or_raise(pieces: list[bytes], cap: int, **kwargs: Any) -> Any:
    splitter = SseLines(cap, **kwargs)
    try:
        # With skip_long an empty item marks where a line was dropped; only lines are compared.
        return [
            strip_line_end(line)
            for _, lines in feed_lines(splitter, pieces)
            for line in lines
            if line
        ]
    except SseTooLarge:
        return SseTooLarge


def test_max_line_crlf_split_does_not_change_the_verdict() -> None:
    data = b"x" * (CAP - 1) + b"\r\n"
    whole = lines_or_raise([data], CAP)
    split = lines_or_raise([data[:-1], data[-1:]], CAP)
    assert whole == split


def test_skip_long_crlf_split_does_not_change_the_lines() -> None:
    data = b"x" * (CAP - 1) + b"\r\nok\n"
    whole = lines_or_raise([data], CAP, skip_long=True)
    split = lines_or_raise([data[:CAP], data[CAP:]], CAP, skip_long=True)
    assert whole == split


def test_skip_long_drops_the_line_and_resumes_at_the_next_line_end() -> None:
    splitter = SseLines(CAP, skip_long=True)
    assert splitter.feed(b"x" * (CAP + 4)) == (b"", [])
    assert splitter.feed(b"xxxx") == (b"", [])
    _, lines = splitter.feed(b"xx\r\nok\n" + b"y" * (CAP + 1) + b"\nend")
    assert lines == [b"", b"ok\n", b""]  # an empty item marks each dropped line
    assert splitter.finish() == [b"end"]


def test_skip_long_drops_an_over_long_unterminated_tail() -> None:
    splitter = SseLines(CAP, skip_long=True)
    splitter.feed(b"ok\n" + b"y" * (CAP + 1))
    assert splitter.finish() == []


@PROPERTY
@given(data_and_cuts(capped_streams()))
def test_skip_long_same_lines_for_any_split(case: tuple[bytes, list[int]]) -> None:
    """Lines past the cap are dropped, the others kept, whatever the split points."""
    data, cuts = case
    expected = [
        strip_line_end(line) for line in data.splitlines(True) if len(strip_line_end(line)) <= CAP
    ]
    assert lines_or_raise(split_at(data, cuts), CAP, skip_long=True) == expected


# --- strip_line_end / data_payload -----------------------------------------------------


@pytest.mark.parametrize(
    ("line", "content"),
    [
        (b"data: x\n", b"data: x"),
        (b"data: x\r", b"data: x"),
        (b"data: x\r\n", b"data: x"),
        (b"data: x", b"data: x"),
        (b"\n", b""),
        (b"\r\n", b""),
        (b"\r", b""),
        (b"", b""),
        (b"x\n\r", b"x\n"),  # one terminator only
        (b"x\r\r", b"x\r"),
    ],
)
def test_strip_line_end(line: bytes, content: bytes) -> None:
    assert strip_line_end(line) == content


@pytest.mark.parametrize(
    ("content", "payload"),
    [
        (b'data: {"a":1}', b'{"a":1}'),
        (b'data:{"a":1}', b'{"a":1}'),
        (b"data:  two spaces", b" two spaces"),  # only one space is part of the syntax
        (b"data: ", b""),
        (b"data:", b""),
        (b"data", b""),  # a field name alone: an empty value
        (b"data: [DONE]", b"[DONE]"),
        (b"datax: 1", None),  # another field whose name starts with "data"
        (b"data-x", None),
        (b"Data: 1", None),  # field names are case-sensitive
        (b" data: 1", None),
        (b": data: 1", None),  # a comment
        (b"event: data", None),
        (b"id: 1", None),
        (b"retry: 10", None),
        (b"", None),
    ],
)
def test_data_payload(content: bytes, payload: bytes | None) -> None:
    assert data_payload(content) == payload


# --- loads_exact -----------------------------------------------------------------------

BIG = 123456789012345678901234567890


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"123456789012345678901234567890", BIG),
        (b"-123456789012345678901234567890", -BIG),
        (b'{"n":123456789012345678901234567890,"s":"x"}', {"n": BIG, "s": "x"}),
        (b"[18446744073709551616, 1]", [2**64, 1]),
        (b"-9223372036854775809", -(2**63) - 1),
        (b'{"a":[1,2.5,"\\u00e9",null,true]}', {"a": [1, 2.5, "é", None, True]}),
        (b'"digits in a string 12345678901234567890"', "digits in a string 12345678901234567890"),
        (b'"\\ud800"', "\ud800"),  # a lone surrogate: orjson refuses, the stdlib reads it
        ('{"k":"日本"}', {"k": "日本"}),  # str input
    ],
)
def test_loads_exact_values(text: bytes | str, value: Any) -> None:
    out = loads_exact(text)
    assert out == value
    assert type(out) is type(value)


def test_loads_exact_keeps_30_digit_ints_exact_among_floats() -> None:
    out = loads_exact(b'{"usage":{"t":123456789012345678901234567890,"f":0.1}}')
    assert out["usage"]["t"] == BIG and isinstance(out["usage"]["t"], int)
    assert out["usage"]["f"] == 0.1


@pytest.mark.parametrize("text", [b"NaN", b"Infinity", b"-Infinity", b'{"x":[1,-Infinity]}'])
def test_loads_exact_rejects_constants_by_default(text: bytes) -> None:
    with pytest.raises(ValueError):
        loads_exact(text)
    # ... also on the stdlib path (a long integer elsewhere in the document)
    with pytest.raises(ValueError):
        loads_exact(b"[123456789012345678901234567890," + text + b"]")


def test_loads_exact_constants_allowed() -> None:
    assert loads_exact(b"-Infinity", constants=True) == -math.inf
    assert loads_exact(b"Infinity", constants=True) == math.inf
    assert math.isnan(loads_exact(b"NaN", constants=True))
    assert loads_exact(b'{"lp":-Infinity,"n":123456789012345678901234567890}', constants=True) == {
        "lp": -math.inf,
        "n": BIG,
    }


@pytest.mark.parametrize(
    "text", [b"", b"{", b"[1,]", b"{'a':1}", b"nan", b"\xff", b"1 2", b"data: 1", b"[DONE]"]
)
def test_loads_exact_rejects_non_json(text: bytes) -> None:
    with pytest.raises(ValueError):
        loads_exact(text)


@pytest.mark.parametrize("depth", [1100, 5000, 100_000])
def test_loads_exact_deep_nesting_is_a_value_error(depth: int) -> None:
    with pytest.raises(ValueError):
        loads_exact(b"[" * depth + b"]" * depth)
    with pytest.raises(ValueError):
        loads_exact(b'{"a":' * depth + b"1" + b"}" * depth)


def test_loads_exact_moderate_nesting_is_fine() -> None:
    assert loads_exact(b"[" * 500 + b"]" * 500) is not None


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=10,
)


@HEAVY
@given(JSON_VALUES)
def test_loads_exact_round_trips_the_stdlib(value: Any) -> None:
    text = json.dumps(value)
    assert loads_exact(text.encode()) == json.loads(text)
    assert loads_exact(text) == value


# --- SseEvents -------------------------------------------------------------------------


def test_events_data_lines_only() -> None:
    data = b': comment\nevent: message\nid: 7\nretry: 1000\ndatax: {}\ndata: {"a":1}\n\n'
    assert events_of([data]) == [{"a": 1}]


def test_events_done() -> None:
    assert events_of([b"data: [DONE]\n\n"]) == [DONE]
    assert events_of([b"data:[DONE]\n"]) == [DONE]
    assert repr(DONE) == "DONE"


def test_events_complete_json_dispatched_at_once() -> None:
    parser = SseEvents()
    assert parser.feed(b'data: {"a":1}\n') == [{"a": 1}]  # no blank line needed
    assert parser.feed(b'data: {"b":2}\r') == [{"b": 2}]
    assert parser.feed(b"\n\n") == []
    assert parser.finish() == []


def test_events_multi_line_data_joined_at_blank_line() -> None:
    parser = SseEvents()
    assert parser.feed(b"data: {\n") == []
    assert parser.feed(b'data: "a":\n: a comment in between\nevent: x\n') == []
    assert parser.feed(b"data: [1,\ndata: 2]\n") == []
    assert parser.feed(b"data: }\n") == []
    assert parser.feed(b"\n") == [{"a": [1, 2]}]
    assert parser.finish() == []


def test_events_multi_line_join_uses_newline() -> None:
    # The join with "\n" makes a JSON document only because "\n" is whitespace there.
    assert events_of([b"data: [1,\r\ndata: 2]\r\n\r\n"]) == [[1, 2]]
    events = events_of([b"data: hello\ndata: world\n\n"])
    assert norm(events) == [("invalid", b"hello\nworld")]


def test_events_non_json_is_invalid() -> None:
    events = events_of([b"data: not json\n\n", b'data: {"ok":true}\n'])
    assert norm(events) == [("invalid", b"not json"), {"ok": True}]


def test_events_non_json_pending_at_end_of_stream() -> None:
    assert norm(events_of([b"data: {"])) == [("invalid", b"{")]
    assert norm(events_of([b"data: {\n"])) == [("invalid", b"{")]
    assert events_of([b'data: {"a":\ndata: 1}\n']) == [{"a": 1}]  # no blank line at the end


@pytest.mark.parametrize(
    "data", [b"data:\n\n", b"data\n\n", b"data: \n", b"data:   \t\n\n", b"\n\n\n", b": x\n\n"]
)
def test_events_empty_data_lines_are_ignored(data: bytes) -> None:
    assert events_of([data]) == []


def test_events_unterminated_last_line() -> None:
    assert events_of([b'data: {"a":1}']) == [{"a": 1}]
    assert events_of([b"data: [DONE]"]) == [DONE]


def test_events_constants() -> None:
    data = b'data: {"logprob":-Infinity}\n\n'
    assert events_of([data]) == [{"logprob": -math.inf}]
    assert norm(events_of([data], constants=False)) == [("invalid", b'{"logprob":-Infinity}')]


def test_events_null_value_same_with_or_without_final_line_end() -> None:
    assert events_of([b"data: null\n"]) == [None]
    assert events_of([b"data: null"]) == [None]


def test_events_big_ints_exact() -> None:
    assert events_of([b'data: {"n":123456789012345678901234567890}\n']) == [{"n": BIG}]


def test_events_scalars_and_arrays_are_values() -> None:
    assert events_of([b'data: 1\ndata: "s"\ndata: [1]\ndata: null\n\n']) == [1, "s", [1], None]


def test_events_line_over_the_cap() -> None:
    parser = SseEvents(16)
    with pytest.raises(SseTooLarge):
        parser.feed(b'data: {"a":"' + b"x" * 20 + b'"}\n')


def test_events_event_over_the_cap() -> None:
    parser = SseEvents(16)
    with pytest.raises(SseTooLarge):  # every line is short; their join is not
        parser.feed(b"data: [\n" + b"data: 1111111,\n" * 3)


def test_events_skip_long_drops_the_event_and_goes_on() -> None:
    parser = SseEvents(16, skip_long=True)
    out = parser.feed(b'data: {"a":"' + b"x" * 20 + b'"}\n\ndata: [1]\n\n')
    assert out == [[1]]
    assert parser.feed(b"data: 2\n") == [2]
    assert parser.finish() == []


def test_events_skip_long_drops_the_whole_over_long_event() -> None:
    # every line fits the cap (16 bytes); the event does not
    data = b"data: [\ndata: 1111111,\ndata: 2222222,\ndata: 3\ndata: ]\n\ndata: 4\n"
    assert norm(events_of([data], max_event=16, skip_long=True)) == [4]


def test_events_skip_long_line_inside_an_event_does_not_make_another_value() -> None:
    data = b"data: [1,\ndata: " + b"9" * 40 + b",\ndata: 2]\n\ndata: 4\n"
    events = norm(events_of([data], max_event=16, skip_long=True))
    assert [1, 2] not in events
    assert events[-1] == 4


# A stream is a list of "units"; each unit is a list of field lines (content without line
# end) and the events it must produce.


@st.composite
def json_unit(draw: st.DrawFn) -> tuple[list[bytes], list[Any]]:
    value = draw(JSON_VALUES)
    prefix = draw(st.sampled_from([b"data: ", b"data:"]))
    lines = [prefix + json.dumps(value, ensure_ascii=draw(st.booleans())).encode("utf-8")]
    if draw(st.booleans()):
        lines.append(b"")  # the blank line is optional after a complete JSON line
    return lines, [value]


@st.composite
def multi_line_unit(draw: st.DrawFn) -> tuple[list[bytes], list[Any]]:
    value = draw(
        st.lists(JSON_VALUES, min_size=1, max_size=3)
        | st.dictionaries(st.text(max_size=4), JSON_VALUES, min_size=1, max_size=3)
    )
    text = json.dumps(value, indent=1, ensure_ascii=draw(st.booleans()))
    lines = [b"data: " + part.encode("utf-8") for part in text.split("\n")]
    noise = draw(st.lists(st.sampled_from([b": c", b"event: e", b"id: 1", b"retry: 5"])))
    for line in noise:  # other fields may sit between the data lines of an event
        lines.insert(draw(st.integers(1, len(lines))), line)
    return [*lines, b""], [value]


INVALID_TEXTS = [b"not json", b"{", b"[1,", b"nan", b"hello: world", b"{'a': 1}", b"<html>"]


@st.composite
def invalid_unit(draw: st.DrawFn) -> tuple[list[bytes], list[Any]]:
    text = draw(st.sampled_from(INVALID_TEXTS))
    return [b"data: " + text, b""], [("invalid", text)]


NOISE_UNITS = st.sampled_from(
    [
        ([b": keep-alive"], []),
        ([b"event: message"], []),
        ([b"id: 42"], []),
        ([b"retry: 3000"], []),
        ([b""], []),
        ([b"data:"], []),
        ([b"data"], []),
        ([b"data: "], []),
        ([b"data: [DONE]", b""], [DONE]),
    ]
)
UNITS = st.one_of(json_unit(), multi_line_unit(), invalid_unit(), NOISE_UNITS)


@st.composite
def event_streams(draw: st.DrawFn) -> tuple[list[bytes], list[Any]]:
    lines: list[bytes] = []
    expected: list[Any] = []
    for unit_lines, unit_events in draw(st.lists(UNITS, max_size=8)):
        lines += unit_lines
        expected += unit_events
    return lines, expected


def write_stream(draw: st.DrawFn, lines: list[bytes]) -> bytes:
    """The lines with a line end each, in any mix of styles (a CR line is never followed by
    a blank LF line, which would make one CRLF line of the two), the last one optional."""
    out = []
    for pos, line in enumerate(lines):
        eol = draw(st.sampled_from(EOLS))
        if eol == b"\r" and pos + 1 < len(lines) and not lines[pos + 1]:
            eol = b"\r\n"
        out.append(line + eol)
    if out and draw(st.booleans()):
        out[-1] = lines[-1]  # the stream may end without a line end
    return b"".join(out)


@HEAVY
@given(event_streams(), st.data())
def test_events_same_for_every_split_and_line_end_style(
    stream: tuple[list[bytes], list[Any]], data: st.DataObject
) -> None:
    lines, expected = stream
    lf = b"".join(line + b"\n" for line in lines)
    assert norm(events_of([lf])) == expected
    styled = write_stream(data.draw, lines)
    assert norm(events_of([styled])) == expected
    cuts = data.draw(st.lists(st.integers(0, len(styled)), max_size=10))
    if crlf := crlf_cuts(styled):
        cuts += data.draw(st.lists(st.sampled_from(crlf), max_size=3))
    assert norm(events_of(split_at(styled, cuts))) == expected
    if len(styled) <= 300:
        byte_at_a_time = [styled[i : i + 1] for i in range(len(styled))]
        assert norm(events_of(byte_at_a_time)) == expected
