"""The error tree, rendered once in the OpenAI error shape.

PreviewGateError                 status  code
├── BadRequest                   400     invalid_request
│   ├── InvalidJson              400     invalid_json
│   ├── DataCollectionRequired   400     data_collection_required
│   ├── ContextLengthExceeded    400     context_length_exceeded
│   ├── ContentPolicyViolation   400     content_policy_violation
│   ├── UnsupportedForThisModel  400     unsupported_for_this_model
│   └── PayloadTooLarge          413     payload_too_large
├── Unauthorized                 401     unauthorized
├── PaymentRequired              402     insufficient_balance
├── Forbidden                    403     forbidden
│   └── OptInRequired            403     opt_in_required
├── NotFound                     404     not_found
│   └── ModelUnavailable         404     model_unavailable
├── Conflict                     409     conflict
├── Unprocessable                422     invalid_input
├── RateLimited                  429     rate_limit_exceeded
├── ServiceUnavailable           503     temporarily_unavailable
└── UpstreamError                502     upstream_error      (status may be 500/502/503)
    ├── InvalidUpstreamResponse  502     invalid_response
    └── UpstreamTimeout          504     upstream_timeout

Every error is written by the gateway: for experimented requests the upstream's own text never
reaches the client (see gateway/blind_errors.py), so messages here are ours.
"""

from __future__ import annotations

from typing import Any

import orjson


class PreviewGateError(Exception):
    status = 500
    code = "internal_error"
    type = "server_error"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code}}

    def render(self) -> bytes:
        return orjson.dumps(self.body())


class InternalError(PreviewGateError):
    """A bug of ours: rendered without details."""


class BadRequest(PreviewGateError):
    status = 400
    code = "invalid_request"
    type = "invalid_request_error"


class InvalidJson(BadRequest):
    code = "invalid_json"


class DataCollectionRequired(BadRequest):
    code = "data_collection_required"


class ContextLengthExceeded(BadRequest):
    code = "context_length_exceeded"


class ContentPolicyViolation(BadRequest):
    code = "content_policy_violation"


class UnsupportedForThisModel(BadRequest):
    """A request feature the serving model's API format cannot carry (see docs/formats.md)."""

    code = "unsupported_for_this_model"


class PayloadTooLarge(BadRequest):
    status = 413
    code = "payload_too_large"


class Unauthorized(PreviewGateError):
    status = 401
    code = "unauthorized"
    type = "authentication_error"


class PaymentRequired(PreviewGateError):
    status = 402
    code = "insufficient_balance"
    type = "insufficient_quota"


class Forbidden(PreviewGateError):
    status = 403
    code = "forbidden"
    type = "permission_error"


class OptInRequired(Forbidden):
    code = "opt_in_required"


class NotFound(PreviewGateError):
    status = 404
    code = "not_found"
    type = "invalid_request_error"


class ModelUnavailable(NotFound):
    code = "model_unavailable"


class Conflict(PreviewGateError):
    status = 409
    code = "conflict"
    type = "invalid_request_error"


class Unprocessable(PreviewGateError):
    status = 422
    code = "invalid_input"
    type = "invalid_request_error"


class RateLimited(PreviewGateError):
    status = 429
    code = "rate_limit_exceeded"
    type = "rate_limit_error"


class ServiceUnavailable(PreviewGateError):
    status = 503
    code = "temporarily_unavailable"
    type = "server_error"


class UpstreamError(PreviewGateError):
    status = 502
    code = "upstream_error"
    type = "server_error"


class InvalidUpstreamResponse(UpstreamError):
    code = "invalid_response"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"
