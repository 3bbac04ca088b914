"""Notification settings: validation names the bad field; recipients resolve from a ticket's
assignee, team and explicit people, with a fallback; SMS and quiet hours follow the rules."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ticketflow import notifications, runtime_config
from ticketflow.directory import Person, QuietHours, Role, Team
from ticketflow.models import Channel, Customer, Status, Ticket

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
ASLEEP = QuietHours(start="00:00", end="23:59", timezone="UTC")
PEOPLE = {
    p.id: p
    for p in (
        Person(id="agent-1", name="A", role=Role.AGENT, email="a@x.example"),
        Person(id="sup-1", name="S", role=Role.SUPERVISOR, email="s@x.example", quiet_hours=ASLEEP),
        Person(id="boss", name="B", role=Role.ADMIN, email="b@x.example"),
        Person(id="ops-1", name="O", role=Role.ADMIN, email="o@x.example"),
    )
}
TEAMS = {
    "managed": Team(id="managed", name="M", supervisor="sup-1", manager="boss"),
    "unmanaged": Team(id="unmanaged", name="U", supervisor="sup-1"),
}


def shipped() -> dict:
    return copy.deepcopy(runtime_config.default("notifications"))


@pytest.fixture
def use(monkeypatch):
    """Run on ``data`` (the shipped defaults if None) and the small directory above, no table."""
    monkeypatch.setattr(notifications.directory_store, "get_team", TEAMS.get)
    monkeypatch.setattr(notifications.directory_store, "get_person", PEOPLE.get)

    def apply(data: dict | None = None) -> None:
        built = notifications.NotificationSettings.model_validate(shipped() if data is None else data)
        monkeypatch.setattr(notifications, "settings", lambda: built)

    apply()
    return apply


def ticket(*, team: str | None = "managed", assignee: str | None = None, priority: str = "P3") -> Ticket:
    return Ticket(
        id="t",
        number="CS1",
        status=Status.ASSIGNED if assignee else Status.CLASSIFIED,
        version=1,
        channel=Channel.WEB,
        customer=Customer(id="c", name="n"),
        description="d",
        created_at=NOW,
        updated_at=NOW,
        team=team,
        assignee=assignee,
        priority=priority,
    )


def ids(plan: notifications.Plan) -> list[str]:
    return [p.id for p in plan.people]


def error_of(data: dict) -> ErrorDetails:
    with pytest.raises(ValidationError) as caught:
        notifications.NotificationSettings.model_validate(data)
    (error,) = caught.value.errors()
    return error


# Validation


def test_the_shipped_defaults_validate_and_keep_their_comment():
    settings = notifications.NotificationSettings.model_validate(shipped())
    assert settings.comment.startswith("Who is told of what")
    assert settings.sla_warning.fallback == ["team_supervisor"]


def test_an_unknown_field_is_an_error_naming_it():
    data = shipped()
    data["sla_breach"]["too"] = ["team_manager"]
    error = error_of(data)
    assert error["type"] == "extra_forbidden" and error["loc"] == ("sla_breach", "too")


def test_an_unknown_notice_and_a_missing_one_are_named():
    data = shipped()
    data["sla_breech"] = data.pop("sla_breach")
    with pytest.raises(ValidationError) as caught:
        notifications.NotificationSettings.model_validate(data)
    found = {(e["type"], e["loc"]) for e in caught.value.errors()}
    assert found == {("extra_forbidden", ("sla_breech",)), ("missing", ("sla_breach",))}


def test_a_bad_recipient_is_an_error_naming_its_place():
    data = shipped()
    data["sla_escalation"]["fallback"] = ["team_supervisor", "manager"]
    error = error_of(data)
    assert error["loc"] == ("sla_escalation", "fallback", 1) and "'manager' is not a recipient" in error["msg"]
    data = shipped()
    data["p1_notice"]["to"] = ["person:"]
    assert error_of(data)["loc"] == ("p1_notice", "to", 0)


def test_a_bad_sms_value_is_an_error_naming_the_field():
    data = shipped()
    data["owner_timeout"]["sms"] = "sometimes"
    error = error_of(data)
    assert error["type"] == "literal_error" and error["loc"] == ("owner_timeout", "sms")


# Recipients


def test_the_warning_goes_to_the_assignee_else_the_supervisor(use):
    assert ids(notifications.plan("sla_warning", ticket(assignee="agent-1"))) == ["agent-1"]
    assert ids(notifications.plan("sla_warning", ticket())) == ["sup-1"]  # the fallback
    assert ids(notifications.plan("sla_warning", ticket(team=None))) == []


def test_the_escalation_goes_to_the_manager_else_the_supervisor(use):
    assert ids(notifications.plan("sla_escalation", ticket(team="managed"))) == ["boss"]
    assert ids(notifications.plan("sla_escalation", ticket(team="unmanaged"))) == ["sup-1"]


def test_the_fallback_is_used_only_when_to_names_nobody(use, monkeypatch):
    # a manager who is not in the directory: to names someone, so no fallback (as before the settings)
    monkeypatch.setitem(TEAMS, "ghost", Team(id="ghost", name="G", supervisor="sup-1", manager="gone"))
    assert ids(notifications.plan("sla_escalation", ticket(team="ghost"))) == []
    data = shipped()
    data["sla_breach"] = {**data["sla_breach"], "to": ["assignee"], "fallback": ["person:ops-1"]}
    use(data)
    assert ids(notifications.plan("sla_breach", ticket(assignee="agent-1"))) == ["agent-1"]
    assert ids(notifications.plan("sla_breach", ticket())) == ["ops-1"]


def test_explicit_people_roles_once_each_in_order_and_unknown_people_dropped(use):
    data = shipped()
    data["sla_breach"]["to"] = ["person:ops-1", "team_supervisor", "person:sup-1", "person:nobody", "team_manager"]
    use(data)
    assert ids(notifications.plan("sla_breach", ticket())) == ["ops-1", "sup-1", "boss"]


def test_a_disabled_notice_names_nobody_and_says_why(use):
    data = shipped()
    data["sla_warning"]["enabled"] = False
    use(data)
    plan = notifications.plan("sla_warning", ticket(assignee="agent-1"))
    assert plan.people == () and not plan.enabled
    assert notifications.describe(plan, []) == "nobody (disabled in notifications settings)"
    assert notifications.describe(notifications.plan("sla_breach", ticket(team=None)), []) == (
        "nobody (no recipient configured)"
    )


def test_sms_follows_the_setting_and_the_priority(use):
    assert notifications.plan("sla_breach", ticket(priority="P1")).sms is True  # "p1"
    assert notifications.plan("sla_breach", ticket(priority="P2")).sms is False
    assert notifications.plan("p1_notice", ticket(priority="P1")).sms is False  # "never": email only
    data = shipped()
    data["sla_breach"]["sms"] = "always"
    use(data)
    assert notifications.plan("sla_breach", ticket(priority="P4")).sms is True


def test_quiet_hours_hold_back_people_except_for_p1(use):
    routine = notifications.plan("sla_breach", ticket(priority="P3"))
    assert ids(routine) == ["sup-1"] and routine.awake(NOW) == []
    urgent = notifications.plan("sla_breach", ticket(priority="P1"))
    assert [p.id for p in urgent.awake(NOW)] == ["sup-1"]
    p1 = shipped()
    p1["p1_notice"]["respect_quiet_hours"] = True
    use(p1)
    assert [p.id for p in notifications.plan("p1_notice", ticket(priority="P2")).awake(NOW)] == ["sup-1"]
    # owner_timeout does not respect quiet hours by default
    assert [p.id for p in notifications.plan("owner_timeout", ticket(assignee="sup-1")).awake(NOW)] == ["sup-1"]
