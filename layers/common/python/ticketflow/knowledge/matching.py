"""Find the article that answers a message, or none when unsure.

Built once per container (per knowledge-base version), the index holds every question
variant's tokens (``text.tokens``) weighted by rarity across articles (IDF), so "营业" counts
for more than "你们". A message's score for an article is a weighted F2 of two coverages:

- recall: how much of the article's best-matching question variant the message contains
  (robust to extra words: "你好，请问你们的营业时间是几点到几点？谢谢");
- precision: how much of the message the article's vocabulary explains (a long message
  about something else that happens to contain "时间" is not a business-hours question).

F2 weighs recall four times as much as precision. A keyword hit closes part of the gap to 1,
never enough alone. Below the threshold there is no answer: a person replies. So does any
message with an escalation cue (投诉, lawyer, ...), however well it matches.

The classifier's subcategory, when given, is a second opinion rather than a filter: an
article filed elsewhere needs a clearly higher score, so a taxonomy slip on either side does
not silence a confident answer, while a borderline one must agree with the classifier.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ticketflow.knowledge.articles import Article, default_escalation_cues
from ticketflow.knowledge.text import tokens

DEFAULT_THRESHOLD = 0.6
BETA = 2.0
KEYWORD_BOOST = 0.35  # share of the remaining distance to 1 that a keyword hit adds
OTHER_SUBCATEGORY_MARGIN = 0.15  # what an article outside the classifier's subcategory must score above the threshold
_LABELS = {"zh": ("问法", "关键词"), "en": ("question", "keyword")}


class KnowledgeMatch(BaseModel):
    article: Article
    score: float
    reasons: list[str]


@dataclass(frozen=True)
class _Variant:
    article: int
    question: str
    tokens: frozenset[str]


@dataclass(frozen=True)
class _Indexed:
    article: Article
    vocabulary: frozenset[str]
    keywords: tuple[tuple[str, frozenset[str]], ...]


def preferred_language(language: str | None, text: str) -> str:
    """zh, zh-Hant, zh-CN and mixed prefer Chinese articles; en-* English; unknown: by the script."""
    code = (language or "").casefold()
    if code.startswith("zh") or code == "mixed":
        return "zh"
    if code.startswith("en"):
        return "en"
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"


class KnowledgeBase:
    def __init__(
        self,
        articles: Iterable[Article],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        escalation_cues: Iterable[str] | None = None,
    ) -> None:
        self.articles = list(articles)
        self.threshold = threshold
        cues = default_escalation_cues() if escalation_cues is None else escalation_cues
        self._cues = [(cue, tokens(cue)) for cue in cues]
        self._indexed: list[_Indexed] = []
        self._variants: list[_Variant] = []
        for article in (a for a in self.articles if a.enabled):
            keywords = tuple((k, tokens(k)) for k in article.keywords if tokens(k))
            variants = [_Variant(len(self._indexed), q, tokens(q)) for q in article.questions]
            variants = [v for v in variants if v.tokens]
            vocabulary = frozenset().union(*(v.tokens for v in variants), *(k for _, k in keywords))
            self._indexed.append(_Indexed(article, vocabulary, keywords))
            self._variants.extend(variants)
        # IDF over articles: a token in every article tells nothing, one in a single article a lot.
        frequency = Counter(token for entry in self._indexed for token in entry.vocabulary)
        count = max(len(self._indexed), 1)
        self._weights = {token: math.log(1 + count / df) for token, df in frequency.items()}
        self._unknown_weight = math.log(1 + count)  # words no article knows are off-topic content
        self._postings: dict[str, list[int]] = defaultdict(list)
        for position, variant in enumerate(self._variants):
            for token in variant.tokens:
                self._postings[token].append(position)
        self._variant_weight = [self._weight(v.tokens) for v in self._variants]

    def _weight(self, found: Iterable[str]) -> float:
        return sum(self._weights.get(token, self._unknown_weight) for token in found)

    def escalation_cue(self, text: str) -> str | None:
        """The first escalation cue in the message, if any: such messages get no canned answer."""
        return self._escalation_cue(tokens(text))

    def _escalation_cue(self, message: frozenset[str]) -> str | None:
        return next((cue for cue, cue_tokens in self._cues if cue_tokens and cue_tokens <= message), None)

    def match(self, text: str, language: str | None = None, subcategory: str | None = None) -> KnowledgeMatch | None:
        """The best article at or above the threshold: in the message's language if one qualifies,
        then in the classifier's ``subcategory`` (others need ``OTHER_SUBCATEGORY_MARGIN`` more)."""
        message = tokens(text)
        if not message or self._escalation_cue(message):
            return None
        # Recall of every variant sharing a token with the message, via the postings.
        covered: dict[int, float] = defaultdict(float)
        for token in message:
            for position in self._postings.get(token, ()):
                covered[position] += self._weights[token]
        best: dict[int, tuple[float, _Variant]] = {}
        for position, weight in covered.items():
            variant = self._variants[position]
            recall = weight / self._variant_weight[position]
            if recall > best.get(variant.article, (0.0, None))[0]:
                best[variant.article] = (recall, variant)

        message_weight = self._weight(message)
        candidates: list[KnowledgeMatch] = []
        for index, (recall, variant) in best.items():
            entry = self._indexed[index]
            precision = self._weight(message & entry.vocabulary) / message_weight
            f_score = (1 + BETA**2) * precision * recall / (BETA**2 * precision + recall)
            score = min(f_score, 1.0)  # sums of floats in another order can pass 1 by a hair
            question_label, keyword_label = _LABELS[entry.article.language]
            reasons = [f'{question_label} "{variant.question}" matched article {entry.article.id}']
            hits = [keyword for keyword, keyword_tokens in entry.keywords if keyword_tokens <= message]
            if hits:
                score += KEYWORD_BOOST * (1 - score)
                reasons.append(f"{keyword_label} " + ", ".join(f'"{k}"' for k in hits))
            reasons[0] += f" (score {score:.2f})"
            candidates.append(KnowledgeMatch(article=entry.article, score=score, reasons=reasons))

        def elsewhere(candidate: KnowledgeMatch) -> bool:
            return bool(subcategory) and candidate.article.subcategory != subcategory

        language_first = preferred_language(language, text)
        confident = [c for c in candidates if c.score >= self.threshold + OTHER_SUBCATEGORY_MARGIN * elsewhere(c)]
        confident.sort(key=lambda c: (c.article.language != language_first, elsewhere(c), -c.score))
        if not confident:
            return None
        if elsewhere(confident[0]):
            confident[0].reasons.append(f"confident enough outside the classifier's subcategory {subcategory}")
        return confident[0]


def from_document(data: Any) -> KnowledgeBase:
    """The knowledge base of a ``knowledge`` document (live or proposed): its articles and its
    escalation cues (the shipped cues when the document has none)."""
    articles = data["articles"] if isinstance(data, dict) else data
    cues = data.get("escalation_cues") if isinstance(data, dict) else None
    return KnowledgeBase([Article.model_validate(a) for a in articles], escalation_cues=cues)
