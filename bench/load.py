"""Load: channels post tickets to `ticketflow dev` while agents work their queues, then every
ticket is accounted for. Or the same tickets, at the same concurrency, through django-helpdesk.

    python bench/load.py [--channels 20] [--tickets 5000] [--agents 6] [--url URL]
    python bench/load.py --peer django-helpdesk     # after bench/peers/django_helpdesk/install.sh

ticketflow: without --url, `ticketflow dev` is started on a free loopback port (surveys go
without their 5-minute delay, so that the pipeline can settle) and stopped afterwards. N
channel threads post M tickets in all, each with an Idempotency-Key (every 25th is posted a
second time with its key: the same ticket must come back); the texts are the 361 labelled
messages of tests/data/classification.jsonl (Chinese, Traditional Chinese, English, mixed),
the channels mixed as in the demo. Meanwhile K agents of the demo directory (their tokens
signed as `ticketflow token` signs them) list what is assigned to them and accept, reply,
resolve and close it, which frees their capacity for the next waiting ticket. When the channels are done the agents
stop, the pipeline settles (POST /dev/settle), and every ticket is accounted for: each posted
ticket is listed exactly once (a supervisor lists every status), is found by its number under
the same id, was classified and routed once (one `create` and one `classify` in its history).
No 5xx and no lost response (a request that got no answer) anywhere.

django-helpdesk (--peer): the peer is installed in its own virtualenv; a fresh SQLite database
is prepared, gunicorn serves it, and the same tickets are posted to its REST API (it has no
idempotency keys, no classification, no routing: tickets land in one queue). Agents take the
open tickets (dealt by id, since nothing assigns them), assign themselves, answer in a public
follow-up, resolve and close. Each posted ticket must be listed exactly once.

Reported: p50/p95/p99 latency per kind of request, tickets/s, errors by status, what the
agents did, the accounting, and the peak RSS of the server. A table on stdout, the whole in
artifacts/load.json (artifacts/load-django-helpdesk.json for the peer). Exit 1 if anything
is unaccounted for.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TextIO

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.classification import load_set  # noqa: E402
from infra.local import tokens  # noqa: E402
from infra.local.demo import CHANNEL_WEIGHTS, CHANNELS  # noqa: E402
from infra.local.gateway import DEMO_API_KEY  # noqa: E402
from infra.local.launch import launch_dev, stop  # noqa: E402

ARTIFACTS = ROOT / "artifacts"
PEER_DIR = ROOT / "bench" / "peers" / "django_helpdesk"
PEER_VENV = ROOT / ".cache" / "peers" / "django-helpdesk" / "venv"
CJK = re.compile(r"[\u3400-\u9fff]")  # how the peer's agents tell a Chinese ticket
TIMEOUT_S = 120  # a request unanswered this long counts as lost
REPLAY_EVERY = 25  # every 25th ticket is posted again with its Idempotency-Key
LOST_RETRIES = 2  # a post that got no answer is sent again (with the same key) this often
IDLE_S = 1.0  # an agent with nothing assigned looks again after a second
# Then the run says it did not settle and accounts for the tickets anyway (a ticket that moves
# between two statuses while they are listed may then be listed twice).
SETTLE_LIMIT_S = 1200

REPLIES = {
    "zh": "您好，已为您查询处理，请留意短信通知。",
    "en": "Hello, I have looked into this for you; you will hear from us shortly.",
}
RESULTS = {"zh": "已为客户处理完毕", "en": "Handled for the customer"}


# ---------------------------------------------------------------- the tickets


@dataclass(frozen=True)
class Order:
    """One ticket a channel will post."""

    index: int
    key: str  # Idempotency-Key, unique to the run; also the customer's id
    channel: str
    text: str
    language: str
    tier: str
    name: str
    email: str
    phone: str | None


def orders(count: int, *, seed: int, run: str) -> list[Order]:
    """``count`` tickets from the labelled messages, cycled, the channels mixed as in the demo."""
    corpus = load_set()
    rng = random.Random(seed)
    rng.shuffle(corpus)
    made = []
    for i in range(count):
        sample = corpus[i % len(corpus)]
        language = "en" if sample["lang"] == "en" else "zh"  # Chinese, Traditional or mixed: zh
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        made.append(
            Order(
                index=i,
                key=f"load-{run}-{i:05d}",
                channel=channel,
                text=sample["text"],
                language=language,
                tier=sample["customer"]["tier"],
                name=f"客户{i:05d}" if language == "zh" else f"Customer {i}",
                # Unique per ticket: it is how the peer's tickets are told apart (it has no keys).
                email=f"c{run}.{i:05d}@example.com",
                phone=f"+86139{i:08d}" if channel == "sms" else None,
            )
        )
    return made


# ---------------------------------------------------------------- measuring


def percentile(ordered: list[float], p: float) -> float:
    """Nearest rank in sorted values: the smallest value with at least p % of them at or below it."""
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def spread_ms(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "p50": round(percentile(ordered, 50) * 1000, 1),
        "p95": round(percentile(ordered, 95) * 1000, 1),
        "p99": round(percentile(ordered, 99) * 1000, 1),
        "max": round(ordered[-1] * 1000, 1),
    }


class Meter:
    """Every request of the run goes through here: latency and status per kind of request, and
    the requests that got no answer at all (connection refused or reset, timeout)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.lost: Counter[str] = Counter()
        self.lost_examples: list[str] = []

    def request(
        self, session: requests.Session, kind: str, method: str, url: str, *, retries: int = 0, **kwargs: Any
    ) -> Any:
        """The response, or None if none came (each try without an answer counted as lost), the
        request sent again up to ``retries`` times while none comes."""
        for _ in range(1 + retries):
            started = time.perf_counter()
            try:
                response = session.request(method, url, timeout=TIMEOUT_S, **kwargs)
            except requests.RequestException as error:
                with self._lock:
                    self.lost[kind] += 1
                    if len(self.lost_examples) < 10:
                        self.lost_examples.append(f"{kind}: {type(error).__name__}: {error}"[:300])
                continue
            elapsed = time.perf_counter() - started
            with self._lock:
                self.seconds[kind].append(elapsed)
                self.statuses[kind][response.status_code] += 1
            return response
        return None

    def server_errors(self) -> int:
        return sum(n for counts in self.statuses.values() for status, n in counts.items() if status >= 500)

    def summary(self) -> dict[str, Any]:
        return {
            kind: {
                "count": len(self.seconds[kind]) + self.lost[kind],
                "latency_ms": spread_ms(self.seconds[kind]),
                "statuses": {str(k): v for k, v in sorted(self.statuses[kind].items())},
                "lost": self.lost[kind],
            }
            for kind in self.seconds.keys() | self.lost.keys()
        }

    def errors_by_status(self) -> dict[str, int]:
        counts: Counter[int] = Counter()
        for by_status in self.statuses.values():
            counts.update({status: n for status, n in by_status.items() if status >= 400})
        return {str(k): v for k, v in sorted(counts.items())}


