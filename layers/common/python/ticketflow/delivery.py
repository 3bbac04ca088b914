"""Messages leaving the system: to customers, to people, and as events.

A customer is reached the way they came in: email for the email channel, SMS for the SMS and
phone channels, the channel's own callback (``metadata.callback_url``) for the others, then
email if they left an address, then SMS if they left a phone number. With no route the result
is channel "none": nothing to send to, which is not an error.

Privacy: a full email address or phone number is never logged, returned or put in an error.
Results carry a masked hint ("w***@example.com", "+86138****0000"), and a provider's error
message (which can quote the address) is dropped: ``DeliveryFailed`` keeps only its code.

Failures raise ``DeliveryFailed``; ``retryable`` says whether trying again later can help
(throttling, 5xx, timeouts) or not (a rejected address). Callers retry through SQS.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Collection
from typing import Any, Literal
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import BaseModel, Field

from ticketflow import aws
from ticketflow.directory import Person
from ticketflow.models import Channel, Ticket
from ticketflow.observability import logger

DEFAULT_SENDER = "service@ticketflow.example"
CALLBACK_TIMEOUT_SECONDS = 5
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
_RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "Throttled",
        "TooManyRequestsException",
        "LimitExceededException",
        "RequestTimeout",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "InternalException",
    }
)
# The GSM 03.38 basic alphabet: a text entirely in it fits 160 characters a segment, else UCS-2 (70).
_GSM_7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
_URL = re.compile(r"https?://[!-~]+")  # ASCII only: "…/s/abc，谢谢" ends at the comma


class DeliveryResult(BaseModel):
    channel: Literal["email", "sms", "callback", "none"]
    message_id: str | None = None
    recipient_hint: str | None = None
    person: str | None = Field(default=None, exclude=True)  # notify_people: whom it reached

    @property
    def key(self) -> str:
        """What was sent to whom, as notice claims remember it: "<person>:<channel>"."""
        return f"{self.person}:{self.channel}"


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, channel: str, retryable: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.channel = channel
        self.retryable = retryable
        self.code = code
        self.delivered: list[DeliveryResult] = []  # notify_people: who did get it before the failure


def route_to_customer(ticket: Ticket) -> Literal["email", "sms", "callback", "none"]:
    """How a message reaches this customer: the way they came in, else email, else SMS."""
    customer = ticket.customer
    if ticket.channel is Channel.EMAIL and customer.email:
        return "email"
    if ticket.channel in (Channel.SMS, Channel.PHONE) and customer.phone:
        return "sms"
    if _callback_url(ticket):
        return "callback"
    if customer.email:
        return "email"
    if customer.phone:
        return "sms"
    return "none"


def deliver_to_customer(
    ticket: Ticket,
    *,
    subject: str,
    text: str,
    html: str | None = None,
    sms_text: str | None = None,
    sms_segments: int | None = None,
    callback_extra: dict[str, Any] | None = None,
) -> DeliveryResult:
    """Send on ``route_to_customer``'s way. SMS takes ``sms_text`` (else ``text``), cut to
    ``sms_segments``; the callback's JSON carries ``callback_extra`` too."""
    customer = ticket.customer
    route = route_to_customer(ticket)
    # The route implies its address is there; the checks only tell the type checker so.
    if route == "email" and customer.email:
        result = _send_email(customer.email, subject=subject, text=text, html=html)
    elif route == "sms" and customer.phone:
        result = _send_sms(customer.phone, sms_text or text, segments=sms_segments)
    elif route == "callback" and (url := _callback_url(ticket)):
        result = _post_callback(url, ticket, subject=subject, text=text, extra=callback_extra)
    else:
        result = DeliveryResult(channel="none")
    message = "customer message sent" if result.channel != "none" else "no route to the customer: nothing sent"
    logger.info(message, extra={"ticket_id": ticket.id, **result.model_dump()})
    return result


