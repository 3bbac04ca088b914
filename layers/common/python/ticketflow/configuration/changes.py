"""Changing run-time configuration: every change a new, immutable, attributed version.

Every way of changing a kind (replace the document, patch it, put or delete one item, roll
back, import, approve a proposal) ends in ``commit``: validate the whole new document and its
references to other kinds, then write it as version n+1 only if the live version is still the
one the caller read (``expected``, the ``If-Match`` of the API), so two admins editing at once
never overwrite each other silently: the second gets a 409 and reloads.

Nothing is ever rewritten: a rollback is a new version whose document is an old one's. Version
0 is the defaults shipped in the package, so "roll back to 0" restores them.
"""

from __future__ import annotations

from typing import Any

from ticketflow import clock, runtime_config
from ticketflow.access import Actor
from ticketflow.configuration import kinds, patch
from ticketflow.configuration.kinds import Kind
from ticketflow.directory import Role
from ticketflow.errors import Conflict, Forbidden, NotFound, StaleVersion, ValidationFailed
from ticketflow.observability import logger
from ticketflow.storage import config as config_store
from ticketflow.storage.config import Version

EXPORT_FORMAT = "ticketflow-config/1"


# ---------------------------------------------------------------- who may do what


def require_reader(actor: Actor) -> None:
    if not actor.oversees_all:
        raise Forbidden("configuration is for supervisors and admins")


def require_admin(actor: Actor, what: str = "change configuration") -> None:
    if actor.role is not Role.ADMIN:
        raise Forbidden(f"only an admin may {what}")


def require_editor(actor: Actor, spec: Kind) -> None:
    if actor.role is Role.ADMIN:
        return
    if actor.role in spec.proposers:
        raise Forbidden(
            f"a {actor.role.value} proposes {spec.name} changes for an admin to approve: "
            f"POST /admin/config/{spec.name}/proposals"
        )
    raise Forbidden(f"only an admin may change {spec.name}")


# ---------------------------------------------------------------- reading


def live(kind: str) -> Version:
    """The live version, or version 0: the shipped defaults."""
    kinds.kind(kind)
    found = config_store.current(kind)
    if found is not None:
        return found
    return Version(
        kind=kind, version=0, data=runtime_config.default(kind), action="defaults", reason="shipped with the package"
    )


def at_version(kind: str, version: int) -> Version:
    if version == 0:
        return Version(
            kind=kind,
            version=0,
            data=runtime_config.default(kind),
            action="defaults",
            reason="shipped with the package",
        )
    found = config_store.get_version(kind, version)
    if found is None:
        raise NotFound(f"{kind} has no version {version}")
    return found


def parsed_live(kind: str) -> Any:
    return kinds.validate(kind, live(kind).data)


def overview(actor: Actor) -> list[dict[str, Any]]:
    require_reader(actor)
    views = []
    for spec in kinds.kinds().values():
        current = live(spec.name)
        pending = sum(1 for p in config_store.list_proposals(spec.name) if p["status"] == "pending")
        views.append(
            {
                "kind": spec.name,
                "title": spec.title,
                "version": current.version,
                "updated_at": current.at,
                "updated_by": current.by,
                "reason": current.reason,
                "collection": spec.collection,
                "proposers": sorted(role.value for role in spec.proposers),
                "pending_proposals": pending,
            }
        )
    return views


def items_of(kind: str, data: Any) -> list[dict[str, Any]]:
    spec = kinds.kind(kind)
    if spec.collection is None:
        raise NotFound(f"{kind} is one document with no items: GET /admin/config/{kind}")
    return list(data.get(spec.collection) or [])


def find_item(kind: str, data: Any, item_id: str) -> tuple[int, dict[str, Any]]:
    for index, item in enumerate(items_of(kind, data)):
        if isinstance(item, dict) and item.get("id") == item_id:
            return index, item
    raise NotFound(f"{kind} has no item {item_id!r}")


# ---------------------------------------------------------------- writing


def summary(kind: str, before: Any, after: Any) -> list[str]:
    """A few lines a reviewer can scan: items added, changed, removed; else the paths touched."""
    spec = kinds.kind(kind)
    lines: list[str] = []
    if spec.collection:
        old = {i.get("id"): i for i in before.get(spec.collection) or [] if isinstance(i, dict)}
        new = {i.get("id"): i for i in after.get(spec.collection) or [] if isinstance(i, dict)}
        lines += [f"+ {spec.collection} {i}" for i in new if i not in old]
        lines += [f"~ {spec.collection} {i}" for i in new if i in old and new[i] != old[i]]
        lines += [f"- {spec.collection} {i}" for i in old if i not in new]
        if [i for i in old if i in new] != [i for i in new if i in old]:
            lines.append(f"~ {spec.collection} order")
        before = {k: v for k, v in before.items() if k != spec.collection}
        after = {k: v for k, v in after.items() if k != spec.collection}
    signs = {"add": "+", "remove": "-", "replace": "~"}
    lines += [f"{signs[op['op']]} {op['path']}" for op in patch.diff(before, after)]
    return lines[:20] + ([f"… {len(lines) - 20} more"] if len(lines) > 20 else [])


