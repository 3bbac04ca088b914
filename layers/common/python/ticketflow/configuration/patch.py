"""JSON Patch (RFC 6902) and JSON Pointer (RFC 6901): apply a patch, and diff two documents.

Written here rather than taken from PyPI because the Lambda layer carries only Powertools and
pydantic; ``tests/unit/test_config_patch.py`` checks both directions against the ``jsonpatch``
library. All six operations are supported; ``diff`` emits add, remove and replace only, with
lists trimmed of their common head and tail, so a reviewer sees the article that was added,
not the whole list again.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any


class PatchError(ValueError):
    """The patch cannot apply; ``index`` is the failing operation's position."""

    def __init__(self, index: int, message: str):
        super().__init__(f"operation {index}: {message}")
        self.index = index


def pointer(path: Sequence[str | int]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _parts(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"{path!r} is not a JSON Pointer (it must start with /)")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list, part: str, *, for_add: bool = False) -> int:
    if for_add and part == "-":
        return len(container)
    if not part.isdigit() or (part != "0" and part.startswith("0")):
        raise ValueError(f"{part!r} is not an array index")
    index = int(part)
    if index > len(container) or (index == len(container) and not for_add):
        raise ValueError(f"index {index} is out of range")
    return index


def _parent(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict):
            if part not in node:
                raise ValueError(f"{pointer(parts)}: no member {part!r}")
            node = node[part]
        elif isinstance(node, list):
            node = node[_index(node, part)]
        else:
            raise ValueError(f"{pointer(parts)}: {part!r} is inside a value that is not an object or array")
    return node


def get(doc: Any, path: str) -> Any:
    parts = _parts(path)
    if not parts:
        return doc
    parent = _parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise ValueError(f"{path}: no such member")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last)]
    raise ValueError(f"{path}: not inside an object or array")


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _parent(doc, parts)
    if isinstance(parent, dict):
        parent[parts[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, parts[-1], for_add=True), value)
    else:
        raise ValueError(f"{pointer(parts)}: not inside an object or array")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise ValueError("the whole document cannot be removed")
    parent = _parent(doc, parts)
    if isinstance(parent, dict):
        if parts[-1] not in parent:
            raise ValueError(f"{pointer(parts)}: no such member")
        return parent.pop(parts[-1])
    if isinstance(parent, list):
        return parent.pop(_index(parent, parts[-1]))
    raise ValueError(f"{pointer(parts)}: not inside an object or array")


def apply(doc: Any, operations: list[dict[str, Any]]) -> Any:
    """A new document with ``operations`` applied in order (the input is not changed)."""
    result = copy.deepcopy(doc)
    for i, operation in enumerate(operations):
        try:
            op, path = operation["op"], _parts(operation["path"])
            if op == "add":
                result = _add(result, path, copy.deepcopy(operation["value"]))
            elif op == "remove":
                _remove(result, path)
            elif op == "replace":
                get(result, operation["path"])  # it must exist
                if path:
                    _remove(result, path)
                result = _add(result, path, copy.deepcopy(operation["value"]))
            elif op in ("move", "copy"):
                source = operation["from"]
                if op == "move" and (operation["path"] + "/").startswith(source + "/") and source != operation["path"]:
                    raise ValueError(f"cannot move {source} into itself")
                value = get(result, source)
                if op == "move":
                    _remove(result, _parts(source))
                result = _add(result, path, copy.deepcopy(value))
            elif op == "test":
                if get(result, operation["path"]) != operation["value"]:
                    raise ValueError(f"{operation['path']}: test failed")
            else:
                raise ValueError(f"unknown op {op!r}")
        except KeyError as missing:
            raise PatchError(i, f"missing {missing.args[0]!r}") from None
        except ValueError as error:
            raise PatchError(i, str(error)) from None
    return result


def diff(before: Any, after: Any, path: list[str | int] | None = None) -> list[dict[str, Any]]:
    """The operations that turn ``before`` into ``after``; each replace and remove also carries
    the value it replaces as ``old`` (ignored by ``apply``, useful to a reviewer)."""
    path = path or []
    if type(before) is not type(after) and not (isinstance(before, int | float) and isinstance(after, int | float)):
        return [{"op": "replace", "path": pointer(path), "value": after, "old": before}]
    if isinstance(before, dict):
        operations: list[dict[str, Any]] = []
        for key in before:
            if key not in after:
                operations.append({"op": "remove", "path": pointer([*path, key]), "old": before[key]})
            else:
                operations += diff(before[key], after[key], [*path, key])
        for key in after:
            if key not in before:
                operations.append({"op": "add", "path": pointer([*path, key]), "value": after[key]})
        return operations
    if isinstance(before, list):
        # Trim what both ends share, so adding one article to a list of a hundred is one "add".
        start = 0
        while start < min(len(before), len(after)) and before[start] == after[start]:
            start += 1
        end_b, end_a = len(before), len(after)
        while end_b > start and end_a > start and before[end_b - 1] == after[end_a - 1]:
            end_b, end_a = end_b - 1, end_a - 1
        middle_b, middle_a = before[start:end_b], after[start:end_a]
        common = min(len(middle_b), len(middle_a))
        operations = [op for i in range(common) for op in diff(middle_b[i], middle_a[i], [*path, start + i])]
        operations += [
            {"op": "add", "path": pointer([*path, start + i]), "value": middle_a[i]}
            for i in range(common, len(middle_a))
        ]
        operations += [
            {"op": "remove", "path": pointer([*path, start + common]), "old": middle_b[i]}
            for i in range(common, len(middle_b))
        ]
        return operations
    if before != after:
        return [{"op": "replace", "path": pointer(path), "value": after, "old": before}]
    return []
