"""A ticket's whole life over HTTP against `ticketflow dev`, as a channel and people use it."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e

AGENT_1 = ("agent-1", "agent")
AGENT_2 = ("agent-2", "agent")
SUPERVISOR = ("sup-1", "supervisor")

NEW_TICKET = {
    "channel": "chat",
    "customer": {"id": "C-2001", "name": "李雷", "email": "li.lei@example.com", "phone": "+8613900000000"},
    "subject": "收到的商品有破损",
    "description": "昨天收到的杯子有裂缝，订单 SO778899，希望换货。",
    "order_number": "SO778899",
    "desired_resolution": "换货",
    "language": "zh-CN",
}


def test_a_ticket_from_channel_to_close_and_reopen(local_stack):
    s = local_stack
    created = s.request("POST", "/tickets", channel=True, json=NEW_TICKET, headers={"Idempotency-Key": "chat-msg-1"})
    assert created.status_code == 201, created.text
    ticket = created.json()
    tid = ticket["id"]
    assert ticket["status"] == "new" and ticket["number"].startswith("CS")
    assert created.headers["Location"] == f"/tickets/{tid}"

    # the channel retries: same ticket, not a second one
    replay = s.request("POST", "/tickets", channel=True, json=NEW_TICKET, headers={"Idempotency-Key": "chat-msg-1"})
    assert replay.status_code == 201 and replay.json()["id"] == tid

    # triage routes the damaged cup to after-sales and picks an agent there
    deadline = time.monotonic() + 5
    while (ticket := s.request("GET", f"/tickets/{ticket['number']}", as_=SUPERVISOR).json())["assignee"] is None:
        assert time.monotonic() < deadline, ticket
        time.sleep(0.1)
    assert ticket["description"] == NEW_TICKET["description"] and ticket["team"] == "aftersales"
    owner = (ticket["assignee"], "agent")

    def act(action: str, who: tuple[str, str], body: dict | None = None, expect: int = 200) -> dict:
        response = s.request("POST", f"/tickets/{tid}/{action}", as_=who, json=body)
        assert response.status_code == expect, (action, response.status_code, response.text)
        return response.json()

    # an agent of another team may not touch it
    assert act("accept", AGENT_2, expect=403)["error"]["code"] == "forbidden"
    assert act("accept", owner)["status"] == "in_progress"
    assert act("reply", owner, {"body": "您好，非常抱歉，我们马上为您处理换货。"})["first_response_at"]
    act("comments", owner, {"body": "内部备注：客户想先了解新款，转售前"})
    moved = act("transfer", owner, {"team": "presales", "agent": "agent-1", "reason": "客户想换购新款，转售前"})
    assert (moved["team"], moved["assignee"], moved["status"]) == ("presales", "agent-1", "assigned")

    # the previous owner is off it now; only supervisors assign
    assert act("resolve", owner, {"result": "x"}, expect=403)["error"]["code"] == "forbidden"
    assert act("assign", AGENT_1, {"agent": "agent-2", "reason": "x"}, expect=403)["error"]["code"] == "forbidden"

    assert act("accept", AGENT_1)["status"] == "in_progress"
    assert act("resolve", AGENT_1, {"result": "已安排换购新款，明天送达"})["status"] == "resolved"
    # wrong state: a resolved ticket cannot be accepted
    error = act("accept", AGENT_1, expect=409)["error"]
    assert error["code"] == "illegal_transition" and "resolved" in error["message"]
    assert act("close", AGENT_1, {"reason": "resolved"})["status"] == "closed"
    assert act("reopen", AGENT_1, {"reason": "客户反馈新杯子也有问题"})["status"] == "in_progress"

    history = s.request("GET", f"/tickets/{tid}", as_=SUPERVISOR).json()["history"]
    steps = [(h["action"], h["actor"]["id"]) for h in history]
    assert steps[:2] == [("create", "local-demo-key"), ("classify", "classifier")]
    assert ("assign", "assignment") in steps
    assert steps[-8:] == [
        ("accept", owner[0]),
        ("reply", owner[0]),
        ("comment", owner[0]),
        ("transfer", owner[0]),
        ("accept", "agent-1"),
        ("resolve", "agent-1"),
        ("close", "agent-1"),
        ("reopen", "agent-1"),
    ]
    transfer = next(h for h in history if h["action"] == "transfer")
    assert transfer["reason"] == "客户想换购新款，转售前"
    assert [h["to_status"] for h in history][-3:] == ["resolved", "closed", "in_progress"]

    listed = s.request("GET", "/tickets", as_=AGENT_1, params={"team": "presales", "status": "in_progress"}).json()
    assert tid in [t["id"] for t in listed["items"]]


def test_bad_requests_are_refused_naming_the_field(local_stack):
    s = local_stack
    missing = dict(NEW_TICKET, customer={"id": "C-1"})
    response = s.request("POST", "/tickets", channel=True, json=missing)
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == ["customer.name"]

    response = s.request(
        "POST", "/tickets", channel=True, data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"

    big = dict(NEW_TICKET, description="长" * 30_000)
    response = s.request("POST", "/tickets", channel=True, json=big)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"

    response = s.request("POST", "/tickets", json=NEW_TICKET)  # no API key
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    response = s.request("GET", "/tickets", headers={"Authorization": "Bearer forged.token.here"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"

    response = s.request("GET", "/tickets/does-not-exist", as_=SUPERVISOR)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_openapi_document_is_served(local_stack):
    response = local_stack.request("GET", "/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/tickets" in paths and "/tickets/{ticket_id}/transfer" in paths
