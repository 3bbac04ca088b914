"""Personal data: erasing a closed ticket's on request, and keeping contacts out of what we emit.

**Erasure** (``POST /admin/tickets/{id}/erase``, admins only, closed tickets only). What goes:
everything that says who the customer is or what they wrote —

- on the ticket: the customer's name and id (they read ``[erased]``), email and phone (gone),
  subject, description, desired resolution, order number, the resolution text, attachments
  (references to the channel's files: the files themselves are the channel's to delete),
  channel metadata (page URLs, callback URLs; the link to a recovery ticket stays), the
  survey's comment and masked recipient; its ``by_customer`` index entry (so listing by the
  customer finds it no more);
- in the history: every free-text body (replies, notes, the automatic answer that greeted the
  customer by name, results), the personal fields in each entry's ``changes``, and the
  customer's name, id, email, phone and order number wherever reasons and classification
  notes quote them (any other email address or phone number in them too);
- beside it: the reply receipts' masked recipients, intake's idempotency record (it stores the
  ticket as first posted), the customer's survey cooldown when this ticket holds it, the
  subject shown in stored what-if replays, and the linked service-recovery ticket (a copy of
  the customer and their comment), which is erased with it and must be closed too.

What stays, so that the audit trail and every report are unchanged: the ticket's number,
status, channel, customer tier, language, category, priority, team, assignee, timestamps,
counts, SLA clocks and outcomes, the survey's scores, NPS and state, and every history entry
(who did what, when, the status it moved), the report counters (they never held personal
data). An ``erase`` entry records who erased it, when and why. A survey still waiting to go
is cancelled; a link already sent can no longer be answered. An erased ticket can no longer be
worked (409 ``ticket_erased``).

Erasing is safe to repeat: it scrubs everything beside the ticket first and then writes the
ticket with its ``erase`` entry in one conditional transaction (a change made meanwhile makes
it start again); an erased ticket answers at once with its current state.

**Redaction** (``redact_contacts``): email addresses and phone numbers in texts we emit about
a request (error messages and their log lines) are replaced by ``[email]`` and ``[phone]``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from ticketflow import clock
from ticketflow.access import Actor
from ticketflow.directory import Role
from ticketflow.errors import ConcurrentUpdate, Conflict, Forbidden, IllegalTransition, NotFound
from ticketflow.models import (
    Customer,
    HistoryEntry,
    Status,
    Survey,
    SurveyState,
    Ticket,
    TicketWithHistory,
)
from ticketflow.observability import count, logger
from ticketflow.storage import privacy as privacy_store
from ticketflow.storage import surveys as survey_store
from ticketflow.storage import tickets as ticket_store

MARKER = "[erased]"
# Ticket fields written by the customer (or about them) that are replaced by the marker.
PERSONAL_FIELDS = ("subject", "description", "desired_resolution", "order_number", "resolution")
# Channel metadata that is ours, not the customer's: the link between a recovery ticket and
# the ticket it follows up.
KEPT_METADATA = ("recovery_for", "recovery_for_id")
# History entries whose body is the system's own reasoning, kept (with contacts scrubbed):
# the classifier's reasons say why a ticket got its category and priority.
KEPT_BODIES = frozenset({"classify"})
_ATTEMPTS = 4

_EMAIL = re.compile(r"[A-Za-z0-9._%+*-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# International numbers (+ or 00, then 8 to 15 digits with spaces, dashes, parentheses) and
# Chinese mobile numbers (1[3-9] and 9 digits, optionally grouped 3-4-4). Dates, times, ticket
# numbers (CS + 14 digits), UUIDs and version numbers do not match.
_PHONE = re.compile(
    r"(?<![0-9A-Za-z+])(?:\+|00)[1-9](?:[ ()-]{0,2}\d){7,14}(?![0-9A-Za-z])"
    r"|(?<![0-9A-Za-z])1[3-9]\d(?:[ -]?\d{4}){2}(?![0-9A-Za-z])"
)


def redact_contacts(text: str, *, replacement: str | None = None) -> str:
    """``text`` with email addresses and phone numbers replaced (by ``[email]``/``[phone]``, or
    by ``replacement``)."""
    text = _EMAIL.sub(replacement or "[email]", text)
    return _PHONE.sub(replacement or "[phone]", text)


class EraseRequest(BaseModel):
    """Why the customer's personal data is erased (their request, a retention rule): kept in the
    ticket's history with who erased it and when."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


# ---------------------------------------------------------------- what is personal, and its marker


