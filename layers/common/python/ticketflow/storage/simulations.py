"""What-if replays ("simulations") in the table, and the read of stored tickets they replay.

    SIM#<id> / RUN                   the run: status, who, range, progress, ``slices`` merged,
                                     the next ``cursor``, ``result`` (zlib JSON)
    SIM#<id> / PROPOSAL              the proposed documents (zlib JSON), written once
    SIMS     / RUN#<created_at>#<id> the listing, newest first (ids only: the run item is the truth)

The proposal has an item of its own because it can be large (the classification rules alone
are 63 KB of JSON, 19 KB compressed): the run item, rewritten on every slice, stays small,
and a slice reads both with one Query. A proposal is refused above ``MAX_PROPOSAL_BYTES``
compressed, well under DynamoDB's 400 KB item limit.

A slice's findings are merged with a write conditional on ``slices`` (the number of slices
merged so far): a redelivered or duplicated slice message can never count twice.

Tickets are read without Scan: a Query of ``by_status`` per status, ``gsi4sk`` (``<created_at>#<id>``)
between the range's bounds, continued from a cursor (the status and the last key read).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from botocore.exceptions import ClientError

from ticketflow.models import Ticket
from ticketflow.storage import dynamo

MAX_PROPOSAL_BYTES = 300 * 1024
LIST_PK = "SIMS"
ACTIVE = ("queued", "running")


def pack(data: Any) -> bytes:
    return zlib.compress(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), 6)


def unpack(blob: Any) -> Any:
    return json.loads(zlib.decompress(bytes(blob)))


def _key(run_id: str, sk: str = "RUN") -> dict[str, Any]:
    return {"pk": {"S": f"SIM#{run_id}"}, "sk": {"S": sk}}


def _run(item: dict[str, Any]) -> dict[str, Any]:
    data = dynamo.from_item(item)
    if "result" in data:
        data["result"] = unpack(data["result"])
    if "cursor" in data:
        data["cursor"] = json.loads(data["cursor"])
    return data


def create(run: dict[str, Any], proposal: bytes) -> None:
    """The run (``run["id"]``, ``run["created_at"]``, ``result`` as a dict), its proposal and its
    listing entry, all or nothing."""
    table = dynamo.table_name()
    run_id = run["id"]
    item = {**run, "pk": f"SIM#{run_id}", "sk": "RUN", "type": "simulation", "slices": 0, "enqueued": -1}
    item["result"] = pack(run["result"])
    puts = [
        item,
        {"pk": f"SIM#{run_id}", "sk": "PROPOSAL", "type": "simulation_proposal", "proposal": proposal},
        {"pk": LIST_PK, "sk": f"RUN#{run['created_at']}#{run_id}", "type": "simulation_entry", "id": run_id},
    ]
    dynamo.transact(
        [
            {"Put": {"TableName": table, "Item": dynamo.to_item(p), "ConditionExpression": "attribute_not_exists(pk)"}}
            for p in puts
        ]
    )


def get(run_id: str) -> dict[str, Any] | None:
    response = dynamo.client().get_item(TableName=dynamo.table_name(), Key=_key(run_id), ConsistentRead=True)
    return _run(response["Item"]) if "Item" in response else None


def get_with_proposal(run_id: str) -> tuple[dict[str, Any] | None, Any]:
    """The run and its proposed documents, in one Query of the run's partition."""
    response = dynamo.client().query(
        TableName=dynamo.table_name(),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"SIM#{run_id}"}},
        ConsistentRead=True,
    )
    run, proposal = None, None
    for item in response["Items"]:
        if item["sk"]["S"] == "RUN":
            run = _run(item)
        elif item["sk"]["S"] == "PROPOSAL":
            proposal = unpack(item["proposal"]["B"])
    return run, proposal


