"""What people do to tickets: read, list, and every action of the agent API.

Each action is: load the ticket, check who may act (``access``), ask the state machine for
the next status (``lifecycle``), compute the changes, and save them with the history entry
in one conditional write. If someone else changed the ticket in between, we reload and
decide again, so concurrent requests are serialised, never merged blindly: of two agents
accepting the same ticket, one wins and the other gets a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ticketflow import access, assignment, clock, commands, history, outbound, sla
from ticketflow.access import Actor
from ticketflow.config import settings
from ticketflow.directory import Role
from ticketflow.errors import ConcurrentUpdate, Conflict, Forbidden, NotFound, ValidationFailed
from ticketflow.lifecycle import Action, next_status
from ticketflow.models import CloseReason, HistoryEntry, Status, SurveyState, Ticket, TicketPage, TicketWithHistory
from ticketflow.observability import count, logger
from ticketflow.reports.definitions import definitions
from ticketflow.storage import directory as directory_store
from ticketflow.storage import tickets as ticket_store
from ticketflow.surveys import dispatch as survey_dispatch

_ATTEMPTS = 4


def get(ticket_ref: str, actor: Actor) -> TicketWithHistory:
    ticket, history = ticket_store.get_with_history(ticket_store.resolve_ref(ticket_ref))
    if ticket is None:
        raise NotFound(f"no ticket {ticket_ref}")
    access.check(actor, None, ticket)
    return TicketWithHistory(**ticket.model_dump(), history=history)


def list_tickets(
    actor: Actor,
    *,
    status: Status | None = None,
    assignee: str | None = None,
    team: str | None = None,
    customer: str | None = None,
    limit: int = 25,
    cursor: str | None = None,
    escalated: bool = False,
) -> TicketPage:
    """Pick the index that answers the filter; agents see their own and their teams' queues."""
    prefix = f"{status.value}#" if status else None
    if assignee:
        if not actor.oversees_all and assignee != actor.id and not _shares_team(actor, assignee):
            raise Forbidden("agents can list their own tickets and their teammates'")
        index, partition = "by_assignee", f"AGENT#{assignee}"
    elif team:
        if not actor.oversees_all and team not in actor.teams:
            raise Forbidden(f"team {team} is not yours")
        # A team's queue reads in working order: by status, most urgent first, oldest first.
        items, next_cursor = ticket_store.list_by(
            "by_team",
            f"TEAM#{team}",
            sort_prefix=prefix,
            limit=limit,
            cursor=cursor,
            oldest_first=True,
            escalated_only=escalated,
        )
        return TicketPage(items=items, next_cursor=next_cursor)
    elif customer:
        items, next_cursor = ticket_store.list_by(
            "by_customer", f"CUST#{customer}", status=status, limit=limit, cursor=cursor, escalated_only=escalated
        )
        visible = [t for t in items if access.can_view(actor, t)]
        return TicketPage(items=visible, next_cursor=next_cursor)
    elif status:
        if not actor.oversees_all:
            raise Forbidden("agents list by assignee, team or customer; listing by status alone is for supervisors")
        index, partition, prefix = "by_status", f"STATUS#{status.value}", None
    else:
        index, partition = "by_assignee", f"AGENT#{actor.id}"  # no filter: my tickets
    items, next_cursor = ticket_store.list_by(
        index, partition, sort_prefix=prefix, limit=limit, cursor=cursor, escalated_only=escalated
    )
    if not actor.oversees_all:
        # A teammate's tickets include those they work for their other teams: list only what
        # GET /tickets/{id} would show this caller.
        items = [t for t in items if access.can_view(actor, t)]
    return TicketPage(items=items, next_cursor=next_cursor)


def sla_view(ticket_ref: str, actor: Actor) -> dict[str, Any]:
    ticket = ticket_store.get(ticket_store.resolve_ref(ticket_ref))
    if ticket is None:
        raise NotFound(f"no ticket {ticket_ref}")
    access.check(actor, None, ticket)
    if ticket.sla is None:
        return {"policy": None, "why": ["the SLA clocks start when the ticket is classified"], "targets": {}}
    return {"ticket_id": ticket.id, "number": ticket.number, "escalated": ticket.escalated, **sla.explain(ticket.sla)}


def _shares_team(actor: Actor, other_id: str) -> bool:
    other = directory_store.get_person(other_id)
    return other is not None and bool(set(other.teams) & set(actor.teams))


# ---------------------------------------------------------------- the actions

Effect = Callable[[Ticket, Actor, Any, datetime], tuple[dict[str, Any], dict[str, Any]]]


def _agent_in(agent_id: str, field: str, team: str | None = None):
    person = directory_store.get_person(agent_id)
    if person is None or not person.active:
        raise ValidationFailed.field(field, f"no active person {agent_id!r} in the directory")
    if person.role is not Role.AGENT and person.role is not Role.SUPERVISOR:
        raise ValidationFailed.field(field, f"{agent_id} is an {person.role.value}, not someone who works tickets")
    if team is not None and team not in person.teams:
        raise ValidationFailed.field(field, f"{agent_id} is not a member of team {team}")
    return person


