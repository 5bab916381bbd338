"""Properties over generated text: redaction is idempotent, total, leaves prose alone, agrees
with its own prefilter, and the JSON walker keeps structure."""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from previewgate.redaction import redact, redact_json
from previewgate.redaction.redactor import _GROUPS, _REGEXES, _SET, _UNANCHORED
from tests.redaction.corpus import load
from tests.redaction.fakes import GENERATORS, generate

SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("REDACTION_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Pieces that make rules fire, so generated text reaches the rules and their edges rather than
# only random characters: generated secrets, corpus fragments, separators and markers.
_SECRETS = [generate(name, f"prop/{name}") for name in sorted(GENERATORS)]
_FRAGMENTS = [line for case in load() for line in case.text.splitlines() if line.strip()][:400]
_GLUE = [" ", "\n", "=", ": ", '"', "'", "\\n", "@", "/", ":", "://", "-----", "[REDACTED:x]",
         "password=", "token: ", "Bearer ", "/home/", "C:\\Users\\", "git@github.com:",
         "+1 "]  # fmt: skip
piece = st.one_of(
    st.text(max_size=12),
    st.sampled_from(_SECRETS),
    st.sampled_from(_FRAGMENTS),
    st.sampled_from(_GLUE),
    st.text(alphabet="0123456789.:-+() ", max_size=16),
)
texts = st.lists(piece, max_size=12).map("".join)


@SETTINGS
@given(texts)
def test_idempotent(text: str) -> None:
    once, _ = redact(text, hash_key=b"k")
    twice, findings = redact(once, hash_key=b"k")
    assert twice == once
    assert findings == []


@SETTINGS
@given(st.text())
def test_total_on_any_text(text: str) -> None:
    out, findings = redact(text)
    assert isinstance(out, str)
    for f in findings:
        assert 0 <= f.start < f.end <= len(text)


# Lower-case words and spaces: no digits, no punctuation, none of the words that introduce a
# credential on their own (``bearer X``, ``basic X``, netrc's ``login X password Y``).
prose = st.text(alphabet=string.ascii_lowercase + " \n", max_size=400).filter(
    lambda t: not any(w in t for w in ("bearer", "basic", "login"))
)


@SETTINGS
@given(prose)
def test_prose_unchanged(text: str) -> None:
    assert redact(text) == (text, [])


@SETTINGS
@given(texts)
def test_prefilter_never_skips_a_rule_that_matches(text: str) -> None:
    data = text.encode("utf-8", "replace")
    selected = set(_SET.Match(data) or [])
    for index, regexp in enumerate(_REGEXES):
        if index not in selected:
            spans = regexp.Match(_UNANCHORED, data, 0, len(data))
            assert spans[0][0] < 0, (index, _GROUPS[index])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.one_of(
                st.text(max_size=8),
                st.sampled_from(_SECRETS[:10]),
                st.sampled_from(["password", "api_key", "token", "DB_PASSWORD"]),
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def _same_shape(before: Any, after: Any) -> None:
    if isinstance(before, dict):
        assert isinstance(after, dict) and len(after) == len(before)
        for (k0, v0), (k1, v1) in zip(before.items(), after.items(), strict=True):
            if redact(k0)[0] == k0 and not str(k1).count("#"):
                assert k1 == k0
            _same_shape(v0, v1)
    elif isinstance(before, list):
        assert isinstance(after, list) and len(after) == len(before)
        for v0, v1 in zip(before, after, strict=True):
            _same_shape(v0, v1)
    elif isinstance(before, str):
        assert isinstance(after, str)
    else:
        assert after is before or after == before


@SETTINGS
@given(json_values)
def test_walker_keeps_structure(value: Any) -> None:
    after, _ = redact_json(value, hash_key=b"k")
    _same_shape(value, after)
    json.dumps(after)
    again, _ = redact_json(after, hash_key=b"k")
    assert again == after
