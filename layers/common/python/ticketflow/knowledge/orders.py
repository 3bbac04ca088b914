"""Order numbers in free text, and the status of an order in words a customer reads.

Where the status comes from is an ``OrderStatusProvider``: the built-in one reads the table
(``TableOrderStatusProvider``); an ERP integration is another provider with the same method.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Protocol

from pydantic import BaseModel, StringConstraints

from ticketflow.clock import Timestamp

OrderNumber = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9_-]{1,64}$")]

_STATUS_WORDS: dict[str, tuple[str, str]] = {
    "pending_payment": ("待付款", "awaiting payment"),
    "paid": ("已付款，等待发货", "paid, waiting to ship"),
    "processing": ("仓库备货中", "being prepared for shipping"),
    "shipped": ("已发货", "shipped"),
    "in_transit": ("运输中", "in transit"),
    "out_for_delivery": ("派送中", "out for delivery"),
    "delivered": ("已签收", "delivered"),
    "cancelled": ("已取消", "cancelled"),
    "returned": ("已退货", "returned"),
    "refunded": ("已退款", "refunded"),
}
_FINISHED = frozenset({"delivered", "cancelled", "returned", "refunded"})


class OrderStatus(BaseModel):
    order_number: OrderNumber
    status: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    carrier: Annotated[str, StringConstraints(max_length=100)] | None = None
    tracking_number: Annotated[str, StringConstraints(max_length=100)] | None = None
    eta: date | None = None
    updated_at: Timestamp | None = None

    def describe(self, language: str = "zh") -> str:
        """One line for an answer template's {order_status}: status, carrier, tracking number, ETA."""
        chinese = language.casefold().startswith("zh") or language == "mixed"
        unknown = self.status.replace("_", " ")  # a provider's own status, shown as it named it
        zh, en = _STATUS_WORDS.get(self.status, (unknown, unknown))
        parts = [zh if chinese else en.capitalize()]
        if self.carrier:
            parts.append(f"承运商：{self.carrier}" if chinese else f"carrier: {self.carrier}")
        if self.tracking_number:
            parts.append(f"运单号：{self.tracking_number}" if chinese else f"tracking number: {self.tracking_number}")
        if self.eta and self.status not in _FINISHED:
            parts.append(f"预计 {self.eta:%Y-%m-%d} 送达" if chinese else f"expected delivery {self.eta:%Y-%m-%d}")
        return "，".join(parts) if chinese else ", ".join(parts)


class OrderStatusProvider(Protocol):
    def lookup(self, order_number: str) -> OrderStatus | None: ...


# After a cue word the number may be short ("订单号：123456", "order #A12345").
_CUED = re.compile(
    r"(?:订单|单号|(?<![a-z])order(?:\s*(?:no\.?|number|id))?)\s*(?:号|编号)?\s*[:#：]?\s*"
    r"([a-z]{0,4}-?\d[\d-]{4,40})(?![a-z0-9])",
    re.IGNORECASE,
)
# Otherwise a letter prefix and many digits (SO20240310001, SO-2024-0310-001), or a long number.
_PREFIXED = re.compile(r"(?<![a-z0-9])([a-z]{1,4}-?\d+(?:-\d+)*)(?![a-z0-9])", re.IGNORECASE)
_LONG_NUMBER = re.compile(r"(?<![a-z0-9+])(\d{10,24})(?![0-9])", re.IGNORECASE)
# A carrier's tracking number ("运单号 SF1234567890") is not an order number.
_AFTER_TRACKING_CUE = re.compile(r"(?:运单|快递单|物流单|tracking)\s*(?:号|no\.?|number)?\s*[:#：]?\s*$", re.IGNORECASE)
_TICKET_NUMBER = re.compile(r"^CS\d{14}$")  # ours, not an order's
_MOBILE = re.compile(r"^(?:86)?1[3-9]\d{9}$")


def _plausible(candidate: str, *, min_digits: int) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if len(digits) < min_digits or _TICKET_NUMBER.match(candidate) or _MOBILE.match(candidate):
        return False
    return not _is_date(digits)


def _is_date(digits: str) -> bool:
    try:
        return len(digits) == 8 and 1990 <= datetime.strptime(digits, "%Y%m%d").year <= 2100
    except ValueError:
        return False


def extract_order_number(text: str) -> str | None:
    """The order number a customer wrote, upper-cased; phone numbers, dates and ticket numbers are not."""
    text = unicodedata.normalize("NFKC", text)
    candidates = [(m, 6) for m in _CUED.finditer(text)]
    candidates += [(m, 8) for m in _PREFIXED.finditer(text)]
    candidates += [(m, 10) for m in _LONG_NUMBER.finditer(text)]
    for match, min_digits in candidates:
        number = match.group(1).strip("-").upper()
        if _plausible(number, min_digits=min_digits) and not _AFTER_TRACKING_CUE.search(text, 0, match.start(1)):
            return number
    return None
