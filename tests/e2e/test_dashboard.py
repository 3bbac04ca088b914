"""The supervisors' dashboard end to end: a few tickets worked over HTTP on `ticketflow dev`
(one closed and rated), then the page in a real headless Chromium (Debian's). Every card and
the agents table must say what GET /reports/* says; without a token the page asks for one and
fetches nothing; an agent's token gets "supervisors only". Screenshots land in
artifacts/screenshots/dashboard-*.png."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import SCREENSHOTS, LocalStack, launch

pytestmark = pytest.mark.e2e

SUPERVISOR = ("sup-1", "supervisor")
AGENT = ("agent-1", "agent")
LINK = re.compile(r"http://127\.0\.0\.1:\d+/surveys/([A-Za-z0-9_-]+)")
KPIS = {  # data-kpi -> where the summary report has it
    "created": ("tickets", "created"),
    "resolved": ("tickets", "resolved"),
    "backlog": ("backlog", "open"),
    "frt_p50": ("first_response_time", "p50_s"),
    "aht": ("handle_time", "mean_s"),
    "fcr": ("first_contact_resolution", "rate"),
    "sla": ("sla", "all", "compliance"),
    "csat": ("csat", "mean"),
    "nps": ("nps", "score"),
    "auto_reply": ("auto_reply_rate",),
}
# (team it should reach, description, how far it is worked)
TICKETS = (
    ("presales", "请问这款扫地机器人的规格参数是什么？支持APP控制吗", "close"),
    ("logistics", "我的快递三天了还没到，物流也不更新，麻烦帮忙查一下", "resolve"),
    ("aftersales", "收到的杯子有裂缝，希望换货，请尽快处理", "reply"),
    ("presales", "想了解一下你们的会员价格和优惠活动", "resolve"),
    ("logistics", "订单一直显示待发货，什么时候能发出", None),
)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with launch(TICKETFLOW_SURVEY_DELAY_SECONDS="1") as s:
        yield s


def work(s: LocalStack, description: str, until: str | None) -> dict:
    run = uuid.uuid4().hex[:6]
    new = {
        "channel": "email",
        "customer": {"id": f"C-{run}", "name": "周婷", "email": f"zhou.{run}@example.com"},
        "description": description,
        "language": "zh-CN",
    }
    created = s.request("POST", "/tickets", channel=True, json=new)
    assert created.status_code == 201, created.text
    tid = created.json()["id"]
    deadline = time.monotonic() + 10
    while (ticket := s.request("GET", f"/tickets/{tid}", as_=SUPERVISOR).json())["assignee"] is None:
        assert time.monotonic() < deadline, ticket
        time.sleep(0.1)
    if until is None:
        return ticket
    owner = (ticket["assignee"], "agent")
    steps = [("accept", None), ("reply", {"body": "您好，已为您处理，请查收。"})]
    steps += [("resolve", {"result": "已处理"})] if until in ("resolve", "close") else []
    steps += [("close", {"reason": "resolved"})] if until == "close" else []
    for action, body in steps:
        response = s.request("POST", f"/tickets/{tid}/{action}", as_=owner, json=body)
        assert response.status_code == 200, (action, response.text)
    return response.json()


def answer_survey(s: LocalStack, ticket: dict) -> None:
    address = ticket["customer"]["email"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in s.request("GET", "/dev/outbox").json()["email"]:
            if address in message["to"] and (found := LINK.search(message["body"] or "")):
                answer = {"attitude": 5, "speed": 4, "resolution": 5, "overall": 4, "nps": 9}
                response = s.request("POST", f"/surveys/{found.group(1)}", json=answer)
                assert response.status_code == 200, response.text
                return
        time.sleep(0.2)
    raise AssertionError("no survey email in the outbox")


@pytest.fixture(scope="module")
def worked(stack: LocalStack) -> dict:
    tickets = [work(stack, description, until) for _, description, until in TICKETS]
    answer_survey(stack, tickets[0])
    return {"tickets": tickets}


def report(s: LocalStack, kind: str, **query: str) -> dict:
    response = s.request("GET", f"/reports/{kind}", as_=SUPERVISOR, params=query)
    assert response.status_code == 200, response.text
    return response.json()


def figure(summary: dict, path: tuple[str, ...]):
    value = summary
    for key in path:
        value = value[key]
    return value


def pct(rate: float | None) -> str:
    """The page's percentages: one decimal at most."""
    return "—" if rate is None else f"{round(rate * 100, 1):g}%"


