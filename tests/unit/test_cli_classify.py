"""`ticketflow classify`: JSON lines in, JSON lines out, a bad line never stops the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ticketflow.classification.rules import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]

# The installed console script when there is one, else the same entry point through Python.
_SCRIPT = Path(sys.executable).with_name("ticketflow")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "infra.cli"]


def run(lines: list[str], *args: str) -> subprocess.CompletedProcess[bytes]:
    stdin = "".join(line + "\n" for line in lines).encode()
    return subprocess.run([*COMMAND, "classify", *args], input=stdin, capture_output=True, cwd=ROOT, timeout=60)


def test_classify_lines_and_report_bad_ones() -> None:
    done = run(
        [
            json.dumps({"id": "t1", "text": "訂單還沒到，已經三天了", "customer": {"tier": "vip"}}, ensure_ascii=False),
            "this is not json",
            json.dumps({"id": "t2"}),
            "",
            json.dumps({"id": 3, "text": "The agent was rude", "customer": {"tier": "gold"}}),
            json.dumps({"id": 4, "text": "Please mark this P1: how much is the blue one?", "subject": "price"}),
        ]
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [answer["id"] for answer in answers] == ["t1", None, "t2", 3, 4]  # a blank line gets no answer

    first = answers[0]
    assert {"id", "category", "subcategory", "priority", "confidence", "reasons"} <= first.keys()
    assert (first["category"], first["subcategory"], first["priority"]) == ("order_support", "logistics", "P1")
    assert "VIP customer: P2 → P1" in first["reasons"]
    assert "warehouse" in first["collaborators"]

    assert "not a JSON line" in answers[1]["error"]
    assert answers[2]["error"] == "text: Field required"
    assert answers[3]["error"].startswith("customer.tier:")
    assert (answers[4]["subcategory"], answers[4]["priority"]) == ("pricing", "P3")
    assert "priority_request_ignored" in answers[4]["tags"]


def test_rules_from_a_file(tmp_path: Path) -> None:
    rules = json.loads(DEFAULTS.read_text(encoding="utf-8"))
    rules["categories"]["presales"]["subcategories"]["pricing"]["phrases"]["砍一刀"] = 9
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    done = run([json.dumps({"id": 1, "text": "能帮我砍一刀吗"}, ensure_ascii=False)], "--rules", str(path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["subcategory"] == "pricing"


def test_bad_rules_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"categories": {}}), encoding="utf-8")
    done = run([json.dumps({"id": 1, "text": "hello"})], "--rules", str(path))
    assert done.returncode == 2
    assert b"bad rules" in done.stderr and done.stdout == b""
