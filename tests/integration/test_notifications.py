"""Who is told of what, as data: the shipped defaults tell the same people as before, and a live
``notifications`` version changes the recipients, switches a notice off (recorded, never
retried) or adds SMS, for the sweep's SLA notices and owner timer, the P1 notice and the
survey recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from moto.sns.models import sns_backends

from tests.conftest import drain, sent_email, sqs_batch
from tests.support import Api, invoke, live_version, new_ticket, nobody_free, stored_person, stored_ticket
from ticketflow import assignment, sweep
from ticketflow.storage import directory as directory_store

api = Api()
P1_TEXT = "吃了你们的保健品后全身过敏起疹子，已经去医院了！"
P3_TEXT = "这款耳机支持降噪吗？"  # presales: supervisor sup-1, manager admin-1; nobody assigned
SUP, MANAGER = "sup-1@ticketflow.example", "admin-1@ticketflow.example"


def classified(stack, description: str) -> str:
    tid = api.post("/tickets", new_ticket(description=description, subject=None))[1]["id"]
    invoke("classify", sqs_batch(drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])))
    return tid


def subjects_to(address: str, since: int) -> list[str]:
    return [e.subject for e in sent_email()[since:] if e.destinations["ToAddresses"] == [address]]


def history(tid: str, action: str) -> list[dict]:
    return [h for h in api.get(f"/tickets/{tid}", as_="sup-1")[1]["history"] if h["action"] == action]


def first_response(tid: str):
    state = stored_ticket(tid).sla
    assert state is not None
    return state.clocks["first_response"]


# The SLA sweep


def test_the_defaults_warn_and_breach_to_the_supervisor_of_an_unassigned_ticket(stack):
    nobody_free()  # else the sweep gives it to an agent, who is warned instead
    tid = classified(stack, P3_TEXT)
    before = len(sent_email())
    assert sweep.run(first_response(tid).due_at + timedelta(minutes=1)).notices == 2
    sent = subjects_to(SUP, before)
    assert len(sent) == 2 and "warning" in sent[0] and "breach" in sent[1]
    assert subjects_to(MANAGER, before) == []
    assert history(tid, "sla_breach")[0]["reason"].endswith("; notified sup-1")


def test_a_live_version_sends_the_breach_to_the_manager_instead(stack):
    nobody_free()
    tid = classified(stack, P3_TEXT)
    live_version("notifications", sla_breach={"to": ["team_manager"]})
    before = len(sent_email())
    assert sweep.run(first_response(tid).due_at + timedelta(minutes=1)).notices == 2
    assert [s for s in subjects_to(SUP, before) if "breach" in s] == []
    assert len(subjects_to(SUP, before)) == 1  # the warning still goes to the supervisor
    [breach] = subjects_to(MANAGER, before)
    assert "breach" in breach
    assert history(tid, "sla_breach")[0]["reason"].endswith("; notified admin-1")


def test_a_disabled_warning_is_recorded_not_sent_and_never_sent_later(stack):
    tid = classified(stack, P3_TEXT)
    live_version("notifications", sla_warning={"enabled": False})
    warn_at = first_response(tid).warn_at
    before = len(sent_email())
    assert sweep.run(warn_at + timedelta(minutes=1)).notices == 1  # recorded
    assert subjects_to(SUP, before) == []
    [entry] = history(tid, "sla_warning")
    assert entry["reason"].endswith("; notified nobody (disabled in notifications settings)")
    assert first_response(tid).notified == ["warning"]
    assert sweep.run(warn_at + timedelta(minutes=2)).notices == 0
    live_version("notifications", sla_warning={"enabled": True})  # switched on again: what was recorded stays done
    assert sweep.run(warn_at + timedelta(minutes=3)).notices == 0
    assert len(history(tid, "sla_warning")) == 1 and subjects_to(SUP, before) == []


def test_sms_always_texts_a_non_p1_breach_to_a_person_with_a_phone(stack):
    phone = "+8613900000071"
    sup = stored_person("sup-1")
    directory_store.put_person(sup.model_copy(update={"phone": phone}))
    directory_store.clear_cache()
    tid = classified(stack, P3_TEXT)
    assert stored_ticket(tid).priority == "P3"
    live_version("notifications", sla_breach={"sms": "always"})
    assert sweep.run(first_response(tid).due_at + timedelta(minutes=1)).notices == 2
    texts = [t for p, t in sns_backends["123456789012"]["us-east-1"].sms_messages.values() if p == phone]
    assert len(texts) == 1 and "breach" in texts[0]  # the warning stays "p1": email only


def test_the_owner_timeout_tells_the_holder_and_whoever_the_settings_add(stack):
    tid = classified(stack, "我的快递三天了还没到，物流也不更新")
    agent = assignment.assign_waiting_ticket(tid).agent
    assert agent
    live_version("notifications", owner_timeout={"to": ["assignee", "team_supervisor"]})
    before = len(sent_email())
    assigned_at = stored_ticket(tid).assigned_at
    assert assigned_at is not None
    assert sweep.run(assigned_at + timedelta(minutes=31)).returned_to_queue == 1
    mails = {e.destinations["ToAddresses"][0]: e.body for e in sent_email()[before:]}
    assert mails[f"{agent}@ticketflow.example"].startswith("You did not accept ticket")
    assert mails[SUP].startswith(f"{agent} did not accept ticket")


# The P1 notice


def test_the_p1_notice_goes_to_the_supervisor_by_default_and_to_nobody_when_disabled(stack):
    before = len(sent_email())
    tid = classified(stack, P1_TEXT)
    assert len(subjects_to(SUP, before)) == 1
    assert history(tid, "notify")[0]["reason"] == "P1: notified sup-1"

    live_version("notifications", p1_notice={"enabled": False})
    before = len(sent_email())
    api.post("/tickets", new_ticket(description=P1_TEXT, subject=None))
    message = drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])
    invoke("classify", sqs_batch(message))
    invoke("classify", sqs_batch(message))  # redelivered: nothing more
    quiet = message[0]["data"]["ticket_id"]
    assert api.get(f"/tickets/{quiet}", as_="sup-1")[1]["notices"] == {"p1_supervisor": "sent"}
    [entry] = history(quiet, "notify")
    assert entry["reason"] == "P1: notified nobody (disabled in notifications settings)"
    assert subjects_to(SUP, before) == []


# The survey recovery


@pytest.fixture
def low_score(stack, monkeypatch):
    """Rate a worked ticket low through the survey page; return the recovery ticket's number."""
    from tests.integration.test_surveys import GOOD, answer, sent_survey

    monkeypatch.setenv("TICKETFLOW_SURVEY_DELAY_SECONDS", "0")

    def rate() -> str:
        tid, token = sent_survey(stack)
        assert answer(token, {**GOOD, "resolution": "1"})[0] == 200
        return api.get(f"/tickets/{tid}", as_="sup-1")[1]["survey"]["recovery_ticket"]

    return rate


def test_a_recovery_ticket_is_announced_to_the_supervisor_or_whom_the_settings_name(low_score):
    before = len(sent_email())
    number = low_score()
    assert [s for s in subjects_to(SUP, before) if s.startswith(f"[{number}]")]

    live_version("notifications", low_survey_score={"to": ["person:admin-1"]})
    before = len(sent_email())
    number = low_score()
    assert api.get(f"/tickets/{number}", as_="sup-1")[1]["assignee"] == "sup-1"  # still theirs to work
    assert [s for s in subjects_to(MANAGER, before) if s.startswith(f"[{number}]")]
    assert not [s for s in subjects_to(SUP, before) if s.startswith(f"[{number}]")]
