"""`ticketflow dev --demo` / `ticketflow demo`: replay realistic days of tickets through the
local stack, so the reports and the dashboard have something to show.

Everything goes over HTTP, as channels, agents and customers would: channels post tickets
(Chinese and English, every category), the pipeline classifies, auto-replies and assigns
them, agents accept, reply, ask the customer, transfer, resolve and close; some customers
come back (reopen), some answer the survey from the link in their email or SMS, a few of
them unhappily (which opens a recovery ticket). The stack's clock is moved along the replay
(POST /dev/clock, local only), so the figures have realistic times: the replay covers the
``days`` before now, tickets arriving mostly in office hours, and ends at the present with
the day's unfinished work still open.

Deterministic for a given seed (up to the order the stack's queues deliver in).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import os
import random
import re
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from infra.local import tokens

ZONE = ZoneInfo("Asia/Shanghai")
# The schedule runs every minute on AWS; every 30 minutes of the replayed day is enough for
# warnings and escalations to land near their time, and keeps the replay quick.
SWEEP_EVERY = timedelta(minutes=30)
SURVEY_LINK = re.compile(r"/surveys/([A-Za-z0-9_-]{20,})")

# What customers write, per kind of request (zh and en), and the channel mix.
MESSAGES: dict[str, list[str]] = {
    "product_info": [
        "请问这款扫地机器人的规格参数是什么？支持APP控制吗",
        "想了解一下这款空气净化器适用于多大面积的房间",
        "这两款耳机有什么区别？哪个降噪更好",
        "Does this model support Bluetooth 5.3 and multipoint pairing?",
    ],
    "pricing": [
        "请问现在买有优惠吗？能不能用优惠券",
        "企业批量采购有折扣价格吗，大概需要两百台",
        "Is there a student discount or a bundle price for two units?",
    ],
    "logistics": [
        "我的快递三天了还没到，物流也不更新",
        "订单显示已发货，但是物流信息一直没有变化，什么时候能到",
        "能不能帮我改一下收货地址，还没发货",
        "My parcel has been stuck in transit for five days, where is it?",
    ],
    "payment_process": [
        "付款成功了但是订单还显示待支付，钱已经扣了",
        "退款申请提交一周了还没到账，请帮忙查一下",
        "How do I request a refund for a duplicate payment?",
    ],
    "product_quality": [
        "收到的吹风机用了两天就坏了，开机没有反应",
        "新买的手机屏幕有坏点，要求换货",
        "紧急！充电器冒烟了，非常危险，请马上处理",
        "The blender stopped working after one week, I want a replacement.",
    ],
    "service_experience": [
        "客服态度太差了，问了三次都没人解决，我要投诉",
        "上门安装的师傅迟到了两个小时也没提前通知",
        "I have been waiting for an answer for days, this is unacceptable.",
    ],
}
KINDS = list(MESSAGES)
KIND_WEIGHTS = [24, 12, 26, 14, 16, 8]
CHANNELS = ["web", "app", "email", "chat", "sms"]
CHANNEL_WEIGHTS = [35, 20, 20, 15, 10]
# Arrivals per hour of the local day (office hours, a late-morning and an afternoon peak).
HOUR_WEIGHTS = [0, 0, 0, 0, 0, 0, 0, 1, 3, 6, 9, 9, 6, 7, 9, 9, 8, 6, 4, 3, 3, 2, 1, 0]
TEAMS_OF = {
    "presales": ["agent-1", "agent-2"],
    "logistics": ["agent-3", "agent-5"],
    "aftersales": ["agent-4", "agent-6"],
}
OTHER_TEAM = {"presales": "logistics", "logistics": "aftersales", "aftersales": "logistics"}
REPLIES = {
    "zh": ["您好，已为您查询，{x}。", "感谢您的耐心等待，{x}。", "非常抱歉给您带来不便，{x}。"],
    "en": ["Hello, I have checked this for you: {x}.", "Thanks for waiting: {x}.", "Sorry for the trouble: {x}."],
}
FIXES = {
    "zh": ["已为您处理完毕", "已安排补发", "已提交加急处理", "已为您办理退款"],
    "en": ["it is fixed", "a replacement is on its way", "the refund is done"],
}


class Http:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.requests = 0
        self.errors: Counter[int] = Counter()

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", "x-api-key": self.api_key}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method, headers=headers)
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as error:
            text, status = error.read().decode(), error.code
        if status >= 500:
            self.errors[status] += 1
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text


@dataclass
class Case:
    """One customer's request and how it will go."""

    id: str
    number: str
    language: str
    customer: str
    plan: str  # simple | pending | transfer | reopen | open
    agent: str | None = None
    team: str | None = None
    status: str = "new"
    transferred: bool = False
    reopened: bool = False