def list_runs(limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` runs, without their results: one Query of the listing, one BatchGetItem."""
    response = dynamo.client().query(
        TableName=dynamo.table_name(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": LIST_PK}, ":prefix": {"S": "RUN#"}},
        ScanIndexForward=False,
        Limit=limit,
    )
    ids = [item["id"]["S"] for item in response["Items"]]
    if not ids:
        return []
    request: dict[str, Any] = {
        dynamo.table_name(): {
            "Keys": [_key(run_id) for run_id in ids],
            "ProjectionExpression": "#id, #status, kinds, #first, #to, time_zone, max_tickets, sample_size, reason, "
            "started_by, created_at, started_at, updated_at, finished_at, as_of, live_versions, #progress, "
            "slices, truncated, #error",
            "ExpressionAttributeNames": {
                "#id": "id",
                "#status": "status",
                "#first": "from",
                "#to": "to",
                "#progress": "progress",
                "#error": "error",
            },
        }
    }
    found: dict[str, dict[str, Any]] = {}
    while request:
        answer = dynamo.client().batch_get_item(RequestItems=request)
        for item in answer["Responses"].get(dynamo.table_name(), []):
            run = _run(item)
            found[run["id"]] = run
        request = answer.get("UnprocessedKeys") or {}
    return [found[run_id] for run_id in ids if run_id in found]


def _update(run_id: str, sets: dict[str, Any], condition: str, values: dict[str, Any]) -> bool:
    """SET ``sets`` if ``condition`` holds; False if it did not."""
    names = {f"#s{i}": name for i, name in enumerate(sets)} | ({"#status": "status"} if "#status" in condition else {})
    all_values = {f":s{i}": dynamo.value(v) for i, v in enumerate(sets.values())}
    all_values |= {name: dynamo.value(v) for name, v in values.items()}
    try:
        dynamo.client().update_item(
            TableName=dynamo.table_name(),
            Key=_key(run_id),
            UpdateExpression="SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(sets))),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=all_values,
        )
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False


def mark_running(run_id: str, at: str) -> bool:
    return _update(
        run_id,
        {"status": "running", "started_at": at, "updated_at": at},
        "#status = :queued",
        {":queued": "queued"},
    )


def merge_slice(run_id: str, *, slice_number: int, result: dict[str, Any], cursor: Any, **fields: Any) -> bool:
    """Record slice ``slice_number``: the merged ``result``, the next ``cursor`` and ``fields``,
    only if it is the next slice of an active run (False: merged already, or the run ended)."""
    sets = {**fields, "slices": slice_number + 1, "result": pack(result), "cursor": json.dumps(cursor)}
    return _update(
        run_id,
        sets,
        "slices = :expected AND #status IN (:queued, :running)",
        {":expected": slice_number, ":queued": "queued", ":running": "running"},
    )


def mark_enqueued(run_id: str, slice_number: int) -> bool:
    """Remember that slice ``slice_number``'s message was sent (once it is, a redelivered
    earlier slice sends nothing more)."""
    return _update(run_id, {"enqueued": slice_number}, "enqueued < :n", {":n": slice_number})


def fail(run_id: str, *, error: str, at: str) -> bool:
    return _update(
        run_id,
        {"status": "failed", "error": error, "finished_at": at, "updated_at": at},
        "#status IN (:queued, :running)",
        {":queued": "queued", ":running": "running"},
    )


# ---------------------------------------------------------------- the tickets of a range


def read_tickets(
    statuses: list[str], low: str, high: str, cursor: dict[str, Any] | None, limit: int
) -> tuple[list[Ticket], dict[str, Any] | None]:
    """Up to ``limit`` tickets created in [``low``, ``high``] (``gsi4sk`` bounds), status by status
    in the order of ``statuses``, from ``cursor`` (None: the start); and the cursor to go on
    from (None: nothing left)."""
    position = cursor or {"status": statuses[0] if statuses else None, "key": None}
    index = statuses.index(position["status"]) if position["status"] in statuses else len(statuses)
    key = position.get("key")
    found: list[Ticket] = []
    while index < len(statuses) and len(found) < limit and low <= high:
        kwargs: dict[str, Any] = {
            "TableName": dynamo.table_name(),
            "IndexName": "by_status",
            "KeyConditionExpression": "gsi4pk = :pk AND gsi4sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"STATUS#{statuses[index]}"},
                ":low": {"S": low},
                ":high": {"S": high},
            },
            "Limit": limit - len(found),
        }
        if key:
            kwargs["ExclusiveStartKey"] = {name: {"S": value} for name, value in key.items()}
        response = dynamo.client().query(**kwargs)
        found += [Ticket.model_validate(dynamo.from_item(item)) for item in response["Items"]]
        last = response.get("LastEvaluatedKey")
        if last:
            key = {name: value["S"] for name, value in last.items()}
        else:
            index, key = index + 1, None
    if index >= len(statuses) or low > high:
        return found, None
    return found, {"status": statuses[index], "key": key}
