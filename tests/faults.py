"""Fault injection at the AWS SDK's transport, and an SQS poller that behaves like Lambda's.

``inject(service, operation, error, times=N)`` makes the next N requests of one operation, on
the client the functions use (``ticketflow.aws.client``), fail the way the service fails:
botocore's ``before-send`` hook answers in the service's own wire format (a DynamoDB JSON
error, an SES v2 REST error, an SNS query XML error) instead of sending, so the SDK parses
it and its own retry logic (adaptive mode, 5 attempts: ``ticketflow.aws``) decides what
happens next, exactly as with the real service. Nothing in the code under test is patched.

Besides error codes, three faults the wire cannot express as an answer:

- ``LOST_RESPONSE``: the request reaches the emulator and is carried out, then the answer
  is lost (a read timeout); the SDK sends it again.
- ``CONNECTION_ERROR``: the request never leaves (connection refused); the SDK retries.
- ``CRASH`` (before the request leaves) and ``CRASH_AFTER`` (once the emulator carried it
  out, before the answer is read): the invocation dies right here, as when Lambda kills it at its timeout:
  :class:`LambdaCrash` is a ``BaseException``, so no ``except Exception`` in the code under
  test (Powertools' batch processor, its idempotency layer, ours) sees it, and nothing after
  this point of the invocation runs.

Only waiting is compressed, never a decision: the SDK's back-off sleeps are shortened
(``backoff_scale``) and the adaptive mode's client-side rate limiter, which after a throttle
holds each request of that client back (here up to 2 s each: the persistent throttle of one
request cost ~12 s of such waits), lets requests through at once while a fault is on and is
back to full speed when it ends. How long the SDK meant to wait is recorded.

Every injection is appended to ``LEDGER`` (kind, how many requests matched, how many faults
fired), which ``tests/integration/test_faults.py`` writes to ``artifacts/faults-summary.json``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.endpoint
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.httpsession import URLLib3Session
from botocore.retries.bucket import TokenBucket

from ticketflow import aws


class LambdaCrash(BaseException):
    """The invocation is killed here (timeout, out of memory): not an Exception on purpose."""


LOST_RESPONSE = "LostResponse"
CONNECTION_ERROR = "ConnectionError"
CRASH = "Crash"  # dies before the request leaves
CRASH_AFTER = "CrashAfter"  # the request is carried out, then the invocation dies before it sees the answer

# Error code -> HTTP status the service answers it with. TransactionConflict is not an error
# code of its own: it is a TransactionCanceledException whose reason names it.
_STATUS = {
    "ProvisionedThroughputExceededException": 400,
    "ThrottlingException": 400,
    "RequestLimitExceeded": 400,
    "TransactionConflict": 400,
    "InternalServerError": 500,
    "ServiceUnavailable": 503,
    "TooManyRequestsException": 429,
    "Throttling": 400,
    "Throttled": 429,
    "MessageRejected": 400,
    "InvalidParameter": 400,
    "InternalFailure": 500,
    "InternalError": 500,
}

LEDGER: list[dict[str, Any]] = []
_LOCK = threading.Lock()


@dataclass
class Injection:
    service: str
    operation: str
    error: str
    times: int | None  # None: every matching request (a persistent fault)
    after: int = 0  # let this many matching requests through first
    match: str | None = None  # only requests whose body contains this text
    first_attempts: int | None = None  # fail only the first N attempts of each call, not the SDK's retries
    calls: int = 0  # matching requests seen
    fired: int = 0  # faults injected
    backoff_s: float = 0.0  # how long the SDK meant to sleep between attempts
    rate_limit_s: float = 0.0  # and to wait for its client-side rate limiter (adaptive mode)
    lost_responses: list[str] = field(default_factory=list)  # what the emulator answered, unseen

    def record(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "error": self.error,
            "times": self.times,
            "matched": self.calls,
            "fired": self.fired,
            "sdk_backoff_s": round(self.backoff_s, 3),
            "sdk_rate_limit_s": round(self.rate_limit_s, 3),
        }


def _error_response(request: Any, protocol: str, target_prefix: str, error: str) -> AWSResponse:
    status = _STATUS.get(error, 400)
    request_id = str(uuid.uuid4())
    message = f"injected {error}"
    if protocol == "query":  # SNS: XML
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{error}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
    elif protocol == "rest-json":  # SES v2
        body = json.dumps({"message": message}).encode()
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error, "x-amzn-RequestId": request_id}
    else:  # JSON protocols: DynamoDB, SQS, EventBridge
        payload: dict[str, Any] = {"__type": f"{target_prefix}#{error}", "message": message}
        if error == "TransactionConflict":
            # Cancelled because another transaction held one of its items: one reason per item.
            items = json.loads(request.body or b"{}").get("TransactItems", [])
            reasons = [{"Code": "None"} for _ in items] or [{"Code": "None"}]
            reasons[0] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
            codes = ", ".join(r["Code"] for r in reasons)
            payload = {
                "__type": f"{target_prefix}#TransactionCanceledException",
                "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                "CancellationReasons": reasons,
            }
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}
    return AWSResponse(request.url, status, headers, _Raw(body))


def _attempt(request: Any) -> int:
    """Which attempt of its call a request is: the SDK says so in ``amz-sdk-request``."""
    header = request.headers.get("amz-sdk-request", b"attempt=1")
    header = header.decode() if isinstance(header, bytes) else header
    return int(header.split("attempt=")[1].split(";")[0])


class _Raw:
    """The body of a made-up response, as botocore reads it (``raw.stream()``)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


