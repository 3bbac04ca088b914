"""Tickets, their history and their numbers in the one table.

Every write is conditional: creating checks that neither the ticket nor its number exists;
changing checks the version the caller read (optimistic concurrency), and appends the
history entry in the same transaction, so a ticket and its audit trail never disagree.
See ``storage/README.md`` for the key design and access patterns.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from ticketflow import clock
from ticketflow.errors import BadRequest, ConcurrentUpdate, Conflict, NotFound
from ticketflow.models import HistoryEntry, Status, Ticket
from ticketflow.numbering import PREFIX
from ticketflow.storage import directory as directory_store
from ticketflow.storage import dynamo
from ticketflow.storage.schema import INDEX_BY_NAME


class TicketExists(Conflict):
    code = "ticket_exists"


class AgentFull(Conflict):
    """The agent went offline or reached capacity between our read and our write."""

    code = "agent_full"


def _ticket_key(ticket_id: str) -> dict[str, Any]:
    return {"pk": f"TICKET#{ticket_id}", "sk": "META"}


def _receipt_key(ticket_id: str, version: int) -> dict[str, Any]:
    """A reply's receipt, beside the history entry of the same version."""
    return {"pk": f"TICKET#{ticket_id}", "sk": f"OUT#{version:08d}"}


def _index_keys(ticket: Ticket) -> dict[str, str]:
    created = f"{ticket.model_dump(mode='json')['created_at']}#{ticket.id}"
    keys = {"gsi4pk": f"STATUS#{ticket.status.value}", "gsi4sk": created}
    if ticket.erased_at is None:  # an erased ticket no longer belongs to anyone: out of by_customer
        keys |= {"gsi1pk": f"CUST#{ticket.customer.id}", "gsi1sk": created}
    if ticket.team:
        # A team's queue sorts by status, then urgency (P1 first; unclassified last), then age.
        urgency = ticket.priority or "P9"
        keys |= {"gsi2pk": f"TEAM#{ticket.team}", "gsi2sk": f"{ticket.status.value}#{urgency}#{created}"}
    if ticket.assignee:
        keys |= {"gsi3pk": f"AGENT#{ticket.assignee}", "gsi3sk": f"{ticket.status.value}#{created}"}
    from ticketflow import watch  # the rule lives in the domain; every write applies it

    due = watch.next_check(ticket)
    if due is not None:
        keys |= _due_keys(ticket.id, due)
    return keys


def _due_keys(ticket_id: str, at: datetime) -> dict[str, str]:
    """The sweep index's keys of an item of this ticket to look at ``at`` (see ``due``)."""
    from ticketflow import watch

    return {"gsi5pk": f"DUE#{watch.shard(ticket_id)}", "gsi5sk": f"{clock.iso(at)}#{ticket_id}"}


def _ticket_item(ticket: Ticket) -> dict[str, Any]:
    return {**_ticket_key(ticket.id), "type": "ticket", **_index_keys(ticket), **ticket.model_dump(mode="json")}


def _history_item(ticket_id: str, entry: HistoryEntry) -> dict[str, Any]:
    return {
        "pk": f"TICKET#{ticket_id}",
        "sk": f"HIST#{entry.version:08d}",
        "type": "history",
        **entry.model_dump(mode="json"),
    }


def _to_ticket(item: dict[str, Any]) -> Ticket:
    return Ticket.model_validate(dynamo.from_item(item))


_NEW_ITEM = "attribute_not_exists(pk)"


def _counters(before: Ticket | None, after: Ticket, entry: HistoryEntry) -> list[dict[str, Any]]:
    from ticketflow.reports import counting  # the rule lives in the domain; every write applies it

    return counting.tally(before, after, entry).updates()


