"""Satisfaction surveys through the real handlers: scheduled on close, sent once by SES, SNS or
the channel's callback, answered once on the public page, counted in the day's aggregates."""

from __future__ import annotations

import re
import time
import uuid
from datetime import date, datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto.sns.models import sns_backends

from tests.conftest import drain, sent_email, sqs_batch
from tests.integration.test_delivery import callback_server, callback_url  # noqa: F401 (fixture)
from tests.support import Api, invoke, new_ticket, stored_ticket
from ticketflow import clock, sweep
from ticketflow.storage import config as config_store
from ticketflow.storage import directory as directory_store
from ticketflow.storage import stats
from ticketflow.surveys import dispatch
from ticketflow.surveys.rules import SurveyRules

api = Api()
LINK = re.compile(r"https://support\.example\.com/prod/surveys/([A-Za-z0-9_-]+)")
GOOD = {"attitude": "5", "speed": "4", "resolution": "5", "overall": "5", "nps": "10", "comment": "很满意，谢谢！"}
# What a browser sends with a form post.
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
QUEUED: dict[str, list[dict]] = {}


@pytest.fixture(autouse=True)
def no_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETFLOW_SURVEY_DELAY_SECONDS", "0")


def set_rules(**changes) -> None:
    from ticketflow import runtime_config

    rules = SurveyRules().model_dump(mode="json") | changes
    config_store.put_current("surveys", rules, version=time.monotonic_ns())
    runtime_config.reset()


def closed(stack, *, reason: str = "resolved", **fields) -> str:
    """A ticket worked by agent-1 and closed (the survey is scheduled by the close)."""
    customer = fields.pop("customer", None) or {
        "id": f"C-{uuid.uuid4().hex[:6]}",
        "name": "王芳",
        "email": f"w{uuid.uuid4().hex[:8]}@example.com",
    }
    tid = api.post("/tickets", new_ticket(customer=customer, **fields))[1]["id"]
    assert api.post(f"/tickets/{tid}/accept", as_="agent-1")[0] == 200
    assert api.post(f"/tickets/{tid}/reply", {"body": "已为您处理。"}, as_="agent-1")[0] == 200
    assert api.post(f"/tickets/{tid}/resolve", {"result": "已补发"}, as_="agent-1")[0] == 200
    assert api.post(f"/tickets/{tid}/close", {"reason": reason}, as_="agent-1")[0] == 200
    return tid


def ticket(tid: str) -> dict:
    return api.get(f"/tickets/{tid}", as_="sup-1")[1]


def survey_messages(stack, tid: str) -> list[dict]:
    """The survey queue's messages for ``tid`` (draining keeps the others' for their turn)."""
    for message in drain(stack["TICKETFLOW_QUEUE_SURVEY_URL"]):
        QUEUED.setdefault(message["data"]["ticket_id"], []).append(message)
    return QUEUED.pop(tid, [])


def send(stack, tid: str) -> dict:
    messages = survey_messages(stack, tid)
    assert messages, "closing should have queued the survey"
    assert invoke("survey_dispatch", sqs_batch(messages, "survey")) == {"batchItemFailures": []}
    return ticket(tid)["survey"]


def emailed_link(address: str) -> str:
    [message] = [m for m in sent_email() if address in m.destinations.get("ToAddresses", [])]
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(1)


def sent_survey(stack, **fields) -> tuple[str, str]:
    tid = closed(stack, **fields)
    send(stack, tid)
    return tid, emailed_link(ticket(tid)["customer"]["email"])


def answer(token: str, form: dict | None = None, **kwargs):
    body = "&".join(f"{k}={v}" for k, v in (GOOD if form is None else form).items())
    return api.post(f"/surveys/{token}", raw_body=body, headers=FORM, **kwargs)


# Scheduling and dispatch


