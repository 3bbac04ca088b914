"""The built-in, table-backed order-status provider against the emulated table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import boto3

from ticketflow.knowledge import OrderStatus, OrderStatusProvider, TableOrderStatusProvider, extract_order_number
from ticketflow.storage.orders import get_order_status, put_order_status


def status_of(order_number: str) -> OrderStatus:
    """The stored snapshot the test knows is there."""
    found = get_order_status(order_number)
    assert found is not None, order_number
    return found


AT = datetime(2024, 3, 10, 6, 5, tzinfo=UTC)


def shipped(order_number: str = "SO20240310001", **changes) -> OrderStatus:
    fields = {
        "order_number": order_number,
        "status": "shipped",
        "carrier": "顺丰速运",
        "tracking_number": "SF1234567890",
        "eta": date(2024, 3, 12),
        "updated_at": AT,
    }
    return OrderStatus(**(fields | changes))


def test_lookup_returns_what_the_feed_stored(stack: dict[str, str]):
    provider: OrderStatusProvider = TableOrderStatusProvider()
    assert provider.lookup("SO20240310001") is None
    assert put_order_status(shipped()) is True
    found = provider.lookup("SO20240310001")
    assert found == shipped()
    assert found.describe("zh") == "已发货，承运商：顺丰速运，运单号：SF1234567890，预计 2024-03-12 送达"


def test_items_follow_the_key_design(stack: dict[str, str]):
    put_order_status(shipped("SO-2024-0310-001"))
    item = boto3.client("dynamodb").get_item(
        TableName=stack["TICKETFLOW_TABLE_NAME"], Key={"pk": {"S": "ORDER#SO-2024-0310-001"}, "sk": {"S": "STATUS"}}
    )["Item"]
    assert item["status"] == {"S": "shipped"} and item["eta"] == {"S": "2024-03-12"}
    assert item["updated_at"] == {"S": "2024-03-10T06:05:00.000Z"}


def test_order_numbers_from_customer_text_find_their_order_whatever_the_case(stack: dict[str, str]):
    put_order_status(shipped("so20240310001"))
    number = extract_order_number("帮我查一下订单 so20240310001 到哪了")
    assert number is not None
    found = TableOrderStatusProvider().lookup(number)
    assert found is not None and found.order_number == "SO20240310001"
    assert status_of(" so20240310001 ").status == "shipped"


def test_an_older_snapshot_never_overwrites_a_newer_one(stack: dict[str, str]):
    assert put_order_status(shipped(status="delivered", updated_at=AT + timedelta(hours=5)))
    assert put_order_status(shipped(status="in_transit", updated_at=AT)) is False  # arrived late from the feed
    assert status_of("SO20240310001").status == "delivered"
    assert put_order_status(shipped(status="returned", updated_at=AT + timedelta(days=3)))
    assert status_of("SO20240310001").status == "returned"


def test_a_snapshot_without_a_time_always_replaces(stack: dict[str, str]):
    put_order_status(shipped(updated_at=AT))
    assert put_order_status(OrderStatus(order_number="SO20240310001", status="cancelled"))
    found = status_of("SO20240310001")
    assert found.status == "cancelled" and found.carrier is None and found.updated_at is None
