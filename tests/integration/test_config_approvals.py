"""Knowledge-base changes by supervisors wait for an admin (知识库更新需经主管审核); concurrent
writers never both win (on DynamoDB Local); a warm container picks up another container's
change when its cache expires."""

from __future__ import annotations

import copy
import threading

import pytest

from tests.integration.test_admin_config import ADMIN, ARTICLE, BLIND_BOX, classify, live_version, put
from tests.support import Api
from ticketflow import runtime_config, triage
from ticketflow.access import Actor
from ticketflow.configuration import changes
from ticketflow.directory import Role
from ticketflow.errors import Conflict
from ticketflow.storage import config as config_store

api = Api()
PROPOSALS = "/admin/config/knowledge/proposals"


def propose(body: dict, as_: str = "sup-1") -> tuple[int, dict]:
    return api.post(PROPOSALS, body, as_=as_)


def test_a_supervisors_article_goes_live_only_when_an_admin_approves(stack):
    status, proposal = propose({"reason": "customers keep asking", "put": [ARTICLE]})
    assert status == 201, proposal
    assert proposal["status"] == "pending" and proposal["base_version"] == 0 and proposal["by"] == "sup-1"
    assert proposal["summary"] == ["+ articles blind-box-odds-zh"]
    assert api.last_headers["Location"] == f"{PROPOSALS}/{proposal['id']}"
    assert live_version("knowledge") == 0  # not live yet
    assert api.get("/admin/config/knowledge/items/blind-box-odds-zh", as_=ADMIN)[0] == 404
    assert [p["id"] for p in api.get(PROPOSALS, as_=ADMIN, query={"status": "pending"})[1]] == [proposal["id"]]
    assert next(k for k in api.get("/admin/config", as_=ADMIN)[1] if k["kind"] == "knowledge")["pending_proposals"] == 1

    # The supervisor cannot approve; an admin can.
    assert api.post(f"{PROPOSALS}/{proposal['id']}/approve", {}, as_="sup-1")[0] == 403
    status, approved = api.post(f"{PROPOSALS}/{proposal['id']}/approve", {"reason": "checked the odds"}, as_=ADMIN)
    assert status == 200 and approved["status"] == "approved" and approved["version"] == 1
    assert approved["decided_by"] == ADMIN

    status, live = api.get("/admin/config/knowledge", as_=ADMIN)
    assert live["version"] == 1 and live["action"] == "approve" and live["proposal"] == proposal["id"]
    assert "proposed by sup-1, approved by admin-1" in live["reason"]
    assert any(a["id"] == "blind-box-odds-zh" for a in live["data"]["articles"])

    # Decided once: a second approval, or a late rejection, is a 409 and writes nothing.
    status, body = api.post(f"{PROPOSALS}/{proposal['id']}/approve", {}, as_=ADMIN)
    assert status == 409 and body["error"]["code"] == "proposal_decided"
    assert api.post(f"{PROPOSALS}/{proposal['id']}/reject", {"reason": "late"}, as_=ADMIN)[0] == 409
    assert live_version("knowledge") == 1


def test_a_proposal_is_validated_when_made_naming_its_own_field(stack):
    status, body = propose({"reason": "x", "put": [{**ARTICLE, "language": "fr"}]})
    assert status == 422 and body["error"]["details"][0]["field"] == "put.0.language"
    status, body = propose({"reason": "x", "put": [{**ARTICLE, "subcategory": "refunds"}]})
    assert status == 422 and body["error"]["details"][0]["field"] == "put.0.subcategory"
    status, body = propose({"reason": "x"})
    assert status == 422 and body["error"]["details"][0]["field"] == "put"
    assert api.get(PROPOSALS, as_=ADMIN)[1] == []


def test_only_knowledge_takes_proposals_and_agents_cannot_propose(stack):
    assert propose({"reason": "x", "put": [ARTICLE]}, as_="agent-1")[0] == 403
    status, body = api.post("/admin/config/sla/proposals", {"reason": "x", "delete": ["vip"]}, as_="sup-1")
    assert status == 403 and "made by an admin" in body["error"]["message"]


def test_rejection_needs_a_reason_and_the_author_may_withdraw(stack):
    _, first = propose({"reason": "one", "put": [ARTICLE]})
    status, body = api.post(f"{PROPOSALS}/{first['id']}/reject", {}, as_=ADMIN)
    assert status == 422 and body["error"]["details"][0]["field"] == "reason"
    status, body = api.post(f"{PROPOSALS}/{first['id']}/reject", {"reason": "odds are secret"}, as_=ADMIN)
    assert status == 200 and body["status"] == "rejected" and body["decision_reason"] == "odds are secret"

    _, second = propose({"reason": "two", "delete": ["invoice-zh"]})
    status, body = api.post(f"{PROPOSALS}/{second['id']}/reject", {"reason": "changed my mind"}, as_="sup-1")
    assert status == 200 and body["status"] == "withdrawn"
    assert live_version("knowledge") == 0
    statuses = {p["id"]: p["status"] for p in api.get(PROPOSALS, as_="sup-1")[1]}
    assert statuses == {first["id"]: "rejected", second["id"]: "withdrawn"}


