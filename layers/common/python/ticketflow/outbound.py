"""Delivering people's replies to the customer, once, with retries.

The agent API records a reply (history entry) and, in the same transaction, its receipt
``TICKET#<id>/OUT#<version>`` as "queued" (an outbox), then enqueues ``reply.created``. This
stage sends the reply on the ticket's channel (email, SMS or the channel's callback) and
replaces the receipt with how it went, which ``GET /tickets/{id}`` shows on the reply. A
receipt other than "queued" means the reply went out: a redelivered message sends nothing.
Should ``reply.created`` never be sent (SQS down after the write), the queued receipt is in
the sweep's index: five minutes on, the sweep sends the message again, then at doubling
intervals (up to an hour) until a receipt replaces it. A retryable failure raises, so SQS
retries and, at the end, parks the message in the dead-letter queue (with its alarm); a
refused address is recorded as undeliverable. The one window left: a crash between the provider accepting the
message and the receipt write sends it again (at-least-once).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ticketflow import delivery, messaging
from ticketflow.messaging import Envelope
from ticketflow.observability import count, logger
from ticketflow.storage import tickets as ticket_store
from ticketflow.storage.tickets import REPLY_QUEUED

QUEUE = "outbound"
FIRST_CHECK = timedelta(minutes=5)  # the stage normally delivers within seconds
LAST_INTERVAL = timedelta(hours=1)


def outbox(ticket_id: str, version: int, now: datetime) -> dict[str, Any]:
    """The transaction item to write with the reply at ``version``: its receipt, queued."""
    return ticket_store.reply_outbox(ticket_id, version, now, check_at=now + FIRST_CHECK)


def queue_reply(ticket_id: str, version: int) -> None:
    messaging.send(
        QUEUE,
        Envelope(type="reply.created", correlation_id=ticket_id, data={"ticket_id": ticket_id, "version": version}),
    )


def resend_queued(ticket_id: str, version: int, *, attempts: int, now: datetime) -> bool:
    """The sweep found a reply still queued: send its message again (delivery is idempotent)
    and look again later, at doubling intervals. False if it was delivered meanwhile."""
    if (receipt := ticket_store.get_delivery(ticket_id, version)) is None or receipt["state"] != REPLY_QUEUED:
        return False
    queue_reply(ticket_id, version)
    wait = min(FIRST_CHECK * 2 ** (attempts + 1), LAST_INTERVAL)
    count("RepliesRequeued")
    logger.warning("reply still queued: sent again", extra={"ticket_id": ticket_id, "version": version})
    return ticket_store.requeue_reply(ticket_id, version, attempts=attempts + 1, check_at=now + wait)


def handle(envelope: Envelope) -> None:
    if envelope.type != "reply.created":
        raise ValueError(f"the outbound queue does not handle {envelope.type!r} messages")
    ticket_id, version = envelope.data["ticket_id"], int(envelope.data["version"])
    receipt = ticket_store.get_delivery(ticket_id, version)
    if receipt is not None and receipt["state"] != REPLY_QUEUED:
        return  # already delivered
    ticket, history = ticket_store.get_with_history(ticket_id)
    entry = next((h for h in history if h.version == version and h.action == "reply"), None)
    if ticket is None or entry is None or not entry.body:
        logger.warning("no such reply; dropping the message", extra={"ticket_id": ticket_id, "version": version})
        return
    subject = f"[{ticket.number}] {ticket.subject or 'Re: your request'}"
    try:
        sent = delivery.deliver_to_customer(ticket, subject=subject, text=entry.body)
        receipt = {
            "state": "sent" if sent.channel != "none" else "undeliverable",
            "channel": sent.channel,
            "recipient": sent.recipient_hint,
        }
    except delivery.DeliveryFailed as error:
        if error.retryable:
            raise
        receipt = {"state": "undeliverable", "channel": error.channel, "recipient": None}
    ticket_store.put_delivery(ticket_id, version, receipt)
    count("RepliesDelivered" if receipt["state"] == "sent" else "RepliesUndeliverable")
