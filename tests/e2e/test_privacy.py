"""Privacy over HTTP against a real `ticketflow dev`, with everything it prints captured.

1. Two customers with distinctive names, email and phone numbers go through a whole life: intake
   (with an Idempotency-Key, and a replay), classification and the automatic answer, assignment,
   an agent's reply delivered by email and by SMS, a note, the close, the survey sent by email
   and by SMS and answered (the comment quoting a phone number), erasure at the end; plus error
   paths that carry their data in the wrong places (a 400, 422s, 404s, 409s). None of it may
   appear in the captured logs (Powertools JSON lines, EMF metrics, the gateway's request lines),
   in any error body, or in trace annotations (there is no tracer to record any).
2. The HTML pages (survey, dashboard): a strict Content-Security-Policy, nosniff, no referrer,
   inline code only by hash; in Debian's Chromium no CSP violation is reported while the survey
   is answered and the dashboard draws, and the survey page shows nothing personal, not in its
   HTML, its attributes nor its address.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ROOT, LocalStack, launch

pytestmark = pytest.mark.e2e

SUPERVISOR = ("sup-1", "supervisor")
ADMIN = ("admin-1", "admin")
# Daytime in Shanghai, so that the SMS survey is not held back by the quiet hours.
DAYTIME = "2026-11-10T10:00:00+08:00"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/surveys/([A-Za-z0-9_-]+)")


class Person:
    """A customer whose name, email and phone must never be printed or echoed."""

    def __init__(self, name: str, *, email: bool = True) -> None:
        run = uuid.uuid4().hex[:8]
        digits = f"{uuid.uuid4().int % 10**8:08d}"
        self.name = name
        self.email = f"ouyang.{run}@example.net" if email else None
        self.phone = f"+86 138-{digits[:4]}-{digits[4:]}"
        self.national = f"138{digits}"
        self.e164 = f"+86{self.national}"

    def needles(self) -> list[str]:
        found = [self.name, self.phone, self.national]
        if self.email:
            found += [self.email, self.email.split("@")[0]]
        return found

    def customer(self) -> dict[str, Any]:
        found: dict[str, Any] = {"id": self.email or f"S-{self.national}", "name": self.name, "phone": self.phone}
        return found | ({"email": self.email} if self.email else {})


@pytest.fixture(scope="module")
def captured() -> Iterator[tuple[LocalStack, list[str]]]:
    lines: list[str] = []
    with launch(output=lines, TICKETFLOW_SURVEY_DELAY_SECONDS="1") as stack:
        assert stack.request("POST", "/dev/clock", json={"at": DAYTIME}).status_code == 200
        yield stack, lines


def settle(s: LocalStack) -> None:
    assert s.request("POST", "/dev/settle", json={"timeout_s": 20}).json()["settled"]


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json()


def opened(s: LocalStack, person: Person, channel: str, text: str, **headers: str) -> dict[str, Any]:
    """A ticket opened, classified (and answered from the knowledge base) and assigned."""
    body = {
        "channel": channel,
        "customer": person.customer(),
        "subject": f"{person.name}的发票",
        "description": f"我是{person.name}，{text} 电话 {person.phone}",
        "language": "zh-CN",
    }
    tid = ok(s.request("POST", "/tickets", channel=True, json=body, headers=headers), 201)["id"]
    if headers:  # the channel retries: the same ticket
        assert ok(s.request("POST", "/tickets", channel=True, json=body, headers=headers), 201)["id"] == tid
    settle(s)
    return ok(s.request("GET", f"/tickets/{tid}", as_=SUPERVISOR))


def worked_and_closed(s: LocalStack, ticket: dict[str, Any], person: Person) -> tuple[str, str]:
    """Accepted, answered (delivered), noted, resolved and closed; the survey sent. Returns the
    ticket id and the survey link's token."""
    tid = ticket["id"]
    owner = (ticket["assignee"], "agent") if ticket["assignee"] else SUPERVISOR
    for action, body in (
        ("accept", None),
        ("reply", {"body": f"{person.name}您好，发票已重开。"}),
        ("comments", {"body": f"客户电话 {person.phone}"}),
        ("resolve", {"result": f"已为{person.name}重开"}),
        ("close", {"reason": "resolved"}),
    ):
        ok(s.request("POST", f"/tickets/{tid}/{action}", as_=owner, json=body))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        settle(s)
        outbox = ok(s.request("GET", "/dev/outbox"))
        texts = [m["body"] or "" for m in outbox["email"] if person.email in m["to"]] if person.email else []
        texts += [m["message"] for m in outbox["sms"] if m["phone"] == person.e164]
        tokens = [found.group(1) for text in texts if (found := LINK.search(text))]
        if tokens:
            return tid, tokens[-1]
        time.sleep(0.3)
    raise AssertionError(f"no survey sent for {tid}")


