"""GET /dev/outbox: the email, SMS and events the functions sent, read from the embedded
moto's in-process backends (so only under ``ticketflow dev``, never against an endpoint).

Email: SES v1 and v2 both record into ``ses_backends[...].sent_messages``. SMS:
``sns_backends[...].sms_messages``. Events: moto keeps no record of ``PutEvents``, so an
archive on the default bus, which moto fills with every event put there, stands in for one.
"""

from __future__ import annotations

import email
import email.policy
from typing import Any


class Outbox:
    def __init__(self, account: str, region: str, prefix: str) -> None:
        self.account = account
        self.region = region
        self.archive = f"{prefix}-outbox"

    def install(self, events: Any) -> None:
        """Start recording events (``events`` is a boto3 EventBridge client)."""
        bus = f"arn:aws:events:{self.region}:{self.account}:event-bus/default"
        events.create_archive(ArchiveName=self.archive, EventSourceArn=bus)

    def read(self) -> dict[str, list[dict[str, Any]]]:
        """Everything sent so far, oldest first in each list."""
        from moto.events.models import events_backends
        from moto.ses.models import ses_backends
        from moto.sns.models import sns_backends

        sent = ses_backends[self.account][self.region].sent_messages
        sms = sns_backends[self.account][self.region].sms_messages
        archive = events_backends[self.account][self.region].archives[self.archive]
        return {
            "email": [_email(message) for message in sent],
            "sms": [{"id": i, "phone": phone, "message": text} for i, (phone, text) in sms.items()],
            "events": [dict(event) for event in archive.events],
        }


def _email(message: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"id": getattr(message, "id", None) or message.ids, "from": message.source}
    if hasattr(message, "raw_data"):  # send_raw_email, SES v2 Raw content
        mime = email.message_from_string(message.raw_data, policy=email.policy.default)
        part = mime.get_body(preferencelist=("plain", "html"))
        return found | {
            "to": message.destinations,
            "subject": mime["Subject"],
            "body": part.get_content() if part else None,
        }
    destinations = message.destinations or {}
    recipients = {
        "to": destinations.get("ToAddresses", []),
        "cc": destinations.get("CcAddresses", []),
        "bcc": destinations.get("BccAddresses", []),
    }
    if hasattr(message, "template"):  # send_templated_email: moto does not render templates
        return found | recipients | {"template": message.template, "template_data": message.template_data}
    # moto keeps one body: the HTML one when a message has both.
    return found | recipients | {"subject": message.subject, "body": message.body}
