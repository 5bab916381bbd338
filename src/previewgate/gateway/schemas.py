"""The OpenAI chat-completion shape, for the OpenAPI document only.

The hot path (``gateway/endpoints.py``) never validates requests with these models: it reads
the few fields it needs and tolerates every other one, as OpenAI-compatible gateways must.
These models describe the accepted request and the answers a client receives, in the
document at ``/openapi.json`` (see ``gateway/openapi.py``). Every request model allows extra
fields, because the gateway forwards them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatContentPart(_Open):
    type: str = Field(description="'text', 'image_url', ...")
    text: str | None = None


class ChatFunctionCall(BaseModel):
    name: str
    arguments: str = Field(description="JSON text of the arguments")


class ChatToolCall(BaseModel):
    id: str = Field(description="in experimented answers, re-minted by the gateway (call_...)")
    type: Literal["function"] = "function"
    function: ChatFunctionCall


class ChatMessage(_Open):
    role: str = Field(description="'system', 'developer', 'user', 'assistant' or 'tool'")
    content: str | list[ChatContentPart] | None = None
    name: str | None = None
    tool_calls: list[ChatToolCall] | None = None
    tool_call_id: str | None = None


class ChatFunctionDefinition(_Open):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = Field(default=None, description="a JSON Schema")


class ChatTool(_Open):
    type: Literal["function"] = "function"
    function: ChatFunctionDefinition


class ChatStreamOptions(_Open):
    include_usage: bool | None = None


class ChatUsageOptions(_Open):
    include: bool | None = Field(default=None, description="OpenRouter: report usage and cost")


class ChatProviderPreferences(_Open):
    data_collection: Literal["allow", "deny"] | None = Field(
        default=None, description="'deny' is refused (400) by preview models"
    )
    zdr: bool | None = Field(default=None, description="true is refused (400) by preview models")


class ChatCompletionRequest(_Open):
    """``POST /v1/chat/completions``; unknown fields are tolerated and forwarded."""

    model: str = Field(
        min_length=1, max_length=200, description="a public model id, or 'auto'", examples=["auto"]
    )
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: ChatStreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    tools: list[ChatTool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    seed: int | None = None
    user: str | None = None
    usage: ChatUsageOptions | None = None
    provider: ChatProviderPreferences | None = None


class ChatAnswerMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    refusal: str | None = None
    reasoning: str | None = None
    tool_calls: list[ChatToolCall] | None = None


class ChatChoice(BaseModel):
    index: int
    message: ChatAnswerMessage
    finish_reason: FinishReason | None = None
    logprobs: dict[str, Any] | None = None


class ChatPromptTokensDetails(BaseModel):
    cached_tokens: int | None = None


class ChatUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: ChatPromptTokensDetails | None = None
    cost: float | None = Field(default=None, description="USD (0 for preview models)")


class ChatCompletion(BaseModel):
    id: str = Field(description="the gateway's response id, gen-<32 hex>; also x-request-id")
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = Field(description="the public model id that was asked for")
    choices: list[ChatChoice]
    usage: ChatUsage | None = None


class ChatToolCallDelta(BaseModel):
    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: dict[str, str] | None = Field(default=None, description="name and/or arguments")


class ChatDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    refusal: str | None = None
    reasoning: str | None = None
    tool_calls: list[ChatToolCallDelta] | None = None


class ChatChunkChoice(BaseModel):
    index: int
    delta: ChatDelta
    finish_reason: FinishReason | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletionChunk(BaseModel):
    """One ``data:`` event of a streamed answer; the stream ends with ``data: [DONE]``."""

    id: str = Field(description="the same gen-... id in every chunk")
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: ChatUsage | None = None


class ChatErrorDetail(BaseModel):
    message: str
    type: str
    code: str | int | None


class ChatErrorResponse(BaseModel):
    """The OpenAI error shape, for every refusal and failure."""

    error: ChatErrorDetail
