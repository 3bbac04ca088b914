"""The people who work tickets: agents, supervisors, admins, and the teams they belong to.

The directory is run-time configuration: two versioned kinds, ``teams`` and ``agents``
(``TeamsDocument``, ``AgentsDocument``), changed through the admin API like routing or SLA and
read through ``storage.directory``; a new install has nobody, ``ticketflow dev`` and
``ticketflow seed`` write the demo directory below. Identity (who is calling) comes from the
authorizer's claims; what they may do comes from their role and teams here. What changes by
the minute (online, load) is ``AgentState``, kept apart from the profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, model_validator

from ticketflow.configuration.document import Document


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Team(Document):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")
    name: str
    name_zh: str | None = None
    supervisor: str | None = None
    manager: str | None = Field(default=None, description="Who hears of level-2 SLA escalations.")


class QuietHours(Document):
    """When a person would rather not be notified (non-urgent notices wait until it ends)."""

    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "Asia/Shanghai"

    def covers(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone)).strftime("%H:%M")
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight, e.g. 22:00–08:00


class Person(Document):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
    name: str
    role: Role
    teams: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    email: str | None = None
    phone: str | None = None
    active: bool = True
    # Assignment: how many active tickets (assigned or in progress) this person takes at most,
    # and whether VIP and P1 tickets go to them first.
    capacity: int = Field(default=8, ge=0, le=500)
    senior: bool = False
    quiet_hours: QuietHours | None = None

    @property
    def primary_team(self) -> str | None:
        return self.teams[0] if self.teams else None


def _unique_ids(items: Sequence[Team | Person], collection: str) -> None:
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.id in seen:
            raise ValueError(f"{collection}.{index}.id: {item.id!r} is used twice")
        seen.add(item.id)


class TeamsDocument(Document):
    """The ``teams`` configuration kind."""

    teams: list[Team] = Field(max_length=500)

    @model_validator(mode="after")
    def _ids(self) -> TeamsDocument:
        _unique_ids(self.teams, "teams")
        return self


class AgentsDocument(Document):
    """The ``agents`` configuration kind: every person's profile (their state is apart)."""

    agents: list[Person] = Field(max_length=5000)

    @model_validator(mode="after")
    def _ids(self) -> AgentsDocument:
        _unique_ids(self.agents, "agents")
        return self


DEMO_TEAMS: tuple[Team, ...] = (
    Team(id="presales", name="Pre-sales", name_zh="售前咨询组", supervisor="sup-1", manager="admin-1"),
    Team(id="logistics", name="Orders & logistics", name_zh="订单物流组", supervisor="sup-1", manager="admin-1"),
    Team(id="aftersales", name="After-sales", name_zh="售后服务组", supervisor="sup-1", manager="admin-1"),
)


def _agent(id: str, name: str, teams: list[str], skills: list[str], *, senior: bool = False) -> Person:
    return Person(
        id=id,
        name=name,
        role=Role.AGENT,
        teams=teams,
        skills=skills,
        senior=senior,
        email=f"{id}@ticketflow.example",
        capacity=5,
    )


DEMO_PEOPLE: tuple[Person, ...] = (
    _agent("agent-1", "Li Wei 李伟", ["presales"], ["product_info", "pricing"], senior=True),
    _agent("agent-2", "Amy Chen 陈敏", ["presales"], ["pricing", "product_info", "en"]),
    _agent("agent-3", "Zhang Hua 张华", ["aftersales", "logistics"], ["logistics", "payment_process"], senior=True),
    _agent("agent-4", "Tom Wang 王涛", ["aftersales"], ["product_quality", "service_experience", "en"], senior=True),
    _agent("agent-5", "Liu Yang 刘洋", ["logistics"], ["logistics", "en"]),
    _agent(
        "agent-6", "Sun Li 孙丽", ["aftersales"], ["payment_process", "service_experience", "satisfaction_followup"]
    ),
    Person(
        id="sup-1",
        name="Zhao Lin 赵琳",
        role=Role.SUPERVISOR,
        teams=["presales", "logistics", "aftersales"],
        email="sup-1@ticketflow.example",
    ),
    Person(id="admin-1", name="Admin 管理员", role=Role.ADMIN, email="admin-1@ticketflow.example"),
)


class AgentState(BaseModel):
    """What changes by the minute: online or not, how many active tickets, when last given one.

    ``load`` counts the person's tickets that are assigned or in progress (pending tickets do
    not count: they wait for the customer). Kept exact by the same transactions that change
    tickets.
    """

    id: str
    online: bool = False
    load: int = 0
    capacity: int = 0
    last_assigned_at: str | None = None

    @property
    def has_room(self) -> bool:
        return self.online and self.load < self.capacity
