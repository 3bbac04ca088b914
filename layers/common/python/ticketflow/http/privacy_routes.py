"""POST /admin/tickets/{id}/erase: erase a closed ticket's personal data, keeping its audit
trail and its figures (``ticketflow.privacy`` says what goes and what stays). Admins only.
Mounted by the ``admin_api`` function."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import Router

from ticketflow import privacy
from ticketflow.http.app import PERSON
from ticketflow.http.identity import current_actor
from ticketflow.models import TicketWithHistory

router = Router()


@router.post(
    "/admin/tickets/<ticket_id>/erase",
    summary="Erase a closed ticket's personal data (admin)",
    description="On the customer's request: their name, id, email and phone, what they wrote, attachments, "
    "survey comment and contact, and every copy of these (history, delivery receipts, the stored intake answer, "
    "the survey cooldown, what-if replays, the linked service-recovery ticket) are erased or read `[erased]`. "
    "The audit trail stays (who did what, when), and so do numbers, timestamps, categories, SLA outcomes and "
    "survey scores: reports do not change. An `erase` entry records who, when and why. Again on an erased "
    "ticket: the same answer, nothing more recorded. 403 unless an admin; 404 unknown; 409 "
    "`illegal_transition` unless closed, `recovery_ticket_open` while its recovery ticket is open.",
    responses={200: {"description": "The erased ticket with its history"}},
    security=PERSON,
    tags=["admin"],
)
def erase_ticket(ticket_id: str, request: Annotated[privacy.EraseRequest, Body()]) -> TicketWithHistory:
    """`ticket_id` is the ticket's id or its number (CS…)."""
    return privacy.erase(ticket_id, current_actor(router), request)