def test_closing_as_resolved_schedules_one_survey_after_the_delay(stack, monkeypatch):
    monkeypatch.delenv("TICKETFLOW_SURVEY_DELAY_SECONDS")
    before = clock.now()
    tid = closed(stack)
    survey = ticket(tid)["survey"]
    assert survey["state"] == "scheduled" and survey["trigger"] == "close"
    due = datetime.fromisoformat(survey["due_at"])
    assert timedelta(minutes=4, seconds=59) < due - before < timedelta(minutes=5, seconds=5)
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack["TICKETFLOW_QUEUE_SURVEY_URL"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"  # SQS holds it until it is due


def test_closing_a_duplicate_or_customer_cause_sends_no_survey(stack):
    tid = api.post("/tickets", new_ticket())[1]["id"]
    api.post(f"/tickets/{tid}/accept", as_="agent-1")
    assert api.post(f"/tickets/{tid}/close", {"reason": "duplicate"}, as_="agent-1")[0] == 200
    assert ticket(tid)["survey"] is None and survey_messages(stack, tid) == []


def test_the_survey_is_emailed_once_under_duplicate_delivery_with_html_text_and_the_agent(stack):
    tid = closed(stack)
    messages = survey_messages(stack, tid)
    before = len(sent_email())
    # The same message twice in a batch, then the whole batch again (SQS delivers at least once).
    assert invoke("survey_dispatch", sqs_batch(messages * 2, "survey")) == {"batchItemFailures": []}
    assert invoke("survey_dispatch", sqs_batch(messages, "survey")) == {"batchItemFailures": []}
    emails = sent_email()[before:]
    assert len(emails) == 1
    data = ticket(tid)
    survey = data["survey"]
    assert survey["state"] == "sent" and survey["channel"] == "email"
    assert survey["agent"] == "agent-1" and survey["team"] == "presales"  # who handled it, at send time
    assert survey["recipient"].startswith(data["customer"]["email"][0]) and "***@" in survey["recipient"]
    assert emails[0].subject == f"请为本次服务评分：工单 {data['number']}"
    assert "为本次服务评分" in emails[0].body and LINK.search(emails[0].body)
    assert [h["action"] for h in data["history"]].count("survey_sent") == 1


def test_the_plain_text_part_carries_the_link_too(stack):
    from moto.ses.models import ses_backends

    tid = closed(stack, language="en", description="Where is my parcel?")
    send(stack, tid)
    address = ticket(tid)["customer"]["email"]
    [message] = [m for m in ses_backends["123456789012"]["us-east-1"].sent_messages if address in str(m.destinations)]
    assert message.subject.startswith("How did we do? Ticket CS")
    assert "Rate our service" in message.body


def test_an_sms_customer_gets_a_short_text_with_the_whole_link(stack):
    phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
    tid = closed(stack, channel="sms", customer={"id": f"C-{uuid.uuid4().hex[:6]}", "name": "李雷", "phone": phone})
    set_rules(sms_quiet_hours=None)
    assert send(stack, tid)["channel"] == "sms"
    [text] = [t for p, t in sns_backends["123456789012"]["us-east-1"].sms_messages.values() if p == phone]
    found = LINK.search(text)
    assert text.startswith("【客服中心】您的工单CS") and found
    assert len(found.group(1)) >= 27  # 160 random bits, whole


def test_sms_waits_for_the_end_of_quiet_hours(stack):
    from zoneinfo import ZoneInfo

    phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
    tid = closed(stack, channel="sms", customer={"id": f"C-{uuid.uuid4().hex[:6]}", "name": "李雷", "phone": phone})
    set_rules(sms_quiet_hours={"start": "21:00", "end": "09:00", "timezone": "Asia/Shanghai"})
    shanghai = ZoneInfo("Asia/Shanghai")
    tomorrow = (clock.now().astimezone(shanghai) + timedelta(days=1)).date()
    night = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 23, 30, tzinfo=shanghai)
    assert dispatch.dispatch(tid, night) == "deferred"
    survey = ticket(tid)["survey"]
    morning = night.replace(hour=9, minute=0) + timedelta(days=1)
    assert survey["state"] == "scheduled" and datetime.fromisoformat(survey["due_at"]) == morning
    assert dispatch.dispatch(tid, morning - timedelta(minutes=30)) == "not yet due"
    assert dispatch.dispatch(tid, morning + timedelta(minutes=1)) == "sent"
    assert [t for p, t in sns_backends["123456789012"]["us-east-1"].sms_messages.values() if p == phone]


def test_an_in_app_channel_gets_the_survey_on_its_callback(stack, callback_server):  # noqa: F811
    customer = {"id": f"C-{uuid.uuid4().hex[:6]}", "name": "App user"}
    tid = closed(stack, channel="app", customer=customer, metadata={"callback_url": callback_url(callback_server)})
    assert send(stack, tid)["channel"] == "callback"
    [(_, _, payload)] = callback_server.received
    assert payload["type"] == "survey" and LINK.match(payload["url"]) and payload["number"] == ticket(tid)["number"]


