"""What-if replays on the emulator: POST /admin/simulations, the simulate worker slice by slice,
exact counts and samples, the cap, redelivery, access, bad proposals, and no side effects.

Twenty tickets over two days (2026-11-10 and 11, Asia/Shanghai), classified by the real
pipeline: 6 logistics (P2, team logistics), 6 product questions (P3, presales), 4 business-hours
questions (P3, auto-answered), 4 complaints (P2, aftersales). agent-3 replies to the first three
logistics tickets 3 hours after they came in; nobody answers the others. The run is started on
2026-11-13, 09:00.

The proposal routes logistics to aftersales and cuts the standard policy's P2 first response
from 240 to 120 minutes. Worked out: 6 tickets change team; the 3 answered after 3 hours flip
from met to breached; the first-response due time moves earlier for the 10 P2 tickets (the
other 7 P2 were breached either way); nothing else changes.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from events.generate import api_event
from tests.conftest import drain, sqs_batch
from tests.support import ROLES, Api, claims, invoke, lambda_context, new_ticket
from ticketflow import aws, clock, messaging, runtime_config
from ticketflow.http import simulation_routes
from ticketflow.http.app import create_app, resolve
from ticketflow.simulation import runs
from ticketflow.storage import simulations as sim_store

api = Api()
T0 = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)  # Tuesday 09:00 in Shanghai
AS_OF = datetime(2026, 11, 13, 1, 0, tzinfo=UTC)
RANGE = {"from": "2026-11-10", "to": "2026-11-11"}
TEXTS = {
    "logistics": "我的快递三天了还没到，物流也不更新",
    "product": "请问蓝莓计划怎么参加",
    "hours": "你们客服几点上班？营业时间是几点到几点",
    "complaint": "产品质量太差了，我要投诉",
}
PLAN = ["logistics", "product", "hours", "complaint", "logistics", "product"] * 3 + ["hours", "complaint"]
SIMULATE = "TICKETFLOW_QUEUE_SIMULATE_URL"


# ---------------------------------------------------------------- helpers


@cache
def app():
    return create_app(simulation_routes.router)


def http(method: str, path: str, *, as_: str, body: Any = None, query: dict | None = None) -> tuple[int, Any, dict]:
    """The routes through a resolver of their own, with the events API Gateway sends."""
    one = path.count("/") == 3
    event = api_event(method, "/admin/simulations/{id}" if one else "/admin/simulations", auth="person", body=body)
    event["path"] = path
    event["pathParameters"] = {"id": path.rsplit("/", 1)[1]} if one else None
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    event["requestContext"]["authorizer"] = {"claims": claims(as_, ROLES[as_])}
    # A router serves the last resolver that included it (the admin API's, once mounted there).
    simulation_routes.router.api_resolver = app()
    response = resolve(app(), event, lambda_context("admin_api"))
    headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()} | (response.get("headers") or {})
    return response["statusCode"], json.loads(response["body"]), headers


def work(stack: dict[str, str], *, twice: bool = False) -> int:
    """Run the simulate queue dry through its handler; the number of messages handled."""
    handled = 0
    while messages := drain(stack[SIMULATE]):
        for message in messages:
            for _ in range(2 if twice else 1):
                assert invoke("simulate", sqs_batch([message], "simulate")) == {"batchItemFailures": []}
        handled += len(messages)
    return handled


def proposal() -> dict[str, Any]:
    routing = copy.deepcopy(runtime_config.default("routing"))
    routing["routes"]["order_support/logistics"] = "aftersales"
    sla = copy.deepcopy(runtime_config.default("sla"))
    sla["policies"][-1]["targets"]["first_response"]["P2"] = 120
    return {"routing": routing, "sla": sla}


def only_business_hours() -> dict[str, Any]:
    """A calendars document without the ones the live SLA policies count on (24x7, cn-extended)."""
    calendars = copy.deepcopy(runtime_config.default("calendars"))
    calendars["calendars"] = [c for c in calendars["calendars"] if c["id"] == "cn-business"]
    return calendars


def table_items(stack: dict[str, str]) -> dict[tuple[str, str], dict]:
    """Every item of the table (a Scan is fine in a test)."""
    found: dict[tuple[str, str], dict] = {}
    kwargs = {"TableName": stack["TICKETFLOW_TABLE_NAME"]}
    while True:
        page = boto3.client("dynamodb").scan(**kwargs)
        found |= {(i["pk"]["S"], i["sk"]["S"]): i for i in page["Items"]}
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class Now:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.at = T0
        monkeypatch.setattr(clock, "now", lambda: self.at)


@pytest.fixture
def now(monkeypatch) -> Now:
    return Now(monkeypatch)


@pytest.fixture
def tickets(stack, now) -> dict[str, list[str]]:
    """The twenty tickets of the module docstring, classified; the run starts at AS_OF."""
    run = uuid.uuid4().hex[:8]  # sent email stays in the emulator between tests
    made: dict[str, list[str]] = {kind: [] for kind in TEXTS}
    created: dict[str, datetime] = {}
    for i, kind in enumerate(PLAN):
        now.at = T0 + timedelta(days=i % 2, minutes=10 * i)
        customer = {"id": f"C-{i}", "name": "王芳", "email": f"c{i}.{run}@example.com", "phone": "+8613800000000"}
        body = new_ticket(description=TEXTS[kind], subject=None, customer=customer, order_number=None)
        status, ticket = api.post("/tickets", body)
        assert status == 201, ticket
        made[kind].append(ticket["id"])
        created[ticket["id"]] = now.at
    assert invoke("classify", sqs_batch(drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"]))) == {"batchItemFailures": []}
    drain(stack["TICKETFLOW_QUEUE_ASSIGN_URL"])  # nobody is assigned automatically here
    for tid in made["logistics"][:3]:
        now.at = created[tid] + timedelta(hours=3)
        assert api.post(f"/tickets/{tid}/accept", {}, as_="agent-3")[0] == 200
        assert api.post(f"/tickets/{tid}/reply", {"body": "您好，已为您催促。"}, as_="agent-3")[0] == 200
    now.at = AS_OF
    return made


def start(body: dict[str, Any], as_: str = "sup-1") -> dict[str, Any]:
    status, view, headers = http("POST", "/admin/simulations", as_=as_, body=body)
    assert status == 202, view
    assert headers["Location"] == f"/admin/simulations/{view['id']}"
    return view


def view_of(run_id: str) -> dict[str, Any]:
    status, view, _ = http("GET", f"/admin/simulations/{run_id}", as_="admin-1")
    assert status == 200, view
    return view


# ---------------------------------------------------------------- the tests


def test_a_simulation_reports_exactly_what_would_change_and_touches_nothing(stack, tickets, monkeypatch):
    monkeypatch.setattr(runs, "SLICE_SIZE", 6)
    calls: list[tuple[str, str, dict]] = []
    recorded: set[int] = set()
    real_client = aws.client

    def recording_client(service: str) -> Any:
        client = real_client(service)
        if id(client) not in recorded:
            recorded.add(id(client))
            client.meta.events.register(
                "before-parameter-build", lambda model, params, **_: calls.append((service, model.name, params))
            )
        return client

    monkeypatch.setattr(aws, "client", recording_client)
    before = table_items(stack)
    email = len(ses_backends["123456789012"]["us-east-1"].sent_messages)
    sms = len(sns_backends["123456789012"]["us-east-1"].sms_messages)

    queued = start({"proposal": proposal(), **RANGE, "sample_size": 2, "reason": "logistics to aftersales?"})
    assert queued["status"] == "queued" and queued["kinds"] == ["routing", "sla"]
    assert queued["progress"] == {"processed": 0, "estimated_total": 20, "slices": 0}
    assert queued["started_by"] == {"id": "sup-1", "role": "supervisor"}
    assert queued["live_versions"] == {"classification": 0, "knowledge": 0, "routing": 0, "sla": 0, "calendars": 0}
    assert queued["as_of"] == "2026-11-13T01:00:00.000Z" and queued["result"]["tickets"] == 0

    [first] = drain(stack[SIMULATE])
    assert first["type"] == "simulation.slice" and first["data"] == {"run_id": queued["id"], "slice": 0, "cursor": None}
    assert invoke("simulate", sqs_batch([first], "simulate")) == {"batchItemFailures": []}
    running = view_of(queued["id"])
    assert running["status"] == "running" and running["progress"] == {
        "processed": 6,
        "estimated_total": 20,
        "slices": 1,
    }
    assert work(stack) == 3  # 20 tickets, 6 a slice: 4 slices

    done = view_of(queued["id"])
    assert done["status"] == "done" and done["truncated"] is False and done["finished_at"]
    assert done["progress"] == {"processed": 20, "estimated_total": 20, "slices": 4}
    result = done["result"]
    assert (result["tickets"], result["changed"]) == (20, 6)
    assert result["moved"] == {
        "category": 0,
        "subcategory": 0,
        "priority": {"up": 0, "down": 0},
        "team": 6,
        "auto_reply": {"gained": 0, "lost": 0, "changed": 0},
        "sla": {
            "first_response": {"met_to_breached": 3, "breached_to_met": 0, "due_earlier": 10, "due_later": 0},
            "resolution": {"met_to_breached": 0, "breached_to_met": 0, "due_earlier": 0, "due_later": 0},
        },
    }
    assert result["transitions"] == {
        "category": {},
        "subcategory": {},
        "priority": {},
        "team": {"logistics → aftersales": 6},
        "auto_reply": {},
        "sla.first_response": {"met → breached": 3},
        "sla.resolution": {},
    }
    answered = tickets["logistics"][:3]
    samples = result["samples"]
    assert {kind: len(found) for kind, found in samples.items()} == {
        "category": 0,
        "subcategory": 0,
        "priority": 0,
        "team": 2,
        "auto_reply": 0,
        "sla": 2,
    }
    # The answered tickets are in progress: read before the waiting ones, oldest first.
    assert [s["id"] for s in samples["sla"]] == answered[:2] == [s["id"] for s in samples["team"]]
    sample = samples["sla"][0]
    assert sample["number"].startswith("CS20261110") and sample["subject"] == TEXTS["logistics"]
    assert (sample["live"]["team"], sample["proposed"]["team"]) == ("logistics", "aftersales")
    live_fr, proposed_fr = sample["live"]["sla"]["first_response"], sample["proposed"]["sla"]["first_response"]
    assert (live_fr["outcome"], proposed_fr["outcome"]) == ("met", "breached")
    assert live_fr["due_at"] == "2026-11-10T05:00:00.000Z" and proposed_fr["due_at"] == "2026-11-10T03:00:00.000Z"
    text = json.dumps(done, ensure_ascii=False)
    assert "@example.com" not in text and "13800000000" not in text  # no customer contacts

    status, listing, _ = http("GET", "/admin/simulations", as_="admin-1", query={"limit": "5"})
    assert status == 200 and [item["id"] for item in listing["items"]] == [queued["id"]]
    assert listing["items"][0]["result"] is None and listing["items"][0]["status"] == "done"

    # No side effects: only the run's own items are new, nothing else was written or sent.
    after = table_items(stack)
    assert {k: v for k, v in after.items() if not k[0].startswith(("SIM#", "SIMS"))} == before
    assert sorted(k for k in after if k not in before) == [
        ("SIM#" + queued["id"], "PROPOSAL"),
        ("SIM#" + queued["id"], "RUN"),
        ("SIMS", f"RUN#{queued['created_at']}#{queued['id']}"),
    ]
    assert len(ses_backends["123456789012"]["us-east-1"].sent_messages) == email
    assert len(sns_backends["123456789012"]["us-east-1"].sms_messages) == sms
    assert {service for service, _, _ in calls} == {"dynamodb", "sqs"}
    sent = [params["QueueUrl"] for service, op, params in calls if service == "sqs"]
    assert [op for service, op, _ in calls if service == "sqs"] == ["SendMessage"] * 4
    assert set(sent) == {stack[SIMULATE]}
    writes = {op for service, op, _ in calls if service == "dynamodb"} - {"GetItem", "Query", "BatchGetItem"}
    assert writes == {"TransactWriteItems", "UpdateItem"}


def test_max_tickets_cuts_the_run_short_and_says_so(stack, tickets, monkeypatch):
    monkeypatch.setattr(runs, "SLICE_SIZE", 3)
    cut = start({"proposal": proposal(), **RANGE, "max_tickets": 7})
    assert cut["progress"]["estimated_total"] == 7
    assert work(stack) == 3  # 3 + 3 + 1
    cut = view_of(cut["id"])
    assert (cut["status"], cut["truncated"], cut["progress"]["processed"], cut["result"]["tickets"]) == (
        "done",
        True,
        7,
        7,
    )

    exact = start({"proposal": proposal(), **RANGE, "max_tickets": 20})
    work(stack)
    exact = view_of(exact["id"])
    assert (exact["truncated"], exact["result"]["tickets"], exact["result"]["changed"]) == (False, 20, 6)


def test_a_redelivered_slice_never_counts_twice(stack, tickets, monkeypatch):
    monkeypatch.setattr(runs, "SLICE_SIZE", 6)
    run = start({"proposal": proposal(), **RANGE})
    assert work(stack, twice=True) == 4  # every slice delivered twice: each counted once
    result = view_of(run["id"])["result"]
    assert (result["tickets"], result["changed"], result["moved"]["team"]) == (20, 6, 6)

    # A crash after merging a slice but before its successor was queued: the redelivery sends it.
    again = start({"proposal": proposal(), **RANGE})
    [first] = drain(stack[SIMULATE])
    real_send = messaging.send

    def lost(queue: str, envelope: Any, **kwargs: Any) -> str:
        raise RuntimeError("the function timed out")

    monkeypatch.setattr(messaging, "send", lost)
    with pytest.raises(BatchProcessingError):  # the whole batch failed: SQS will redeliver it
        invoke("simulate", sqs_batch([first], "simulate"))
    assert view_of(again["id"])["progress"]["processed"] == 6
    monkeypatch.setattr(messaging, "send", real_send)
    assert invoke("simulate", sqs_batch([first], "simulate")) == {"batchItemFailures": []}
    assert invoke("simulate", sqs_batch([first], "simulate")) == {"batchItemFailures": []}  # and only once
    assert len(drain_keep(stack)) == 1
    work(stack)
    done = view_of(again["id"])
    assert (done["status"], done["result"]["tickets"], done["progress"]["slices"]) == ("done", 20, 4)


def drain_keep(stack: dict[str, str]) -> list[dict]:
    """The messages waiting on the simulate queue, left there (visible again at once)."""
    sqs = boto3.client("sqs")
    found = []
    response = sqs.receive_message(QueueUrl=stack[SIMULATE], MaxNumberOfMessages=10, VisibilityTimeout=0)
    for message in response.get("Messages", []):
        found.append(json.loads(message["Body"]))
    return found


def test_a_range_without_tickets_is_done_with_zero_counts(stack, now):
    now.at = AS_OF
    run = start({"proposal": proposal(), "from": "2026-10-01", "to": "2026-10-31"}, as_="admin-1")
    assert run["progress"]["estimated_total"] == 0
    assert work(stack) == 1
    done = view_of(run["id"])
    assert done["status"] == "done" and done["progress"] == {"processed": 0, "estimated_total": 0, "slices": 1}
    assert done["result"]["tickets"] == 0 and done["result"]["moved"]["team"] == 0
    assert done["result"]["samples"]["team"] == []


def test_agents_may_not_run_or_read_simulations(stack, now):
    status, body, _ = http("POST", "/admin/simulations", as_="agent-1", body={"proposal": proposal(), **RANGE})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert http("GET", "/admin/simulations", as_="agent-1")[0] == 403
    assert http("GET", "/admin/simulations/nope", as_="agent-1")[0] == 403
    assert http("GET", "/admin/simulations/nope", as_="sup-1")[0] == 404
    assert drain(stack[SIMULATE]) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body["proposal"]["routing"].pop("fallback_team"), "proposal.routing.fallback_team"),
        (lambda body: body["proposal"].update({"surveys": {}}), "proposal.surveys"),
        (lambda body: body["proposal"].update({"tickets": []}), "proposal.tickets"),
        (
            lambda body: body["proposal"]["sla"]["policies"][0].update({"calendar": "moon"}),
            "proposal.sla.policies.0.calendar",
        ),
        (
            lambda body: body["proposal"]["routing"]["routes"].update({"sales/*": "presales"}),
            "proposal.routing.routes.sales/*",
        ),
        (lambda body: body.update({"proposal": {"calendars": only_business_hours()}}), "proposal.calendars"),
        (lambda body: body.update({"proposal": {}}), "proposal"),
        (lambda body: body.update({"from": "2026-11-12"}), "to"),
        (lambda body: body.update({"from": "2025-01-01"}), "from"),
        (lambda body: body.update({"max_tickets": 10001}), "max_tickets"),
        (lambda body: body.update({"sample_size": 51}), "sample_size"),
        (lambda body: body.update({"patch": {}}), "patch"),
    ],
)
def test_a_bad_request_is_a_422_naming_the_field(stack, now, change, field):
    body = {"proposal": proposal(), **RANGE}
    change(body)
    status, answer, _ = http("POST", "/admin/simulations", as_="admin-1", body=body)
    assert status == 422, answer
    assert field in [d["field"] for d in answer["error"]["details"]], answer
    assert drain(stack[SIMULATE]) == []


def test_a_proposal_too_large_to_store_is_a_413(stack, now, monkeypatch):
    monkeypatch.setattr(sim_store, "MAX_PROPOSAL_BYTES", 200)
    status, answer, _ = http("POST", "/admin/simulations", as_="admin-1", body={"proposal": proposal(), **RANGE})
    assert (status, answer["error"]["code"]) == (413, "payload_too_large")
    assert answer["error"]["details"][0]["field"] == "proposal"
    assert drain(stack[SIMULATE]) == []


def test_rules_that_cannot_replay_end_the_run_failed(stack, tickets, monkeypatch):
    """A live version pinned at the start that is gone by the time a slice runs: failed, saying why."""
    run = start({"proposal": proposal(), **RANGE})
    monkeypatch.setattr(runs, "_live_document", lambda kind, version: (_ for _ in ()).throw(ValueError("gone")))
    assert work(stack) == 1
    failed = view_of(run["id"])
    assert failed["status"] == "failed" and failed["error"] == "ValueError: gone"
