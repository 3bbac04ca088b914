"""A real `ticketflow dev` in a subprocess, and HTTP clients for its channel and people."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.launch import launch_dev

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's, installed by `make test`
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
pytestmark = pytest.mark.e2e


class LocalStack:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.http = requests.Session()
        self._tokens: dict[str, str] = {}

    def token(self, person: str, role: str) -> str:
        """Through the `ticketflow token` command, as a person would get one."""
        if person not in self._tokens:
            out = subprocess.run(
                [str(BIN / "ticketflow"), "token", "--sub", person, "--role", role],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
            self._tokens[person] = out.stdout.strip()
        return self._tokens[person]

    def request(
        self,
        method: str,
        path: str,
        *,
        as_: tuple[str, str] | None = None,
        channel: bool = False,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        if channel:
            all_headers.setdefault("x-api-key", self.api_key)
        if as_:
            all_headers["Authorization"] = f"Bearer {self.token(*as_)}"
        return self.http.request(method, self.base_url + path, json=json, headers=all_headers, timeout=30, **kwargs)


@contextlib.contextmanager
def launch(*, output: list[str] | None = None, **extra_env: str) -> Iterator[LocalStack]:
    """`ticketflow dev` on a free port, as a person starts it; stopped with Ctrl-C afterwards.
    ``output`` collects every line it prints, stdout and stderr (handler logs, EMF metrics,
    the gateway's request lines)."""
    api_key = "e2e-channel-key"
    stderr = subprocess.DEVNULL if output is None else subprocess.STDOUT
    with launch_dev(api_key=api_key, env=extra_env, stderr=stderr, output=output) as running:
        yield LocalStack(running.url, api_key)
    assert running.process.returncode == 0, "ticketflow dev did not stop cleanly on Ctrl-C"


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    with launch() as stack:
        yield stack


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright, one per test session."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it (see Makefile)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()