def notify_people(
    people: list[Person], *, subject: str, text: str, sms: bool = False, skip: Collection[str] = ()
) -> list[DeliveryResult]:
    """Email each active person who has an address, once (and, with ``sms``, text those who have
    a phone), but not what ``skip`` names ("<person>:<channel>": what an earlier attempt sent).
    If some sends fail the rest are still tried; the DeliveryFailed raised afterwards lists in
    ``delivered`` those that went out."""
    results: list[DeliveryResult] = []
    failures: list[DeliveryFailed] = []
    seen: set[str] = set()
    for person in people:
        if not person.email or not person.active or person.email.casefold() in seen:
            continue
        seen.add(person.email.casefold())
        sends = [("email", lambda p=person: _send_email(p.email, subject=subject, text=text, html=None))]
        if sms and person.phone:
            sends.append(("sms", lambda p=person: _send_sms(p.phone, f"{subject}: {text}")))
        for channel, send in sends:
            if f"{person.id}:{channel}" in skip:
                continue
            try:
                results.append(send().model_copy(update={"person": person.id}))
            except DeliveryFailed as failure:
                logger.warning("notification not sent", extra={"person_id": person.id, "code": failure.code})
                failures.append(failure)
    if failures:
        failed = DeliveryFailed(
            f"{len(failures)} of {len(failures) + len(results)} notifications not sent",
            channel="email",
            retryable=any(f.retryable for f in failures),
            code=failures[0].code,
        )
        failed.delivered = results
        raise failed
    return results


def publish_event(detail_type: str, detail: dict[str, Any]) -> str:
    """Put one event on the default bus (Source "ticketflow"); returns its id. Put ids in
    ``detail``, never a customer's email or phone: rules forward events to other systems."""
    entry = {
        "Source": "ticketflow",
        "DetailType": detail_type,
        "Detail": json.dumps(detail, ensure_ascii=False, default=str),
        "EventBusName": "default",
    }
    try:
        response = aws.client("events").put_events(Entries=[entry])
    except (ClientError, BotoCoreError) as error:
        raise _provider_failure("event", error) from None
    if response.get("FailedEntryCount"):
        code = response["Entries"][0].get("ErrorCode", "Unknown")
        raise DeliveryFailed(
            f"event {detail_type} not accepted: {code}", channel="event", retryable=code in _RETRYABLE_CODES, code=code
        )
    return response["Entries"][0]["EventId"]


# Email (SES v2)


def sender() -> str:
    return os.environ.get("TICKETFLOW_SENDER_EMAIL") or DEFAULT_SENDER


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _send_email(address: str, *, subject: str, text: str, html: str | None) -> DeliveryResult:
    body = {"Text": {"Data": text, "Charset": "UTF-8"}}
    if html:
        body["Html"] = {"Data": html, "Charset": "UTF-8"}
    subject = " ".join(subject.split())  # a header is one line
    try:
        response = aws.client("sesv2").send_email(
            FromEmailAddress=sender(),
            Destination={"ToAddresses": [address]},
            Content={"Simple": {"Subject": {"Data": subject, "Charset": "UTF-8"}, "Body": body}},
        )
    except (ClientError, BotoCoreError) as error:
        raise _provider_failure("email", error) from None
    return DeliveryResult(channel="email", message_id=response["MessageId"], recipient_hint=mask_email(address))


# SMS (SNS)


def e164(phone: str) -> str:
    """+<country code><number>; a number without one is taken as domestic (TICKETFLOW_SMS_COUNTRY_CODE, 86)."""
    number = re.sub(r"[\s().-]", "", phone)
    if number.startswith("00"):
        number = "+" + number[2:]
    if not number.startswith("+"):
        number = f"+{os.environ.get('TICKETFLOW_SMS_COUNTRY_CODE') or '86'}{number.lstrip('0')}"
    if not re.fullmatch(r"\+[1-9]\d{6,14}", number):
        raise DeliveryFailed("the phone number is not a valid E.164 number", channel="sms", retryable=False)
    return number


