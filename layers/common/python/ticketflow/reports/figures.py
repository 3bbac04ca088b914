"""The KPIs, computed from summed counters (pure: no I/O).

Rates are over the tickets the period resolved (FCR, reopen, transfer) or created
(auto-reply); SLA compliance is met / (met + breached) over the targets decided in the
period; CSAT is the mean of the 1-5 answers and the share of 4s and 5s; NPS is the share
of promoters minus the share of detractors, in points.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from itertools import pairwise
from typing import Any

from ticketflow.reports import histograms

SLA_TARGETS = ("first_response", "next_response", "resolution")
CSAT_DIMENSIONS = ("attitude", "speed", "resolution", "overall")
COUNTS = (
    "created",
    "assigned",
    "replies",
    "auto_replied",
    "transfers",
    "escalated",
    "resolved",
    "reopened",
    "closed",
    "surveys_sent",
)


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(total: int, count: int) -> float | None:
    return round(total / count, 2) if count else None


def kpis(c: Mapping[str, int]) -> dict[str, Any]:
    def n(name: str) -> int:
        return int(c.get(name, 0))

    sla = {}
    for target in SLA_TARGETS:
        met, breached = n(f"sla_{target}_met"), n(f"sla_{target}_breached")
        sla[target] = {"met": met, "breached": breached, "compliance": ratio(met, met + breached)}
    met = sum(n(f"sla_{target}_met") for target in SLA_TARGETS)
    breached = sum(n(f"sla_{target}_breached") for target in SLA_TARGETS)
    sla["all"] = {"met": met, "breached": breached, "compliance": ratio(met, met + breached)}
    return {
        "tickets": {name: n(name) for name in COUNTS},
        "first_response_time": histograms.summary("frt", c),
        "handle_time": histograms.summary("handle", c),
        "resolution_time": histograms.summary("resolution", c),
        "first_contact_resolution": {
            "rate": ratio(n("fcr"), n("resolved_first")),
            "resolved_at_first_contact": n("fcr"),
            "first_resolutions": n("resolved_first"),
        },
        "reopen_rate": ratio(n("reopened"), n("resolved")),
        "auto_reply_rate": ratio(n("auto_replied"), n("created")),
        "transfer_rate": ratio(n("resolved_transferred"), n("resolved")),
        "sla": sla,
        **survey_kpis(c),
    }


def survey_kpis(c: Mapping[str, int]) -> dict[str, Any]:
    def n(name: str) -> int:
        return int(c.get(name, 0))

    answered = n("csat_count")
    dimensions = {}
    for dim in CSAT_DIMENSIONS:
        distribution = {str(s): n(f"csat_{dim}_{s}") for s in range(1, 6)}
        dimensions[dim] = {
            "mean": _mean(n(f"csat_{dim}_sum"), sum(distribution.values())),
            "satisfied_rate": ratio(distribution["4"] + distribution["5"], sum(distribution.values())),
            "distribution": distribution,
        }
    asked = n("nps_count")
    promoters, passives, detractors = n("nps_promoters"), n("nps_passives"), n("nps_detractors")
    return {
        "csat": {
            "answered": answered,
            "response_rate": ratio(answered, n("surveys_sent")),
            "mean": dimensions["overall"]["mean"],
            "dimensions": dimensions,
            "comments": n("csat_comments"),
            "low_scores": n("csat_low"),
        },
        "nps": {
            "answered": asked,
            "score": round(100 * (promoters - detractors) / asked, 1) if asked else None,
            "promoters": promoters,
            "passives": passives,
            "detractors": detractors,
            "distribution": {str(s): n(f"nps_{s}") for s in range(11)},
        },
    }


def backlog(open_by_day: Mapping[date, int], today: date, age_days: list[int]) -> dict[str, Any]:
    """Open tickets now, by age in whole days since creation: [0, a1), [a1, a2), ..., [an, ∞)."""
    bounds = sorted(set(age_days))
    labels = [f"<{bounds[0]}d"] + [f"{lo}-{hi}d" for lo, hi in pairwise(bounds)]
    labels.append(f">={bounds[-1]}d")
    ages = dict.fromkeys(labels, 0)
    for created, count in open_by_day.items():
        age = (today - created).days
        index = sum(1 for b in bounds if age >= b)
        ages[labels[index]] += count
    oldest = min((d for d, n in open_by_day.items() if n > 0), default=None)
    return {
        "open": sum(open_by_day.values()),
        "ages": ages,
        "oldest_created_on": oldest.isoformat() if oldest else None,
    }


def flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested figures as one row: {"sla": {"all": {"met": 3}}} -> {"sla.all.met": 3}."""
    row: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            row |= flat(value, f"{name}.")
        elif not isinstance(value, list):
            row[name] = value
    return row
