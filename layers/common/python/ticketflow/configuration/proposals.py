"""Changes that wait for an admin: supervisors propose knowledge-base edits (知识库更新需经主管审核).

A proposal is a set of item changes (articles to put, ids to delete) against the version its
author saw, validated in full when proposed, so the author hears of a bad field at once. An
admin other than the author approves it: the changes are re-applied to the version live *then*,
and go live as a new version in the same transaction that marks the proposal approved (so two
admins approving at once make one version). If someone changed one of the same articles in the
meantime, approving would overwrite that unseen change, so it is a 409 and the author proposes
again; changes to other articles do not get in the way.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ticketflow import clock
from ticketflow.access import Actor
from ticketflow.configuration import changes, kinds
from ticketflow.directory import Role
from ticketflow.errors import Conflict, Forbidden, NotFound, ValidationFailed
from ticketflow.storage import config as config_store

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
ItemId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ProposalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why: shown to the admin who reviews it, and kept in the version.")
    put: list[dict[str, Any]] = Field(default_factory=list, max_length=50, description="Items to add or replace.")
    delete: list[ItemId] = Field(default_factory=list, max_length=50, description="Ids of items to remove.")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = Field(default=None, description="Required to reject; optional to approve.")


class ProposalView(BaseModel):
    id: str
    kind: str
    status: Literal["pending", "approved", "rejected", "withdrawn"]
    by: str
    at: str
    reason: str
    base_version: int
    put: list[dict[str, Any]]
    delete: list[str]
    summary: list[str]
    decided_by: str | None = None
    decided_at: str | None = None
    decision_reason: str | None = None
    version: int | None = Field(default=None, description="The version it became, once approved.")


def _apply(kind: str, data: Any, request: ProposalRequest) -> Any:
    for item in request.put:
        item_id = item.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise ValidationFailed.field("put", "every item needs its id")
        data, _ = changes.with_item(kind, data, item_id, item)
    for item_id in request.delete:
        data, _ = changes.with_item(kind, data, item_id, None)
    return data


def _proposal_errors(error: ValidationFailed, kind: str, data: Any, request: ProposalRequest) -> ValidationFailed:
    """Name the proposal's own field (``put.0.answer``) rather than the document's."""
    collection = kinds.kind(kind).collection or ""
    positions = {
        changes.find_item(kind, data, item["id"])[0]: n for n, item in enumerate(request.put) if item.get("id")
    }
    details = []
    for d in error.details or []:
        name = d["field"]
        head = f"data.{collection}."
        if name.startswith(head):
            index, _, rest = name[len(head) :].partition(".")
            if index.isdigit() and int(index) in positions:
                name = f"put.{positions[int(index)]}" + (f".{rest}" if rest else "")
        details.append({**d, "field": name})
    return ValidationFailed("; ".join(f"{d['field']}: {d['message']}" for d in details[:5]), details=details)


def propose(actor: Actor, kind: str, request: ProposalRequest) -> ProposalView:
    spec = kinds.kind(kind)
    if actor.role not in spec.proposers:
        raise Forbidden(f"{kind} changes are made by an admin; proposals are for {', '.join(sorted(spec.proposers))}")
    if spec.collection is None:
        raise ValidationFailed.field("kind", f"{kind} takes no proposals: an admin changes it directly")
    if not request.put and not request.delete:
        raise ValidationFailed.field("put", "propose at least one item to put or delete")
    base = changes.live(kind)
    data = _apply(kind, base.data, request)
    try:
        parsed = kinds.validate(kind, data)
        kinds.check_references(kind, parsed, changes.parsed_live)
    except ValidationFailed as error:
        raise _proposal_errors(error, kind, data, request) from None
    now = clock.now()
    proposal = ProposalView(
        id=f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}",
        kind=kind,
        status="pending",
        by=actor.id,
        at=clock.iso(now),
        reason=request.reason,
        base_version=base.version,
        put=request.put,
        delete=request.delete,
        summary=changes.summary(kind, base.data, data),
    )
    config_store.put_proposal(kind, proposal.model_dump(exclude_none=True))
    return proposal


def get(actor: Actor, kind: str, proposal_id: str) -> ProposalView:
    changes.require_reader(actor)
    kinds.kind(kind)
    found = config_store.get_proposal(kind, proposal_id)
    if found is None:
        raise NotFound(f"{kind} has no proposal {proposal_id!r}")
    return ProposalView.model_validate(found)


def list_for(actor: Actor, kind: str, status: str | None) -> list[ProposalView]:
    changes.require_reader(actor)
    kinds.kind(kind)
    found = [ProposalView.model_validate(p) for p in config_store.list_proposals(kind)]
    return [p for p in found if status is None or p.status == status]


def approve(actor: Actor, kind: str, proposal_id: str, decision: Decision) -> ProposalView:
    changes.require_admin(actor, "approve a proposal")
    proposal = _pending(actor, kind, proposal_id)
    if proposal.by == actor.id:
        raise Forbidden("someone other than its author must review a proposal")
    base, current = changes.at_version(kind, proposal.base_version), changes.live(kind)
    request = ProposalRequest(reason=proposal.reason, put=proposal.put, delete=proposal.delete)
    touched = [item["id"] for item in proposal.put] + list(proposal.delete)
    moved = [i for i in touched if _item(kind, base.data, i) != _item(kind, current.data, i)]
    if moved:
        raise Conflict(
            f"{', '.join(moved)} changed since the proposal was made (version {proposal.base_version} → "
            f"{current.version}): reject it and propose again on the current version",
            code="proposal_outdated",
            details={"items": moved, "base_version": proposal.base_version, "current": current.version},
        )
    now = clock.iso(clock.now())
    reason = f"{proposal.reason} (proposed by {proposal.by}, approved by {actor.id})"
    if decision.reason:
        reason += f": {decision.reason}"
    marks = {
        "status": "approved",
        "decided_by": actor.id,
        "decided_at": now,
        "version": current.version + 1,
        **({"decision_reason": decision.reason} if decision.reason else {}),
    }
    try:
        new = changes.commit(
            actor,
            kind,
            _apply(kind, current.data, request),
            expected=current.version,
            reason=reason,
            action="approve",
            proposal=proposal.id,
            also=[config_store.decide_item(kind, proposal.id, marks)],
        )
    except config_store.ConditionFailed:
        raise Conflict(f"proposal {proposal_id} was decided meanwhile", code="proposal_decided") from None
    return proposal.model_copy(update={**marks, "version": new.version})


def reject(actor: Actor, kind: str, proposal_id: str, decision: Decision) -> ProposalView:
    """An admin rejects a proposal; its author may withdraw it. A reason is required."""
    proposal = _pending(actor, kind, proposal_id)
    if actor.role is not Role.ADMIN and actor.id != proposal.by:
        raise Forbidden("only an admin, or its author, may turn a proposal down")
    if not decision.reason:
        raise ValidationFailed.field("reason", "say why it is turned down")
    marks = {
        "status": "withdrawn" if actor.id == proposal.by else "rejected",
        "decided_by": actor.id,
        "decided_at": clock.iso(clock.now()),
        "decision_reason": decision.reason,
    }
    if not config_store.decide(kind, proposal.id, marks):
        raise Conflict(f"proposal {proposal_id} was decided meanwhile", code="proposal_decided")
    return proposal.model_copy(update=marks)


def _pending(actor: Actor, kind: str, proposal_id: str) -> ProposalView:
    proposal = get(actor, kind, proposal_id)
    if proposal.status != "pending":
        raise Conflict(f"proposal {proposal_id} is already {proposal.status}", code="proposal_decided")
    return proposal


def _item(kind: str, data: Any, item_id: str) -> Any:
    try:
        return changes.find_item(kind, data, item_id)[1]
    except NotFound:
        return None
