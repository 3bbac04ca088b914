"""Turning a channel's message into a numbered ticket, exactly once.

Order of work: number the ticket, store it (ticket, number and first history entry in one
transaction), then enqueue it for classification. Each step is safe to repeat:

- A retried request with the same ``Idempotency-Key`` returns the first answer
  (Powertools idempotency, records kept in the same table) and never makes a second ticket.
- Should we crash after storing and before enqueuing, the retry computes the same ticket id
  from the key, finds the stored ticket, and enqueues it again; classification ignores a
  ticket that has already moved on.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from ticketflow import aws, clock, messaging
from ticketflow.config import settings
from ticketflow.errors import IdempotencyInProgress, IdempotencyKeyReused
from ticketflow.models import ActorKind, ActorRef, HistoryEntry, NewTicket, Status, Ticket
from ticketflow.numbering import NumberAllocator
from ticketflow.storage import privacy as privacy_store
from ticketflow.storage import sequences
from ticketflow.storage import tickets as ticket_store

CLASSIFY_QUEUE = "classify"
_ID_NAMESPACE = uuid.UUID("7c1d7f62-4a4b-4a53-9a43-2f7f1f0d6e10")


class _SingleTablePersistence(DynamoDBPersistenceLayer):
    """Idempotency records in our one table, each in its own partition (IDEMPOTENCY#<hash>).

    Powertools' own single-table layout puts every record under one static partition key,
    which would make intake a hot partition.
    """

    def _get_hashed_idempotency_key(self, data: dict[str, Any]) -> str:
        # Keyed by the ticket id the request derives (a UUID of the channel's key and its
        # Idempotency-Key: one record per key, as with Powertools' hash), so that erasing the
        # ticket's personal data can find the record: it stores the first answer, customer included.
        return privacy_store.idempotency_key(data["ticket_id"])

    def _get_key(self, idempotency_key: str) -> dict:
        return {self.key_attr: {"S": f"IDEMPOTENCY#{idempotency_key}"}, self.sort_key_attr: {"S": "IDEMPOTENCY"}}

    def _item_to_data_record(self, item: dict[str, Any]):
        record = super()._item_to_data_record(item)
        record.idempotency_key = record.idempotency_key.removeprefix("IDEMPOTENCY#")
        return record


@cache
def _allocator() -> NumberAllocator:
    config = settings()
    return NumberAllocator(sequences.reserve_block, block_size=config.number_block_size, zone=config.zone)


def allocate_number(now: datetime) -> str:
    """The next ticket number (CS + business day + sequence), from this container's block."""
    return _allocator().next(now)


def _store_and_enqueue(new: NewTicket, *, ticket_id: str, source_key_id: str | None) -> dict[str, Any]:
    now = clock.now()
    ticket = Ticket(
        id=ticket_id,
        number=allocate_number(now),
        status=Status.NEW,
        version=1,
        created_at=now,
        updated_at=now,
        source_key_id=source_key_id,
        **new.model_dump(),
    )
    entry = HistoryEntry(
        at=now,
        version=1,
        action="create",
        actor=ActorRef(kind=ActorKind.CHANNEL, id=source_key_id or new.channel.value),
        to_status=Status.NEW,
        body=None,
        changes={"channel": [None, new.channel.value]},
    )
    try:
        ticket_store.create(ticket, entry)
    except ticket_store.TicketExists:
        # A retry after a crash between store and enqueue: the ticket is there; enqueue again.
        ticket = ticket_store.get(ticket_id)  # type: ignore[assignment]
    queue_for_classification(ticket)
    return ticket.model_dump(mode="json")


def queue_for_classification(ticket: Ticket) -> None:
    """Hand a new ticket to the classify stage (intake, and the sweep's safety net)."""
    messaging.send(
        CLASSIFY_QUEUE,
        messaging.Envelope(
            type="ticket.created", correlation_id=ticket.id, data={"ticket_id": ticket.id, "number": ticket.number}
        ),
    )


@cache
def _idempotent_open():
    """Built on first use, not at import: the table name and client come from the environment."""
    persistence = _SingleTablePersistence(
        table_name=settings().table_name,
        key_attr="pk",
        sort_key_attr="sk",
        expiry_attr="expires_at",
        boto3_client=aws.client("dynamodb"),
    )
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="ticket",
        expires_after_seconds=settings().idempotency_ttl_seconds,
        raise_on_no_idempotency_key=True,
    )

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=config)
    def open_once(request: dict[str, Any]) -> dict[str, Any]:
        return _store_and_enqueue(
            NewTicket.model_validate(request["ticket"]),
            ticket_id=request["ticket_id"],
            source_key_id=request["source_key_id"],
        )

    return open_once, config


def reset() -> None:
    _allocator.cache_clear()
    _idempotent_open.cache_clear()


def open_ticket(
    new: NewTicket, *, source_key_id: str | None, idempotency_key: str | None, lambda_context: Any = None
) -> Ticket:
    """Store ``new`` as a ticket in status new and hand it to classification."""
    if not idempotency_key:
        result = _store_and_enqueue(new, ticket_id=str(uuid.uuid4()), source_key_id=source_key_id)
        return Ticket.model_validate(result)
    # Keys are scoped to the channel's API key: two channels may use the same key string.
    scoped = f"{source_key_id or '-'}:{idempotency_key}"
    request = {
        "key": hashlib.sha256(scoped.encode()).hexdigest(),
        "ticket_id": str(uuid.uuid5(_ID_NAMESPACE, scoped)),
        "source_key_id": source_key_id,
        "ticket": new.model_dump(mode="json"),
    }
    open_once, config = _idempotent_open()
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)  # an in-progress record expires with the invocation
    try:
        return Ticket.model_validate(open_once(request=request))
    except IdempotencyValidationError as error:
        raise IdempotencyKeyReused.field(
            "Idempotency-Key", "this key was already used with a different request body"
        ) from error
    except IdempotencyAlreadyInProgressError as error:
        raise IdempotencyInProgress("a request with this Idempotency-Key is still being processed") from error
