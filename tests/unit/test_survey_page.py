"""The survey page and invitation, rendered without any AWS: structure, languages, safety."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from ticketflow.models import Channel, Customer, Survey, SurveyState, Ticket
from ticketflow.surveys import messages, page
from ticketflow.watch import SURVEY_GRACE, survey_check

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Elements(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, str] = {}
        self._inside: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))
        if tag in ("style", "script"):
            self._inside, self.text[tag] = tag, ""

    def handle_endtag(self, tag):
        self._inside = None

    def handle_data(self, data):
        if self._inside:
            self.text[self._inside] += data

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.found if name == tag]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_choice_is_a_labelled_radio_in_a_fieldset_with_a_legend(lang):
    html = page.form(lang, number="CS20261123000001", ask_nps=True)
    doc = Elements(html)
    radios = [a for a in doc.all("input") if a.get("type") == "radio"]
    labels = {a["for"] for a in doc.all("label")}
    assert len(radios) == 4 * 5 + 11
    assert all(r["id"] in labels for r in radios)
    assert {r["name"] for r in radios} == {"attitude", "speed", "resolution", "overall", "nps"}
    assert len(doc.all("fieldset")) == len(doc.all("legend")) == 5
    [textarea] = doc.all("textarea")
    assert textarea["maxlength"] == "200" and textarea["id"] in labels
    [form] = doc.all("form")
    assert form["method"] == "post"
    assert doc.all("html")[0]["lang"] == ("zh-CN" if lang == "zh" else "en")
    assert any(m.get("name") == "viewport" for m in doc.all("meta"))


def test_the_policy_allows_exactly_the_inline_style_and_script_by_hash():
    doc = Elements(page.form("zh", number="CS1", ask_nps=False))

    def digest(source: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"

    policy = page.CONTENT_SECURITY_POLICY
    assert f"style-src {digest(doc.text['style'])}" in policy
    assert f"script-src {digest(doc.text['script'])}" in policy
    assert "unsafe-inline" not in policy and "default-src 'none'" in policy
    assert not any(attrs.get("style") for _, attrs in doc.found)  # inline style attributes would be blocked
    assert not any(k.startswith("on") for _, attrs in doc.found for k in attrs)  # nor inline handlers


def test_errors_are_summarised_and_tied_to_their_questions():
    values = {"attitude": "4", "comment": "好" * 201}
    problems = [
        {"loc": ("speed",), "type": "missing"},
        {"loc": ("comment",), "type": "string_too_long"},
        {"loc": ("speed",), "type": "int_parsing"},
    ]
    errors = page.field_errors("zh", problems, values)
    assert errors == {"speed": "请为「响应速度」选择 1 到 5 分", "comment": "留言最多 200 字（现在 201 字）"}
    html = page.form("zh", number="CS1", ask_nps=True, values=values, errors=errors)
    assert 'role="alert"' in html and 'href="#q-speed"' in html
    assert 'id="q-speed" aria-describedby="speed-error" aria-invalid="true"' in html
    assert 'id="attitude-4" name="attitude" value="4" checked' in html


def test_a_comment_cannot_inject_markup():
    html = page.form("en", number="CS1", ask_nps=False, values={"comment": "</textarea><script>alert(1)</script>"})
    assert "<script>alert(1)" not in html and "&lt;/textarea&gt;" in html


def test_the_language_is_the_request_the_link_then_the_browser():
    assert page.language("en", "zh", "zh-CN") == "en"
    assert page.language(None, "en", "zh-CN") == "en"
    assert page.language("fr", None, "en-US,en;q=0.9") == "en"
    assert page.language(None, None, None) == "zh"


def ticket(**fields) -> Ticket:
    base = {
        "id": "t-1",
        "number": "CS20261123000001",
        "status": "closed",
        "version": 9,
        "channel": Channel.EMAIL,
        "customer": Customer(id="c", name='<b>王芳</b>"', email="w@example.com"),
        "description": "快递还没到",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Ticket(**(base | fields))


@pytest.fixture
def settings(monkeypatch):
    from ticketflow import config

    monkeypatch.setenv("TICKETFLOW_TABLE_NAME", "unit")
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


def test_the_invitation_speaks_the_customers_language_and_escapes_their_name(settings):
    zh = messages.invitation(ticket(), url="https://x.example/surveys/abc", expires=NOW, language="zh")
    assert zh.subject == "请为本次服务评分：工单 CS20261123000001"
    assert "<b>王芳</b>" not in zh.html and "&lt;b&gt;王芳&lt;/b&gt;" in zh.html
    assert 'href="https://x.example/surveys/abc"' in zh.html and "https://x.example/surveys/abc" in zh.text
    assert "2026年11月23日 17:00" in zh.text  # expiry in the business time zone
    assert messages.language_of(ticket()) == "zh"
    assert messages.language_of(ticket(description="Where is my parcel?")) == "en"
    assert messages.language_of(ticket(language="en-GB", description="快递")) == "en"
    en = messages.invitation(ticket(), url="https://x.example/s", expires=NOW, language="en")
    assert en.subject.startswith("How did we do?") and re.search(r"https://x\.example/s$", en.sms)


def test_the_sweep_looks_at_a_survey_a_minute_after_it_is_due_and_at_an_owed_recovery():
    due = NOW + timedelta(minutes=5)
    scheduled = ticket(survey=Survey(state=SurveyState.SCHEDULED, due_at=due))
    assert survey_check(scheduled) == due + SURVEY_GRACE
    redriven = ticket(survey=Survey(state=SurveyState.SCHEDULED, due_at=due, redriven_at=due + SURVEY_GRACE))
    assert survey_check(redriven) == due + SURVEY_GRACE + timedelta(minutes=2)
    owed = Survey(state=SurveyState.ANSWERED, due_at=due, answered_at=NOW, recovery="pending")
    assert survey_check(ticket(survey=owed)) == NOW + SURVEY_GRACE
    assert survey_check(ticket(survey=owed.model_copy(update={"recovery": "opened"}))) is None
    assert survey_check(ticket()) is None
