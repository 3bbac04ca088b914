"""The demo data `ticketflow dev` (and `ticketflow seed`) start with: the directory of teams
and people, and a few orders whose status the knowledge base can quote."""

from __future__ import annotations

from datetime import date

from ticketflow.directory import Person
from ticketflow.knowledge import OrderStatus
from ticketflow.storage import orders
from ticketflow.storage.directory import seed_demo_directory

DEMO_ORDERS: tuple[OrderStatus, ...] = (
    OrderStatus(
        order_number="2024031000123",
        status="shipped",
        carrier="顺丰速运 SF Express",
        tracking_number="SF1234567890123",
        eta=date(2026, 11, 26),
    ),
    OrderStatus(order_number="SO20261120001", status="processing"),
    OrderStatus(
        order_number="SO778899", status="delivered", carrier="京东物流 JD Logistics", tracking_number="JD0099887766"
    ),
)


def seed() -> tuple[Person, ...]:
    """Idempotent: re-seeding keeps agents' loads and never moves an order's status backwards."""
    for order in DEMO_ORDERS:
        orders.put_order_status(order)
    return seed_demo_directory()
