"""The built-in order-status provider: snapshots in the table, written by an order feed."""

from __future__ import annotations

from ticketflow.knowledge.orders import OrderStatus
from ticketflow.storage import orders as order_store


class TableOrderStatusProvider:
    def lookup(self, order_number: str) -> OrderStatus | None:
        return order_store.get_order_status(order_number)
