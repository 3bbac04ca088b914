"""SLA clocks with a controllable clock: policies, business-hours due times, pauses, thresholds."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ticketflow import runtime_config, sla
from ticketflow.calendars import default_calendars

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def shipped_defaults(monkeypatch):
    """The shipped policies and calendars, without a table (the live version is tested elsewhere)."""
    config = sla.SlaConfig.model_validate(runtime_config.default("sla"))
    business = config.model_copy(deep=True)
    business.policies[-1] = business.policies[-1].model_copy(update={"calendar": "cn-business", "business_hours": True})
    monkeypatch.setattr(sla, "config", lambda: business)
    monkeypatch.setattr(sla, "calendars", default_calendars)


def start(created: datetime, priority: str = "P2", tier: str = "standard") -> sla.SlaState:
    return sla.start(created_at=created, priority=priority, category="order_support", tier=tier, channel="web")


def test_policies_match_in_order_with_a_fallback():
    friday = datetime(2026, 11, 27, 17, 30, tzinfo=SH)
    assert start(friday, "P1").policy == "p1-urgent"
    assert start(friday, "P2", tier="vip").policy == "vip"
    fallback = start(friday, "P3")
    assert fallback.policy == "standard" and "fallback" in fallback.why[0]


def test_business_hours_carry_a_friday_evening_ticket_to_monday():
    state = start(datetime(2026, 11, 27, 17, 30, tzinfo=SH), "P2")  # 240 business minutes
    due_at = state.clocks["first_response"].due_at
    assert due_at is not None
    due = due_at.astimezone(SH)
    assert due == datetime(2026, 11, 30, 13, 30, tzinfo=SH)  # 30 min Fri, 3 h Mon morning, 30 min after lunch
    view = sla.explain(state)["targets"]["first_response"]
    assert any("weekend" in reason for reason in view["why"])


def test_p1_counts_calendar_time():
    created = datetime(2026, 11, 28, 23, 0, tzinfo=SH)  # Saturday night
    state = start(created, "P1")
    assert state.clocks["first_response"].due_at == created + timedelta(hours=2)
    assert state.clocks["first_response"].warn_at == created + timedelta(minutes=90)
    assert state.clocks["first_response"].escalate_at == created + timedelta(minutes=180)


def test_thresholds_come_due_in_order_and_once():
    created = datetime(2026, 11, 28, 23, 0, tzinfo=SH)
    state = start(created, "P1")
    assert state.next_check() == created + timedelta(minutes=90)
    assert [n.level for n in sla.owed(state, created + timedelta(minutes=100))] == ["warning"]
    owed = sla.owed(state, created + timedelta(minutes=200))
    assert [(n.target, n.level) for n in owed] == [
        ("first_response", "warning"),
        ("first_response", "breach"),
        ("first_response", "escalation"),
    ]
    for notice in owed:
        state = sla.record_notice(state, notice, created + timedelta(minutes=200))
    assert sla.owed(state, created + timedelta(minutes=200)) == []
    clock = state.clocks["first_response"]
    assert clock.status == "breached" and clock.breached_at == created + timedelta(hours=2)
    assert state.next_check() == state.clocks["resolution"].warn_at


def test_a_human_reply_meets_the_first_response():
    created = datetime(2026, 11, 28, 23, 0, tzinfo=SH)
    state = sla.on_action(
        start(created, "P1"), "reply", status_after="in_progress", now=created + timedelta(minutes=30)
    )
    assert state.clocks["first_response"].status == "met"
    assert sla.owed(state, created + timedelta(minutes=119)) == []


def test_pending_pauses_resolution_not_first_response_and_resume_moves_the_due_time():
    created = datetime(2026, 11, 28, 23, 0, tzinfo=SH)
    state = start(created, "P1")
    due = state.clocks["resolution"].due_at
    assert due is not None
    paused = sla.on_action(state, "pending", status_after="pending_customer", now=created + timedelta(hours=1))
    assert paused.clocks["resolution"].status == "paused" and paused.clocks["first_response"].status == "running"
    assert paused.clocks["resolution"].consumed == 60
    resumed = sla.on_action(paused, "resume", status_after="in_progress", now=created + timedelta(hours=4))
    clock = resumed.clocks["resolution"]
    assert clock.status == "running" and clock.due_at == due + timedelta(hours=3)
    assert clock.pauses[0].end == created + timedelta(hours=4)
    assert resumed.clocks["next_response"].due_at == created + timedelta(hours=5)  # P1 next response: 60 min


def test_resolve_meets_resolution_close_stops_everything_reopen_restarts():
    created = datetime(2026, 11, 28, 23, 0, tzinfo=SH)
    state = sla.on_action(start(created, "P1"), "resolve", status_after="resolved", now=created + timedelta(hours=3))
    assert state.clocks["resolution"].status == "met"
    assert state.clocks["first_response"].status == "stopped"
    closed = sla.on_action(state, "close", status_after="closed", now=created + timedelta(hours=4))
    assert closed.next_check() is None
    reopened = sla.on_action(closed, "reopen", status_after="in_progress", now=created + timedelta(hours=5))
    assert reopened.clocks["resolution"].status == "running"
    assert reopened.clocks["resolution"].due_at == created + timedelta(hours=5, minutes=1440)


def test_demo_time_scale():
    cfg = sla._scaled(sla.SlaConfig.model_validate(runtime_config.default("sla")), 1 / 60)
    assert cfg.policies[0].targets["first_response"]["P1"] == 2  # 120 SLA minutes last 2 minutes
    assert cfg.owner_minutes == 0.5