def mask_phone(number: str) -> str:
    head = max(len(number) - 8, 1)
    return f"{number[:head]}****{number[-4:]}"


def fit_sms(text: str, segments: int = 1) -> str:
    """The text within ``segments`` SMS segments (160 GSM-7 or 70 UCS-2 characters alone, 153 or 67
    when concatenated). A trailing link is kept whole: a survey link cut short is useless."""
    text = " ".join(text.split())
    gsm = all(ch in _GSM_7 for ch in text)
    single, part = (160, 153) if gsm else (70, 67)
    limit = single if segments <= 1 else part * segments

    def units(value: str) -> int:  # UCS-2 counts characters outside the BMP (emoji) twice
        return len(value) if gsm else len(value.encode("utf-16-le")) // 2

    if units(text) <= limit:
        return text
    links = _URL.findall(text)
    ellipsis = "..." if gsm else "…"
    link = links[-1] if links and units(links[-1]) + units(ellipsis) + 1 < limit else ""
    prose = text.replace(link, " ").strip() if link else text
    budget = limit - units(ellipsis) - (units(link) + 1 if link else 0)
    prose = prose[:budget]
    while units(prose) > budget:  # only characters outside the BMP take more than one unit
        prose = prose[:-1]
    return f"{prose.rstrip()}{ellipsis}" + (f" {link}" if link else "")


def _send_sms(phone: str, text: str, *, segments: int | None = None) -> DeliveryResult:
    number = e164(phone)
    segments = max(segments or 1, int(os.environ.get("TICKETFLOW_SMS_MAX_SEGMENTS") or 1))
    try:
        response = aws.client("sns").publish(
            PhoneNumber=number,
            Message=fit_sms(text, segments),
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
        )
    except (ClientError, BotoCoreError) as error:
        raise _provider_failure("sms", error) from None
    return DeliveryResult(channel="sms", message_id=response["MessageId"], recipient_hint=mask_phone(number))


# The channel's callback (HTTP POST)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could lead off https or to an internal address: its 3xx is the answer.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _callback_url(ticket: Ticket) -> str | None:
    url = ticket.metadata.get("callback_url")
    if not url:
        return None
    parts = urlsplit(url)
    if (parts.scheme == "https" and parts.hostname) or (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS):
        return url
    logger.warning("callback_url ignored: https only (http for localhost)", extra={"ticket_id": ticket.id})
    return None


def _post_callback(
    url: str, ticket: Ticket, *, subject: str, text: str, extra: dict[str, Any] | None = None
) -> DeliveryResult:
    payload = {"ticket_id": ticket.id, "number": ticket.number, "subject": subject, "text": text, **(extra or {})}
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "ticketflow"},
    )
    parts = urlsplit(url)
    hint = f"{parts.scheme}://{parts.hostname}"  # the path may carry a token
    try:
        with _OPENER.open(request, timeout=CALLBACK_TIMEOUT_SECONDS):
            pass
    except urllib.error.HTTPError as error:
        retryable = error.code >= 500 or error.code in (408, 429)
        raise DeliveryFailed(
            f"callback {hint} answered {error.code}", channel="callback", retryable=retryable, code=str(error.code)
        ) from None
    except (urllib.error.URLError, OSError) as error:  # refused, DNS, timeout
        raise DeliveryFailed(
            f"callback {hint} unreachable", channel="callback", retryable=True, code=type(error).__name__
        ) from None
    return DeliveryResult(channel="callback", recipient_hint=hint)


def _provider_failure(channel: str, error: ClientError | BotoCoreError) -> DeliveryFailed:
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Unknown")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        retryable = code in _RETRYABLE_CODES or status >= 500 or status == 429
    else:  # the SDK gave up: connection errors and timeouts pass, a bad request does not
        code = type(error).__name__
        retryable = isinstance(error, BotoConnectionError | HTTPClientError)
    return DeliveryFailed(f"{channel} not sent: {code}", channel=channel, retryable=retryable, code=code)
