"""Building a REST resolver, and the one place where errors become HTTP responses.

Every error body has the shape ``{"error": {"code", "message", "details"}}``. 4xx are logged
without a stack trace (they are the caller's doing), 5xx with one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer, SecurityScheme
from aws_lambda_powertools.event_handler.router import Router
from aws_lambda_powertools.shared.json_encoder import Encoder
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import ValidationError

from ticketflow import __version__
from ticketflow.config import settings
from ticketflow.errors import (
    BadRequest,
    InvalidJson,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TicketflowError,
    ValidationFailed,
)
from ticketflow.observability import logger
from ticketflow.privacy import redact_contacts
from ticketflow.storage import dynamo

SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "channel_key": APIKey(name="x-api-key", in_=APIKeyIn.header, description="A channel's API key"),
    "bearer": HTTPBearer(bearerFormat="JWT", description="Cognito ID token (locally: `ticketflow token`)"),
}
# A route's `security`: the scheme names above, with no scopes.
CHANNEL: list[dict[str, list[str]]] = [{"channel_key": []}]
PERSON: list[dict[str, list[str]]] = [{"bearer": []}]


def error_response(error: TicketflowError) -> Response:
    # A message may quote what the caller sent (an unknown id, a path, a person to assign):
    # never an email address or phone number in an error body or its log line.
    body = _redacted(error.to_body())
    if error.status >= 500:
        logger.exception("request failed", extra={"code": error.code})
    else:
        logger.info(
            "request refused",
            extra={"code": error.code, "status": error.status, "error_message": body["error"]["message"]},
        )
    return Response(
        status_code=error.status, content_type="application/json", body=json.dumps(body, ensure_ascii=False)
    )


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_contacts(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


# What AWS answers when it is busy or failing rather than when we asked wrongly.
_BUSY_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "LimitExceededException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
    }
)
RETRY_AFTER_SECONDS = 1


def dependency_failure(error: ClientError | BotoCoreError) -> Response:
    """An AWS call that failed after the SDK's own retries. Throttled, conflicting, failing or
    unreachable: 503 with Retry-After, since the request may simply be sent again (each write
    is one transaction, so nothing was half-written; intake has its Idempotency-Key). Any other
    refusal is our bug: 500. Never the provider's message, which can quote what we sent."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        reasons = dynamo.cancellation_reasons(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        busy = code in _BUSY_CODES or status >= 500 or (bool(reasons) and reasons <= {"TransactionConflict"})
    else:  # the SDK gave up on the connection (refused, timed out); a bad parameter is our bug
        code, busy = type(error).__name__, isinstance(error, BotoConnectionError | HTTPClientError)
    if not busy:
        return error_response(TicketflowError("the request failed on our side", code="internal_error"))
    response = error_response(
        ServiceUnavailable("the service is busy; send the request again in a moment", details={"cause": code})
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _field(loc: tuple | list) -> str:
    """("body", "customer", "id") -> "customer.id"; ("query", "limit") -> "limit"; headers keep their name."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "headers"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_error(errors: Sequence[Mapping[str, Any]]) -> TicketflowError:
    if any(e.get("type") == "json_invalid" for e in errors):
        return InvalidJson("the request body is not valid JSON", details=[{"field": "body", "message": "invalid JSON"}])
    details = [
        {"field": _field(e.get("loc", ())), "message": e.get("msg", "invalid"), "type": e.get("type")} for e in errors
    ]
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return ValidationFailed(message, details=details)


def create_app(*routers: Router) -> APIGatewayRestResolver:
    # Chinese text stays readable in responses (UTF-8), not \uXXXX escapes.
    serializer = partial(json.dumps, separators=(",", ":"), cls=Encoder, ensure_ascii=False)
    app = APIGatewayRestResolver(enable_validation=True, serializer=serializer)
    app.configure_openapi(
        title="ticketflow",
        version=__version__,
        summary="Customer-service workflow automation: tickets from channel to agent.",
        security_schemes=SECURITY_SCHEMES,
    )

    @app.exception_handler(TicketflowError)
    def _domain(error: TicketflowError) -> Response:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    def _request(error: RequestValidationError) -> Response:
        return error_response(validation_error(list(error.errors())))

    @app.exception_handler(ClientError)
    def _aws(error: ClientError) -> Response:
        return dependency_failure(error)

    @app.exception_handler(BotoCoreError)
    def _sdk(error: BotoCoreError) -> Response:
        return dependency_failure(error)

    @app.exception_handler(ValidationError)
    def _model(error: ValidationError) -> Response:
        return error_response(validation_error(error.errors(include_url=False)))

    @app.not_found
    def _not_found(_: Exception) -> Response:
        event = app.current_event
        return error_response(NotFound(f"no route {event.http_method} {event.path}"))

    for router in routers:
        app.include_router(router)
    return app


FORM = "application/x-www-form-urlencoded"


def resolve(
    app: APIGatewayRestResolver,
    event: dict[str, Any],
    context: Any,
    *,
    forms: bool = False,
    max_body_bytes: int | None = None,
) -> dict[str, Any]:
    """Check the body's size and type before anything parses it, then route. ``forms``: HTML
    form posts are welcome too (the survey page). ``max_body_bytes``: a larger limit than the
    setting, for the admin API's whole documents."""
    body = event.get("body") or ""
    limit = max(max_body_bytes or 0, settings().max_body_bytes)
    if len(body.encode() if isinstance(body, str) else body) > limit:
        return _refuse(
            PayloadTooLarge(f"the request body is larger than {limit} bytes", details={"limit_bytes": limit})
        )
    if body:
        declared = _content_type(event)
        if declared is None:
            _set_json_content_type(event)  # curl -d and many clients send JSON without saying so
        elif "json" not in declared and not (forms and declared == FORM):
            return _refuse(
                BadRequest(
                    f"Content-Type: send the body as application/json, not {declared}",
                    details=[{"field": "Content-Type", "message": "must be application/json"}],
                    code="unsupported_media_type",
                )
            )
        if event.get("isBase64Encoded") and not _is_utf8(body):
            # A body that is not UTF-8 arrives base64-encoded; Powertools' decoding of it would
            # raise (a 502): it is no JSON (RFC 8259) and no form we wrote. Found by the fuzzer.
            return _refuse(
                InvalidJson("the request body is not UTF-8 text", details=[{"field": "body", "message": "not UTF-8"}])
            )
    return app.resolve(event, context)


def _is_utf8(encoded: str) -> bool:
    try:
        base64.b64decode(encoded, validate=True).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
        return False
    return True


def _content_type(event: dict[str, Any]) -> str | None:
    for name, value in (event.get("headers") or {}).items():
        if name.lower() == "content-type" and value:
            # curl -d without -H says form-urlencoded; a JSON object body is what it means
            if value.startswith("application/x-www-form-urlencoded") and str(event.get("body", "")).lstrip()[:1] == "{":
                return None
            return value.split(";")[0].strip().lower()
    return None


def _set_json_content_type(event: dict[str, Any]) -> None:
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    event["headers"] = headers | {"Content-Type": "application/json"}
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    event["multiValueHeaders"] = multi | {"Content-Type": ["application/json"]}


def _refuse(error: TicketflowError) -> dict[str, Any]:
    response = error_response(error)
    return {
        "statusCode": response.status_code,
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "body": response.body,
        "isBase64Encoded": False,
    }
