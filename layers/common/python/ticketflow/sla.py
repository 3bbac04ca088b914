"""SLA clocks: which policy applies, when each target is due, and what is owed when.

A ticket's SLA is a set of targets (first response, next response, resolution) from the first
policy whose conditions match it. Each target is a clock on the policy's calendar: it runs,
pauses (in the statuses the policy pauses it in), resumes, and is met or breached. Due times
are absolute: computed when a clock starts or resumes, from the open minutes still left.

Thresholds turn a running clock into notices: a warning to the assignee at 75 % of the target,
the breach to the team supervisor (level 1), a second level to the manager further on. Each
target keeps the times its next notices fall due; the ticket's ``sla_next_check`` (the
earliest of them) puts it in the sweep's sparse index. Everything here is pure: the caller
passes ``now``.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from ticketflow import runtime_config
from ticketflow.calendars import Calendar, default_calendars
from ticketflow.clock import Timestamp, iso
from ticketflow.configuration.document import Document

Target = Literal["first_response", "next_response", "resolution"]
TARGETS: tuple[Target, ...] = ("first_response", "next_response", "resolution")
Level = Literal["warning", "breach", "escalation"]
LEVELS: tuple[Level, ...] = ("warning", "breach", "escalation")


# ---------------------------------------------------------------- policies (data)


class Conditions(Document):
    priorities: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    tiers: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)

    def match(self, *, priority: str | None, category: str | None, tier: str, channel: str) -> bool:
        checks = (
            (self.priorities, priority),
            (self.categories, category),
            (self.tiers, tier),
            (self.channels, channel),
        )
        return all(not allowed or value in allowed for allowed, value in checks)


class Policy(Document):
    id: str
    name: str
    when: Conditions = Field(default_factory=Conditions)
    calendar: str
    business_hours: bool = True
    targets: dict[Target, dict[str, float]]


class Thresholds(Document):
    warning_ratio: float = Field(default=0.75, gt=0, lt=1)
    escalation_ratio: float = Field(default=1.5, gt=1)
    raise_priority_on_level_2: bool = False


class SlaConfig(Document):
    policies: list[Policy] = Field(min_length=1)
    pause: dict[str, list[str]] = Field(default_factory=dict)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    owner_minutes: float = Field(default=30, gt=0)
    stuck_minutes: float = Field(default=10, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> SlaConfig:
        ids = [policy.id for policy in self.policies]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"policies: ids must be unique ({', '.join(twice)})")
        for index, policy in enumerate(self.policies[:-1]):
            if not any(policy.when.model_dump().values()):
                raise ValueError(
                    f"policies.{index}: {policy.id!r} has no conditions, so the policies after it can never apply "
                    "(the policy without conditions must be the last, the fallback)"
                )
        for index, policy in enumerate(self.policies):
            for target, minutes in policy.targets.items():
                for priority, value in minutes.items():
                    if priority not in ("P1", "P2", "P3", "P4") or value <= 0:
                        raise ValueError(
                            f"policies.{index}.targets.{target}.{priority}: priorities are P1-P4 and targets "
                            "positive minutes"
                        )
        return self

    def policy_for(self, *, priority: str | None, category: str | None, tier: str, channel: str) -> Policy:
        for policy in self.policies:
            if policy.when.match(priority=priority, category=category, tier=tier, channel=channel):
                return policy
        return self.policies[-1]


def config() -> SlaConfig:
    # For demos and end-to-end tests: TICKETFLOW_SLA_MINUTE_SECONDS=1 makes every SLA minute
    # (targets, owner timer, safety net) last one second. Never set in production.
    scale = float(os.environ.get("TICKETFLOW_SLA_MINUTE_SECONDS") or 60) / 60
    return runtime_config.live("sla").built(
        f"sla×{scale:g}", lambda data: _scaled(SlaConfig.model_validate(data), scale)
    )


def _scaled(cfg: SlaConfig, scale: float) -> SlaConfig:
    if scale == 1:
        return cfg
    for policy in cfg.policies:
        policy.targets = {name: {p: m * scale for p, m in per.items()} for name, per in policy.targets.items()}
    cfg.owner_minutes *= scale
    cfg.stuck_minutes *= scale
    return cfg


def calendars() -> dict[str, Calendar]:
    def build(data: Any) -> dict[str, Calendar]:
        items = data["calendars"] if isinstance(data, dict) else data
        return {c.id: c for c in (Calendar.model_validate(item) for item in items)}

    try:
        return runtime_config.live("calendars").built("calendars", build)
    except FileNotFoundError:  # pragma: no cover - defaults always ship
        return default_calendars()


# ---------------------------------------------------------------- clocks (state on the ticket)


class Pause(BaseModel):
    start: Timestamp
    end: Timestamp | None = None


class Clock(BaseModel):
    """One target's clock. ``consumed`` counts open minutes used before ``running_since``."""

    target: str
    minutes: float
    status: Literal["running", "paused", "met", "breached", "stopped"] = "running"
    started_at: Timestamp
    running_since: Timestamp | None = None
    consumed: float = 0.0
    due_at: Timestamp | None = None
    warn_at: Timestamp | None = None
    escalate_at: Timestamp | None = None
    met_at: Timestamp | None = None
    breached_at: Timestamp | None = None
    pauses: list[Pause] = Field(default_factory=list)
    notified: list[Level] = Field(default_factory=list)


