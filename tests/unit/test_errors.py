"""Every error code maps to its status and the one error body shape."""

from __future__ import annotations

import json

import pytest

from ticketflow import errors
from ticketflow.http.app import _field, error_response, validation_error

ALL = [
    (errors.BadRequest, 400, "bad_request"),
    (errors.InvalidJson, 400, "invalid_json"),
    (errors.Unauthorized, 401, "unauthorized"),
    (errors.Forbidden, 403, "forbidden"),
    (errors.NotFound, 404, "not_found"),
    (errors.Conflict, 409, "conflict"),
    (errors.IllegalTransition, 409, "illegal_transition"),
    (errors.ConcurrentUpdate, 409, "concurrent_update"),
    (errors.StaleVersion, 409, "stale_version"),
    (errors.IdempotencyInProgress, 409, "idempotency_in_progress"),
    (errors.SurveyAnswered, 409, "survey_already_answered"),
    (errors.Gone, 410, "gone"),
    (errors.PreconditionRequired, 428, "precondition_required"),
    (errors.PayloadTooLarge, 413, "payload_too_large"),
    (errors.ValidationFailed, 422, "validation_error"),
    (errors.IdempotencyKeyReused, 422, "idempotency_key_reused"),
    (errors.RateLimited, 429, "rate_limited"),
    (errors.ServiceUnavailable, 503, "service_unavailable"),
]


@pytest.mark.parametrize(("cls", "status", "code"), ALL)
def test_each_error_has_a_stable_code_and_status(cls, status, code):
    response = error_response(cls("it went wrong", details={"x": 1}))
    assert response.status_code == status
    assert isinstance(response.body, str)
    assert json.loads(response.body) == {"error": {"code": code, "message": "it went wrong", "details": {"x": 1}}}


def test_every_error_class_is_covered():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    defined = {c for c in subclasses(errors.TicketflowError) if c.__module__ == "ticketflow.errors"}
    assert defined == {cls for cls, _, _ in ALL}


def test_validation_errors_name_the_field():
    error = validation_error(
        [
            {"loc": ("body", "customer", "id"), "msg": "Field required", "type": "missing"},
            {"loc": ("query", "limit"), "msg": "too big", "type": "less_than_equal"},
        ]
    )
    assert error.status == 422
    assert [d["field"] for d in error.details] == ["customer.id", "limit"]
    assert error.message == "customer.id: Field required; limit: too big"
    assert _field(("body",)) == "body"


def test_invalid_json_is_a_400():
    error = validation_error([{"loc": ("body", 12), "msg": "JSON decode error", "type": "json_invalid"}])
    assert (error.status, error.code) == (400, "invalid_json")