def commit(
    actor: Actor,
    kind: str,
    data: Any,
    *,
    expected: int,
    reason: str,
    action: str,
    field: str = "data",
    proposal: str | None = None,
    also: list[dict[str, Any]] | None = None,
) -> Version:
    """Validate ``data`` and make it version n+1 of ``kind`` if the live one is ``expected``."""
    current = live(kind)
    if current.version != expected:
        raise _stale(kind, expected, current.version)
    parsed = kinds.validate(kind, data, field=field)
    kinds.check_references(kind, parsed, parsed_live, field=field)
    new = Version(
        kind=kind,
        version=current.version + 1,
        data=data,
        at=clock.iso(clock.now()),
        by=actor.id,
        reason=reason,
        action=action,
        based_on=current.version,
        summary=summary(kind, current.data, data),
        proposal=proposal,
    )
    try:
        config_store.write(new, expected=expected, also=also or [])
    except config_store.StaleVersion:
        raise _stale(kind, expected, live(kind).version) from None
    _went_live(kind, current.data, data)
    logger.info("configuration changed", extra={"kind": kind, "version": new.version, "action": action})
    return new


def _went_live(kind: str, before: Any, after: Any) -> None:
    runtime_config.live(kind).forget()  # this container sees it at once; others within the TTL
    if kind == "agents":  # someone with more room now may find work waiting (imported late: agents → access → here)
        from ticketflow import agents

        agents.after_directory_change(before, after)


def _stale(kind: str, expected: int, current: int) -> StaleVersion:
    return StaleVersion(
        f"{kind} is at version {current}, not {expected}: reload it, reapply your change, and send If-Match: {current}",
        details={"kind": kind, "expected": expected, "current": current},
    )


def replace(actor: Actor, kind: str, data: Any, *, expected: int, reason: str) -> Version:
    require_editor(actor, kinds.kind(kind))
    return commit(actor, kind, data, expected=expected, reason=reason, action="replace")


def apply_patch(actor: Actor, kind: str, operations: list[dict[str, Any]], *, expected: int, reason: str) -> Version:
    require_editor(actor, kinds.kind(kind))
    current = live(kind)
    if current.version != expected:
        raise _stale(kind, expected, current.version)
    try:
        data = patch.apply(current.data, operations)
    except patch.PatchError as error:
        raise ValidationFailed.field(f"patch.{error.index}", str(error).partition(": ")[2]) from None
    return commit(actor, kind, data, expected=expected, reason=reason, action="patch")


def with_item(kind: str, data: Any, item_id: str, item: dict[str, Any] | None) -> tuple[Any, bool]:
    """``data`` with the item ``item_id`` replaced, added (at the end) or, for None, removed;
    and whether it is new."""
    spec = kinds.kind(kind)
    items = items_of(kind, data)
    index = next((i for i, x in enumerate(items) if isinstance(x, dict) and x.get("id") == item_id), None)
    if item is None:
        if index is None:
            raise NotFound(f"{kind} has no item {item_id!r}")
        del items[index]
    elif index is None:
        items.append(item)
    else:
        items[index] = item
    return {**data, spec.collection: items}, index is None


def put_item(
    actor: Actor, kind: str, item_id: str, item: dict[str, Any], *, expected: int, reason: str
) -> tuple[Version, bool]:
    require_editor(actor, kinds.kind(kind))
    if item.get("id", item_id) != item_id:
        raise ValidationFailed.field("item.id", f"must be the id in the path ({item_id!r}) or left out")
    current = live(kind)
    if current.version != expected:
        raise _stale(kind, expected, current.version)
    data, created = with_item(kind, current.data, item_id, {**item, "id": item_id})
    index = find_item(kind, data, item_id)[0]
    try:
        new = commit(actor, kind, data, expected=expected, reason=reason, action="put_item")
    except ValidationFailed as error:
        raise _about_item(error, kinds.kind(kind).collection or "", index) from None
    return new, created


def _about_item(error: ValidationFailed, collection: str, index: int) -> ValidationFailed:
    """Errors about ``data.<collection>.<index>.x`` concern the item sent: call them ``item.x``."""
    prefix = f"data.{collection}.{index}"
    details = []
    for d in error.details or []:
        name = d["field"]
        if name == prefix or name.startswith(prefix + "."):
            name = "item" + name[len(prefix) :]
        details.append({**d, "field": name})
    return ValidationFailed("; ".join(f"{d['field']}: {d['message']}" for d in details[:5]), details=details)


