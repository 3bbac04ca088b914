"""Delivery to customers and people through the emulated SES v2, SNS and EventBridge, and a real HTTP callback."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from ticketflow import aws, clock, delivery
from ticketflow.delivery import DeliveryFailed, deliver_to_customer, fit_sms, notify_people, publish_event
from ticketflow.directory import Person, Role
from ticketflow.models import Customer, Ticket

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def verified_sender(stack: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    sender = f"service@{uuid.uuid4().hex[:8]}.ticketflow.example"
    boto3.client("sesv2").create_email_identity(EmailIdentity=sender)
    monkeypatch.setenv("TICKETFLOW_SENDER_EMAIL", sender)
    return sender


def make_ticket(channel: str = "web", *, metadata: dict[str, str] | None = None, **customer: Any) -> Ticket:
    now = clock.now()
    return Ticket(
        id=str(uuid.uuid4()),
        number="CS20240310000001",
        status="new",
        version=1,
        channel=channel,
        customer=Customer(id="C-1", name="王芳", **customer),
        description="我的订单什么时候到",
        metadata=metadata or {},
        created_at=now,
        updated_at=now,
    )


def unique_email() -> str:
    return f"w{uuid.uuid4().hex[:10]}@example.com"


def emails_to(address: str) -> list[Any]:
    return [m for m in ses_backends[ACCOUNT][REGION].sent_messages if address in m.destinations.get("ToAddresses", [])]


def sms_to(number: str) -> list[str]:
    return [text for phone, text in sns_backends[ACCOUNT][REGION].sms_messages.values() if phone == number]


class CallbackServer(ThreadingHTTPServer):
    """A channel's callback endpoint: records what it is sent, answers ``status``."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Callback)
        self.received: list[tuple[str, str, Any]] = []
        self.status = 204


