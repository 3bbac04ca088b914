"""GET and POST /surveys/{token}: the public survey page (no login: the link is the credential).

A browser gets HTML and posts the form (``application/x-www-form-urlencoded``). An app that
draws its own form posts JSON and gets JSON, with the API's usual error body. GET never
records anything.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import Router
from pydantic import ValidationError

from ticketflow.errors import BadRequest, TicketflowError
from ticketflow.http.app import validation_error
from ticketflow.surveys import answers, page
from ticketflow.surveys.rules import rules

router = Router()

_STATUS = {"unknown": 404, "expired": 410, "answered": 200}  # GET: an answered link is no error
_FIELDS = ("attitude", "speed", "resolution", "overall", "nps", "comment")


def _html(status: int, body: str) -> Response:
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=body, headers=page.HEADERS)


def _json(status: int, body: Any) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, ensure_ascii=False),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _language(link: answers.Link) -> str:
    event = router.current_event
    return page.language(event.get_query_string_value("lang"), link.language, event.headers.get("accept-language"))


def _wants_json() -> bool:
    event = router.current_event
    content_type = (event.headers.get("content-type") or "").lower()
    accept = (event.headers.get("accept") or "").lower()
    return "json" in content_type or (accept.startswith("application/json") and "text/html" not in accept)


def _refusal(error: TicketflowError, lang: str, as_json: bool) -> Response:
    if as_json:
        return _json(error.status, error.to_body())
    kind = {404: "unknown", 410: "expired", 409: "answered"}.get(error.status)
    if kind is None:
        raise error
    return _html(error.status, page.message(lang, kind))


@router.get("/surveys/<token>", summary="The survey page (HTML)", tags=["surveys"])
def survey_page(token: str):  # untyped on purpose: Powertools would model a Response
    """Opening the link records nothing; an answered, expired or unknown link says so.
    `?lang=zh|en` chooses the language (default: the customer's)."""
    link = answers.open_link(token)
    lang = _language(link)
    if link.state != "open":
        return _html(_STATUS[link.state], page.message(lang, link.state))
    return _html(200, page.form(lang, number=link.number or "", ask_nps=rules().ask_nps))


@router.post("/surveys/<token>", summary="Answer a survey", tags=["surveys"])
def answer_survey(token: str):  # untyped: as above
    """A form post (HTML answer) or JSON (JSON answer). Stored once: a second answer is a 409,
    an expired link a 410, an unknown one a 404, an invalid field a 422 that names it."""
    event = router.current_event
    as_json = _wants_json()
    link = answers.open_link(token)
    lang = _language(link)
    try:
        answers.refuse_unless_open(link)
        if as_json:
            try:
                values: dict[str, Any] = json.loads(event.decoded_body or "null")
            except ValueError as error:
                raise BadRequest("the request body is not valid JSON", code="invalid_json") from error
            if not isinstance(values, dict):
                raise BadRequest("the body must be a JSON object", code="invalid_json")
        else:
            # Only the form's own fields; empty ones (no NPS chosen, no comment) are absent.
            pairs = parse_qsl(event.decoded_body or "", keep_blank_values=False)
            values = {name: value for name, value in pairs if name in _FIELDS}
        answer = answers.SurveyAnswer.model_validate(values)
        answers.submit(token, answer, link=link)
    except TicketflowError as error:
        return _refusal(error, lang, as_json)
    except ValidationError as error:
        if as_json:
            return _refusal(validation_error(error.errors(include_url=False)), lang, as_json)
        errors = page.field_errors(lang, list(error.errors(include_url=False)), values)
        body = page.form(lang, number=link.number or "", ask_nps=rules().ask_nps, values=values, errors=errors)
        return _html(422, body)
    if as_json:
        return _json(200, {"state": "answered"})
    return _html(200, page.message(lang, "thanks"))