class Scrubber:
    """Replaces one ticket's personal values in free text: the customer's name, id, email and
    phone (as written, in E.164, and masked as in delivery hints) and order number, then any
    email address or phone number at all."""

    def __init__(self, ticket: Ticket) -> None:
        # The masks delivery hints use; imported here: every API function imports this module
        # (for redact_contacts) and most never erase anything.
        from ticketflow import delivery

        customer = ticket.customer
        found = {customer.name, customer.id, ticket.order_number or ""}
        if customer.email:
            found |= {customer.email, delivery.mask_email(customer.email)}
        if customer.phone:
            digits = re.sub(r"\D", "", customer.phone)
            found |= {customer.phone, digits}
            try:
                number = delivery.e164(customer.phone)
                found |= {number, number.lstrip("+"), delivery.mask_phone(number)}
            except delivery.DeliveryFailed:
                pass  # not a number SMS could reach: only the forms above were ever written
        # Too short a value would erase unrelated text ("42" in "score 0.42"): a name from two
        # characters (Chinese names are short), anything else from four.
        found = {n.strip() for n in found if len(n.strip()) >= 4 and n.strip() != MARKER}
        if len(customer.name.strip()) >= 2 and customer.name.strip() != MARKER:
            found.add(customer.name.strip())
        # Longest first, so that a masked or partial form never leaves the rest of a longer one;
        # a Latin value only as a whole word ("Li" is not erased from "client").
        self._pattern = (
            re.compile("|".join(_whole(n) for n in sorted(found, key=len, reverse=True)), re.IGNORECASE)
            if found
            else None
        )

    def text(self, value: str) -> str:
        # Markers already there stay as they are: erasing twice changes nothing.
        return MARKER.join(self._piece(part) for part in value.split(MARKER))

    def _piece(self, value: str) -> str:
        if self._pattern is not None:
            value = self._pattern.sub(MARKER, value)
        return redact_contacts(value, replacement=MARKER)

    def value(self, value: Any) -> Any:
        """Any JSON value, strings scrubbed wherever they are."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value


def _whole(needle: str) -> str:
    pattern = re.escape(needle)
    if re.match(r"[A-Za-z0-9]", needle):
        pattern = r"(?<![A-Za-z0-9])" + pattern
    if re.search(r"[A-Za-z0-9]$", needle):
        pattern += r"(?![A-Za-z0-9])"
    return pattern


def _survey_dict(survey: dict[str, Any]) -> dict[str, Any]:
    """A survey's JSON with the customer's comment and the (masked) address it went to erased."""
    return survey | {key: MARKER for key in ("comment", "recipient") if survey.get(key) is not None}


def _change(field: str, value: Any, scrubber: Scrubber) -> Any:
    """One side of a history entry's ``changes[field]``, erased."""
    if value is None:
        return None
    if field in PERSONAL_FIELDS or field == "customer":
        return MARKER
    if field == "attachments":
        return []
    if field == "metadata" and isinstance(value, dict):
        return {key: value[key] for key in KEPT_METADATA if key in value}
    if field == "survey" and isinstance(value, dict):
        value = _survey_dict(value)
    return scrubber.value(value)


def history_item(item: dict[str, Any], scrubber: Scrubber) -> dict[str, Any]:
    """A stored history entry (``HIST#…`` item) with its personal values erased; who did what,
    when, and the statuses stay."""
    erased = dict(item)
    if item.get("body") is not None:
        erased["body"] = scrubber.text(item["body"]) if item.get("action") in KEPT_BODIES else MARKER
    if item.get("reason") is not None:
        erased["reason"] = scrubber.text(item["reason"])
    if item.get("changes"):
        erased["changes"] = {
            field: [_change(field, side, scrubber) for side in pair] if isinstance(pair, list) else pair
            for field, pair in item["changes"].items()
        }
    return erased


def receipt_item(item: dict[str, Any]) -> dict[str, Any]:
    """A reply's delivery receipt (``OUT#…``) without the masked recipient."""
    return item | ({"recipient": MARKER} if item.get("recipient") is not None else {})


def _survey(survey: Survey | None, scrubber: Scrubber) -> Survey | None:
    if survey is None:
        return None
    changes: dict[str, Any] = {key: MARKER for key in ("comment", "recipient") if getattr(survey, key) is not None}
    if survey.reason is not None:
        changes["reason"] = scrubber.text(survey.reason)
    if survey.state in (SurveyState.SCHEDULED, SurveyState.SENDING):
        # Nobody to send it to any more. Reports count surveys sent and answered: unchanged.
        changes |= {"state": SurveyState.CANCELLED, "reason": "the customer's personal data was erased first"}
    return survey.model_copy(update=changes)


def erased_ticket(ticket: Ticket, now: datetime, scrubber: Scrubber) -> Ticket:
    """``ticket`` with its personal data erased, as the next version."""
    changes: dict[str, Any] = {field: MARKER for field in PERSONAL_FIELDS if getattr(ticket, field) is not None}
    changes |= {
        "customer": Customer(id=MARKER, name=MARKER, tier=ticket.customer.tier),
        "attachments": [],
        "metadata": {key: ticket.metadata[key] for key in KEPT_METADATA if key in ticket.metadata},
        "survey": _survey(ticket.survey, scrubber),
        "erased_at": now,
        "version": ticket.version + 1,
        "updated_at": now,
    }
    return ticket.model_copy(update=changes)


# ---------------------------------------------------------------- erasing


