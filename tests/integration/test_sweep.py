"""The SLA sweep against the emulated table: notices once each, in order, to the right people;
pauses; the owner timer; the safety net; exactly-once under concurrent sweeps (DynamoDB Local)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from tests.conftest import drain, sent_email, sqs_batch
from tests.support import Api, invoke, live_version, new_ticket, nobody_free, stored_person, stored_ticket
from ticketflow import assignment, clock, sweep
from ticketflow.storage import directory as directory_store
from ticketflow.storage import tickets as ticket_store

api = Api()
P1_TEXT = "吃了你们的保健品后全身过敏起疹子，已经去医院了！"


def classified(stack, description: str = P1_TEXT, **fields) -> dict:
    tid = api.post("/tickets", new_ticket(**{"description": description, "subject": None, **fields}))[1]["id"]
    invoke("classify", sqs_batch(drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])))
    return api.get(f"/tickets/{tid}", as_="sup-1")[1]


def created_at(ticket: dict):
    return stored_ticket(ticket["id"]).created_at


def emails_to(address: str, since: int) -> list:
    return [e for e in sent_email()[since:] if e.destinations["ToAddresses"] == [address]]


def actions(tid: str) -> list[str]:
    return [h["action"] for h in api.get(f"/tickets/{tid}", as_="sup-1")[1]["history"]]


def test_an_unanswered_p1_is_warned_then_breached_then_escalated_once_each(stack):
    ticket = classified(stack)
    tid, start = ticket["id"], created_at(ticket)
    assert ticket["priority"] == "P1"
    sla = api.get(f"/tickets/{tid}/sla", as_="sup-1")[1]
    assert sla["policy"] == "p1-urgent" and sla["targets"]["first_response"]["minutes"] == 120
    before = len(sent_email())

    assert sweep.run(start + timedelta(minutes=80)).notices == 0  # nothing owed yet
    # 75 % of the 120-minute first response (90 min) has passed; resolution (1,440 min) is far off
    assert sweep.run(start + timedelta(minutes=91)).notices == 1
    assert actions(tid).count("sla_warning") == 1
    assert sweep.run(start + timedelta(minutes=95)).notices == 0  # already sent
    assert sweep.run(start + timedelta(minutes=121)).notices == 1
    t = api.get(f"/tickets/{tid}", as_="sup-1")[1]
    assert t["escalated"] is True and actions(tid).count("sla_breach") == 1
    assert len(emails_to("sup-1@ticketflow.example", before)) >= 1  # the breach (and the warning: no assignee)
    assert sweep.run(start + timedelta(minutes=181)).notices == 1
    assert actions(tid).count("sla_escalation") == 1
    assert len(emails_to("admin-1@ticketflow.example", before)) == 1  # the manager hears of level 2
    view = api.get(f"/tickets/{tid}/sla", as_="sup-1")[1]["targets"]["first_response"]
    assert view["outcome"] == "breached" and view["notified"] == ["warning", "breach", "escalation"]
    listed = api.get("/tickets", as_="sup-1", query={"customer": "C-1", "escalated": "true"})[1]["items"]
    assert tid in [t["id"] for t in listed]


def test_a_human_reply_meets_the_first_response_and_silences_it(stack):
    ticket = classified(stack)
    tid, start = ticket["id"], created_at(ticket)
    api.post(f"/tickets/{tid}/accept", as_="agent-4")
    api.post(f"/tickets/{tid}/reply", {"body": "我们马上处理，请先停用产品"}, as_="agent-4")
    assert sweep.run(start + timedelta(minutes=130)).notices == 0
    view = api.get(f"/tickets/{tid}/sla", as_="sup-1")[1]["targets"]
    assert view["first_response"]["outcome"] == "met"
    assert view["resolution"]["status"] == "running"


def test_an_automatic_reply_does_not_meet_the_first_response(stack):
    ticket = classified(stack, "请问你们客服几点上班？营业时间是几点到几点")
    assert ticket["auto_reply"]["state"] == "sent"
    view = api.get(f"/tickets/{ticket['id']}/sla", as_="sup-1")[1]["targets"]
    assert view["first_response"]["met_at"] is None and view["first_response"]["status"] == "running"


def test_pending_customer_pauses_the_resolution_clock_and_resume_moves_it(stack):
    ticket = classified(stack, "这款耳机支持降噪吗？")
    tid = ticket["id"]
    api.post(f"/tickets/{tid}/accept", as_="agent-1")
    due = api.get(f"/tickets/{tid}/sla", as_="sup-1")[1]["targets"]["resolution"]["due_at"]
    api.post(f"/tickets/{tid}/pending", {"reason": "waiting for the model number"}, as_="agent-1")
    paused = api.get(f"/tickets/{tid}/sla", as_="sup-1")[1]["targets"]["resolution"]
    assert paused["status"] == "paused" and paused["pauses"][0]["end"] is None
    time.sleep(1.2)
    api.post(f"/tickets/{tid}/resume", as_="agent-1")
    resumed = api.get(f"/tickets/{tid}/sla", as_="sup-1")[1]["targets"]
    assert resumed["resolution"]["status"] == "running" and resumed["resolution"]["pauses"][0]["end"]
    assert resumed["resolution"]["due_at"] > due  # the pause moved it
    assert resumed["next_response"]["status"] == "running"  # the customer answered: we owe a reply


def test_the_owner_timer_returns_an_unaccepted_ticket_to_the_queue(stack):
    ticket = classified(stack, "我的快递三天了还没到，物流也不更新")
    tid = ticket["id"]
    agent = assignment.assign_waiting_ticket(tid).agent
    assert agent and directory_store.agent_states([agent])[agent].load == 1
    assigned_at = stored_ticket(tid).assigned_at
    assert assigned_at is not None
    report = sweep.run(assigned_at + timedelta(minutes=31))
    assert report.returned_to_queue == 1
    t = stored_ticket(tid)
    assert t.status.value == "classified" and t.assignee is None
    assert directory_store.agent_states([agent])[agent].load == 0
    assert "owner_timeout" in actions(tid)
    assert any(m["data"]["ticket_id"] == tid for m in drain(stack["TICKETFLOW_QUEUE_ASSIGN_URL"]))


def test_a_forgotten_new_ticket_is_redriven_once_per_period(stack):
    tid = api.post("/tickets", new_ticket())[1]["id"]
    drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])  # the message is lost
    start = stored_ticket(tid).created_at
    assert sweep.run(start + timedelta(minutes=5)).redriven == 0
    assert sweep.run(start + timedelta(minutes=11)).redriven == 1
    assert sweep.run(start + timedelta(minutes=12)).redriven == 0
    assert [m["data"]["ticket_id"] for m in drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])] == [tid]


def due_anywhere(tid: str, at) -> bool:
    return any(tid == item.ticket_id for shard in range(8) for item in ticket_store.due(shard, at))


def test_a_backlog_waiting_for_room_costs_the_sweep_one_look_per_team(stack):
    """Tickets waiting in a full team queue are not re-driven one by one (that storm never
    settled under a load test's backlog): they stay out of the sweep's index and are written
    by nobody until an agent has room; then the sweep's fill assigns them, lost messages or not."""
    nobody_free()
    waiting = [classified(stack, "这款耳机支持降噪吗？") for _ in range(4)]
    drain(stack["TICKETFLOW_QUEUE_ASSIGN_URL"])  # their ticket.classified messages: lost
    start = max(created_at(t) for t in waiting)
    versions = {t["id"]: stored_ticket(t["id"]).version for t in waiting}
    for minutes in (11, 21, 31, 61):
        report = sweep.run(start + timedelta(minutes=minutes))
        assert (report.due, report.redriven, report.assigned, report.errors) == (0, 0, 0, 0)
    assert {tid: stored_ticket(tid).version for tid in versions} == versions
    assert not any(due_anywhere(tid, start + timedelta(minutes=61)) for tid in versions)
    assert drain(stack["TICKETFLOW_QUEUE_ASSIGN_URL"]) == []

    team = stored_ticket(waiting[0]["id"]).team
    assert team is not None
    agent = next(p.id for p in directory_store.team_members(team) if p.role.value == "agent")
    directory_store.set_availability(agent, online=True)  # room again, and its message lost too
    clock.travel(start + timedelta(minutes=62))  # assignments are stamped with the clock's time
    try:
        assert sweep.run().assigned == len(waiting)  # within the agent's capacity
    finally:
        clock.travel(None)
    assert {stored_ticket(tid).assignee for tid in versions} == {agent}
    assert all("assign" in actions(tid) and "redrive" not in actions(tid) for tid in versions)


def test_a_ticket_due_under_an_old_setting_leaves_the_index_without_a_write(stack):
    tid = api.post("/tickets", new_ticket())[1]["id"]
    drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])  # lost: the safety net is due in 10 minutes
    start, version = stored_ticket(tid).created_at, stored_ticket(tid).version
    live_version("sla", stuck_minutes=60)

    report = sweep.run(start + timedelta(minutes=11))
    assert (report.due, report.redriven) == (1, 0)  # found under the old key; nothing to do yet
    assert stored_ticket(tid).version == version  # no write, no history entry
    assert not due_anywhere(tid, start + timedelta(minutes=59))  # its key moved to the new check
    assert sweep.run(start + timedelta(minutes=12)).due == 0
    assert sweep.run(start + timedelta(minutes=61)).redriven == 1
    assert [m["data"]["ticket_id"] for m in drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])] == [tid]


