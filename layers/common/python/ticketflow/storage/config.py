"""Run-time configuration documents in the table: the live version, every past one, proposals.

Items (``storage/README.md``):

- ``CONFIG#<kind>/CURRENT``: the live version: ``version``, ``blob`` (the document), who, when, why.
- ``CONFIG#<kind>/V#<version:08d>``: every version ever made, immutable (written once, with
  ``attribute_not_exists``), so history, diff and rollback need no other record.
- ``CONFIG#<kind>/PROPOSAL#<id>``: a change waiting for an admin (pending → approved | rejected).

A kind with no ``CURRENT`` runs on the defaults shipped in the package: version 0.

Documents are stored zlib-compressed (the classification rules are 55 KB of compact JSON, 18 KB
compressed) so that even a large knowledge base fits DynamoDB's 400 KB item limit twice over.
A new version is one transaction: ``CURRENT`` only if it still holds the version the writer
read (optimistic concurrency), and the version item only if that number is new.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ticketflow.errors import PayloadTooLarge
from ticketflow.storage import dynamo

# The document and its metadata must fit one item (400 KB) with room to spare.
MAX_STORED_BYTES = 300 * 1024


class StaleVersion(Exception):
    """``CURRENT`` moved on (or appeared) since the writer read it."""


@dataclass
class Version:
    kind: str
    version: int
    data: Any
    at: str | None = None
    by: str | None = None
    reason: str | None = None
    action: str | None = None
    based_on: int | None = None
    summary: list[str] = field(default_factory=list)
    proposal: str | None = None

    def meta(self) -> dict[str, Any]:
        """Everything but the document."""
        keys = ("kind", "version", "at", "by", "reason", "action", "based_on", "summary", "proposal")
        return {k: getattr(self, k) for k in keys}


def pack(data: Any) -> bytes:
    return zlib.compress(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), 6)


def unpack(item: dict[str, Any]) -> Any:
    if "blob" in item:
        return json.loads(zlib.decompress(bytes(item["blob"])))
    return json.loads(item["data"])  # written before documents were compressed


def _pk(kind: str) -> dict[str, str]:
    return {"S": f"CONFIG#{kind}"}


def _version_sk(version: int) -> str:
    return f"V#{version:08d}"


def _version(kind: str, item: dict[str, Any], *, with_data: bool = True) -> Version:
    return Version(
        kind=kind,
        version=int(item["version"]),
        data=unpack(item) if with_data else None,
        at=item.get("at"),
        by=item.get("by"),
        reason=item.get("reason"),
        action=item.get("action"),
        based_on=item.get("based_on"),
        summary=list(item.get("summary") or []),
        proposal=item.get("proposal"),
    )


def get_current(kind: str) -> tuple[int, Any] | None:
    """The live version's number and document (None: the kind runs on its defaults)."""
    found = current(kind)
    return (found.version, found.data) if found else None


def current(kind: str) -> Version | None:
    response = dynamo.client().get_item(
        TableName=dynamo.table_name(), Key={"pk": _pk(kind), "sk": {"S": "CURRENT"}}, ConsistentRead=True
    )
    return _version(kind, dynamo.from_item(response["Item"])) if "Item" in response else None


def get_version(kind: str, version: int) -> Version | None:
    response = dynamo.client().get_item(
        TableName=dynamo.table_name(), Key={"pk": _pk(kind), "sk": {"S": _version_sk(version)}}
    )
    return _version(kind, dynamo.from_item(response["Item"])) if "Item" in response else None


def list_versions(kind: str, *, limit: int, before: int | None = None) -> list[Version]:
    """Newest first, without their documents (a projection keeps the reads small)."""
    upper = _version_sk(before) if before is not None else "V#~"
    response = dynamo.client().query(
        TableName=dynamo.table_name(),
        KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
        ExpressionAttributeValues={":pk": _pk(kind), ":low": {"S": "V#"}, ":high": {"S": upper}},
        ProjectionExpression="version, #at, #by, reason, #action, based_on, summary, proposal, sk",
        ExpressionAttributeNames={"#at": "at", "#by": "by", "#action": "action"},
        ScanIndexForward=False,
        Limit=limit + 1,
    )
    items = [dynamo.from_item(i) for i in response["Items"]]
    items = [i for i in items if i["sk"] != upper][:limit]  # BETWEEN is inclusive
    return [_version(kind, i, with_data=False) for i in items]


