"""The people who work tickets: agents, supervisors, admins, and the teams they belong to.

The directory lives in the table (``storage.directory``); a new install or ``ticketflow dev``
seeds the demo directory below. Identity (who is calling) comes from the authorizer's
claims; what they may do comes from their role and teams here.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Team(BaseModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")
    name: str
    name_zh: str | None = None
    supervisor: str | None = None


class Person(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
    name: str
    role: Role
    teams: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    email: str | None = None
    active: bool = True

    @property
    def primary_team(self) -> str | None:
        return self.teams[0] if self.teams else None


DEMO_TEAMS: tuple[Team, ...] = (
    Team(id="presales", name="Pre-sales", name_zh="售前咨询组", supervisor="sup-1"),
    Team(id="aftersales", name="Orders & after-sales", name_zh="售中售后组", supervisor="sup-1"),
)

DEMO_PEOPLE: tuple[Person, ...] = (
    Person(id="agent-1", name="Li Wei 李伟", role=Role.AGENT, teams=["presales"], skills=["product_info", "pricing"]),
    Person(id="agent-2", name="Amy Chen 陈敏", role=Role.AGENT, teams=["presales"], skills=["pricing", "en"]),
    Person(
        id="agent-3",
        name="Zhang Hua 张华",
        role=Role.AGENT,
        teams=["aftersales"],
        skills=["logistics", "payment_process"],
    ),
    Person(id="agent-4", name="Tom Wang 王涛", role=Role.AGENT, teams=["aftersales"], skills=["product_quality", "en"]),
    Person(id="sup-1", name="Zhao Lin 赵琳", role=Role.SUPERVISOR, teams=["presales", "aftersales"]),
    Person(id="admin-1", name="Admin 管理员", role=Role.ADMIN),
)
