"""The load test's short form: bench/load.py's run against a real `ticketflow dev`, small
enough for CI (its long form, 5,000 tickets from 20 channels: `python bench/load.py`).

Twenty channels post at once, each ticket with an Idempotency-Key (some posted twice), while
four agents accept, reply, resolve and close what is assigned to them; then the pipeline
settles and every ticket must be accounted for: listed exactly once, found by its number under
the same id, classified and routed once, with no 5xx and no request left unanswered.

Also here: what the load test found in the local gateway, each checked on its own.
"""

from __future__ import annotations

import select
import socket
import statistics
import time
from collections.abc import Iterator

import pytest
import requests

from bench import load
from infra.local.gateway import Gateway

pytestmark = pytest.mark.e2e

CHANNELS, TICKETS, AGENTS = 20, 100, 4


@pytest.fixture(scope="module")
def dev() -> Iterator[load.Server]:
    with load.ticketflow_dev() as server:
        yield server


def test_every_ticket_is_accounted_for_under_load(dev):
    target = load.Ticketflow(dev, load.Meter(), api_key=load.DEMO_API_KEY, agents=AGENTS)
    report = load.run(target, channels=CHANNELS, tickets=TICKETS)

    assert report["failures"] == [], load.table(report)
    accounting = report["accounting"]
    assert accounting["posted"] == accounting["listed_once"] == accounting["distinct_numbers"] == TICKETS
    assert accounting["found_by_number_classified_routed_once"] == TICKETS
    assert accounting["replays"] == TICKETS // load.REPLAY_EVERY and accounting["replay_mismatches"] == []
    assert not any(int(status) >= 500 for status in report["errors_by_status"])
    assert report["lost"] == 0
    assert report["requests"]["post_ticket"]["statuses"] == {"201": TICKETS}
    # The agents worked their queues while the channels posted (what they got done depends on
    # how fast the pipeline assigned: whatever they did is in the counts above, none of it 5xx).
    assert report["requests"]["list_queue"]["count"] >= AGENTS
    assert report["peak_rss_mb"] and report["peak_rss_mb"]["total"] > 0


def test_kept_alive_connections_get_their_answers_at_once(dev):
    """The gateway wrote a response's head and body separately: with Nagle's algorithm on, the
    body waited for the client's delayed ACK, 40 ms on every request of a kept-alive connection."""
    session = requests.Session()
    session.get(f"{dev.url}/dev/clock", timeout=30)  # connected
    took = []
    for _ in range(15):
        started = time.perf_counter()
        assert session.get(f"{dev.url}/dev/clock", timeout=30).status_code == 200
        took.append(time.perf_counter() - started)
    assert statistics.median(took) < 0.025, took


def test_a_burst_of_new_connections_is_queued_not_dropped():
    """socketserver's listen backlog of 5 dropped the handshakes of channels connecting while
    the gateway was busy (a second's delay each, now and then a reset connection)."""
    gateway = Gateway(("127.0.0.1", 0), api_key="k")  # listening, not accepting: as when busy
    clients = []
    try:
        for _ in range(40):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(gateway.server_address[:2])
            clients.append(client)
        connected: set[socket.socket] = set()
        deadline = time.monotonic() + 2
        while len(connected) < len(clients) and time.monotonic() < deadline:
            _, writable, _ = select.select([], [c for c in clients if c not in connected], [], 0.1)
            connected.update(c for c in writable if c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
        assert len(connected) == len(clients)
    finally:
        for client in clients:
            client.close()
        gateway.server_close()
