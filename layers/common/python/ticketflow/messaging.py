"""Hand work to the next stage through its SQS queue.

Messages are small envelopes that name the ticket, not copies of it: the consumer reads the
ticket's current state, so a late or repeated message can never roll anything back.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel, Field

from ticketflow import aws, clock
from ticketflow.clock import Timestamp
from ticketflow.config import queue_url


class Envelope(BaseModel):
    type: str  # e.g. ticket.created
    version: int = 1
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: Timestamp = Field(default_factory=clock.now)
    correlation_id: str | None = None
    data: dict[str, Any]


def send(queue: str, envelope: Envelope, *, delay_seconds: int = 0) -> str:
    response = aws.client("sqs").send_message(
        QueueUrl=queue_url(queue),
        MessageBody=json.dumps(envelope.model_dump(mode="json"), ensure_ascii=False),
        DelaySeconds=delay_seconds,
        MessageAttributes={"type": {"DataType": "String", "StringValue": envelope.type}},
    )
    return response["MessageId"]
