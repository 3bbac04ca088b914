"""Time in one place: every timestamp is UTC with millisecond precision.

``now`` is looked up through this module (``clock.now()``), so tests can substitute a
controllable clock with monkeypatch, and the local stack's demo replay can move it
(``travel``, behind ``POST /dev/clock``; nothing on AWS calls it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


def travel(to: datetime | None) -> datetime:
    """Make ``now()`` read ``to`` from here on (and run on from it); None: back to real time.
    For ``ticketflow dev`` only: the demo replays a past day through the stack."""
    global _offset
    _offset = timedelta(0) if to is None else _aware(to) - datetime.now(UTC)
    return now()


def iso(moment: datetime) -> str:
    """Fixed-width ISO 8601 (2026-11-23T08:05:09.120Z): sorts as text, so it can be a sort key."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("must include a time zone, e.g. 2026-11-23T08:05:09Z or +08:00")
    return moment.astimezone(UTC)


Timestamp = Annotated[datetime, AfterValidator(_aware), PlainSerializer(iso, return_type=str)]
