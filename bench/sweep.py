"""The SLA sweep's cost against the number of open tickets: AWS requests and time for one
sweep with 1,000, 10,000 and 100,000 open tickets of which a fixed 50 are due.

Open tickets are written straight into the table in their stored form (as the intake and
classify stages leave them); the sweep then runs as on AWS. The table is AWS's DynamoDB Local
(moto answers an index Query by reading every item, which would time moto, not the sweep);
email, events and queues are moto. The cost should be flat: one Query per index shard plus
the work for the due tickets.

    python bench/sweep.py [sizes...]
"""

from __future__ import annotations

import collections
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DUE = 50


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000, 100_000]
    from bench.emulator import emulated

    with emulated(dynamodb_local=True):
        print(f"one SLA sweep, {DUE} tickets due (each owes a first-response warning)")
        print(f"{'open tickets':>13}{'requests':>10}{'of which Query':>16}{'sweep s':>9}  detail")
        for n in sizes:
            run(n)


def run(open_tickets: int) -> None:
    from tests.conftest import create_stack
    from ticketflow import aws, clock, demo, sla, sweep
    from ticketflow.models import Channel, Customer, Status, Ticket
    from ticketflow.storage import dynamo
    from ticketflow.storage.tickets import _ticket_item

    create_stack(f"sweep{open_tickets}")
    demo.seed()
    now = clock.now()
    client = aws.client("dynamodb")

    def stored(i: int) -> dict:
        # The first DUE were created 100 minutes ago: 75 % of their 120-minute target has passed.
        created = now - timedelta(minutes=100 if i < DUE else 1)
        ticket = Ticket(
            id=f"t{i:07d}",
            number=f"CS{i:014d}",
            status=Status.IN_PROGRESS,
            version=1,
            channel=Channel.WEB,
            customer=Customer(id=f"c{i}", name="n"),
            description="d",
            created_at=created,
            updated_at=created,
            team="aftersales",
            assignee="agent-4",
            priority="P1",
            category="complaint",
            subcategory="product_quality",
        )
        ticket.sla = sla.start(created_at=created, priority="P1", category="complaint", tier="standard", channel="web")
        return dynamo.to_item(_ticket_item(ticket))

    for start in range(0, open_tickets, 25):  # streamed: 100,000 tickets never sit in memory at once
        batch = {
            dynamo.table_name(): [
                {"PutRequest": {"Item": stored(i)}} for i in range(start, min(start + 25, open_tickets))
            ]
        }
        while batch:
            batch = client.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}

    counts: collections.Counter[str] = collections.Counter()

    def count(event_name: str, **_: object) -> None:
        counts[".".join(event_name.split(".")[1:])] += 1

    for service in ("dynamodb", "sqs", "sesv2", "sns", "events"):
        aws.client(service).meta.events.register("before-call.*.*", count)
    started = time.perf_counter()
    report = sweep.run(now)
    elapsed = time.perf_counter() - started
    for service in ("dynamodb", "sqs", "sesv2", "sns", "events"):
        aws.client(service).meta.events.unregister("before-call.*.*", count)
    assert report.due == DUE and report.notices == DUE, report
    detail = ", ".join(f"{op} {n}" for op, n in sorted(counts.items()))
    print(f"{open_tickets:>13,}{sum(counts.values()):>10}{counts['dynamodb.Query']:>16}{elapsed:>9.2f}  {detail}")


if __name__ == "__main__":
    main()
