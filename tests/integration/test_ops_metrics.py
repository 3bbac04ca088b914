"""Operational metrics (Powertools EMF) through the real sweep handler: each SLA notice is
counted once, by the sweep that sends it, in the namespace and dimension the dashboard reads."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.conftest import drain, sqs_batch
from tests.support import Api, invoke, new_ticket, stored_ticket
from ticketflow import clock, sla, sweep
from ticketflow.models import Ticket
from ticketflow.observability import metrics
from ticketflow.storage import tickets as ticket_store

api = Api()
P1_TEXT = "吃了你们的保健品后全身过敏起疹子，已经去医院了！"
SCHEDULED = {
    "version": "0",
    "id": "5f1c3e2a-0000-4000-8000-000000000001",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-23T08:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/Ticketflow-sla-sweep"],
    "detail": {},
}


def p1_ticket(stack: dict[str, str]) -> Ticket:
    tid = api.post("/tickets", new_ticket(description=P1_TEXT, subject=None))[1]["id"]
    invoke("classify", sqs_batch(drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])))
    ticket = stored_ticket(tid)
    assert ticket.priority == "P1"
    return ticket


def emf(output: str) -> list[dict]:
    """The EMF documents among the lines a handler printed (its JSON logs are the others)."""
    documents = []
    for line in output.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            documents.append(document)
    return documents


def sweep_at(moment: datetime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> dict[str, float]:
    """Invoke the sweep's handler as its schedule does, at ``moment``; the counts it flushed."""
    metrics.clear_metrics()  # counts other tests left unflushed (they call sweep.run directly)
    capsys.readouterr()
    monkeypatch.setattr(clock, "now", lambda: moment)
    invoke("sweep", SCHEDULED)
    documents = emf(capsys.readouterr().out)
    assert documents, "the handler flushed no metrics"
    counts: dict[str, float] = {}
    for document in documents:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        # Exactly what the dashboard queries: namespace ticketflow, dimension service=ticketflow.
        assert directive["Namespace"] == "ticketflow"
        assert directive["Dimensions"] == [["service"]] and document["service"] == "ticketflow"
        for metric in directive["Metrics"]:
            assert metric["Unit"] == "Count"
            values = document[metric["Name"]]
            counts[metric["Name"]] = counts.get(metric["Name"], 0) + sum(
                values if isinstance(values, list) else [values]
            )
    return counts


def test_an_escalation_emits_the_escalations_metric(stack, monkeypatch, capsys):
    ticket = p1_ticket(stack)
    start = ticket.created_at

    warned = sweep_at(start + timedelta(minutes=91), monkeypatch, capsys)  # 75 % of 120 minutes
    assert warned["SlaWarnings"] == 1 and "Escalations" not in warned
    assert warned["SweepDue"] >= 1 and warned["SweepErrors"] == 0

    breached = sweep_at(start + timedelta(minutes=121), monkeypatch, capsys)  # level 1: supervisor
    assert breached["Escalations"] == 1 and "SlaWarnings" not in breached
    assert sweep_at(start + timedelta(minutes=122), monkeypatch, capsys).get("Escalations") is None  # sent

    escalated = sweep_at(start + timedelta(minutes=181), monkeypatch, capsys)  # level 2: manager
    assert escalated["Escalations"] == 1
    assert stored_ticket(ticket.id).escalated is True


def test_a_notice_another_sweep_holds_is_counted_by_the_sweep_that_sends_it(stack, monkeypatch, capsys):
    ticket = p1_ticket(stack)
    moment = ticket.created_at + timedelta(minutes=121)
    assert ticket.sla is not None
    owed = sla.owed(ticket.sla, moment)
    assert [n.level for n in owed] == ["warning", "breach"]
    for notice in owed:  # a concurrent sweep claimed both and has not sent them yet
        assert ticket_store.claim_notice(ticket.id, notice.key, moment, stale_after=sweep.STALE_CLAIM)

    lost = sweep_at(moment + timedelta(seconds=30), monkeypatch, capsys)
    assert "SlaWarnings" not in lost and "Escalations" not in lost

    # That sweep crashed: once its claims are stale, this one sends them, and counts them.
    taken_over = sweep_at(moment + sweep.STALE_CLAIM + timedelta(minutes=1), monkeypatch, capsys)
    assert taken_over["SlaWarnings"] == 1 and taken_over["Escalations"] == 1
