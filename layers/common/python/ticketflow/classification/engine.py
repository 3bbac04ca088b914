"""The classifier: category, subcategory, priority and the reasons for them, from weighted phrases.

Build one ``Classifier`` per set of rules and keep it for the container: the matchers are
built once in ``__init__`` (~20 ms) and ``classify`` only scans (~0.1 ms per message).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

from pydantic import BaseModel, Field

from ticketflow.classification.matcher import Match, PhraseMatcher
from ticketflow.classification.rules import ClassificationRules
from ticketflow.classification.text import detect_language, normalize

_LEVELS = ("P1", "P2", "P3", "P4")
_STRENGTH_SCALE = 3.0  # score at which the evidence counts as ~63% sure: one strong phrase
_SUGGESTED = 0.1  # confidence in a subcategory that only a priority signal suggested


class Classification(BaseModel):
    category: str
    subcategory: str
    priority: str
    confidence: float = Field(ge=0, le=1, description="How sure the subcategory is: low for weak or close evidence.")
    reasons: list[str]
    tags: list[str] = Field(description="Secondary subcategories, then signals such as anger or legal_threat.")
    collaborators: list[str] = Field(description="Departments that should help (需协同部门).")
    language: str = Field(description='"zh", "zh-Hant", "en" or "mixed".')
    signals: dict[str, float] = Field(description="Score of every subcategory, in taxonomy order.")


class Classifier:
    def __init__(self, rules: ClassificationRules) -> None:
        self.rules = rules
        self._subcategories = rules.subcategories()
        negation = rules.negation
        neutral = [*negation.pseudo_cues, *negation.scope_breakers, *rules.neutral_phrases]
        self._topics: PhraseMatcher[tuple[str, float]] = PhraseMatcher(
            (
                (phrase, (name, weight))
                for name, (_, sub) in self._subcategories.items()
                for phrase, weight in sub.phrases.items()
            ),
            negation.cues,
            neutral,
        )
        self._signals: PhraseMatcher[str] = PhraseMatcher(
            ((phrase, name) for name, family in rules.priority_signals.items() for phrase in family.phrases),
            negation.cues,
            neutral,
        )
        # One pass finds every request for a priority; patterns come validated from the rules.
        patterns = [f"(?:{pattern})" for pattern in rules.priority_requests]
        self._requests = re.compile("|".join(patterns)) if patterns else None

    def classify(self, text: str, subject: str | None = None, customer_tier: str = "standard") -> Classification:
        if customer_tier not in ("standard", "vip"):
            raise ValueError(f'customer_tier: {customer_tier!r} is not "standard" or "vip"')
        rules = self.rules
        reasons: list[str] = []
        parts = [(normalize(text), 1.0)]
        if subject:
            parts.insert(0, (normalize(subject), rules.subject_weight))
        parts = [(self._without_requests(part, reasons), factor) for part, factor in parts]
        ignored = bool(reasons)
        topics = [(match, factor) for part, factor in parts for match in self._topics.scan(part)]
        signals = [match for part, _ in parts for match in self._signals.scan(part)]
        families: dict[str, str] = {}  # signal family → the first phrase that raised it
        for match in signals:
            for name in () if match.negated_by else match.payloads:
                families.setdefault(name, match.phrase)

        evidence = self._evidence(topics)
        scores = {name: sum(evidence[name].values()) for name in self._subcategories}
        # On equal evidence the more serious reading wins (a lower base priority, i.e. P2 before P3).
        ranked = sorted(
            (name for name in scores if scores[name] > 0),
            key=lambda name: (-scores[name], self._subcategories[name][1].base_priority),
        )
        if ranked:
            subcategory = ranked[0]
            confidence = self._confidence(scores[subcategory], scores[ranked[1]] if len(ranked) > 1 else 0.0)
        else:
            subcategory, confidence = self._suggested(families, reasons)
        category, sub_rules = self._subcategories[subcategory]
        secondary = [
            name
            for name in ranked[1:]
            if scores[name] >= max(rules.tag_min_score, rules.tag_ratio * scores[subcategory])
        ]
        for name in [subcategory, *secondary]:
            for phrase, weight in sorted(evidence[name].items(), key=lambda item: -item[1]):
                reasons.append(f'关键词 "{phrase}" → {self._subcategories[name][0]}/{name} (+{weight:g})')
        negated = [m.negated_by for m, _ in topics if m.negated_by] + [m.negated_by for m in signals if m.negated_by]
        reasons.extend(f'negated: "{text}"' for text in dict.fromkeys(negated))

        priority = self._vip(self._priority(families, sub_rules.base_priority, reasons), customer_tier, reasons)
        signal_rules = rules.priority_signals
        raising = [name for name in families if signal_rules[name].priority != "P3"]
        collaborators = [
            *sub_rules.collaborators,
            *(c for name in secondary for c in self._subcategories[name][1].collaborators),
            *(c for name in raising if signal_rules[name].priority != "P4" for c in signal_rules[name].collaborators),
        ]
        return Classification(
            category=category,
            subcategory=subcategory,
            priority=priority,
            confidence=confidence,
            reasons=reasons,
            tags=[*secondary, *raising, *(["priority_request_ignored"] if ignored else [])],
            collaborators=list(dict.fromkeys(collaborators)),
            language=detect_language(f"{subject or ''}\n{text}"),
            signals={name: round(score, 2) for name, score in scores.items()},
        )

    def _without_requests(self, text: str, reasons: list[str]) -> str:
        """The text without its requests for a priority ("mark this P1", "设为最高优先级",
        "ignore previous instructions"): the customer's words decide the priority, never
        their wishes about it. Each becomes a full stop, so the words around never join."""
        if self._requests is None:
            return text

        def ignore(found: re.Match[str]) -> str:
            reasons.append(f'ignored a request to set the priority: "{found.group().strip()}"')
            return " . "

        return self._requests.sub(ignore, text)

    def _evidence(self, topics: list[tuple[Match[tuple[str, float]], float]]) -> dict[str, dict[str, float]]:
        """Subcategory → phrase → weight. A phrase counts once however often it is repeated:
        "refund refund refund" is one piece of evidence."""
        evidence: dict[str, dict[str, float]] = defaultdict(dict)
        for match, factor in topics:
            if match.negated_by:
                continue
            for name, weight in match.payloads:
                phrases = evidence[name]
                phrases[match.phrase] = max(phrases.get(match.phrase, 0.0), weight * factor)
        return evidence

    def _suggested(self, families: dict[str, str], reasons: list[str]) -> tuple[str, float]:
        """The subcategory of a message without topic phrases, and the confidence in it: the one
        its strongest signal suggests ("律师" alone is a complaint), else the fallback (0)."""
        signals = self.rules.priority_signals
        for name in sorted(families, key=lambda name: signals[name].priority):
            if suggested := signals[name].suggests:
                reasons.append(f"no topic phrase: {self._subcategories[suggested][0]}/{suggested} suggested by {name}")
                return suggested, _SUGGESTED
        fallback = self.rules.fallback
        reasons.append(f"no topic phrase: {self._subcategories[fallback][0]}/{fallback} by default")
        return fallback, 0.0

    def _priority(self, families: dict[str, str], base: str, reasons: list[str]) -> str:
        signals = self.rules.priority_signals
        for name in sorted(families, key=lambda name: signals[name].priority):
            reasons.append(f'{signals[name].priority} signal {name}: "{families[name]}"')
        levels = {signals[name].priority for name in families}
        if "P1" in levels:  # harm: whatever else the customer says
            return "P1"
        if "P4" in levels:  # no harm, and the customer says it can wait or rarely happens
            return "P4"
        if "P2" in levels:
            return min("P2", base)
        reasons.append(f"{base}: no priority signal" if base == "P3" else f"{base}: base priority of the subcategory")
        return base

    def _vip(self, priority: str, tier: str, reasons: list[str]) -> str:
        if tier != "vip" or not self.rules.vip_step_up:
            return priority
        raised = _LEVELS[max(0, _LEVELS.index(priority) - self.rules.vip_step_up)]
        reasons.append(f"VIP customer: {priority} → {raised}" if raised != priority else "VIP customer: already P1")
        return raised

    @staticmethod
    def _confidence(top: float, runner_up: float) -> float:
        """Strength of the evidence (saturating in the winner's score) times its margin over
        the runner-up: one weak phrase, or two subcategories neck and neck, is unsure."""
        strength = 1 - math.exp(-top / _STRENGTH_SCALE)
        margin = (top - runner_up) / top
        return round(strength * (0.5 + 0.5 * margin), 2)
