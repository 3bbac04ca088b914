"""infra.dependency_audit against a stand-in for PyPI's per-project JSON, over real HTTP on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from typing import Any

import pytest

from infra import dependency_audit

ADVISORY = {
    "id": "PYSEC-2099-1",
    "aliases": ["CVE-2099-0001", "GHSA-xxxx-yyyy-zzzz"],
    "summary": "Remote code execution in the parser",
    "details": "…",
    "fixed_in": ["1.0.1"],
    "link": "https://osv.dev/vulnerability/PYSEC-2099-1",
    "withdrawn": None,
}
# What PyPI says per project: its latest release, and that release's advisories.
PROJECTS: dict[str, dict[str, Any]] = {
    "vulnerable": {"info": {"version": "1.0.0"}, "vulnerabilities": [ADVISORY]},
    "clean": {"info": {"version": "2.0.0"}, "vulnerabilities": []},
    "withdrawn": {"info": {"version": "3.0.0"}, "vulnerabilities": [{**ADVISORY, "withdrawn": "2099-02-01T00:00:00"}]},
    # The latest release is vulnerable, but we pin an older one: PyPI's answer says nothing about ours.
    "behind": {"info": {"version": "5.0.0"}, "vulnerabilities": [ADVISORY]},
}


class _PyPI(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        name = self.path.removeprefix("/pypi/").removesuffix("/json")
        if name not in PROJECTS:
            self.send_error(404)
            return
        body = json.dumps(PROJECTS[name]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def pypi() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PyPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pypi/{{name}}/json"
    server.shutdown()
    server.server_close()


def run(pypi: str, packages: dict[str, str]) -> int:
    return dependency_audit.report(dependency_audit.audit(packages, url=pypi, timeout=5))


def test_a_vulnerable_pin_fails_and_is_named_with_its_fix(pypi: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(pypi, {"vulnerable": "1.0.0", "clean": "2.0.0"}) == 1
    out = capsys.readouterr().out
    assert "vulnerable 1.0.0: PYSEC-2099-1 (CVE-2099-0001, GHSA-xxxx-yyyy-zzzz); fixed in 1.0.1" in out
    assert "Remote code execution in the parser" in out
    assert "2 of 2 installed distributions audited" in out and "1 unexplained" in out


def test_clean_and_withdrawn_pass(pypi: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(pypi, {"clean": "2.0.0", "withdrawn": "3.0.0"}) == 0
    assert "2 of 2 installed distributions audited against PyPI's advisories: 0 known" in capsys.readouterr().out


def test_a_pin_below_the_latest_release_is_listed_as_not_audited(pypi: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(pypi, {"behind": "4.2.0", "clean": "2.0.0"}) == 0
    out = capsys.readouterr().out
    assert "1 of 2 installed distributions audited" in out
    assert "behind 4.2.0 (latest 5.0.0)" in out and "PYSEC" not in out


def test_an_explained_vulnerability_passes_with_its_reason(
    pypi: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dependency_audit, "EXPLAINED", {"CVE-2099-0001": "we never call the parser"})
    assert run(pypi, {"vulnerable": "1.0.0"}) == 0
    out = capsys.readouterr().out
    assert "explained: we never call the parser" in out and "0 unexplained" in out


def test_pypi_not_answering_is_a_failure_not_a_pass(pypi: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(pypi, {"clean": "2.0.0", "unknown-to-pypi": "1.0"}) == 2
    assert "PyPI could not be asked about unknown-to-pypi" in capsys.readouterr().err


def test_the_whole_environment_is_audited_but_the_project_itself() -> None:
    packages = dependency_audit.installed()
    assert packages["pydantic"] == metadata.version("pydantic")
    assert {"boto3", "aws-lambda-powertools", "pytest", "mypy"} <= packages.keys()  # runtime and dev
    assert "ticketflow" not in packages
