"""Moving messages from a dead-letter queue back to the queue they came from.

A message lands in ``<prefix>-<queue>-dlq`` after failing ``maxReceiveCount`` times (a provider
down for long, a bug). Once the cause is fixed, it goes back to ``<prefix>-<queue>`` and its
stage runs it again; every stage is idempotent per ticket, so a message that had partly
succeeded does nothing twice.

On AWS, ``aws sqs start-message-move-task --source-arn <dlq arn>`` does the same; moto (the
emulator under ``ticketflow dev``) does not implement it, so this moves the messages itself
with the ordinary calls, which work on both: receive a batch, send each body (and its
attributes) to the source queue, then delete it from the dead-letter queue. A message is
deleted only after it was sent, so a crash in between sends it twice, never loses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra import topology

# A message received from the dead-letter queue is hidden this long while it is moved.
_MOVING_VISIBILITY_S = 60


@dataclass(frozen=True)
class Moved:
    queue: str  # the source queue's name
    dead_letter_queue: str
    moved: int


def queue_names(queue: str, prefix: str) -> tuple[str, str]:
    """The (source, dead-letter) queue names of a topology queue in the stack ``prefix``."""
    spec = topology.queue(queue)  # KeyError for a queue the topology does not have
    return f"{prefix}-{spec.name}", f"{prefix}-{spec.dlq_name}"


def redrive(sqs: Any, queue: str, *, prefix: str, limit: int | None = None) -> Moved:
    """Move up to ``limit`` messages (all, by default) of ``queue``'s dead-letter queue back."""
    source_name, dlq_name = queue_names(queue, prefix)
    source = sqs.get_queue_url(QueueName=source_name)["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
    moved = 0
    while limit is None or moved < limit:
        messages = sqs.receive_message(
            QueueUrl=dlq,
            MaxNumberOfMessages=min(10, limit - moved) if limit is not None else 10,
            WaitTimeSeconds=0,
            VisibilityTimeout=_MOVING_VISIBILITY_S,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        entries = [{"Id": str(i), "MessageBody": m["Body"], **_attributes(m)} for i, m in enumerate(messages)]
        sent = sqs.send_message_batch(QueueUrl=source, Entries=entries)
        done = {entry["Id"] for entry in sent.get("Successful", [])}
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                    if str(i) in done
                ],
            )
        moved += len(done)
        if sent.get("Failed"):
            failed = ", ".join(f"{f.get('Code')}: {f.get('Message')}" for f in sent["Failed"])
            raise RuntimeError(f"{len(sent['Failed'])} messages could not be sent back to {source_name} ({failed})")
    return Moved(queue=source_name, dead_letter_queue=dlq_name, moved=moved)


def _attributes(message: dict[str, Any]) -> dict[str, Any]:
    attributes = message.get("MessageAttributes")
    return {"MessageAttributes": attributes} if attributes else {}
