"""Building a REST resolver, and the one place where errors become HTTP responses.

Every error body has the shape ``{"error": {"code", "message", "details"}}``. 4xx are logged
without a stack trace (they are the caller's doing), 5xx with one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer, SecurityScheme
from aws_lambda_powertools.event_handler.router import Router
from aws_lambda_powertools.shared.json_encoder import Encoder
from pydantic import ValidationError

from ticketflow import __version__
from ticketflow.config import settings
from ticketflow.errors import (
    BadRequest,
    InvalidJson,
    NotFound,
    PayloadTooLarge,
    TicketflowError,
    ValidationFailed,
)
from ticketflow.observability import logger

SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "channel_key": APIKey(name="x-api-key", in_=APIKeyIn.header, description="A channel's API key"),
    "bearer": HTTPBearer(bearerFormat="JWT", description="Cognito ID token (locally: `ticketflow token`)"),
}
# A route's `security`: the scheme names above, with no scopes.
CHANNEL: list[dict[str, list[str]]] = [{"channel_key": []}]
PERSON: list[dict[str, list[str]]] = [{"bearer": []}]


def error_response(error: TicketflowError) -> Response:
    if error.status >= 500:
        logger.exception("request failed", extra={"code": error.code})
    else:
        logger.info(
            "request refused", extra={"code": error.code, "status": error.status, "error_message": error.message}
        )
    return Response(
        status_code=error.status, content_type="application/json", body=json.dumps(error.to_body(), ensure_ascii=False)
    )


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
    return app.resolve(event, context)


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