class _Callback(BaseHTTPRequestHandler):
    server: CallbackServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def callback_server() -> Iterator[CallbackServer]:
    server = CallbackServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def callback_url(server: CallbackServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/hooks/ticketflow?token=secret"


# Email


def test_email_channel_sends_text_and_html_from_the_configured_sender(verified_sender: str):
    address = unique_email()
    result = deliver_to_customer(
        make_ticket("email", email=address), subject="[CS20240310000001] 订单\n状态", text="您好", html="<p>您好</p>"
    )
    assert result.channel == "email" and result.message_id
    assert result.recipient_hint == f"{address[0]}***@example.com"
    [sent] = emails_to(address)
    assert sent.id == result.message_id
    assert sent.source == verified_sender
    assert sent.subject == "[CS20240310000001] 订单 状态"  # one header line
    assert sent.body == "<p>您好</p>"  # moto keeps the HTML part when there is one


def test_any_channel_falls_back_to_email_when_there_is_no_better_route(verified_sender: str):
    address = unique_email()
    result = deliver_to_customer(make_ticket("chat", email=address), subject="s", text="plain text only")
    assert result.channel == "email"
    assert [m.body for m in emails_to(address)] == ["plain text only"]


def test_an_unverified_sender_is_rejected_for_good_and_the_address_stays_private(
    stack: dict[str, str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TICKETFLOW_SENDER_EMAIL", f"nobody@{uuid.uuid4().hex[:8]}.invalid-sender.example")
    address = unique_email()
    with pytest.raises(DeliveryFailed) as failed:
        deliver_to_customer(make_ticket("email", email=address), subject="s", text="t")
    assert failed.value.retryable is False
    assert failed.value.channel == "email" and failed.value.code == "MessageRejected"
    assert failed.value.__cause__ is None and failed.value.__suppress_context__  # provider text dropped
    assert address not in str(failed.value)
    assert emails_to(address) == []


# SMS


def test_sms_channel_publishes_a_transactional_sms_of_one_segment(stack: dict[str, str]):
    local = f"139{uuid.uuid4().int % 10**8:08d}"
    long_text = (
        "王芳您好！您的订单（订单号：SO20240310001）当前状态：已发货，"
        "承运商：顺丰速运，运单号：SF1234567890，预计明天送达，如有疑问请回复。"
    )
    result = deliver_to_customer(make_ticket("sms", phone=local), subject="ignored", text=long_text)
    number = f"+86{local}"
    assert result.channel == "sms" and result.message_id
    assert result.recipient_hint == f"+86139****{local[-4:]}"
    [sent] = sms_to(number)
    assert len(sent) == 70 and sent.endswith("…") and long_text.startswith(sent[:-1])


def test_phone_channel_without_a_phone_falls_back_to_email_or_none(verified_sender: str):
    assert deliver_to_customer(make_ticket("phone"), subject="s", text="t").channel == "none"
    assert deliver_to_customer(make_ticket("phone", email=unique_email()), subject="s", text="t").channel == "email"


def test_sms_keeps_a_trailing_link_whole():
    text = "感谢您的耐心！请花一分钟为本次服务评分，您的意见对我们非常重要：https://example.com/s/AbCdEf0123456789xyz"
    shortened = fit_sms(text)
    assert len(shortened) <= 70 and shortened.endswith(" https://example.com/s/AbCdEf0123456789xyz")
    assert fit_sms("Hello, rate us: https://example.com/s/abc") == "Hello, rate us: https://example.com/s/abc"
    assert len(fit_sms("a" * 400)) == 160 and len(fit_sms("a" * 400, segments=2)) == 306


def test_a_malformed_phone_is_not_retried():
    with pytest.raises(DeliveryFailed) as failed:
        delivery.e164("+0123")
    assert failed.value.retryable is False and "0123" not in str(failed.value)


# Callback


def test_callback_gets_the_message_as_json(stack: dict[str, str], callback_server: CallbackServer):
    ticket = make_ticket("web", metadata={"callback_url": callback_url(callback_server)}, email=unique_email())
    result = deliver_to_customer(ticket, subject="回复", text="您好，王芳")
    assert result.channel == "callback"  # the channel's own route beats email
    assert result.recipient_hint == "http://127.0.0.1"  # never the path or its token
    [(path, content_type, body)] = callback_server.received
    assert path == "/hooks/ticketflow?token=secret" and content_type.startswith("application/json")
    assert body == {"ticket_id": ticket.id, "number": ticket.number, "subject": "回复", "text": "您好，王芳"}


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (404, False)])
def test_callback_errors_say_whether_to_retry(callback_server: CallbackServer, status: int, retryable: bool):
    callback_server.status = status
    with pytest.raises(DeliveryFailed) as failed:
        deliver_to_customer(
            make_ticket(metadata={"callback_url": callback_url(callback_server)}), subject="s", text="t"
        )
    assert failed.value.retryable is retryable and failed.value.code == str(status)


def test_an_unreachable_callback_is_retried(callback_server: CallbackServer):
    url = callback_url(callback_server)
    callback_server.shutdown()
    callback_server.server_close()
    with pytest.raises(DeliveryFailed) as failed:
        deliver_to_customer(make_ticket(metadata={"callback_url": url}), subject="s", text="t")
    assert failed.value.retryable is True and failed.value.channel == "callback"


@pytest.mark.parametrize(
    "url", ["http://example.com/hook", "ftp://127.0.0.1/hook", "file:///etc/passwd", "https:///no-host", "not a url"]
)
def test_callbacks_must_be_https_except_on_this_machine(url: str):
    assert deliver_to_customer(make_ticket(metadata={"callback_url": url}), subject="s", text="t").channel == "none"


def test_nothing_to_deliver_to_is_not_an_error():
    result = deliver_to_customer(make_ticket("chat"), subject="s", text="t")
    assert result.model_dump() == {"channel": "none", "message_id": None, "recipient_hint": None}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.dumps(record.__dict__, default=str, ensure_ascii=False))


def test_no_log_line_carries_the_customers_address_or_phone(verified_sender: str):
    records = _Records()
    logging.getLogger("ticketflow").addHandler(records)  # Powertools' logger for service "ticketflow"
    try:
        address, local = unique_email(), f"137{uuid.uuid4().int % 10**8:08d}"
        deliver_to_customer(make_ticket("email", email=address, phone=local), subject="s", text="t")
        deliver_to_customer(make_ticket("sms", email=address, phone=local), subject="s", text="t")
        deliver_to_customer(
            make_ticket(metadata={"callback_url": "http://example.com/x"}, phone=local), subject="s", text="t"
        )
    finally:
        logging.getLogger("ticketflow").removeHandler(records)
    logged = "\n".join(records.lines)
    assert len(records.lines) >= 3
    assert "w***@example.com" in logged and f"+86137****{local[-4:]}" in logged
    assert address not in logged and local not in logged


