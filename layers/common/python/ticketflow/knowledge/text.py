"""Text normalisation and tokens for matching short customer messages, as a search engine would.

Chinese has no spaces, so it is matched by character bigrams; English by lightly stemmed words.
Both lose courtesy phrases and stop words first, so "你好，请问…谢谢" or "hi, could you please…"
neither help nor hurt a match.
"""

from __future__ import annotations

import re

from ticketflow.classification.text import normalize as shared_normalize

# Greetings and courtesy carry no topic; they become a break so no bigram spans them.
_CHINESE_FILLER = re.compile(r"你好|您好|请问|谢谢|麻烦|一下|在吗|在不在|亲爱|亲")
# Sentence particles are dropped outright: "几点了呢" and "几点" should share every bigram.
_CHINESE_PARTICLES = re.compile(r"[的了吗呢啊呀吧嘛哦哟呗啦]")
_CHINESE_RUN = r"[\u3400-\u4dbf\u4e00-\u9fff]+"
_WORD = r"[a-z0-9]+"
_TOKEN = re.compile(f"{_CHINESE_RUN}|{_WORD}")

# A word list reads best as text, hence split() on a literal.
_ENGLISH_STOP_WORDS = frozenset(
    """a an the i me my mine we us our you your yours it its this that these those is are was were be been being am
    do does did to of in on at for with and or but if so as by from about into than then there here what which
    who whom can could would should will shall may might must please hi hello hey dear thanks thank regards just
    any some also very too has have had not no ok okay im ive id youre isnt arent wasnt werent dont doesnt didnt
    cant couldnt wont wouldnt hasnt havent hadnt""".split()  # noqa: SIM905
)
# Numbers longer than this are order or phone numbers: identifiers, not topic words.
_MAX_NUMBER_TOKEN = 5


def normalise(text: str) -> str:
    """The classifier's normalisation, so both read a message alike: NFKC (full width to ASCII),
    casefold, Traditional to Simplified (OpenCC's table), apostrophes dropped; idempotent."""
    return shared_normalize(text).replace("甚么", "什么")  # Taiwan writes 甚麼 for 什麼


def stem(word: str) -> str:
    """A light English stemmer: ships/shipped/shipping → ship, invoices → invoic, delivered → deliver."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # shipp → ship
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word  # change/changed → chang


def tokens(text: str) -> frozenset[str]:
    """Bigrams of each Chinese run (a lone character stands for itself) and stemmed English words."""
    text = normalise(text)
    text = _CHINESE_PARTICLES.sub("", _CHINESE_FILLER.sub(" ", text))
    found: set[str] = set()
    for match in _TOKEN.finditer(text):
        run = match.group()
        if run[0].isascii():
            if run.isdigit() and len(run) <= _MAX_NUMBER_TOKEN:
                found.add(run)
            elif run.isalpha() and len(run) > 1 and run not in _ENGLISH_STOP_WORDS:
                found.add(stem(run))
        elif len(run) == 1:
            found.add(run)
        else:
            found.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(found)