class SlaState(BaseModel):
    policy: str
    policy_name: str
    calendar: str
    business_hours: bool
    priority: str | None
    clocks: dict[str, Clock] = Field(default_factory=dict)
    why: list[str] = Field(default_factory=list)

    def next_check(self) -> datetime | None:
        """The earliest notice still owed, for the sweep's index (None: nothing to watch)."""
        times = [t for clock in self.clocks.values() for t in _owed_times(clock)]
        return min(times) if times else None


def _owed_times(clock: Clock) -> list[datetime]:
    if clock.status not in ("running", "breached"):
        return []
    owed = {"warning": clock.warn_at, "breach": clock.due_at, "escalation": clock.escalate_at}
    return [t for level, t in owed.items() if t is not None and level not in clock.notified]


def _calendar(state: SlaState) -> Calendar:
    cals = calendars()
    return cals[state.calendar] if state.business_hours else cals.get("24x7") or cals[state.calendar]


def _schedule(clock: Clock, cal: Calendar, thresholds: Thresholds) -> None:
    """Absolute due, warning and escalation times from the open minutes left."""
    since = clock.running_since
    assert since is not None
    left = clock.minutes - clock.consumed

    def at(fraction: float) -> datetime:
        return cal.add(since, max(0.0, clock.minutes * fraction - clock.consumed))

    clock.due_at = cal.add(since, max(0.0, left))
    clock.warn_at = at(thresholds.warning_ratio)
    clock.escalate_at = at(thresholds.escalation_ratio)


def start(*, created_at: datetime, priority: str | None, category: str | None, tier: str, channel: str) -> SlaState:
    """Start the first-response and resolution clocks (from the ticket's creation)."""
    cfg = config()
    policy = cfg.policy_for(priority=priority, category=category, tier=tier, channel=channel)
    conditions = policy.when.model_dump(exclude_defaults=True)
    state = SlaState(
        policy=policy.id,
        policy_name=policy.name,
        calendar=policy.calendar,
        business_hours=policy.business_hours,
        priority=priority,
        why=[
            f"policy {policy.id} ({policy.name}): "
            + (f"matched {conditions}" if conditions else "the fallback, no other policy matched"),
            "counted in "
            + (f"business hours of calendar {policy.calendar}" if policy.business_hours else "calendar time"),
        ],
    )
    cal = _calendar(state)
    for target in ("first_response", "resolution"):
        _restart(state, target, cfg, cal, created_at)
    return state


def _pause(clock: Clock, cal: Calendar, now: datetime) -> None:
    if clock.status in ("running", "breached") and clock.running_since is not None:
        clock.consumed += cal.elapsed(clock.running_since, now)
        clock.running_since = None
        clock.status = "paused"
        clock.pauses.append(Pause(start=now))


def _resume(clock: Clock, cal: Calendar, thresholds: Thresholds, now: datetime) -> None:
    if clock.status == "paused":
        clock.running_since = now
        clock.status = "breached" if clock.breached_at else "running"
        if clock.pauses and clock.pauses[-1].end is None:
            clock.pauses[-1].end = now
        _schedule(clock, cal, thresholds)


def _meet(clock: Clock | None, now: datetime) -> None:
    if clock and clock.met_at is None and clock.status in ("running", "paused", "breached"):
        clock.met_at = now
        clock.status = "met" if clock.breached_at is None else "breached"
        clock.running_since = None


