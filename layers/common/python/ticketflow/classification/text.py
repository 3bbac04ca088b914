"""Text normalisation and language detection, shared by the rules' phrases and the messages.

Phrases and messages go through the same ``normalize``, so a rule written in Simplified
Chinese matches a message in Traditional, full-width or shouted text alike:

- NFKC: full-width letters, digits and punctuation become half-width (ＡＢＣ！→ abc!);
- case-fold;
- Traditional → Simplified, character by character (OpenCC's table, in ts_characters.json);
- apostrophes and zero-width characters dropped (isn't, isn’t and isnt are one word);
- whitespace collapsed to single spaces.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path

TS_TABLE = Path(__file__).resolve().parent.parent / "defaults" / "ts_characters.json"

_SPACES = re.compile(r"\s+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[a-z]{2,}")
# Removed before matching: apostrophes (so "isn't" is "isnt") and invisible characters that
# would otherwise split a word in two ("un\u200bacceptable").
_DROPPED = dict.fromkeys(map(ord, "'\u2018\u2019\u02bc\u200b\u200c\u200d\u2060\ufeff\u00ad"))


@cache
def _tables() -> tuple[dict[int, int | None], frozenset[str]]:
    """The translation table for ``str.translate`` and the characters that are evidence of
    Traditional text. Loaded on first use (about a millisecond), once per container."""
    data = json.loads(TS_TABLE.read_text(encoding="utf-8"))
    table: dict[int, int | None] = {**str.maketrans(data["traditional"], data["simplified"]), **_DROPPED}
    traditional_only = frozenset(data["traditional"]) - frozenset(data["shared"])
    return table, traditional_only


def normalize(text: str) -> str:
    table, _ = _tables()
    text = unicodedata.normalize("NFKC", text).casefold().translate(table)
    return _SPACES.sub(" ", text).strip()


def is_blank(text: str) -> bool:
    """Whether normalising would leave nothing of ``text`` (spaces, apostrophes, invisible characters)."""
    return not text.translate(_DROPPED).strip()


def detect_language(text: str) -> str:
    """The language of the raw text: "zh", "zh-Hant", "en" or "mixed".

    Mixed when both languages carry a fair share of the words (a Chinese character counts
    half a word): a product name or two in a Chinese sentence ("iPhone 15 坏了") stays "zh".
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    han = _HAN.findall(folded)
    english_words = len(_LATIN_WORD.findall(folded))
    if not han:
        return "en"
    if english_words >= 3 and english_words >= 0.25 * (english_words + len(han) / 2):
        return "mixed"
    _, traditional_only = _tables()
    traditional = sum(1 for char in han if char in traditional_only)
    # A name or two in Traditional characters does not make a Simplified message Traditional.
    return "zh-Hant" if traditional and traditional * 10 >= len(han) else "zh"
