"""A ticket's whole life over HTTP against `ticketflow dev`, as a channel and people use it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

AGENT_1 = ("agent-1", "agent")
AGENT_2 = ("agent-2", "agent")
AGENT_3 = ("agent-3", "agent")
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

    read = s.request("GET", f"/tickets/{ticket['number']}", as_=AGENT_1)
    assert read.status_code == 200 and read.json()["description"] == NEW_TICKET["description"]

    def act(action: str, who: tuple[str, str], body: dict | None = None, expect: int = 200) -> dict:
        response = s.request("POST", f"/tickets/{tid}/{action}", as_=who, json=body)
        assert response.status_code == expect, (action, response.status_code, response.text)
        return response.json()

    assert act("accept", AGENT_1)["status"] == "in_progress"
    assert act("reply", AGENT_1, {"body": "您好，非常抱歉，我们马上为您处理换货。"})["first_response_at"]
    act("comments", AGENT_1, {"body": "内部备注：质量问题，需要售后组处理"})
    moved = act("transfer", AGENT_1, {"team": "aftersales", "agent": "agent-3", "reason": "质量问题转售后"})
    assert (moved["team"], moved["assignee"], moved["status"]) == ("aftersales", "agent-3", "assigned")

    # agent-1 is no longer on it; agent-2 (presales) never was
    error = act("resolve", AGENT_2, {"result": "x"}, expect=403)["error"]
    assert error["code"] == "forbidden"
    assert act("assign", AGENT_3, {"agent": "agent-4", "reason": "x"}, expect=403)["error"]["code"] == "forbidden"

    assert act("accept", AGENT_3)["status"] == "in_progress"
    assert act("resolve", AGENT_3, {"result": "已安排换货，新杯子明天送达"})["status"] == "resolved"
    # wrong state: a resolved ticket cannot be accepted
    error = act("accept", AGENT_3, expect=409)["error"]
    assert error["code"] == "illegal_transition" and "resolved" in error["message"]
    assert act("close", AGENT_3, {"reason": "resolved"})["status"] == "closed"
    assert act("reopen", AGENT_3, {"reason": "客户反馈新杯子也有问题"})["status"] == "in_progress"

    history = s.request("GET", f"/tickets/{tid}", as_=SUPERVISOR).json()["history"]
    assert [(h["action"], h["actor"]["id"]) for h in history] == [
        ("create", "local-demo-key"),
        ("accept", "agent-1"),
        ("reply", "agent-1"),
        ("comment", "agent-1"),
        ("transfer", "agent-1"),
        ("accept", "agent-3"),
        ("resolve", "agent-3"),
        ("close", "agent-3"),
        ("reopen", "agent-3"),
    ]
    assert history[4]["reason"] == "质量问题转售后"
    assert [h["to_status"] for h in history][-3:] == ["resolved", "closed", "in_progress"]

    listed = s.request("GET", "/tickets", as_=AGENT_3, params={"team": "aftersales", "status": "in_progress"}).json()
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
