"""AWS requests per API call, counted at the SDK (botocore) while the real handlers run
against the embedded emulator. Counts, not times: they are the same on any machine.

    python bench/requests.py
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from bench.emulator import emulated

    with emulated():
        run()


def run() -> None:
    from tests.conftest import create_stack, drain, sqs_batch
    from tests.support import Api, invoke, new_ticket
    from ticketflow import aws, demo

    env = create_stack("bench")
    demo.seed()
    counts: collections.Counter[str] = collections.Counter()

    def count(event_name: str, **_: object) -> None:
        service, operation = event_name.split(".")[1:]
        counts[f"{service}.{operation}"] += 1

    for service in ("dynamodb", "sqs", "sesv2", "sns", "events"):
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

    pipeline(api, invoke, new_ticket, drain, sqs_batch, env, counts, show=False)  # warm the caches
    pipeline(api, invoke, new_ticket, drain, sqs_batch, env, counts, show=True)
    print()
    print("AWS requests per API call (warm container; counted at the SDK)")
    print(f"{'call':<42}{'total':>6}  detail")
    for label, detail in steps:
        total = sum(n for _, n in detail)
        print(f"{label:<42}{total:>6}  {', '.join(f'{op} {n}' for op, n in detail)}")


def pipeline(api, invoke, new_ticket, drain, sqs_batch, env, counts, *, show: bool) -> None:
    """One ticket's whole automated life: intake, classification (with a knowledge-base answer),
    assignment, then an agent's accept, reply, resolve and close."""
    stages: list[tuple[str, int, str]] = []

    def stage(label: str, call) -> None:
        counts.clear()
        call()
        detail = ", ".join(f"{op} {n}" for op, n in sorted(counts.items()))
        stages.append((label, sum(counts.values()), detail))

    text = "你好，我的订单2024031000123到哪了？物流信息查不到"
    created = {}
    stage("intake (POST /tickets)", lambda: created.update(api.post("/tickets", new_ticket(description=text))[1]))
    tid = created["id"]
    classify_queue, assign_queue = env["TICKETFLOW_QUEUE_CLASSIFY_URL"], env["TICKETFLOW_QUEUE_ASSIGN_URL"]
    messages = [m for m in drain(classify_queue) if m["data"]["ticket_id"] == tid]
    stage("classify + auto-reply + hand-off", lambda: invoke("classify", sqs_batch(messages)))
    messages = drain(assign_queue)
    stage("assign", lambda: invoke("assign", sqs_batch(messages, "assign")))
    agent = api.get(f"/tickets/{tid}", as_="sup-1")[1]["assignee"]
    for action, body in [("accept", None), ("reply", {"body": "您好"})]:
        stage(action, lambda action=action, body=body: api.post(f"/tickets/{tid}/{action}", body, as_=agent))
    replies = drain(env["TICKETFLOW_QUEUE_OUTBOUND_URL"])
    stage("deliver the reply", lambda: invoke("deliver", sqs_batch(replies, "outbound")))
    for action, body in [("resolve", {"result": "ok"}), ("close", {"reason": "resolved"})]:
        stage(action, lambda action=action, body=body: api.post(f"/tickets/{tid}/{action}", body, as_=agent))
    drain(assign_queue)
    total = sum(n for _, n, _ in stages)
    if not show:
        return
    print()
    print(f"AWS requests through one ticket's life (warm containers): {total} in all")
    print(f"{'stage':<36}{'total':>6}  detail")
    for label, n, detail in stages:
        print(f"{label:<36}{n:>6}  {detail}")


if __name__ == "__main__":
    main()
