"""Counters that hand out blocks of numbers (ticket numbers are allocated per business day)."""

from __future__ import annotations

from ticketflow.storage import dynamo


def reserve_block(series: str, size: int) -> int:
    """Atomically reserve ``size`` numbers of ``series``; returns the last number of the block.

    One write per block, not per number: the counter item stays cool however busy intake is.
    ADD is atomic, so two containers never get overlapping blocks. No TTL: a counter that
    vanished would hand out its numbers again.
    """
    response = dynamo.client().update_item(
        TableName=dynamo.table_name(),
        Key={"pk": {"S": f"SEQ#{series}"}, "sk": {"S": "SEQ"}},
        UpdateExpression="ADD #last :size SET #type = :type",
        ExpressionAttributeNames={"#last": "last", "#type": "type"},
        ExpressionAttributeValues={":size": {"N": str(size)}, ":type": {"S": "sequence"}},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["last"]["N"])