def create(ticket: Ticket, entry: HistoryEntry, *, load_deltas: dict[str, int] | None = None) -> None:
    """Store a new ticket, its number and its first history entry, all or nothing (with the load
    of the agent it is created assigned to, if any, and the report counters it moves)."""
    table = dynamo.table_name()
    number_item = {"pk": f"NUMBER#{ticket.number}", "sk": "NUMBER", "type": "number", "ticket_id": ticket.id}
    items = (_ticket_item(ticket), number_item, _history_item(ticket.id, entry))
    try:
        dynamo.transact(
            [
                {"Put": {"TableName": table, "Item": dynamo.to_item(item), "ConditionExpression": _NEW_ITEM}}
                for item in items
            ]
            + _load_updates(load_deltas or {}, claim=None, at=entry.at)
            + _counters(None, ticket, entry)
        )
    except ClientError as error:
        reasons = error.response.get("CancellationReasons") or []
        if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
            raise TicketExists(f"ticket {ticket.id} already exists") from error
        raise


class ItemConditionFailed(Conflict):
    """A condition on one of the extra items of a ticket change failed (``index`` into them)."""

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index


def _load_updates(
    load_deltas: dict[str, int], *, claim: str | None, at: datetime, capacity: int | None = None
) -> list[dict[str, Any]]:
    """``ADD load`` on each agent's state; the ``claim``ed one only while online and under
    ``capacity`` (their profile's: the state item's copy is for display and may lag behind)."""
    if claim is not None and capacity is None:
        raise ValueError("a claim needs the agent's capacity")
    updates = []
    for agent, delta in load_deltas.items():
        if not delta:
            continue
        update: dict[str, Any] = {
            "TableName": dynamo.table_name(),
            "Key": directory_store.state_key(agent),
            "UpdateExpression": "ADD #load :delta",
            "ExpressionAttributeNames": {"#load": "load"},
            "ExpressionAttributeValues": {":delta": {"N": str(delta)}},
        }
        if agent == claim:
            update["UpdateExpression"] += " SET last_assigned_at = :now"
            update["ConditionExpression"] = "#online = :true AND #load < :capacity"
            update["ExpressionAttributeNames"] |= {"#online": "online"}
            update["ExpressionAttributeValues"] |= {
                ":true": {"BOOL": True},
                ":now": {"S": clock.iso(at)},
                ":capacity": {"N": str(capacity)},
            }
        updates.append({"Update": update})
    return updates


def save(
    ticket: Ticket,
    entry: HistoryEntry,
    *,
    before: Ticket,
    load_deltas: dict[str, int] | None = None,
    claim: str | None = None,
    capacity: int | None = None,
    also: list[dict[str, Any]] | None = None,
) -> None:
    """Replace the ticket if it is still at the version of ``before`` (the ticket as the caller
    read it), append ``entry``, change agents' loads by ``load_deltas``, move the report
    counters the change means, and write ``also`` (more transaction items: a survey token),
    all in one transaction.

    ``claim`` names the agent whose load may only grow while they are online and under
    ``capacity`` (automatic assignment; the capacity in their profile); AgentFull if not. A
    failed condition of an ``also`` item is ItemConditionFailed.
    """
    table = dynamo.table_name()
    items: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table,
                "Item": dynamo.to_item(_ticket_item(ticket)),
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":expected": {"N": str(before.version)}},
            }
        },
        {
            "Put": {
                "TableName": table,
                "Item": dynamo.to_item(_history_item(ticket.id, entry)),
                "ConditionExpression": _NEW_ITEM,
            }
        },
    ]
    loads = _load_updates(load_deltas or {}, claim=claim, capacity=capacity, at=entry.at)
    agents = [update["Update"]["Key"]["pk"]["S"].removeprefix("PERSON#") for update in loads]
    items += loads + (also or []) + _counters(before, ticket, entry)
    try:
        dynamo.transact(items)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code not in ("TransactionCanceledException", "ConditionalCheckFailedException"):
            raise
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons") or []]
        ours_ok = reasons[:2] == ["None", "None"]
        if ours_ok and claim in agents and reasons[2 + agents.index(claim) :][:1] == ["ConditionalCheckFailed"]:
            raise AgentFull(f"{claim} is offline or at capacity") from error
        extra = reasons[2 + len(loads) :]
        if ours_ok and "ConditionalCheckFailed" in extra:
            raise ItemConditionFailed(
                f"a condition of ticket {ticket.number}'s change failed", index=extra.index("ConditionalCheckFailed")
            ) from error
        raise ConcurrentUpdate(
            f"ticket {ticket.number} was changed by someone else; reload it and try again"
        ) from error


