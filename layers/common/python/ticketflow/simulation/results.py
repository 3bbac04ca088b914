"""What a simulation found: counts of what would move, transition tables, and samples.

A run is processed in slices, and each slice's findings are merged into the run's result, so
the result is plain JSON whose parts add up: counts add, transition tables add key by key,
sample lists are concatenated up to ``sample_size`` (in replay order, so a run's samples do not
depend on how it was sliced). Sizes are bounded whatever the number of tickets: a table keeps
at most ``MAX_TRANSITIONS`` keys (the rest add up under ``(other)``), a sample list at most 50
entries, a subject 80 characters. Samples carry ids, numbers and a masked subject, never the
customer's contact details.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from ticketflow.models import Ticket
from ticketflow.simulation.replay import TARGETS, Outcome

CHANGES = ("category", "subcategory", "priority", "team", "auto_reply", "sla")
MAX_TRANSITIONS = 200
OTHER = "(other)"
SUBJECT_CHARS = 80
ARROW = " → "
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")
_DIGITS = re.compile(r"\+?\d[\d ()-]{5,}\d")  # phone numbers and other long numbers


# ---------------------------------------------------------------- the shape (documented in OpenAPI)


class PriorityMoves(BaseModel):
    up: int = Field(0, description="More urgent under the proposal (P3 → P2).")
    down: int = 0


class AutoReplyMoves(BaseModel):
    gained: int = Field(0, description="Would get an automatic answer that they did not get live.")
    lost: int = 0
    changed: int = Field(0, description="Would be answered with another article.")


class SlaMoves(BaseModel):
    met_to_breached: int = 0
    breached_to_met: int = 0
    due_earlier: int = 0
    due_later: int = 0


class Moved(BaseModel):
    category: int = 0
    subcategory: int = 0
    priority: PriorityMoves = Field(default_factory=PriorityMoves)
    team: int = 0
    auto_reply: AutoReplyMoves = Field(default_factory=AutoReplyMoves)
    sla: dict[str, SlaMoves] = Field(default_factory=lambda: {str(target): SlaMoves() for target in TARGETS})


class Sample(BaseModel):
    id: str
    number: str
    subject: str | None = Field(description="The subject (or the text), at most 80 characters, contacts masked.")
    live: dict[str, Any]
    proposed: dict[str, Any]


class SimulationResult(BaseModel):
    tickets: int = Field(0, description="Tickets replayed.")
    changed: int = Field(0, description="Tickets with at least one decision or SLA outcome changed.")
    moved: Moved = Field(default_factory=Moved)
    transitions: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description='Per decision, "live → proposed": tickets (category, subcategory, priority, team, '
        "auto_reply, sla.<target>).",
    )
    samples: dict[str, list[Sample]] = Field(
        default_factory=dict, description="Per kind of change, the first tickets that showed it."
    )


def empty() -> dict[str, Any]:
    return {
        **SimulationResult().model_dump(mode="json"),
        "transitions": {name: {} for name in _tables()},
        "samples": {name: [] for name in CHANGES},
    }


def _tables() -> list[str]:
    return ["category", "subcategory", "priority", "team", "auto_reply", *(f"sla.{t}" for t in TARGETS)]


# ---------------------------------------------------------------- adding one ticket


def subject_of(ticket: Ticket) -> str:
    text = " ".join((ticket.subject or ticket.description or "").split())
    text = _DIGITS.sub("[number]", _EMAIL.sub("[email]", text))
    return text if len(text) <= SUBJECT_CHARS else text[: SUBJECT_CHARS - 1] + "…"


def _count(table: dict[str, int], key: str) -> None:
    if key not in table and len(table) >= MAX_TRANSITIONS:
        key = OTHER
    table[key] = table.get(key, 0) + 1


def add(result: dict[str, Any], ticket: Ticket, live: Outcome, proposed: Outcome, *, sample_size: int) -> None:
    """Count one replayed ticket into ``result`` (from ``empty()``)."""
    moved, tables = result["moved"], result["transitions"]
    changed: list[str] = []
    result["tickets"] += 1

    def move(name: str, before: str, after: str) -> None:
        changed.append(name)
        _count(tables[name], f"{before}{ARROW}{after}")

    if live.category != proposed.category:
        moved["category"] += 1
        move("category", live.category, proposed.category)
    if (live.category, live.subcategory) != (proposed.category, proposed.subcategory):
        moved["subcategory"] += 1
        move("subcategory", f"{live.category}/{live.subcategory}", f"{proposed.category}/{proposed.subcategory}")
    if live.priority != proposed.priority:
        moved["priority"]["up" if proposed.priority < live.priority else "down"] += 1
        move("priority", live.priority, proposed.priority)
    if live.team != proposed.team:
        moved["team"] += 1
        move("team", live.team, proposed.team)
    if live.auto_reply != proposed.auto_reply:
        how = "gained" if live.auto_reply is None else "lost" if proposed.auto_reply is None else "changed"
        moved["auto_reply"][how] += 1
        move("auto_reply", live.auto_reply or "none", proposed.auto_reply or "none")
    for target in TARGETS:
        before, after = live.sla.get(target), proposed.sla.get(target)
        was, becomes = before.outcome if before else "none", after.outcome if after else "none"
        counts = moved["sla"][target]
        if was != becomes:
            if (was, becomes) in (("met", "breached"), ("breached", "met")):
                counts[f"{was}_to_{becomes}"] += 1
            move(f"sla.{target}", was, becomes)
        if before and after and before.due_at and after.due_at and before.due_at != after.due_at:
            counts["due_earlier" if after.due_at < before.due_at else "due_later"] += 1

    kinds = list(dict.fromkeys(name.split(".")[0] for name in changed))
    if kinds:
        result["changed"] += 1
    for kind in kinds:
        if len(result["samples"][kind]) < sample_size:
            result["samples"][kind].append(
                {
                    "id": ticket.id,
                    "number": ticket.number,
                    "subject": subject_of(ticket),
                    "live": live.model_dump(mode="json"),
                    "proposed": proposed.model_dump(mode="json"),
                }
            )


# ---------------------------------------------------------------- merging slices


def _add_counts(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict):
            _add_counts(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value


def merge(into: dict[str, Any], other: dict[str, Any], *, sample_size: int) -> dict[str, Any]:
    """``into`` with ``other`` (a later slice) added; neither is changed."""
    merged = empty()
    for part in (into, other):
        merged["tickets"] += part["tickets"]
        merged["changed"] += part["changed"]
        _add_counts(merged["moved"], part["moved"])
        for name, table in part["transitions"].items():
            target = merged["transitions"].setdefault(name, {})
            for key, n in table.items():
                if key not in target and len(target) >= MAX_TRANSITIONS:
                    key = OTHER
                target[key] = target.get(key, 0) + n
        for kind, samples in part["samples"].items():
            kept = merged["samples"].setdefault(kind, [])
            kept.extend(samples[: max(0, sample_size - len(kept))])
    return merged
