"""Order status snapshots for the built-in order-status provider (``knowledge.TableOrderStatusProvider``).

| item | pk | sk | notes |
| --- | --- | --- | --- |
| order status | ``ORDER#<order number, upper case>`` | ``STATUS`` | the latest snapshot an order feed wrote |

Read with one GetItem per lookup. Whatever feeds order updates (an ERP export, the admin
API, the demo data of ``ticketflow dev``) writes them with ``put_order_status``; a snapshot
older than the stored one is ignored, so feeds may deliver out of order or twice.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ticketflow.knowledge.orders import OrderStatus
from ticketflow.storage import dynamo


def _key(order_number: str) -> dict[str, Any]:
    return {"pk": f"ORDER#{order_number.strip().upper()}", "sk": "STATUS"}


def put_order_status(status: OrderStatus) -> bool:
    """Store the snapshot unless a newer one is there; False when it was stale."""
    item = {**_key(status.order_number), "type": "order_status", **status.model_dump(mode="json")}
    condition: dict[str, Any] = {}
    if status.updated_at:
        condition = {
            "ConditionExpression": "attribute_not_exists(pk) OR attribute_not_exists(updated_at) OR updated_at < :at",
            "ExpressionAttributeValues": {":at": dynamo.value(item["updated_at"])},
        }
    try:
        dynamo.client().put_item(TableName=dynamo.table_name(), Item=dynamo.to_item(item), **condition)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get_order_status(order_number: str) -> OrderStatus | None:
    response = dynamo.client().get_item(TableName=dynamo.table_name(), Key=dynamo.to_item(_key(order_number)))
    if "Item" not in response:
        return None
    data = dynamo.from_item(response["Item"])
    return OrderStatus.model_validate({k: v for k, v in data.items() if k not in ("pk", "sk", "type")})
