"""Who may do what to which ticket (no I/O: the directory is not consulted for these rules)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ticketflow.access import Actor, check
from ticketflow.directory import Role
from ticketflow.errors import Conflict, Forbidden
from ticketflow.lifecycle import Action
from ticketflow.models import Channel, Customer, Status, Ticket

NOW = datetime(2026, 11, 23, tzinfo=UTC)
AGENT = Actor("agent-1", Role.AGENT, ("presales",))
OTHER_TEAM = Actor("agent-3", Role.AGENT, ("aftersales",))
TEAMMATE = Actor("agent-2", Role.AGENT, ("presales",))
SUPERVISOR = Actor("sup-1", Role.SUPERVISOR, ())


def ticket(team: str | None, assignee: str | None) -> Ticket:
    return Ticket(
        id="t",
        number="CS1",
        status=Status.IN_PROGRESS,
        version=1,
        channel=Channel.WEB,
        customer=Customer(id="c", name="n"),
        description="d",
        created_at=NOW,
        updated_at=NOW,
        team=team,
        assignee=assignee,
    )


@pytest.mark.parametrize(
    "action",
    [None, Action.REPLY, Action.COMMENT, Action.TRANSFER, Action.RESOLVE, Action.CLOSE, Action.PENDING, Action.REOPEN],
)
def test_agents_act_on_their_own_and_their_teams_tickets_only(action):
    owned = ticket("presales", "agent-1")
    check(AGENT, action, owned)
    check(TEAMMATE, action, owned)
    check(SUPERVISOR, action, owned)
    with pytest.raises(Forbidden):
        check(OTHER_TEAM, action, owned)


def test_an_agent_keeps_a_ticket_assigned_to_them_in_another_team():
    check(OTHER_TEAM, Action.REPLY, ticket("presales", "agent-3"))


def test_unrouted_tickets_can_be_seen_and_claimed_by_any_agent():
    unrouted = ticket(None, None)
    check(OTHER_TEAM, None, unrouted)
    check(OTHER_TEAM, Action.ACCEPT, unrouted)
    with pytest.raises(Forbidden):
        check(OTHER_TEAM, Action.REPLY, unrouted)


def test_claiming_is_for_the_team_and_never_steals():
    check(TEAMMATE, Action.ACCEPT, ticket("presales", None))
    with pytest.raises(Forbidden):
        check(OTHER_TEAM, Action.ACCEPT, ticket("presales", None))
    with pytest.raises(Conflict):
        check(TEAMMATE, Action.ACCEPT, ticket("presales", "agent-1"))


def test_assignment_is_a_supervisors_call():
    with pytest.raises(Forbidden, match="supervisor"):
        check(AGENT, Action.ASSIGN, ticket("presales", "agent-1"))
    check(SUPERVISOR, Action.ASSIGN, ticket("presales", "agent-1"))
    check(Actor("admin-1", Role.ADMIN), Action.ASSIGN, ticket(None, None))


@pytest.mark.parametrize("raw", [["agent", "supervisor"], "agent,supervisor", "[agent supervisor]"])
def test_cognito_groups_in_any_of_their_shapes(raw):
    from ticketflow.access import _groups

    assert _groups({"cognito:groups": raw}) == ["agent", "supervisor"]


def test_accepting_another_teams_assigned_ticket_is_forbidden_not_a_conflict():
    with pytest.raises(Forbidden):
        check(OTHER_TEAM, Action.ACCEPT, ticket("presales", "agent-1"))
