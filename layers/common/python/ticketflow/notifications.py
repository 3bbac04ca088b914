"""Who is told of what: the notices to people, as data (``defaults/notifications.json`` or the
table's live version, read through ``runtime_config`` like the other rules).

A notice names recipients resolved against a ticket: its assignee, its team's supervisor or
manager, or a person by id (``person:<id>``); ``fallback`` is used when ``to`` names nobody.
``sms`` says whether people with a phone also get a text. Quiet hours never hold back a P1.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ticketflow import delivery, runtime_config
from ticketflow.directory import Person, Team
from ticketflow.models import Ticket
from ticketflow.storage import directory as directory_store
from ticketflow.storage import tickets as ticket_store

NoticeName = Literal["p1_notice", "sla_warning", "sla_breach", "sla_escalation", "owner_timeout", "low_survey_score"]
ROLES = ("assignee", "team_supervisor", "team_manager")
_PERSON = re.compile(r"^person:[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")  # the directory's id pattern


def _recipient(value: str) -> str:
    if value not in ROLES and not _PERSON.match(value):
        raise ValueError(f"{value!r} is not a recipient: use assignee, team_supervisor, team_manager or person:<id>")
    return value


Recipient = Annotated[str, AfterValidator(_recipient)]


class Notice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool
    to: list[Recipient]
    fallback: list[Recipient] = []
    sms: Literal["never", "p1", "always"]
    respect_quiet_hours: bool


class NotificationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    comment: str = Field(default="", alias="_comment")
    p1_notice: Notice
    sla_warning: Notice
    sla_breach: Notice
    sla_escalation: Notice
    owner_timeout: Notice
    low_survey_score: Notice


def settings() -> NotificationSettings:
    return runtime_config.live("notifications").built("notifications", NotificationSettings.model_validate)


@dataclass(frozen=True)
class Plan:
    """Who gets one notice about one ticket, and how."""

    enabled: bool
    people: tuple[Person, ...]
    sms: bool
    quiet_hours: bool  # people in their quiet hours are held back (never for P1)

    def awake(self, now: datetime) -> list[Person]:
        """The recipients not in their quiet hours at ``now`` (all of them if those do not apply)."""
        if not self.quiet_hours:
            return list(self.people)
        return [p for p in self.people if not (p.quiet_hours and p.quiet_hours.covers(now))]


def plan(name: NoticeName, ticket: Ticket) -> Plan:
    notice: Notice = getattr(settings(), name)
    if not notice.enabled:
        return Plan(enabled=False, people=(), sms=False, quiet_hours=False)
    urgent = name == "p1_notice" or ticket.priority == "P1"
    team = directory_store.get_team(ticket.team) if ticket.team else None
    ids = _ids(notice.to, ticket, team) or _ids(notice.fallback, ticket, team)
    people = tuple(p for p in map(directory_store.get_person, ids) if p is not None)
    return Plan(
        enabled=True,
        people=people,
        sms=notice.sms == "always" or (notice.sms == "p1" and urgent),
        quiet_hours=notice.respect_quiet_hours and not urgent,
    )


def _ids(recipients: list[str], ticket: Ticket, team: Team | None) -> list[str]:
    roles = {
        "assignee": ticket.assignee,
        "team_supervisor": team.supervisor if team else None,
        "team_manager": team.manager if team else None,
    }
    ids = (roles[r] if r in roles else r.removeprefix("person:") for r in recipients)
    return list(dict.fromkeys(i for i in ids if i))  # each once, in order


def describe(plan: Plan, people: list[Person]) -> str:
    """Who was told, for a history entry."""
    if not plan.enabled:
        return "nobody (disabled in notifications settings)"
    return ", ".join(p.id for p in people) or "nobody (no recipient configured)"


def send_once(
    ticket_id: str,
    key: str,
    now: datetime,
    *,
    people: list[Person],
    subject: str,
    text: str,
    sms: bool,
    event: tuple[str, dict[str, Any]],
    record: Callable[[], Any],
    stale_after: timedelta,
) -> bool:
    """Send one notice about a ticket (email, SMS, its event), then ``record`` it on the ticket,
    each part once however often this is retried. False: another attempt holds the claim.

    The claim item ``NOTICE#<key>`` decides between concurrent attempts. An attempt that fails
    part-way (SES refused the second person, SNS was throttled after the email went, the event
    or the record failed) gives the claim up with what it did send, and raises so the caller's
    retry (SQS redelivery, the next sweep) sends only what is missing: nobody gets a notice
    twice, and a failing provider delays it, never drops it. A refusal for good (a rejected
    address) is not retried: the others are told and the notice is recorded.
    """
    claim = ticket_store.claim_notice(ticket_id, key, now, stale_after=stale_after)
    if claim is None:
        return False
    sent = set(claim.delivered)
    try:
        try:
            sent |= {r.key for r in delivery.notify_people(people, subject=subject, text=text, sms=sms, skip=sent)}
        except delivery.DeliveryFailed as failure:
            sent |= {r.key for r in failure.delivered}
            if failure.retryable:
                raise
        if "event" not in sent:
            delivery.publish_event(*event)
            sent.add("event")
        record()
    except Exception:
        ticket_store.give_up_notice(ticket_id, key, sent)
        raise
    ticket_store.mark_notice_sent(ticket_id, key)
    return True
