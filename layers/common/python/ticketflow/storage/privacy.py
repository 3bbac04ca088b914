"""Where a ticket's personal data is stored besides the ticket item, for erasing it.

``ticketflow.privacy`` decides what to erase and keep; this module finds and rewrites the
items, each from the ticket's id or its customer's id, without a Scan:

    TICKET#<id> / HIST#…             the audit trail: rewritten in place with personal values
                                     replaced (the one exception to "history is append-only")
    TICKET#<id> / OUT#…              reply receipts: their masked recipient
                                     (both read with ``storage.tickets.partition``)
    IDEMPOTENCY#ticket#<id>          intake's stored first answer (the whole ticket as posted,
                                     customer included): deleted
    SIM#<run> / RUN                  what-if replays whose samples show this ticket's subject

(The survey cooldown ``CUST#<customer id> / SURVEY`` is given back by
``storage.surveys.release_customer``, as when a survey fails to go.)

Every rewrite is conditional on the item still being there (and a replay's result on not
having moved on since it was read), so erasing never creates an item or undoes a write made
meanwhile; each step is safe to repeat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ticketflow.storage import dynamo
from ticketflow.storage import simulations as simulation_store

_EXISTS = "attribute_exists(pk)"


def idempotency_key(ticket_id: str) -> str:
    """The key of intake's idempotency record for the ticket a request opens (``intake``
    derives the ticket id from the channel's Idempotency-Key, so one key still means one record),
    chosen so that erasure can find the record from the ticket alone."""
    return f"ticket#{ticket_id}"


def rewrite(items: list[dict[str, Any]]) -> int:
    """Put each item back as given, only where it still exists; how many were written."""
    written = 0
    for item in items:
        try:
            dynamo.client().put_item(
                TableName=dynamo.table_name(), Item=dynamo.to_item(item), ConditionExpression=_EXISTS
            )
            written += 1
        except ClientError as error:
            if not dynamo.condition_failed(error):
                raise
    return written


def delete_idempotency_record(ticket_id: str) -> bool:
    """Forget intake's stored answer for this ticket (False: there was none, or it expired).
    A channel replaying its key afterwards gets the stored, erased, ticket (``intake`` finds it
    by its derived id), never the customer's details again."""
    response = dynamo.client().delete_item(
        TableName=dynamo.table_name(),
        Key={"pk": {"S": f"IDEMPOTENCY#{idempotency_key(ticket_id)}"}, "sk": {"S": "IDEMPOTENCY"}},
        ReturnValues="ALL_OLD",
    )
    return "Attributes" in response


def _run_ids() -> list[str]:
    items = dynamo.query_all(
        TableName=dynamo.table_name(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": simulation_store.LIST_PK}, ":prefix": {"S": "RUN#"}},
        ProjectionExpression="id",
    )
    return [item["id"]["S"] for item in items]


def scrub_simulation_samples(ticket_id: str, scrub: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """Apply ``scrub`` to every sample of this ticket in the stored what-if replays; how many
    runs were rewritten. Erasure is rare and replays are few, so this reads every run: one
    Query of the listing, then a GetItem per run (the listing holds ids only)."""
    rewritten = 0
    for run_id in _run_ids():
        for _ in range(3):  # a running replay may merge a slice between our read and our write
            response = dynamo.client().get_item(
                TableName=dynamo.table_name(),
                Key={"pk": {"S": f"SIM#{run_id}"}, "sk": {"S": "RUN"}},
                ProjectionExpression="#result, slices",
                ExpressionAttributeNames={"#result": "result"},
                ConsistentRead=True,
            )
            item = response.get("Item")
            if not item or "result" not in item:
                break
            result = simulation_store.unpack(item["result"]["B"])
            samples = [s for kind in (result.get("samples") or {}).values() for s in kind if s.get("id") == ticket_id]
            if not samples:
                break
            for sample in samples:
                sample.update(scrub(sample))
            try:
                dynamo.client().update_item(
                    TableName=dynamo.table_name(),
                    Key={"pk": {"S": f"SIM#{run_id}"}, "sk": {"S": "RUN"}},
                    UpdateExpression="SET #result = :result",
                    ConditionExpression="slices = :slices",
                    ExpressionAttributeNames={"#result": "result"},
                    ExpressionAttributeValues={
                        ":result": {"B": simulation_store.pack(result)},
                        ":slices": item["slices"],
                    },
                )
                rewritten += 1
                break
            except ClientError as error:
                if not dynamo.condition_failed(error):
                    raise
    return rewritten
