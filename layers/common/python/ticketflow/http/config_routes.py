"""/admin/config/…: run-time configuration, versioned (admins change it; supervisors read it
and propose knowledge-base changes).

Every write names the version it was made on in ``If-Match`` (the ``ETag`` of a read): a
stale one is a 409 ``stale_version``, a missing one a 428, so nobody overwrites a change they
have not seen. Every write carries a ``reason``, kept with the version.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import Router
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ticketflow.access import Actor
from ticketflow.configuration import changes, kinds, proposals
from ticketflow.errors import PreconditionRequired, ValidationFailed
from ticketflow.http.app import PERSON
from ticketflow.http.identity import current_actor
from ticketflow.storage.config import Version

router = Router()
TAGS = ["admin"]

Kind = Annotated[
    str,
    Path(
        description="classification, knowledge, routing, sla, calendars, surveys, notifications, reports, teams, agents"
    ),
]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description='The version the change was made on: the ETag of a read, e.g. "3"'),
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class VersionView(BaseModel):
    kind: str
    version: int = Field(description="0: the defaults shipped in the package")
    data: Any = None
    at: str | None = None
    by: str | None = None
    reason: str | None = None
    action: str | None = Field(default=None, description="replace, patch, put_item, delete_item, rollback to N, ...")
    based_on: int | None = None
    summary: list[str] = Field(default_factory=list, description="What changed: + added, ~ changed, - removed")
    proposal: str | None = Field(default=None, description="The approved proposal it came from")


class KindView(BaseModel):
    kind: str
    title: str
    version: int
    updated_at: str | None
    updated_by: str | None
    reason: str | None
    collection: str | None = Field(description="The document's list of items with ids, if it has one")
    proposers: list[str]
    pending_proposals: int


class Replacement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any] = Field(description="The whole new document")
    reason: Reason


class Patch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patch: list[dict[str, Any]] = Field(min_length=1, max_length=500, description="JSON Patch (RFC 6902) operations")
    reason: Reason


class ItemPut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: dict[str, Any]
    reason: Reason


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, description="The earlier version whose document becomes live again (0: defaults)")
    reason: Reason


class Diff(BaseModel):
    kind: str
    from_: int = Field(alias="from")
    to: int
    summary: list[str]
    operations: list[dict[str, Any]] = Field(description="JSON Patch from one to the other; `old`: the value before")


def expected_version(if_match: str | None) -> int:
    if if_match is None:
        raise PreconditionRequired(
            "If-Match: send the version this change was made on (the ETag of GET /admin/config/{kind})",
            details=[{"field": "If-Match", "message": "required"}],
        )
    found = re.fullmatch(r'\s*(?:W/)?"?(\d{1,9})"?\s*', if_match)
    if not found:
        raise ValidationFailed.field("If-Match", 'a version number such as "3"')
    return int(found.group(1))


def _editor(kind: str) -> Actor:
    """The caller, if they may change ``kind``: checked before If-Match is read, so that someone
    who may not write hears 403 rather than how to write."""
    actor = current_actor(router)
    changes.require_editor(actor, kinds.kind(kind))
    return actor


def _view(version: Version, *, with_data: bool = True) -> VersionView:
    meta = version.meta()
    return VersionView(**meta, data=version.data if with_data else None)


def _tagged(body: Any, version: int, *, status: int = 200) -> Response:
    """``body`` with the kind's version as its ETag (what a write sends back in If-Match)."""
    return Response(status_code=status, content_type="application/json", body=body, headers={"ETag": f'"{version}"'})


def _versioned(version: Version, *, status: int = 200) -> Response:
    return _tagged(_view(version), version.version, status=status)


@router.get(
    "/admin/config", summary="Every kind of run-time configuration, its live version", security=PERSON, tags=TAGS
)
def overview() -> list[KindView]:
    return [KindView(**view) for view in changes.overview(current_actor(router))]


@router.get(
    "/admin/config/<kind>", summary="The live document of a kind (ETag: its version)", security=PERSON, tags=TAGS
)
def read(kind: Kind) -> Response[VersionView]:
    changes.require_reader(current_actor(router))
    return _versioned(changes.live(kind))


