"""Erasing a closed ticket's personal data (POST /admin/tickets/{id}/erase) through the real
handlers, against moto and AWS's DynamoDB Local (``any_stack``).

A ticket goes through a whole life with a distinctive customer (name, email used as their
customer id, phone, an order number, a secret word in everything they write): intake with an
Idempotency-Key, classification and the automatic answer, a reply delivered by email, a note,
a wait for the customer, the resolution, the close, the survey emailed and answered with a low
score (which opens a service-recovery ticket), a what-if replay that samples it. Then an admin
erases it: afterwards no item anywhere in the table holds any of those values (the table is
scanned, compressed blobs included), the audit trail keeps every entry with who, when and
which status, the reports over the day are exactly what they were, listing by the customer
finds nothing, and a second erase changes nothing.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.ses.models import ses_backends

from tests.conftest import drain, sqs_batch
from tests.support import Api, invoke
from ticketflow import clock, runtime_config
from ticketflow.privacy import MARKER, redact_contacts

api = Api()
T0 = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Shanghai
DAY = "2026-11-10"
LINK = re.compile(r"/surveys/([A-Za-z0-9_-]+)")


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.at = T0
        monkeypatch.setattr(clock, "now", lambda: self.at)
        monkeypatch.setenv("TICKETFLOW_SURVEY_DELAY_SECONDS", "0")

    def tick(self, minutes: float = 1) -> None:
        self.at += timedelta(minutes=minutes)


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


class Customer:
    """Values that must be gone after erasure; unique per test (sent email outlives a table)."""

    def __init__(self) -> None:
        run = uuid.uuid4().hex[:8]
        digits = f"{uuid.uuid4().int % 10**8:08d}"
        self.name = "周小隐"
        self.email = f"zhou.{run}@example.org"
        self.phone = f"+86 139-{digits[:4]}-{digits[4:]}"
        self.national = f"139{digits}"
        self.order = f"SO-{run.upper()}"
        # A word only the customer wrote (letters: replays mask long numbers themselves).
        self.secret = "QX" + "".join(chr(ord("a") + int(c, 16)) for c in run)
        self.address = f"上海市静安区隐私路{digits[:3]}号"

    def needles(self) -> list[str]:
        return [self.name, self.email, self.email.split("@")[0], self.phone, self.order, self.secret, self.address]

    def anywhere(self, text: str) -> list[str]:
        """Which of them ``text`` holds, in any form (a phone number also as digits)."""
        digits = re.sub(r"\D", "", text)
        return [n for n in self.needles() if n in text] + ([self.national] if self.national in digits else [])

    def ticket(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "channel": "email",
            # A channel that knows customers by their address: searching by customer is by email.
            "customer": {"id": self.email, "name": self.name, "email": self.email, "phone": self.phone},
            "subject": f"{self.name}的发票开错了 {self.secret}",
            "description": f"我是{self.name}，订单{self.order}的发票抬头开错了，麻烦重新开一张。"
            f"电话 {self.phone}，邮箱 {self.email}。暗号 {self.secret}",
            "order_number": self.order,
            "desired_resolution": f"重新开票寄到{self.address}",
            "attachments": [{"url": f"https://files.example.com/{self.secret}/invoice.pdf", "name": "发票.pdf"}],
            "metadata": {"page_url": f"https://shop.example.com/account/{self.secret}"},
            "language": "zh-CN",
        }
        return body | overrides


def ok(response: tuple[int, Any], status: int = 200) -> Any:
    assert response[0] == status, response
    return response[1]


def act(tid: str, action: str, body: dict[str, Any] | None = None, who: str = "sup-1") -> dict[str, Any]:
    return ok(api.post(f"/tickets/{tid}/{action}", body or {}, as_=who))


def view(tid: str) -> dict[str, Any]:
    return ok(api.get(f"/tickets/{tid}", as_="sup-1"))


def erase(tid: str, reason: str = "the customer asked us to erase their data", who: str = "admin-1"):
    return api.post(f"/admin/tickets/{tid}/erase", {"reason": reason}, as_=who)


def reports() -> dict[str, Any]:
    query = {"from": DAY, "to": DAY}
    found = {kind: ok(api.get(f"/reports/{kind}", as_="sup-1", query=query)) for kind in ("summary", "agents")}
    found["surveys"] = ok(api.get("/reports/surveys", as_="sup-1", query={**query, "by": "agent"}))
    return {kind: {k: v for k, v in report.items() if k != "generated_at"} for kind, report in found.items()}


def table_text(stack: dict[str, str]) -> str:
    """Every item of the table as text, compressed blobs (replays, configuration) opened."""

    def plain(value: dict[str, Any]) -> Any:
        ((kind, data),) = value.items()
        if kind == "B":
            try:
                return zlib.decompress(data).decode()
            except zlib.error:
                return data.decode(errors="replace")
        if kind == "M":
            return {k: plain(v) for k, v in data.items()}
        if kind == "L":
            return [plain(v) for v in data]
        return data

    items, kwargs = [], {"TableName": stack["TICKETFLOW_TABLE_NAME"]}
    while True:
        page = boto3.client("dynamodb").scan(**kwargs)  # a Scan is fine in a test
        items += [{k: plain(v) for k, v in item.items()} for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return json.dumps(items, ensure_ascii=False, default=str)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def survey_link(address: str) -> str:
    sent = [
        m
        for backend in ses_backends.values()
        for region in backend.values()
        for m in region.sent_messages
        if address in m.destinations.get("ToAddresses", []) and LINK.search(m.body)
    ]
    assert len(sent) == 1, sent
    found = LINK.search(sent[0].body)
    assert found is not None
    return found.group(1)


def batch(messages: list[Any], queue: str = "classify") -> dict[str, Any]:
    return sqs_batch(messages, queue)


def dispatch_surveys(stack: dict[str, str]) -> None:
    messages = drain(stack["TICKETFLOW_QUEUE_SURVEY_URL"])
    if messages:
        assert invoke("survey_dispatch", batch(messages, "survey")) == {"batchItemFailures": []}


def lived(stack: dict[str, str], now: Clock, customer: Customer, *, key: str | None = None) -> str:
    """A ticket taken from intake to close (sup-1 works it, as a supervisor may any ticket)."""
    headers = {"Idempotency-Key": key} if key else None
    tid = ok(api.post("/tickets", customer.ticket(), headers=headers), 201)["id"]
    now.tick()
    assert invoke("classify", batch(drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"]))) == {"batchItemFailures": []}
    drain(stack["TICKETFLOW_QUEUE_ASSIGN_URL"])  # worked by hand below
    now.tick(5)
    act(tid, "accept")
    act(tid, "reply", {"body": f"{customer.name}您好，发票已重开，将寄到{customer.address}。"})
    assert invoke("deliver", batch(drain(stack["TICKETFLOW_QUEUE_OUTBOUND_URL"]), "outbound")) == {
        "batchItemFailures": []
    }
    act(tid, "comments", {"body": f"客户电话 {customer.phone}，暗号 {customer.secret}"})
    act(tid, "pending", {"reason": f"等{customer.name}确认抬头"})
    now.tick(30)
    act(tid, "resume", {"note": f"{customer.email} 已回复"})
    act(tid, "resolve", {"result": f"已为{customer.name}重开发票"})
    act(tid, "close", {"reason": "resolved"})
    dispatch_surveys(stack)
    return tid


# ---------------------------------------------------------------- the whole life, then erasure


def test_erasure_leaves_no_personal_data_anywhere_and_keeps_the_trail_and_the_figures(any_stack, now):
    stack, customer = any_stack, Customer()
    tid = lived(stack, now, customer, key=f"web-{customer.secret}")
    before = view(tid)
    assert before["auto_reply"]["state"] == "sent" and before["survey"]["state"] == "sent"
    assert [h["delivery"]["recipient"] for h in before["history"] if h["action"] == "reply"] == [
        f"z***@{customer.email.split('@')[1]}"
    ]

    # The customer answers the survey unhappily, quoting their phone: a recovery ticket opens.
    now.tick(10)
    token = survey_link(customer.email)
    low = {"attitude": 1, "speed": 2, "resolution": 1, "overall": 1, "nps": 2, "comment": f"太慢 {customer.phone}"}
    ok(api.post(f"/surveys/{token}", low, headers={"Content-Type": "application/json"}))
    rated = view(tid)
    recovery_number = rated["survey"]["recovery_ticket"]
    recovery = view(recovery_number)
    assert recovery["customer"]["email"] == customer.email and customer.phone in recovery["description"]

    # A what-if replay that moves the ticket to another team: its sample shows the subject.
    routing = copy.deepcopy(runtime_config.default("routing"))
    category = f"{rated['category']}/{rated['subcategory']}"
    routing["routes"][category] = "presales" if routing["routes"].get(category) != "presales" else "logistics"
    run = ok(
        api.post("/admin/simulations", {"proposal": {"routing": routing}, "from": DAY, "to": DAY}, as_="admin-1"), 202
    )
    while messages := drain(stack["TICKETFLOW_QUEUE_SIMULATE_URL"]):
        assert invoke("simulate", batch(messages, "simulate")) == {"batchItemFailures": []}
    samples = ok(api.get(f"/admin/simulations/{run['id']}", as_="admin-1"))["result"]["samples"]["team"]
    assert customer.secret in next(s["subject"] for s in samples if s["id"] == tid)

    # While the recovery ticket is open, the customer's data lives on there: close it first.
    refused = erase(tid)
    assert refused[0] == 409 and refused[1]["error"]["code"] == "recovery_ticket_open"
    assert refused[1]["error"]["details"] == {"recovery_ticket": recovery_number, "status": recovery["status"]}
    now.tick(5)
    for action, body in (("accept", None), ("resolve", {"result": "已致电致歉"}), ("close", {"reason": "resolved"})):
        act(recovery["id"], action, body, who=recovery["assignee"] or "sup-1")
    assert ok(api.get("/tickets", as_="sup-1", query={"customer": customer.email}))["items"] != []

    text = table_text(stack)
    assert customer.anywhere(text) == [*customer.needles(), customer.national]  # the test looks where it is
    figures = reports()
    trail = view(tid)["history"]

    now.tick(60)
    reason = f"{customer.name} asked by email ({customer.email}) to be forgotten"
    erased = ok(erase(tid, reason))

    # The ticket: personal values read [erased] or are gone; what reports and audits need stays.
    assert erased["customer"] == {"id": MARKER, "name": MARKER, "email": None, "phone": None, "tier": "standard"}
    for field in ("subject", "description", "desired_resolution", "order_number", "resolution"):
        assert erased[field] == MARKER, field
    assert erased["attachments"] == [] and erased["metadata"] == {}
    assert erased["erased_at"] == clock.iso(now.at) and erased["status"] == "closed"
    for field in ("number", "channel", "category", "subcategory", "priority", "team", "assignee", "created_at",
                  "first_response_at", "resolved_at", "closed_at", "close_reason", "reply_count", "handle_seconds",
                  "sla", "auto_reply", "first_contact_resolution"):  # fmt: skip
        assert erased[field] == rated[field], field
    survey = erased["survey"]
    assert (survey["comment"], survey["recipient"]) == (MARKER, MARKER)
    assert {k: survey[k] for k in ("state", "scores", "nps", "sent_at", "answered_at", "agent", "team")} == {
        k: rated["survey"][k] for k in ("state", "scores", "nps", "sent_at", "answered_at", "agent", "team")
    }

    # The audit trail: every entry stays (who, what, when, statuses), personal text erased, and
    # one more says who erased it, when and why (the reason's own mention of them erased too).
    history = erased["history"]
    assert len(history) == len(trail) + 1
    keep = ("at", "version", "action", "actor", "from_status", "to_status")
    assert [{k: h[k] for k in keep} for h in history[:-1]] == [{k: h[k] for k in keep} for h in trail]
    by_action = {h["action"]: h for h in history}
    assert by_action["reply"]["body"] == MARKER and by_action["comment"]["body"] == MARKER
    assert by_action["auto_reply"]["body"] == MARKER  # it greeted the customer by name
    assert by_action["pending"]["reason"] == f"等{MARKER}确认抬头"
    assert by_action["classify"]["body"] == trail[[h["action"] for h in trail].index("classify")]["body"]
    assert by_action["survey_sent"]["reason"] == f"satisfaction survey sent by email to {MARKER}"
    assert by_action["reply"]["delivery"]["recipient"] == MARKER and by_action["reply"]["delivery"]["state"] == "sent"
    last = history[-1]
    assert (last["action"], last["actor"], last["at"]) == (
        "erase",
        {"kind": "person", "id": "admin-1", "role": "admin"},
        erased["erased_at"],
    )
    assert last["reason"] == f"{MARKER} asked by email ({MARKER}) to be forgotten"
    assert (last["from_status"], last["to_status"]) == ("closed", "closed")

    # Its recovery ticket went with it; nothing anywhere in the table holds their data.
    recovered = view(recovery_number)
    assert recovered["erased_at"] and recovered["customer"]["name"] == MARKER and recovered["description"] == MARKER
    assert recovered["metadata"] == {"recovery_for": rated["number"], "recovery_for_id": tid}
    samples = ok(api.get(f"/admin/simulations/{run['id']}", as_="admin-1"))["result"]["samples"]["team"]
    assert next(s["subject"] for s in samples if s["id"] == tid) == MARKER
    text = table_text(stack)
    assert customer.anywhere(text) == []

    # Listing by the customer (their address) finds nothing; the day's figures are unchanged.
    assert ok(api.get("/tickets", as_="sup-1", query={"customer": customer.email}))["items"] == []
    assert reports() == figures

    # Again: the same answer, nothing more written. And the ticket can no longer be worked.
    assert ok(erase(tid, "again")) == erased
    assert view(tid) == erased
    for action, body in (("reopen", {"reason": "客户又来电"}), ("survey", {"reason": "再发一次"})):
        status, refusal = api.post(f"/tickets/{tid}/{action}", body, as_="sup-1")
        assert (status, refusal["error"]["code"]) == (409, "ticket_erased"), action

    # The channel retrying its first request gets the stored ticket, erased: not their details.
    replay = ok(api.post("/tickets", customer.ticket(), headers={"Idempotency-Key": f"web-{customer.secret}"}), 201)
    assert replay["id"] == tid and replay["customer"]["name"] == MARKER
    assert customer.anywhere(table_text(stack)) == []


# ---------------------------------------------------------------- who, which tickets, what input


def test_only_an_admin_erases_only_a_closed_ticket(any_stack, now):
    customer = Customer()
    tid = ok(api.post("/tickets", customer.ticket()), 201)["id"]
    number = view(tid)["number"]
    for who in ("agent-1", "sup-1"):
        status, body = erase(tid, who=who)
        assert (status, body["error"]["code"]) == (403, "forbidden"), who
    status, body = erase(tid)
    assert (status, body["error"]["code"]) == (409, "illegal_transition")
    assert body["error"]["details"] == {"action": "erase", "status": "new", "allowed_from": ["closed"]}
    act(tid, "accept")
    act(tid, "close", {"reason": "duplicate"})
    assert erase(number)[0] == 200  # by number too
    assert view(tid)["customer"]["name"] == MARKER
    for unknown in (str(uuid.uuid4()), "CS20261110999999"):
        status, body = erase(unknown)
        assert (status, body["error"]["code"]) == (404, "not_found"), unknown


def test_the_reason_is_required_and_bounded(stack):
    for body, field in (
        ({}, "reason"),
        ({"reason": "  "}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": "r", "why": 1}, "why"),
    ):
        status, answer = api.post(f"/admin/tickets/{uuid.uuid4()}/erase", body, as_="admin-1")
        assert status == 422 and answer["error"]["details"][0]["field"] == field, (body, answer)


def test_a_waiting_survey_is_cancelled_and_a_sent_link_can_no_longer_be_answered(any_stack, now, monkeypatch):
    stack = any_stack
    # Closed with the survey still waiting (an hour's delay): erasure cancels it, nothing goes out.
    monkeypatch.setenv("TICKETFLOW_SURVEY_DELAY_SECONDS", "3600")
    waiting = Customer()
    tid = ok(api.post("/tickets", waiting.ticket()), 201)["id"]
    act(tid, "accept")
    act(tid, "resolve", {"result": "done"})
    assert act(tid, "close", {"reason": "resolved"})["survey"]["state"] == "scheduled"
    erased = ok(erase(tid))
    assert erased["survey"]["state"] == "cancelled" and erased["survey"]["reason"].startswith("the customer's personal")
    now.tick(90)
    invoke("sweep", {})  # the sweep finds nothing owed on it (the by_due index dropped it)
    dispatch_surveys(stack)
    assert view(tid)["survey"]["state"] == "cancelled"
    assert not [
        m
        for b in ses_backends.values()
        for r in b.values()
        for m in r.sent_messages
        if waiting.email in str(m.destinations)
    ]

    # Surveyed already: the link now says it has expired, and records nothing.
    monkeypatch.setenv("TICKETFLOW_SURVEY_DELAY_SECONDS", "0")
    sent = Customer()
    tid = ok(api.post("/tickets", sent.ticket()), 201)["id"]
    act(tid, "accept")
    act(tid, "resolve", {"result": "done"})
    act(tid, "close", {"reason": "resolved"})
    dispatch_surveys(stack)
    token = survey_link(sent.email)
    ok(erase(tid))
    answer = {"attitude": 5, "speed": 5, "resolution": 5, "overall": 5, "comment": f"我是{sent.name}"}
    status, body = api.post(f"/surveys/{token}", answer, headers={"Content-Type": "application/json"})
    assert (status, body["error"]["code"]) == (410, "survey_expired")
    assert view(tid)["survey"]["state"] == "sent" and sent.name not in table_text(stack)


def test_a_recovery_ticket_still_owed_holds_the_erasure_back(stack, now, monkeypatch):
    from ticketflow.surveys import recovery

    customer = Customer()
    tid = ok(api.post("/tickets", customer.ticket()), 201)["id"]
    for action, body in (("accept", None), ("resolve", {"result": "done"}), ("close", {"reason": "resolved"})):
        act(tid, action, body)
    dispatch_surveys(stack)
    token = survey_link(customer.email)

    def down(rated: Any) -> None:
        raise RuntimeError("the first attempt to open the recovery ticket fails")

    with monkeypatch.context() as broken:
        broken.setattr(recovery, "open_for", down)
        low = {"attitude": 1, "speed": 1, "resolution": 1, "overall": 1}
        ok(api.post(f"/surveys/{token}", low, headers={"Content-Type": "application/json"}))
    assert view(tid)["survey"]["recovery"] == "pending"
    status, body = erase(tid)
    assert (status, body["error"]["code"], body["error"]["details"]) == (
        409,
        "recovery_ticket_open",
        {"recovery_ticket": None, "status": "pending"},
    )
    now.tick(2)
    invoke("sweep", {})  # opens the recovery ticket it owes
    status, body = erase(tid)
    assert (status, body["error"]["code"], body["error"]["details"]["status"]) == (
        409,
        "recovery_ticket_open",
        "assigned",
    )


# ---------------------------------------------------------------- contacts in texts we emit


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("no ticket wang.fang@example.com", "no ticket [email]"),
        ("no active person 'z***@example.org'", "no active person '[email]'"),
        ("call +86 139-1234-5678 or 13912345678 or 0086 13912345678", "call [phone] or [phone] or [phone]"),
        ("电话13912345678请回电", "电话[phone]请回电"),
        ("+1 (415) 555-0100", "[phone]"),
        # Not contacts: dates and times, ticket numbers, order numbers, UUIDs, sizes, versions.
        ("from 2026-11-10 to 2026-11-24T09:00:00+08:00", None),
        ("ticket CS20261110000001 and order 2024031000123", None),
        ("ticket 0b6f0c3e-5d0b-4f43-9d5e-13912345678a is closed", None),
        ("larger than 1048576 bytes; version 12", None),
    ],
)
def test_contacts_are_redacted_and_nothing_else(text, redacted):
    assert redact_contacts(text) == (redacted or text)
