"""Phrase matching over normalised text: a character trie scanned leftmost-longest, with negation.

Why a hand-built trie rather than one regular expression: Python's ``re`` tries every branch
of an alternation at every position, and boundary look-arounds defeat its prefix shortcuts.
Measured with 1,200 phrases: the regex took 46 ms to compile and 0.75 ms per message; the
trie builds in a few milliseconds and scans a message in tens of microseconds.

A phrase may hold one gap, "支持…吗": its two parts at most a few characters apart with no
punctuation between ("支持无线充电吗"). Scanning goes on right after the first part, so the
words in the gap still count ("支持退款吗" is about refunds too).

Leftmost-longest does the linguistic work: at each position the longest phrase wins, so
"没发货" (not shipped: a logistics phrase) is one match and not the cue "没" before "发货";
"不断" (constantly) is a pseudo-cue that hides the cue "不" in "不断漏水". A cue negates the
next phrase when at most its window of words (Chinese: characters) stands between them and
no punctuation or scope breaker (但是, but) does; a phrase right after a negated one is
negated too ("not broken or damaged").
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ticketflow.classification.text import normalize

Payload = TypeVar("Payload", bound=Hashable)

_END = ""  # the key of a node's terminal: "" is never a character of the text
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_SCOPE_ENDS = frozenset(',.;:!?。、\n()[]{}"')  # normalised text: full-width punctuation is half-width
_TOKENS = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")  # a word, or one Chinese character
GAP = "…"  # in a phrase: up to MAX_GAP characters of anything but punctuation
MAX_GAP = 8
# A trie node: each next character maps to its node, and _END to the node's _Terminal.
_Node = dict[str, Any]


@dataclass(slots=True)
class _Terminal(Generic[Payload]):
    phrase: str
    payloads: list[Payload] = field(default_factory=list)
    cue_window: int | None = None  # a negation cue, and how far it reaches
    neutral: bool = False  # a pseudo-cue or a scope breaker: closes any open negation
    prefix: bool = False  # "refund*": the rest of the word belongs to the match
    whole_word_end: bool = False  # ends with a letter or digit: must end where a word ends
    tails: dict[str, _Terminal[Payload]] = field(default_factory=dict)  # "支持…吗": 吗 → its terminal


@dataclass(frozen=True, slots=True)
class Match(Generic[Payload]):
    phrase: str
    payloads: tuple[Payload, ...]
    start: int
    end: int
    negated_by: str | None = None  # the text from the cue to the end of the phrase, if negated


class PhraseMatcher(Generic[Payload]):
    """Finds phrases (each with payloads saying what it means to the caller) in normalised text."""

    def __init__(
        self,
        phrases: Iterable[tuple[str, Payload]],
        cues: dict[str, int],
        neutral: Iterable[str] = (),
    ) -> None:
        self._root: _Node = {}
        for phrase, payload in phrases:
            terminal = self._terminal(phrase)
            if payload not in terminal.payloads:
                terminal.payloads.append(payload)
        for cue, window in cues.items():
            self._terminal(cue).cue_window = window
        for word in neutral:
            self._terminal(word).neutral = True

    def _terminal(self, phrase: str) -> _Terminal[Payload]:
        head, _, tail = phrase.partition(GAP)
        prefix = phrase.endswith("*")
        key = normalize(head if tail else head.rstrip("*"))
        node = self._root
        for char in key:
            child = node.get(char)
            if child is None:  # (not setdefault: it would build a dict per character per phrase)
                child = node[char] = {}
            node = child
        if _END not in node:
            node[_END] = _Terminal(key, prefix=prefix and not tail, whole_word_end=key[-1] in _WORD_CHARS)
        terminal: _Terminal[Payload] = node[_END]
        if tail:
            tail = normalize(tail)
            if tail not in terminal.tails:
                terminal.tails[tail] = _Terminal(f"{key}{GAP}{tail}", whole_word_end=tail[-1] in _WORD_CHARS)
            return terminal.tails[tail]
        if prefix:
            terminal.phrase, terminal.prefix, terminal.whole_word_end = f"{key}*", True, False
        return terminal

    def _longest(self, text: str, start: int) -> tuple[int, int, int, list[_Terminal[Payload]]]:
        """The longest phrase at ``start``: its end, where scanning resumes (after the first part
        of a gapped phrase, else its end), where its second part starts (else its end) and its
        terminals (several when an exact phrase and a prefix one end at the same place:
        "expired" and "expir*")."""
        found: list[tuple[int, int, int, _Terminal[Payload]]] = []  # (end, resume, second part, terminal)
        length, position = len(text), start
        node = self._root.get(text[start])
        while node is not None:
            position += 1
            terminal = node.get(_END)
            if terminal is not None:
                if terminal.payloads or terminal.cue_window is not None or terminal.neutral:
                    end = position
                    while terminal.prefix and end < length and text[end] in _WORD_CHARS:
                        end += 1
                    found.append((end, end, end, terminal))
                for tail, gapped in terminal.tails.items():
                    at = text.find(tail, position, position + MAX_GAP + len(tail))
                    if (
                        at >= 0
                        and not _SCOPE_ENDS.intersection(text[position:at])
                        and not (tail[0] in _WORD_CHARS and text[at - 1] in _WORD_CHARS)
                    ):
                        found.append((at + len(tail), position, at, gapped))
            if position >= length:
                break
            node = node.get(text[position])
        # A phrase ending in a letter ends where a word ends: "ship" is not in "shipping".
        found = [f for f in found if not (f[3].whole_word_end and f[0] < length and text[f[0]] in _WORD_CHARS)]
        if not found:
            return 0, 0, 0, []
        end = max(f[0] for f in found)
        best = [f for f in found if f[0] == end]
        return end, min(f[1] for f in best), min(f[2] for f in best), [f[3] for f in best]

    def scan(self, text: str) -> list[Match[Payload]]:
        """The phrases in ``text`` (normalised), left to right, none overlapping another."""
        matches: list[Match[Payload]] = []
        cue_start = cue_end = -1  # the open negation scope, if any
        cue_window = 0
        covered = (0, 0)  # the second part of the last gapped phrase: a phrase ending in it is no new match
        position, length, root = 0, len(text), self._root
        while position < length:
            char = text[position]
            # A phrase starts where a word starts: "ship" is not in "relationship".
            if char not in root or (char in _WORD_CHARS and position and text[position - 1] in _WORD_CHARS):
                position += 1
                continue
            end, resume, tail_start, terminals = self._longest(text, position)
            if not terminals:
                position += 1
                continue
            if resume < end:
                covered = (tail_start, end)
            elif position < covered[1] and covered[0] < end <= covered[1]:
                position = end  # "满意吗" in "对服务满意吗" is in "对…满意吗"; "很好用" in "不是很好用" is in "不…好用"
                continue
            payloads = tuple(p for t in terminals for p in t.payloads)
            if payloads:
                negated = cue_end >= 0 and _within(text[cue_end:position], cue_window)
                matches.append(
                    Match(terminals[0].phrase, payloads, position, end, text[cue_start:end] if negated else None)
                )
                cue_end = end if negated else -1
            elif any(t.cue_window is not None for t in terminals):
                cue_window = max(t.cue_window for t in terminals if t.cue_window is not None)
                cue_start, cue_end = position, end
            else:
                cue_end = -1
            position = resume
        return matches


def _within(gap: str, window: int) -> bool:
    """Whether a cue reaches across ``gap`` to the phrase after it."""
    return not _SCOPE_ENDS.intersection(gap) and len(_TOKENS.findall(gap)) <= window
