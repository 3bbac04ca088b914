"""Pre-aggregated counters for the reports, per dimension value and day.

    pk = STATS#ALL | STATS#<DIMENSION>#<value>    (STATS#TEAM#presales, STATS#AGENT#agent-1, ...)
    sk = DAY#<yyyy-mm-dd>#<shard>                 what happened that business day
    sk = OPEN#<yyyy-mm-dd>#<shard>                the backlog now, by the day its tickets were created

Counters move with atomic ``ADD`` inside the same transaction as the ticket change they count,
so a retried event never counts twice. Each ticket writes to one of ``SHARDS`` items per day
(by its id), so that busy days do not make one item every transaction conflicts on; a report
sums the shards. A report over N days of one dimension value is one Query (a page per MB),
whatever the number of tickets.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any

from ticketflow.config import settings
from ticketflow.storage import dynamo

SHARDS = 4
DAY, OPEN = "DAY", "OPEN"


def business_day(moment: datetime) -> date:
    return moment.astimezone(settings().zone).date()


def shard_of(ticket_id: str) -> int:
    return zlib.crc32(ticket_id.encode()) % SHARDS


def pk(dimension: str, value: str) -> str:
    return "STATS#ALL" if dimension == "ALL" else f"STATS#{dimension}#{value}"


class Tally:
    """Counts to add, gathered from everything one change means, one entry per item (a
    transaction may not touch an item twice)."""

    def __init__(self, shard: int) -> None:
        self.shard = shard
        self._items: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)

    def add(self, kind: str, day: date, dimensions: list[tuple[str, str]], counts: dict[str, int]) -> None:
        for dimension, value in dimensions:
            self._items[(pk(dimension, value), f"{kind}#{day.isoformat()}#{self.shard}")].update(counts)

    def counts(self) -> dict[tuple[str, str], dict[str, int]]:
        """(pk, sk) -> counter -> delta, without zeros (for tests and logs)."""
        found = {key: {k: n for k, n in c.items() if n} for key, c in self._items.items()}
        return {key: c for key, c in found.items() if c}

    def updates(self) -> list[dict[str, Any]]:
        """Transaction items that ADD the counts."""
        items = []
        for (item_pk, item_sk), counts in sorted(self.counts().items()):
            names = {f"#c{i}": name for i, name in enumerate(counts)}
            values = {f":c{i}": {"N": str(n)} for i, n in enumerate(counts.values())}
            items.append(
                {
                    "Update": {
                        "TableName": dynamo.table_name(),
                        "Key": {"pk": {"S": item_pk}, "sk": {"S": item_sk}},
                        "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(counts))),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        return items


def _query(dimension: str, value: str, first: str, last: str) -> list[dict[str, Any]]:
    items = dynamo.query_all(
        TableName=dynamo.table_name(),
        KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
        ExpressionAttributeValues={":pk": {"S": pk(dimension, value)}, ":first": {"S": first}, ":last": {"S": last}},
    )
    return [dynamo.from_item(item) for item in items]


def _by_day(items: list[dict[str, Any]]) -> dict[date, dict[str, int]]:
    days: dict[date, Counter[str]] = defaultdict(Counter)
    for data in items:
        day = date.fromisoformat(data["sk"].split("#")[1])
        days[day].update({k: v for k, v in data.items() if k not in ("pk", "sk")})
    return {day: dict(counts) for day, counts in sorted(days.items())}


def read(dimension: str, value: str, first: date, last: date) -> dict[date, dict[str, int]]:
    """Counters per day of one dimension value, ``first`` to ``last`` inclusive, shards summed
    (days with nothing counted are absent)."""
    return _by_day(_query(dimension, value, f"{DAY}#{first.isoformat()}", f"{DAY}#{last.isoformat()}#~"))


def read_open(dimension: str, value: str) -> dict[date, int]:
    """The dimension value's backlog now: open tickets per creation day (zeros left out)."""
    days = _by_day(_query(dimension, value, f"{OPEN}#", f"{OPEN}#~"))
    return {day: counts.get("open", 0) for day, counts in days.items() if counts.get("open", 0)}
