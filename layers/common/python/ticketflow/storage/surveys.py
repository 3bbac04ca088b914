"""Survey links and the per-customer survey cooldown.

    SURVEY#<sha256 of the token> / TOKEN   ticket_id, number, language, expires (ISO),
                                           answered_at; deleted by TTL 90 days after expiry
    CUST#<customer id> / SURVEY            last_sent_at, ticket_id: the cooldown's claim

Only the token's hash is stored: whoever reads the table cannot answer for the customer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ticketflow import clock
from ticketflow.storage import dynamo

# A token item outlives its expiry by this much, so an old link says "expired", not "unknown".
KEEP_AFTER_EXPIRY = timedelta(days=90)


def _token_key(token_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"SURVEY#{token_hash}"}, "sk": {"S": "TOKEN"}}


def put_token(token_hash: str, *, ticket_id: str, expires: datetime, number: str, language: str) -> None:
    """The link's record: enough to render the page (number, language) with one read."""
    item = {
        "type": {"S": "survey_token"},
        "ticket_id": {"S": ticket_id},
        "number": {"S": number},
        "language": {"S": language},
        "expires": {"S": clock.iso(expires)},
        "expires_at": {"N": str(int((expires + KEEP_AFTER_EXPIRY).timestamp()))},  # the table's TTL
    }
    dynamo.client().put_item(
        TableName=dynamo.table_name(),
        Item={**_token_key(token_hash), **item},
        ConditionExpression="attribute_not_exists(pk)",
    )


def get_token(token_hash: str) -> dict[str, Any] | None:
    response = dynamo.client().get_item(TableName=dynamo.table_name(), Key=_token_key(token_hash), ConsistentRead=True)
    return dynamo.from_item(response["Item"]) if "Item" in response else None


def use_token(token_hash: str, now: datetime) -> dict[str, Any]:
    """A transaction item that marks the token used, if it exists, is unused and unexpired."""
    return {
        "Update": {
            "TableName": dynamo.table_name(),
            "Key": _token_key(token_hash),
            "UpdateExpression": "SET answered_at = :now",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(answered_at) AND expires > :now",
            "ExpressionAttributeValues": {":now": {"S": clock.iso(now)}},
        }
    }


def claim_customer(customer_id: str, ticket_id: str, now: datetime, cooldown: timedelta) -> dict[str, Any] | None:
    """Take the customer's survey slot for this ticket: None when taken (or already ours), else
    the holder (``last_sent_at``, ``ticket_id``) that keeps us out until the cooldown ends.
    Conditional, so two tickets of one customer closing together send one survey."""
    key = {"pk": {"S": f"CUST#{customer_id}"}, "sk": {"S": "SURVEY"}}
    try:
        dynamo.client().update_item(
            TableName=dynamo.table_name(),
            Key=key,
            UpdateExpression="SET last_sent_at = :now, ticket_id = :ticket, #type = :type",
            ConditionExpression="attribute_not_exists(pk) OR last_sent_at < :cutoff OR ticket_id = :ticket",
            ExpressionAttributeNames={"#type": "type"},
            ExpressionAttributeValues={
                ":now": {"S": clock.iso(now)},
                ":ticket": {"S": ticket_id},
                ":type": {"S": "survey_cooldown"},
                ":cutoff": {"S": clock.iso(now - cooldown)},
            },
        )
        return None
    except ClientError as error:
        if not dynamo.condition_failed(error):
            raise
    response = dynamo.client().get_item(TableName=dynamo.table_name(), Key=key, ConsistentRead=True)
    return dynamo.from_item(response.get("Item") or {}) or {"ticket_id": None, "last_sent_at": None}


def release_customer(customer_id: str, ticket_id: str) -> None:
    """Give back the customer's survey slot this ticket took, when its survey did not reach
    them (the provider refused it, or failed): a survey never received starts no cooldown."""
    try:
        dynamo.client().delete_item(
            TableName=dynamo.table_name(),
            Key={"pk": {"S": f"CUST#{customer_id}"}, "sk": {"S": "SURVEY"}},
            ConditionExpression="ticket_id = :ticket",
            ExpressionAttributeValues={":ticket": {"S": ticket_id}},
        )
    except ClientError as error:
        if not dynamo.condition_failed(error):
            raise