@router.put(
    "/admin/config/<kind>",
    summary="Replace a kind's document (admin)",
    description="Validated in full, references to other kinds included; becomes the next version.",
    security=PERSON,
    tags=TAGS,
)
def replace(kind: Kind, body: Annotated[Replacement, Body()], if_match: IfMatch = None) -> Response[VersionView]:
    actor = _editor(kind)
    return _versioned(changes.replace(actor, kind, body.data, expected=expected_version(if_match), reason=body.reason))


@router.patch(
    "/admin/config/<kind>",
    summary="Change part of a kind's document with JSON Patch (admin)",
    description='E.g. a keyword: `{"op": "add", "path": "/categories/order_support/subcategories/logistics/'
    'phrases/到哪了", "value": 3}`.',
    security=PERSON,
    tags=TAGS,
)
def patch(kind: Kind, body: Annotated[Patch, Body()], if_match: IfMatch = None) -> Response[VersionView]:
    actor = _editor(kind)
    return _versioned(
        changes.apply_patch(actor, kind, body.patch, expected=expected_version(if_match), reason=body.reason)
    )


@router.get("/admin/config/<kind>/items", summary="The items of a kind with a collection", security=PERSON, tags=TAGS)
def list_items(kind: Kind) -> Response[list[dict[str, Any]]]:
    changes.require_reader(current_actor(router))
    current = changes.live(kind)
    return _tagged(changes.items_of(kind, current.data), current.version)


@router.get(
    "/admin/config/<kind>/items/<item_id>",
    summary="One item (an article, a policy, a calendar)",
    security=PERSON,
    tags=TAGS,
)
def get_item(kind: Kind, item_id: str) -> Response[dict[str, Any]]:
    changes.require_reader(current_actor(router))
    current = changes.live(kind)
    return _tagged(changes.find_item(kind, current.data, item_id)[1], current.version)


@router.put(
    "/admin/config/<kind>/items/<item_id>",
    summary="Create or replace one item (admin)",
    description="201 when the item is new (appended), 200 when it replaced one. The kind's version goes up.",
    security=PERSON,
    tags=TAGS,
)
def put_item(
    kind: Kind, item_id: str, body: Annotated[ItemPut, Body()], if_match: IfMatch = None
) -> Response[VersionView]:
    actor = _editor(kind)
    new, created = changes.put_item(
        actor, kind, item_id, body.item, expected=expected_version(if_match), reason=body.reason
    )
    return _versioned(new, status=201 if created else 200)


@router.delete("/admin/config/<kind>/items/<item_id>", summary="Remove one item (admin)", security=PERSON, tags=TAGS)
def delete_item(
    kind: Kind,
    item_id: str,
    reason: Annotated[str, Query(min_length=1, max_length=500, description="Why")],
    if_match: IfMatch = None,
) -> Response[VersionView]:
    actor = _editor(kind)
    return _versioned(
        changes.delete_item(actor, kind, item_id, expected=expected_version(if_match), reason=reason.strip())
    )


@router.get(
    "/admin/config/<kind>/versions",
    summary="A kind's versions, newest first (who, when, why)",
    security=PERSON,
    tags=TAGS,
)
def versions(
    kind: Kind,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[int | None, Query(ge=1, description="Versions older than this one (the next page)")] = None,
) -> list[VersionView]:
    found = changes.history(current_actor(router), kind, limit=limit, before=before)
    return [VersionView(**meta) for meta in found]


@router.get(
    "/admin/config/<kind>/versions/<version>", summary="One version with its document", security=PERSON, tags=TAGS
)
def one_version(kind: Kind, version: Annotated[int, Path(ge=0)]) -> VersionView:
    return _view(changes.version(current_actor(router), kind, version))


@router.get(
    "/admin/config/<kind>/diff",
    summary="What changed between two versions (JSON Patch and a summary)",
    security=PERSON,
    tags=TAGS,
)
def diff(
    kind: Kind,
    from_version: Annotated[int, Query(alias="from", ge=0)],
    to: Annotated[int | None, Query(ge=0, description="Default: the live version")] = None,
) -> Diff:
    found = changes.diff(current_actor(router), kind, from_version=from_version, to_version=to)
    return Diff.model_validate(found)


