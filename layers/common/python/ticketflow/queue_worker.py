"""SQS consumers: Powertools batch processing with partial batch responses.

Each record is parsed into an Envelope and handed to the stage's domain function. A record
that fails (bad JSON, an unknown message type, a throttled table) is reported back alone, so
the rest of its batch is deleted; SQS redelivers the failed one and, after the queue's
maxReceiveCount, moves it to the dead-letter queue. Stages are idempotent per ticket, so a
redelivered message never does its work twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ticketflow.messaging import Envelope


def worker(stage: Callable[[Envelope], None]) -> Callable[[dict, Any], dict]:
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> None:
        stage(Envelope.model_validate_json(record.body))

    def handle(event: dict, context: Any) -> dict:
        # Lambda's partial batch response, {"batchItemFailures": [...]}, as a plain dict.
        return dict(
            process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
        )

    return handle