def _stop(clock: Clock, now: datetime) -> None:
    if clock.status in ("running", "paused"):
        clock.status = "stopped"
        clock.running_since = None
        if clock.pauses and clock.pauses[-1].end is None:
            clock.pauses[-1].end = now


def on_action(state: SlaState, action: str, *, status_after: str, now: datetime) -> SlaState:
    """The clocks after a ticket action (reply, pending, resume, resolve, close, reopen, …)."""
    state = state.model_copy(deep=True)
    cfg, cal = config(), _calendar(state)
    paused_targets = set(cfg.pause.get(status_after, []))
    if action == "reply":  # only people reply through this path: an auto-reply never meets it
        _meet(state.clocks.get("first_response"), now)
        _meet(state.clocks.get("next_response"), now)
    if action == "resume":  # the customer answered: we owe them the next response
        _restart(state, "next_response", cfg, cal, now)
    if action == "reopen":
        _restart(state, "resolution", cfg, cal, now)
    if action == "resolve":
        _meet(state.clocks.get("resolution"), now)
        for name in ("first_response", "next_response"):
            if name in state.clocks:
                _stop(state.clocks[name], now)
    if status_after == "closed":
        for clock in state.clocks.values():
            _stop(clock, now)
    for name, clock in state.clocks.items():
        if name in paused_targets:
            _pause(clock, cal, now)
        elif clock.status == "paused" and status_after not in cfg.pause:
            _resume(clock, cal, cfg.thresholds, now)
    return state


def _restart(state: SlaState, target: Target, cfg: SlaConfig, cal: Calendar, since: datetime) -> None:
    """A fresh clock for ``target`` running from ``since``, if the ticket's policy has that target."""
    minutes = _policy(cfg, state).targets.get(target, {}).get(state.priority or "P3")
    if minutes:
        clock = Clock(target=target, minutes=minutes, started_at=since, running_since=since)
        _schedule(clock, cal, cfg.thresholds)
        state.clocks[target] = clock


def _policy(cfg: SlaConfig, state: SlaState) -> Policy:
    return next((p for p in cfg.policies if p.id == state.policy), cfg.policies[-1])


class Notice(BaseModel):
    target: str
    level: Level
    due: Timestamp

    @property
    def key(self) -> str:
        return f"sla:{self.target}:{self.level}"


def owed(state: SlaState, now: datetime) -> list[Notice]:
    """Notices whose time has come and that were not sent yet, in order."""
    found = []
    for clock in state.clocks.values():
        if clock.status not in ("running", "breached"):
            continue
        times = {"warning": clock.warn_at, "breach": clock.due_at, "escalation": clock.escalate_at}
        for level in LEVELS:
            moment = times[level]
            if moment is not None and moment <= now and level not in clock.notified:
                found.append(Notice(target=clock.target, level=level, due=moment))
    return sorted(found, key=lambda n: (n.due, LEVELS.index(n.level)))


def record_notice(state: SlaState, notice: Notice, now: datetime) -> SlaState:
    state = state.model_copy(deep=True)
    clock = state.clocks[notice.target]
    if notice.level not in clock.notified:
        clock.notified.append(notice.level)
    if notice.level == "breach" and clock.breached_at is None:
        clock.breached_at = clock.due_at
        clock.status = "breached"
    return state


def explain(state: SlaState) -> dict[str, Any]:
    """GET /tickets/{id}/sla: per target, when it started, pauses, due, outcome and why."""
    cal = _calendar(state)
    targets = {}
    for name, clock in state.clocks.items():
        reasons = []
        if clock.due_at and state.business_hours:
            reasons = cal.explain(clock.running_since or clock.started_at, clock.due_at)
        outcome = "met" if clock.met_at and not clock.breached_at else "breached" if clock.breached_at else clock.status
        targets[name] = {
            **clock.model_dump(
                mode="json",
                include={
                    "minutes",
                    "started_at",
                    "due_at",
                    "warn_at",
                    "escalate_at",
                    "met_at",
                    "breached_at",
                    "pauses",
                    "notified",
                    "consumed",
                },
            ),
            "status": clock.status,
            "outcome": outcome,
            "why": reasons,
        }
    return {
        "policy": state.policy,
        "policy_name": state.policy_name,
        "calendar": state.calendar,
        "business_hours": state.business_hours,
        "priority": state.priority,
        "why": state.why,
        "targets": targets,
        "next_check": iso(n) if (n := state.next_check()) else None,
    }
