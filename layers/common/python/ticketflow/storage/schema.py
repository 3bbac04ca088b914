"""The one DynamoDB table: its keys and indexes, as data.

The CDK stack, the local runner and the tests all build the table from this module, so
they cannot disagree. Access patterns and the item layout are documented in
``ticketflow/storage/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str


# Every index is sparse: an item carries an index's key attributes only when it belongs in it.
INDEXES: tuple[Index, ...] = (
    Index("by_customer", "gsi1pk", "gsi1sk"),  # CUST#<customer id>  / <created_at>#<id>
    Index("by_team", "gsi2pk", "gsi2sk"),  # TEAM#<team>        / <status>#<created_at>#<id>
    Index("by_assignee", "gsi3pk", "gsi3sk"),  # AGENT#<agent id>    / <status>#<created_at>#<id>
    Index("by_status", "gsi4pk", "gsi4sk"),  # STATUS#<status>     / <created_at>#<id>
    Index("by_due", "gsi5pk", "gsi5sk"),  # DUE#<shard 0-7>     / <next check>#<id>  (the sweep's work)
)

# The sweep's index is spread over this many partitions so that no single one is hot.
DUE_SHARDS = 8

INDEX_BY_NAME = {index.name: index for index in INDEXES}


def create_table_kwargs(table_name: str) -> dict:
    """Arguments for ``dynamodb.create_table`` (the local runner and the tests)."""
    attributes = {PARTITION_KEY, SORT_KEY}
    for index in INDEXES:
        attributes |= {index.partition_key, index.sort_key}
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in sorted(attributes)],
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in INDEXES
        ],
    }
