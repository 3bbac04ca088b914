"""Ticket numbers: ``CS`` + business date + sequence, e.g. CS20231028000001.

Unique and never reused: each container reserves a block of numbers from the day's counter
with one atomic write and hands them out locally. Numbers therefore rise within a container
but may interleave between containers, and a container that ends leaves a gap; both are
normal for ticket numbers (Zendesk's ids behave the same way). Six digits allow a million
tickets a day; beyond that the number simply grows a digit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

PREFIX = "CS"


class NumberAllocator:
    def __init__(self, reserve: Callable[[str, int], int], *, block_size: int, zone: ZoneInfo):
        self._reserve = reserve
        self._block_size = block_size
        self._zone = zone
        self._lock = threading.Lock()
        self._day: str | None = None
        self._next = 0
        self._last = -1

    def next(self, moment: datetime) -> str:
        day = moment.astimezone(self._zone).strftime("%Y%m%d")
        with self._lock:
            if day != self._day or self._next > self._last:
                self._last = self._reserve(f"{PREFIX}{day}", self._block_size)
                self._next = self._last - self._block_size + 1
                self._day = day
            number = self._next
            self._next += 1
        return f"{PREFIX}{day}{number:06d}"
