"""POST /tickets: a channel posts a customer's message."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.event_handler.router import Router

from ticketflow import intake
from ticketflow.http.app import CHANNEL
from ticketflow.http.identity import channel_key_id
from ticketflow.models import NewTicket, Ticket
from ticketflow.observability import count, logger

router = Router()


@router.post(
    "/tickets",
    summary="Open a ticket from a channel",
    description="Stores the message as a numbered ticket in status `new` and queues it for classification. "
    "Send an `Idempotency-Key` to make retries safe: the same key returns the same ticket.",
    responses={201: {"description": "The ticket was created (or a retry returned it)."}},
    security=CHANNEL,
    tags=["channels"],
)
def open_ticket(
    ticket: Annotated[NewTicket, Body()],
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", max_length=255, description="Makes retries safe")
    ] = None,
) -> Response[Ticket]:
    created = intake.open_ticket(
        ticket,
        source_key_id=channel_key_id(router),
        idempotency_key=idempotency_key,
        lambda_context=router.lambda_context,
    )
    logger.info("ticket opened", extra={"ticket_id": created.id, "number": created.number, "channel": created.channel})
    count("TicketsOpened")
    return Response(
        status_code=201, content_type="application/json", body=created, headers={"Location": f"/tickets/{created.id}"}
    )
