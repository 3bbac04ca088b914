"""The ticket state machine: the one place that decides which action is legal from which status.

    new ─classify─▶ classified ─assign─▶ assigned ─accept─▶ in_progress ⇄ pending_customer
     └──────────────────accept (claim an unrouted ticket)──────▲    │
                                                      resolve ─┴────┴─▶ resolved ─close─▶ closed
                                     reopen: resolved, or closed within the reopen window ─▶ in_progress

A few targets depend on the request, and are decided here too: a transfer without a named
agent returns the ticket to its new team's queue (classified); closing straight from an open
status is only for duplicates and customer-caused requests; reopening a closed ticket is only
possible within the reopen window, and a reopened ticket with nobody to work it waits in its
team's queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from ticketflow.errors import IllegalTransition
from ticketflow.models import OPEN_STATUSES, CloseReason, Status, Ticket

S = Status


class Action(StrEnum):
    CREATE = "create"
    CLASSIFY = "classify"
    ASSIGN = "assign"
    ACCEPT = "accept"
    REPLY = "reply"
    COMMENT = "comment"
    TRANSFER = "transfer"
    PENDING = "pending"
    RESUME = "resume"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    SURVEY = "survey"


SAME = None  # the action leaves the status as it is

# action -> {from status: to status}. Anything not listed is illegal (409).
TRANSITIONS: dict[Action, dict[Status, Status | None]] = {
    Action.CLASSIFY: {S.NEW: S.CLASSIFIED},
    Action.ASSIGN: {s: S.ASSIGNED for s in OPEN_STATUSES},
    Action.ACCEPT: {S.NEW: S.IN_PROGRESS, S.CLASSIFIED: S.IN_PROGRESS, S.ASSIGNED: S.IN_PROGRESS},
    Action.REPLY: {S.ASSIGNED: S.IN_PROGRESS, S.IN_PROGRESS: SAME, S.PENDING_CUSTOMER: SAME},
    Action.COMMENT: {s: SAME for s in Status if s is not S.CLOSED},
    Action.TRANSFER: {s: S.ASSIGNED for s in OPEN_STATUSES},  # or CLASSIFIED without an agent
    Action.PENDING: {S.IN_PROGRESS: S.PENDING_CUSTOMER},
    Action.RESUME: {S.PENDING_CUSTOMER: S.IN_PROGRESS},
    Action.RESOLVE: {S.IN_PROGRESS: S.RESOLVED, S.PENDING_CUSTOMER: S.RESOLVED},
    Action.CLOSE: {S.RESOLVED: S.CLOSED, **{s: S.CLOSED for s in OPEN_STATUSES}},  # open: see guard
    Action.REOPEN: {S.RESOLVED: S.IN_PROGRESS, S.CLOSED: S.IN_PROGRESS},
    Action.SURVEY: {S.RESOLVED: SAME, S.CLOSED: SAME},  # ask for a rating by hand
}

# Closing a ticket nobody resolved is only for these reasons.
CLOSE_WITHOUT_RESOLVING = frozenset({CloseReason.DUPLICATE, CloseReason.CUSTOMER_CAUSE})


def _illegal(action: Action, ticket: Ticket, why: str | None = None) -> IllegalTransition:
    allowed = sorted(TRANSITIONS.get(action, {}))
    message = why or (
        f"cannot {action.value} ticket {ticket.number}: it is {ticket.status.value}; "
        f"{action.value} applies to tickets that are {', '.join(allowed) or 'never'}"
    )
    return IllegalTransition(
        message, details={"action": action.value, "status": ticket.status.value, "allowed_from": allowed}
    )


def next_status(
    action: Action,
    ticket: Ticket,
    *,
    now: datetime,
    reopen_window: timedelta,
    agent_named: bool = False,
    close_reason: CloseReason | None = None,
    assignee_after: str | None = None,
) -> Status:
    """The status ``ticket`` moves to under ``action``, or IllegalTransition (409) saying why."""
    targets = TRANSITIONS.get(action, {})
    if ticket.status not in targets:
        raise _illegal(action, ticket)
    target = targets[ticket.status] or ticket.status

    if action is Action.TRANSFER and not agent_named:
        target = S.CLASSIFIED
    if action is Action.CLOSE and ticket.status in OPEN_STATUSES and close_reason not in CLOSE_WITHOUT_RESOLVING:
        raise _illegal(
            action,
            ticket,
            f"cannot close ticket {ticket.number} as {close_reason.value if close_reason else 'resolved'}: "
            f"it is {ticket.status.value}; resolve it first, or close it as duplicate or customer_cause",
        )
    if action is Action.REOPEN:
        if ticket.status is S.CLOSED and (ticket.closed_at is None or now - ticket.closed_at > reopen_window):
            raise _illegal(
                action,
                ticket,
                f"cannot reopen ticket {ticket.number}: it was closed more than "
                f"{reopen_window.days} days ago; open a new ticket that refers to it",
            )
        if assignee_after is None:
            target = S.CLASSIFIED
    return target
