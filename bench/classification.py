"""Ticket classifier quality and speed on the labelled evaluation set.

The set (tests/data/classification.jsonl, described in tests/data/README.md) was written from the
taxonomy in DESIGN.md without looking at the rules, so the accuracy here measures how the rules
generalise to messages their author never saw.

    python bench/classification.py [--json] [--data PATH] [--seconds 2] [--show 15]

Prints the overall accuracies (subcategory, category, priority exact and within one level),
per-subcategory precision/recall/F1, per-priority precision/recall, per-language and per-tag
accuracy, a confusion matrix of subcategories, throughput on one core and the classifier's
construction time, then the first misclassified messages with what was expected and got.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "classification.jsonl"
for _path in (ROOT / "layers" / "common" / "python", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

TAXONOMY: dict[str, str] = {
    "product_info": "presales",
    "pricing": "presales",
    "logistics": "order_support",
    "payment_process": "order_support",
    "product_quality": "complaint",
    "service_experience": "complaint",
    "satisfaction_followup": "proactive",
    "care_reminder": "proactive",
}
SUBCATEGORIES = list(TAXONOMY)
CATEGORIES = list(dict.fromkeys(TAXONOMY.values()))
PRIORITIES = ["P1", "P2", "P3", "P4"]
LANGS = ["zh", "zh-Hant", "en", "mixed"]
TIERS = ["standard", "vip"]
# Tags that make a message a deliberately hard case (see tests/data/README.md).
TRICKY_TAGS = frozenset(
    {
        "negation",
        "multi_intent",
        "sarcasm",
        "short",
        "injection",
        "vip",
        "angry_routine",
        "polite_p1",
        "money_lost",
        "account_stolen",
        "legal_threat",
        "boundary",
    }
)
SHORT = {
    "product_info": "info",
    "pricing": "price",
    "logistics": "logis",
    "payment_process": "pay",
    "product_quality": "qual",
    "service_experience": "serv",
    "satisfaction_followup": "satis",
    "care_reminder": "care",
}
OTHER = "(other)"


# ---------------------------------------------------------------- the set


class DataError(ValueError):
    """A line of the set breaks its schema."""


def validate_row(row: Any) -> list[str]:
    """What is wrong with one parsed line (empty when it is well formed)."""
    if not isinstance(row, dict):
        return ["not a JSON object"]
    problems = []
    required = {"id", "text", "customer", "lang", "expect"}
    allowed = required | {"note", "tags"}
    if missing := required - row.keys():
        problems.append(f"missing {sorted(missing)}")
    if extra := row.keys() - allowed:
        problems.append(f"unknown fields {sorted(extra)}")
    if not isinstance(row.get("id"), str) or not row.get("id"):
        problems.append("id must be a non-empty string")
    if not isinstance(row.get("text"), str) or not row.get("text", "").strip():
        problems.append("text must be a non-empty string")
    customer = row.get("customer")
    if not isinstance(customer, dict) or customer.get("tier") not in TIERS:
        problems.append(f"customer.tier must be one of {TIERS}")
    if row.get("lang") not in LANGS:
        problems.append(f"lang must be one of {LANGS}")
    expect = row.get("expect")
    if not isinstance(expect, dict):
        problems.append("expect must be an object")
    else:
        sub = expect.get("subcategory")
        if sub not in TAXONOMY:
            problems.append(f"expect.subcategory {sub!r} is not in the taxonomy")
        elif expect.get("category") != TAXONOMY[sub]:
            problems.append(f"expect.category must be {TAXONOMY[sub]!r} for {sub!r}")
        if expect.get("priority") not in PRIORITIES:
            problems.append(f"expect.priority must be one of {PRIORITIES}")
        if set(expect) != {"category", "subcategory", "priority"}:
            problems.append("expect holds exactly category, subcategory, priority")
    if not isinstance(row.get("note", ""), str):
        problems.append("note must be a string")
    tags = row.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append("tags must be a list of strings")
    return problems


def parse_lines(lines: Iterable[str], source: str = "<set>") -> list[dict]:
    """Parse and validate JSON lines; raise DataError naming every bad line."""
    rows, problems, seen = [], [], set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"{source}:{number}: not JSON ({error.msg})")
            continue
        for problem in validate_row(row):
            problems.append(f"{source}:{number}: {problem}")
        if isinstance(row, dict):
            if row.get("id") in seen:
                problems.append(f"{source}:{number}: duplicate id {row.get('id')!r}")
            seen.add(row.get("id"))
            rows.append(row)
    if problems:
        raise DataError("\n".join(problems))
    return rows


def load_set(path: Path = DATA) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return parse_lines(handle, source=str(path))


def is_tricky(row: dict) -> bool:
    return bool(TRICKY_TAGS & set(row.get("tags", ())))


# ---------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Outcome:
    row: dict
    category: str
    subcategory: str
    priority: str
    confidence: float | None
    reasons: list[str]
    error: str | None = None

    @property
    def sub_ok(self) -> bool:
        return self.subcategory == self.row["expect"]["subcategory"]

    @property
    def cat_ok(self) -> bool:
        return self.category == self.row["expect"]["category"]

    @property
    def pri_ok(self) -> bool:
        return self.priority == self.row["expect"]["priority"]

    @property
    def pri_within_one(self) -> bool:
        if self.priority not in PRIORITIES:
            return False
        return abs(PRIORITIES.index(self.priority) - PRIORITIES.index(self.row["expect"]["priority"])) <= 1


def _label(value: Any) -> str:
    """A label as a plain string, whether the classifier returns str, an Enum or None."""
    value = getattr(value, "value", value)
    return "" if value is None else str(value)


def _reasons(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return [str(item) for item in value]
    except TypeError:
        return [str(value)]


def run(rows: list[dict], classify: Callable[[str, str], Any]) -> list[Outcome]:
    """Classify every message; a message that raises counts as wrong and keeps the error."""
    outcomes = []
    for row in rows:
        try:
            result = classify(row["text"], row["customer"]["tier"])
        except Exception as error:  # a crash is a wrong answer, reported, not a failed bench
            outcomes.append(Outcome(row, "", "", "", None, [], f"{type(error).__name__}: {error}"))
            continue
        confidence = getattr(result, "confidence", None)
        outcomes.append(
            Outcome(
                row,
                _label(getattr(result, "category", None)),
                _label(getattr(result, "subcategory", None)),
                _label(getattr(result, "priority", None)),
                float(confidence) if isinstance(confidence, int | float) else None,
                _reasons(getattr(result, "reasons", None)),
            )
        )
    return outcomes


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _prf(expected: list[str], got: list[str], labels: list[str]) -> dict[str, dict]:
    table = {}
    for label in labels:
        tp = sum(1 for e, g in zip(expected, got, strict=True) if e == label and g == label)
        predicted = sum(1 for g in got if g == label)
        support = sum(1 for e in expected if e == label)
        precision = _ratio(tp, predicted)
        recall = _ratio(tp, support)
        # 2·tp / (predicted + support): 0 for a label that is expected but never predicted correctly.
        f1 = _ratio(2 * tp, predicted + support)
        table[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support, "predicted": predicted}
    return table


def _accuracies(outcomes: list[Outcome]) -> dict:
    n = len(outcomes)
    return {
        "n": n,
        "subcategory": _ratio(sum(o.sub_ok for o in outcomes), n),
        "category": _ratio(sum(o.cat_ok for o in outcomes), n),
        "priority": _ratio(sum(o.pri_ok for o in outcomes), n),
        "priority_within_one": _ratio(sum(o.pri_within_one for o in outcomes), n),
    }


def score(outcomes: list[Outcome], show: int = 15) -> dict:
    """Every quality figure of the bench from the classified messages."""
    expected_sub = [o.row["expect"]["subcategory"] for o in outcomes]
    got_sub = [o.subcategory if o.subcategory in TAXONOMY else OTHER for o in outcomes]
    expected_pri = [o.row["expect"]["priority"] for o in outcomes]
    got_pri = [o.priority if o.priority in PRIORITIES else OTHER for o in outcomes]

    per_sub = _prf(expected_sub, got_sub, SUBCATEGORIES)
    f1s = [v["f1"] for v in per_sub.values() if v["f1"] is not None]
    columns = SUBCATEGORIES + ([OTHER] if OTHER in got_sub else [])
    confusion = {e: {g: 0 for g in columns} for e in SUBCATEGORIES}
    for e, g in zip(expected_sub, got_sub, strict=True):
        confusion[e][g] += 1

    tags = sorted({t for o in outcomes for t in o.row.get("tags", ())})
    misclassified = [o for o in outcomes if not (o.sub_ok and o.pri_ok)]
    return {
        "messages": len(outcomes),
        "errors": sum(o.error is not None for o in outcomes),
        "overall": _accuracies(outcomes),
        "macro_f1": statistics.fmean(f1s) if f1s else None,
        "per_subcategory": per_sub,
        "per_priority": _prf(expected_pri, got_pri, PRIORITIES),
        "per_language": {lang: _accuracies([o for o in outcomes if o.row["lang"] == lang]) for lang in LANGS},
        "per_tier": {tier: _accuracies([o for o in outcomes if o.row["customer"]["tier"] == tier]) for tier in TIERS},
        "tricky": _accuracies([o for o in outcomes if is_tricky(o.row)]),
        "per_tag": {tag: _accuracies([o for o in outcomes if tag in o.row.get("tags", ())]) for tag in tags},
        "confusion": {"labels": SUBCATEGORIES, "columns": columns, "matrix": confusion},
        "misclassified_count": len(misclassified),
        "misclassified": [
            {
                "id": o.row["id"],
                "lang": o.row["lang"],
                "tier": o.row["customer"]["tier"],
                "text": o.row["text"],
                "expected": {"subcategory": o.row["expect"]["subcategory"], "priority": o.row["expect"]["priority"]},
                "got": {"subcategory": o.subcategory, "priority": o.priority},
                "confidence": o.confidence,
                "reasons": o.reasons,
                "error": o.error,
                "note": o.row.get("note", ""),
            }
            for o in misclassified[:show]
        ],
    }


# ---------------------------------------------------------------- speed


def _one_core() -> Callable[[], None]:
    """Pin this process to one CPU where the OS allows; returns the undo."""
    if not hasattr(os, "sched_setaffinity"):
        return lambda: None
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    return lambda: os.sched_setaffinity(0, before)


def throughput(classify: Callable[[str, str], Any], rows: list[dict], seconds: float = 2.0) -> dict:
    """Classify the whole set repeatedly for about `seconds` on one core."""
    undo = _one_core()
    try:
        for row in rows[:20]:  # warm caches (compiled patterns, lazily built tables)
            classify(row["text"], row["customer"]["tier"])
        done, passes = 0, 0
        start = time.perf_counter()
        while True:
            for row in rows:
                classify(row["text"], row["customer"]["tier"])
            done += len(rows)
            passes += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
    finally:
        undo()
    return {
        "messages": done,
        "passes": passes,
        "seconds": elapsed,
        "per_second": done / elapsed,
        "us_per_message": elapsed / done * 1e6,
    }


def load_classifier(repeats: int = 5) -> tuple[Callable[[str, str], Any], dict]:
    """Import the classifier and time its import and construction (first, then warm median)."""
    start = time.perf_counter()
    from ticketflow.classification import Classifier, default_rules

    imported = time.perf_counter() - start
    start = time.perf_counter()
    classifier = Classifier(default_rules())
    first = time.perf_counter() - start
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        Classifier(default_rules())
        warm.append(time.perf_counter() - start)

    def classify(text: str, tier: str) -> Any:
        return classifier.classify(text, customer_tier=tier)

    timing = {"import_ms": imported * 1000, "first_ms": first * 1000, "warm_median_ms": statistics.median(warm) * 1000}
    return classify, timing


# ---------------------------------------------------------------- report


def _pct(value: float | None) -> str:
    return "    -" if value is None else f"{value * 100:5.1f}"


def render(figures: dict) -> str:
    out: list[str] = []
    add = out.append
    overall = figures["overall"]
    add(f"ticket classifier on {figures['data']}")
    add(f"messages                      {figures['messages']}")
    if figures["errors"]:
        add(f"classify() raised on          {figures['errors']} (counted wrong)")
    add(f"subcategory accuracy          {_pct(overall['subcategory'])} %")
    add(f"category accuracy             {_pct(overall['category'])} %")
    add(f"priority exact accuracy       {_pct(overall['priority'])} %")
    add(f"priority within one level     {_pct(overall['priority_within_one'])} %")
    add(f"subcategory macro F1          {_pct(figures['macro_f1'])} %")
    add("")

    add(f"{'subcategory':<24}{'prec %':>8}{'rec %':>8}{'F1 %':>8}{'support':>9}{'predicted':>11}")
    for label, row in figures["per_subcategory"].items():
        add(
            f"{label:<24}{_pct(row['precision']):>8}{_pct(row['recall']):>8}{_pct(row['f1']):>8}"
            f"{row['support']:>9}{row['predicted']:>11}"
        )
    add("")
    add(f"{'priority':<24}{'prec %':>8}{'rec %':>8}{'support':>9}{'predicted':>11}")
    for label, row in figures["per_priority"].items():
        add(f"{label:<24}{_pct(row['precision']):>8}{_pct(row['recall']):>8}{row['support']:>9}{row['predicted']:>11}")
    add("")

    def group(title: str, table: dict) -> None:
        add(f"{title:<24}{'n':>5}{'sub %':>8}{'cat %':>8}{'pri %':>8}{'pri±1 %':>9}")
        for name, row in table.items():
            add(
                f"{name:<24}{row['n']:>5}{_pct(row['subcategory']):>8}{_pct(row['category']):>8}"
                f"{_pct(row['priority']):>8}{_pct(row['priority_within_one']):>9}"
            )
        add("")

    group("language", figures["per_language"])
    group("customer tier", figures["per_tier"])
    group("tag", {"(all tricky)": figures["tricky"], **figures["per_tag"]})

    confusion = figures["confusion"]
    columns = confusion["columns"]
    heads = [SHORT.get(c, "other") for c in columns]
    add("confusion of subcategories (rows expected, columns got)")
    add(f"{'':<8}" + "".join(f"{h:>7}" for h in heads))
    for label in confusion["labels"]:
        cells = confusion["matrix"][label]
        add(f"{SHORT[label]:<8}" + "".join(f"{(cells[c] or '.')!s:>7}" for c in columns))
    add("  " + ", ".join(f"{SHORT[s]}={s}" for s in SUBCATEGORIES))
    add("")

    speed, build = figures.get("throughput"), figures.get("construction")
    if build:
        add(
            f"import {build['import_ms']:.1f} ms; Classifier(default_rules()) first {build['first_ms']:.2f} ms, "
            f"then median {build['warm_median_ms']:.2f} ms"
        )
    if speed:
        add(
            f"throughput (one core): {speed['per_second']:,.0f} messages/s, {speed['us_per_message']:.1f} µs each "
            f"({speed['messages']} messages, {speed['passes']} passes in {speed['seconds']:.2f} s)"
        )
    add("")

    shown = figures["misclassified"]
    add(f"misclassified: {figures['misclassified_count']} (subcategory or priority wrong); the first {len(shown)}:")
    for item in shown:
        exp, got = item["expected"], item["got"]
        marks = ("sub" if exp["subcategory"] != got["subcategory"] else "") + (
            " pri" if exp["priority"] != got["priority"] else ""
        )
        confidence = "-" if item["confidence"] is None else f"{item['confidence']:.2f}"
        add(f"  {item['id']} [{item['lang']}, {item['tier']}] wrong: {marks.strip()}")
        add(f"    text     {item['text']}")
        add(f"    expected {exp['subcategory']} {exp['priority']}")
        add(f"    got      {got['subcategory'] or '-'} {got['priority'] or '-'} (confidence {confidence})")
        if item["error"]:
            add(f"    error    {item['error']}")
        add(f"    reasons  {'; '.join(item['reasons']) or '-'}")
        if item["note"]:
            add(f"    note     {item['note']}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--data", type=Path, default=DATA, help="the labelled set (JSON lines)")
    parser.add_argument("--seconds", type=float, default=2.0, help="how long to measure throughput")
    parser.add_argument("--show", type=int, default=15, help="how many misclassified messages to list")
    args = parser.parse_args(argv)

    rows = load_set(args.data)
    try:
        classify, construction = load_classifier()
    except ImportError as error:
        print(f"the classifier is not importable yet ({error}); the set itself loaded: {len(rows)} messages")
        return 2
    figures = score(run(rows, classify), show=args.show)
    figures["data"] = os.path.relpath(args.data, ROOT) if args.data.is_absolute() else str(args.data)
    figures["construction"] = construction
    figures["throughput"] = throughput(classify, rows, args.seconds)
    figures["set"] = {
        "per_subcategory": dict(Counter(r["expect"]["subcategory"] for r in rows)),
        "per_language": dict(Counter(r["lang"] for r in rows)),
        "per_priority": dict(Counter(r["expect"]["priority"] for r in rows)),
        "tricky": sum(map(is_tricky, rows)),
    }
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    else:
        print(render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
