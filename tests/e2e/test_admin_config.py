"""An admin tunes the live helpdesk over HTTP, against `ticketflow dev`, without a restart: a
keyword rule and a knowledge-base article take effect on the next ticket, a stale edit is
refused, a rollback restores the old behaviour, and a what-if replay of the rule over the
tickets so far says which tickets it would move, and sends nothing."""

from __future__ import annotations

import copy
import time

import pytest

from tests.e2e.test_triage import post, wait_for

pytestmark = pytest.mark.e2e

ADMIN = ("admin-1", "admin")
SUPERVISOR = ("sup-1", "supervisor")
BLIND_BOX = "盲盒隐藏款的概率是多少？"
KEYWORD = {"op": "add", "path": "/categories/presales/subcategories/pricing/phrases/盲盒", "value": 3}
ARTICLE = {
    "title": "盲盒隐藏款概率",
    "language": "zh",
    "category": "presales",
    "subcategory": "pricing",
    "questions": ["盲盒隐藏款的概率是多少", "隐藏款概率", "盲盒能抽到隐藏款吗"],
    "keywords": ["盲盒", "隐藏款"],
    "answer": "{customer_name}您好！每个系列的隐藏款抽中概率为 1/72。工单号：{ticket_number}。",
}


def version_of(stack, kind: str) -> str:
    response = stack.request("GET", f"/admin/config/{kind}", as_=ADMIN)
    assert response.status_code == 200
    return response.headers["ETag"]


def settled(stack, description: str) -> dict:
    tid = post(stack, description, email="e2e-config@example.com")
    return wait_for(stack, tid, lambda t: t["status"] != "new" and (t["auto_reply"] or {}).get("state") != "pending")


def outbox(stack) -> list[dict]:
    """Everything sent so far: email, SMS and events."""
    return [m for messages in stack.request("GET", "/dev/outbox").json().values() for m in messages]


def test_an_admin_tunes_rules_and_knowledge_live_and_replays_them(local_stack):
    s = local_stack
    baseline = settled(s, BLIND_BOX)
    assert (baseline["subcategory"], baseline["auto_reply"]) == ("product_info", None)
    rules_at, knowledge_at = version_of(s, "classification"), version_of(s, "knowledge")

    # A keyword rule and an article, over the API.
    response = s.request(
        "PATCH",
        "/admin/config/classification",
        as_=ADMIN,
        headers={"If-Match": rules_at},
        json={"patch": [KEYWORD], "reason": "blind-box questions are about pricing"},
    )
    assert response.status_code == 200, response.text
    with_rule = response.json()
    response = s.request(
        "PUT",
        "/admin/config/knowledge/items/blind-box-odds-zh",
        as_=ADMIN,
        headers={"If-Match": knowledge_at},
        json={"item": ARTICLE, "reason": "new FAQ"},
    )
    assert response.status_code == 201, response.text

    # The next ticket is classified and answered with them: nothing restarted.
    ticket = settled(s, BLIND_BOX)
    assert (ticket["category"], ticket["subcategory"]) == ("presales", "pricing")
    assert ticket["auto_reply"]["article"] == "blind-box-odds-zh" and ticket["auto_reply"]["state"] == "sent"
    assert any(ticket["number"] in str(m) and "1/72" in str(m) for m in outbox(s))

    # An edit made on the version before is refused, not applied over the rule.
    response = s.request(
        "PATCH",
        "/admin/config/classification",
        as_=ADMIN,
        headers={"If-Match": rules_at},
        json={"patch": [{**KEYWORD, "value": 1}], "reason": "stale"},
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "stale_version"

    # Rolling back restores the old behaviour.
    for kind, to in (("classification", rules_at), ("knowledge", knowledge_at)):
        response = s.request(
            "POST",
            f"/admin/config/{kind}/rollback",
            as_=ADMIN,
            headers={"If-Match": version_of(s, kind)},
            json={"version": int(to.strip('"')), "reason": "back to what we had"},
        )
        assert response.status_code == 200, response.text
    history = s.request("GET", "/admin/config/classification/versions", as_=SUPERVISOR).json()
    assert [v["action"] for v in history[:2]] == [f"rollback to {int(rules_at.strip(chr(34)))}", "patch"]
    after = settled(s, BLIND_BOX)
    assert (after["subcategory"], after["auto_reply"]) == ("product_info", None)

    # What if the rule went live again? Replay it over every ticket created so far.
    proposal = copy.deepcopy(with_rule["data"])
    sent_before = len(outbox(s))
    response = s.request("POST", "/admin/simulations", as_=ADMIN, json={"proposal": {"classification": proposal}})
    assert response.status_code == 202, response.text
    run_url = response.headers["Location"]
    deadline = time.monotonic() + 60
    run = response.json()
    while run["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
        run = s.request("GET", run_url, as_=ADMIN).json()
    assert run["status"] == "done", run
    result = run["result"]
    blind_box = {baseline["id"], ticket["id"], after["id"]}
    moved = {sample["id"] for sample in result["samples"]["subcategory"]}
    assert blind_box <= moved
    assert result["moved"]["subcategory"] >= 3
    assert result["transitions"]["subcategory"]["presales/product_info → presales/pricing"] >= 3
    assert result["tickets"] >= 3 and run["progress"]["processed"] == result["tickets"]
    assert len(outbox(s)) == sent_before  # a replay sends nothing
    assert version_of(s, "classification") == f'"{int(rules_at.strip(chr(34))) + 2}"'  # nor changes config


def test_config_export_diff_and_import_from_the_command_line(local_stack, tmp_path):
    import subprocess

    import yaml

    from tests.e2e.conftest import BIN

    def ticketflow(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "ticketflow"), "config", *args, "--url", local_stack.base_url],
            capture_output=True,
            text=True,
            timeout=60,
        )

    exported = tmp_path / "staging.yaml"
    done = ticketflow("export", str(exported))
    assert done.returncode == 0, done.stderr
    document = yaml.safe_load(exported.read_text(encoding="utf-8"))
    assert document["format"] == "ticketflow-config/1" and "classification" in document["kinds"]

    done = ticketflow("diff", str(exported))
    assert done.returncode == 0 and "reports: unchanged" in done.stdout

    document["kinds"]["reports"]["backlog_age_days"] = [2, 5, 10]
    exported.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    done = ticketflow("diff", str(exported))
    assert done.returncode == 1
    assert "reports: 3 change(s)" in done.stdout and "~ /backlog_age_days/0: 2" in done.stdout
    before = version_of(local_stack, "reports")

    done = ticketflow("import", str(exported), "--reason", "from staging")
    assert done.returncode == 0, done.stderr
    now = int(before.strip('"')) + 1
    assert f"reports: now version {now}" in done.stdout
    live = local_stack.request("GET", "/admin/config/reports", as_=ADMIN).json()
    assert live["data"]["backlog_age_days"] == [2, 5, 10] and live["reason"] == "from staging"
    assert ticketflow("diff", str(exported)).returncode == 0

    response = local_stack.request(
        "POST",
        "/admin/config/reports/rollback",
        as_=ADMIN,
        headers={"If-Match": f'"{now}"'},
        json={"version": int(before.strip('"')), "reason": "leave the stack as found"},
    )
    assert response.status_code == 200
