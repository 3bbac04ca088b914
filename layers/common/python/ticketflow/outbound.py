"""Delivering people's replies to the customer, once, with retries.

The agent API records a reply (history entry) and enqueues ``reply.created``; this stage
sends it on the ticket's channel (email, SMS or the channel's callback) and then writes a
delivery receipt ``TICKET#<id>/OUT#<version>`` beside the history entry, which
``GET /tickets/{id}`` shows on the reply. A receipt already there means the reply went out:
a redelivered message sends nothing. A retryable failure raises, so SQS retries and, at the
end, parks the message in the dead-letter queue (with its alarm); a refused address is
recorded as undeliverable. The one window left: a crash between the provider accepting the
message and the receipt write sends it again (at-least-once).
"""

from __future__ import annotations

from ticketflow import delivery
from ticketflow.messaging import Envelope
from ticketflow.observability import count, logger
from ticketflow.storage import tickets as ticket_store


def handle(envelope: Envelope) -> None:
    if envelope.type != "reply.created":
        raise ValueError(f"the outbound queue does not handle {envelope.type!r} messages")
    ticket_id, version = envelope.data["ticket_id"], int(envelope.data["version"])
    if ticket_store.get_delivery(ticket_id, version) is not None:
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