@router.post(
    "/admin/config/<kind>/rollback",
    summary="Make an earlier version's document live again, as a new version (admin)",
    security=PERSON,
    tags=TAGS,
)
def rollback(kind: Kind, body: Annotated[Rollback, Body()], if_match: IfMatch = None) -> Response[VersionView]:
    actor = _editor(kind)
    return _versioned(
        changes.rollback(actor, kind, body.version, expected=expected_version(if_match), reason=body.reason)
    )


# ---------------------------------------------------------------- proposals


@router.get("/admin/config/<kind>/proposals", summary="Proposed changes, newest first", security=PERSON, tags=TAGS)
def list_proposals(
    kind: Kind, status: Annotated[Literal["pending", "approved", "rejected", "withdrawn"] | None, Query()] = None
) -> list[proposals.ProposalView]:
    return proposals.list_for(current_actor(router), kind, status)


@router.post(
    "/admin/config/<kind>/proposals",
    summary="Propose item changes for an admin to approve (supervisors: the knowledge base)",
    responses={201: {"description": "Validated and waiting for an admin"}},
    security=PERSON,
    tags=TAGS,
)
def propose(kind: Kind, body: Annotated[proposals.ProposalRequest, Body()]) -> Response[proposals.ProposalView]:
    proposal = proposals.propose(current_actor(router), kind, body)
    return Response(
        status_code=201,
        content_type="application/json",
        body=proposal,
        headers={"Location": f"/admin/config/{kind}/proposals/{proposal.id}"},
    )


@router.get("/admin/config/<kind>/proposals/<proposal_id>", summary="One proposal", security=PERSON, tags=TAGS)
def get_proposal(kind: Kind, proposal_id: str) -> proposals.ProposalView:
    return proposals.get(current_actor(router), kind, proposal_id)


@router.post(
    "/admin/config/<kind>/proposals/<proposal_id>/approve",
    summary="Approve a proposal: it goes live as a new version (an admin who is not its author)",
    security=PERSON,
    tags=TAGS,
)
def approve(kind: Kind, proposal_id: str, body: Annotated[proposals.Decision, Body()]) -> proposals.ProposalView:
    return proposals.approve(current_actor(router), kind, proposal_id, body)


@router.post(
    "/admin/config/<kind>/proposals/<proposal_id>/reject",
    summary="Reject a proposal (admin), or withdraw it (its author); a reason is required",
    security=PERSON,
    tags=TAGS,
)
def reject(kind: Kind, proposal_id: str, body: Annotated[proposals.Decision, Body()]) -> proposals.ProposalView:
    return proposals.reject(current_actor(router), kind, proposal_id, body)


# ---------------------------------------------------------------- moving between stages


class ExportDocument(BaseModel):
    format: str = Field(description=changes.EXPORT_FORMAT)
    exported_at: str | None = None
    versions: dict[str, int] = Field(default_factory=dict, description="The versions exported (informational)")
    kinds: dict[str, dict[str, Any]]


class ImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: ExportDocument
    reason: Reason
    expected: dict[str, int] | None = Field(
        default=None, description="Kind → the version you expect live here; a mismatch is a 409"
    )


class ImportResult(BaseModel):
    changed: dict[str, int] = Field(description="Kind → its new version")
    unchanged: list[str]


@router.get("/admin/export", summary="The whole configuration as one document (admin)", security=PERSON, tags=TAGS)
def export() -> ExportDocument:
    return ExportDocument.model_validate(changes.export(current_actor(router)))


@router.post(
    "/admin/import",
    summary="Apply an exported document: every kind that differs becomes a new version, all or nothing (admin)",
    security=PERSON,
    tags=TAGS,
)
def import_document(body: Annotated[ImportRequest, Body()]) -> ImportResult:
    result = changes.import_(
        current_actor(router), body.document.model_dump(), reason=body.reason, expected=body.expected
    )
    return ImportResult.model_validate(result)