def _accept(ticket: Ticket, actor: Actor, cmd: commands.Accept, now: datetime):
    return {"assignee": actor.id, "team": ticket.team or actor.primary_team}, {"body": cmd.note}


def _reply(ticket: Ticket, actor: Actor, cmd: commands.Reply, now: datetime):
    changes: dict[str, Any] = {"reply_count": ticket.reply_count + 1}
    if ticket.first_response_at is None:
        changes["first_response_at"] = now  # only a person's reply counts as a first response
    if ticket.assignee is None:
        changes["assignee"] = actor.id
    return changes, {"body": cmd.body}


def _comment(ticket: Ticket, actor: Actor, cmd: commands.Comment, now: datetime):
    return {}, {"body": cmd.body}


def _transfer(ticket: Ticket, actor: Actor, cmd: commands.Transfer, now: datetime):
    if directory_store.get_team(cmd.team) is None:
        raise ValidationFailed.field("team", f"no team {cmd.team!r}")
    if cmd.team == ticket.team and cmd.agent in (None, ticket.assignee):
        raise ValidationFailed.field("team", f"the ticket is already with team {cmd.team}")
    if cmd.agent:
        _agent_in(cmd.agent, "agent", cmd.team)
    changes = {
        "team": cmd.team,
        "assignee": cmd.agent,
        "transfer_count": ticket.transfer_count + 1,
        "expected_by": cmd.expected_by,
    }
    return changes, {"reason": cmd.reason}


def _assign(ticket: Ticket, actor: Actor, cmd: commands.Assign, now: datetime):
    person = _agent_in(cmd.agent, "agent")
    team = ticket.team if ticket.team in person.teams else person.primary_team
    return {"assignee": person.id, "team": team}, {"reason": cmd.reason}


def _pending(ticket: Ticket, actor: Actor, cmd: commands.Pending, now: datetime):
    return {}, {"reason": cmd.reason}


def _resume(ticket: Ticket, actor: Actor, cmd: commands.Resume, now: datetime):
    return {}, {"body": cmd.note}


def _resolve(ticket: Ticket, actor: Actor, cmd: commands.Resolve, now: datetime):
    changes: dict[str, Any] = {"resolution": cmd.result, "resolved_at": now}
    if ticket.first_contact_resolution is None:  # the verdict is given once, at the first resolution
        fcr = definitions().first_contact_resolution
        changes["first_contact_resolution"] = ticket.reopen_count == 0 and ticket.reply_count <= fcr.max_agent_replies
    return changes, {"body": cmd.result}


def _close(ticket: Ticket, actor: Actor, cmd: commands.Close, now: datetime):
    changes: dict[str, Any] = {"close_reason": cmd.reason, "closed_at": now}
    if cmd.result:
        changes["resolution"] = cmd.result
    if cmd.reason is CloseReason.RESOLVED and (survey := survey_dispatch.schedule(ticket, now, trigger="close")):
        changes["survey"] = survey  # goes out after the delay if the survey rules select it
    return changes, {"reason": cmd.reason.value, "body": cmd.result}


def _reopen(ticket: Ticket, actor: Actor, cmd: commands.Reopen, now: datetime):
    assignee = ticket.assignee or (actor.id if actor.role is Role.AGENT else None)
    changes: dict[str, Any] = {
        "assignee": assignee,
        "team": ticket.team or (actor.primary_team if assignee == actor.id else None),
        "reopen_count": ticket.reopen_count + 1,
        "first_contact_resolution": _fcr_after_reopen(ticket, now),
        "resolved_at": None,
        "closed_at": None,
        "close_reason": None,
    }
    if ticket.survey and ticket.survey.state is SurveyState.SCHEDULED:
        changes["survey"] = ticket.survey.model_copy(
            update={"state": SurveyState.CANCELLED, "reason": "reopened before it was sent"}
        )
    return changes, {"reason": cmd.reason}


def _fcr_after_reopen(ticket: Ticket, now: datetime) -> bool | None:
    """A reopen within the window withdraws a first-contact verdict; after it, the verdict stands."""
    if not ticket.first_contact_resolution or ticket.reopen_count or ticket.resolved_at is None:
        return ticket.first_contact_resolution
    return now - ticket.resolved_at > timedelta(days=definitions().first_contact_resolution.reopen_days)


def _survey(ticket: Ticket, actor: Actor, cmd: commands.RequestSurvey, now: datetime):
    survey = survey_dispatch.schedule(ticket, now, trigger="manual", reason=cmd.reason)
    if survey is None:
        assert ticket.survey is not None
        raise Conflict(
            f"ticket {ticket.number} already has a survey ({ticket.survey.state.value}); one per ticket",
            code="survey_exists",
            details={"state": ticket.survey.state.value},
        )
    return {"survey": survey}, {"reason": cmd.reason}