def _view(ticket_id: str) -> TicketWithHistory:
    ticket, history = ticket_store.get_with_history(ticket_id)
    assert ticket is not None
    return TicketWithHistory(**ticket.model_dump(), history=history)


def _recovery(ticket: Ticket) -> Ticket | None:
    """The service-recovery ticket opened for a low score on ``ticket``, if any: it holds a copy
    of the customer and their comment, so it is erased with it and must be closed first."""
    if ticket.survey is not None and ticket.survey.recovery == "pending":
        # Owed for a low score and opened within minutes (by the sweep, should the first try
        # fail); erased now, it would be opened afterwards from what is left.
        raise Conflict(
            f"ticket {ticket.number} is about to get its service-recovery ticket; erase it once that one is closed",
            code="recovery_ticket_open",
            details={"recovery_ticket": None, "status": "pending"},
        )
    number = ticket.survey.recovery_ticket if ticket.survey else None
    recovery_id = ticket_store.id_for_number(number) if number else None
    recovery = ticket_store.get(recovery_id) if recovery_id else None
    if recovery is None or recovery.erased_at is not None:
        return None
    if recovery.status is not Status.CLOSED:
        raise Conflict(
            f"ticket {ticket.number}'s service-recovery ticket {recovery.number} is {recovery.status.value}: "
            "it holds the customer's data too, so close it first and erase them together",
            code="recovery_ticket_open",
            details={"recovery_ticket": recovery.number, "status": recovery.status.value},
        )
    return recovery


def _scrub_beside(ticket: Ticket, scrubber: Scrubber) -> int:
    """Everything of the ticket's partition but the ticket item; how many items were rewritten."""
    rewritten = []
    for item in ticket_store.partition(ticket.id):
        sk = item["sk"]
        if sk.startswith("HIST#"):
            erased = history_item(item, scrubber)
        elif sk.startswith("OUT#"):
            erased = receipt_item(item)
        else:
            continue  # the ticket (written last, with its entry) and claims (no personal data)
        if erased != item:
            rewritten.append(erased)
    return privacy_store.rewrite(rewritten)


def erase(ticket_ref: str, actor: Actor, request: EraseRequest) -> TicketWithHistory:
    """Erase a closed ticket's personal data, keeping its audit trail and its figures (see the
    module's docstring); the ticket with its history afterwards. Forbidden for anyone but an
    admin, NotFound, IllegalTransition (409) unless closed, Conflict (409 ``recovery_ticket_open``)
    while its recovery ticket is open. Again on an erased ticket: its state, nothing written."""
    if actor.role is not Role.ADMIN:
        raise Forbidden("only an admin can erase a ticket's personal data")
    ticket_id = ticket_store.resolve_ref(ticket_ref)
    for _ in range(_ATTEMPTS):
        ticket = ticket_store.get(ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket {ticket_ref}")
        if ticket.erased_at is not None:
            return _view(ticket_id)
        if ticket.status is not Status.CLOSED:
            raise IllegalTransition(
                f"cannot erase ticket {ticket.number}: it is {ticket.status.value}; only a closed ticket's "
                "personal data can be erased",
                details={"action": "erase", "status": ticket.status.value, "allowed_from": [Status.CLOSED.value]},
            )
        scrubber = Scrubber(ticket)
        recovery = _recovery(ticket)
        if recovery is not None:  # (its own recovery ticket, if it ever got one, goes with it)
            reason = f"erased with ticket {ticket.number}: {request.reason}"
            erase(recovery.id, actor, EraseRequest(reason=reason[:500]))
        # Everything beside the ticket first: the ticket's own write comes last and marks the
        # erasure done, so a failure before it leaves a ticket that a retry erases again. (The
        # scrubber needs the values it erases, which only the ticket keeps until then. A reopen
        # winning the race with this write leaves its history scrubbed and the ticket open.)
        items = _scrub_beside(ticket, scrubber)
        privacy_store.delete_idempotency_record(ticket.id)
        survey_store.release_customer(ticket.customer.id, ticket.id)
        privacy_store.scrub_simulation_samples(ticket.id, lambda sample: {"subject": MARKER})
        now = clock.now()
        after = erased_ticket(ticket, now, scrubber)
        entry = HistoryEntry(
            at=now,
            version=after.version,
            action="erase",
            actor=actor.ref,
            from_status=ticket.status,
            to_status=after.status,
            reason=scrubber.text(request.reason),  # the reason itself may quote the customer
            changes={"erased_at": [None, clock.iso(now)]},
        )
        try:
            ticket_store.save(after, entry, before=ticket)
        except ConcurrentUpdate:
            continue  # changed meanwhile (a reopen, a survey answer): look again
        # A reply's receipt may have been written while we worked (its delivery was in flight).
        items += _scrub_beside(ticket, scrubber)
        count("TicketsErased")
        logger.info("personal data erased", extra={"ticket_id": ticket.id, "by": actor.id, "items": items})
        return _view(ticket_id)
    raise ConcurrentUpdate(f"ticket {ticket_ref} is changing too fast to erase; try again")
