"""Which closed tickets get a survey, when, and how long its link lives (live data: ``surveys``).

The rules are a document like the other run-time configuration (``defaults/surveys.json``,
or the table's live version), read through ``runtime_config`` so a change needs no deploy.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

from pydantic import Field

from ticketflow import runtime_config
from ticketflow.configuration.document import Document
from ticketflow.directory import QuietHours
from ticketflow.models import Ticket

DELAY_ENV = "TICKETFLOW_SURVEY_DELAY_SECONDS"
DIMENSIONS = ("attitude", "speed", "resolution", "overall")  # 服务态度 响应速度 问题解决效果 整体满意度


class Recovery(Document):
    category: str = "proactive"
    subcategory: str = "satisfaction_followup"
    priority: str = Field(default="P2", pattern=r"^P[1-4]$")


class SurveyRules(Document):
    enabled: bool = True
    delay_minutes: float = Field(default=5, ge=0, le=60 * 24 * 14)
    channels: list[str] = Field(
        default_factory=lambda: ["web", "chat", "email", "app", "phone", "sms", "social", "api"]
    )
    exclude_categories: list[str] = Field(default_factory=list)
    exclude_tags: list[str] = Field(default_factory=list)
    sample_rate: float = Field(default=1.0, ge=0, le=1)
    cooldown_days: float = Field(default=7, ge=0)
    token_days: float = Field(default=7, gt=0, le=90)
    ask_nps: bool = True
    sms_quiet_hours: QuietHours | None = None
    low_score: int = Field(default=2, ge=0, le=5)
    recovery: Recovery = Field(default_factory=Recovery)

    @property
    def delay(self) -> timedelta:
        override = os.environ.get(DELAY_ENV)
        return timedelta(seconds=float(override)) if override else timedelta(minutes=self.delay_minutes)

    @property
    def cooldown(self) -> timedelta:
        return timedelta(days=self.cooldown_days)

    @property
    def token_lifetime(self) -> timedelta:
        return timedelta(days=self.token_days)

    def skip_reason(self, ticket: Ticket, *, manual: bool) -> str | None:
        """Why this ticket gets no survey, or None. A survey sent by hand skips these rules."""
        if manual:
            return None
        if not self.enabled:
            return "surveys are switched off"
        if ticket.channel.value not in self.channels:
            return f"channel {ticket.channel.value} is not surveyed"
        if ticket.category and ticket.category in self.exclude_categories:
            return f"category {ticket.category} is not surveyed"
        excluded = sorted(set(ticket.tags) & set(self.exclude_tags))
        if excluded:
            return f"tagged {', '.join(excluded)}"
        if not in_sample(ticket.id, self.sample_rate):
            return f"not in the {self.sample_rate:.0%} sample"
        return None


def in_sample(ticket_id: str, rate: float) -> bool:
    """A stable decision per ticket: a redelivered message or a second sweep decides the same."""
    if rate >= 1:
        return True
    bucket = int.from_bytes(hashlib.sha256(f"survey-sample:{ticket_id}".encode()).digest()[:8], "big") / 2**64
    return bucket < rate


def rules() -> SurveyRules:
    return runtime_config.live("surveys").built("survey_rules", SurveyRules.model_validate)
