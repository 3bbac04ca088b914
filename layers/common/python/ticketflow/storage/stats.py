"""Pre-aggregated counters for the reports: one item per dimension value and day.

    pk = STATS#<dimension>#<value>   (STATS#ALL, STATS#TEAM#presales, STATS#AGENT#agent-1, ...)
    sk = DAY#<yyyy-mm-dd>            (the business day, in the configured time zone)

Counters move with atomic ``ADD`` inside the same transaction as the change they count, so a
retried event never counts twice, and a report over N days of one dimension value is one
Query, whatever the number of tickets.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ticketflow.config import settings
from ticketflow.storage import dynamo


def business_day(moment: datetime) -> date:
    return moment.astimezone(settings().zone).date()


def dimensions_of(**values: str | None) -> list[tuple[str, str]]:
    """("ALL", "") plus each named dimension that has a value, e.g. team="presales"."""
    return [("ALL", "")] + [(name.upper(), value) for name, value in values.items() if value]


def _pk(dimension: str, value: str) -> str:
    return "STATS#ALL" if dimension == "ALL" else f"STATS#{dimension}#{value}"


def increments(day: date, dimensions: list[tuple[str, str]], counts: dict[str, int]) -> list[dict[str, Any]]:
    """Transaction items that ADD ``counts`` to the day's item of every dimension value."""
    names = {f"#c{i}": name for i, name in enumerate(counts)}
    values = {f":c{i}": {"N": str(n)} for i, n in enumerate(counts.values())}
    adds = ", ".join(f"#c{i} :c{i}" for i in range(len(counts)))
    return [
        {
            "Update": {
                "TableName": dynamo.table_name(),
                "Key": {"pk": {"S": _pk(dimension, value)}, "sk": {"S": f"DAY#{day.isoformat()}"}},
                "UpdateExpression": f"ADD {adds}",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }
        for dimension, value in dimensions
    ]


def read(dimension: str, value: str, first: date, last: date) -> dict[date, dict[str, int]]:
    """Counters per day of one dimension value, ``first`` to ``last`` inclusive (days with
    nothing counted are absent)."""
    kwargs: dict[str, Any] = {
        "TableName": dynamo.table_name(),
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
        "ExpressionAttributeValues": {
            ":pk": {"S": _pk(dimension, value)},
            ":first": {"S": f"DAY#{first.isoformat()}"},
            ":last": {"S": f"DAY#{last.isoformat()}"},
        },
    }
    days: dict[date, dict[str, int]] = {}
    while True:
        response = dynamo.client().query(**kwargs)
        for item in response["Items"]:
            data = dynamo.from_item(item)
            days[date.fromisoformat(data.pop("sk")[4:])] = {k: v for k, v in data.items() if k != "pk"}
        if "LastEvaluatedKey" not in response:
            return days
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
