"""The rules the pipeline runs on, as data: the table's live version or the shipped defaults.

Each kind is read at most once per ``TTL_SECONDS`` per container, and whatever is built from
it (a classifier's matchers, the knowledge base's index) is built once per version, so a
change made through the admin API reaches every container within the TTL without a deploy,
and no message pays for building matchers.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from ticketflow.storage import config as config_store

# How long a container trusts what it read; an admin's change reaches every container within it.
TTL_SECONDS = float(os.environ.get("TICKETFLOW_CONFIG_TTL_SECONDS") or 30)
T = TypeVar("T")


@cache
def default(kind: str) -> Any:
    return json.loads(resources.files("ticketflow").joinpath(f"defaults/{kind}.json").read_text("utf-8"))


class _Live:
    """One kind of configuration: the raw document, and objects built from each version."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._lock = threading.Lock()
        self._checked = 0.0
        self._version = 0
        self._data: Any = None
        self._built: dict[tuple[str, int], Any] = {}

    def current(self) -> tuple[int, Any]:
        with self._lock:
            if self._data is None or time.monotonic() - self._checked > TTL_SECONDS:
                found = config_store.get_current(self.kind)
                self._version, self._data = found if found else (0, default(self.kind))
                self._checked = time.monotonic()
            return self._version, self._data

    def forget(self) -> None:
        """Read the table again next time (this container just wrote a new version)."""
        with self._lock:
            self._data = None

    def built(self, name: str, build: Callable[[Any], T]) -> T:
        version, data = self.current()
        key = (name, version)
        if key not in self._built:
            self._built = {k: v for k, v in self._built.items() if k[0] != name}  # drop older versions
            self._built[key] = build(data)
        return self._built[key]


_live: dict[str, _Live] = {}


def live(kind: str) -> _Live:
    if kind not in _live:
        _live[kind] = _Live(kind)
    return _live[kind]


def reset() -> None:
    _live.clear()
