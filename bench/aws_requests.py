"""AWS requests per API call, counted at the SDK (botocore) while the real handlers run
against the embedded emulator. Counts, not times: they are the same on any machine.

    python bench/requests.py
"""

from __future__ import annotations

import collections
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    try:
        run()
    finally:
        server.stop()


def run() -> None:
    from tests.conftest import create_stack
    from tests.support import Api, new_ticket
    from ticketflow import aws
    from ticketflow.storage.directory import seed_demo_directory

    create_stack("bench")
    seed_demo_directory()
    counts: collections.Counter[str] = collections.Counter()

    def count(event_name: str, **_: object) -> None:
        _, service, operation = event_name.split(".")
        counts[f"{service}.{operation}"] += 1

    for service in ("dynamodb", "sqs"):
        aws.client(service).meta.events.register("before-call.*.*", count)

    api = Api()
    warm = api.post("/tickets", new_ticket())[1]  # warm the containers' caches, as a busy system has them
    api.post(f"/tickets/{warm['id']}/accept", as_="agent-1")
    steps: list[tuple[str, tuple]] = []
    created = {}

    def step(label: str, call, *args, **kwargs):
        counts.clear()
        status, body = call(*args, **kwargs)
        assert status < 300, (label, status, body)
        steps.append((label, tuple(sorted(counts.items()))))
        return body

    created = step("POST /tickets", api.post, "/tickets", new_ticket())
    step(
        "POST /tickets (Idempotency-Key, first)", api.post, "/tickets", new_ticket(), headers={"Idempotency-Key": "b1"}
    )
    step(
        "POST /tickets (Idempotency-Key, replay)", api.post, "/tickets", new_ticket(), headers={"Idempotency-Key": "b1"}
    )
    tid = created["id"]
    step("GET /tickets/{id}", api.get, f"/tickets/{tid}", as_="agent-1")
    step("GET /tickets/{number}", api.get, f"/tickets/{created['number']}", as_="agent-1")
    step("POST accept", api.post, f"/tickets/{tid}/accept", as_="agent-1")
    step("POST reply", api.post, f"/tickets/{tid}/reply", {"body": "hi"}, as_="agent-1")
    step("POST transfer", api.post, f"/tickets/{tid}/transfer", {"team": "aftersales", "reason": "r"}, as_="agent-1")
    step("POST assign", api.post, f"/tickets/{tid}/assign", {"agent": "agent-3", "reason": "r"}, as_="sup-1")
    step("POST accept (after assign)", api.post, f"/tickets/{tid}/accept", as_="agent-3")
    step("POST resolve", api.post, f"/tickets/{tid}/resolve", {"result": "done"}, as_="agent-3")
    step("POST close", api.post, f"/tickets/{tid}/close", {"reason": "resolved"}, as_="agent-3")
    step("GET /tickets?team=", api.get, "/tickets", as_="agent-3", query={"team": "aftersales"})

    print("AWS requests per API call (warm container; counted at the SDK)")
    print(f"{'call':<42}{'total':>6}  detail")
    for label, detail in steps:
        total = sum(n for _, n in detail)
        print(f"{label:<42}{total:>6}  {', '.join(f'{op} {n}' for op, n in detail)}")


if __name__ == "__main__":
    main()
