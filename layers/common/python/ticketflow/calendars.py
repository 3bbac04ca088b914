"""Business-hours calendars: when the SLA clock runs.

A calendar is data (``defaults/calendars.json`` or an admin's version): weekly opening periods
in the calendar's own IANA timezone, whole-day holidays, one-off closures and make-up working
days (China's 调休). ``add`` answers "when have N open minutes passed since this moment",
``elapsed`` the inverse, ``explain`` why a due time is where it is.

Semantics, decided here:

* Periods are ``[start, end)`` local wall times, ``"HH:MM"``, end may be ``"24:00"``; a day's
  periods must not overlap (touching is fine). A period cannot run past midnight: split
  22:00–02:00 into 22:00–24:00 and the next day's 00:00–02:00.
* Local wall times are turned into instants with zoneinfo, so a 09:00–17:00 period is 8 real
  hours on a DST day, and a 00:00–24:00 day is 23 or 25 hours. A boundary that falls in a
  skipped hour (02:30 on spring-forward night) is read with the pre-transition offset; one in a
  repeated hour with the first occurrence (``fold=0``).
* A holiday closes the whole local day, whatever the weekly hours say. A make-up working day
  opens with its own ``periods`` or, if none are given, Monday's. A date may not be both.
* Closures are instants (aware datetimes) and cut whatever open time they overlap.
* ``add(start, m)`` returns the earliest instant with ``m`` open minutes since ``start``; landing
  exactly on a period's end returns that end (Friday 18:00, not Monday 09:00), and ``m == 0``
  from a closed moment returns the next opening. All inputs must be aware; outputs are UTC.
* The walk goes one local day at a time (never minute by minute) and gives up with
  ``NoOpenTime`` after ``MAX_CLOSED_DAYS`` consecutive days without open time.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, PrivateAttr, field_validator, model_validator

UTC = dt.UTC
DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[DayName, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_CLOSED_DAYS = 3 * 366  # consecutive days without open time before add() gives up
DAY_MINUTES = 24 * 60


class NoOpenTime(ValueError):
    """The calendar has no open time for longer than ``MAX_CLOSED_DAYS`` days."""


def _minutes(text: str, *, end: bool) -> int:
    hh, sep, mm = text.partition(":")
    if not (sep and len(hh) == 2 and len(mm) == 2 and hh.isdigit() and mm.isdigit()):
        raise ValueError(f"{text!r} is not HH:MM")
    value = int(hh) * 60 + int(mm)
    if int(mm) > 59 or value > DAY_MINUTES or (value == DAY_MINUTES and not end):
        raise ValueError(f"{text!r} is not a time of day" + ("" if end else " (24:00 only as an end)"))
    return value


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _check_period(period: tuple[str, str]) -> tuple[str, str]:
    start, end = _minutes(period[0], end=False), _minutes(period[1], end=True)
    if end <= start:
        raise ValueError(f"end {period[1]} before start {period[0]}")
    return period


def _check_periods(periods: list[tuple[str, str]]) -> list[tuple[str, str]]:
    spans = sorted((_minutes(a, end=False), _minutes(b, end=True), i) for i, (a, b) in enumerate(periods))
    for (_, prev_end, i), (start, _, j) in pairwise(spans):
        if start < prev_end:
            raise ValueError(f"periods {i} and {j} overlap ({'–'.join(periods[i])}, {'–'.join(periods[j])})")
    return periods


Period = Annotated[tuple[str, str], AfterValidator(_check_period)]
Periods = Annotated[list[Period], AfterValidator(_check_periods)]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Holiday(_Data):
    date: dt.date
    name: str


class Closure(_Data):
    start: AwareDatetime
    end: AwareDatetime
    name: str

    @model_validator(mode="after")
    def _ordered(self) -> Closure:
        if self.end <= self.start:
            raise ValueError("end before start")
        return self


class ExtraWorkingDay(_Data):
    date: dt.date
    name: str
    periods: Periods | None = None


def _aware(value: dt.datetime, what: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


Span = tuple[dt.datetime, dt.datetime]


class Calendar(_Data):
    id: str
    name: str
    timezone: str
    weekly: dict[DayName, Periods]
    holidays: list[Holiday] = []
    closures: list[Closure] = []
    extra_working_days: list[ExtraWorkingDay] = []

    _tz: ZoneInfo = PrivateAttr()
    _week: tuple[tuple[tuple[int, int], ...], ...] = PrivateAttr()  # per weekday, minute spans
    _holiday: dict[dt.date, str] = PrivateAttr()
    _extra: dict[dt.date, tuple[str, tuple[tuple[int, int], ...]]] = PrivateAttr()
    _closed: tuple[tuple[dt.datetime, dt.datetime, str], ...] = PrivateAttr()
    _always_open: bool = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _drop_comments(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("_"))}
        return data

    @field_validator("id", "name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Calendar:
        if not any(self.weekly.get(day) for day in DAYS):
            raise ValueError("weekly: no day has an open period (the calendar would never open)")
        seen: dict[dt.date, int] = {}
        for i, holiday in enumerate(self.holidays):
            if holiday.date in seen:
                raise ValueError(f"holidays.{i}: duplicate date {holiday.date} (also holidays.{seen[holiday.date]})")
            seen[holiday.date] = i
        extra_seen: set[dt.date] = set()
        for i, extra in enumerate(self.extra_working_days):
            if extra.date in seen:
                raise ValueError(f"extra_working_days.{i}: {extra.date} is also a holiday")
            if extra.date in extra_seen:
                raise ValueError(f"extra_working_days.{i}: duplicate date {extra.date}")
            extra_seen.add(extra.date)
            if extra.periods is None and not self.weekly.get("mon"):
                raise ValueError(f"extra_working_days.{i}.periods: required, Monday has no periods to copy")
        return self

    def model_post_init(self, context: Any, /) -> None:
        def spans(periods: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
            return tuple(sorted((_minutes(a, end=False), _minutes(b, end=True)) for a, b in periods))

        self._tz = ZoneInfo(self.timezone)
        self._week = tuple(spans(self.weekly.get(day, [])) for day in DAYS)
        self._holiday = {h.date: h.name for h in self.holidays}
        self._extra = {
            e.date: (e.name, spans(e.periods) if e.periods is not None else self._week[0])
            for e in self.extra_working_days
        }
        self._closed = tuple(sorted((c.start.astimezone(UTC), c.end.astimezone(UTC), c.name) for c in self.closures))
        self._always_open = not self._holiday and not self._closed and all(w == ((0, DAY_MINUTES),) for w in self._week)

    # -- the schedule ------------------------------------------------------------------------

    def _instant(self, day: dt.date, minutes: int) -> dt.datetime:
        """Local wall time ``minutes`` after ``day``'s midnight (24:00 = next midnight), in UTC."""
        if minutes == DAY_MINUTES:
            day, minutes = day + dt.timedelta(days=1), 0
        wall = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=self._tz)
        return wall.astimezone(UTC)

    def _local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self._tz).date()

    def _scheduled(self, day: dt.date) -> tuple[tuple[int, int], ...]:
        """The day's periods in local minutes: holiday > make-up day > weekly hours."""
        if day in self._holiday:
            return ()
        if day in self._extra:
            return self._extra[day][1]
        return self._week[day.weekday()]

    def _day_intervals(self, day: dt.date) -> list[Span]:
        """The day's open time as UTC ``[start, end)`` spans, closures cut out."""
        out: list[Span] = []
        for a, b in self._scheduled(day):
            pieces = [(self._instant(day, a), self._instant(day, b))]
            for c_start, c_end, _ in self._closed:
                pieces = [
                    piece
                    for s, e in pieces
                    for piece in ((s, min(e, c_start)), (max(s, c_end), e))
                    if piece[0] < piece[1]
                ]
            out.extend(p for p in pieces if p[0] < p[1])
        return out

    def _walk(self, start: dt.datetime) -> Iterator[Span]:
        """Open spans ending after ``start`` (clipped to it), in order, day by day, forever
        unless ``MAX_CLOSED_DAYS`` pass without any."""
        day = self._local_date(start)
        closed_days = 0
        while True:
            spans = [(max(s, start), e) for s, e in self._day_intervals(day) if e > start]
            if spans:
                closed_days = 0
                yield from spans
            else:
                closed_days += 1
                if closed_days > MAX_CLOSED_DAYS:
                    raise NoOpenTime(f"calendar {self.id!r}: no open time in {MAX_CLOSED_DAYS} days after {day}")
            day += dt.timedelta(days=1)

    # -- the API -----------------------------------------------------------------------------

    def add(self, start: dt.datetime, minutes: float) -> dt.datetime:
        """The UTC instant when ``minutes`` of open time have passed since ``start``."""
        start = _aware(start, "start")
        if not math.isfinite(minutes) or minutes < 0:
            raise ValueError(f"minutes must be a finite number >= 0, got {minutes!r}")
        if self._always_open:
            return start + dt.timedelta(minutes=minutes)
        remaining = dt.timedelta(minutes=minutes)
        for s, e in self._walk(start):
            if remaining <= e - s:
                return s + remaining
            remaining -= e - s
        raise AssertionError("unreachable")  # pragma: no cover - _walk never ends without raising

    def elapsed(self, start: dt.datetime, end: dt.datetime) -> float:
        """Open minutes between ``start`` and ``end`` (0 if ``end <= start``)."""
        start, end = _aware(start, "start"), _aware(end, "end")
        if end <= start:
            return 0.0
        if self._always_open:
            return (end - start) / dt.timedelta(minutes=1)
        total = dt.timedelta()
        day, last = self._local_date(start), self._local_date(end)
        while day <= last:
            for s, e in self._day_intervals(day):
                s, e = max(s, start), min(e, end)
                if s < e:
                    total += e - s
            day += dt.timedelta(days=1)
        return total / dt.timedelta(minutes=1)

    def is_open(self, moment: dt.datetime) -> bool:
        moment = _aware(moment, "moment")
        return any(s <= moment < e for s, e in self._day_intervals(self._local_date(moment)))

    def explain(self, start: dt.datetime, due: dt.datetime) -> list[str]:
        """Short reasons why open time and wall time differ between ``start`` and ``due``:
        closed start, holidays, closed days (weekends), make-up days, closures, breaks, nights."""
        start, due = _aware(start, "start"), _aware(due, "due")
        if due <= start or self._always_open:
            return []
        counts: dict[str, int] = {}

        def note(key: str) -> None:
            counts[key] = counts.get(key, 0) + 1

        def overlaps(a: dt.datetime, b: dt.datetime) -> bool:
            return a < due and b > start

        if not self.is_open(start):
            opening = self.add(start, 0)
            note(f"start {self._local(start)} is outside open hours; next opening {self._local(opening)}")

        first, last = self._local_date(start), self._local_date(due)
        day = first - dt.timedelta(days=1)
        run: tuple[str, dt.date, dt.date] | None = None  # a stretch of closed days: (label, from, to)

        def flush() -> None:
            if run is not None:
                label, a, b = run
                note(f"{label} {a}" if a == b else f"{label} {a} – {b}")

        while day <= last:
            periods = self._scheduled(day)
            day_open = overlaps(self._instant(day, 0), self._instant(day, DAY_MINUTES)) and day >= first
            label = None
            if day in self._holiday:
                label = f"holiday {self._holiday[day]}"
            elif not periods:
                label = "weekend" if day.weekday() >= 5 else "closed all day"
            if label is not None and day_open:
                if run is not None and run[0] == label and run[2] == day - dt.timedelta(days=1):
                    run = (label, run[1], day)
                else:
                    flush()
                    run = (label, day, day)
            elif label is None:
                if day_open:
                    flush()
                    run = None
                    if day in self._extra:
                        note(f"make-up workday {self._extra[day][0]} {day}")
                for (_, a_end), (b_start, _) in pairwise(periods):
                    if a_end < b_start and overlaps(self._instant(day, a_end), self._instant(day, b_start)):
                        note(f"closed {_hhmm(a_end)}–{_hhmm(b_start)} break")
                following = self._scheduled(day + dt.timedelta(days=1))
                if following:
                    night = (
                        self._instant(day, periods[-1][1]),
                        self._instant(day + dt.timedelta(days=1), following[0][0]),
                    )
                    if night[0] < night[1] and overlaps(*night):
                        note(f"closed {_hhmm(periods[-1][1])}–{_hhmm(following[0][0])} overnight")
            day += dt.timedelta(days=1)
        flush()
        for c_start, c_end, name in self._closed:
            if overlaps(c_start, c_end):
                note(f"closure {name} {self._local(c_start)} – {self._local(c_end)}")
        return [key if n == 1 else f"{key} ({n}×)" for key, n in counts.items()]

    def _local(self, moment: dt.datetime) -> str:
        return f"{moment.astimezone(self._tz):%Y-%m-%d %H:%M}"


CALENDAR_TIME = Calendar(
    id="24x7",
    name="Always open (calendar time, UTC)",
    timezone="UTC",
    weekly={day: [("00:00", "24:00")] for day in DAYS},
)


def load_calendars(data: Any) -> dict[str, Calendar]:
    """Calendars by id from a document: a list of calendars, or ``{"calendars": [...]}``."""
    items = data["calendars"] if isinstance(data, dict) else data
    calendars: dict[str, Calendar] = {}
    for item in items:
        calendar = Calendar.model_validate(item)
        if calendar.id in calendars:
            raise ValueError(f"duplicate calendar id {calendar.id!r}")
        calendars[calendar.id] = calendar
    return calendars


@cache
def _defaults() -> tuple[tuple[str, Calendar], ...]:
    text = resources.files("ticketflow").joinpath("defaults/calendars.json").read_text("utf-8")
    return tuple(load_calendars(json.loads(text)).items())


def default_calendars() -> dict[str, Calendar]:
    """The shipped calendars (``defaults/calendars.json``), parsed once per container."""
    return dict(_defaults())