def test_a_failing_provider_is_retried_and_still_sends_once(stack, callback_server):  # noqa: F811
    customer = {"id": f"C-{uuid.uuid4().hex[:6]}", "name": "App user"}
    tid = closed(stack, channel="app", customer=customer, metadata={"callback_url": callback_url(callback_server)})
    messages = survey_messages(stack, tid)
    callback_server.status = 503
    with pytest.raises(BatchProcessingError):  # the whole batch failed: Lambda reports an error, SQS retries
        invoke("survey_dispatch", sqs_batch(messages, "survey"))
    assert ticket(tid)["survey"]["state"] == "scheduled"
    callback_server.status = 204
    assert invoke("survey_dispatch", sqs_batch(messages, "survey")) == {"batchItemFailures": []}
    assert invoke("survey_dispatch", sqs_batch(messages, "survey")) == {"batchItemFailures": []}
    assert len(callback_server.received) == 2  # the refused attempt and the one that went through
    assert ticket(tid)["survey"]["state"] == "sent"


def test_a_customer_is_surveyed_at_most_once_per_cooldown(stack):
    customer = {"id": f"C-{uuid.uuid4().hex[:6]}", "name": "王芳", "email": f"w{uuid.uuid4().hex[:8]}@example.com"}
    first, second = closed(stack, customer=dict(customer)), closed(stack, customer=dict(customer))
    assert send(stack, first)["state"] == "sent"
    skipped = send(stack, second)
    assert skipped["state"] == "skipped" and "cooldown 7 days" in skipped["reason"]
    set_rules(cooldown_days=0)
    third = closed(stack, customer=dict(customer))
    assert send(stack, third)["state"] == "sent"


def test_sampling_and_selection_rules_decide_and_say_why(stack):
    set_rules(sample_rate=0.0)
    tid = closed(stack)
    skipped = send(stack, tid)
    assert skipped["state"] == "skipped" and skipped["reason"] == "not in the 0% sample"
    assert "survey_skipped" in [h["action"] for h in ticket(tid)["history"]]
    set_rules(channels=["email"])
    web = closed(stack)
    assert send(stack, web)["reason"] == "channel web is not surveyed"
    # An agent may still ask by hand: that skips selection and sampling.
    status, body = api.post(f"/tickets/{web}/survey", {"reason": "客户希望反馈意见"}, as_="agent-1")
    assert status == 200 and body["survey"]["trigger"] == "manual"
    assert send(stack, web)["state"] == "sent"
    status, body = api.post(f"/tickets/{web}/survey", {"reason": "again"}, as_="agent-1")
    assert status == 409 and body["error"]["code"] == "survey_exists"


def test_sampling_is_stable_and_close_to_its_rate():
    from ticketflow.surveys.rules import in_sample

    ids = [str(uuid.uuid4()) for _ in range(4000)]
    chosen = [i for i in ids if in_sample(i, 0.25)]
    assert 0.22 < len(chosen) / len(ids) < 0.28
    assert chosen == [i for i in ids if in_sample(i, 0.25)]


def test_reopening_before_it_goes_cancels_the_survey_and_a_new_close_schedules_it_again(stack):
    tid = closed(stack)
    messages = survey_messages(stack, tid)
    assert api.post(f"/tickets/{tid}/reopen", {"reason": "还是没收到"}, as_="agent-1")[0] == 200
    assert ticket(tid)["survey"]["state"] == "cancelled"
    assert invoke("survey_dispatch", sqs_batch(messages, "survey")) == {"batchItemFailures": []}
    assert ticket(tid)["survey"]["state"] == "cancelled"  # the late message sends nothing
    api.post(f"/tickets/{tid}/resolve", {"result": "已重新补发"}, as_="agent-1")
    api.post(f"/tickets/{tid}/close", {"reason": "resolved"}, as_="agent-1")
    assert send(stack, tid)["state"] == "sent"


def test_a_lost_message_or_a_long_delay_is_sent_by_the_sweep(stack, monkeypatch):
    monkeypatch.setenv("TICKETFLOW_SURVEY_DELAY_SECONDS", str(24 * 3600))  # longer than SQS can delay
    tid = closed(stack)
    assert survey_messages(stack, tid) == []
    due = ticket(tid)["survey"]["due_at"]
    early = sweep.run(clock.now() + timedelta(hours=23))
    assert early.surveys == 0
    report = sweep.run(clock.now() + timedelta(hours=24, minutes=2))
    assert report.surveys == 1
    assert ticket(tid)["survey"]["redriven_at"] > due
    with_sweep_time = clock.now() + timedelta(hours=24, minutes=2)
    messages = survey_messages(stack, tid)
    assert len(messages) == 1
    monkeypatch.setattr(clock, "now", lambda: with_sweep_time)
    assert invoke("survey_dispatch", sqs_batch(messages, "survey")) == {"batchItemFailures": []}
    assert ticket(tid)["survey"]["state"] == "sent"