@dataclass
class ReplayCounts:
    created: int = 0
    accepted: int = 0
    replied: int = 0
    resolved: int = 0
    closed: int = 0
    transferred: int = 0
    reopened: int = 0
    surveys_answered: int = 0
    refused: Counter[str] = field(default_factory=Counter)


class Replay:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        days: int = 1,
        tickets_per_day: int = 60,
        seed: int = 7,
        out: TextIO = sys.stderr,
        now: datetime | None = None,
    ) -> None:
        self.http = Http(base_url, api_key)
        self.random = random.Random(seed)
        self.days = days
        self.tickets_per_day = tickets_per_day
        self.out = out
        self.end = (now or datetime.now(UTC)).astimezone(UTC)
        self.start = self.end - timedelta(days=days)
        self.tokens = {
            person: tokens.issue(person, role)
            for person, role in [*((a, "agent") for t in TEAMS_OF.values() for a in t), ("sup-1", "supervisor")]
        }
        self.cases: dict[str, Case] = {}
        self.tally = ReplayCounts()
        self._events: list[tuple[datetime, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._answered: set[str] = set()
        self.clock = self.start

    # ------------------------------------------------------------ the timeline

    def at(self, moment: datetime, action: Callable[[], None]) -> None:
        if moment <= self.end:  # later work is still to come: it stays open
            heapq.heappush(self._events, (moment, next(self._seq), action))

    def minutes(self, low: float, high: float) -> timedelta:
        """A delay between low and high minutes, skewed short (most things are quick)."""
        return timedelta(minutes=low + (high - low) * self.random.random() ** 2)

    def arrivals(self) -> list[datetime]:
        found = []
        for _ in range(self.days * self.tickets_per_day):
            while True:
                moment = self.start + timedelta(seconds=self.random.uniform(0, (self.end - self.start).total_seconds()))
                if self.random.random() * max(HOUR_WEIGHTS) < HOUR_WEIGHTS[moment.astimezone(ZONE).hour]:
                    found.append(moment)
                    break
        return sorted(found)

    def run(self) -> ReplayCounts:
        started = time.monotonic()
        for moment in self.arrivals():
            self.at(moment, self.open_ticket)
        sweep_at = self.start
        total = len(self._events)
        done = 0
        self._progress(0, total, force=True)
        while self._events:
            moment, _, action = heapq.heappop(self._events)
            while sweep_at + SWEEP_EVERY <= moment:  # the SLA sweep, as its schedule would run it
                sweep_at += SWEEP_EVERY
                self._travel(sweep_at)
                self.http.call("POST", "/dev/schedules/sla-sweep")
            self._travel(moment)
            action()
            self.http.call("POST", "/dev/settle", {"timeout_s": 10})
            self.answer_surveys()
            done += 1
            total = max(total, done + len(self._events))
            self._progress(done, total)
        self._travel(None)
        self.http.call("POST", "/dev/schedules/sla-sweep")
        self.http.call("POST", "/dev/settle", {"timeout_s": 10})
        self.answer_surveys(final=True)
        self._progress(done, total, force=True)
        t = self.tally
        print(
            f"\ndemo: {t.created} tickets over {self.days} day(s) in {time.monotonic() - started:.0f} s: "
            f"{t.resolved} resolved, {t.closed} closed, {t.transferred} transferred, {t.reopened} reopened, "
            f"{t.surveys_answered} surveys answered; {self.http.requests} requests, "
            f"{sum(self.http.errors.values())} server errors",
            file=self.out,
            flush=True,
        )
        return t

    def _travel(self, moment: datetime | None) -> None:
        self.clock = moment or self.end
        status, body = self.http.call("POST", "/dev/clock", {"at": moment.isoformat() if moment else None})
        if status != 200:
            raise RuntimeError(f"the stack refused to move its clock ({status}): is this `ticketflow dev`? {body}")

    _last_progress = 0.0

    def _progress(self, done: int, total: int, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_progress < 0.5:
            return
        self._last_progress = time.monotonic()
        width = 30
        filled = int(width * done / total) if total else width
        local = self.clock.astimezone(ZONE).strftime("%m-%d %H:%M")
        line = (
            f"\rdemo [{'#' * filled}{'.' * (width - filled)}] {done}/{total} steps  {local}  "
            f"tickets {self.tally.created}  resolved {self.tally.resolved}  surveys {self.tally.surveys_answered}"
        )
        self.out.write(line)
        self.out.flush()

    # ------------------------------------------------------------ channels and customers

    def open_ticket(self) -> None:
        kind = self.random.choices(KINDS, KIND_WEIGHTS)[0]
        text = self.random.choice(MESSAGES[kind])
        language = "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"
        channel = self.random.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        n = self.tally.created + 1
        customer = {
            "id": f"demo-{n:04d}",
            "name": f"客户{n:04d}" if language == "zh" else f"Customer {n}",
            "email": f"customer{n:04d}@example.com",
            "tier": "vip" if self.random.random() < 0.1 else "standard",
        }
        if channel == "sms":
            customer["phone"] = f"+86138{n:08d}"
        body = {"channel": channel, "customer": customer, "description": text, "language": language}
        if kind == "logistics" and self.random.random() < 0.5:
            body["order_number"] = f"SO{2026000 + n}"
        status, ticket = self.http.call("POST", "/tickets", body)
        if status != 201:
            self.tally.refused[f"create {status}"] += 1
            return
        plan = self.random.choices(["simple", "pending", "transfer", "reopen", "open"], [58, 15, 8, 7, 12])[0]
        case = Case(ticket["id"], ticket["number"], language, customer["id"], plan)
        self.cases[case.id] = case
        self.tally.created += 1
        self.at(self.clock + timedelta(minutes=2), lambda: self.pick_up(case))

    def answer_surveys(self, final: bool = False) -> None:
        """Customers answer some of the surveys in their inbox (about 45 %), mostly happily."""
        if not final and self.random.random() < 0.8:
            return  # look now and then, not after every step
        status, outbox = self.http.call("GET", "/dev/outbox")
        if status != 200:
            return
        texts = [m.get("body") or "" for m in outbox.get("email", [])] + [m["message"] for m in outbox.get("sms", [])]
        for text in texts:
            for token in SURVEY_LINK.findall(text):
                if token in self._answered:
                    continue
                self._answered.add(token)
                if self.random.random() > 0.45:
                    continue
                overall = self.random.choices([5, 4, 3, 2, 1], [50, 30, 12, 5, 3])[0]
                scores = {
                    d: max(1, min(5, overall + self.random.choice([-1, 0, 0, 0, 1])))
                    for d in ("attitude", "speed", "resolution")
                }
                answer = {**{k: str(v) for k, v in scores.items()}, "overall": str(overall)}
                answer["nps"] = str(max(0, min(10, overall * 2 + self.random.choice([-1, 0, 0, 1]))))
                if overall <= 2:
                    answer["comment"] = (
                        "处理太慢了，希望改进" if self.random.random() < 0.5 else "Too slow, please improve."
                    )
                status, _ = self.http.call("POST", f"/surveys/{token}", answer)
                if status == 200:
                    self.tally.surveys_answered += 1

    # ------------------------------------------------------------ agents

    def pick_up(self, case: Case, attempts: int = 0) -> None:
        """An agent notices the ticket the pipeline assigned them (or a teammate claims it)."""
        status, ticket = self.http.call("GET", f"/tickets/{case.id}", token=self.tokens["sup-1"])
        if status != 200 or ticket["status"] not in ("assigned", "classified"):
            return
        case.team = ticket["team"] or "aftersales"
        agent = ticket["assignee"] or self.random.choice(TEAMS_OF.get(case.team, TEAMS_OF["aftersales"]))
        if agent not in self.tokens:
            return
        case.agent = agent
        urgent = ticket.get("priority") == "P1"
        self.at(self.clock + self.minutes(1, 15 if urgent else 45), lambda: self.accept(case))

    def act(self, case: Case, action: str, body: dict | None = None, who: str | None = None) -> bool:
        who = who or case.agent
        assert who is not None
        status, answer = self.http.call("POST", f"/tickets/{case.id}/{action}", body or {}, token=self.tokens[who])
        if status != 200:
            self.tally.refused[f"{action} {status}"] += 1
            return False
        case.status = answer["status"]
        return True

    def say(self, case: Case) -> str:
        fix = self.random.choice(FIXES[case.language])
        return self.random.choice(REPLIES[case.language]).format(x=fix)

    def accept(self, case: Case) -> None:
        if not self.act(case, "accept"):
            self.at(self.clock + timedelta(minutes=10), lambda: self.pick_up(case))
            return
        self.tally.accepted += 1
        self.at(self.clock + self.minutes(1, 30), lambda: self.first_reply(case))

    def first_reply(self, case: Case) -> None:
        if not self.act(case, "reply", {"body": self.say(case)}):
            return
        self.tally.replied += 1
        if case.plan == "transfer" and not case.transferred:
            self.at(self.clock + self.minutes(2, 20), lambda: self.transfer(case))
        elif case.plan == "pending":
            self.at(self.clock + self.minutes(1, 5), lambda: self.ask_customer(case))
        elif case.plan != "open":
            self.at(self.clock + self.minutes(10, 120), lambda: self.resolve(case))

    def transfer(self, case: Case) -> None:
        team = OTHER_TEAM.get(case.team or "", "aftersales")
        if not self.act(case, "transfer", {"team": team, "reason": "需要其他组协助 / needs another team"}):
            return
        case.transferred, case.team, case.agent = True, team, None
        self.tally.transferred += 1
        self.at(self.clock + timedelta(minutes=2), lambda: self.pick_up(case))

    def ask_customer(self, case: Case) -> None:
        if self.act(case, "pending", {"reason": "等待客户提供订单截图 / waiting for the customer"}):
            self.at(self.clock + self.minutes(20, 300), lambda: self.customer_answers(case))

    def customer_answers(self, case: Case) -> None:
        if self.act(case, "resume", {"note": "客户已补充信息 / the customer answered"}):
            case.plan = "simple"
            self.at(self.clock + self.minutes(3, 40), lambda: self.first_reply(case))

    def resolve(self, case: Case) -> None:
        if not self.act(case, "resolve", {"result": self.say(case)}):
            return
        self.tally.resolved += 1
        if case.plan == "reopen" and not case.reopened:
            self.at(self.clock + self.minutes(30, 300), lambda: self.reopen(case))
        else:
            self.at(self.clock + self.minutes(20, 180), lambda: self.close(case))

    def reopen(self, case: Case) -> None:
        if self.act(case, "reopen", {"reason": "客户反馈问题仍未解决 / the customer says it is not fixed"}):
            case.reopened, case.plan = True, "simple"
            self.tally.reopened += 1
            self.at(self.clock + self.minutes(5, 60), lambda: self.first_reply(case))

    def close(self, case: Case) -> None:
        if self.act(case, "close", {"reason": "resolved"}):
            self.tally.closed += 1


@contextlib.contextmanager
def quietly(*loggers: logging.Logger) -> Iterator[None]:
    """While the replay runs in the stack's own process: no handler logs or metrics on stdout,
    no request log, only the progress line."""
    from ticketflow.observability import logger

    # The handlers' Powertools logger wraps a standard one: its level is `log_level`.
    levels = [(log, log.level) for log in loggers]
    handlers_level = logger.log_level
    for log, _ in levels:
        log.setLevel(logging.WARNING)
    logger.setLevel(logging.WARNING)
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            yield
    finally:
        for log, level in levels:
            log.setLevel(level)
        logger.setLevel(handlers_level)


def wait_for(base_url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{base_url.rstrip('/')}/dev/clock", timeout=5):
                return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