def get(ticket_id: str) -> Ticket | None:
    response = dynamo.client().get_item(
        TableName=dynamo.table_name(), Key=dynamo.to_item(_ticket_key(ticket_id)), ConsistentRead=True
    )
    return _to_ticket(response["Item"]) if "Item" in response else None


def partition(ticket_id: str) -> list[dict[str, Any]]:
    """Every item under ``TICKET#<id>`` (ticket, history, receipts, claims) as plain data, in
    one consistent Query (HIST#… sorts before META and OUT#…)."""
    items = dynamo.query_all(
        TableName=dynamo.table_name(),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"TICKET#{ticket_id}"}},
        ConsistentRead=True,
    )
    return [dynamo.from_item(item) for item in items]


def get_with_history(ticket_id: str) -> tuple[Ticket | None, list[HistoryEntry]]:
    """The ticket and its whole history in one Query over its partition (delivery receipts are
    attached to the entries they belong to)."""
    ticket, history, receipts = None, [], {}
    for data in partition(ticket_id):
        if data["sk"] == "META":
            ticket = Ticket.model_validate(data)
        elif data["sk"].startswith("HIST#"):
            history.append(HistoryEntry.model_validate(data))
        elif data["sk"].startswith("OUT#"):
            receipts[int(data["sk"][4:])] = {k: data.get(k) for k in ("state", "channel", "recipient", "at")}
    for entry in history:
        entry.delivery = receipts.get(entry.version)
    return ticket, history


def resolve_ref(ticket_ref: str) -> str:
    """Tickets are addressed by id or by number (CS…), everywhere in the API."""
    if ticket_ref.startswith(PREFIX) and ticket_ref[len(PREFIX) :].isdigit():
        found = id_for_number(ticket_ref)
        if found is None:
            raise NotFound(f"no ticket numbered {ticket_ref}")
        return found
    return ticket_ref


# A reply's receipt is written with the reply, "queued" and in the sweep's index, so that a
# reply whose reply.created message was never sent is delivered all the same (an outbox).
REPLY_QUEUED = "queued"


def reply_outbox(ticket_id: str, version: int, now: datetime, *, check_at: datetime) -> dict[str, Any]:
    """The transaction item that records a reply as queued for delivery, due for the sweep at
    ``check_at`` (by then the outbound stage should have replaced it with its receipt)."""
    item = {
        **_receipt_key(ticket_id, version),
        "type": "delivery",
        "id": ticket_id,
        "state": REPLY_QUEUED,
        "at": clock.iso(now),
        "attempts": 0,
        **_due_keys(ticket_id, check_at),
    }
    return {"Put": {"TableName": dynamo.table_name(), "Item": dynamo.to_item(item), "ConditionExpression": _NEW_ITEM}}


def put_delivery(ticket_id: str, version: int, receipt: dict[str, Any]) -> None:
    """The receipt of a reply's delivery, beside its history entry: it replaces the "queued"
    record (and so leaves the sweep's index); the first receipt wins."""
    item = {
        **_receipt_key(ticket_id, version),
        "type": "delivery",
        "at": clock.iso(clock.now()),
        **receipt,
    }
    try:
        dynamo.client().put_item(
            TableName=dynamo.table_name(),
            Item=dynamo.to_item(item),
            ConditionExpression=f"{_NEW_ITEM} OR #state = :queued",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":queued": {"S": REPLY_QUEUED}},
        )
    except ClientError as error:
        if not dynamo.condition_failed(error):
            raise


def requeue_reply(ticket_id: str, version: int, *, attempts: int, check_at: datetime) -> bool:
    """The sweep sent a queued reply's message again: look again at ``check_at``. False if it
    was delivered meanwhile."""
    try:
        dynamo.client().update_item(
            TableName=dynamo.table_name(),
            Key=dynamo.to_item(_receipt_key(ticket_id, version)),
            UpdateExpression="SET attempts = :attempts, gsi5sk = :sk",
            ConditionExpression="#state = :queued",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=dynamo.to_item(
                {":attempts": attempts, ":sk": _due_keys(ticket_id, check_at)["gsi5sk"], ":queued": REPLY_QUEUED}
            ),
        )
    except ClientError as error:
        if dynamo.condition_failed(error):
            return False
        raise
    return True


