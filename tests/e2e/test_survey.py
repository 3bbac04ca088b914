"""A satisfaction survey end to end: close a ticket on `ticketflow dev`, find the survey email
in the local outbox, answer it in a real headless Chromium (Debian's), see the answer on the
ticket. Screenshots of the page in Chinese and English land in artifacts/screenshots/."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import SCREENSHOTS, LocalStack, launch

pytestmark = pytest.mark.e2e

SUPERVISOR = ("sup-1", "supervisor")
LINK = re.compile(r"http://127\.0\.0\.1:\d+/surveys/[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # A survey one second after the close instead of five minutes.
    with launch(TICKETFLOW_SURVEY_DELAY_SECONDS="1") as s:
        yield s


def close_a_ticket(s: LocalStack, customer_email: str) -> dict:
    new = {
        "channel": "email",
        "customer": {"id": f"C-{uuid.uuid4().hex[:6]}", "name": "陈静", "email": customer_email},
        "subject": "发票开错了",
        "description": "上周的订单发票抬头开错了，麻烦重新开一张。",
        "language": "zh-CN",
    }
    ticket = s.request("POST", "/tickets", channel=True, json=new).json()
    tid = ticket["id"]
    deadline = time.monotonic() + 10
    while (ticket := s.request("GET", f"/tickets/{tid}", as_=SUPERVISOR).json())["status"] == "new":
        assert time.monotonic() < deadline, ticket
        time.sleep(0.1)
    owner = (ticket["assignee"] or "sup-1", "agent" if ticket["assignee"] else "supervisor")
    for action, body in (
        ("accept", None),
        ("reply", {"body": "您好，发票已为您重开，请查收邮件。"}),
        ("resolve", {"result": "已重开发票"}),
        ("close", {"reason": "resolved"}),
    ):
        response = s.request("POST", f"/tickets/{tid}/{action}", as_=owner, json=body)
        assert response.status_code == 200, (action, response.text)
    return response.json()


def survey_link(email: dict) -> str:
    found = LINK.search(email["body"])
    assert found, email["body"]
    return found.group(0)


def survey_email(s: LocalStack, address: str, number: str) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in s.request("GET", "/dev/outbox").json()["email"]:
            if address in message["to"] and number in (message["subject"] or "") and "评分" in message["subject"]:
                return message
        time.sleep(0.2)
    raise AssertionError("no survey email in the outbox")


def test_close_email_answer_in_a_browser_and_see_it_on_the_ticket(stack, browser):
    s = stack
    address = f"chen.{uuid.uuid4().hex[:6]}@example.com"
    closed = close_a_ticket(s, address)
    assert closed["survey"]["state"] == "scheduled"
    email = survey_email(s, address, closed["number"])
    link = survey_link(email)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1, locale="zh-CN")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(link)
    assert page.title() == "服务满意度评价"
    assert page.get_by_role("group", name="服务态度 *").is_visible()
    assert closed["number"] in page.content() and "陈静" not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "survey-zh.png"), full_page=True)

    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.get_by_role("group", name="Service attitude *").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "survey-en.png"), full_page=True)

    # Opening the page (twice now) recorded nothing.
    assert s.request("GET", f"/tickets/{closed['id']}", as_=SUPERVISOR).json()["survey"]["state"] == "sent"

    for dimension, score in (("attitude", 5), ("speed", 4), ("resolution", 5), ("overall", 5)):
        page.locator(f"label[for={dimension}-{score}]").click()
        assert page.locator(f"#{dimension}-{score}").is_checked()
    page.locator("label[for=nps-9]").click()
    page.get_by_label("Anything else you would like to tell us? (optional)").fill("Quick and friendly, thanks")
    assert page.locator("#comment-count").inner_text() == "26 / 200"  # the script runs under the policy
    page.get_by_role("button", name="Send my rating").click()
    page.get_by_role("status").wait_for()
    assert "Thank you!" in page.get_by_role("status").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "survey-thanks-en.png"), full_page=True)
    assert problems == [], problems  # no CSP violation, no script error

    survey = s.request("GET", f"/tickets/{closed['id']}", as_=SUPERVISOR).json()["survey"]
    assert survey["state"] == "answered"
    assert survey["scores"] == {"attitude": 5, "speed": 4, "resolution": 5, "overall": 5}
    assert survey["nps"] == 9 and survey["comment"] == "Quick and friendly, thanks"

    page.goto(link)
    assert "您已经评价过了" in page.content()  # the link's language is the customer's
    context.close()


def test_the_form_works_without_javascript_and_names_what_is_missing(stack, browser):
    s = stack
    address = f"li.{uuid.uuid4().hex[:6]}@example.com"
    closed = close_a_ticket(s, address)
    link = survey_link(survey_email(s, address, closed["number"]))
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(link)
    page.locator("label[for=attitude-2]").click()
    page.locator("label[for=speed-1]").click()
    page.locator("label[for=resolution-2]").click()
    page.locator("label[for=overall-2]").click()
    page.get_by_role("button", name="提交评价").click()
    page.get_by_role("status").wait_for()
    assert "感谢您的评价" in page.get_by_role("status").inner_text()
    survey = s.request("GET", f"/tickets/{closed['id']}", as_=SUPERVISOR).json()["survey"]
    assert survey["state"] == "answered" and survey["recovery"] == "opened"
    recovery = s.request("GET", f"/tickets/{survey['recovery_ticket']}", as_=SUPERVISOR).json()
    assert recovery["assignee"] == "sup-1" and recovery["metadata"]["recovery_for"] == closed["number"]
    context.close()
