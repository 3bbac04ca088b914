"""What Lambda's event source mappings and EventBridge do on AWS: pump queues into their
consumers and tick schedules, with the event shapes the functions get there."""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from infra import topology
from infra.local.lambdas import LocalFunction

log = logging.getLogger(__name__)

SQS_MAX_BATCH = 10  # one ReceiveMessage returns at most 10 messages


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A received message as a record of Lambda's SQS event."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {k: _message_attribute(v) for k, v in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def pump(
    function: LocalFunction,
    sqs: Any,
    queue_url: str,
    queue_arn: str,
    batch_size: int,
    region: str,
    stop: threading.Event,
) -> None:
    """Poll a queue into its consumer until ``stop`` is set, as an event source mapping with
    ReportBatchItemFailures does: a batch's failed items stay on the queue (to come back after
    the visibility timeout and, past maxReceiveCount, move to the dead-letter queue by the
    queue's redrive policy), the rest are deleted; a handler that raises fails the whole batch."""
    while not stop.is_set():
        try:
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(batch_size, SQS_MAX_BATCH),
                WaitTimeSeconds=1,  # short, so that stop() is never kept waiting long
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                continue
            try:
                result = function.invoke({"Records": [sqs_record(m, queue_arn, region) for m in messages]})
            except Exception:
                log.exception("%s failed on a batch of %d; it will be redelivered", function.spec.name, len(messages))
                continue
            failures = result.get("batchItemFailures") if isinstance(result, dict) else None
            failed = {failure.get("itemIdentifier") for failure in failures or []}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                sqs.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
        except Exception:
            if stop.is_set():
                return  # the emulator went away under a poll in flight
            log.exception("pump for %s failed; retrying", queue_url)
            stop.wait(1)


def schedule_period_s(schedule: topology.Schedule) -> float:
    """The schedule's rate, or TICKETFLOW_SCHEDULE_<NAME>_SECONDS to tick faster in a demo."""
    name = re.sub(r"[^A-Z0-9]", "_", schedule.name.upper())
    return float(os.environ.get(f"TICKETFLOW_SCHEDULE_{name}_SECONDS") or schedule.rate_minutes * 60)


def schedule_event(rule_arn: str, region: str, account: str) -> dict[str, Any]:
    """The event an EventBridge rule with a rate expression delivers to its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def tick(fire: Callable[[], Any], period_s: float, stop: threading.Event) -> None:
    """Call ``fire()`` every ``period_s`` until ``stop`` is set."""
    while not stop.wait(period_s):
        try:
            fire()
        except Exception:
            log.exception("scheduled invocation failed")
