"""The emulator's cheaper transaction backup keeps moto's all-or-nothing behaviour; its cheaper
Query keeps moto's answers."""

from __future__ import annotations

from typing import Any

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


def _put(client, table: str, items: list[dict]) -> None:
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        client.batch_write_item(RequestItems={table: batch})


def test_a_query_offers_moto_only_its_partition_and_keeps_its_answer(stack, monkeypatch):
    """moto sorted the whole table for every Query (~140 ms per ticket read at 300 tickets)."""
    from moto.dynamodb.models.table import Table

    table = stack["TICKETFLOW_TABLE_NAME"]
    client = boto3.client("dynamodb")
    others = [{"pk": {"S": f"OTHER#{i}"}, "sk": {"S": "1"}} for i in range(60)]
    mine = [{"pk": {"S": "MINE"}, "sk": {"S": s}, "n": {"N": s}} for s in ("3", "1", "2")]
    _put(client, table, others[:30] + mine + others[30:])
    offered: list[int] = []
    scoped = Table.all_items

    def counted(self):
        items = scoped(self)
        offered.append(len(items))
        return items

    monkeypatch.setattr(Table, "all_items", counted)

    def query(**extra):
        return client.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "MINE"}},
            ConsistentRead=True,
            **extra,
        )

    first = query(Limit=2)
    assert [i["sk"]["S"] for i in first["Items"]] == ["1", "2"]
    rest = query(ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [i["sk"]["S"] for i in rest["Items"]] == ["3"]
    assert [i["sk"]["S"] for i in query(ScanIndexForward=False)["Items"]] == ["3", "2", "1"]
    assert offered and max(offered) == 3


def test_an_index_query_still_reads_in_index_order(stack):
    """Index queries get the table's items unsorted: moto's own sort by the index keys decides."""
    table = stack["TICKETFLOW_TABLE_NAME"]
    client = boto3.client("dynamodb")
    keys = ["2026-01-03#c", "2026-01-01#a", "2026-01-02#b", "2026-01-01#b"]
    _put(
        client,
        table,
        [{"pk": {"S": f"T#{k}"}, "sk": {"S": "META"}, "gsi4pk": {"S": "STATUS#zz"}, "gsi4sk": {"S": k}} for k in keys]
        + [{"pk": {"S": "T#x"}, "sk": {"S": "META"}, "gsi4pk": {"S": "STATUS#yy"}, "gsi4sk": {"S": "0"}}],
    )

    def page(**extra):
        return client.query(
            TableName=table,
            IndexName="by_status",
            KeyConditionExpression="gsi4pk = :p",
            ExpressionAttributeValues={":p": {"S": "STATUS#zz"}},
            **extra,
        )

    first = page(Limit=3)
    rest = page(ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [i["gsi4sk"]["S"] for i in first["Items"] + rest["Items"]] == sorted(keys)
    assert [i["gsi4sk"]["S"] for i in page(ScanIndexForward=False)["Items"]] == sorted(keys, reverse=True)


def test_receiving_does_not_count_the_whole_queue_for_each_message(stack, monkeypatch):
    """moto built every attribute of the queue (a pass over all its messages) three times for each
    message it handed out: seconds per receive on a queue a few thousand deep."""
    import uuid

    from moto.sqs.models import Queue

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"deep-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for start in range(0, 30, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)]
        )
    built: list[str] = []
    attributes: Any = Queue.__dict__["attributes"]  # the property object itself

    def counted(self):
        built.append(self.name)
        return attributes.fget(self)

    monkeypatch.setattr(Queue, "attributes", property(counted))
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(received) == 10
    assert built == []


@pytest.fixture(autouse=True)
def _only_on_moto(request: pytest.FixtureRequest) -> None:
    # These tests are about moto's own behaviour: meaningless with the table in DynamoDB Local.
    if request.config.getoption("dynamodb") == "local":
        pytest.skip("checks moto itself; --dynamodb=local puts the table elsewhere")