# The injection whose fault fired last: the SDK's waiting after it (back-off, rate limiter) is
# charged to it, also when injections are nested.
_CHARGED: list[Injection | None] = [None]


def _charge(what: str, seconds: float) -> None:
    with _LOCK:
        injection = _CHARGED[0]
        if injection is not None:
            setattr(injection, what, getattr(injection, what) + seconds)


class _ScaledTime:
    """Stands in for ``time`` inside botocore.endpoint: back-off sleeps are recorded in full and
    slept ``scale`` times as long."""

    def __init__(self, scale: float) -> None:
        self._scale = scale

    def sleep(self, seconds: float) -> None:
        _charge("backoff_s", seconds)
        time.sleep(seconds * self._scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _acquire_without_waiting(bucket: TokenBucket, amount: int = 1, block: bool = True) -> bool:
    """TokenBucket.acquire of the adaptive rate limiter, recording the wait instead of waiting."""
    with bucket._new_fill_rate_condition:
        bucket._refill()
        wait = max(0.0, (amount - bucket._current_capacity) / bucket._fill_rate)
        bucket._current_capacity = max(0.0, bucket._current_capacity - amount)
    _charge("rate_limit_s", wait)
    return True


@contextlib.contextmanager
def inject(
    service: str,
    operation: str,
    error: str,
    *,
    times: int | None = 1,
    after: int = 0,
    match: str | None = None,
    first_attempts: int | None = None,
    backoff_scale: float = 0.01,
    client: Any = None,
) -> Iterator[Injection]:
    """Fail ``times`` requests (None: all) of ``service``'s ``operation`` with ``error``, after
    letting ``after`` through; with ``match``, only requests whose body contains it count; with
    ``first_attempts``, only the first attempts of each call (its retries get through)."""
    injection = Injection(service, operation, error, times, after, match, first_attempts)
    client = client or aws.client(service)
    model = client.meta.service_model
    event = f"before-send.{model.service_id.hyphenize()}.{operation}"
    target_prefix = model.metadata.get("targetPrefix") or model.service_name
    if service == "dynamodb":
        target_prefix = "com.amazonaws.dynamodb.v20120810"

    def before_send(request: Any, **_: Any) -> AWSResponse | None:
        if match is not None:
            body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
            if match.encode() not in body and match.encode("unicode_escape") not in body:
                return None
        if first_attempts is not None and _attempt(request) > first_attempts:
            return None
        with _LOCK:
            injection.calls += 1
            due = injection.calls > after and (times is None or injection.fired < times)
            if due:
                injection.fired += 1
                _CHARGED[0] = injection  # the waiting that follows is this fault's
        if not due:
            return None
        if error == CRASH:
            raise LambdaCrash(f"the invocation died at {service} {operation}")
        if error == CONNECTION_ERROR:
            raise EndpointConnectionError(endpoint_url=request.url)
        if error in (LOST_RESPONSE, CRASH_AFTER):
            answer = URLLib3Session().send(request)  # carried out; its answer never arrives
            injection.lost_responses.append(answer.content.decode(errors="replace")[:200])
            if error == CRASH_AFTER:
                raise LambdaCrash(f"the invocation died waiting for {service} {operation}")
            raise ReadTimeoutError(endpoint_url=request.url)
        return _error_response(request, model.protocol, target_prefix, error)

    client.meta.events.register(event, before_send)
    saved_time, saved_acquire = botocore.endpoint.time, TokenBucket.acquire
    botocore.endpoint.time = _ScaledTime(backoff_scale)
    TokenBucket.acquire = _acquire_without_waiting
    try:
        yield injection
    finally:
        botocore.endpoint.time = saved_time
        TokenBucket.acquire = saved_acquire
        client.meta.events.unregister(event, before_send)
        _rate_recovered(client)
        if _CHARGED[0] is injection:
            _CHARGED[0] = None
        LEDGER.append(injection.record())


def _rate_recovered(client: Any) -> None:
    """Time passes after the fault: the adaptive retry mode's client-side rate limiter, which a
    throttle slows down to a fraction of the measured send rate and which climbs back over
    seconds of real time, is back to full speed (as with the back-off, only waiting is cut)."""
    from botocore.retries.adaptive import ClientRateLimiter

    for handler in client.meta.events._emitter._handlers.prefix_search("before-send"):
        limiter = getattr(handler, "__self__", None)
        if isinstance(limiter, ClientRateLimiter):
            limiter._enabled = False


# --- Lambda's SQS event source mapping, one poll at a time ---------------------------------------


@dataclass
class Poll:
    """What one invocation did with one batch."""

    received: int
    failed: list[str]  # message ids reported failed (or every id, when the invocation died)
    crashed: bool = False


class Poller:
    """Polls a real queue into a function's handler, as Lambda's event source mapping with
    ReportBatchItemFailures does: a batch's reported failures stay on the queue, the rest are
    deleted; an invocation that raises (or dies) leaves the whole batch there. Instead of
    waiting out the visibility timeout, a message left on the queue is made visible again at
    once: SQS counts the receive, and past the queue's maxReceiveCount moves the message to
    its dead-letter queue, as on AWS."""

    def __init__(self, function: str, queue_url: str) -> None:
        from tests.support import handler_module

        self.function = function
        self.queue_url = queue_url
        self.sqs = boto3.client("sqs")
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "RedrivePolicy"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        dlq_arn = json.loads(attributes["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
        self.dlq_url = self.sqs.get_queue_url(QueueName=dlq_arn.rsplit(":", 1)[1])["QueueUrl"]
        self.handler = handler_module(function).handler
        self.invocations = 0

    def poll_one(self, batch_size: int = 10) -> Poll:
        """Like ``poll``, when the test knows a message is waiting."""
        polled = self.poll(batch_size)
        assert polled is not None, "nothing was waiting on the queue"
        return polled

    def poll(self, batch_size: int = 10) -> Poll | None:
        """One receive and one invocation; None if the queue had nothing visible."""
        from infra.local.triggers import sqs_record
        from tests.support import deployed_as, lambda_context

        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=batch_size,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return None
        self.invocations += 1
        event = {"Records": [sqs_record(m, self.queue_arn, "us-east-1") for m in messages]}
        crashed = False
        try:
            with deployed_as(self.function):
                result = self.handler(event, lambda_context(self.function))
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except LambdaCrash:
            crashed, failed = True, {m["MessageId"] for m in messages}
        except Exception:  # the whole batch failed (Powertools raises when every record did)
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed:  # its visibility timeout passes
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return Poll(received=len(messages), failed=sorted(failed), crashed=crashed)

    def drain(self, *, max_polls: int = 50, batch_size: int = 10) -> list[Poll]:
        """Poll until the queue has nothing visible (failures come back until they are dead-lettered)."""
        polls: list[Poll] = []
        for _ in range(max_polls):
            poll = self.poll(batch_size)
            if poll is None:
                return polls
            polls.append(poll)
        raise AssertionError(f"{self.function}: the queue was still not empty after {max_polls} polls")

    def dead_letters(self, *, remove: bool = False) -> list[dict[str, Any]]:
        """The dead-letter queue's messages (left there unless ``remove``: received with no
        visibility timeout)."""
        messages = self.sqs.receive_message(
            QueueUrl=self.dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=0,
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        for message in messages if remove else ():
            self.sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=message["ReceiptHandle"])
        return messages
