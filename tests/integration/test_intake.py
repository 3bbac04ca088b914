"""POST /tickets through the intake handler against the emulated table and queue."""

from __future__ import annotations

import re

from events.generate import api_event
from tests.conftest import drain
from tests.support import Api, invoke, new_ticket

api = Api()


def test_creates_a_numbered_ticket_in_status_new_and_queues_it(stack):
    status, ticket = api.post("/tickets", new_ticket())
    assert status == 201
    assert re.fullmatch(r"CS\d{8}\d{6}", ticket["number"])
    assert ticket["status"] == "new" and ticket["version"] == 1
    assert ticket["customer"]["tier"] == "standard"
    assert ticket["source_key_id"] == "key-web"
    messages = drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])
    assert [m["data"]["ticket_id"] for m in messages] == [ticket["id"]]
    assert messages[0]["type"] == "ticket.created"

    status, stored = api.get(f"/tickets/{ticket['id']}", as_="sup-1")
    assert status == 200
    assert [h["action"] for h in stored["history"]] == ["create"]
    assert stored["history"][0]["actor"] == {"kind": "channel", "id": "key-web", "role": None}


def test_numbers_are_unique_and_rise_within_a_container(stack):
    numbers = [api.post("/tickets", new_ticket())[1]["number"] for _ in range(5)]
    assert len(set(numbers)) == 5
    assert numbers == sorted(numbers)


def test_a_ticket_can_be_read_by_its_number(stack):
    _, ticket = api.post("/tickets", new_ticket())
    status, found = api.get(f"/tickets/{ticket['number']}", as_="sup-1")
    assert status == 200 and found["id"] == ticket["id"]
    status, body = api.get("/tickets/CS20000101999999", as_="sup-1")
    assert status == 404 and body["error"]["code"] == "not_found"


def test_replayed_idempotency_key_returns_the_same_ticket_once(stack):
    headers = {"Idempotency-Key": "order-SO1-attempt"}
    first = api.post("/tickets", new_ticket(), headers=headers)
    second = api.post("/tickets", new_ticket(), headers=headers)
    assert first[0] == second[0] == 201
    assert first[1]["id"] == second[1]["id"] and first[1]["number"] == second[1]["number"]
    assert len(drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])) == 1
    status, page = api.get("/tickets", as_="sup-1", query={"customer": "C-1"})
    assert status == 200 and len(page["items"]) == 1


def test_same_key_with_another_body_is_rejected(stack):
    headers = {"Idempotency-Key": "k-1"}
    assert api.post("/tickets", new_ticket(), headers=headers)[0] == 201
    status, body = api.post("/tickets", new_ticket(description="something else"), headers=headers)
    assert status == 422
    assert body["error"]["code"] == "idempotency_key_reused"
    assert body["error"]["details"][0]["field"] == "Idempotency-Key"


def test_the_same_key_from_two_channels_makes_two_tickets(stack):
    headers = {"Idempotency-Key": "1"}
    a = Api("key-web").post("/tickets", new_ticket(), headers=headers)[1]
    b = Api("key-app").post("/tickets", new_ticket(), headers=headers)[1]
    assert a["id"] != b["id"]


def test_missing_field_is_422_naming_it_and_nothing_is_written(stack):
    body = new_ticket()
    del body["customer"]["name"]
    status, error = api.post("/tickets", body)
    assert status == 422
    assert error["error"]["code"] == "validation_error"
    assert [d["field"] for d in error["error"]["details"]] == ["customer.name"]
    assert "customer.name" in error["error"]["message"]
    assert drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"]) == []
    assert api.get("/tickets", as_="sup-1", query={"customer": "C-1"})[1]["items"] == []


def test_unknown_and_malformed_fields_are_named(stack):
    status, error = api.post("/tickets", new_ticket(priority="P1", channel="pigeon"))
    assert status == 422
    assert {d["field"] for d in error["error"]["details"]} == {"priority", "channel"}
    status, error = api.post("/tickets", new_ticket(customer={"id": "C", "name": "n", "email": "not-an-email"}))
    assert status == 422 and error["error"]["details"][0]["field"] == "customer.email"


def test_bad_json_is_400(stack):
    status, error = api.post("/tickets", raw_body='{"channel": "web",')
    assert status == 400
    assert error["error"]["code"] == "invalid_json"


def test_oversized_body_is_413(stack):
    status, error = api.post("/tickets", new_ticket(description="很" * 40_000))
    assert status == 413
    assert error["error"]["code"] == "payload_too_large"
    assert drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"]) == []


def test_description_over_the_field_limit_is_422(stack):
    status, error = api.post("/tickets", new_ticket(description="x" * 20_001))
    assert status == 422 and error["error"]["details"][0]["field"] == "description"


def test_a_json_body_without_a_content_type_is_read_as_json(stack):
    for headers in ({"Content-Type": "application/x-www-form-urlencoded"}, {}):
        event = api_event("POST", "/tickets", auth="channel", body=new_ticket())
        del event["headers"]["Content-Type"], event["multiValueHeaders"]["Content-Type"]
        event["headers"] |= headers
        assert invoke("intake", event)["statusCode"] == 201


def test_a_body_that_is_not_json_is_refused_naming_the_header(stack):
    status, error = api.post("/tickets", raw_body="channel=web", headers={"Content-Type": "text/plain"})
    assert status == 400
    assert error["error"]["code"] == "unsupported_media_type"
    assert error["error"]["details"][0]["field"] == "Content-Type"