def peak_rss_mb(pids: list[int]) -> dict[str, Any] | None:
    """Peak resident memory (VmHWM) of each process; None where /proc cannot tell."""
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
            if match:
                found[pid] = round(int(match.group(1)) / 1024, 1)
    if not found:
        return None
    return {"total": round(sum(found.values()), 1), "processes": {str(k): v for k, v in found.items()}}


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def listening_pid(port: int) -> int | None:
    """The process listening on this loopback TCP port (for --url), if it is ours to see."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return int(fd_dir.parent.name)
    return None


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    url: str
    pid: int | None  # None: not started for this run (--url)
    description: str
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def fresh(self) -> bool:
        """Started for this run: every ticket in it must be one of ours."""
        return self.pid is not None


@contextlib.contextmanager
def _log_file(path: Path | None) -> Iterator[int | IO[bytes]]:
    """Where a server's stderr goes: the file at ``path`` (closed afterwards), else nowhere."""
    if path is None:
        yield subprocess.DEVNULL
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as log:
        yield log


@contextlib.contextmanager
def ticketflow_dev(
    api_key: str = DEMO_API_KEY, log: Path | None = None, sweep_every_s: float | None = None
) -> Iterator[Server]:
    """`ticketflow dev` on a free loopback port, stopped with Ctrl-C (SIGINT) afterwards; its
    stderr (a line per request, and any handler's failure) into ``log``. ``sweep_every_s``:
    how often the SLA sweep fires (default: the topology's rate, every minute)."""
    # Closing a ticket schedules its survey 5 minutes later, as a delayed SQS message; the
    # stack settles only when nothing is delayed, so surveys go at once (as in the demo).
    env = {"TICKETFLOW_SURVEY_DELAY_SECONDS": "0"}
    if sweep_every_s is not None:
        env["TICKETFLOW_SCHEDULE_SLA_SWEEP_SECONDS"] = str(sweep_every_s)
    # The people's tokens are signed in this process (tokens.issue): the stack checks them
    # with the same secret.
    if secret := os.environ.get(tokens.SECRET_ENV):
        env[tokens.SECRET_ENV] = secret
    with (
        _log_file(log) as errors,
        launch_dev(api_key=api_key, env=env, stderr=errors, start_timeout_s=90, stop_timeout_s=60) as running,
    ):
        sweep = f"every {sweep_every_s:g} s" if sweep_every_s is not None else "every minute"
        description = f"ticketflow dev (embedded moto, one invocation at a time, SLA sweep {sweep})"
        yield Server(running.url, running.process.pid, description)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peer_versions() -> dict[str, str]:
    """The versions installed in the peer's virtualenv (its freeze.txt), by lower-case name."""
    freeze = PEER_VENV / "freeze.txt"
    pinned = re.findall(r"^(\S+?)==(\S+)", freeze.read_text(), re.M) if freeze.exists() else []
    return {name.lower(): version for name, version in pinned}


