"""The bodies people send to act on a ticket (POST /tickets/{id}/<action>)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from ticketflow.clock import Timestamp
from ticketflow.models import CloseReason

Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)]
PersonId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Accept(Command):
    note: Reason | None = None


class Reply(Command):
    """A public reply to the customer; the first one sets the first response time."""

    body: Body


class Comment(Command):
    """An internal note, never shown to the customer."""

    body: Body


class Transfer(Command):
    """转办: hand the ticket to another team, optionally to a named agent in it."""

    team: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    agent: PersonId | None = None
    reason: Reason
    expected_by: Timestamp | None = None


class Assign(Command):
    agent: PersonId
    reason: Reason


class Pending(Command):
    """Waiting for the customer: say what is awaited."""

    reason: Reason | None = None


class Resume(Command):
    note: Reason | None = None


class Resolve(Command):
    result: Body


class Close(Command):
    reason: CloseReason
    result: Body | None = None


class Reopen(Command):
    reason: Reason


class RequestSurvey(Command):
    """Send the satisfaction survey by hand (it skips the sampling and selection rules, not the
    customer's cooldown); say why."""

    reason: Reason
