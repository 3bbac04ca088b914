"""One error hierarchy with stable machine codes.

Domain code raises these; ``ticketflow.http.errors`` is the one place that maps them to
HTTP responses of the shape ``{"error": {"code", "message", "details"}}``. Codes are a
contract: clients branch on them, so never rename one.
"""

from __future__ import annotations

from typing import Any


class TicketflowError(Exception):
    code = "error"
    status = 500

    def __init__(self, message: str, *, details: Any = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(TicketflowError):
    code, status = "bad_request", 400


class InvalidJson(BadRequest):
    code = "invalid_json"


class Unauthorized(TicketflowError):
    code, status = "unauthorized", 401


class Forbidden(TicketflowError):
    code, status = "forbidden", 403


class NotFound(TicketflowError):
    code, status = "not_found", 404


class Conflict(TicketflowError):
    code, status = "conflict", 409


class IllegalTransition(Conflict):
    """The action is not allowed from the ticket's current status."""

    code = "illegal_transition"


class ConcurrentUpdate(Conflict):
    """Someone else changed the ticket between our read and our write."""

    code = "concurrent_update"


class StaleVersion(Conflict):
    """A configuration change made on a version that is no longer the live one."""

    code = "stale_version"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"


class SurveyAnswered(Conflict):
    code = "survey_already_answered"


class PreconditionRequired(TicketflowError):
    """A change that must say which version it was made on (``If-Match``) did not."""

    code, status = "precondition_required", 428


class Gone(TicketflowError):
    """It existed, and no longer can be used (an expired survey link)."""

    code, status = "gone", 410


class PayloadTooLarge(TicketflowError):
    code, status = "payload_too_large", 413


class ValidationFailed(TicketflowError):
    """Well-formed input that breaks a rule; ``details`` names each field."""

    code, status = "validation_error", 422

    @classmethod
    def field(cls, field: str, message: str, *, code: str | None = None) -> ValidationFailed:
        return cls(f"{field}: {message}", details=[{"field": field, "message": message}], code=code)


class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"


class RateLimited(TicketflowError):
    code, status = "rate_limited", 429


class ServiceUnavailable(TicketflowError):
    """A service we depend on (the table, a queue) was still throttled or failing after the
    SDK's retries: nothing was half-written, and the same request may be sent again."""

    code, status = "service_unavailable", 503