def open_page(browser, *, locale: str = "zh-CN", width: int = 1440):
    context = browser.new_context(
        viewport={"width": width, "height": 900}, device_scale_factor=1, locale=locale, reduced_motion="reduce"
    )
    page = context.new_page()
    problems: list[str] = []
    reports: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: reports.append(r.url) if "/reports/" in r.url else None)
    return context, page, problems, reports


def ready(page) -> None:
    page.wait_for_selector("body[data-state=ready]", timeout=15_000)


def cards(page) -> dict[str, tuple[str, str]]:
    """data-kpi -> (displayed text, raw value)."""
    return page.eval_on_selector_all(
        "[data-kpi]", "els => Object.fromEntries(els.map(e => [e.dataset.kpi, [e.textContent, e.dataset.value]]))"
    )


def raw(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def test_without_a_token_the_page_asks_for_one_and_fetches_nothing(stack, browser):
    context, page, problems, reports = open_page(browser)
    page.goto(f"{stack.base_url}/dashboard")
    page.wait_for_selector("body[data-state=signin]")
    assert page.get_by_role("heading", name="主管登录").is_visible()
    assert not page.locator("#board").is_visible()
    assert reports == [] and problems == [], (reports, problems)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-signin.png"))

    page.get_by_label("访问令牌").fill(f"Bearer {stack.token(*SUPERVISOR)}")
    page.get_by_role("button", name="进入看板").click()
    ready(page)
    assert reports and page.locator("#board").is_visible() and problems == []
    page.get_by_role("button", name="退出登录").click()
    assert page.locator("body").get_attribute("data-state") == "signin"
    assert page.evaluate("() => sessionStorage.getItem('ticketflow.dashboard.token')") is None
    context.close()


def test_an_agent_is_told_supervisors_only_and_a_bad_token_to_sign_in_again(stack, browser):
    context, page, problems, _ = open_page(browser)
    page.goto(f"{stack.base_url}/dashboard#token={stack.token(*AGENT)}")
    page.wait_for_selector("body[data-state=error][data-error=forbidden]")
    assert "#token" not in page.url  # out of the address bar at once
    assert "仅限主管和管理员" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("访问令牌").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "dashboard-forbidden.png"))

    page.goto(f"{stack.base_url}/dashboard?lang=en#token=forged.token.here")
    page.wait_for_selector("body[data-state=error][data-error=unauthorized]")
    assert "sign in again" in page.get_by_role("alert").inner_text()
    # The browser logs each refused fetch itself; nothing else may go wrong.
    assert len(problems) == 2 and all(re.search(r"\b40[13]\b", p) for p in problems), problems
    context.close()