def get_delivery(ticket_id: str, version: int) -> dict[str, Any] | None:
    response = dynamo.client().get_item(
        TableName=dynamo.table_name(),
        Key=dynamo.to_item(_receipt_key(ticket_id, version)),
        ConsistentRead=True,
    )
    return dynamo.from_item(response["Item"]) if "Item" in response else None


@dataclass(frozen=True)
class Due:
    """An item of the sweep's index whose time has come: a ticket, or one of its replies still
    queued for delivery (``reply_version``, with the times the sweep sent it again)."""

    ticket_id: str
    reply_version: int | None = None
    attempts: int = 0


def due(shard: int, now: datetime, *, limit: int = 200) -> list[Due]:
    """What in one shard of the sweep's index is due at or before ``now``, earliest first."""
    items = dynamo.query_all(
        TableName=dynamo.table_name(),
        IndexName="by_due",
        KeyConditionExpression="gsi5pk = :shard AND gsi5sk <= :now",
        ExpressionAttributeValues={":shard": {"S": f"DUE#{shard}"}, ":now": {"S": f"{clock.iso(now)}#~"}},
        ProjectionExpression="id, sk, attempts",
        Limit=limit,
    )
    found = []
    for item in islice(items, limit):
        sk = item["sk"]["S"]
        reply = int(sk.removeprefix("OUT#")) if sk.startswith("OUT#") else None
        found.append(Due(item["id"]["S"], reply, int(item.get("attempts", {}).get("N", 0))))
    return found


def move_check(ticket: Ticket) -> bool:
    """Put ``ticket``'s sweep index key where its next check now is (or take it out), if the
    table still holds this version and the key differs: a setting changed since its last write.
    False when there was nothing to move or the ticket has changed since it was read."""
    keys = _index_keys(ticket)
    values: dict[str, Any] = {":version": {"N": str(ticket.version)}}
    if "gsi5sk" in keys:
        update = "SET gsi5pk = :pk, gsi5sk = :sk"
        condition = "#version = :version AND (attribute_not_exists(gsi5sk) OR gsi5sk <> :sk)"
        values |= {":pk": {"S": keys["gsi5pk"]}, ":sk": {"S": keys["gsi5sk"]}}
    else:
        update = "REMOVE gsi5pk, gsi5sk"
        condition = "#version = :version AND attribute_exists(gsi5sk)"
    try:
        dynamo.client().update_item(
            TableName=dynamo.table_name(),
            Key=dynamo.to_item(_ticket_key(ticket.id)),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#version": "version"},
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if dynamo.condition_failed(error):
            return False
        raise
    return True


@dataclass(frozen=True)
class Claim:
    """The right to send one notice. ``delivered``: what an earlier attempt that gave up part-way
    had already sent ("<person>:<channel>", "event"), so that this one sends only the rest."""

    delivered: frozenset[str] = frozenset()


# A claim given up (``give_up_notice``) reads as taken at this time: stale at once.
_GIVEN_UP = "0"


def claim_notice(ticket_id: str, key: str, now: datetime, *, stale_after: timedelta) -> Claim | None:
    """Take the right to send one notice. Exactly one of several concurrent sweeps gets it; a
    claim whose holder never marked it sent (it crashed) may be taken over after ``stale_after``,
    one given up at once. None: someone else holds it (or it was sent)."""
    item_key = {"pk": {"S": f"TICKET#{ticket_id}"}, "sk": {"S": f"NOTICE#{key}"}}
    try:
        dynamo.client().put_item(
            TableName=dynamo.table_name(),
            Item={**item_key, "type": {"S": "notice"}, "state": {"S": "claimed"}, "claimed_at": {"S": clock.iso(now)}},
            ConditionExpression=_NEW_ITEM,
        )
        return Claim()
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    try:
        response = dynamo.client().update_item(
            TableName=dynamo.table_name(),
            Key=item_key,
            UpdateExpression="SET claimed_at = :now",
            ConditionExpression="#state = :claimed AND claimed_at < :stale",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":now": {"S": clock.iso(now)},
                ":claimed": {"S": "claimed"},
                ":stale": {"S": clock.iso(now - stale_after)},
            },
            ReturnValues="ALL_NEW",
        )
        return Claim(frozenset(response["Attributes"].get("delivered", {}).get("SS", [])))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return None


