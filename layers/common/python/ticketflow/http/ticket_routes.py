"""The people-facing ticket API: read, list, and act on tickets."""

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import Router

from ticketflow import commands, handling
from ticketflow.http.app import PERSON
from ticketflow.http.identity import current_actor
from ticketflow.lifecycle import Action
from ticketflow.models import Status, Ticket, TicketPage, TicketWithHistory

router = Router()


@router.get("/tickets/<ticket_id>", summary="A ticket with its history", security=PERSON, tags=["tickets"])
def get_ticket(ticket_id: str) -> TicketWithHistory:
    """`ticket_id` is the ticket's id or its number (CS…)."""
    return handling.get(ticket_id, current_actor(router))


@router.get("/tickets/<ticket_id>/sla", summary="The ticket's SLA clocks, explained", security=PERSON, tags=["tickets"])
def get_sla(ticket_id: str) -> dict:
    """Per target: started, paused intervals, due, met or breached, and why (policy, calendar,
    holidays and closures that moved the due time)."""
    return handling.sla_view(ticket_id, current_actor(router))


@router.get("/tickets", summary="List tickets", security=PERSON, tags=["tickets"])
def list_tickets(
    status: Annotated[Status | None, Query()] = None,
    assignee: Annotated[str | None, Query(max_length=128)] = None,
    team: Annotated[str | None, Query(max_length=40)] = None,
    customer: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    escalated: Annotated[bool, Query(description="Only tickets with a breached SLA")] = False,
) -> TicketPage:
    """Newest first. Filter by one of assignee, team or customer (each combinable with status);
    supervisors may list by status alone. Without a filter: the caller's own tickets.
    Pass `next_cursor` back as `cursor` for the next page."""
    return handling.list_tickets(
        current_actor(router),
        status=status,
        assignee=assignee,
        team=team,
        customer=customer,
        limit=limit,
        cursor=cursor,
        escalated=escalated,
    )


def _action_route(
    path: str, action: Action, command_type: type[commands.Command], summary: str, body_required: bool
) -> None:
    """One route per action, so each has its own documented body in the OpenAPI document."""
    # The body's type is the action's command class, known only at run time: Powertools reads
    # it from the annotation for validation and OpenAPI; mypy cannot use a variable as a type.
    act: Callable[..., Ticket]
    if body_required:

        def required(ticket_id: str, command: Annotated[command_type, Body()]) -> Ticket:  # type: ignore[valid-type]
            return handling.perform(ticket_id, current_actor(router), action, command)

        act = required
    else:

        def optional(ticket_id: str, command: Annotated[command_type | None, Body()] = None) -> Ticket:  # type: ignore[valid-type]
            return handling.perform(ticket_id, current_actor(router), action, command or command_type())

        act = optional

    act.__name__ = act.__qualname__ = f"{action.value}_ticket"
    act.__doc__ = command_type.__doc__
    router.post(f"/tickets/<ticket_id>/{path}", summary=summary, security=PERSON, tags=["ticket actions"])(act)


_ACTIONS: list[tuple[str, Action, Any, str, bool]] = [
    ("accept", Action.ACCEPT, commands.Accept, "Accept (claim) a ticket", False),
    ("reply", Action.REPLY, commands.Reply, "Reply to the customer", True),
    ("comments", Action.COMMENT, commands.Comment, "Add an internal comment", True),
    ("transfer", Action.TRANSFER, commands.Transfer, "Transfer to another team or agent (转办)", True),
    ("assign", Action.ASSIGN, commands.Assign, "Assign or reassign (supervisor)", True),
    ("pending", Action.PENDING, commands.Pending, "Wait for the customer", False),
    ("resume", Action.RESUME, commands.Resume, "Resume work after the customer answered", False),
    ("resolve", Action.RESOLVE, commands.Resolve, "Resolve with a result", True),
    ("close", Action.CLOSE, commands.Close, "Close (archive) with a reason", True),
    ("reopen", Action.REOPEN, commands.Reopen, "Reopen a resolved or recently closed ticket", True),
    ("survey", Action.SURVEY, commands.RequestSurvey, "Send the satisfaction survey by hand", True),
]
for _path, _action, _command, _summary, _required in _ACTIONS:
    _action_route(_path, _action, _command, _summary, _required)
