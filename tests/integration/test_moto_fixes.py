"""The emulator's cheaper transaction backup keeps moto's all-or-nothing behaviour."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.local import moto_fixes


def test_a_cancelled_transaction_leaves_every_item_as_it_was(stack):
    assert moto_fixes._PATCHED
    table = stack["TICKETFLOW_TABLE_NAME"]
    client = boto3.client("dynamodb")
    client.put_item(TableName=table, Item={"pk": {"S": "A"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    client.put_item(TableName=table, Item={"pk": {"S": "B"}, "sk": {"S": "1"}, "v": {"S": "old"}})
    client.put_item(TableName=table, Item={"pk": {"S": "D"}, "sk": {"S": "1"}})
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "A"}, "sk": {"S": "1"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"pk": {"S": "C"}, "sk": {"S": "1"}}}},  # new
                {"Put": {"TableName": table, "Item": {"pk": {"S": "B"}, "sk": {"S": "1"}, "v": {"S": "new"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "D"}, "sk": {"S": "1"}},
                        "ConditionExpression": "attribute_not_exists(pk)",  # fails: D exists
                    }
                },
            ]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"

    def get(pk: str) -> dict | None:
        return client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "1"}}).get("Item")

    a, b = get("A"), get("B")
    assert a is not None and a["n"] == {"N": "1"}
    assert b is not None and b["v"] == {"S": "old"}
    assert get("C") is None


def test_a_committed_transaction_writes_every_item(stack):
    table = stack["TICKETFLOW_TABLE_NAME"]
    client = boto3.client("dynamodb")
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": f"K{i}"}, "sk": {"S": "1"}}}} for i in range(20)
        ]
    )
    found = [
        client.get_item(TableName=table, Key={"pk": {"S": f"K{i}"}, "sk": {"S": "1"}}).get("Item") for i in range(20)
    ]
    assert all(found)