def test_an_admin_does_not_approve_their_own_proposal(stack):
    _, mine = propose({"reason": "mine", "put": [ARTICLE]}, as_=ADMIN)
    status, body = api.post(f"{PROPOSALS}/{mine['id']}/approve", {}, as_=ADMIN)
    assert status == 403 and "other than its author" in body["error"]["message"]


def test_a_proposal_rebases_over_other_changes_but_not_over_a_change_to_its_own_items(stack):
    _, new_article = propose({"reason": "add", "put": [ARTICLE]})
    invoice = next(a for a in runtime_config.default("knowledge")["articles"] if a["id"] == "invoice-zh")
    _, edit_invoice = propose({"reason": "wording", "put": [{**invoice, "title": "发票开具说明"}]})

    # Meanwhile an admin edits the invoice article directly.
    status, _ = put(
        "/admin/config/knowledge/items/invoice-zh", {"item": {**invoice, "title": "开发票"}, "reason": "x"}, version=0
    )
    assert status == 200

    # The new article touches nothing that changed: it applies on top of version 1.
    status, body = api.post(f"{PROPOSALS}/{new_article['id']}/approve", {}, as_=ADMIN)
    assert status == 200 and body["version"] == 2
    live = api.get("/admin/config/knowledge/items/invoice-zh", as_=ADMIN)[1]
    assert live["title"] == "开发票"  # the admin's edit survived

    # The invoice edit would overwrite the admin's unseen change: refused, nothing written.
    status, body = api.post(f"{PROPOSALS}/{edit_invoice['id']}/approve", {}, as_=ADMIN)
    assert status == 409 and body["error"]["code"] == "proposal_outdated"
    assert body["error"]["details"]["items"] == ["invoice-zh"]
    assert live_version("knowledge") == 2


def test_an_approved_article_answers_the_next_ticket(stack):
    put(
        "/admin/config/classification",
        {
            "patch": [{"op": "add", "path": "/categories/presales/subcategories/pricing/phrases/盲盒", "value": 3}],
            "reason": "keyword",
        },
        version=0,
        method="PATCH",
    )
    _, proposal = propose({"reason": "FAQ", "put": [ARTICLE]})
    assert classify(stack, BLIND_BOX)["auto_reply"] is None  # proposed is not live
    api.post(f"{PROPOSALS}/{proposal['id']}/approve", {}, as_=ADMIN)
    assert classify(stack, BLIND_BOX)["auto_reply"]["article"] == "blind-box-odds-zh"


# ---------------------------------------------------------------- concurrency on the real service


def test_two_admins_writing_at_once_never_both_win(real_dynamodb_stack):
    admins = [Actor(id=f"admin-{n}", role=Role.ADMIN) for n in range(6)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(admins))

    def write(actor: Actor) -> None:
        data = copy.deepcopy(runtime_config.default("reports"))
        data["backlog_age_days"] = [int(actor.id.split("-")[1]) + 1]
        barrier.wait()
        try:
            changes.replace(actor, "reports", data, expected=0, reason=f"by {actor.id}")
            outcomes.append(actor.id)
        except Conflict:
            outcomes.append("409")

    threads = [threading.Thread(target=write, args=(a,)) for a in admins]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if o != "409"]
    assert len(winners) == 1 and outcomes.count("409") == len(admins) - 1
    live = config_store.current("reports")
    assert live is not None
    assert live.version == 1 and live.by == winners[0]
    assert [v.version for v in config_store.list_versions("reports", limit=10)] == [1]


# ---------------------------------------------------------------- the cache in a warm container


def test_a_warm_container_sees_another_containers_change_after_the_ttl(stack, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(runtime_config.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(runtime_config, "TTL_SECONDS", 30.0)
    first = triage.classifier()
    assert runtime_config.live("classification").current()[0] == 0

    # Another Lambda instance (the admin API's) makes version 1: this container has not heard.
    rules = copy.deepcopy(runtime_config.default("classification"))
    rules["categories"]["presales"]["subcategories"]["pricing"]["phrases"]["盲盒"] = 3
    config_store.put_current("classification", rules, version=1)
    now[0] += 29
    assert runtime_config.live("classification").current()[0] == 0  # within the TTL: cached, no read
    assert triage.classifier() is first
    now[0] += 2
    assert runtime_config.live("classification").current()[0] == 1  # past it: the new version
    assert triage.classifier() is not first
    assert triage.classifier().classify(BLIND_BOX).subcategory == "pricing"


@pytest.mark.parametrize("seconds", ["5", ""])
def test_the_ttl_is_an_environment_setting(monkeypatch, seconds):
    import importlib

    monkeypatch.setenv("TICKETFLOW_CONFIG_TTL_SECONDS", seconds)
    reloaded = importlib.reload(runtime_config)
    try:
        expected = float(seconds) if seconds else 30.0
        ttl = reloaded.TTL_SECONDS
        assert ttl == expected
    finally:
        monkeypatch.delenv("TICKETFLOW_CONFIG_TTL_SECONDS")
        importlib.reload(runtime_config)
