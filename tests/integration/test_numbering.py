"""Ticket numbers stay unique when many threads and processes allocate at once."""

from __future__ import annotations

import multiprocessing
import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ticketflow.numbering import NumberAllocator
from ticketflow.storage import sequences

MOMENT = datetime(2023, 10, 28, 3, 0, tzinfo=UTC)


def _allocate_in_process(env: dict[str, str], count: int, block: int) -> list[str]:
    os.environ.update(env)
    from tests.conftest import reset_caches

    reset_caches()
    allocator = NumberAllocator(sequences.reserve_block, block_size=block, zone=ZoneInfo("Asia/Shanghai"))
    return [allocator.next(MOMENT) for _ in range(count)]


def test_format_is_cs_date_sequence(any_stack):
    allocator = NumberAllocator(sequences.reserve_block, block_size=5, zone=ZoneInfo("Asia/Shanghai"))
    assert allocator.next(MOMENT) == "CS20231028000001"
    assert allocator.next(datetime(2023, 10, 28, 17, 0, tzinfo=UTC)) == "CS20231029000001"  # next day in Shanghai
    assert allocator.next(MOMENT) == "CS20231028000006"  # a new block for the day: gaps, never reuse


def test_threads_sharing_and_not_sharing_an_allocator_never_collide(any_stack):
    zone = ZoneInfo("Asia/Shanghai")
    shared = NumberAllocator(sequences.reserve_block, block_size=7, zone=zone)
    containers = [NumberAllocator(sequences.reserve_block, block_size=7, zone=zone) for _ in range(4)]

    def work(i: int) -> list[str]:
        allocator = shared if i % 2 else containers[i % 4]
        return [allocator.next(MOMENT) for _ in range(25)]

    with ThreadPoolExecutor(8) as pool:
        numbers = [n for chunk in pool.map(work, range(16)) for n in chunk]
    assert len(numbers) == len(set(numbers)) == 400
    assert all(re.fullmatch(r"CS20231028\d{6}", n) for n in numbers)


@pytest.mark.parametrize("processes", [4])
def test_processes_never_collide(real_dynamodb_stack, processes):
    env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "TICKETFLOW_"))}
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        chunks = pool.starmap(_allocate_in_process, [(env, 60, 9)] * processes)
    numbers = [n for chunk in chunks for n in chunk]
    assert len(numbers) == len(set(numbers)) == 60 * processes


def test_the_counter_is_written_once_per_block_not_per_ticket(any_stack):
    calls = []

    def counting(series: str, size: int) -> int:
        calls.append(series)
        return sequences.reserve_block(series, size)

    allocator = NumberAllocator(counting, block_size=20, zone=ZoneInfo("Asia/Shanghai"))
    for _ in range(45):
        allocator.next(MOMENT)
    assert len(calls) == 3