def test_closed_tickets_leave_the_sweep_index(stack):
    ticket = classified(stack, "这款耳机支持降噪吗？")
    tid, start = ticket["id"], created_at(ticket)
    api.post(f"/tickets/{tid}/close", {"reason": "duplicate"}, as_="sup-1")
    far = start + timedelta(days=30)
    assert not due_anywhere(tid, far)


def test_concurrent_sweeps_send_each_notice_once(real_dynamodb_stack):
    stack = real_dynamodb_stack
    tickets = [classified(stack) for _ in range(3)]
    start = max(created_at(t) for t in tickets)
    before = len(sent_email())
    reports = []
    barrier = threading.Barrier(4)

    def sweeper() -> None:
        barrier.wait()
        reports.append(sweep.run(start + timedelta(minutes=125)))

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.notices for r in reports) == 6  # warning + breach for each of 3 tickets, once
    for t in tickets:
        acts = actions(t["id"])
        assert acts.count("sla_warning") == 1 and acts.count("sla_breach") == 1
    breach_mails = [e for e in sent_email()[before:] if "breach" in e.subject]
    assert len(breach_mails) == 3


def test_non_urgent_notices_wait_for_the_end_of_quiet_hours_and_p1_also_goes_by_sms(stack):
    from moto.sns.models import sns_backends

    from ticketflow.directory import QuietHours

    # sup-1 sleeps around the clock here; has a phone
    sup = stored_person("sup-1")
    everything = QuietHours(start="00:00", end="23:59", timezone="UTC")
    directory_store.put_person(sup.model_copy(update={"quiet_hours": everything, "phone": "+8613900000009"}))
    directory_store.clear_cache()
    nobody_free()

    routine = classified(stack, "这款耳机支持降噪吗？")  # P3, nobody assigned: its warning goes to sup-1
    routine_sla = stored_ticket(routine["id"]).sla
    assert routine_sla is not None
    warn_at = routine_sla.clocks["first_response"].warn_at
    assert warn_at is not None
    assert sweep.run(warn_at + timedelta(minutes=1)).notices == 0  # deferred, still due
    assert "sla_warning" not in actions(routine["id"])

    sms_before = len(sns_backends["123456789012"]["us-east-1"].sms_messages)
    urgent = classified(stack)  # P1: sent in quiet hours too, and by SMS
    assert sweep.run(created_at(urgent) + timedelta(minutes=91)).notices >= 1
    assert "sla_warning" in actions(urgent["id"])
    sms = list(sns_backends["123456789012"]["us-east-1"].sms_messages.values())[sms_before:]
    assert any("warning" in message for _, message, *_ in sms)
