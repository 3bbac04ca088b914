"""Run-time configuration documents (rules, knowledge base, routing) in the table.

Item ``CONFIG#<kind>/CURRENT`` holds the live version: ``version`` and ``data`` (JSON text).
A kind with no item yet runs on the defaults shipped in the package (version 0). The admin
API that writes versions comes later; this module reads them.
"""

from __future__ import annotations

import json
from typing import Any

from ticketflow.storage import dynamo


def get_current(kind: str) -> tuple[int, Any] | None:
    response = dynamo.client().get_item(
        TableName=dynamo.table_name(), Key={"pk": {"S": f"CONFIG#{kind}"}, "sk": {"S": "CURRENT"}}
    )
    if "Item" not in response:
        return None
    item = dynamo.from_item(response["Item"])
    return int(item["version"]), json.loads(item["data"])


def put_current(kind: str, data: Any, *, version: int) -> None:
    """Store ``data`` as version ``version`` if the live one is older (never goes backwards)."""
    dynamo.client().put_item(
        TableName=dynamo.table_name(),
        Item=dynamo.to_item(
            {
                "pk": f"CONFIG#{kind}",
                "sk": "CURRENT",
                "type": "config",
                "version": version,
                "data": json.dumps(data, ensure_ascii=False),
            }
        ),
        ConditionExpression="attribute_not_exists(pk) OR version < :version",
        ExpressionAttributeValues={":version": {"N": str(version)}},
    )
