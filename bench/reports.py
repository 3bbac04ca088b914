"""Report latency and AWS requests over 1 and 90 days of counters, at 100 and 10,000 tickets
a day, against AWS's DynamoDB Local.

The counters are synthetic but shaped like the real ones: every dimension value (ALL, 3
teams, 7 people, 8 categories and subcategories, 4 priorities, 8 channels) has its day item
in each of the 4 shards with the full set of counters the counting writes (histogram
buckets, SLA outcomes, CSAT distributions), their values scaled to the volume. What a report
reads depends on days × dimension values, never on tickets: the figures should be flat
across the volume columns.

    python bench/reports.py
"""

from __future__ import annotations

import collections
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VOLUMES = (100, 10_000)
SPANS = (1, 90)
RUNS = 5


def counters(rng: random.Random, tickets: int) -> dict[str, int]:
    from ticketflow.reports import histograms
    from ticketflow.reports.figures import CSAT_DIMENSIONS, SLA_TARGETS

    share = max(1, tickets // 4)  # one shard's share of a day
    found: dict[str, int] = {}
    for name in ("created", "assigned", "replies", "resolved", "resolved_first", "closed", "closed_resolved"):
        found[name] = rng.randint(share // 2, share)
    for name in ("fcr", "reopened", "transfers", "escalated", "auto_replied", "backlog_in", "backlog_out"):
        found[name] = rng.randint(0, share // 3 + 1)
    for metric in ("frt", "handle", "resolution"):
        total = 0
        for bound in histograms.BOUNDS:
            n = rng.randint(0, share // 6 + 1)
            found[f"{metric}_le_{'inf' if bound == float('inf') else int(bound)}"] = n
            total += n
        found[f"{metric}_count"], found[f"{metric}_sum"] = total, total * rng.randint(300, 20_000)
    for target in SLA_TARGETS:
        found[f"sla_{target}_met"], found[f"sla_{target}_breached"] = rng.randint(0, share), rng.randint(0, share // 10)
    answered = share // 5 + 1
    found |= {"surveys_sent": answered * 2, "csat_count": answered, "nps_count": answered}
    for dim in CSAT_DIMENSIONS:
        found[f"csat_{dim}_sum"] = answered * 4
        for score in range(1, 6):
            found[f"csat_{dim}_{score}"] = answered // 5
    for score in range(11):
        found[f"nps_{score}"] = answered // 11
    found |= {"nps_promoters": answered // 2, "nps_passives": answered // 4, "nps_detractors": answered // 4}
    return found


def dimension_values() -> list[tuple[str, str]]:
    from ticketflow.directory import DEMO_PEOPLE, DEMO_TEAMS
    from ticketflow.models import Channel

    values = [("ALL", "")]
    values += [("TEAM", t.id) for t in DEMO_TEAMS]
    values += [("AGENT", p.id) for p in DEMO_PEOPLE if p.role.value != "admin"]
    values += [("CATEGORY", c) for c in ("presales", "order_support", "complaint", "proactive")]
    values += [("SUBCATEGORY", s) for s in ("product_info", "pricing", "logistics", "payment_process")]
    values += [("SUBCATEGORY", s) for s in ("product_quality", "service_experience")]
    values += [("PRIORITY", p) for p in ("P1", "P2", "P3", "P4")]
    values += [("CHANNEL", c.value) for c in Channel]
    return values


def load(days: int, tickets: int) -> None:
    """The day items of every dimension value and shard, and a backlog spread over 14 days."""
    from ticketflow.reports import queries
    from ticketflow.storage import dynamo, stats

    rng = random.Random(days * 100_003 + tickets)
    today = queries.today()
    items = []
    for dimension, value in dimension_values():
        for offset in range(days):
            day = today - timedelta(days=offset)
            for shard in range(stats.SHARDS):
                sk = f"{stats.DAY}#{day.isoformat()}#{shard}"
                items.append({"pk": stats.pk(dimension, value), "sk": sk, **counters(rng, tickets)})
        for offset in range(14):
            day = today - timedelta(days=offset)
            for shard in range(stats.SHARDS):
                sk = f"{stats.OPEN}#{day.isoformat()}#{shard}"
                items.append({"pk": stats.pk(dimension, value), "sk": sk, "open": rng.randint(0, tickets // 50 + 1)})
    client = dynamo.client()
    for i in range(0, len(items), 25):
        request = {dynamo.table_name(): [{"PutRequest": {"Item": dynamo.to_item(it)}} for it in items[i : i + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def main() -> None:
    from bench.emulator import emulated

    with emulated(dynamodb_local=True):
        run()


def run() -> None:
    from tests.conftest import create_stack
    from ticketflow import aws, demo
    from ticketflow.config import settings
    from ticketflow.reports import queries

    calls: collections.Counter[str] = collections.Counter()

    def count(event_name: str, **_: object) -> None:
        calls[event_name.split(".")[-1]] += 1

    reports = {
        "summary": lambda period: queries.summary(queries.selection(), period),
        "summary (team)": lambda period: queries.summary(queries.selection(team="presales"), period),
        "timeseries": lambda period: queries.timeseries(queries.selection(), period),
        "agents": lambda period: queries.agents(period),
        "surveys by agent": lambda period: queries.surveys(queries.selection(), period, "agent"),
    }
    rows = []
    for days in SPANS:
        for tickets in VOLUMES:
            create_stack(f"bench-r{days}-{tickets}")
            settings.cache_clear()
            aws.reset()
            demo.seed()
            aws.client("dynamodb").meta.events.register("before-call.dynamodb.*", count)
            load(days, tickets)
            today = queries.today()
            period = queries.period(today - timedelta(days=days - 1), today)
            for name, report in reports.items():
                report(period)  # warm: directory cache, live configuration
                times = []
                for _ in range(RUNS):
                    calls.clear()
                    started = time.perf_counter()
                    report(period)
                    times.append(time.perf_counter() - started)
                rows.append((name, days, tickets, statistics.median(times) * 1000, sum(calls.values())))
    print(f"Reports over DynamoDB Local (median of {RUNS}; requests = DynamoDB calls per report)\n")
    print(f"{'report':<18} {'days':>4} {'tickets/day':>11} {'ms':>8} {'requests':>9}")
    for name, days, tickets, ms, requests in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
        print(f"{name:<18} {days:>4} {tickets:>11,} {ms:>8.1f} {requests:>9}")
    for name in reports:
        for days in SPANS:
            small, large = (next(r for r in rows if r[:3] == (name, days, v)) for v in VOLUMES)
            print(
                f"{name} over {days} day(s): {VOLUMES[1] // VOLUMES[0]}× the tickets -> "
                f"{large[3] / small[3]:.2f}× the time, {large[4] - small[4]:+d} requests"
            )


if __name__ == "__main__":
    main()