def delete_item(actor: Actor, kind: str, item_id: str, *, expected: int, reason: str) -> Version:
    require_editor(actor, kinds.kind(kind))
    current = live(kind)
    if current.version != expected:
        raise _stale(kind, expected, current.version)
    data, _ = with_item(kind, current.data, item_id, None)
    return commit(actor, kind, data, expected=expected, reason=reason, action="delete_item")


def rollback(actor: Actor, kind: str, to_version: int, *, expected: int, reason: str) -> Version:
    """A new version whose document is ``to_version``'s (history is never rewritten)."""
    require_editor(actor, kinds.kind(kind))
    target = at_version(kind, to_version)
    if to_version >= live(kind).version and to_version != 0:
        raise ValidationFailed.field("version", f"{to_version} is not an earlier version of {kind}")
    return commit(actor, kind, target.data, expected=expected, reason=reason, action=f"rollback to {to_version}")


# ---------------------------------------------------------------- history


def history(actor: Actor, kind: str, *, limit: int, before: int | None) -> list[dict[str, Any]]:
    require_reader(actor)
    kinds.kind(kind)
    found = [v.meta() for v in config_store.list_versions(kind, limit=limit, before=before)]
    if len(found) < limit and (before is None or before > 0):
        found.append(at_version(kind, 0).meta())  # the defaults close every history
    return found


def version(actor: Actor, kind: str, number: int) -> Version:
    require_reader(actor)
    kinds.kind(kind)
    return at_version(kind, number)


def diff(actor: Actor, kind: str, *, from_version: int, to_version: int | None) -> dict[str, Any]:
    require_reader(actor)
    kinds.kind(kind)
    old = at_version(kind, from_version)
    new = live(kind) if to_version is None else at_version(kind, to_version)
    operations = patch.diff(old.data, new.data)
    return {
        "kind": kind,
        "from": old.version,
        "to": new.version,
        "summary": summary(kind, old.data, new.data),
        "operations": operations,
    }


# ---------------------------------------------------------------- moving between stages


def export(actor: Actor) -> dict[str, Any]:
    require_admin(actor, "export the configuration")
    versions = {name: live(name) for name in kinds.kinds()}
    return {
        "format": EXPORT_FORMAT,
        "exported_at": clock.iso(clock.now()),
        "versions": {name: v.version for name, v in versions.items()},
        "kinds": {name: v.data for name, v in versions.items()},
    }


def import_(actor: Actor, document: dict[str, Any], *, reason: str, expected: dict[str, int] | None) -> dict[str, Any]:
    """Every kind in ``document`` that differs from the live one becomes a new version, all in
    one transaction, after every kind validated against the others as imported. ``expected``
    (kind → version) guards against concurrent edits; without it the import is a deliberate
    overwrite (still a new version, and reversible)."""
    require_admin(actor, "import configuration")
    supplied = document.get("kinds")
    if document.get("format") != EXPORT_FORMAT or not isinstance(supplied, dict) or not supplied:
        raise ValidationFailed.field("format", f"expected a {EXPORT_FORMAT} document with kinds")
    unknown = sorted(set(supplied) - set(kinds.kinds()))
    if unknown:
        raise ValidationFailed.field(f"kinds.{unknown[0]}", "no such configuration kind")
    parsed = {name: kinds.validate(name, data, field=f"kinds.{name}") for name, data in supplied.items()}

    def other(name: str) -> Any:
        return parsed[name] if name in parsed else parsed_live(name)

    for name, value in parsed.items():
        kinds.check_references(name, value, other, field=f"kinds.{name}")
    now = clock.iso(clock.now())
    changes: list[tuple[Version, int]] = []
    before: dict[str, Any] = {}
    unchanged: list[str] = []
    for name, data in supplied.items():
        current = live(name)
        want = (expected or {}).get(name, current.version)
        if want != current.version:
            raise _stale(name, want, current.version)
        if data == current.data:
            unchanged.append(name)
            continue
        before[name] = current.data
        changes.append(
            (
                Version(
                    kind=name,
                    version=current.version + 1,
                    data=data,
                    at=now,
                    by=actor.id,
                    reason=reason,
                    action="import",
                    based_on=current.version,
                    summary=summary(name, current.data, data),
                ),
                current.version,
            )
        )
    if changes:
        try:
            config_store.write_many(changes)
        except config_store.StaleVersion:
            raise Conflict("configuration changed during the import: export again and retry") from None
        for new, _ in changes:
            _went_live(new.kind, before[new.kind], new.data)
    return {"changed": {new.kind: new.version for new, _ in changes}, "unchanged": sorted(unchanged)}