EFFECTS: dict[Action, Effect] = {
    Action.ACCEPT: _accept,
    Action.REPLY: _reply,
    Action.COMMENT: _comment,
    Action.TRANSFER: _transfer,
    Action.ASSIGN: _assign,
    Action.PENDING: _pending,
    Action.RESUME: _resume,
    Action.RESOLVE: _resolve,
    Action.CLOSE: _close,
    Action.REOPEN: _reopen,
    Action.SURVEY: _survey,
}


def decide(ticket: Ticket, actor: Actor, action: Action, command: Any, now: datetime) -> tuple[Ticket, HistoryEntry]:
    """The ticket after ``action`` and the history entry that records it (pure, no I/O but lookups)."""
    access.check(actor, action, ticket)
    if ticket.erased_at is not None:  # no customer to reopen it for or to survey (ticketflow.privacy)
        raise Conflict(f"ticket {ticket.number}'s personal data was erased: it cannot be worked", code="ticket_erased")
    changes, entry_fields = EFFECTS[action](ticket, actor, command, now)
    status = next_status(
        action,
        ticket,
        now=now,
        reopen_window=timedelta(days=settings().reopen_window_days),
        agent_named=bool(changes.get("assignee")),
        close_reason=getattr(command, "reason", None) if action is Action.CLOSE else None,
        assignee_after=changes.get("assignee", ticket.assignee),
    )
    after = ticket.model_copy(update={**changes, "status": status, "version": ticket.version + 1, "updated_at": now})
    if status is Status.ASSIGNED and (ticket.status is not Status.ASSIGNED or ticket.assignee != after.assignee):
        after.assigned_at = now  # the owner timer runs from here
    _track_handle_time(ticket, after, now)
    if ticket.sla is not None:
        after.sla = sla.on_action(ticket.sla, action.value, status_after=status.value, now=now)
    return after, history.entry_for(ticket, after, action=action.value, actor=actor.ref, at=now, **entry_fields)


def _track_handle_time(before: Ticket, after: Ticket, now: datetime) -> None:
    """Handle time is the time a ticket spends in progress: it runs from every move into
    in_progress and is banked at every move out of it (pending the customer, resolved, transferred)."""
    was, now_in = before.status is Status.IN_PROGRESS, after.status is Status.IN_PROGRESS
    if now_in and not was:
        after.working_since = now
    elif was and not now_in:
        if before.working_since is not None:
            after.handle_seconds = before.handle_seconds + max(0, round((now - before.working_since).total_seconds()))
        after.working_since = None


def perform(ticket_ref: str, actor: Actor, action: Action, command: Any) -> Ticket:
    ticket_id = ticket_store.resolve_ref(ticket_ref)
    for _ in range(_ATTEMPTS):
        ticket = ticket_store.get(ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket {ticket_ref}")
        after, entry = decide(ticket, actor, action, command, clock.now())
        deltas = assignment.load_deltas(ticket, after)
        reply = action is Action.REPLY
        also = [outbound.outbox(after.id, after.version, entry.at)] if reply else None
        try:
            ticket_store.save(after, entry, before=ticket, load_deltas=deltas, also=also)
        except ConcurrentUpdate:
            continue  # reload and decide again: the winner's change may make ours illegal
        _follow_ups(ticket, after, freed=[agent for agent, delta in deltas.items() if delta < 0], reply=reply)
        return after
    raise ConcurrentUpdate(f"ticket {ticket_ref} is changing too fast; try again")


def _follow_ups(before: Ticket, after: Ticket, *, freed: list[str], reply: bool) -> None:
    """Messages after the write that the sweep makes good should they be lost (it fills the team
    queues every minute, sends surveys left unsent and replies left queued): the change is
    saved, so failing to send them must not fail the request; a 503 would make the caller's
    retry a 409, or a second reply."""
    steps: list[tuple[str, Callable[[], None]]] = [("wake assignment", lambda: _wake_assignment(after, freed=freed))]
    if reply:
        steps.insert(0, ("deliver the reply", lambda: outbound.queue_reply(after.id, after.version)))
    if after.survey != before.survey:
        steps.append(("queue the survey", lambda: survey_dispatch.queue_dispatch(after, after.updated_at)))
    for what, send in steps:
        try:
            send()
        except (BotoCoreError, ClientError) as error:
            count("FollowUpsLeftToSweep")
            logger.warning(
                "follow-up not sent; the sweep will make it good",
                extra={"ticket_id": after.id, "follow_up": what, "error": type(error).__name__},
            )


def _wake_assignment(ticket: Ticket, *, freed: list[str]) -> None:
    """After the write: a ticket back in a team queue wants an agent; freed capacity wants work.

    Best effort: should the message be lost, the SLA sweep fills the team queues every minute.
    """
    if ticket.status is Status.CLASSIFIED and ticket.assignee is None and ticket.team:
        assignment.queue_ticket(ticket.id)
    teams = [team for agent in freed for team in _teams_of(agent)]
    assignment.capacity_freed(teams, freed, correlation_id=ticket.id)


def _teams_of(agent: str) -> list[str]:
    person = directory_store.get_person(agent)
    return person.teams if person else []
