"""Contract fuzzing: schemathesis, a tool nobody here wrote, generates requests from the OpenAPI
document the local stack serves (`GET /openapi.json`: every route of every function) and sends
them to a real `ticketflow dev`, once as each kind of caller (a channel's API key, an agent, a
supervisor, an admin). Every response must:

- not be a server error (`not_a_server_error`: no 5xx, the gateway's 502 for a crash included),
- have a documented status code (`status_code_conformance`),
- have a documented content type (`content_type_conformance`),
- match the documented schema for its status (`response_schema_conformance`),
- arrive within the per-request timeout (a hang fails the run).

The schemathesis command line runs it (`st run`), as anyone would against a deployed stage: its
JSON report gives the figures, its console output the failures, each with a curl line that
reproduces it. Phases: `examples`, then `coverage` (boundary and invalid values derived from
every constraint, missing fields, wrong types and methods), then `fuzzing` (random valid and
invalid requests, reusing values earlier responses returned). The budget is fixed: a seed, a
number of examples per operation, no example database, so CI runs the same search every time
(values the stack makes up, such as ticket ids, differ from run to run).

Each stack is first filled over its API with tickets in every status, a survey link, a proposal
and a simulation (`fuzz_support.prepare`), which the fuzzer draws on for path and query
parameters half of the time; otherwise nearly every `/tickets/{ticket_id}` request would be a
404. Two stacks run side by side (the CI machine has two cores): channel then agent on one,
supervisor then admin on the other (admin last: it rewrites the configuration).

The findings the fuzzer made are pinned by the tests at the end of this file, so that they stay
fixed whatever the seed explores.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.e2e import fuzz_support
from tests.e2e.conftest import BIN, ROOT, LocalStack, launch

pytestmark = pytest.mark.e2e

SUMMARY = ROOT / "artifacts" / "fuzz-summary.json"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
PHASES = "examples,coverage,fuzzing"
MAX_EXAMPLES = 6  # per operation and role, in the fuzzing phase (the coverage phase derives its own)
SEED = 20261124
REQUEST_TIMEOUT = 10  # seconds; a request that takes longer fails the run as a hang
RUN_TIMEOUT = 300  # seconds for one role's run: far above the budget, only a backstop
LANES = [("channel", "agent"), ("supervisor", "admin")]  # one stack each, side by side

# What each kind of caller sends with every request.
ROLES = {
    "channel": lambda stack: {"x-api-key": stack.api_key},
    "agent": lambda stack: {"Authorization": f"Bearer {stack.token('agent-1', 'agent')}"},
    "supervisor": lambda stack: {"Authorization": f"Bearer {stack.token('sup-1', 'supervisor')}"},
    "admin": lambda stack: {"Authorization": f"Bearer {stack.token('admin-1', 'admin')}"},
}


def fuzz(stack: LocalStack, role: str, config: Path, report_dir: Path) -> dict:
    """One `st run` as ``role``: the figures of its JSON report, and its failures as text."""
    command = [str(BIN / "st"), "--config-file", str(config), "run", f"{stack.base_url}/openapi.json"]
    command += ["--checks", CHECKS, "--phases", PHASES, "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED)]
    command += ["--generation-database", "none", "--request-timeout", str(REQUEST_TIMEOUT), "--workers", "1"]
    command += ["--report", "json", "--report-dir", str(report_dir), "--no-color"]
    for name, value in ROLES[role](stack).items():
        command += ["--header", f"{name}: {value}"]
    report_dir.mkdir(parents=True)
    started = time.monotonic()
    result = subprocess.run(command, cwd=report_dir, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    seconds = time.monotonic() - started
    reports = sorted(report_dir.glob("*.json"))
    assert reports, f"schemathesis wrote no report (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    report = json.loads(reports[-1].read_text())
    cases = report["test_cases"]
    return {
        "operations": report["operations"]["tested"],
        "cases": cases["generated"],
        "failures": cases["unique_failures"],
        "errors": len(report["errors"]),
        "seconds": round(seconds, 1),
        "complete": report["complete"],
        "details": _failures(result.stdout + result.stderr) if cases["unique_failures"] or report["errors"] else "",
    }


def _failures(output: str) -> str:
    """The console's ERRORS and FAILURES sections (each failure with its curl line)."""
    found = re.search(r"^=+ (ERRORS|FAILURES) =+$.*?(?=^=+ (WARNINGS|SUMMARY) =+$)", output, re.M | re.S)
    return found.group(0) if found else output[-6000:]