def test_the_dashboard_shows_what_the_reports_say(stack, browser, worked):
    s = stack
    today = report(s, "summary")["period"]["to"]
    week = report(s, "summary")["period"]["from"]
    context, page, problems, reports = open_page(browser)
    page.goto(f"{s.base_url}/dashboard#token={s.token(*SUPERVISOR)}")
    ready(page)
    assert "#token" not in page.url

    summary = report(s, "summary", **{"from": today, "to": today})
    assert summary["tickets"]["created"] >= len(TICKETS) and summary["csat"]["answered"] == 1
    shown = cards(page)
    assert set(shown) == set(KPIS)
    for kpi, path in KPIS.items():
        assert shown[kpi][1] == raw(figure(summary, path)), (kpi, shown[kpi], figure(summary, path))
    assert shown["created"][0] == str(summary["tickets"]["created"])
    assert shown["resolved"][0] == str(summary["tickets"]["resolved"])
    assert shown["backlog"][0] == str(summary["backlog"]["open"])
    assert shown["fcr"][0] == pct(summary["first_contact_resolution"]["rate"])
    assert shown["sla"][0] == pct(summary["sla"]["all"]["compliance"])
    assert shown["csat"][0] == f"{summary['csat']['mean']:.1f} / 5"
    assert re.fullmatch(r"\d+ (秒|分钟)", shown["frt_p50"][0]), shown["frt_p50"]

    agents = report(s, "agents", **{"from": week, "to": today})
    resolved = page.eval_on_selector_all(
        "tbody tr[data-agent] td[data-col=resolved]", "tds => tds.map(td => Number(td.dataset.value))"
    )
    total = page.locator("tfoot tr[data-agent=TOTAL] td[data-col=resolved]")
    assert sum(resolved) == int(total.get_attribute("data-value")) == agents["totals"]["resolved"] >= 3
    assert total.inner_text() == str(agents["totals"]["resolved"])
    rows = {row["agent"]: row for row in agents["agents"]}
    for agent in page.eval_on_selector_all("tbody tr[data-agent]", "trs => trs.map(tr => tr.dataset.agent)"):
        cell = page.locator(f'tr[data-agent="{agent}"] td[data-col=open_now]')
        assert cell.get_attribute("data-value") == raw(rows[agent]["open_now"])
    assert page.locator("tbody th[scope=row]").count() == len(agents["agents"])

    drawn = page.evaluate(
        """() => [...document.querySelectorAll('canvas[data-chart]')]
            .filter(c => window.Chart.getChart(c) && c.width > 0 && c.getAttribute('role') === 'img')
            .map(c => c.getAttribute('aria-label'))"""
    )
    assert len(drawn) >= 4 and all("：" in label for label in drawn), drawn
    options = page.eval_on_selector_all("#team option", "os => os.map(o => o.value)")
    assert {"presales", "logistics", "aftersales"} <= set(options)
    # Every request went to reports/ relative to the page, with the token in a header only.
    assert reports and all(r.startswith(f"{s.base_url}/reports/") and "token" not in r for r in reports)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-zh.png"), full_page=True)

    # The CSV is fetched with the token and saved from a Blob URL.
    with page.expect_download() as download:
        page.locator("button[data-csv=agents]").click()
    saved = Path(download.value.path()).read_text("utf-8")
    assert download.value.suggested_filename == f"ticketflow-agents-{week}-{today}.csv"
    assert saved.startswith("\ufeffagent,") and "\nTOTAL," in saved

    # One team: the cards follow the filter.
    with page.expect_response(lambda r: "reports/agents" in r.url and "team=presales" in r.url):
        page.select_option("#team", "presales")
    ready(page)
    presales = report(s, "summary", **{"from": today, "to": today, "team": "presales"})
    assert cards(page)["created"][1] == raw(presales["tickets"]["created"]) != ""

    # English, in the same tab: the token is still in sessionStorage; the filter is kept.
    page.goto(f"{s.base_url}/dashboard?lang=en")
    ready(page)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Support dashboard").is_visible()
    assert page.get_by_role("columnheader", name="Resolved").is_visible()
    assert page.locator("#team").input_value() == "presales"
    page.select_option("#team", "")
    ready(page)
    assert cards(page)["resolved"][1] == raw(summary["tickets"]["resolved"])
    page.screenshot(path=str(SCREENSHOTS / "dashboard-en.png"), full_page=True)
    assert problems == [], problems  # no CSP violation, no script error
    context.close()

    # A phone: the same page, one column; it refreshes itself every minute.
    context, page, problems, reports = open_page(browser, width=390)
    page.clock.install()
    page.goto(f"{s.base_url}/dashboard#id_token={s.token(*SUPERVISOR)}")  # Cognito's hosted UI says id_token
    ready(page)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-zh-mobile.png"), full_page=True)
    before = len(reports)
    with page.expect_response(lambda r: "reports/agents" in r.url):
        page.clock.run_for(61_000)
    ready(page)
    assert len(reports) == before + 4  # today's date, today, the period's days, the agents
    assert problems == [], problems
    context.close()
