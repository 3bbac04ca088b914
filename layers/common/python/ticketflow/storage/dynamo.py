"""Low-level DynamoDB helpers: (de)serialisation and the client. Only ``storage`` imports this."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ticketflow import aws
from ticketflow.config import settings

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    """Drop Nones (DynamoDB has no use for them) and turn floats into Decimals."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def _python(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_python(v) for v in value]
    if isinstance(value, set):
        return sorted(_python(v) for v in value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in _plain(data).items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _python(_deserializer.deserialize(v)) for k, v in item.items()}


def value(v: Any) -> dict[str, Any]:
    return _serializer.serialize(_plain(v))


def client() -> Any:
    return aws.client("dynamodb")


def table_name() -> str:
    return settings().table_name


def query_all(**request: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query (or a Scan-free index query) returns, following LastEvaluatedKey."""
    while True:
        response = client().query(**request)
        yield from response["Items"]
        if "LastEvaluatedKey" not in response:
            return
        request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}


def condition_failed(error: ClientError) -> bool:
    """A conditional write refused because its condition did not hold (not a fault)."""
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def cancellation_reasons(error: ClientError) -> set[str]:
    """Why a transaction was cancelled, without the "None" of the items that were fine."""
    return {str(r.get("Code")) for r in error.response.get("CancellationReasons") or []} - {"None"}


_CONFLICT_ATTEMPTS = 5


def transact(items: list[dict[str, Any]]) -> None:
    """TransactWriteItems, tried again (with jittered back-off) while the only reason it was
    cancelled is another transaction touching one of its items at the same moment: shared
    items such as the day's report counters make that likely under load, and the write is
    still all-or-nothing. Any other cancellation (a failed condition) is the caller's."""
    for attempt in range(_CONFLICT_ATTEMPTS):
        try:
            client().transact_write_items(TransactItems=items)
            return
        except ClientError as error:
            if cancellation_reasons(error) != {"TransactionConflict"} or attempt == _CONFLICT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
