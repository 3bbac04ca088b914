"""Knowledge-base articles: one answer, in one language, to one kind of question.

The shipped defaults are data (``defaults/knowledge.json``); the live set is the table's
version of the same document, edited through the admin API.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ticketflow.knowledge.templating import template_fields

Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Article(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    language: Literal["zh", "en"]
    category: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    subcategory: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    questions: Annotated[list[Phrase], Field(min_length=1, max_length=200)] = Field(
        description="How customers ask it: the more real variants, the better the match."
    )
    keywords: Annotated[list[Phrase], Field(max_length=100)] = Field(
        default_factory=list, description="Strong cues: add confidence, never match alone."
    )
    answer: Annotated[str, StringConstraints(min_length=1, max_length=5000)] = Field(
        description="Template with {customer_name}, {ticket_number}, {order_number}, {expected_response}, ..."
    )
    needs: list[str] = Field(default_factory=list, description="Fields the answer is useless without.")
    enabled: bool = True

    @field_validator("answer")
    @classmethod
    def _plain_placeholders(cls, answer: str) -> str:
        template_fields(answer)
        return answer

    def unmet_needs(self, fields: dict[str, Any]) -> list[str]:
        """The needed fields that are missing or empty: without them, a person should answer."""
        return [name for name in self.needs if not fields.get(name)]


@cache
def _document() -> dict[str, Any]:
    return json.loads(resources.files("ticketflow").joinpath("defaults/knowledge.json").read_text("utf-8"))


def default_articles() -> list[Article]:
    return [Article.model_validate(article) for article in _document()["articles"]]


def default_escalation_cues() -> list[str]:
    """Words after which no canned answer is sent (complaints, threats, safety)."""
    return list(_document()["escalation_cues"])
