"""`ticketflow dev` in a subprocess on a free loopback port, as a person starts it: for the
end-to-end tests and the load bench (bench/load.py)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
API_ON = re.compile(r"API on (http://127\.0\.0\.1:\d+)")


@dataclass(frozen=True)
class Launched:
    url: str
    process: subprocess.Popen[str]  # its returncode is set once it has stopped


def ticketflow_command() -> str:
    """The `ticketflow` of this interpreter's environment, else the one on PATH."""
    local = Path(sys.executable).parent / "ticketflow"
    return str(local) if local.exists() else shutil.which("ticketflow") or "ticketflow"


def stop(process: subprocess.Popen[Any], sig: int, wait_s: float) -> int:
    """Send ``sig``; kill the process if it has not exited ``wait_s`` later. Its exit code."""
    process.send_signal(sig)
    try:
        return process.wait(wait_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def _drain(stream: IO[str]) -> None:
    """Read a child's output away in big chunks: a full pipe would block it mid-request."""
    while os.read(stream.fileno(), 1 << 16):
        pass


@contextlib.contextmanager
def launch_dev(
    *,
    api_key: str,
    env: Mapping[str, str] | None = None,
    stderr: int | IO[Any] = subprocess.DEVNULL,
    output: list[str] | None = None,
    start_timeout_s: float = 60,
    stop_timeout_s: float = 30,
) -> Iterator[Launched]:
    """`ticketflow dev --port 0`, without the caller's TICKETFLOW_* and AWS_ENDPOINT_URL* (``env``
    is added to what is left); stopped with Ctrl-C (SIGINT) afterwards, killed if it has not
    exited ``stop_timeout_s`` later (then ``process.returncode`` tells how it ended). ``output`` collects
    every line of its stdout (pass ``stderr=subprocess.STDOUT`` for both); else it is read away."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "TICKETFLOW_"))}
    process = subprocess.Popen(
        [ticketflow_command(), "dev", "--port", "0", "--api-key", api_key],
        cwd=ROOT,
        env=kept | dict(env or {}),
        stdout=subprocess.PIPE,
        stderr=stderr,
        encoding="utf-8",
        errors="replace",
    )
    stdout = process.stdout
    assert stdout is not None
    try:
        url = None
        deadline = time.monotonic() + start_timeout_s
        while url is None and time.monotonic() < deadline:
            line = stdout.readline()
            if not line:
                break
            if output is not None:
                output.append(line)
            match = API_ON.search(line)
            url = match.group(1) if match else None
        if url is None:
            raise RuntimeError("ticketflow dev did not print its URL")
        if output is None:
            threading.Thread(target=_drain, args=(stdout,), daemon=True).start()
        else:
            threading.Thread(target=output.extend, args=(stdout,), daemon=True).start()
        yield Launched(url, process)
    finally:
        stop(process, signal.SIGINT, stop_timeout_s)