# The page and the answer


def test_opening_the_link_shows_the_form_and_records_nothing(stack):
    tid, token = sent_survey(stack)
    version = ticket(tid)["version"]
    for _ in range(3):  # mail scanners open links
        status, html = api.get(f"/surveys/{token}")
        assert status == 200 and '<form id="survey" method="post"' in html
    assert ticket(tid)["version"] == version
    assert ticket(tid)["survey"]["state"] == "sent"
    for label in ("服务态度", "响应速度", "问题解决效果", "整体满意度"):
        assert label in html
    assert ticket(tid)["number"] in html
    customer = ticket(tid)["customer"]
    assert customer["email"] not in html and customer["name"] not in html  # no personal data on the page


def test_the_page_sends_a_strict_content_security_policy(stack):
    _, token = sent_survey(stack)
    response = invoke("survey_api", _get_event(token))
    headers = {k.lower(): v[-1] for k, v in response["multiValueHeaders"].items()}
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "script-src 'sha256-" in csp
    assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"
    assert headers["content-type"].startswith("text/html")


def _get_event(token: str) -> dict:
    from events.generate import api_event

    event = api_event("GET", "/surveys/{token}", auth="public")
    event["path"] = f"/surveys/{token}"
    event["pathParameters"] = {"token": token}
    return event


def test_an_answer_is_stored_once_and_shows_on_the_ticket(stack):
    tid, token = sent_survey(stack)
    status, html = answer(token)
    assert status == 200 and "感谢您的评价" in html
    survey = ticket(tid)["survey"]
    assert survey["state"] == "answered"
    assert survey["scores"] == {"attitude": 5, "speed": 4, "resolution": 5, "overall": 5}
    assert survey["nps"] == 10 and survey["comment"] == "很满意，谢谢！" and survey["recovery"] is None
    status, html = answer(token, {**GOOD, "attitude": "1"})
    assert status == 409 and "您已经评价过了" in html
    assert ticket(tid)["survey"]["scores"]["attitude"] == 5
    status, html = api.get(f"/surveys/{token}")
    assert status == 200 and "您已经评价过了" in html


def test_an_app_may_answer_in_json_and_gets_json_errors(stack):
    _, token = sent_survey(stack)
    status, body = api.post(f"/surveys/{token}", {"attitude": 4, "speed": 4, "resolution": 4, "overall": 6})
    assert status == 422 and body["error"]["details"][0]["field"] == "overall"
    status, body = api.post(f"/surveys/{token}", {"attitude": 4, "speed": 4, "resolution": 4, "overall": 4, "x": 1})
    assert status == 422 and body["error"]["details"][0]["field"] == "x"
    status, body = api.post(f"/surveys/{token}", {"attitude": 4, "speed": 4, "resolution": 4, "overall": 4})
    assert status == 200 and body == {"state": "answered"}
    status, body = api.post(f"/surveys/{token}", {"attitude": 4, "speed": 4, "resolution": 4, "overall": 4})
    assert status == 409 and body["error"]["code"] == "survey_already_answered"


def test_missing_and_invalid_fields_are_named_and_the_choices_kept(stack):
    tid, token = sent_survey(stack)
    status, html = answer(token, {"attitude": "5", "speed": "9", "overall": "4", "comment": "好"})
    assert status == 422
    assert "请为「响应速度」选择 1 到 5 分" in html and "请为「问题解决效果」选择 1 到 5 分" in html
    assert 'id="attitude-5" name="attitude" value="5" checked' in html  # the customer's choice survives
    assert ticket(tid)["survey"]["state"] == "sent"  # nothing half-written


def test_the_comment_is_at_most_200_characters(stack):
    tid, token = sent_survey(stack)
    status, html = answer(token, {**GOOD, "comment": "好" * 201})
    assert status == 422 and "留言最多 200 字（现在 201 字）" in html
    assert ticket(tid)["survey"]["state"] == "sent"
    status, _ = answer(token, {**GOOD, "comment": "好" * 200})
    assert status == 200 and ticket(tid)["survey"]["comment"] == "好" * 200


