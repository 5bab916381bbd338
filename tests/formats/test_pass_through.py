"""Same format on both sides: the client's body goes through, less what only we wrote.

An experimented answer is rebuilt, so what a client sends back from it may name things the
checkpoint never made: Anthropic thinking blocks without a signature, Responses items with
the gateway's ids or reasoning without the checkpoint's encrypted content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from previewgate.formats import MESSAGES, RESPONSES
from previewgate.formats.anthropic.answer import answer_from_canonical
from previewgate.formats.responses.answer import answer_from_canonical as response_from

HEX = "0123456789abcdef0123456789abcdef"


@dataclass(frozen=True)
class Ctx:
    response_id: str = f"gen-{HEX}"
    public_id: str = "acme/preview"
    created: int = 1
    request: Any = None


COMPLETION = {
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Looking.",
                "reasoning": "Weather first.",
                "tool_calls": [
                    {
                        "id": "call_" + "a" * 24,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
}


def test_our_thinking_blocks_are_not_sent_back_to_an_anthropic_checkpoint() -> None:
    ours = answer_from_canonical(COMPLETION, Ctx(request={}))
    signed = {"type": "thinking", "thinking": "theirs", "signature": "sig-from-the-checkpoint"}
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": ours["content"]},
            {"role": "assistant", "content": [signed, {"type": "text", "text": "t"}]},
        ],
    }
    sent = MESSAGES.pass_through(body)
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["text", "tool_use"]
    assert sent["messages"][2] == body["messages"][2]  # a checkpoint's own block stays
    assert body["messages"][1]["content"] == ours["content"]  # the client's dict untouched


def test_our_item_ids_and_bare_reasoning_are_not_sent_to_a_responses_checkpoint() -> None:
    ours = response_from(COMPLETION, Ctx(request={}))["output"]
    theirs = {"type": "reasoning", "id": "rs_theirs", "summary": [], "encrypted_content": "x"}
    body = {"model": "m", "input": [{"role": "user", "content": "Hi"}, *ours, theirs]}
    sent = RESPONSES.pass_through(body)["input"]
    assert [i.get("type") for i in sent] == [None, "message", "function_call", "reasoning"]
    assert all("id" not in i for i in sent[:3]) and sent[3] == theirs
    assert sent[2]["call_id"] == "call_" + "a" * 24  # the call id is how its output is matched
