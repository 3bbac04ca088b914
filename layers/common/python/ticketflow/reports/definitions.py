"""How the reports define their KPIs, as run-time configuration (``CONFIG#reports``).

First contact resolution (FCR, 一次解决率): a ticket resolved the first time with at most
``max_agent_replies`` replies from people (auto-replies do not count) and not reopened within
``reopen_days`` of that resolution. The verdict is kept on the ticket
(``first_contact_resolution``): decided at its first resolution, withdrawn by a reopen inside
the window, final after it. A change of definition applies to tickets resolved after it.

Backlog ages are counted in whole days since creation, split at ``backlog_age_days``.
"""

from __future__ import annotations

from pydantic import Field

from ticketflow import runtime_config
from ticketflow.configuration.document import Document


class FirstContactResolution(Document):
    max_agent_replies: int = Field(default=1, ge=0, le=20)
    reopen_days: int = Field(default=7, ge=0, le=90)


class ReportDefinitions(Document):
    first_contact_resolution: FirstContactResolution = Field(default_factory=FirstContactResolution)
    backlog_age_days: list[int] = Field(default=[1, 3, 7], min_length=1, max_length=6)


def definitions() -> ReportDefinitions:
    return runtime_config.live("reports").built("reports", ReportDefinitions.model_validate)
