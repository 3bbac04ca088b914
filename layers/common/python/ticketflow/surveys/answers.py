"""Reading a survey link and storing its answer, once.

Opening a link reads one item and records nothing (mail scanners open links). Submitting is
one transaction: the ticket's survey becomes ``answered`` (at the version we read), the token
is marked used (if unused and unexpired), and the day's survey counters move (``reports.counting``
sees the answer arrive), so an answer
counts exactly once per ticket and per link, however often the form is posted. A score at or
below the rules' ``low_score`` marks a recovery ticket as owed; it is opened right after (and
by the sweep, should that fail).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ticketflow import clock, history
from ticketflow.errors import Gone, NotFound, SurveyAnswered
from ticketflow.models import ActorKind, ActorRef, SurveyState, Ticket
from ticketflow.observability import count, logger
from ticketflow.storage import surveys as survey_store
from ticketflow.storage.tickets import ItemConditionFailed
from ticketflow.surveys import links, recovery
from ticketflow.surveys.rules import DIMENSIONS, rules

COMMENT_MAX = 200
Score = Annotated[int, Field(ge=1, le=5)]


class SurveyAnswer(BaseModel):
    """The four dimensions of the standard (1-5), the optional NPS question (0-10) and comment."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    attitude: Score = Field(description="服务态度 Service attitude")
    speed: Score = Field(description="响应速度 Response speed")
    resolution: Score = Field(description="问题解决效果 Resolution effect")
    overall: Score = Field(description="整体满意度 Overall satisfaction")
    nps: Annotated[int, Field(ge=0, le=10)] | None = Field(default=None, description="How likely to recommend us")
    comment: Annotated[str, StringConstraints(max_length=COMMENT_MAX)] | None = None

    @property
    def scores(self) -> dict[str, int]:
        return {d: getattr(self, d) for d in DIMENSIONS}


LinkState = Literal["open", "answered", "expired", "unknown"]


@dataclass(frozen=True)
class Link:
    state: LinkState
    language: str | None = None
    number: str | None = None
    expires: str | None = None
    ticket_id: str | None = None


def open_link(token: str, now: datetime | None = None) -> Link:
    """What a link shows; reading it changes nothing."""
    if not links.well_formed(token):
        return Link("unknown")
    item = survey_store.get_token(links.token_hash(token))
    if item is None:
        return Link("unknown")
    now = now or clock.now()
    state: LinkState = (
        "answered" if item.get("answered_at") else "expired" if item["expires"] <= clock.iso(now) else "open"
    )
    return Link(state, item.get("language"), item.get("number"), item["expires"], item["ticket_id"])


def submit(token: str, answer: SurveyAnswer, now: datetime | None = None, *, link: Link | None = None) -> Ticket:
    """Store the answer; NotFound (unknown link), Gone (expired), SurveyAnswered (used).
    ``link``: the caller's fresh ``open_link`` (saves reading it again)."""
    now = now or clock.now()
    link = link or open_link(token, now)
    refuse_unless_open(link)
    assert link.ticket_id is not None  # an open link always names its ticket (open_link)
    low = min(answer.scores.values()) <= rules().low_score

    def update(current: Ticket) -> dict[str, Any] | None:
        survey = current.survey
        if survey is None:
            raise NotFound("this survey no longer exists")
        if current.erased_at is not None:  # the customer's data is gone: no new comment to keep
            raise Gone("this survey has closed", code="survey_expired")
        if survey.state is SurveyState.ANSWERED:
            raise SurveyAnswered("this survey has already been answered")
        return {
            "survey": survey.model_copy(
                update={
                    "state": SurveyState.ANSWERED,
                    "answered_at": now,
                    "scores": answer.scores,
                    "nps": answer.nps,
                    "comment": answer.comment or None,
                    "recovery": "pending" if low else None,
                }
            )
        }

    def also(before: Ticket, after: Ticket) -> list[dict[str, Any]]:
        # A failed condition here means the token was used or expired meanwhile.
        return [survey_store.use_token(links.token_hash(token), now)]

    try:
        after = history.record(
            link.ticket_id,
            update,
            action="survey_answered",
            actor=ActorRef(kind=ActorKind.CUSTOMER, id="customer"),
            also=also,
            reason=_summary(answer),
        )
    except ItemConditionFailed:
        refuse_unless_open(open_link(token, now))
        raise
    if after is None:
        raise NotFound("this survey no longer exists")
    count("SurveysAnswered")
    if low:
        try:
            recovery.open_for(after)
        except Exception:  # the sweep opens it on its next round
            logger.exception("recovery ticket not opened yet", extra={"ticket_id": after.id})
    return after


def refuse_unless_open(link: Link) -> None:
    if link.state == "unknown":
        raise NotFound("this survey link is not valid")
    if link.state == "expired":
        raise Gone("this survey link has expired", code="survey_expired")
    if link.state == "answered":
        raise SurveyAnswered("this survey has already been answered")


def _summary(answer: SurveyAnswer) -> str:
    scores = ", ".join(f"{d} {s}/5" for d, s in answer.scores.items())
    return scores + (f", NPS {answer.nps}/10" if answer.nps is not None else "")