def run_lane(roles: tuple[str, ...], workdir: Path) -> dict[str, dict]:
    # The survey goes a second after the close, so that the prepared data holds a survey link.
    with launch(TICKETFLOW_SURVEY_DELAY_SECONDS="1") as stack:
        document = requests.get(f"{stack.base_url}/openapi.json", timeout=30).json()
        workdir.mkdir(parents=True)
        config = workdir / "schemathesis.toml"
        config.write_text(fuzz_support.config_toml(fuzz_support.prepare(stack)))
        results = {}
        for role in roles:
            results[role] = fuzz(stack, role, config, workdir / role)
            results[role]["documented"] = sum(len(item) for item in document["paths"].values())
        return results


def test_every_operation_keeps_its_contract_as_every_role(tmp_path, capsys):
    started = time.monotonic()
    with ThreadPoolExecutor(len(LANES)) as pool:
        lanes = [pool.submit(run_lane, lane, tmp_path / f"lane-{n}") for n, lane in enumerate(LANES)]
        results = {role: figures for lane in lanes for role, figures in lane.result().items()}
    seconds = round(time.monotonic() - started, 1)

    roles = {role: {k: v for k, v in r.items() if k != "details"} for role, r in results.items()}
    cases = sum(r["cases"] for r in roles.values())
    failures = sum(r["failures"] + r["errors"] for r in roles.values())
    summary = {
        "cases": cases,
        "failures": failures,
        "operations": max(r["documented"] for r in roles.values()),
        "seconds": seconds,
        "seed": SEED,
        "max_examples": MAX_EXAMPLES,
        "phases": PHASES.split(","),
        "checks": CHECKS.split(","),
        "roles": roles,
    }
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2) + "\n")
    per_role = ", ".join(f"{role} {r['cases']}" for role, r in roles.items())
    line = f"fuzz: {cases} cases, {failures} failures; {summary['operations']} operations ({per_role}) in {seconds} s"
    with capsys.disabled():
        print(f"\n{line}")

    for role, r in results.items():
        assert r["complete"], f"{role}: the run stopped early"
        assert r["operations"] == r["documented"], f"{role}: {r['operations']} of {r['documented']} operations tested"
    assert failures == 0, "\n".join(f"--- as {role}:\n{r['details']}" for role, r in results.items() if r["details"])


# ------------------------------------------------------------------ what the fuzzer found, pinned


@pytest.fixture(scope="module")
def document(local_stack: LocalStack) -> dict:
    response = requests.get(f"{local_stack.base_url}/openapi.json", timeout=30)
    assert response.status_code == 200
    return response.json()


def test_the_document_is_the_api_not_the_local_runner(document):
    assert not [path for path in document["paths"] if path.startswith("/dev")]
    some = {"/tickets", "/tickets/{ticket_id}/accept", "/surveys/{token}", "/admin/config/{kind}"}
    assert some <= set(document["paths"])


def test_a_metadata_key_must_not_be_empty(local_stack):
    """DynamoDB refuses an empty name in a map ("Empty attribute name"); moto stored a broken
    item instead, after which every read of the ticket, and every list holding it, was a 502."""
    body = {"channel": "web", "customer": {"id": "C-FUZZ", "name": "李雷"}, "description": "你好"}
    body["metadata"] = {"": "x"}
    response = local_stack.request("POST", "/tickets", channel=True, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


def test_a_body_that_is_not_utf8_is_a_400_not_a_crash(local_stack):
    """The gateway passes a binary body base64-encoded, as API Gateway does; decoding it was a 502."""
    response = local_stack.request(
        "POST", "/tickets", channel=True, data=b'\xff\xfe{"a"', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_json"


def test_any_method_gets_a_json_answer_from_the_gateway(local_stack):
    """TRACE (or a made-up method) was answered by the HTTP server's own 501 page."""
    for method in ("TRACE", "PURGE"):
        response = requests.request(method, f"{local_stack.base_url}/tickets", timeout=10)
        assert response.status_code == 405, (method, response.status_code)
        assert response.json()["error"]["code"] == "method_not_allowed"
        assert set(response.headers["Allow"].split(", ")) == {"GET", "POST"}


def test_the_document_says_what_the_api_answers(document):
    """A write without If-Match is a 428; a survey link no route matches is a JSON 404, a form
    post a page: the document said neither."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in operation.get("parameters", [])):
                assert "428" in operation["responses"], f"{method.upper()} {path}"
    survey = document["paths"]["/surveys/{token}"]
    assert set(survey["get"]["responses"]["404"]["content"]) == {"text/html", "application/json"}
    for status in ("404", "409", "410", "422"):
        assert set(survey["post"]["responses"][status]["content"]) == {"text/html", "application/json"}
