"""Durations as histograms with fixed buckets, so percentiles can be read from counters.

A duration adds 1 to the bucket it falls in (``<name>_le_<upper bound in seconds>``) and its
seconds to ``<name>_sum``, and 1 to ``<name>_count``. The bounds never change: a new bound
would split history. p50/p90 are interpolated inside the bucket that holds them, so they are
exact to within that bucket's width (reported as such); the mean is exact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

# 10 s, 30 s, 1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, 8 h, 1 d, 2 d, 4 d, 7 d, then longer.
BOUNDS: tuple[float, ...] = (
    *(10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800),
    *(86400, 172800, 345600, 604800, math.inf),
)


def _label(bound: float) -> str:
    return "inf" if math.isinf(bound) else str(int(bound))


def observe(name: str, seconds: float) -> dict[str, int]:
    """The counters one duration adds."""
    seconds = max(0, round(seconds))
    bound = next(b for b in BOUNDS if seconds <= b)
    return {f"{name}_count": 1, f"{name}_sum": seconds, f"{name}_le_{_label(bound)}": 1}


def buckets(name: str, counters: Mapping[str, int]) -> list[tuple[float, int]]:
    """(upper bound, count) for every bucket, in order."""
    return [(bound, int(counters.get(f"{name}_le_{_label(bound)}", 0))) for bound in BOUNDS]


def percentile(name: str, counters: Mapping[str, int], q: float) -> float | None:
    """The q-quantile (0 < q < 1) in seconds, interpolated linearly inside its bucket; for the
    open-ended last bucket, its lower bound. None without observations."""
    counts = buckets(name, counters)
    total = sum(n for _, n in counts)
    if total == 0:
        return None
    rank, seen, lower = q * total, 0, 0.0
    for bound, n in counts:
        if n and seen + n >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - seen) / n
        seen += n
        lower = bound
    return lower  # pragma: no cover - the loop always reaches the rank


def summary(name: str, counters: Mapping[str, int]) -> dict[str, float | int | None]:
    """count, mean, p50 and p90 in seconds (None where there is nothing to measure)."""
    count = int(counters.get(f"{name}_count", 0))
    mean = counters.get(f"{name}_sum", 0) / count if count else None
    return {
        "count": count,
        "mean_s": _round(mean),
        "p50_s": _round(percentile(name, counters, 0.5)),
        "p90_s": _round(percentile(name, counters, 0.9)),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
