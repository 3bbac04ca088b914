"""What-if replay of one ticket, and how findings add up: pure, no table (rules from the shipped
defaults, edited the way an admin would edit them)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ticketflow import runtime_config
from ticketflow.models import Ticket
from ticketflow.simulation import replay, results
from ticketflow.simulation.replay import KINDS, Rules
from ticketflow.sla import Clock, Pause, SlaState

T0 = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Shanghai
NOW = T0 + timedelta(days=5)


@pytest.fixture(scope="module")
def documents() -> dict[str, Any]:
    return {kind: runtime_config.default(kind) for kind in KINDS}


@pytest.fixture(scope="module")
def live(documents) -> Rules:
    return Rules.build(documents)


def ticket(description: str, **fields: Any) -> Ticket:
    data = {
        "id": "t-1",
        "number": "CS20261110000001",
        "status": "classified",
        "version": 2,
        "channel": "web",
        "customer": {"id": "C-1", "name": "王芳", "email": "wf@example.com", "phone": "+8613800000000"},
        "description": description,
        "created_at": T0,
        "updated_at": T0,
    }
    return Ticket.model_validate(data | fields)


def edited(documents: dict[str, Any], kind: str, change) -> Rules:
    document = copy.deepcopy(documents[kind])
    change(document)
    return Rules.build({**documents, kind: document})


def test_a_new_keyword_phrase_moves_a_ticket_to_another_subcategory_and_team(documents, live):
    t = ticket("请问蓝莓计划怎么参加")
    before = replay.replay(t, live, now=NOW)
    assert (before.category, before.subcategory, before.team) == ("presales", "product_info", "presales")

    def add_phrase(rules: dict) -> None:
        rules["categories"]["order_support"]["subcategories"]["logistics"]["phrases"]["蓝莓计划"] = 3

    after = replay.replay(t, edited(documents, "classification", add_phrase), now=NOW)
    assert (after.category, after.subcategory, after.team) == ("order_support", "logistics", "logistics")


def test_a_routing_change_moves_only_the_team(documents, live):
    t = ticket("我的快递三天了还没到，物流也不更新")
    proposed = edited(documents, "routing", lambda r: r["routes"].update({"order_support/logistics": "aftersales"}))
    before, after = replay.replay(t, live, now=NOW), replay.replay(t, proposed, now=NOW)
    assert (before.team, after.team) == ("logistics", "aftersales")
    assert before.model_dump(exclude={"team"}) == after.model_dump(exclude={"team"})


def test_a_new_priority_signal_phrase_raises_the_priority(documents, live):
    t = ticket("我想了解一下会员积分")
    assert replay.replay(t, live, now=NOW).priority == "P3"
    proposed = edited(
        documents, "classification", lambda r: r["priority_signals"]["urgent"]["phrases"].append("会员积分")
    )
    after = replay.replay(t, proposed, now=NOW)
    assert after.priority == "P2" and "urgent" in after.tags


def test_an_sla_target_change_flips_met_and_breached(documents, live):
    # P3 on the standard policy: 1440 minutes of calendar time.
    quick = ticket("请问蓝莓计划怎么参加", first_response_at=T0 + timedelta(hours=3))
    slow = ticket("请问蓝莓计划怎么参加", first_response_at=T0 + timedelta(hours=30))
    before = replay.replay(quick, live, now=NOW)
    assert before.policy == "standard"
    assert before.sla["first_response"] == replay.TargetOutcome(due_at=T0 + timedelta(hours=24), outcome="met")
    assert before.sla["resolution"].outcome == "open"  # 5 days into a 7-day target
    assert replay.replay(slow, live, now=NOW).sla["first_response"].outcome == "breached"

    def target(minutes: int):
        return lambda sla: sla["policies"][-1]["targets"]["first_response"].update({"P3": minutes})

    tight, loose = edited(documents, "sla", target(120)), edited(documents, "sla", target(2880))
    assert replay.replay(quick, tight, now=NOW).sla["first_response"] == replay.TargetOutcome(
        due_at=T0 + timedelta(hours=2), outcome="breached"
    )
    assert replay.replay(slow, loose, now=NOW).sla["first_response"].outcome == "met"


def test_sla_outcomes_open_stopped_and_business_hours(documents, live):
    waiting = ticket("请问蓝莓计划怎么参加")
    assert replay.replay(waiting, live, now=T0 + timedelta(hours=1)).sla["first_response"].outcome == "open"
    assert replay.replay(waiting, live, now=T0 + timedelta(hours=25)).sla["first_response"].outcome == "breached"
    resolved_early = ticket("请问蓝莓计划怎么参加", resolved_at=T0 + timedelta(hours=1), status="resolved")
    outcome = replay.replay(resolved_early, live, now=NOW)
    assert outcome.sla["first_response"].outcome == "stopped" and outcome.sla["resolution"].outcome == "met"

    def business_hours(sla: dict) -> None:
        sla["policies"][-1].update({"calendar": "cn-business", "business_hours": True})

    # Friday 17:30 in Shanghai + 240 business minutes: 30 on Friday, 180 on Monday morning, then 13:30.
    friday = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    urgent = ticket("我的快递三天了还没到，物流也不更新", created_at=friday)
    due = replay.replay(urgent, edited(documents, "sla", business_hours), now=NOW).sla["first_response"].due_at
    assert due == datetime(2026, 11, 30, 5, 30, tzinfo=UTC)


def test_a_paused_clock_is_due_later_by_the_pause(live):
    pause = Pause(start=T0 + timedelta(hours=10), end=T0 + timedelta(hours=40))
    clock = Clock(target="resolution", minutes=10080, started_at=T0, pauses=[pause])
    state = SlaState(policy="standard", policy_name="s", calendar="24x7", business_hours=False, priority="P3")
    state.clocks["resolution"] = clock
    t = ticket("请问蓝莓计划怎么参加", sla=state)
    assert replay.replay(t, live, now=NOW).sla["resolution"].due_at == T0 + timedelta(days=7, hours=30)
    waiting = Clock(target="resolution", minutes=10080, started_at=T0, pauses=[Pause(start=T0 + timedelta(hours=1))])
    state.clocks["resolution"] = waiting
    paused = replay.replay(ticket("请问蓝莓计划怎么参加", sla=state), live, now=NOW).sla["resolution"]
    assert (paused.due_at, paused.outcome) == (None, "open")


def test_a_new_knowledge_article_gains_an_auto_reply_but_never_for_a_complaint(documents, live):
    article = {
        "id": "points-zh",
        "title": "会员积分",
        "language": "zh",
        "category": "presales",
        "subcategory": "pricing",
        "questions": ["会员积分怎么用", "我想了解一下会员积分"],
        "keywords": ["会员积分"],
        "answer": "{customer_name}您好，会员积分可在下单时抵扣。",
    }
    proposed = edited(documents, "knowledge", lambda k: k["articles"].append(article))
    question = ticket("我想了解一下会员积分")
    assert replay.replay(question, live, now=NOW).auto_reply is None
    assert replay.replay(question, proposed, now=NOW).auto_reply == "points-zh"

    complaint = ticket("产品质量太差了，我要投诉，会员积分怎么用")
    assert replay.replay(complaint, proposed, now=NOW).auto_reply is None  # complaints get a person

    cue = edited(documents, "knowledge", lambda k: (k["articles"].append(article), k["escalation_cues"].append("积分")))
    assert replay.replay(question, cue, now=NOW).auto_reply is None  # an escalation cue silences it


def test_findings_add_up_across_slices_with_samples_capped(documents, live):
    proposed = edited(documents, "routing", lambda r: r["routes"].update({"order_support/logistics": "aftersales"}))
    tickets = [
        ticket(
            "我的快递三天了还没到，物流也不更新",
            id=f"t-{i}",
            number=f"CS2026111000000{i}",
            subject=f"单号 SO1234567{i} 联系 a{i}@example.com",
        )
        for i in range(5)
    ] + [ticket("请问蓝莓计划怎么参加", id="t-9", number="CS20261110000009")]

    def slice_of(group: list[Ticket]) -> dict:
        found = results.empty()
        for t in group:
            results.add(found, t, replay.replay(t, live, now=NOW), replay.replay(t, proposed, now=NOW), sample_size=2)
        return found

    whole = results.merge(slice_of(tickets[:3]), slice_of(tickets[3:]), sample_size=2)
    assert whole["tickets"] == 6 and whole["changed"] == 5
    assert whole["moved"]["team"] == 5 and whole["moved"]["category"] == 0
    assert whole["transitions"]["team"] == {"logistics → aftersales": 5}
    assert [s["id"] for s in whole["samples"]["team"]] == ["t-0", "t-1"]
    sample = whole["samples"]["team"][0]
    assert sample["live"]["team"] == "logistics" and sample["proposed"]["team"] == "aftersales"
    assert "@" not in sample["subject"] and "1234567" not in sample["subject"]
    assert results.SimulationResult.model_validate(whole).moved.team == 5


def test_a_subject_is_cut_to_80_characters():
    long = ticket("x", subject="物流" * 60)
    assert len(results.subject_of(long)) == 80
    assert results.subject_of(ticket("只有描述")) == "只有描述"
