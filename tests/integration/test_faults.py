"""Faults injected under the real handlers: throttled and conflicting DynamoDB writes, SES and
SNS failures, a crash between the write and the enqueue, poison messages, duplicate deliveries,
a Lambda killed mid-batch, and dead letters driven back.

Faults go in at the SDK's transport (``tests/faults.py``): the clients the functions use get
the service's own error answers, so the SDK's retries run as on AWS, and queues are polled
through the handlers by a poller that keeps Lambda's event-source rules (partial batch
failures, whole-batch redelivery when an invocation fails, dead-lettering after
maxReceiveCount). After every scenario ``audit`` checks what must hold whatever happened: no
ticket lost or duplicated, numbers unique, each agent's load equal to their active tickets,
the day's report counters equal to what the tickets say, and the email and SMS sent counted
per recipient. The faults fired are written to ``artifacts/faults-summary.json``.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from moto.sns.models import sns_backends

from tests import faults, support
from tests.conftest import sent_email
from tests.faults import Poller
from tests.support import Api, live_version, new_ticket, nobody_free
from ticketflow import clock, sweep
from ticketflow.directory import DEMO_PEOPLE, Role
from ticketflow.models import OPEN_STATUSES, Status, SurveyState, Ticket
from ticketflow.storage import directory as directory_store
from ticketflow.storage import stats
from ticketflow.storage import tickets as ticket_store

api = Api()
SUMMARY = Path(__file__).resolve().parents[2] / "artifacts" / "faults-summary.json"
HOURS = "请问你们客服几点上班？营业时间是几点到几点"  # presales, answered from the knowledge base
WHERE = "你好，我的订单2024031000123到哪了？物流信息查不到"  # logistics, answered with the order's status
ALLERGY = "吃了你们的保健品后全身过敏起疹子，已经去医院了！"  # aftersales P1: no canned answer, sup-1 told
QUESTION = "这款耳机支持降噪吗？"  # presales P3, no article: a person answers
SUP = "sup-1@ticketflow.example"
AGENTS = [p.id for p in DEMO_PEOPLE if p.role is Role.AGENT]
ACTIVE = {Status.ASSIGNED, Status.IN_PROGRESS}


# --- the run's record of faults -----------------------------------------------------------------

_RUN: dict[str, Any] = {"tests": {}}


@pytest.fixture(autouse=True)
def record_faults(request: pytest.FixtureRequest):
    """Collect the faults each test injected and whether its audit held afterwards."""
    start = len(faults.LEDGER)
    _RUN["current"] = {"faults": [], "held": False}
    yield
    entry = _RUN.pop("current")
    entry["faults"] = faults.LEDGER[start:]
    _RUN["tests"][request.node.name] = entry


@pytest.fixture(scope="module", autouse=True)
def summary(request: pytest.FixtureRequest):
    yield
    tests = _RUN["tests"]
    if not tests:
        return
    backend = request.config.getoption("dynamodb", default="moto")
    backend = "dynamodb-local" if backend == "local" else backend
    worker = getattr(request.config, "workerinput", None)
    run_id = worker["testrunuid"] if worker else _RUN.setdefault("id", uuid.uuid4().hex)
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    # Workers of one xdist run each hold some of the tests: merge under a lock.
    with open(Path(tempfile.gettempdir()) / "ticketflow-faults-summary.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            document = json.loads(SUMMARY.read_text())
        except (OSError, ValueError):
            document = {}
        section = document.setdefault("backends", {}).get(backend) or {}
        if section.get("run") != run_id:
            section = {"run": run_id, "tests": {}}
        section["tests"].update(tests)
        section["totals"] = _totals(section["tests"])
        document["backends"][backend] = section
        document["about"] = (
            "Faults injected by tests/integration/test_faults.py at the AWS SDK's transport (tests/faults.py): "
            "per test, each injection (service, operation, error, requests matched, faults fired, the back-off "
            "the SDK meant to sleep) and whether every invariant held afterwards."
        )
        SUMMARY.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    totals = document["backends"][backend]["totals"]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and worker is None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"\nfaults ({backend}): {totals['faults_fired']} injected in {totals['scenarios']} scenarios, "
                f"invariants held after {totals['held']}; by error: {totals['by_error']} → {SUMMARY}"
            )


def _totals(tests: dict[str, Any]) -> dict[str, Any]:
    by_error: Counter[str] = Counter()
    by_service: Counter[str] = Counter()
    for entry in tests.values():
        for fault in entry["faults"]:
            by_error[fault["error"]] += fault["fired"]
            by_service[fault["service"]] += fault["fired"]
    return {
        "scenarios": len(tests),
        "held": sum(1 for e in tests.values() if e["held"]),
        "injections": sum(len(e["faults"]) for e in tests.values()),
        "faults_fired": sum(by_error.values()),
        "by_error": dict(sorted(by_error.items())),
        "by_service": dict(sorted(by_service.items())),
    }


# --- helpers ------------------------------------------------------------------------------------


def customer(channel_contact: str = "email") -> dict[str, str]:
    """A customer of their own, so that what they were sent can be counted."""
    tag = uuid.uuid4().hex[:10]
    found = {"id": f"C-{tag}", "name": "王芳"}
    if channel_contact == "email":
        found["email"] = f"c{tag}@example.com"
    else:
        found["phone"] = f"+86139{int(tag[:8], 16) % 10**8:08d}"
    return found


def open_ticket(description: str, *, key: str | None = None, **fields: Any) -> dict:
    fields.setdefault("customer", customer())
    body = new_ticket(description=description, subject=None, order_number=None, **fields)
    status, created = api.post("/tickets", body, headers={"Idempotency-Key": key} if key else None)
    assert status == 201, created
    return created


def poller(stack: dict[str, str], queue: str) -> Poller:
    function = {"classify": "classify", "assign": "assign", "outbound": "deliver", "survey": "survey_dispatch"}[queue]
    return Poller(function, stack[f"TICKETFLOW_QUEUE_{queue.upper()}_URL"])


def run_stages(stack: dict[str, str], *queues: str) -> None:
    """Poll each queue empty, in order (a stage's output feeds the next)."""
    for queue in queues:
        poller(stack, queue).drain()


def waiting(stack: dict[str, str], queue: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack[f"TICKETFLOW_QUEUE_{queue.upper()}_URL"], AttributeNames=["All"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


_EARLIER = {"mails": 0}


@pytest.fixture(autouse=True)
def only_this_tests_mail():
    """moto keeps every mail of the process, and ticket numbers repeat from test to test."""
    _EARLIER["mails"] = len(sent_email())


def emails_to(address: str | None) -> list[Any]:
    assert address is not None
    return [m for m in sent_email()[_EARLIER["mails"] :] if address in m.destinations.get("ToAddresses", [])]


def sms_to(number: str) -> list[str]:
    return [text for phone, text in sns_backends["123456789012"]["us-east-1"].sms_messages.values() if phone == number]


T = TypeVar("T")


def part(value: T | None) -> T:
    """A part of a ticket (its survey, its automatic answer) that the test knows is there."""
    assert value is not None
    return value


def ticket(tid: str) -> Ticket:
    found = ticket_store.get(tid)
    assert found is not None
    return found


def actions(tid: str) -> Counter[str]:
    return Counter(entry.action for entry in ticket_store.get_with_history(tid)[1])


def all_tickets() -> list[Ticket]:
    """Every ticket in the table (each test has a table of its own), through the status index."""
    found: list[Ticket] = []
    for status in Status:
        cursor = None
        while True:
            page, cursor = ticket_store.list_by("by_status", f"STATUS#{status.value}", limit=100, cursor=cursor)
            found += page
            if not cursor:
                break
    return found


def audit(*, tickets: int) -> list[Ticket]:
    """What must hold after any fault: nothing lost or duplicated, loads and counters exact."""
    found = all_tickets()
    ids, numbers = [t.id for t in found], [t.number for t in found]
    assert len(found) == tickets, f"{len(found)} tickets in the table, {tickets} expected"
    assert len(set(ids)) == len(ids) and len(set(numbers)) == len(numbers)
    assert all(ticket_store.id_for_number(t.number) == t.id for t in found)
    # Each agent's load is their tickets assigned or in progress, exactly.
    loads = {agent: state.load for agent, state in directory_store.agent_states(AGENTS).items()}
    assert loads == {a: sum(1 for t in found if t.assignee == a and t.status in ACTIVE) for a in AGENTS}
    # The counters of the days since the first ticket say what the tickets say.
    first = min((stats.business_day(t.created_at) for t in found), default=stats.business_day(clock.now()))
    day: Counter[str] = Counter()
    for counts in stats.read("ALL", "", first, stats.business_day(clock.now())).values():
        day.update(counts)
    histories = [ticket_store.get_with_history(t.id)[1] for t in found]
    assignments = sum(1 for h in histories for e in h if (e.changes.get("assignee") or [None, None])[1])
    expected = {
        "created": len(found),
        "assigned": assignments,
        "auto_replied": sum(1 for t in found if t.auto_reply and t.auto_reply.state == "sent"),
        "surveys_sent": sum(1 for t in found if t.survey and t.survey.sent_at),
        "escalated": sum(1 for t in found if t.escalated),
        "closed": sum(1 for t in found if t.status is Status.CLOSED),
    }
    assert {name: day.get(name, 0) for name in expected} == expected
    assert sum(stats.read_open("ALL", "").values()) == sum(1 for t in found if t.status in OPEN_STATUSES)
    if "current" in _RUN:
        _RUN["current"]["held"] = True
    return found


def work_to_close(tid: str, agent: str | None) -> None:
    """The assignee accepts, replies, resolves and closes (the survey is scheduled)."""
    assert agent is not None
    for path, body in (
        ("accept", None),
        ("reply", {"body": "您好，已为您处理。"}),
        ("resolve", {"result": "已处理"}),
        ("close", {"reason": "resolved"}),
    ):
        status, answer = api.post(f"/tickets/{tid}/{path}", body, as_=agent)
        assert status == 200, answer


@pytest.fixture(autouse=True)
def surveys_at_once(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TICKETFLOW_SURVEY_DELAY_SECONDS", "0")
    yield
    clock.travel(None)  # some tests let the visibility timeout or a claim's staleness pass


def later(**delta: float) -> None:
    """Let time pass for the stack (SQS's visibility timeout, a claim going stale)."""
    clock.travel(clock.now() + timedelta(**delta))


# --- DynamoDB: throttling and transaction conflicts ---------------------------------------------


TRANSIENT = [
    # The SDK retries throttling 5 times (adaptive mode, ticketflow.aws): 5 in a row are absorbed.
    ("TransactWriteItems", "ProvisionedThroughputExceededException", 5),
    ("UpdateItem", "ThrottlingException", 3),  # the number block, the idempotency record
    ("PutItem", "InternalServerError", 2),  # the idempotency record
    # A cancelled transaction is not the SDK's to retry; our transact() tries 5 times in all.
    ("TransactWriteItems", "TransactionConflict", 4),
]


def test_transient_throttling_and_conflicts_are_absorbed(stack):
    for operation, error, times in TRANSIENT:
        with faults.inject("dynamodb", operation, error, times=times) as fault:
            created = open_ticket(WHERE, key=f"web-{uuid.uuid4().hex[:8]}")
            run_stages(stack, "classify", "assign")
            agent = ticket(created["id"]).assignee
            status, _ = api.post(f"/tickets/{created['id']}/accept", as_=agent)
        assert (fault.fired, status) == (times, 200), error
        assert ticket(created["id"]).status is Status.IN_PROGRESS
        assert len(emails_to(created["customer"]["email"])) == 1  # the automatic answer, once
    audit(tickets=len(TRANSIENT))


def test_persistent_throttling_at_intake_fails_the_request_writes_nothing_and_a_retry_completes(stack):
    body = new_ticket(description=WHERE, customer=customer())
    key = {"Idempotency-Key": "web-throttled-1"}
    with faults.inject("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException", times=None) as down:
        status, answer = api.post("/tickets", body, headers=key)
    assert down.fired == 6  # the first attempt and the SDK's 5 retries
    assert status == 503 and answer["error"]["code"] == "service_unavailable"
    assert api.last_headers.get("Retry-After")
    assert all_tickets() == [] and waiting(stack, "classify") == 0
    assert stats.read("ALL", "", stats.business_day(clock.now()), stats.business_day(clock.now())) == {}

    # A refusal that waiting cannot cure is our bug: a 500, in the one error shape, without the
    # provider's message (it may quote what we sent).
    with faults.inject("dynamodb", "TransactWriteItems", "ValidationException", times=1):
        status, answer = api.post("/tickets", body, headers=key)
    assert status == 500 and answer["error"]["code"] == "internal_error" and "injected" not in str(answer)

    status, created = api.post("/tickets", body, headers=key)  # the channel retries
    assert status == 201
    run_stages(stack, "classify", "assign")
    [stored] = audit(tickets=1)
    assert stored.id == created["id"] and stored.status is Status.ASSIGNED


def test_persistent_throttling_of_an_agent_action_changes_nothing_until_retried(stack):
    created = open_ticket(WHERE)
    run_stages(stack, "classify", "assign")
    before = ticket(created["id"])
    with faults.inject("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException", times=None):
        status, answer = api.post(f"/tickets/{created['id']}/accept", as_=before.assignee)
    assert status == 503 and answer["error"]["code"] == "service_unavailable"
    assert ticket(created["id"]).version == before.version and actions(created["id"])["accept"] == 0
    with faults.inject("dynamodb", "TransactWriteItems", "TransactionConflict", times=None) as conflict:
        status, answer = api.post(f"/tickets/{created['id']}/accept", as_=before.assignee)
    # Always beaten to the item: tried 5 times per attempt, 4 attempts, then "reload and retry".
    assert (status, answer["error"]["code"], conflict.fired) == (409, "concurrent_update", 20)
    assert ticket(created["id"]).version == before.version
    assert api.post(f"/tickets/{created['id']}/accept", as_=before.assignee)[0] == 200
    audit(tickets=1)


def test_a_throttled_ticket_fails_alone_in_its_batch_and_is_classified_once_on_redelivery(stack):
    tickets = [open_ticket(text) for text in (HOURS, WHERE, QUESTION)]
    throttled = tickets[1]
    classify = poller(stack, "classify")
    with faults.inject(
        "dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException", times=None, match=throttled["id"]
    ):
        poll = classify.poll()
    assert poll is not None and poll.received == 3 and len(poll.failed) == 1  # a partial batch failure
    assert [ticket(t["id"]).status for t in tickets] == [Status.CLASSIFIED, Status.NEW, Status.CLASSIFIED]
    classify.drain()
    run_stages(stack, "assign")
    assert all(actions(t["id"])["classify"] == 1 for t in tickets)
    assert len(emails_to(throttled["customer"]["email"])) == 1
    audit(tickets=3)


def test_a_write_whose_answer_was_lost_is_retried_by_the_sdk_and_counted_once(real_dynamodb_stack):
    """The transaction is carried out, its answer lost; the SDK sends it again with the same
    ClientRequestToken, which DynamoDB recognises. Against AWS's own implementation."""
    stack = real_dynamodb_stack
    created = open_ticket(WHERE)
    run_stages(stack, "classify", "assign")
    agent = part(ticket(created["id"]).assignee)
    with faults.inject("dynamodb", "TransactWriteItems", faults.LOST_RESPONSE, times=1) as lost:
        assert api.post(f"/tickets/{created['id']}/accept", as_=agent)[0] == 200
    with faults.inject("dynamodb", "TransactWriteItems", faults.LOST_RESPONSE, times=1):
        assert api.post(f"/tickets/{created['id']}/resolve", {"result": "已处理"}, as_=agent)[0] == 200
    assert lost.fired == 1 and actions(created["id"])["accept"] == 1
    assert directory_store.agent_states([agent])[agent].load == 0
    [resolved] = audit(tickets=1)
    today = stats.business_day(clock.now())
    assert stats.read("ALL", "", today, today)[today]["resolved"] == 1
    assert resolved.status is Status.RESOLVED


# --- SES and SNS failures -----------------------------------------------------------------------


def give_phone(person_id: str) -> str:
    phone = f"+86138{uuid.uuid4().int % 10**8:08d}"
    person = directory_store.get_person(person_id)
    assert person is not None
    directory_store.put_person(person.model_copy(update={"phone": phone}))
    directory_store.clear_cache()
    return phone


def test_throttled_ses_and_sns_are_retried_by_the_sdk_and_each_answer_goes_once(stack):
    by_email = open_ticket(HOURS)
    by_sms = open_ticket(HOURS, channel="sms", customer=customer("sms"))
    with (
        faults.inject("sesv2", "SendEmail", "TooManyRequestsException", times=3) as ses,
        faults.inject("sns", "Publish", "Throttling", times=3) as sns,
    ):
        polls = poller(stack, "classify").drain()
    assert (ses.fired, sns.fired, len(polls), polls[0].failed) == (3, 3, 1, [])  # no redelivery needed
    assert len(emails_to(by_email["customer"]["email"])) == 1 and len(sms_to(by_sms["customer"]["phone"])) == 1
    run_stages(stack, "assign")
    assert [part(ticket(t["id"]).auto_reply).state for t in (by_email, by_sms)] == ["sent", "sent"]
    audit(tickets=2)


def test_an_email_outage_delays_the_automatic_answer_never_the_agent_and_it_goes_once(stack):
    created = open_ticket(WHERE)
    classify = poller(stack, "classify")
    with faults.inject("sesv2", "SendEmail", "InternalFailure", times=None) as down:
        assert classify.poll_one().failed  # SES still failing after the SDK's retries: SQS will redeliver
        run_stages(stack, "assign")  # meanwhile the ticket went to an agent
        assert ticket(created["id"]).status is Status.ASSIGNED
        assert part(ticket(created["id"]).auto_reply).state == "pending"
        assert classify.poll_one().failed
    assert down.fired == 12  # two deliveries of 6 attempts each
    classify.drain()
    run_stages(stack, "assign")  # the redeliveries asked for an agent again: nothing changes
    assert len(emails_to(created["customer"]["email"])) == 1
    assert part(ticket(created["id"]).auto_reply).state == "sent" and actions(created["id"])["auto_reply"] == 1
    audit(tickets=1)


def test_a_reply_waits_out_an_sns_outage_and_a_refused_number_is_recorded_not_retried(stack):
    ok, refused = (open_ticket(QUESTION, channel="sms", customer=customer("sms")) for _ in range(2))
    run_stages(stack, "classify", "assign")
    for created in (ok, refused):
        agent = ticket(created["id"]).assignee
        assert api.post(f"/tickets/{created['id']}/accept", as_=agent)[0] == 200
        assert api.post(f"/tickets/{created['id']}/reply", {"body": "您好，退款已处理。"}, as_=agent)[0] == 200
    outbound = poller(stack, "outbound")
    ok_digits, refused_digits = ok["customer"]["phone"][1:], refused["customer"]["phone"][1:]
    with (
        # SNS's ThrottledException (429): the SDK retries it 5 times, then SQS redelivers.
        faults.inject("sns", "Publish", "Throttled", times=None, match=ok_digits) as throttled,
        faults.inject("sns", "Publish", "InvalidParameter", times=None, match=refused_digits) as rejected,
    ):
        first = outbound.poll()
        assert first is not None and len(first.failed) == 1  # only the throttled one comes back
        outbound.poll()
    assert (throttled.fired, rejected.fired) == (12, 1)  # two deliveries of 6 attempts; one refusal
    outbound.drain()
    assert len(sms_to(ok["customer"]["phone"])) == 1 and sms_to(refused["customer"]["phone"]) == []
    receipts = {
        t["id"]: next(part(e.delivery) for e in ticket_store.get_with_history(t["id"])[1] if e.action == "reply")
        for t in (ok, refused)
    }
    assert receipts[ok["id"]]["state"] == "sent" and receipts[refused["id"]]["state"] == "undeliverable"
    audit(tickets=2)


def test_a_survey_waits_out_an_ses_outage_goes_once_and_a_bounce_keeps_no_cooldown(stack):
    ok, bounced = open_ticket(QUESTION), open_ticket(QUESTION)
    run_stages(stack, "classify", "assign")
    for created in (ok, bounced):
        work_to_close(created["id"], ticket(created["id"]).assignee)
    run_stages(stack, "outbound", "assign")
    survey = poller(stack, "survey")
    with (
        faults.inject("sesv2", "SendEmail", "TooManyRequestsException", times=None, match=ok["customer"]["email"]),
        faults.inject("sesv2", "SendEmail", "MessageRejected", times=None, match=bounced["customer"]["email"]) as no,
    ):
        first = survey.poll()
        assert first is not None and len(first.failed) == 1
    assert no.fired == 1  # refused for good: recorded, not retried
    assert part(ticket(ok["id"]).survey).state is SurveyState.SCHEDULED
    assert part(ticket(bounced["id"]).survey).state is SurveyState.UNDELIVERABLE
    survey.drain()
    surveys = [m for m in emails_to(ok["customer"]["email"]) if "评分" in m.subject]
    assert len(surveys) == 1 and part(ticket(ok["id"]).survey).state is SurveyState.SENT
    # The bounced customer was never surveyed: their next ticket's survey is not held back.
    again = open_ticket(QUESTION, customer=bounced["customer"])
    run_stages(stack, "classify", "assign")
    work_to_close(again["id"], ticket(again["id"]).assignee)
    run_stages(stack, "outbound", "assign")
    with faults.inject("sesv2", "SendEmail", "TooManyRequestsException", times=1):
        run_stages(stack, "survey")
    assert part(ticket(again["id"]).survey).state is SurveyState.SENT
    audit(tickets=3)


def test_a_notice_to_email_and_sms_that_fails_part_way_sends_only_the_rest_later(stack):
    phone = give_phone("sup-1")
    live_version("notifications", p1_notice={"sms": "always"})
    nobody_free()
    created = open_ticket(ALLERGY)  # P1, aftersales: sup-1 is told by email and SMS; nobody assigned
    classify = poller(stack, "classify")
    with faults.inject("sns", "Publish", "InternalError", times=None):
        assert classify.poll_one().failed  # the email went, the SMS did not
    classify.drain()
    p1_mails = [m for m in emails_to(SUP) if m.subject.startswith("[P1]") and created["number"] in m.subject]
    assert len(p1_mails) == 1 and len(sms_to(phone)) == 1
    assert ticket(created["id"]).notices["p1_supervisor"] == "sent" and actions(created["id"])["notify"] == 1

    # The SLA warning and breach of the unassigned P1 go to sup-1 by email and SMS (P1): SNS is
    # down for the first sweep, back for a later one.
    due = part(part(ticket(created["id"]).sla).clocks["first_response"].due_at)
    with faults.inject("sns", "Publish", "InternalError", times=None) as down:
        assert sweep.run(due + timedelta(minutes=1)).errors == 1
    assert down.fired == 6
    assert sweep.run(due + timedelta(minutes=4)).notices == 2  # the warning's SMS, then the breach
    assert sweep.run(due + timedelta(minutes=8)).notices == 0
    sla_mails = Counter(m.subject.split("]")[0] for m in emails_to(SUP) if created["number"] in m.subject)
    assert sla_mails == {"[P1": 1, "[P1 SLA warning": 1, "[P1 SLA breach (level 1)": 1}
    assert len(sms_to(phone)) == 3  # P1 notice, warning, breach: each once
    assert actions(created["id"])["sla_warning"] == actions(created["id"])["sla_breach"] == 1
    audit(tickets=1)


def test_an_owner_timeout_puts_the_ticket_back_in_its_queue_even_while_email_is_down(stack):
    created = open_ticket(WHERE)
    run_stages(stack, "classify", "assign")
    holder = ticket(created["id"])
    with faults.inject("sesv2", "SendEmail", "InternalFailure", times=None):
        report = sweep.run(part(holder.assigned_at) + timedelta(minutes=31))
    assert (report.returned_to_queue, report.errors) == (1, 0)  # the notice is informational
    assert waiting(stack, "assign") == 1  # and the ticket wants an agent again
    run_stages(stack, "assign")
    assert ticket(created["id"]).status is Status.ASSIGNED
    audit(tickets=1)


# --- a crash between the write and the enqueue --------------------------------------------------


def test_intake_failing_after_the_write_is_retried_into_the_same_ticket(stack):
    body = new_ticket(description=WHERE, customer=customer())
    key = {"Idempotency-Key": "web-enqueue-1"}
    with faults.inject("sqs", "SendMessage", "InternalError", times=None) as down:
        status, answer = api.post("/tickets", body, headers=key)
    assert down.fired == 6 and status == 503 and answer["error"]["code"] == "service_unavailable"
    [stored] = all_tickets()  # written, not queued
    assert stored.status is Status.NEW and waiting(stack, "classify") == 0

    status, again = api.post("/tickets", body, headers=key)  # the channel retries
    assert status == 201 and (again["id"], again["number"]) == (stored.id, stored.number)
    assert waiting(stack, "classify") == 1
    run_stages(stack, "classify", "assign")
    assert ticket(stored.id).status is Status.ASSIGNED
    assert len(emails_to(body["customer"]["email"])) == 1
    audit(tickets=1)


def test_intake_killed_after_the_write_answers_in_progress_until_its_invocation_would_have_ended(
    stack, monkeypatch: pytest.MonkeyPatch
):
    body = new_ticket(description=WHERE, customer=customer())
    key = {"Idempotency-Key": "web-killed-1"}
    context = support.lambda_context("intake")
    context.get_remaining_time_in_millis = lambda: 400  # the in-progress record lasts that long
    monkeypatch.setattr(support, "lambda_context", lambda function: context)
    with faults.inject("sqs", "SendMessage", faults.CRASH), pytest.raises(faults.LambdaCrash):
        api.post("/tickets", body, headers=key)
    [stored] = all_tickets()
    status, answer = api.post("/tickets", body, headers=key)  # too soon: the first may still be running
    assert status == 409 and answer["error"]["code"] == "idempotency_in_progress"
    time.sleep(0.5)
    status, again = api.post("/tickets", body, headers=key)
    assert status == 201 and again["id"] == stored.id and waiting(stack, "classify") == 1
    run_stages(stack, "classify", "assign")
    audit(tickets=1)


def test_a_ticket_stored_but_never_queued_is_redriven_by_the_sweep(stack):
    """Without an Idempotency-Key a channel's retry is a new ticket; the first, stored and never
    queued, is not lost: the sweep's safety net sends it to classification 10 minutes later."""
    with faults.inject("sqs", "SendMessage", "InternalError", times=None):
        status, _ = api.post("/tickets", new_ticket(description=HOURS, customer=customer()))
    assert status == 503
    [orphan] = all_tickets()
    assert sweep.run(orphan.created_at + timedelta(minutes=9)).redriven == 0
    with faults.inject("sqs", "SendMessage", faults.LOST_RESPONSE) as twice:  # and queued twice, at that
        assert sweep.run(orphan.created_at + timedelta(minutes=11)).redriven == 1
    assert twice.fired == 1 and waiting(stack, "classify") == 2
    run_stages(stack, "classify", "assign")
    assert ticket(orphan.id).status is Status.ASSIGNED and actions(orphan.id)["classify"] == 1
    assert len(emails_to(orphan.customer.email)) == 1
    audit(tickets=1)


def test_an_action_whose_follow_up_messages_are_lost_succeeds_and_the_sweep_makes_them_good(stack):
    """Resolving frees a place (capacity.freed) and closing schedules the survey (survey.due):
    with SQS down after the write the agent still gets 200, for a 503 would turn their retry
    into a 409; the sweep's team-queue fill and its survey step do what the messages would."""
    directory_store.set_availability("agent-5", online=False)
    holder = directory_store.get_person("agent-3")
    assert holder is not None
    directory_store.put_person(holder.model_copy(update={"capacity": 1}), online=True)
    first, second = open_ticket(WHERE), open_ticket(WHERE)  # logistics: agent-3 has room for one
    run_stages(stack, "classify", "assign")
    worked = next(c for c in (first, second) if ticket(c["id"]).assignee == "agent-3")
    queued = second if worked is first else first
    assert ticket(queued["id"]).status is Status.CLASSIFIED
    for path, body in (("accept", None), ("reply", {"body": "您好，已为您处理。"})):
        assert api.post(f"/tickets/{worked['id']}/{path}", body, as_="agent-3")[0] == 200
    run_stages(stack, "outbound")
    with faults.inject("sqs", "SendMessage", "InternalError", times=None) as down:
        for path, body in (("resolve", {"result": "已处理"}), ("close", {"reason": "resolved"})):
            status, answer = api.post(f"/tickets/{worked['id']}/{path}", body, as_="agent-3")
            assert status == 200, answer
    assert down.fired == 12 and waiting(stack, "assign") == waiting(stack, "survey") == 0  # both lost
    closed = ticket(worked["id"])
    assert closed.status is Status.CLOSED and part(closed.survey).state is SurveyState.SCHEDULED

    with support.deployed_as("sweep"):
        report = sweep.run(part(closed.survey).due_at + timedelta(minutes=1))
    assert (report.assigned, report.surveys, report.errors) == (1, 1, 0)
    assert ticket(queued["id"]).assignee == "agent-3"
    run_stages(stack, "survey")
    assert part(ticket(worked["id"]).survey).state is SurveyState.SENT
    assert len(emails_to(worked["customer"]["email"])) == 3  # automatic answer, reply, survey: once each
    audit(tickets=2)


def test_a_reply_whose_message_was_never_sent_is_delivered_by_the_sweep_once(stack):
    """The reply is saved with its receipt "queued" (an outbox in the same transaction); SQS
    down after the write costs the agent nothing (200: a retry would post the reply twice) and
    the customer a few minutes: the sweep sends the message again, until a receipt replaces it."""
    created = open_ticket(QUESTION)
    run_stages(stack, "classify", "assign")
    agent = ticket(created["id"]).assignee
    assert agent is not None and api.post(f"/tickets/{created['id']}/accept", as_=agent)[0] == 200
    with faults.inject("sqs", "SendMessage", "InternalError", times=None):
        status, replied = api.post(f"/tickets/{created['id']}/reply", {"body": "支持主动降噪。"}, as_=agent)
    assert status == 200, replied
    assert waiting(stack, "outbound") == 0 and actions(created["id"])["reply"] == 1
    entry = next(h for h in api.get(f"/tickets/{created['id']}", as_=agent)[1]["history"] if h["action"] == "reply")
    assert entry["delivery"]["state"] == "queued"
    at = part(ticket(created["id"]).updated_at)

    assert sweep.run(at + timedelta(minutes=4)).replies == 0  # the stage may still be on it
    with (
        support.deployed_as("sweep"),
        faults.inject("sqs", "SendMessage", faults.LOST_RESPONSE) as twice,  # sent twice, at that
    ):
        assert sweep.run(at + timedelta(minutes=6)).replies == 1
    assert twice.fired == 1 and waiting(stack, "outbound") == 2
    assert sweep.run(at + timedelta(minutes=8)).replies == 0  # next look: 10 minutes on
    run_stages(stack, "outbound")
    replies = [m for m in emails_to(created["customer"]["email"]) if "支持主动降噪" in m.body]
    assert len(replies) == 1
    entry = next(h for h in api.get(f"/tickets/{created['id']}", as_=agent)[1]["history"] if h["action"] == "reply")
    assert entry["delivery"]["state"] == "sent"
    assert sweep.run(at + timedelta(hours=3)).replies == 0  # the receipt left the sweep's index
    audit(tickets=1)


# --- poison messages, duplicates, a Lambda killed mid-batch --------------------------------------


def test_poison_messages_fail_alone_and_reach_the_dead_letter_queue_in_every_queue(stack):
    sqs = boto3.client("sqs")
    tickets = [open_ticket(HOURS), open_ticket(WHERE)]

    def stage(queue: str) -> None:
        """Run one stage with an unparseable and an unknown message in among the real ones."""
        url = stack[f"TICKETFLOW_QUEUE_{queue.upper()}_URL"]
        real = waiting(stack, queue)
        poison = {"type": f"{queue}.exploded", "data": {"ticket_id": tickets[0]["id"], "version": 1}}
        for body in ("{not json", json.dumps(poison)):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        consumer = poller(stack, queue)
        polls = consumer.drain()
        assert polls[0].received == real + 2 and len(polls[0].failed) == 2, queue  # the real ones went through
        assert len(polls) == 5  # the poison came back until maxReceiveCount (5)
        dead = consumer.dead_letters(remove=True)  # looked at, and cleared for the next stage
        assert sorted(m["Body"][:5] for m in dead) == ['{"typ', "{not "], queue
        assert all(int(m["Attributes"]["ApproximateReceiveCount"]) >= 5 for m in dead)  # tried 5 times

    stage("classify")
    stage("assign")
    for created in tickets:
        work_to_close(created["id"], ticket(created["id"]).assignee)
    stage("outbound")
    run_stages(stack, "assign")  # capacity freed
    stage("survey")
    for created in tickets:  # the automatic answer, the reply, the survey: each once
        assert len(emails_to(created["customer"]["email"])) == 3
    audit(tickets=2)


def test_every_message_delivered_twice_has_its_effects_once(stack):
    """Each SendMessage's answer is lost once, so the SDK sends it again: every stage gets every
    message twice (SQS's at-least-once, made certain)."""
    with faults.inject("sqs", "SendMessage", faults.LOST_RESPONSE, times=None, first_attempts=1) as twice:
        hours, p1, question = open_ticket(HOURS), open_ticket(ALLERGY), open_ticket(QUESTION)
        assert waiting(stack, "classify") == 6
        run_stages(stack, "classify", "assign")
        for created in (hours, p1, question):
            work_to_close(created["id"], ticket(created["id"]).assignee)
        run_stages(stack, "outbound", "assign", "survey")
    assert twice.fired == twice.calls >= 3 + 3 + 3 + 3  # created, classified, replied, closed
    p1_notices = [m for m in emails_to(SUP) if m.subject.startswith(f"[P1] {p1['number']}")]
    assert len(p1_notices) == 1
    for created in (hours, p1, question):
        mails = emails_to(created["customer"]["email"])
        assert len(mails) == (3 if created is hours else 2)  # [automatic answer,] reply, survey
        assert Counter(actions(created["id"]))["assign"] == 1
    found = audit(tickets=3)
    assert all(t.status is Status.CLOSED and part(t.survey).state is SurveyState.SENT for t in found)


def test_an_invocation_killed_mid_batch_is_redelivered_whole_and_does_everything_once(stack):
    tickets = [open_ticket(HOURS) for _ in range(3)] + [open_ticket(ALLERGY)]
    classify = poller(stack, "classify")
    # The invocation dies sending the third email of its batch (a classify write already done).
    with faults.inject("sesv2", "SendEmail", faults.CRASH, after=2) as killed:
        poll = classify.poll()
    assert poll is not None and poll.crashed and len(poll.failed) == len(tickets) and killed.fired == 1
    later(seconds=180)  # the batch comes back after the visibility timeout
    classify.drain()
    for created in tickets:
        assert actions(created["id"])["classify"] == 1
        assert len(emails_to(created["customer"]["email"])) == (0 if created is tickets[-1] else 1)
    assert len([m for m in emails_to(SUP) if m.subject.startswith(f"[P1] {tickets[-1]['number']}")]) == 1

    assign = poller(stack, "assign")
    # Now the assigner dies once its second assignment is written, before it hears back.
    with faults.inject("dynamodb", "TransactWriteItems", faults.CRASH_AFTER, after=1) as killed:
        poll = assign.poll()
    assert poll is not None and poll.crashed and killed.lost_responses
    later(seconds=180)
    assign.drain()
    assert all(Counter(actions(t["id"]))["assign"] == 1 for t in tickets)
    audit(tickets=len(tickets))


def test_surveys_killed_mid_batch_are_sent_once_the_claim_is_stale(stack):
    tickets = [open_ticket(QUESTION) for _ in range(2)]
    run_stages(stack, "classify", "assign")
    for created in tickets:
        work_to_close(created["id"], ticket(created["id"]).assignee)
    run_stages(stack, "outbound", "assign")
    survey = poller(stack, "survey")
    with faults.inject("sesv2", "SendEmail", faults.CRASH, after=1):
        assert survey.poll_one().crashed
    later(seconds=180)  # redelivered; the dead attempt's claim holds its survey back (5 minutes)
    survey.drain()
    states = [part(ticket(t["id"]).survey).state for t in tickets]
    assert sorted(states) == [SurveyState.SCHEDULED, SurveyState.SENT]
    # The sweep finds the survey still scheduled and sends it again through the queue.
    later(minutes=6)
    assert sweep.run(clock.now()).surveys == 1
    survey.drain()
    for created in tickets:
        assert len([m for m in emails_to(created["customer"]["email"]) if "评分" in m.subject]) == 1
    audit(tickets=len(tickets))


# --- dead letters go back -----------------------------------------------------------------------


def test_dead_letters_go_back_with_ticketflow_redrive_once_the_cause_is_fixed(stack, capsys):
    from infra.cli import main, parser
    from infra.local.emulator import DEFAULT_PREFIX

    created = open_ticket(HOURS)
    classify = poller(stack, "classify")
    with faults.inject("sesv2", "SendEmail", "InternalFailure", times=None) as down:
        assert len(classify.drain()) == 5  # five deliveries, then the dead-letter queue
    assert down.fired == 30
    [dead] = classify.dead_letters()
    assert json.loads(dead["Body"])["data"]["ticket_id"] == created["id"]
    run_stages(stack, "assign")  # the agent was not kept waiting meanwhile
    assert ticket(created["id"]).status is Status.ASSIGNED
    assert part(ticket(created["id"]).auto_reply).state == "pending"

    prefix = stack["TICKETFLOW_QUEUE_CLASSIFY_URL"].rsplit("/", 1)[1].removesuffix("-classify")
    assert main(["redrive", "classify", "--prefix", prefix, "--endpoint", os.environ["AWS_ENDPOINT_URL"]]) == 0
    said = capsys.readouterr().out.splitlines()[-1]  # after the handlers' metric lines
    assert said == f"moved 1 message(s) from {prefix}-classify-dlq to {prefix}-classify"
    assert classify.dead_letters() == [] and waiting(stack, "classify") == 1
    classify.drain()
    assert part(ticket(created["id"]).auto_reply).state == "sent"
    assert len(emails_to(created["customer"]["email"])) == 1
    assert main(["redrive", "nope", "--prefix", prefix]) == 2
    # Without --prefix it finds the queues of `ticketflow dev` (with the endpoint it prints).
    assert parser().parse_args(["redrive", "classify"]).prefix == DEFAULT_PREFIX
    audit(tickets=1)