def leaks(text: str, people: list[Person]) -> list[str]:
    return [needle for person in people for needle in person.needles() if needle in text]


def test_a_whole_life_prints_and_echoes_no_contact(captured: Any) -> None:
    s, lines = captured
    by_email, by_sms = Person("欧阳念慈"), Person("司马静怡", email=False)
    errors: list[requests.Response] = []

    def refused(status: int, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = s.request(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        errors.append(response)
        return response.json()

    # Email: a channel that knows customers by their address; SMS: by their number.
    ticket = opened(s, by_email, "email", "发票抬头开错了，麻烦重新开一张。", **{"Idempotency-Key": uuid.uuid4().hex})
    assert ticket["auto_reply"]["state"] == "sent" and ticket["auto_reply"]["channel"] == "email"
    tid, token = worked_and_closed(s, ticket, by_email)
    form = {
        "attitude": "5",
        "speed": "4",
        "resolution": "5",
        "overall": "5",
        "comment": f"谢谢，有事打 {by_email.phone}",
    }
    answered = s.http.post(f"{s.base_url}/surveys/{token}", data=form, timeout=30)
    assert answered.status_code == 200 and "text/html" in answered.headers["Content-Type"]

    sms_ticket = opened(s, by_sms, "sms", "发票抬头开错了，麻烦重新开一张。")
    # A supervisor assigning to someone typed wrongly (the customer's address): 422, not echoed.
    body = {"agent": by_email.email, "reason": f"call {by_sms.phone}"}
    refused(422, "POST", f"/tickets/{sms_ticket['id']}/assign", as_=SUPERVISOR, json=body)
    refused(409, "POST", f"/admin/tickets/{sms_ticket['id']}/erase", as_=ADMIN, json={"reason": by_sms.name})
    sms_id, sms_token = worked_and_closed(s, sms_ticket, by_sms)
    survey = ok(s.request("GET", f"/tickets/{sms_id}", as_=SUPERVISOR))["survey"]
    assert survey["channel"] == "sms" and survey["recipient"].endswith(by_sms.national[-4:])
    answer = {"attitude": 4, "speed": 4, "resolution": 4, "overall": 4, "comment": f"我是{by_sms.name}"}
    ok(s.request("POST", f"/surveys/{sms_token}", json=answer))

    # Error paths carrying their data in the wrong places.
    nobody = {"id": "x", "name": by_email.name}
    for wrong in (
        {"channel": "web", "customer": nobody | {"phone": by_email.email}, "description": "x"},
        {"channel": "web", "customer": nobody | {"mail": by_email.email}, "description": "x"},
        {"channel": by_sms.name, "customer": by_sms.phone, "description": by_email.email},
    ):
        refused(422, "POST", "/tickets", channel=True, json=wrong)
    broken = f'{{"customer": "{by_email.email}"'
    refused(400, "POST", "/tickets", channel=True, data=broken, headers={"Content-Type": "application/json"})
    refused(404, "GET", f"/tickets/{by_email.email}", as_=SUPERVISOR)
    refused(404, "GET", f"/tickets/{by_sms.e164}/sla", as_=SUPERVISOR)
    refused(404, "GET", f"/customers/{by_email.email}", as_=SUPERVISOR)  # no such route (the gateway's 404)
    refused(404, "POST", f"/surveys/{'x' * 27}", json={"attitude": 5, "comment": by_email.email})
    refused(422, "GET", "/tickets", as_=SUPERVISOR, params={"limit": by_sms.national})
    assert ok(s.request("GET", "/tickets", as_=SUPERVISOR, params={"customer": by_email.email}))["items"]

    # Erasure at the end; afterwards the tickets can no longer be worked.
    for erased, person in ((tid, by_email), (sms_id, by_sms)):
        reason = {"reason": f"{person.name} asked us to forget them ({person.email or person.phone})"}
        done = ok(s.request("POST", f"/admin/tickets/{erased}/erase", as_=ADMIN, json=reason))
        assert done["customer"]["name"] == "[erased]" and leaks(str(done), [by_email, by_sms]) == []
    refused(409, "POST", f"/tickets/{tid}/reopen", as_=SUPERVISOR, json={"reason": f"{by_email.name} called again"})
    assert ok(s.request("GET", "/tickets", as_=SUPERVISOR, params={"customer": by_email.email}))["items"] == []
    settle(s)
    time.sleep(0.5)  # the last lines through the pipe

    # The capture holds what it should (logs, metrics, requests, refusals), and no contact.
    output = "".join(lines)
    assert '"message":"request refused"' in output and '"_aws":{' in output and "TicketsErased" in output
    assert re.search(r"POST /admin/tickets/[0-9a-f-]+/erase -> 200", output)
    assert "customer message sent" in output and '"recipient_hint":"o***@example.net"' in output  # masked only
    assert leaks(output, [by_email, by_sms]) == []
    bodies = "\n".join(f"{r.status_code} {r.text}" for r in errors)
    assert len(errors) == 12 and leaks(bodies, [by_email, by_sms]) == [], bodies
    assert "no ticket [email]" in bodies and "no active person '[email]'" in bodies


def test_no_tracer_records_annotations_or_metadata() -> None:
    """Lambda's active tracing records the invocation only; annotations and metadata come from
    Powertools' Tracer or the X-Ray SDK, which none of our code uses (see observability.py)."""
    calls = re.compile(r"\bTracer\b|aws_xray_sdk|put_annotation|put_metadata|capture_lambda_handler|capture_method")
    sources = [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers" / "common" / "python").rglob("*.py")]
    assert len(sources) > 50
    found = [str(p.relative_to(ROOT)) for p in sources if calls.search(_code(p))]
    assert found == []


def _code(path: Path) -> str:
    """The file without its docstrings and comments (which may name what we do not use)."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r'"""[\s\S]*?"""', "", text)
    return re.sub(r"#.*", "", text)


# ---------------------------------------------------------------- the HTML pages


def policy(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        if part.strip():
            name, *values = part.split()
            directives[name.lower()] = values
    return directives


def assert_strict(headers: requests.structures.CaseInsensitiveDict | dict[str, str], html: str) -> None:
    """The headers every HTML page sends, and inline code only where its hash allows it."""
    headers = {k.lower(): v for k, v in headers.items()}
    csp = policy(headers["content-security-policy"])
    every = [value for values in csp.values() for value in values]
    assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:*", "http:", "https:"} & set(every)
    assert csp["default-src"] in (["'none'"], ["'self'"])
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["form-action"] in (["'self'"], ["'none'"])
    assert all(v in ("'self'", "'none'") or v.startswith("'sha256-") for v in csp.get("script-src", ["'none'"]))
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"

    class Inline(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[tuple[str, str]] = []
            self.handlers: list[str] = []
            self._open: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            names = dict(attrs)
            self.handlers += [n for n in names if n.startswith("on") or n == "style"]
            self.handlers += [n for n, v in names.items() if (v or "").strip().lower().startswith("javascript:")]
            inline_script = tag == "script" and "src" not in names and names.get("type") != "application/json"
            self._open = tag if inline_script or tag == "style" else None

        def handle_data(self, data: str) -> None:
            if self._open:
                self.found.append((self._open, data))

        def handle_endtag(self, tag: str) -> None:
            self._open = None

    parser = Inline()
    parser.feed(html)
    assert parser.handlers == [], parser.handlers  # inline handlers and style attributes need unsafe-*
    for tag, code in parser.found:
        digest = "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"
        assert digest in csp[f"{tag}-src"], (tag, code[:60])


WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", e => window.__violations.push(e.violatedDirective));
"""


def watched(browser: Any, **options: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, **options)
    context.add_init_script(WATCH)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: console.append(str(e)))
    return context, page, console


def violations(page: Any) -> list[str]:
    return page.evaluate("() => window.__violations")


def test_html_pages_send_a_strict_policy_and_chromium_reports_no_violation(captured: Any, browser: Any) -> None:
    s, _ = captured
    person = Person("东方明珠")
    ticket = opened(s, person, "email", "发票抬头开错了，麻烦重新开一张。")
    _, token = worked_and_closed(s, ticket, person)
    link = f"{s.base_url}/surveys/{token}"

    # Every HTML page the API serves is one of these (a new one must be checked here too).
    document = ok(s.request("GET", "/openapi.json"))
    html_routes = {
        path
        for path, item in document["paths"].items()
        for operation in item.values()
        for response in operation["responses"].values()
        if "text/html" in (response.get("content") or {})
    }
    assert html_routes == {"/surveys/{token}", "/dashboard"}

    # Each kind of page, as a browser gets it: the form, the form with errors, unknown, dashboard.
    form = s.http.get(link, timeout=30)
    pages = {
        "form": form,
        "errors": s.http.post(link, data={"attitude": "5"}, timeout=30),
        "unknown": s.http.get(f"{s.base_url}/surveys/{'x' * 27}", timeout=30),
        "dashboard": s.http.get(f"{s.base_url}/dashboard", timeout=30),
    }
    assert [r.status_code for r in pages.values()] == [200, 422, 404, 200]
    for name, response in pages.items():
        assert "text/html" in response.headers["Content-Type"], name
        assert_strict(response.headers, response.text)

    # In Chromium: the survey works under its policy, and the listener does hear violations.
    context, page, console = watched(browser, locale="zh-CN")
    response = page.goto(link)
    assert_strict(response.all_headers(), page.content())
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = '1'; document.body.append(s) }")
    assert violations(page) == ["script-src-elem"]  # a control: an injected inline script is refused
    page.evaluate("() => { window.__violations = [] }")
    console.clear()

    # Nothing personal on the page: not in its HTML, any attribute, nor its address.
    markup = page.evaluate("() => document.documentElement.outerHTML")
    attributes = page.eval_on_selector_all("*", "els => els.flatMap(e => [...e.attributes].map(a => a.value))")
    shown = " ".join([markup, *attributes, page.url])
    assert leaks(shown, [person]) == [] and person.customer()["id"] not in shown
    assert ticket["number"] in markup  # only the ticket's number says which request it was
    assert re.fullmatch(rf"{re.escape(s.base_url)}/surveys/[A-Za-z0-9_-]{{27,}}", page.url)

    for dimension in ("attitude", "speed", "resolution", "overall"):
        page.locator(f"label[for={dimension}-4]").click()
    page.locator("#comment").fill("还不错")
    assert page.locator("#comment-count").inner_text().startswith("3")  # the hashed script runs
    assert violations(page) == [] and console == [], console
    with page.expect_navigation() as thanks:
        page.locator("button[type=submit]").click()
    page.get_by_role("status").wait_for()
    assert thanks.value is not None and thanks.value.request.method == "POST"
    assert_strict(thanks.value.all_headers(), page.content())
    assert violations(page) == [] and console == [], console
    page.goto(link)  # answered: it says so, under the same policy
    assert "您已经评价过了" in page.content() and violations(page) == [] and console == []
    context.close()

    # The dashboard draws the figures under its policy ('self' only, no inline code at all).
    context, page, console = watched(browser, locale="zh-CN")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{s.base_url}/dashboard#token={s.token(*SUPERVISOR)}")
    page.wait_for_selector("body[data-state=ready]", timeout=15_000)
    assert violations(page) == [] and console == [], console
    context.close()
