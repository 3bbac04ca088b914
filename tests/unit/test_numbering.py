from __future__ import annotations

import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ticketflow.numbering import NumberAllocator


class Counter:
    """An in-memory stand-in for the table's atomic counter (the real one is tested in integration)."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.writes = 0
        self.lock = threading.Lock()

    def reserve(self, series: str, size: int) -> int:
        with self.lock:
            self.writes += 1
            self.values[series] = self.values.get(series, 0) + size
            return self.values[series]


def test_blocks_are_handed_out_in_order_and_days_roll_over_in_the_business_zone():
    counter = Counter()
    allocator = NumberAllocator(counter.reserve, block_size=3, zone=ZoneInfo("Asia/Shanghai"))
    day = datetime(2023, 10, 27, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai
    assert [allocator.next(day) for _ in range(4)] == [
        "CS20231027000001",
        "CS20231027000002",
        "CS20231027000003",
        "CS20231027000004",
    ]
    assert allocator.next(datetime(2023, 10, 27, 16, 0, tzinfo=UTC)) == "CS20231028000001"
    assert counter.writes == 3


def test_a_sequence_past_six_digits_grows_instead_of_wrapping():
    allocator = NumberAllocator(lambda series, size: 1_000_000, block_size=1, zone=ZoneInfo("UTC"))
    assert allocator.next(datetime(2026, 1, 1, tzinfo=UTC)) == "CS202601011000000"


def test_one_allocator_shared_by_threads_gives_unique_numbers():
    counter = Counter()
    allocator = NumberAllocator(counter.reserve, block_size=10, zone=ZoneInfo("UTC"))
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    numbers: list[str] = []
    threads = [
        threading.Thread(target=lambda: numbers.extend(allocator.next(moment) for _ in range(200))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(numbers)) == 1600
    assert counter.writes == 160