def _version_items(new: Version, *, expected: int) -> list[dict[str, Any]]:
    """The two writes of a new version: ``CURRENT`` iff still at ``expected``, and ``V#<new>``."""
    blob = pack(new.data)
    if len(blob) > MAX_STORED_BYTES:
        raise PayloadTooLarge(
            f"data: the {new.kind} document is {len(blob) // 1024} KB compressed; at most "
            f"{MAX_STORED_BYTES // 1024} KB can be stored",
            details=[{"field": "data", "message": "too large"}],
        )
    meta = {k: v for k, v in new.meta().items() if k != "kind" and v not in (None, [])}
    table = dynamo.table_name()
    current_item = {"pk": f"CONFIG#{new.kind}", "sk": "CURRENT", "type": "config", **meta}
    version_item = {"pk": f"CONFIG#{new.kind}", "sk": _version_sk(new.version), "type": "config_version", **meta}
    condition = "attribute_not_exists(pk)" if expected == 0 else "version = :expected"
    put_current = {
        "TableName": table,
        "Item": {**dynamo.to_item(current_item), "blob": {"B": blob}},
        "ConditionExpression": condition,
    }
    if expected:
        put_current["ExpressionAttributeValues"] = {":expected": {"N": str(expected)}}
    return [
        {"Put": put_current},
        {
            "Put": {
                "TableName": table,
                "Item": {**dynamo.to_item(version_item), "blob": {"B": blob}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ]


def _cancelled_at(error: ClientError) -> list[int]:
    """Which transaction items' conditions failed."""
    reasons = error.response.get("CancellationReasons") or []
    return [i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]


class ConditionFailed(Exception):
    """One of the ``also`` items' conditions failed (e.g. a proposal no longer pending)."""


def write(new: Version, *, expected: int, also: Sequence[dict[str, Any]] = ()) -> None:
    """Make ``new`` the live version if the live one is still ``expected``; StaleVersion if not.

    ``also``: more transaction items that must commit with it (a proposal's decision); their
    failed condition raises ConditionFailed."""
    items = _version_items(new, expected=expected) + list(also)
    try:
        dynamo.transact(items)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        failed = _cancelled_at(error)
        if failed and min(failed) >= 2:
            raise ConditionFailed(new.kind) from error
        raise StaleVersion(new.kind) from error


def write_many(changes: list[tuple[Version, int]]) -> None:
    """Several kinds at once, all or nothing (an import). StaleVersion if any moved on."""
    items = [item for new, expected in changes for item in _version_items(new, expected=expected)]
    try:
        dynamo.transact(items)
    except ClientError as error:
        if error.response["Error"]["Code"] == "TransactionCanceledException":
            raise StaleVersion(",".join(new.kind for new, _ in changes)) from error
        raise


def put_current(kind: str, data: Any, *, version: int) -> None:
    """Store ``data`` as version ``version`` if the live one is older (tests and seeding;
    people go through ``write``, which keeps the history)."""
    dynamo.client().put_item(
        TableName=dynamo.table_name(),
        Item={
            **dynamo.to_item({"pk": f"CONFIG#{kind}", "sk": "CURRENT", "type": "config", "version": version}),
            "blob": {"B": pack(data)},
        },
        ConditionExpression="attribute_not_exists(pk) OR version < :version",
        ExpressionAttributeValues={":version": {"N": str(version)}},
    )


# ---------------------------------------------------------------- proposals


def _proposal_key(kind: str, proposal_id: str) -> dict[str, Any]:
    return {"pk": _pk(kind), "sk": {"S": f"PROPOSAL#{proposal_id}"}}


def put_proposal(kind: str, proposal: dict[str, Any]) -> None:
    item = {"pk": f"CONFIG#{kind}", "sk": f"PROPOSAL#{proposal['id']}", "type": "config_proposal", **proposal}
    dynamo.client().put_item(
        TableName=dynamo.table_name(), Item=dynamo.to_item(item), ConditionExpression="attribute_not_exists(pk)"
    )


def get_proposal(kind: str, proposal_id: str) -> dict[str, Any] | None:
    response = dynamo.client().get_item(
        TableName=dynamo.table_name(), Key=_proposal_key(kind, proposal_id), ConsistentRead=True
    )
    if "Item" not in response:
        return None
    item = dynamo.from_item(response["Item"])
    return {k: v for k, v in item.items() if k not in ("pk", "sk", "type")}


def list_proposals(kind: str) -> list[dict[str, Any]]:
    """Newest first (ids sort by time)."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": dynamo.table_name(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
        "ExpressionAttributeValues": {":pk": _pk(kind), ":p": {"S": "PROPOSAL#"}},
        "ScanIndexForward": False,
    }
    while True:
        response = dynamo.client().query(**request)
        items += [dynamo.from_item(i) for i in response["Items"]]
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return [{k: v for k, v in i.items() if k not in ("pk", "sk", "type")} for i in items]


def decide_item(kind: str, proposal_id: str, decision: dict[str, Any]) -> dict[str, Any]:
    """The transaction item that moves a pending proposal to its decision (only if still pending)."""
    names = {f"#{k}": k for k in decision} | {"#status": "status"}
    values = {f":{k}": dynamo.value(v) for k, v in decision.items()} | {":pending": {"S": "pending"}}
    return {
        "Update": {
            "TableName": dynamo.table_name(),
            "Key": _proposal_key(kind, proposal_id),
            "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in decision),
            "ConditionExpression": "#status = :pending",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def decide(kind: str, proposal_id: str, decision: dict[str, Any]) -> bool:
    """Record a decision that makes no version (a rejection); False if no longer pending."""
    update = decide_item(kind, proposal_id, decision)["Update"]
    try:
        dynamo.client().update_item(**update)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True
