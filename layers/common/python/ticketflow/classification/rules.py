"""The classification rules as data, and their validation.

The defaults ship as ``defaults/classification.json``; later they also come as dicts from the
table (editable at run time), so everything the engine needs is here and nothing is in code:
the taxonomy with weighted phrases per subcategory, the priority signals, the negation cues,
the requests-for-priority that are ignored, the cross-department tags and the VIP step-up.

Phrases are written as people write them (Simplified or Traditional, any case, full-width or
not): the engine normalises them exactly like the messages. An English phrase matches whole
words; a trailing ``*`` lets it match the rest of a word (``refund*``: refunds, refunded).
A Chinese phrase matches anywhere as a substring. One gap ``…`` stands for a few characters of
anything but punctuation: ``支持…吗`` matches 支持无线充电吗.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from ticketflow.classification.matcher import GAP
from ticketflow.classification.text import is_blank

DEFAULTS = Path(__file__).resolve().parent.parent / "defaults" / "classification.json"

Priority = Literal["P1", "P2", "P3", "P4"]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Weight = Annotated[float, Field(gt=0, le=10)]


def _phrase_syntax(phrase: str) -> str:
    if "*" in phrase[:-1] or (phrase.endswith("*") and not re.fullmatch(r"[A-Za-z0-9' -]+\*", phrase)):
        raise ValueError(f"{phrase!r}: '*' may only end an English phrase (refund*)")
    parts = phrase.rstrip("*").split(GAP)
    if len(parts) > 2 or any(is_blank(part) for part in parts):
        raise ValueError(f"{phrase!r}: words are needed, and on both sides of at most one gap '…' (支持…吗)")
    return phrase


Phrase = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), AfterValidator(_phrase_syntax)
]


class _Rules(BaseModel):
    # A typo in a field name is an error that names it, never a silently ignored rule.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Subcategory(_Rules):
    label: str = ""
    base_priority: Priority = Field("P3", description="Priority when no signal in the text says otherwise.")
    collaborators: list[Name] = Field(default_factory=list, description="Departments that help (需协同部门).")
    phrases: dict[Phrase, Weight] = Field(min_length=1, description="Phrase → weight (1 weak, 3 strong).")


class Category(_Rules):
    label: str = ""
    subcategories: dict[Name, Subcategory] = Field(min_length=1)


class SignalFamily(_Rules):
    """Phrases that set a priority: P1 raises it; P4 (the customer says it can wait) lowers it
    unless a P1 signal is there; P2 raises it otherwise; P3 phrases only hide shorter ones
    (优惠券用不了 is no outage)."""

    priority: Priority
    suggests: Name | None = Field(None, description="The subcategory to assume when no topic phrase matched.")
    collaborators: list[Name] = Field(default_factory=list)
    phrases: list[Phrase] = Field(min_length=1)


class Negation(_Rules):
    cues: dict[Phrase, Annotated[int, Field(ge=0, le=10)]] = Field(
        min_length=1,
        description="Cue → how many words (or Chinese characters) may stand between it and the phrase it negates.",
    )
    pseudo_cues: list[Phrase] = Field(
        default_factory=list, description="Words that begin like a cue but negate nothing (不断, 还没, not yet)."
    )
    scope_breakers: list[Phrase] = Field(
        default_factory=list, description="Words that end a negation's scope (但是, but), besides punctuation."
    )


class ClassificationRules(_Rules):
    about: str = ""
    version: int = Field(1, ge=1)
    categories: dict[Name, Category] = Field(min_length=1)
    fallback: Name = Field(description="The subcategory of a message that no phrase matches and no signal suggests.")
    subject_weight: float = Field(1.5, ge=0, le=5, description="Weight factor of phrases found in the subject.")
    tag_ratio: float = Field(
        0.25, gt=0, le=1, description="A runner-up is a secondary intent (tag) from this share of the winner's score."
    )
    tag_min_score: float = Field(2.5, ge=0, description="... and from this score (one solid phrase).")
    negation: Negation
    neutral_phrases: list[Phrase] = Field(
        default_factory=list, description="Phrases that mean nothing but hide shorter ones in them (贵公司: no price)."
    )
    priority_signals: dict[Name, SignalFamily]
    priority_requests: list[Annotated[str, StringConstraints(min_length=1, max_length=300)]] = Field(
        default_factory=list,
        description="Regular expressions (on normalised text) for requests to set a priority or instruct the "
        "classifier; their text is removed before matching and can never raise the priority.",
    )
    vip_step_up: int = Field(1, ge=0, le=3, description="Levels a VIP customer's priority goes up (never above P1).")

    @field_validator("priority_requests")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for index, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"pattern {index} ({pattern!r}) is not a regular expression: {error}") from None
        return patterns

    @model_validator(mode="after")
    def _consistent(self) -> ClassificationRules:
        seen: dict[str, str] = {}
        for category, rules in self.categories.items():
            for name in rules.subcategories:
                if name in seen:
                    raise ValueError(f"subcategory {name!r} is in both {seen[name]!r} and {category!r}")
                seen[name] = category
        if self.fallback not in seen:
            raise ValueError(f"fallback: {self.fallback!r} is not a subcategory of the taxonomy")
        for name, family in self.priority_signals.items():
            if family.suggests is not None and family.suggests not in seen:
                raise ValueError(f"priority_signals.{name}.suggests: {family.suggests!r} is not a subcategory")
        return self

    def subcategories(self) -> dict[str, tuple[str, Subcategory]]:
        """Subcategory name → (its category, its rules), in taxonomy order."""
        return {name: (cat, sub) for cat, rules in self.categories.items() for name, sub in rules.subcategories.items()}


@cache
def default_rules() -> ClassificationRules:
    """The rules a new install ships with, parsed and validated once per container."""
    return ClassificationRules.model_validate(json.loads(DEFAULTS.read_text(encoding="utf-8")))
