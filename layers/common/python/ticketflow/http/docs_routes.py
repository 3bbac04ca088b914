"""GET /openapi.json: the contract of the whole HTTP API (every function's routes)."""

import json
from functools import cache

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import Router
from pydantic import BaseModel

router = Router()


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: object = None


class ErrorBody(BaseModel):
    """Every error response: a stable machine code, a message for people, details (fields)."""

    error: ErrorDetail


_ERRORS = {
    "400": "Malformed request (invalid JSON, a bad cursor)",
    "401": "No valid credential",
    "403": "Not allowed for this caller",
    "404": "No such ticket or route",
    "409": "The ticket's state does not allow this, or it changed meanwhile",
    "413": "Request body too large",
    "422": "A field is missing or invalid; details name it",
    "429": "Too many requests",
}


def _with_error_responses(document: dict) -> dict:
    """Powertools documents its own 422 shape; ours is ErrorBody for every 4xx, so say so."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs"))
    schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for item in document["paths"].values():
        for operation in item.values():
            for status, description in _ERRORS.items():
                operation["responses"][status] = {"description": description, "content": ref}
            # A change that must name the version it was made on answers 428 without it.
            if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in operation.get("parameters", [])):
                operation["responses"]["428"] = {"description": "If-Match is missing", "content": ref}
    return document


def _with_survey_bodies(document: dict) -> dict:
    """The survey routes read their body by hand (a form or JSON) and answer HTML to browsers."""
    from ticketflow.surveys.answers import SurveyAnswer

    schemas = document["components"]["schemas"]
    schemas["SurveyAnswer"] = SurveyAnswer.model_json_schema(ref_template="#/components/schemas/{model}")
    ref = {"schema": {"$ref": "#/components/schemas/SurveyAnswer"}}
    html = {"text/html": {"schema": {"type": "string"}}}
    page = document["paths"]["/surveys/{token}"]
    page["get"]["responses"]["200"] = {"description": "The survey form, or 'already answered'", "content": html}
    page["get"]["responses"]["410"] = {"description": "The link has expired", "content": html}
    # A token no link can have (say with an encoded "?") matches no route: the JSON error body.
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    page["get"]["responses"]["404"] = {"description": "No such link", "content": {**html, **error}}
    answer = page["post"]
    answer["requestBody"] = {
        "required": True,
        "content": {"application/x-www-form-urlencoded": ref, "application/json": ref},
    }
    answer["responses"]["200"] = {
        "description": 'Stored: a thank-you page (HTML), or {"state": "answered"} to JSON',
        "content": {**html, "application/json": {"schema": {"type": "object"}}},
    }
    # A form post is answered with a page, a JSON post with the error body.
    refusals = {
        "404": "No such link",
        "409": "Already answered",
        "410": "The link has expired",
        "422": "An answer is missing or invalid: the form again, errors beside their question (HTML), or the fields",
    }
    for status, description in refusals.items():
        answer["responses"][status] = {"description": description, "content": {**html, **error}}
    for operation in page.values():
        operation["responses"].pop("401", None)  # public: the link is the credential
        operation["responses"].pop("403", None)
    return document


def _with_report_formats(document: dict) -> dict:
    """The reports answer JSON, or CSV to `Accept: text/csv` (their handlers return either);
    the dashboard's page and assets are static and public: no 401/403/409/413/422."""
    for path, item in document["paths"].items():
        if path.startswith("/dashboard"):
            for status in ("401", "403", "409", "413", "422"):
                item["get"]["responses"].pop(status, None)
    for path, item in document["paths"].items():
        if path.startswith("/reports/") and path != "/reports/definitions":
            item["get"]["responses"]["200"] = {
                "description": "The report (JSON), or its rows as CSV (UTF-8 with a BOM, for spreadsheets)",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
    return document


@cache
def document() -> str:
    from ticketflow.http import (
        agent_routes,
        app,
        config_routes,
        dashboard_routes,
        intake_routes,
        privacy_routes,
        report_routes,
        simulation_routes,
        survey_routes,
        ticket_routes,
    )

    generated = app.create_app(
        intake_routes.router,
        ticket_routes.router,
        agent_routes.router,
        survey_routes.router,
        report_routes.router,
        dashboard_routes.router,
        config_routes.router,
        simulation_routes.router,
        privacy_routes.router,
    ).get_openapi_json_schema()
    return json.dumps(
        _with_report_formats(_with_survey_bodies(_with_error_responses(json.loads(generated)))), ensure_ascii=False
    )


@router.get("/openapi.json", include_in_schema=False)
def openapi():  # untyped on purpose: the body is already JSON text
    return Response(status_code=200, content_type="application/json", body=document())
