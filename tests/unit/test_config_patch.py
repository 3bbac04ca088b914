"""Our JSON Patch code agrees with the jsonpatch library (RFC 6902) both ways: our diff,
applied by the library, gives the target; the library's patches, applied by us, give what the
library gives."""

from __future__ import annotations

import copy
import random
from typing import Any

import jsonpatch
import pytest

from ticketflow import runtime_config
from ticketflow.configuration import patch


def _mutate(doc: Any, rng: random.Random, depth: int = 0) -> Any:
    """A random variation of a JSON document: values changed, keys added and removed, list items
    inserted, dropped or edited."""
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for key, value in doc.items():
            roll = rng.random()
            if roll < 0.08:
                continue
            out[key] = _mutate(value, rng, depth + 1) if roll < 0.5 else value
        if rng.random() < 0.2:
            out[f"new~/{rng.randint(0, 99)}"] = rng.choice([1, "新", [1, 2], {"a": None}])
        return out
    if isinstance(doc, list):
        items = [(_mutate(v, rng, depth + 1) if rng.random() < 0.3 else v) for v in doc if rng.random() > 0.1]
        if rng.random() < 0.3:
            items.insert(rng.randint(0, len(items)), rng.choice(["x", 7, {"id": "new"}]))
        return items
    if isinstance(doc, bool) or doc is None:
        return rng.choice([True, False, None])
    if isinstance(doc, int | float):
        return doc + rng.choice([0, 1, -1, 0.5])
    return doc + rng.choice(["", "改", "!"])


KINDS = ["classification", "knowledge", "sla", "calendars", "routing", "surveys", "reports"]


@pytest.mark.parametrize("seed", range(40))
def test_our_diff_applied_by_the_library_gives_the_target(seed):
    rng = random.Random(seed)
    before = runtime_config.default(KINDS[seed % len(KINDS)])
    after = _mutate(before, rng)
    operations = patch.diff(before, after)
    assert jsonpatch.apply_patch(before, [{k: v for k, v in op.items() if k != "old"} for op in operations]) == after
    assert patch.apply(before, operations) == after
    if before != after:
        assert operations


@pytest.mark.parametrize("seed", range(40))
def test_the_librarys_patches_applied_by_us_give_the_same(seed):
    rng = random.Random(1000 + seed)
    before = runtime_config.default(KINDS[seed % len(KINDS)])
    after = _mutate(before, rng)
    operations = jsonpatch.make_patch(before, after).patch  # includes move and copy
    assert patch.apply(before, operations) == jsonpatch.apply_patch(before, operations) == after


def test_diff_of_one_added_list_item_is_one_add():
    before = runtime_config.default("knowledge")
    after = copy.deepcopy(before)
    after["articles"].insert(3, {"id": "new"})
    assert patch.diff(before, after) == [{"op": "add", "path": "/articles/3", "value": {"id": "new"}}]


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        ({"op": "remove", "path": "/nope"}, "no such member"),
        ({"op": "add", "path": "/a/5", "value": 1}, "out of range"),
        ({"op": "replace", "path": "nope", "value": 1}, "JSON Pointer"),
        ({"op": "test", "path": "/b", "value": 2}, "test failed"),
        ({"op": "move", "from": "/c", "path": "/c/d"}, "into itself"),
        ({"op": "frobnicate", "path": "/b"}, "unknown op"),
        ({"op": "add", "path": "/b"}, "missing 'value'"),
    ],
)
def test_a_patch_that_cannot_apply_names_the_operation(operation, message):
    doc = {"a": [1, 2], "b": 1, "c": {"d": 1}}
    with pytest.raises(patch.PatchError, match=message) as raised:
        patch.apply(doc, [{"op": "test", "path": "/b", "value": 1}, operation])
    assert raised.value.index == 1
    assert doc == {"a": [1, 2], "b": 1, "c": {"d": 1}}  # never changed in place
