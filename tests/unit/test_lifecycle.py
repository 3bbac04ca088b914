"""The transition table, exhaustively: every action from every status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ticketflow.errors import IllegalTransition
from ticketflow.lifecycle import TRANSITIONS, Action, next_status
from ticketflow.models import Channel, CloseReason, Customer, Status, Ticket

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
WINDOW = timedelta(days=7)
S = Status

# The expected outcome of each (action, status): a status, or None for 409.
EXPECTED: dict[Action, dict[Status, Status | None]] = {
    Action.CLASSIFY: {S.NEW: S.CLASSIFIED},
    Action.ASSIGN: {
        S.NEW: S.ASSIGNED,
        S.CLASSIFIED: S.ASSIGNED,
        S.ASSIGNED: S.ASSIGNED,
        S.IN_PROGRESS: S.ASSIGNED,
        S.PENDING_CUSTOMER: S.ASSIGNED,
    },
    Action.ACCEPT: {S.NEW: S.IN_PROGRESS, S.CLASSIFIED: S.IN_PROGRESS, S.ASSIGNED: S.IN_PROGRESS},
    Action.REPLY: {S.ASSIGNED: S.IN_PROGRESS, S.IN_PROGRESS: S.IN_PROGRESS, S.PENDING_CUSTOMER: S.PENDING_CUSTOMER},
    Action.COMMENT: {s: s for s in Status if s is not S.CLOSED},
    Action.TRANSFER: {
        S.NEW: S.ASSIGNED,
        S.CLASSIFIED: S.ASSIGNED,
        S.ASSIGNED: S.ASSIGNED,
        S.IN_PROGRESS: S.ASSIGNED,
        S.PENDING_CUSTOMER: S.ASSIGNED,
    },
    Action.PENDING: {S.IN_PROGRESS: S.PENDING_CUSTOMER},
    Action.RESUME: {S.PENDING_CUSTOMER: S.IN_PROGRESS},
    Action.RESOLVE: {S.IN_PROGRESS: S.RESOLVED, S.PENDING_CUSTOMER: S.RESOLVED},
    Action.CLOSE: {S.RESOLVED: S.CLOSED},  # with reason resolved
    Action.REOPEN: {S.RESOLVED: S.IN_PROGRESS, S.CLOSED: S.IN_PROGRESS},
    Action.SURVEY: {S.RESOLVED: S.RESOLVED, S.CLOSED: S.CLOSED},  # asking for a rating changes no status
}


def ticket(status: Status, *, closed_days_ago: float | None = 1.0, assignee: str | None = "agent-1") -> Ticket:
    return Ticket(
        id="t",
        number="CS20261123000001",
        status=status,
        version=3,
        channel=Channel.WEB,
        customer=Customer(id="c", name="n"),
        description="d",
        created_at=NOW,
        updated_at=NOW,
        assignee=assignee,
        closed_at=NOW - timedelta(days=closed_days_ago) if closed_days_ago is not None else None,
    )


@pytest.mark.parametrize("action", [a for a in Action if a is not Action.CREATE])
@pytest.mark.parametrize("status", list(Status))
def test_every_action_from_every_status(action, status):
    expected = EXPECTED[action].get(status)
    kwargs: dict[str, Any] = {
        "now": NOW,
        "reopen_window": WINDOW,
        "agent_named": True,
        "close_reason": CloseReason.RESOLVED,
        "assignee_after": "agent-1",
    }
    if expected is None:
        with pytest.raises(IllegalTransition) as caught:
            next_status(action, ticket(status), **kwargs)
        assert caught.value.status == 409
        assert status.value in caught.value.message and action.value in caught.value.message
        assert caught.value.details["status"] == status.value
    else:
        assert next_status(action, ticket(status), **kwargs) is expected


def test_the_table_is_the_one_the_tests_expect():
    assert set(TRANSITIONS) == set(EXPECTED)


def test_transfer_without_an_agent_waits_in_the_team_queue():
    assert next_status(Action.TRANSFER, ticket(S.IN_PROGRESS), now=NOW, reopen_window=WINDOW) is S.CLASSIFIED


@pytest.mark.parametrize("status", [S.NEW, S.CLASSIFIED, S.ASSIGNED, S.IN_PROGRESS, S.PENDING_CUSTOMER])
def test_closing_an_open_ticket_needs_a_reason_other_than_resolved(status):
    for reason in (CloseReason.DUPLICATE, CloseReason.CUSTOMER_CAUSE):
        assert next_status(Action.CLOSE, ticket(status), now=NOW, reopen_window=WINDOW, close_reason=reason) is S.CLOSED
    with pytest.raises(IllegalTransition, match="resolve it first"):
        next_status(Action.CLOSE, ticket(status), now=NOW, reopen_window=WINDOW, close_reason=CloseReason.RESOLVED)


def test_reopen_only_within_the_window():
    kwargs: dict[str, Any] = {"now": NOW, "reopen_window": WINDOW, "assignee_after": "agent-1"}
    assert next_status(Action.REOPEN, ticket(S.CLOSED, closed_days_ago=6.9), **kwargs) is S.IN_PROGRESS
    with pytest.raises(IllegalTransition, match="more than 7 days ago"):
        next_status(Action.REOPEN, ticket(S.CLOSED, closed_days_ago=7.1), **kwargs)


def test_reopened_without_anyone_to_work_it_waits_for_assignment():
    assert (
        next_status(
            Action.REOPEN, ticket(S.RESOLVED, assignee=None), now=NOW, reopen_window=WINDOW, assignee_after=None
        )
        is S.CLASSIFIED
    )