# People


def test_notify_people_emails_each_active_person_with_an_address_once(verified_sender: str):
    first, second = unique_email(), unique_email()
    people = [
        Person(id="sup-1", name="Zhao", role=Role.SUPERVISOR, email=first),
        Person(id="sup-2", name="Qian", role=Role.SUPERVISOR, email=second),
        Person(id="sup-2-again", name="Qian", role=Role.SUPERVISOR, email=second.upper()),
        Person(id="agent-9", name="No mail", role=Role.AGENT),
        Person(id="agent-8", name="Left", role=Role.AGENT, email=unique_email(), active=False),
    ]
    results = notify_people(people, subject="[P1] CS20240310000001", text="请尽快处理")
    assert [r.channel for r in results] == ["email", "email"]
    assert [r.recipient_hint for r in results] == [f"{first[0]}***@example.com", f"{second[0]}***@example.com"]
    assert len(emails_to(first)) == len(emails_to(second)) == 1
    assert emails_to(first)[0].subject == "[P1] CS20240310000001"


def test_notify_people_tries_everyone_and_reports_who_got_it(stack: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    sent: list[str] = []

    def send_email(address: str, **_: Any) -> delivery.DeliveryResult:
        if address.startswith("down"):
            raise DeliveryFailed("email not sent: Throttling", channel="email", retryable=True, code="Throttling")
        sent.append(address)
        return delivery.DeliveryResult(channel="email", recipient_hint=delivery.mask_email(address))

    monkeypatch.setattr(delivery, "_send_email", send_email)
    people = [Person(id=f"p-{n}", name="P", role=Role.AGENT, email=f"{n}@example.com") for n in ("down1", "ok1", "ok2")]
    with pytest.raises(DeliveryFailed) as failed:
        notify_people(people, subject="s", text="t")
    assert sent == ["ok1@example.com", "ok2@example.com"]
    assert failed.value.retryable and [r.recipient_hint for r in failed.value.delivered] == ["o***@example.com"] * 2


# Events


def test_publish_event_lands_on_the_default_bus(stack: dict[str, str]):
    detail_type = f"ticket.test_{uuid.uuid4().hex[:8]}"
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=detail_type.replace(".", "-"), EventPattern=json.dumps({"detail-type": [detail_type]}))
    events.put_targets(Rule=detail_type.replace(".", "-"), Targets=[{"Id": "q", "Arn": arn}])

    event_id = publish_event(detail_type, {"ticket_id": "t-1", "team": "售后"})
    assert event_id
    [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    event = json.loads(message["Body"])
    assert event["source"] == "ticketflow" and event["detail-type"] == detail_type
    assert event["detail"] == {"ticket_id": "t-1", "team": "售后"}


def test_a_rejected_event_raises(monkeypatch: pytest.MonkeyPatch):
    class Events:
        def put_events(self, Entries: list[dict]) -> dict:
            self.detail = json.loads(Entries[0]["Detail"])
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"}]}

    monkeypatch.setattr(aws, "client", lambda service: Events())
    with pytest.raises(DeliveryFailed) as failed:
        publish_event("ticket.x", {"at": clock.now()})
    assert failed.value.retryable and failed.value.code == "ThrottlingException"


# Classifying provider errors


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "w@example.com"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (_client_error("Throttling", 400), True),
        (_client_error("TooManyRequestsException", 429), True),
        (_client_error("InternalFailure", 500), True),
        (_client_error("ServiceUnavailable", 503), True),
        (_client_error("MessageRejected", 400), False),
        (_client_error("InvalidParameter", 400), False),
        (EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com"), True),
        (ParamValidationError(report="bad"), False),
    ],
)
def test_provider_errors_are_retryable_only_when_waiting_can_help(error: Exception, retryable: bool):
    failure = delivery._provider_failure("email", error)
    assert failure.retryable is retryable
    assert "w@example.com" not in str(failure)
