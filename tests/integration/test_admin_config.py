"""The admin API for run-time configuration, through the admin_api handler on moto: every kind
validated with errors that name the field, optimistic concurrency, versions, diff, rollback,
item edits, export and import, and a change reaching classification without a restart."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import drain, sqs_batch
from tests.support import Api, invoke, new_ticket
from ticketflow import runtime_config
from ticketflow.configuration import kinds

api = Api()
ADMIN = "admin-1"
BLIND_BOX = "盲盒隐藏款的概率是多少"
KEYWORD_PATH = "/categories/presales/subcategories/pricing/phrases/盲盒"
ARTICLE = {
    "id": "blind-box-odds-zh",
    "title": "盲盒隐藏款概率",
    "language": "zh",
    "category": "presales",
    "subcategory": "pricing",
    "questions": ["盲盒隐藏款的概率是多少", "隐藏款概率", "盲盒能抽到隐藏款吗"],
    "keywords": ["盲盒", "隐藏款"],
    "answer": "{customer_name}您好！每个系列的隐藏款抽中概率为 1/72，详见商品页。工单号：{ticket_number}。",
}


def put(path: str, body: dict, *, as_: str = ADMIN, version: int | None = None, method: str = "PUT"):
    headers = {"If-Match": f'"{version}"'} if version is not None else {}
    return api.call(method, path, body=body, as_=as_, headers=headers)


def live_version(kind: str) -> int:
    status, _ = api.get(f"/admin/config/{kind}", as_=ADMIN)
    assert status == 200
    return int(api.last_headers["ETag"].strip('"'))


def classify(stack, description: str) -> dict:
    tid = api.post("/tickets", new_ticket(description=description, subject=None, order_number=None))[1]["id"]
    invoke("classify", sqs_batch(drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])))
    return api.get(f"/tickets/{tid}", as_="sup-1")[1]


# ---------------------------------------------------------------- reading


def test_overview_lists_every_kind_at_its_defaults(stack):
    status, body = api.get("/admin/config", as_="sup-1")
    assert status == 200
    assert {k["kind"] for k in body} == set(kinds.kinds())
    directory = {"agents", "teams"}  # the test stack seeds the demo directory: a version of each
    assert all(k["version"] == 0 for k in body if k["kind"] not in directory)
    assert all(k["version"] >= 1 for k in body if k["kind"] in directory)
    knowledge = next(k for k in body if k["kind"] == "knowledge")
    assert knowledge["collection"] == "articles" and "supervisor" in knowledge["proposers"]
    status, body = api.get("/admin/config/sla", as_=ADMIN)
    assert status == 200 and body["version"] == 0 and body["data"] == runtime_config.default("sla")
    assert api.last_headers["ETag"] == '"0"'


def test_agents_may_not_read_configuration_and_unknown_kinds_are_404(stack):
    assert api.get("/admin/config", as_="agent-1")[0] == 403
    assert api.get("/admin/config/routing", as_="agent-1")[0] == 403
    status, body = api.get("/admin/config/nonsense", as_=ADMIN)
    assert status == 404 and "classification" in body["error"]["message"]


# ---------------------------------------------------------------- validation of every kind


def _broken(kind: str) -> tuple[dict, str]:
    """The live document of ``kind`` with one mistake, and the field the error must name."""
    data = copy.deepcopy(api.get(f"/admin/config/{kind}", as_=ADMIN)[1]["data"])
    if kind == "classification":
        data["categories"]["presales"]["subcategories"]["pricing"]["base_priority"] = "P9"
        return data, "data.categories.presales.subcategories.pricing.base_priority"
    if kind == "knowledge":
        data["articles"][2]["answer"] = ""
        return data, "data.articles.2.answer"
    if kind == "routing":
        data["fallbak_team"] = data.pop("fallback_team")
        return data, "data.fallback_team"
    if kind == "sla":
        data["thresholds"]["warning_ratio"] = 2
        return data, "data.thresholds.warning_ratio"
    if kind == "calendars":
        data["calendars"][0]["timezone"] = "Mars/Olympus"
        return data, "data.calendars.0.timezone"
    if kind == "surveys":
        data["sample_rate"] = 1.5
        return data, "data.sample_rate"
    if kind == "notifications":
        first = next(k for k in data if not k.startswith("_"))
        data[first]["sms"] = "sometimes"
        return data, f"data.{first}.sms"
    if kind == "reports":
        data["first_contact_resolution"]["max_agent_replies"] = -1
        return data, "data.first_contact_resolution.max_agent_replies"
    if kind == "agents":
        data["agents"][1]["capacity"] = -1
        return data, "data.agents.1.capacity"
    if kind == "teams":
        data["teams"][0]["id"] = "Sales Team"
        return data, "data.teams.0.id"
    raise AssertionError(f"no broken example for {kind}")


@pytest.mark.parametrize("kind", sorted(kinds.kinds()))
def test_every_kind_refuses_a_bad_document_naming_the_field(stack, kind):
    version = live_version(kind)
    data, field = _broken(kind)
    status, body = put(f"/admin/config/{kind}", {"data": data, "reason": "test"}, version=version)
    assert status == 422, body
    assert field in [d["field"] for d in body["error"]["details"]], body
    assert live_version(kind) == version  # nothing written


def test_unknown_fields_are_errors_not_silently_ignored(stack):
    data = copy.deepcopy(runtime_config.default("sla"))
    data["policies"][0]["targts"] = data["policies"][0].pop("targets")
    status, body = put("/admin/config/sla", {"data": data, "reason": "typo"}, version=0)
    assert status == 422
    assert {"data.policies.0.targets", "data.policies.0.targts"} <= {d["field"] for d in body["error"]["details"]}


def test_references_between_kinds_are_checked(stack):
    routing = copy.deepcopy(runtime_config.default("routing"))
    routing["routes"]["presales/*"] = "nobody"
    routing["routes"]["presales/unicorns"] = "presales"
    status, body = put("/admin/config/routing", {"data": routing, "reason": "x"}, version=0)
    assert status == 422
    fields = {d["field"]: d["message"] for d in body["error"]["details"]}
    assert fields["data.routes.presales/*"] == "no team 'nobody'"
    assert "data.routes.presales/unicorns" in fields

    sla = copy.deepcopy(runtime_config.default("sla"))
    sla["policies"][1]["calendar"] = "moon-hours"
    status, body = put("/admin/config/sla", {"data": sla, "reason": "x"}, version=0)
    assert status == 422 and body["error"]["details"][0]["field"] == "data.policies.1.calendar"

    article = {**ARTICLE, "subcategory": "logistics"}  # logistics is order_support's, not presales'
    status, body = put("/admin/config/knowledge/items/blind-box-odds-zh", {"item": article, "reason": "x"}, version=0)
    assert status == 422 and body["error"]["details"][0]["field"] == "item.subcategory"


def test_an_sla_policy_after_the_fallback_is_refused(stack):
    sla = copy.deepcopy(runtime_config.default("sla"))
    sla["policies"].append({**sla["policies"][0], "id": "late"})
    status, body = put("/admin/config/sla", {"data": sla, "reason": "x"}, version=0)
    assert status == 422
    assert body["error"]["details"][0]["field"] == "data.policies.2"
    assert "can never apply" in body["error"]["details"][0]["message"]


# ---------------------------------------------------------------- concurrency


def test_writes_need_if_match_and_a_stale_one_is_409(stack):
    data = copy.deepcopy(runtime_config.default("reports"))
    data["backlog_age_days"] = [1, 2, 5]
    status, body = put("/admin/config/reports", {"data": data, "reason": "no If-Match"})
    assert status == 428 and body["error"]["details"][0]["field"] == "If-Match"
    status, body = put("/admin/config/reports", {"data": data, "reason": "bad If-Match"}, version=None)
    status, body = api.call(
        "PUT", "/admin/config/reports", body={"data": data, "reason": "x"}, as_=ADMIN, headers={"If-Match": "three"}
    )
    assert status == 422 and body["error"]["details"][0]["field"] == "If-Match"

    status, body = put("/admin/config/reports", {"data": data, "reason": "first"}, version=0)
    assert status == 200 and body["version"] == 1 and api.last_headers["ETag"] == '"1"'
    data["backlog_age_days"] = [2]
    status, body = put("/admin/config/reports", {"data": data, "reason": "made on version 0"}, version=0)
    assert status == 409
    assert body["error"]["code"] == "stale_version" and body["error"]["details"]["current"] == 1
    assert api.get("/admin/config/reports", as_=ADMIN)[1]["data"]["backlog_age_days"] == [1, 2, 5]


def test_only_admins_change_configuration(stack):
    data = runtime_config.default("routing")
    status, body = put("/admin/config/routing", {"data": data, "reason": "x"}, as_="sup-1", version=0)
    assert status == 403 and "admin" in body["error"]["message"]
    status, body = put("/admin/config/knowledge/items/x-1", {"item": ARTICLE, "reason": "x"}, as_="sup-1", version=0)
    assert status == 403 and "/admin/config/knowledge/proposals" in body["error"]["message"]
    assert put("/admin/config/routing", {"data": data, "reason": "x"}, as_="agent-1", version=0)[0] == 403


# ---------------------------------------------------------------- a rule and an article, live at once


def test_a_keyword_and_an_article_classify_and_answer_the_next_ticket(stack):
    before = classify(stack, BLIND_BOX)
    assert (before["subcategory"], before["auto_reply"]) == ("product_info", None)

    status, body = put(
        "/admin/config/classification",
        {"patch": [{"op": "add", "path": KEYWORD_PATH, "value": 3}], "reason": "盲盒 questions are about pricing"},
        version=0,
        method="PATCH",
    )
    assert status == 200, body
    assert body["summary"] == [f"+ {KEYWORD_PATH}"] and body["by"] == ADMIN and body["action"] == "patch"
    status, body = put(
        "/admin/config/knowledge/items/blind-box-odds-zh", {"item": ARTICLE, "reason": "new FAQ"}, version=0
    )
    assert status == 201 and body["summary"] == ["+ articles blind-box-odds-zh"]

    after = classify(stack, BLIND_BOX)  # same container, no restart
    assert (after["category"], after["subcategory"]) == ("presales", "pricing")
    assert after["auto_reply"]["article"] == "blind-box-odds-zh"
    assert "1/72" in next(h["body"] for h in after["history"] if h["action"] == "auto_reply")


def test_a_bad_patch_names_the_operation(stack):
    status, body = put(
        "/admin/config/classification",
        {"patch": [{"op": "replace", "path": "/categories/nowhere/label", "value": "x"}], "reason": "x"},
        version=0,
        method="PATCH",
    )
    assert status == 422 and body["error"]["details"][0]["field"] == "patch.0"
    status, body = put(
        "/admin/config/classification",
        {"patch": [{"op": "add", "path": KEYWORD_PATH, "value": 11}], "reason": "weight too high"},
        version=0,
        method="PATCH",
    )
    assert status == 422
    assert body["error"]["details"][0]["field"].startswith("data.categories.presales.subcategories.pricing.phrases")


# ---------------------------------------------------------------- history, diff, rollback


def test_versions_diff_and_rollback(stack):
    base = runtime_config.default("routing")
    one = {**copy.deepcopy(base), "routes": {**base["routes"], "order_support/logistics": "aftersales"}}
    assert put("/admin/config/routing", {"data": one, "reason": "logistics desk on leave"}, version=0)[0] == 200
    two = {**copy.deepcopy(one), "fallback_team": "presales"}
    assert put("/admin/config/routing", {"data": two, "reason": "fallback to presales"}, version=1)[0] == 200

    status, history = api.get("/admin/config/routing/versions", as_="sup-1")
    assert status == 200
    assert [(v["version"], v["reason"], v["by"]) for v in history] == [
        (2, "fallback to presales", ADMIN),
        (1, "logistics desk on leave", ADMIN),
        (0, "shipped with the package", None),
    ]
    assert all(v["data"] is None for v in history)  # the list is light; one version has its document
    assert api.get("/admin/config/routing/versions/1", as_=ADMIN)[1]["data"] == one
    assert (
        api.get("/admin/config/routing/versions", as_=ADMIN, query={"limit": "1", "before": "2"})[1][0]["version"] == 1
    )

    status, diff = api.get("/admin/config/routing/diff", as_=ADMIN, query={"from": "0"})
    assert status == 200 and (diff["from"], diff["to"]) == (0, 2)
    assert {(op["op"], op["path"], op.get("old"), op["value"]) for op in diff["operations"]} == {
        ("replace", "/routes/order_support~1logistics", "logistics", "aftersales"),
        ("replace", "/fallback_team", "aftersales", "presales"),
    }

    status, body = api.post(
        "/admin/config/routing/rollback", {"version": 1, "reason": "undo"}, as_=ADMIN, headers={"If-Match": '"2"'}
    )
    assert status == 200 and body["version"] == 3 and body["action"] == "rollback to 1" and body["data"] == one
    status, body = api.post(
        "/admin/config/routing/rollback", {"version": 0, "reason": "defaults"}, as_=ADMIN, headers={"If-Match": '"3"'}
    )
    assert status == 200 and body["version"] == 4 and body["data"] == base
    status, body = api.post(
        "/admin/config/routing/rollback", {"version": 9, "reason": "x"}, as_=ADMIN, headers={"If-Match": '"4"'}
    )
    assert status == 404
    assert api.get("/admin/config/routing/versions/9", as_=ADMIN)[0] == 404


def test_rolling_back_restores_the_old_classification(stack):
    put(
        "/admin/config/classification",
        {"patch": [{"op": "add", "path": KEYWORD_PATH, "value": 3}], "reason": "try"},
        version=0,
        method="PATCH",
    )
    assert classify(stack, BLIND_BOX)["subcategory"] == "pricing"
    status, _ = api.post(
        "/admin/config/classification/rollback",
        {"version": 0, "reason": "undo"},
        as_=ADMIN,
        headers={"If-Match": '"1"'},
    )
    assert status == 200
    assert classify(stack, BLIND_BOX)["subcategory"] == "product_info"


# ---------------------------------------------------------------- items


def test_items_get_put_and_delete(stack):
    status, items = api.get("/admin/config/knowledge/items", as_="sup-1")
    assert status == 200 and len(items) == len(runtime_config.default("knowledge")["articles"])
    assert api.get("/admin/config/knowledge/items/invoice-zh", as_=ADMIN)[1]["id"] == "invoice-zh"
    assert api.get("/admin/config/knowledge/items/none", as_=ADMIN)[0] == 404
    assert api.get("/admin/config/routing/items", as_=ADMIN)[0] == 404  # one document, no items

    assert (
        put("/admin/config/knowledge/items/blind-box-odds-zh", {"item": ARTICLE, "reason": "add"}, version=0)[0] == 201
    )
    changed = {**ARTICLE, "title": "盲盒概率说明"}
    status, body = put(
        "/admin/config/knowledge/items/blind-box-odds-zh", {"item": changed, "reason": "title"}, version=1
    )
    assert status == 200 and body["summary"] == ["~ articles blind-box-odds-zh"]
    status, body = put(
        "/admin/config/knowledge/items/blind-box-odds-zh",
        {"item": {**ARTICLE, "id": "other"}, "reason": "x"},
        version=2,
    )
    assert status == 422 and body["error"]["details"][0]["field"] == "item.id"

    status, body = api.call(
        "DELETE",
        "/admin/config/knowledge/items/invoice-zh",
        as_=ADMIN,
        query={"reason": "we no longer issue invoices by ticket"},
        headers={"If-Match": '"2"'},
    )
    assert status == 200 and body["version"] == 3 and body["summary"] == ["- articles invoice-zh"]
    assert api.get("/admin/config/knowledge/items/invoice-zh", as_=ADMIN)[0] == 404
    status, _ = api.call(
        "DELETE",
        "/admin/config/knowledge/items/invoice-zh",
        as_=ADMIN,
        query={"reason": "again"},
        headers={"If-Match": '"3"'},
    )
    assert status == 404


# ---------------------------------------------------------------- export and import


def test_export_and_import_move_configuration_between_stages(stack):
    put(
        "/admin/config/classification",
        {"patch": [{"op": "add", "path": KEYWORD_PATH, "value": 3}], "reason": "keyword"},
        version=0,
        method="PATCH",
    )
    status, exported = api.get("/admin/export", as_=ADMIN)
    assert status == 200 and exported["format"] == "ticketflow-config/1"
    assert set(exported["kinds"]) == set(kinds.kinds()) and exported["versions"]["classification"] == 1
    assert api.get("/admin/export", as_="sup-1")[0] == 403

    # Nothing differs: nothing is written.
    status, result = api.post("/admin/import", {"document": exported, "reason": "same"}, as_=ADMIN)
    assert status == 200 and result == {"changed": {}, "unchanged": sorted(kinds.kinds())}

    # Another stage's document: two kinds differ; both become new versions at once.
    other = copy.deepcopy(exported)
    other["kinds"]["reports"]["backlog_age_days"] = [2, 4]
    other["kinds"]["classification"]["categories"]["presales"]["subcategories"]["pricing"]["phrases"].pop("盲盒")
    status, result = api.post("/admin/import", {"document": other, "reason": "from staging"}, as_=ADMIN)
    assert status == 200 and result["changed"] == {"classification": 2, "reports": 1}
    assert api.get("/admin/config/reports/versions", as_=ADMIN)[1][0]["action"] == "import"

    # A bad kind anywhere: nothing at all is written, and the error names the field.
    bad = copy.deepcopy(exported)
    bad["kinds"]["reports"]["backlog_age_days"] = [9, 9, 9, 9, 9, 9, 9]
    bad["kinds"]["sla"]["policies"][0]["calendar"] = "nowhere"
    status, body = api.post("/admin/import", {"document": bad, "reason": "x"}, as_=ADMIN)
    assert status == 422 and body["error"]["details"][0]["field"].startswith("kinds.")
    assert live_version("reports") == 1 and live_version("sla") == 0

    # Expected versions guard against a concurrent edit on this stage.
    status, body = api.post(
        "/admin/import", {"document": exported, "reason": "x", "expected": {"reports": 0}}, as_=ADMIN
    )
    assert status == 409 and body["error"]["code"] == "stale_version"


def test_import_checks_references_against_the_imported_kinds(stack):
    status, exported = api.get("/admin/export", as_=ADMIN)
    document = copy.deepcopy(exported)
    document["kinds"]["calendars"]["calendars"] = [
        c for c in document["kinds"]["calendars"]["calendars"] if c["id"] != "cn-extended"
    ]
    status, body = api.post("/admin/import", {"document": document, "reason": "x"}, as_=ADMIN)
    assert status == 422  # the live SLA policy "vip" uses cn-extended... but sla is imported too
    assert body["error"]["details"][0]["field"] == "kinds.sla.policies.1.calendar"


def test_the_knowledge_documents_escalation_cues_apply(stack):
    put(
        "/admin/config/classification",
        {"patch": [{"op": "add", "path": KEYWORD_PATH, "value": 3}], "reason": "keyword"},
        version=0,
        method="PATCH",
    )
    put("/admin/config/knowledge/items/blind-box-odds-zh", {"item": ARTICLE, "reason": "FAQ"}, version=0)
    assert classify(stack, BLIND_BOX)["auto_reply"]["article"] == "blind-box-odds-zh"
    status, _ = put(
        "/admin/config/knowledge",
        {"patch": [{"op": "add", "path": "/escalation_cues/-", "value": "隐藏款"}], "reason": "a person answers"},
        version=1,
        method="PATCH",
    )
    assert status == 200
    ticket = classify(stack, BLIND_BOX)
    assert ticket["auto_reply"] is None and "a person replies" in ticket["history"][1]["body"]