def test_an_expired_link_says_so_and_stores_nothing(stack, monkeypatch):
    tid, token = sent_survey(stack)
    later = clock.now() + timedelta(days=7, minutes=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    status, html = api.get(f"/surveys/{token}")
    assert status == 410 and "评价链接已过期" in html
    status, _ = answer(token)
    assert status == 410 and ticket(tid)["survey"]["state"] == "sent"


def test_forged_and_malformed_tokens_find_nothing(stack):
    sent_survey(stack)
    for token in ("A" * 27, "not-a-token!", "x", "%2E%2E%2Ftickets"):
        status, html = api.get(f"/surveys/{token}")
        assert status == 404 and "链接无效" in html
        assert answer(token)[0] == 404


def test_english_customers_get_the_page_in_english_and_anyone_may_switch(stack):
    _, token = sent_survey(stack, language="en", description="Where is my parcel?")
    status, html = api.get(f"/surveys/{token}")
    assert status == 200 and 'lang="en"' in html and "Service attitude" in html
    _, html = api.get(f"/surveys/{token}", query={"lang": "zh"})
    assert 'lang="zh-CN"' in html and "服务态度" in html


def test_a_low_score_opens_one_recovery_ticket_for_the_supervisor_with_its_own_sla(stack):
    tid, token = sent_survey(stack)
    load_before = directory_store.agent_states(["sup-1"]).get("sup-1")
    status, _ = answer(token, {**GOOD, "resolution": "2", "comment": "问题没有解决"})
    assert status == 200
    survey = ticket(tid)["survey"]
    assert survey["recovery"] == "opened" and survey["recovery_ticket"].startswith("CS")
    recovery = ticket(survey["recovery_ticket"])
    assert recovery["assignee"] == "sup-1" and recovery["status"] == "assigned"
    assert (recovery["category"], recovery["subcategory"], recovery["priority"]) == (
        "proactive",
        "satisfaction_followup",
        "P2",
    )
    assert recovery["metadata"]["recovery_for"] == ticket(tid)["number"]
    assert "问题解决效果 2/5" in recovery["description"] and "问题没有解决" in recovery["description"]
    assert recovery["sla"]["clocks"]["first_response"]["due_at"]
    load_after = directory_store.agent_states(["sup-1"])["sup-1"]
    assert load_after.load == (load_before.load if load_before else 0) + 1
    # Opening it again (the sweep's safety net, a retry) finds the same ticket.
    from ticketflow.surveys import recovery as recovery_module

    rated = stored_ticket(tid)
    assert rated.survey is not None
    again = recovery_module.open_for(
        rated.model_copy(update={"survey": rated.survey.model_copy(update={"recovery": "pending"})})
    )
    assert again is not None and again.number == recovery["number"]


def test_answers_feed_the_days_aggregates_exactly_once(stack):
    _, token = sent_survey(stack)
    today = stats.business_day(clock.now())
    before = stats.read("AGENT", "agent-1", today, today).get(today, {})
    answer(token, {**GOOD, "attitude": "3", "nps": "6"})
    answer(token)  # refused: counts nothing
    after = stats.read("AGENT", "agent-1", today, today)[today]

    def delta(key: str) -> int:
        return after.get(key, 0) - before.get(key, 0)

    assert delta("csat_count") == 1 and delta("csat_attitude_sum") == 3 and delta("csat_attitude_3") == 1
    assert delta("csat_speed_4") == 1 and delta("csat_overall_sum") == 5
    assert delta("nps_count") == 1 and delta("nps_detractors") == 1 and delta("nps_6") == 1
    assert delta("csat_comments") == 1 and delta("csat_low") == 0
    assert delta("surveys_sent") == 0  # counted when sent, before `before` was read
    all_days = stats.read("ALL", "", today - timedelta(days=1), today)
    assert all_days[today]["csat_count"] >= 1 and all_days[today]["surveys_sent"] >= 1
    assert isinstance(next(iter(all_days)), date)


# Races, on AWS's own DynamoDB (moto does not serialise concurrent transactions)


def test_racing_dispatchers_send_one_survey_and_racing_answers_store_one(real_dynamodb_stack):
    from concurrent.futures import ThreadPoolExecutor

    from ticketflow.surveys import answers

    stack = real_dynamodb_stack
    tid = closed(stack)
    survey_messages(stack, tid)
    before = len(sent_email())
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: dispatch.dispatch(tid), range(4)))
    assert outcomes.count("sent") == 1, outcomes
    assert len(sent_email()) - before == 1
    token = emailed_link(ticket(tid)["customer"]["email"])
    answer_ = answers.SurveyAnswer(attitude=4, speed=4, resolution=4, overall=4)

    def submit(_: int) -> str:
        try:
            answers.submit(token, answer_)
            return "stored"
        except Exception as error:  # the losers: already answered (or a conflict to retry)
            return type(error).__name__

    today = stats.business_day(clock.now())
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(submit, range(4)))
    assert results.count("stored") == 1, results
    assert stats.read("ALL", "", today, today)[today]["csat_count"] == 1
