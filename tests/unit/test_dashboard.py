"""The dashboard page and its assets through the real reports_api handler, without any AWS:
languages, no inline code under a strict policy, the allow-list of assets, the vendored
Chart.js matching its README."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from importlib import resources

import pytest

from events.generate import api_event
from infra import topology
from tests.conftest import reset_caches
from tests.support import invoke
from ticketflow.reports import dashboard

ASSETS = resources.files("ticketflow.reports").joinpath("assets")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@pytest.fixture(autouse=True)
def _settings(monkeypatch):
    # The handler reads its settings (the table's name) before routing; nothing here touches it.
    monkeypatch.setenv(topology.TABLE_ENV, "unused-by-the-dashboard")
    reset_caches()
    yield
    reset_caches()


def get(path: str, *, query: dict[str, str] | None = None, headers: dict[str, str] | None = None):
    """GET through reports_api as API Gateway would call it: (status, headers, body)."""
    name = path.removeprefix("/dashboard/assets/") if path.startswith("/dashboard/assets/") else None
    resource = "/dashboard/assets/{name}" if name is not None else path
    event = api_event("GET", resource, auth="public", query=query)
    event["path"] = path
    event["headers"]["Accept"] = "text/html,*/*"
    if name is not None:
        event["pathParameters"] = {"name": name}
    for key, value in (headers or {}).items():
        event["headers"][key] = value
        event["multiValueHeaders"][key] = [value]
    response = invoke("reports_api", event)
    merged = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
    merged |= {k: v for k, v in (response.get("headers") or {}).items() if k not in merged}
    return response["statusCode"], merged, response["body"]


class Document(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.inline: dict[int, str] = {}
        self._open: int | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = len(self.elements) - 1
            self.inline[self._open] = ""

    def handle_endtag(self, tag):
        self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self.inline[self._open] += data

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]


@pytest.mark.parametrize(
    ("query", "accept_language", "lang", "title", "kpi_label"),
    [
        (None, None, "zh-CN", "客服运营看板", "首次响应时间 FRT（P50）"),
        (None, "en-US,en;q=0.9", "en", "Support dashboard", "First response time (FRT, p50)"),
        ({"lang": "zh"}, "en-US,en;q=0.9", "zh-CN", "客服运营看板", "平均处理时长 AHT"),
        ({"lang": "en"}, "zh-CN,zh;q=0.9", "en", "Support dashboard", "Average handle time (AHT)"),
        ({"lang": "fr"}, "zh-CN", "zh-CN", "客服运营看板", "一次解决率 FCR"),
    ],
)
def test_the_page_speaks_chinese_by_default_and_english_when_asked(query, accept_language, lang, title, kpi_label):
    status, headers, html = get("/dashboard", query=query, headers={"Accept-Language": accept_language or ""})
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    doc = Document(html)
    assert doc.all("html")[0]["lang"] == lang
    assert f"<h1>{title}</h1>" in html and kpi_label in html
    other = "English" if lang == "zh-CN" else "中文"
    assert f'href="?lang={"en" if lang == "zh-CN" else "zh"}"' in html and f">{other}</a>" in html
    words = json.loads(doc.inline[next(i for i, (t, a) in enumerate(doc.elements) if a.get("id") == "i18n")])
    assert words["lang"] == lang[:2] and words["text"]["msg"]["forbidden"]
    assert ("仅限主管" in words["text"]["msg"]["forbidden"]) == (lang == "zh-CN")


def test_no_inline_script_or_style_and_a_strict_policy():
    status, headers, html = get("/dashboard")
    assert status == 200
    assert headers["Content-Security-Policy"] == CSP == dashboard.CONTENT_SECURITY_POLICY
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    doc = Document(html)
    for index, (tag, attrs) in enumerate(doc.elements):
        assert "style" not in attrs, (tag, attrs)
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if tag == "script" and not attrs.get("src"):
            assert attrs.get("type") == "application/json", attrs  # a data block: never executed
            json.loads(doc.inline[index])
    assert doc.all("style") == []
    assert "javascript:" not in html.lower()
    sources = [src for a in doc.all("script") if (src := a.get("src"))]
    sources += [href for a in doc.all("link") if (href := a.get("href"))]
    assert sorted(s.split("?")[0] for s in sources if not s.startswith("data:")) == [
        "dashboard/assets/chart.umd.min.js",
        "dashboard/assets/dashboard.css",
        "dashboard/assets/dashboard.js",
    ]  # relative: the page is at /<stage>/dashboard on AWS


def test_the_page_holds_no_data_only_places_for_it():
    html = get("/dashboard")[2]
    doc = Document(html)
    kpis = [a["data-kpi"] for _, a in doc.elements if "data-kpi" in a]
    assert kpis == ["created", "resolved", "backlog", "frt_p50", "aht", "fcr", "sla", "csat", "nps", "auto_reply"]
    canvases = doc.all("canvas")
    assert len(canvases) >= 4 and all(c["role"] == "img" and c["aria-label"] for c in canvases)
    headers = doc.all("th")
    assert headers and all(h["scope"] == "col" for h in headers)
    assert doc.all("body")[0]["data-state"] == "loading"
    assert {a.get("id") for a in doc.all("form")} == {"signin-form", "controls"}
    assert set(re.findall(r'data-kpi="\w+">([^<]*)<', html)) == {"—"}
    assert '<tbody id="agents-body"></tbody>' in html


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("dashboard.js", "text/javascript; charset=utf-8"),
        ("dashboard.css", "text/css; charset=utf-8"),
        ("chart.umd.min.js", "text/javascript; charset=utf-8"),
    ],
)
def test_assets_are_served_with_their_type_and_cached_by_version(name, content_type):
    status, headers, body = get(f"/dashboard/assets/{name}", query={"v": "anything"})
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert headers["Cache-Control"] == "public, max-age=86400"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert body == ASSETS.joinpath(name).read_text("utf-8")
    version = hashlib.sha256(body.encode()).hexdigest()[:12]
    assert f"dashboard/assets/{name}?v={version}" in get("/dashboard")[2]


@pytest.mark.parametrize("name", ["README.md", "chart.LICENSE.md", "chart.umd.js", "..", "dashboard.py", "x.js"])
def test_only_known_assets_are_served(name):
    status, headers, body = get(f"/dashboard/assets/{name}")
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "not_found"


def test_the_vendored_chart_js_is_the_one_the_readme_names():
    readme = ASSETS.joinpath("README.md").read_text("utf-8")
    [named] = re.findall(r"sha256 of `chart\.umd\.min\.js`: `([0-9a-f]{64})`", readme)
    code = ASSETS.joinpath("chart.umd.min.js").read_bytes()
    assert hashlib.sha256(code).hexdigest() == named
    [version] = re.findall(r"- Version: (4\.\d+\.\d+)", readme)
    assert code.startswith(f"/*!\n * Chart.js v{version}\n".encode())
    assert b"require(" not in code and b"window.Chart=" in code  # self-contained UMD
    assert "MIT License" in ASSETS.joinpath("chart.LICENSE.md").read_text("utf-8")


def test_the_script_never_writes_inline_style_or_absolute_api_urls():
    script = ASSETS.joinpath("dashboard.js").read_text("utf-8")
    assert "innerHTML" not in script and "eval(" not in script and "new Function" not in script
    assert 'setAttribute("style"' not in script
    assert 'new URL("reports/" + kind, document.baseURI)' in script
    assert re.search(r"fetch\(\s*[\"'`]/", script) is None
