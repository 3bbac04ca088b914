"""People's replies reach the customer once, on the ticket's channel, with a receipt."""

from __future__ import annotations

from moto.sns.models import sns_backends

from tests.conftest import drain, sent_email, sqs_batch
from tests.support import Api, invoke, new_ticket

api = Api()


def reply(stack, body: str, **ticket_fields) -> tuple[str, list[dict]]:
    tid = api.post("/tickets", new_ticket(**ticket_fields))[1]["id"]
    api.post(f"/tickets/{tid}/accept", as_="agent-1")
    status, _ = api.post(f"/tickets/{tid}/reply", {"body": body}, as_="agent-1")
    assert status == 200
    messages = [m for m in drain(stack["TICKETFLOW_QUEUE_OUTBOUND_URL"]) if m["data"]["ticket_id"] == tid]
    return tid, messages


def test_a_reply_is_emailed_once_and_its_receipt_shows_on_the_ticket(stack):
    tid, messages = reply(stack, "您好，已为您补发，单号 SF123。")
    assert [m["type"] for m in messages] == ["reply.created"]
    before = len(sent_email())
    assert invoke("deliver", sqs_batch(messages, "outbound")) == {"batchItemFailures": []}
    assert invoke("deliver", sqs_batch(messages + messages, "outbound")) == {"batchItemFailures": []}
    emails = sent_email()[before:]
    assert len(emails) == 1 and emails[0].destinations["ToAddresses"] == ["wf@example.com"]
    assert "已为您补发" in emails[0].body
    entry = next(h for h in api.get(f"/tickets/{tid}", as_="agent-1")[1]["history"] if h["action"] == "reply")
    assert entry["delivery"]["state"] == "sent" and entry["delivery"]["channel"] == "email"
    assert entry["delivery"]["recipient"] == "w***@example.com"  # masked, never the address


def test_an_sms_channel_gets_an_sms(stack):
    backend = sns_backends["123456789012"]["us-east-1"]
    before = len(backend.sms_messages)
    customer = {"id": "C-S", "name": "短信客户", "phone": "+8613800000001"}
    _, messages = reply(stack, "您的退款已到账。", channel="sms", customer=customer)
    invoke("deliver", sqs_batch(messages, "outbound"))
    sms = list(backend.sms_messages.values())[before:]
    assert len(sms) == 1 and "退款已到账" in sms[0][1]


def test_no_contact_is_recorded_as_undeliverable(stack):
    tid, messages = reply(stack, "hello", customer={"id": "C-N", "name": "nobody"})
    assert invoke("deliver", sqs_batch(messages, "outbound")) == {"batchItemFailures": []}
    entry = next(h for h in api.get(f"/tickets/{tid}", as_="agent-1")[1]["history"] if h["action"] == "reply")
    assert entry["delivery"]["state"] == "undeliverable"