@contextlib.contextmanager
def django_helpdesk(agents: int, workers: int, log: Path | None = None) -> Iterator[Server]:
    """The peer on a fresh SQLite database, served by gunicorn with sync workers; gunicorn's
    log (and any request's traceback) into ``log``."""
    python, gunicorn = PEER_VENV / "bin" / "python", PEER_VENV / "bin" / "gunicorn"
    if not gunicorn.exists():
        raise SystemExit(f"the peer is not installed: bash {PEER_DIR.relative_to(ROOT)}/install.sh")
    with (
        tempfile.TemporaryDirectory(prefix="peerdesk-", ignore_cleanup_errors=True) as state,
        _log_file(log) as errors,
    ):
        env = {**os.environ, "PEERDESK_STATE": state, "PYTHONDONTWRITEBYTECODE": "1"}
        prepared = subprocess.run(
            [str(python), "prepare.py", "--agents", str(agents)],
            cwd=PEER_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        config = json.loads(prepared.stdout.strip().splitlines()[-1])
        port = free_port()
        process = subprocess.Popen(
            [
                str(gunicorn),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                str(TIMEOUT_S),
                "--no-control-socket",  # it would write a socket under the user's home
                "peerdesk.wsgi:application",
            ],
            cwd=PEER_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(requests.RequestException):
                    if requests.get(f"{url}/api/", timeout=5).status_code < 500:
                        break
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("gunicorn did not start the peer")
                time.sleep(0.2)
            version = peer_versions()
            description = (
                f"django-helpdesk {version.get('django-helpdesk', '?')} (Django {version.get('django', '?')}, "
                f"DRF {version.get('djangorestframework', '?')}) on gunicorn {version.get('gunicorn', '?')}, "
                f"{workers} sync workers, SQLite (WAL)"
            )
            yield Server(url, process.pid, description, config)
        finally:
            stop(process, signal.SIGTERM, 30)


# ---------------------------------------------------------------- what each system is asked


@dataclass
class Posted:
    index: int
    id: str
    number: str


class Target:
    """How one system is loaded and checked; the run around it is the same for both."""

    name = ""
    people: list[str]  # the agents who work

    def __init__(self, server: Server, meter: Meter) -> None:
        self.server = server
        self.meter = meter
        self.done: Counter[str] = Counter()  # what the agents did (and what they were refused)
        self._lock = threading.Lock()
        self._local = threading.local()

    def tally(self, what: str) -> None:
        with self._lock:
            self.done[what] += 1

    def agents(self) -> list[str]:
        return self.people

    def thread_session(self) -> requests.Session:
        """This thread's session (for the pools that read tickets back)."""
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def work(
        self,
        session: requests.Session,
        steps: list[tuple[str, str, str, dict | None]],
        headers: dict[str, str],
        ok: tuple[int, ...] = (200,),
    ) -> None:
        """An agent's steps on one ticket, (action, method, url, body) each, in order: each one
        done is tallied; the first refused is tallied as refused, and the rest are not taken."""
        for action, method, url, body in steps:
            done = self.meter.request(session, action, method, url, json=body, headers=headers)
            if done is None or done.status_code not in ok:
                self.tally(f"{action} refused ({done.status_code if done is not None else 'no answer'})")
                return
            self.tally(action)

    def post(self, session: requests.Session, order: Order) -> Posted | None:
        raise NotImplementedError

    def agent(self, person: str, stop: threading.Event) -> None:
        raise NotImplementedError

    def settle(self) -> tuple[bool, float]:
        return True, 0.0

    def account(self, orders: list[Order], posted: dict[int, Posted], threads: int) -> dict[str, Any]:
        raise NotImplementedError

    def server_pids(self) -> list[int]:
        pid = self.server.pid or listening_pid(int(self.server.url.rsplit(":", 1)[1].split("/")[0]))
        return [pid] if pid else []


class Ticketflow(Target):
    name = "ticketflow"

    def __init__(self, server: Server, meter: Meter, *, api_key: str, agents: int) -> None:
        super().__init__(server, meter)
        from ticketflow.directory import DEMO_PEOPLE, Role

        everyone = [p.id for p in DEMO_PEOPLE if p.role == Role.AGENT]
        if not 0 <= agents <= len(everyone):
            raise SystemExit(f"--agents: the demo directory has {len(everyone)} agents")
        self.people = everyone[:agents]
        self.api_key = api_key
        # As `ticketflow token` signs them (a process each would cost a second or so apiece).
        self.tokens = {person: tokens.issue(person, "agent") for person in self.people}
        self.supervisor = tokens.issue("sup-1", "supervisor")
        self.replays = 0
        self.replay_mismatches: list[str] = []

    def post(self, session: requests.Session, order: Order) -> Posted | None:
        customer: dict[str, Any] = {"id": order.key, "name": order.name, "email": order.email, "tier": order.tier}
        if order.phone:
            customer["phone"] = order.phone
        body = {"channel": order.channel, "customer": customer, "description": order.text, "language": order.language}
        headers = {"x-api-key": self.api_key, "Idempotency-Key": order.key}
        url = f"{self.server.url}/tickets"
        # No answer: sent again with the same key.
        response = self.meter.request(
            session, "post_ticket", "POST", url, json=body, headers=headers, retries=LOST_RETRIES
        )
        if response is None or response.status_code != 201:
            return None
        ticket = response.json()
        posted = Posted(order.index, ticket["id"], ticket["number"])
        if order.index % REPLAY_EVERY == 0:
            self._replay(session, body, headers, posted)
        return posted

    def _replay(self, session: requests.Session, body: dict, headers: dict, posted: Posted) -> None:
        """A channel that did not see the answer posts again with the same key: same ticket."""
        response = self.meter.request(
            session, "post_replay", "POST", f"{self.server.url}/tickets", json=body, headers=headers
        )
        with self._lock:
            self.replays += 1
            again = response.json() if response is not None and response.status_code == 201 else {}
            if (again.get("id"), again.get("number")) != (posted.id, posted.number):
                status = response.status_code if response is not None else "no answer"
                self.replay_mismatches.append(f"{posted.number}: replay gave {status} {again.get('number')}")

    def agent(self, person: str, stop: threading.Event) -> None:
        """List what is assigned to me; accept, reply, resolve and close each; look again."""
        session = requests.Session()
        headers = {"Authorization": f"Bearer {self.tokens[person]}"}
        base = self.server.url
        queue = f"{base}/tickets?assignee={person}&status=assigned&limit=5"
        while not stop.is_set():
            response = self.meter.request(session, "list_queue", "GET", queue, headers=headers)
            items = response.json()["items"] if response is not None and response.status_code == 200 else []
            if not items:
                stop.wait(IDLE_S)
                continue
            for ticket in items:
                if stop.is_set():
                    return
                language = "en" if ticket.get("language") == "en" else "zh"
                url = f"{base}/tickets/{ticket['id']}"
                steps: list[tuple[str, str, str, dict | None]] = [
                    ("accept", "POST", f"{url}/accept", None),
                    ("reply", "POST", f"{url}/reply", {"body": REPLIES[language]}),
                    ("resolve", "POST", f"{url}/resolve", {"result": RESULTS[language]}),
                    ("close", "POST", f"{url}/close", {"reason": "resolved"}),
                ]
                self.work(session, steps, headers)

    def settle(self) -> tuple[bool, float]:
        """Wait until the queues are empty (POST /dev/settle waits up to 120 s a call)."""
        started = time.perf_counter()
        deadline = time.monotonic() + SETTLE_LIMIT_S
        while time.monotonic() < deadline:
            response = requests.post(f"{self.server.url}/dev/settle", json={"timeout_s": 120}, timeout=TIMEOUT_S + 60)
            if response.status_code != 200:
                raise RuntimeError(f"POST /dev/settle answered {response.status_code}: is this `ticketflow dev`?")
            if response.json().get("settled"):
                return True, time.perf_counter() - started
        return False, time.perf_counter() - started

    def account(self, orders: list[Order], posted: dict[int, Posted], threads: int) -> dict[str, Any]:
        from ticketflow.models import Status

        headers = {"Authorization": f"Bearer {self.supervisor}"}
        session = requests.Session()
        listed: Counter[str] = Counter()
        number_of: dict[str, str] = {}
        by_status: Counter[str] = Counter()
        unlisted: list[str] = []  # statuses whose listing failed: their tickets count as missing
        for status in Status:
            cursor = None
            while True:
                params = {"status": status.value, "limit": 100, **({"cursor": cursor} if cursor else {})}
                url = f"{self.server.url}/tickets"
                # No answer (a lost response is counted): asked again.
                response = self.meter.request(
                    session, "list_status", "GET", url, params=params, headers=headers, retries=LOST_RETRIES
                )
                if response is None or response.status_code != 200:
                    unlisted.append(f"{status.value}: {getattr(response, 'status_code', 'no answer')}")
                    break
                page = response.json()
                for ticket in page["items"]:
                    listed[ticket["id"]] += 1
                    number_of[ticket["id"]] = ticket["number"]
                    by_status[ticket["status"]] += 1
                cursor = page.get("next_cursor")
                if not cursor:
                    break

        def look_up(item: Posted) -> dict[str, Any]:
            """GET /tickets/{number}: the same ticket, classified and routed once."""
            url = f"{self.server.url}/tickets/{item.number}"
            response = self.meter.request(self.thread_session(), "get_by_number", "GET", url, headers=headers)
            if response is None or response.status_code != 200:
                return {"problem": f"{item.number}: {getattr(response, 'status_code', 'no answer')}"}
            ticket = response.json()
            actions = Counter(entry["action"] for entry in ticket["history"])
            problems = []
            if ticket["id"] != item.id:
                problems.append(f"{item.number} is {ticket['id']}, was posted as {item.id}")
            if not (ticket.get("category") and ticket.get("priority") and ticket.get("team")):
                problems.append(f"{item.number} not classified and routed (status {ticket['status']})")
            if actions["create"] != 1 or actions["classify"] != 1:
                problems.append(f"{item.number}: {actions['create']} create, {actions['classify']} classify entries")
            at: dict[str, datetime] = {}
            for entry in ticket["history"]:
                at.setdefault(entry["action"], datetime.fromisoformat(entry["at"]))
            created = at.get("create")
            return {
                "problem": "; ".join(problems) or None,
                "classified_s": (at["classify"] - created).total_seconds() if created and "classify" in at else None,
                "assigned_s": (at["assign"] - created).total_seconds() if created and "assign" in at else None,
            }

        with ThreadPoolExecutor(max(1, threads)) as pool:
            checks = list(pool.map(look_up, posted.values()))

        posted_ids = {item.id for item in posted.values()}
        posted_numbers = [item.number for item in posted.values()]
        problems = [c["problem"] for c in checks if c["problem"]]
        classified = [c["classified_s"] for c in checks if c.get("classified_s") is not None]
        assigned = [c["assigned_s"] for c in checks if c.get("assigned_s") is not None]
        return {
            "ordered": len(orders),
            "posted": len(posted),
            "listing_failed": unlisted,
            "distinct_ids": len(posted_ids),
            "distinct_numbers": len(set(posted_numbers)),
            "listed_once": sum(1 for i in posted_ids if listed[i] == 1),
            "missing": sorted(i for i in posted_ids if listed[i] == 0)[:20],
            "listed_more_than_once": sorted(i for i in posted_ids if listed[i] > 1)[:20],
            "numbers_match_listing": sum(1 for item in posted.values() if number_of.get(item.id) == item.number),
            "tickets_in_stack": sum(listed.values()),
            "other_tickets_in_stack": len(set(listed) - posted_ids),
            "by_status": dict(sorted(by_status.items())),
            "found_by_number_classified_routed_once": len(checks) - len(problems),
            "problems": problems[:20],
            "problem_count": len(problems),
            "replays": self.replays,
            "replay_mismatches": self.replay_mismatches[:20],
            "triage": {
                "classified_after_creation_ms": spread_ms(classified),
                "assigned_after_creation_ms": spread_ms(assigned),
                "assigned": len(assigned),
            },
        }


class DjangoHelpdesk(Target):
    name = "django-helpdesk"

    def __init__(self, server: Server, meter: Meter) -> None:
        super().__init__(server, meter)
        config = server.config
        self.queue = config["queue"]
        self.channel_token = config["channel"]["token"]
        self.user = {a["username"]: a for a in config["agents"]}
        self.people = list(self.user)

    def post(self, session: requests.Session, order: Order) -> Posted | None:
        # Its API wants a title; a channel would send the message's first words as one.
        title = order.text if len(order.text) <= 60 else order.text[:59] + "…"
        body = {
            "queue": self.queue,
            "title": title,
            "description": order.text,
            "submitter_email": order.email,
            "priority": 3,
        }
        headers = {"Authorization": f"Token {self.channel_token}"}
        url = f"{self.server.url}/api/tickets/"
        # No answer: sent again (it has no idempotency key: a resend may duplicate).
        response = self.meter.request(
            session, "post_ticket", "POST", url, json=body, headers=headers, retries=LOST_RETRIES
        )
        if response is None or response.status_code != 201:
            return None
        ticket = response.json()
        return Posted(order.index, str(ticket["id"]), f"{self.queue}-{ticket['id']}")

    def agent(self, person: str, stop: threading.Event) -> None:
        """Open tickets, oldest first; nothing assigns them, so agent k of K takes ids ≡ k (mod K):
        assign to me, answer in a public follow-up, resolve, close (follow-ups change status)."""
        session = requests.Session()
        me = self.user[person]
        share, of = self.people.index(person), len(self.people)
        headers = {"Authorization": f"Token {me['token']}"}
        base = f"{self.server.url}/api"
        while not stop.is_set():
            response = self.meter.request(
                session, "list_queue", "GET", f"{base}/tickets/?status=1&page_size=20", headers=headers
            )
            results = response.json()["results"] if response is not None and response.status_code == 200 else []
            mine = [t for t in results if t["assigned_to"] is None and t["id"] % of == share]
            if not mine:
                stop.wait(IDLE_S)
                continue
            for ticket in mine:
                if stop.is_set():
                    return
                language = "zh" if CJK.search(ticket["description"]) else "en"
                public = {"ticket": ticket["id"], "public": True}  # a follow-up the customer is e-mailed
                steps: list[tuple[str, str, str, dict | None]] = [
                    ("accept", "PATCH", f"{base}/tickets/{ticket['id']}/", {"assigned_to": me["id"]}),
                    ("reply", "POST", f"{base}/followups/", {**public, "comment": REPLIES[language]}),
                    (
                        "resolve",
                        "POST",
                        f"{base}/followups/",
                        {**public, "comment": RESULTS[language], "new_status": 3},
                    ),
                    ("close", "POST", f"{base}/followups/", {**public, "comment": RESULTS[language], "new_status": 4}),
                ]
                self.work(session, steps, headers, ok=(200, 201))

    def account(self, orders: list[Order], posted: dict[int, Posted], threads: int) -> dict[str, Any]:
        headers = {"Authorization": f"Token {self.channel_token}"}
        session = requests.Session()
        listed: Counter[str] = Counter()
        emails: Counter[str] = Counter()
        by_status: Counter[str] = Counter()
        names = {1: "open", 2: "reopened", 3: "resolved", 4: "closed", 5: "duplicate"}
        url: str | None = f"{self.server.url}/api/tickets/?page_size=1000"
        while url:
            response = self.meter.request(session, "list_all", "GET", url, headers=headers)
            if response is None or response.status_code != 200:
                raise RuntimeError(f"listing tickets failed: {getattr(response, 'text', '')[:300]}")
            page = response.json()
            for ticket in page["results"]:
                listed[str(ticket["id"])] += 1
                emails[ticket["submitter_email"]] += 1
                by_status[names.get(ticket["status"], str(ticket["status"]))] += 1
            url = page.get("next")
        posted_ids = {item.id for item in posted.values()}
        sent = {order.email for order in orders if order.index in posted}

        # Read back 1 in REPLAY_EVERY by id: its API reads cost O(all tickets) each (the viewset's
        # get_queryset() loads every accessible ticket and queries its custom fields, even for one).
        by_index = {order.index: order for order in orders}

        def read_back(item: Posted) -> str | None:
            url = f"{self.server.url}/api/tickets/{item.id}/"
            response = self.meter.request(self.thread_session(), "get_by_id", "GET", url, headers=headers)
            if response is None or response.status_code != 200:
                return f"{item.id}: {getattr(response, 'status_code', 'no answer')}"
            ticket, order = response.json(), by_index[item.index]
            if (ticket["submitter_email"], ticket["description"]) != (order.email, order.text):
                return f"{item.id} is not the ticket posted"
            return None

        sample = [item for item in posted.values() if item.index % REPLAY_EVERY == 0]
        with ThreadPoolExecutor(max(1, threads)) as pool:
            problems = [p for p in pool.map(read_back, sample) if p]
        return {
            "ordered": len(orders),
            "posted": len(posted),
            "distinct_ids": len(posted_ids),
            "listed_once": sum(1 for i in posted_ids if listed[i] == 1),
            "missing": sorted(i for i in posted_ids if listed[i] == 0)[:20],
            "listed_more_than_once": sorted(i for i in posted_ids if listed[i] > 1)[:20],
            "duplicated_customers": sorted(e for e in sent if emails[e] > 1)[:20],
            "tickets_in_stack": sum(listed.values()),
            "other_tickets_in_stack": len(set(listed) - posted_ids),
            "by_status": dict(sorted(by_status.items())),
            "read_back_by_id": len(sample) - len(problems),
            "read_back_sample": len(sample),
            "problem_count": len(problems),
            "problems": problems[:20],
        }


# ---------------------------------------------------------------- the run


def run(
    target: Target,
    *,
    channels: int,
    tickets: int,
    seed: int = 7,
    progress: TextIO | None = None,
) -> dict[str, Any]:
    """Post the tickets from ``channels`` threads while the target's agents work, settle,
    account for every ticket, and return the report (``report["failures"]`` empty: it held)."""
    run_id = uuid.uuid4().hex[:8]
    todo = orders(tickets, seed=seed, run=run_id)
    meter = target.meter
    posted: dict[int, Posted] = {}
    refused: list[int] = []
    lock = threading.Lock()
    pending = iter(todo)
    stop = threading.Event()

    def channel() -> None:
        session = requests.Session()
        while True:
            with lock:
                order = next(pending, None)
            if order is None:
                return
            result = target.post(session, order)
            with lock:
                if result is None:
                    refused.append(order.index)
                else:
                    posted[order.index] = result

    started = time.perf_counter()
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()  # the machine may be shared: say how busy it was
    channel_threads = [threading.Thread(target=channel, name=f"channel-{n}") for n in range(channels)]
    agent_threads = [threading.Thread(target=target.agent, args=(p, stop), name=p) for p in target.agents()]
    for thread in [*channel_threads, *agent_threads]:
        thread.start()
    while any(t.is_alive() for t in channel_threads):
        for thread in channel_threads:
            thread.join(1.0)
        if progress:
            elapsed = time.perf_counter() - started
            progress.write(
                f"\r{target.name}: posted {len(posted)}/{tickets} in {elapsed:.0f} s "
                f"({len(posted) / max(elapsed, 1e-9):.1f}/s), agents closed {target.done['close']}   "
            )
            progress.flush()
    posting_s = time.perf_counter() - started
    stop.set()
    for thread in agent_threads:
        thread.join()
    if progress:
        progress.write(f"\n{target.name}: settling and accounting for every ticket...\n")
        progress.flush()
    settled, settle_s = target.settle()
    settled_s = time.perf_counter() - started
    accounting = target.account(todo, posted, channels)
    pids = target.server_pids()
    rss = peak_rss_mb([*pids, *(c for p in pids for c in children(p))])
    server_errors, lost = meter.server_errors(), sum(meter.lost.values())

    failures = []
    if refused:
        failures.append(f"{len(refused)} tickets were not accepted (non-201 or no answer)")
    if server_errors:
        failures.append(f"{server_errors} responses were 5xx")
    if lost:
        failures.append(f"{lost} requests got no answer: {meter.lost_examples[:3]}")
    if not settled:
        failures.append(f"the pipeline had not settled after {SETTLE_LIMIT_S} s")
    if accounting["listed_once"] != len(posted) or accounting["distinct_ids"] != len(posted):
        failures.append(
            f"{len(posted)} posted, {accounting['listed_once']} listed exactly once: "
            f"missing {accounting['missing']}, more than once {accounting['listed_more_than_once']}"
        )
    if accounting.get("listing_failed"):
        failures.append(f"listing tickets failed: {accounting['listing_failed']}")
    if target.server.fresh and accounting["other_tickets_in_stack"]:
        failures.append(f"{accounting['other_tickets_in_stack']} tickets in the stack were never posted")
    if "distinct_numbers" in accounting and accounting["distinct_numbers"] != len(posted):
        failures.append(f"{len(posted) - accounting['distinct_numbers']} ticket numbers were given twice")
    if "numbers_match_listing" in accounting and accounting["numbers_match_listing"] != len(posted):
        failures.append(f"{len(posted) - accounting['numbers_match_listing']} numbers differ from the listing")
    if accounting["problem_count"]:
        failures.append(f"{accounting['problem_count']} tickets failed their checks: {accounting['problems'][:5]}")
    if accounting.get("replay_mismatches"):
        failures.append(f"idempotent replays gave another ticket: {accounting['replay_mismatches'][:5]}")
    if accounting.get("duplicated_customers"):
        failures.append(f"tickets stored twice: {accounting['duplicated_customers'][:5]}")

    return {
        "target": target.name,
        "server": target.server.description,
        "url": target.server.url,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
            "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        },
        "started_at": started_at.isoformat(timespec="seconds"),
        "config": {"channels": channels, "tickets": tickets, "agents": len(target.agents()), "seed": seed},
        "posting_s": round(posting_s, 2),
        "tickets_per_s": round(len(posted) / posting_s, 2),
        "settle_s": round(settle_s, 2),
        "settled_s": round(settled_s, 2),
        "tickets_per_s_settled": round(len(posted) / settled_s, 2),
        "requests": dict(sorted(meter.summary().items())),
        "errors_by_status": meter.errors_by_status(),
        "lost": lost,
        "agents_did": dict(sorted(target.done.items())),
        "accounting": accounting,
        "peak_rss_mb": rss,
        "failures": failures,
    }


def table(report: dict[str, Any]) -> str:
    c = report["config"]
    lines = [
        f"{report['server']}",
        f"{c['tickets']} tickets from {c['channels']} channels, {c['agents']} agents working, "
        f"{report['machine']['cpus']} CPUs (Python {report['machine']['python']}), load average "
        f"{' → '.join(map(str, report['machine']['load_average_1min_before_after']))}",
        f"posted in {report['posting_s']:.1f} s: {report['tickets_per_s']:.1f} tickets/s; settled after "
        f"{report['settled_s']:.1f} s: {report['tickets_per_s_settled']:.1f} tickets/s end to end",
        "",
        f"{'request':<16}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}  statuses",
    ]
    for kind, row in report["requests"].items():
        ms = row["latency_ms"] or {"p50": 0, "p95": 0, "p99": 0, "max": 0}
        statuses = " ".join(f"{k}×{v}" for k, v in row["statuses"].items())
        statuses += f" lost×{row['lost']}" if row["lost"] else ""
        figures = "".join(f"{ms[p]:>9.1f}" for p in ("p50", "p95", "p99", "max"))
        lines.append(f"{kind:<16}{row['count']:>7}{figures}  {statuses}")
    a = report["accounting"]
    lines += [
        "",
        f"agents: {', '.join(f'{k} {v}' for k, v in report['agents_did'].items()) or 'nothing'}",
        f"accounted: {a['listed_once']}/{a['posted']} posted tickets listed exactly once "
        f"({a['tickets_in_stack']} in the stack, {a['other_tickets_in_stack']} from elsewhere)",
        f"by status at the end: {a['by_status']}",
    ]
    if "read_back_sample" in a:
        lines.append(f"read back by id (1 in {REPLAY_EVERY}): {a['read_back_by_id']}/{a['read_back_sample']} as posted")
    if "found_by_number_classified_routed_once" in a:
        triage = a["triage"]
        lines.append(
            f"by number, classified and routed once: {a['found_by_number_classified_routed_once']}/{a['posted']}; "
            f"idempotent replays {a['replays']} ({len(a['replay_mismatches'])} wrong)"
        )
        lines.append(
            f"classified after creation (ms): {triage['classified_after_creation_ms']}; "
            f"assigned ({triage['assigned']}): {triage['assigned_after_creation_ms']}"
        )
    rss = report["peak_rss_mb"]
    memory = f"{rss['total']} MB over {len(rss['processes'])} process(es)" if rss else "unknown"
    lines += [
        f"errors by status: {report['errors_by_status'] or 'none'}; lost responses: {report['lost']}",
        f"peak RSS of the server: {memory}",
        "HELD: every ticket accounted for, no 5xx, nothing lost"
        if not report["failures"]
        else "FAILED:\n  " + "\n  ".join(report["failures"]),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=20, help="concurrent channels (default %(default)s)")
    parser.add_argument("--tickets", type=int, default=5000, help="tickets in all (default %(default)s)")
    parser.add_argument("--agents", type=int, default=6, help="agents working in parallel (default %(default)s)")
    parser.add_argument("--url", help="a running `ticketflow dev` (default: start one on a free port)")
    parser.add_argument("--api-key", default=DEMO_API_KEY, help="its channel key (default %(default)s)")
    parser.add_argument("--peer", choices=["django-helpdesk"], help="load the peer instead (see bench/peers/)")
    parser.add_argument(
        "--peer-workers",
        type=int,
        default=2 * (os.cpu_count() or 1) + 1,
        help="gunicorn sync workers for the peer (default 2 × CPUs + 1: %(default)s)",
    )
    parser.add_argument(
        "--sweep-every",
        type=float,
        metavar="SECONDS",
        help="how often the started `ticketflow dev` fires the SLA sweep (default: every minute, as deployed)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="report file (default artifacts/load.json, or load-<peer>.json)")
    args = parser.parse_args(argv)
    if args.channels < 1 or args.tickets < 1 or args.agents < 0:
        parser.error("--channels and --tickets must be at least 1, --agents at least 0")

    meter = Meter()
    out = args.out or ARTIFACTS / (f"load-{args.peer}.json" if args.peer else "load.json")
    log = out.with_suffix(".log")  # the server's own log, to read when something failed
    server: contextlib.AbstractContextManager[Server]
    if args.peer:
        server = django_helpdesk(args.agents, args.peer_workers, log)
    elif args.url:
        server = contextlib.nullcontext(Server(args.url.rstrip("/"), None, f"ticketflow dev at {args.url}"))
    else:
        server = ticketflow_dev(args.api_key, log, args.sweep_every)
    with server as running:
        print(f"load: {running.description} on {running.url}", file=sys.stderr, flush=True)
        target: Target = (
            DjangoHelpdesk(running, meter)
            if args.peer
            else Ticketflow(running, meter, api_key=args.api_key, agents=args.agents)
        )
        report = run(target, channels=args.channels, tickets=args.tickets, seed=args.seed, progress=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(table(report))
    print(f"report: {out}")
    return 0 if not report["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