def give_up_notice(ticket_id: str, key: str, delivered: Collection[str]) -> None:
    """An attempt that failed part-way: remember what it sent, and let the next attempt take the
    claim at once (it sends only what is missing)."""
    expression = "SET claimed_at = :given_up"
    values: dict[str, Any] = {":given_up": {"S": _GIVEN_UP}, ":claimed": {"S": "claimed"}}
    if delivered:
        expression += " ADD delivered :delivered"
        values[":delivered"] = {"SS": sorted(delivered)}
    try:
        dynamo.client().update_item(
            TableName=dynamo.table_name(),
            Key={"pk": {"S": f"TICKET#{ticket_id}"}, "sk": {"S": f"NOTICE#{key}"}},
            UpdateExpression=expression,
            ConditionExpression="#state = :claimed",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def mark_notice_sent(ticket_id: str, key: str) -> None:
    dynamo.client().update_item(
        TableName=dynamo.table_name(),
        Key={"pk": {"S": f"TICKET#{ticket_id}"}, "sk": {"S": f"NOTICE#{key}"}},
        UpdateExpression="SET #state = :sent",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues={":sent": {"S": "sent"}},
    )


def release_notice(ticket_id: str, key: str) -> None:
    """Give up a claim that did not lead to a send, so the next attempt may take it at once."""
    try:
        dynamo.client().delete_item(
            TableName=dynamo.table_name(),
            Key={"pk": {"S": f"TICKET#{ticket_id}"}, "sk": {"S": f"NOTICE#{key}"}},
            ConditionExpression="#state = :claimed",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":claimed": {"S": "claimed"}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def id_for_number(number: str) -> str | None:
    response = dynamo.client().get_item(
        TableName=dynamo.table_name(), Key={"pk": {"S": f"NUMBER#{number}"}, "sk": {"S": "NUMBER"}}
    )
    return response["Item"]["ticket_id"]["S"] if "Item" in response else None


def _encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(dynamo.from_item(key)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, index: str, partition: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as error:
        raise BadRequest("cursor: not a cursor this API returned", code="invalid_cursor") from error
    # A cursor only continues the listing it came from; never a way into another partition.
    if not isinstance(data, dict) or data.get(INDEX_BY_NAME[index].partition_key) != partition:
        raise BadRequest("cursor: it belongs to a different listing", code="invalid_cursor")
    return dynamo.to_item(data)


def list_by(
    index: str,
    partition: str,
    *,
    sort_prefix: str | None = None,
    status: Status | None = None,
    limit: int = 25,
    cursor: str | None = None,
    oldest_first: bool = False,
    escalated_only: bool = False,
) -> tuple[list[Ticket], str | None]:
    """One page of tickets from an index partition, newest first (or in sort-key order)."""
    spec = INDEX_BY_NAME[index]
    condition = "#pk = :pk"
    names = {"#pk": spec.partition_key}
    values: dict[str, Any] = {":pk": {"S": partition}}
    if sort_prefix:
        condition += " AND begins_with(#sk, :prefix)"
        names["#sk"] = spec.sort_key
        values[":prefix"] = {"S": sort_prefix}
    kwargs: dict[str, Any] = {
        "TableName": dynamo.table_name(),
        "IndexName": index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": oldest_first,
        "Limit": limit,
    }
    filters = []
    if status:  # only where the index cannot narrow by status (customer history)
        filters.append("#status = :status")
        names["#status"] = "status"
        values[":status"] = {"S": status.value}
    if escalated_only:  # a supervisor's view of a team or agent: few items per page, read whole
        filters.append("escalated = :true")
        values[":true"] = {"BOOL": True}
    if filters:
        kwargs["FilterExpression"] = " AND ".join(filters)
    if cursor:
        kwargs["ExclusiveStartKey"] = _decode_cursor(cursor, index, partition)
    response = dynamo.client().query(**kwargs)
    tickets = [_to_ticket(item) for item in response["Items"]]
    last = response.get("LastEvaluatedKey")
    return tickets, _encode_cursor(last) if last else None
