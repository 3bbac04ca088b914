"""Business-hours calendars: add / elapsed / explain / is_open, DST, validation, defaults."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from ticketflow.calendars import CALENDAR_TIME, Calendar, NoOpenTime, default_calendars

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
ALL_DAYS = (*WEEKDAYS, "sat", "sun")
LUNCH = [["09:00", "12:00"], ["13:00", "18:00"]]


def cn(**overrides) -> Calendar:
    data = {
        "id": "cn-test",
        "name": "China test",
        "timezone": "Asia/Shanghai",
        "weekly": {day: LUNCH for day in WEEKDAYS},
        "holidays": [{"date": f"2026-10-0{d}", "name": "国庆节"} for d in range(1, 8)],
        "extra_working_days": [{"date": "2026-10-10", "name": "国庆节调休"}],
    }
    return Calendar.model_validate(data | overrides)


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def local(moment: datetime, tz: ZoneInfo = SH) -> datetime:
    assert moment.tzinfo is UTC
    return moment.astimezone(tz).replace(tzinfo=None)


# -- add --------------------------------------------------------------------------------------


def test_friday_evening_ticket_is_due_monday():
    cal = cn()
    friday = sh(2026, 11, 27, 17, 30)
    # 30 min Friday + 09:00–12:00 Monday = 3.5 h; the 4th hour ends after lunch.
    assert local(cal.add(friday, 240)) == datetime(2026, 11, 30, 13, 30)
    assert local(cal.add(friday, 180)) == datetime(2026, 11, 30, 11, 30)


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        ((2026, 11, 23, 11, 0), 120, (2026, 11, 23, 14, 0)),  # across lunch
        ((2026, 11, 23, 17, 0), 120, (2026, 11, 24, 10, 0)),  # overnight
        ((2026, 11, 23, 7, 0), 60, (2026, 11, 23, 10, 0)),  # before opening
        ((2026, 11, 23, 12, 30), 30, (2026, 11, 23, 13, 30)),  # during lunch
        ((2026, 11, 23, 20, 0), 30, (2026, 11, 24, 9, 30)),  # after closing
        ((2026, 11, 28, 10, 0), 60, (2026, 11, 30, 10, 0)),  # Saturday
        ((2026, 11, 23, 17, 0), 60, (2026, 11, 23, 18, 0)),  # exactly to closing: that evening, not next morning
        ((2026, 9, 30, 17, 0), 120, (2026, 10, 8, 10, 0)),  # over the National Day holiday
        ((2026, 10, 9, 17, 0), 120, (2026, 10, 10, 10, 0)),  # into a make-up Saturday (Monday's hours)
        ((2026, 10, 10, 11, 30), 60, (2026, 10, 10, 13, 30)),  # make-up day keeps the lunch break
    ],
)
def test_add(start, minutes, due):
    assert local(cn().add(sh(*start), minutes)) == datetime(*due)


def test_zero_minutes():
    cal = cn()
    inside = sh(2026, 11, 23, 10, 15)
    assert cal.add(inside, 0) == inside
    assert local(cal.add(sh(2026, 11, 28, 10, 0), 0)) == datetime(2026, 11, 30, 9, 0)  # Saturday: next opening
    assert local(cal.add(sh(2026, 11, 23, 12, 0), 0)) == datetime(2026, 11, 23, 13, 0)  # lunch starts at 12:00
    assert local(cal.add(sh(2026, 11, 23, 18, 0), 0)) == datetime(2026, 11, 24, 9, 0)  # closing time is closed


def test_closure_cuts_open_time():
    cal = cn(
        closures=[{"start": "2026-11-23T10:00:00+08:00", "end": "2026-11-23T15:00:00+08:00", "name": "system outage"}]
    )
    assert local(cal.add(sh(2026, 11, 23, 9, 0), 120)) == datetime(2026, 11, 23, 16, 0)
    assert cal.elapsed(sh(2026, 11, 23, 0, 0), sh(2026, 11, 24, 0, 0)) == 60 + 180
    assert not cal.is_open(sh(2026, 11, 23, 14, 0))


def test_output_is_utc_and_input_zone_does_not_matter():
    cal = cn()
    start = sh(2026, 11, 23, 11, 0)
    due = cal.add(start, 120)
    assert due.tzinfo is UTC
    assert cal.add(start.astimezone(NY), 120) == due == cal.add(start.astimezone(UTC), 120)


def test_naive_datetimes_and_bad_minutes_are_rejected():
    cal = cn()
    naive = datetime(2026, 11, 23, 10, 0)
    aware = sh(2026, 11, 23, 10, 0)
    for call in (
        lambda: cal.add(naive, 10),
        lambda: cal.elapsed(naive, aware),
        lambda: cal.elapsed(aware, naive),
        lambda: cal.is_open(naive),
        lambda: cal.explain(aware, naive),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()
    for minutes in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="minutes"):
            cal.add(aware, minutes)


# -- elapsed ----------------------------------------------------------------------------------


def test_elapsed():
    cal = cn()
    assert cal.elapsed(sh(2026, 11, 27, 17, 30), sh(2026, 11, 30, 13, 30)) == 240
    assert cal.elapsed(sh(2026, 11, 23, 0, 0), sh(2026, 11, 30, 0, 0)) == 5 * 480  # one week
    assert cal.elapsed(sh(2026, 9, 28, 0, 0), sh(2026, 10, 12, 0, 0)) == 6 * 480  # 28–30 Sep, 8–9 Oct, 10 Oct (make-up)
    assert cal.elapsed(sh(2026, 11, 24), sh(2026, 11, 23)) == 0
    assert cal.elapsed(sh(2026, 11, 23, 10), sh(2026, 11, 23, 10)) == 0


def ny_calendar(**overrides) -> Calendar:
    data = {
        "id": "us",
        "name": "US desk",
        "timezone": "America/New_York",
        "weekly": {day: [["09:00", "17:00"]] for day in ALL_DAYS},
        "holidays": [{"date": "2026-07-04", "name": "Independence Day"}],
        "closures": [{"start": "2026-03-09T13:00:00-04:00", "end": "2026-03-10T10:30:00-04:00", "name": "offsite"}],
    }
    return Calendar.model_validate(data | overrides)


@pytest.mark.parametrize("calendar", [cn(), ny_calendar(), CALENDAR_TIME], ids=["cn", "ny", "24x7"])
def test_elapsed_is_the_inverse_of_add(calendar):
    rng = random.Random(20260301)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(300):
        start = base + timedelta(minutes=rng.uniform(0, 365 * 24 * 60))
        minutes = rng.choice([0, rng.uniform(0, 60), rng.uniform(0, 5000), float(rng.randrange(0, 3000, 30))])
        due = calendar.add(start, minutes)
        assert due >= start
        assert calendar.elapsed(start, due) == pytest.approx(minutes, abs=1e-6)
        if minutes > 0:
            assert calendar.is_open(due - timedelta(microseconds=1))
        # and the other way round: the earliest moment with as much open time as [start, end]
        end = start + timedelta(minutes=rng.uniform(0, 20000))
        worked = calendar.elapsed(start, end)
        back = calendar.add(start, worked)
        if worked > 0:  # (0 minutes from a closed moment is the next opening, which may be after `end`)
            assert back <= end
        assert calendar.elapsed(back, end) == pytest.approx(0, abs=1e-6)


# -- DST --------------------------------------------------------------------------------------


def test_dst_day_still_has_eight_business_hours():
    cal = ny_calendar()
    assert cal.elapsed(datetime(2026, 3, 8, tzinfo=NY), datetime(2026, 3, 9, tzinfo=NY)) == 480  # spring forward
    assert cal.elapsed(datetime(2026, 11, 1, tzinfo=NY), datetime(2026, 11, 2, tzinfo=NY)) == 480  # fall back
    berlin = ny_calendar(timezone="Europe/Berlin", closures=[], holidays=[])
    assert berlin.elapsed(datetime(2026, 3, 29, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN)) == 480
    assert berlin.elapsed(datetime(2026, 10, 25, tzinfo=BERLIN), datetime(2026, 10, 26, tzinfo=BERLIN)) == 480


def test_add_across_dst_lands_on_the_right_wall_time():
    cal = ny_calendar()
    spring = cal.add(datetime(2026, 3, 7, 16, 0, tzinfo=NY), 120)
    assert local(spring, NY) == datetime(2026, 3, 8, 10, 0)
    assert spring == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # EDT, UTC-4
    fall = cal.add(datetime(2026, 10, 31, 16, 0, tzinfo=NY), 120)
    assert local(fall, NY) == datetime(2026, 11, 1, 10, 0)
    assert fall == datetime(2026, 11, 1, 15, 0, tzinfo=UTC)  # EST, UTC-5


def test_round_the_clock_calendar_counts_real_time_over_dst():
    always = {day: [["00:00", "24:00"]] for day in ALL_DAYS}
    far = [{"start": "1990-01-01T00:00:00Z", "end": "1990-01-02T00:00:00Z", "name": "long ago"}]
    berlin = ny_calendar(timezone="Europe/Berlin", weekly=always, holidays=[], closures=far)
    spring = datetime(2026, 3, 29, tzinfo=BERLIN)
    assert berlin.elapsed(spring, spring + timedelta(days=1)) == 23 * 60
    fall = datetime(2026, 10, 25, tzinfo=BERLIN)
    assert berlin.elapsed(fall, fall + timedelta(days=1)) == 25 * 60
    # 01:30 CET + 1 h = 03:30 CEST: the wall clock skips 02:xx
    due = berlin.add(datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN), 60)
    assert local(due, BERLIN) == datetime(2026, 3, 29, 3, 30)


def test_24x7_equals_plain_timedelta():
    always = {day: [["00:00", "24:00"]] for day in ALL_DAYS}
    far = [{"start": "1990-01-01T00:00:00Z", "end": "1990-01-02T00:00:00Z", "name": "long ago"}]
    walked = ny_calendar(timezone="Europe/Berlin", weekly=always, holidays=[], closures=far)  # no fast path
    rng = random.Random(7)
    for _ in range(200):
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 365 * 86400))
        minutes = rng.uniform(0, 10 * 24 * 60)
        expected = start + timedelta(minutes=minutes)
        for cal in (CALENDAR_TIME, walked):
            assert cal.add(start, minutes) == expected
            assert cal.elapsed(start, expected) == pytest.approx(minutes, abs=1e-6)
            assert cal.is_open(start)
    assert CALENDAR_TIME.explain(start, expected) == []


# -- is_open ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ((2026, 11, 23, 9, 0), True),
        ((2026, 11, 23, 8, 59), False),
        ((2026, 11, 23, 11, 59), True),
        ((2026, 11, 23, 12, 0), False),  # lunch
        ((2026, 11, 23, 17, 59), True),
        ((2026, 11, 23, 18, 0), False),
        ((2026, 11, 28, 10, 0), False),  # Saturday
        ((2026, 10, 1, 10, 0), False),  # holiday on a Thursday
        ((2026, 10, 10, 10, 0), True),  # make-up Saturday
    ],
)
def test_is_open(moment, expected):
    assert cn().is_open(sh(*moment)) is expected


# -- explain ----------------------------------------------------------------------------------


def test_explain_weekend():
    cal = cn()
    start = sh(2026, 11, 27, 17, 30)
    assert cal.explain(start, cal.add(start, 240)) == ["weekend 2026-11-28 – 2026-11-29", "closed 12:00–13:00 break"]


def test_explain_holiday_make_up_day_nights_and_breaks():
    cal = cn(closures=[{"start": "2026-10-12T14:00:00+08:00", "end": "2026-10-12T16:00:00+08:00", "name": "年会"}])
    start = sh(2026, 9, 30, 10, 0)
    reasons = cal.explain(start, cal.add(start, 48 * 60))
    assert "holiday 国庆节 2026-10-01 – 2026-10-07" in reasons
    assert "make-up workday 国庆节调休 2026-10-10" in reasons
    assert "weekend 2026-10-11" in reasons
    assert "closure 年会 2026-10-12 14:00 – 2026-10-12 16:00" in reasons
    assert any(r.startswith("closed 18:00–09:00 overnight (") for r in reasons)
    assert any(r.startswith("closed 12:00–13:00 break (") for r in reasons)
    assert len(reasons) == len(set(reasons)) <= 8


def test_explain_closed_start_and_nothing_to_explain():
    cal = cn()
    start = sh(2026, 11, 23, 7, 0)
    assert cal.explain(start, cal.add(start, 60)) == [
        "start 2026-11-23 07:00 is outside open hours; next opening 2026-11-23 09:00"
    ]
    assert cal.explain(sh(2026, 11, 23, 9, 0), sh(2026, 11, 23, 11, 0)) == []
    assert cal.explain(sh(2026, 11, 23, 11, 0), sh(2026, 11, 23, 10, 0)) == []


# -- validation -------------------------------------------------------------------------------


def base_data(**overrides):
    return {"id": "x", "name": "X", "timezone": "UTC", "weekly": {"mon": [["09:00", "17:00"]]}} | overrides


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"weekly": {"mon": [["17:00", "09:00"]]}}, ["weekly.mon.0", "end 09:00 before start 17:00"]),
        ({"weekly": {"mon": [["09:00", "09:00"]]}}, ["weekly.mon.0"]),
        ({"weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, ["weekly.mon", "overlap"]),
        ({"weekly": {"mon": [["9:00", "12:00"]]}}, ["weekly.mon.0", "HH:MM"]),
        ({"weekly": {"mon": [["09:00", "24:30"]]}}, ["weekly.mon.0"]),
        ({"weekly": {"mon": [["24:00", "24:00"]]}}, ["weekly.mon.0", "24:00 only as an end"]),
        ({"weekly": {"funday": [["09:00", "12:00"]]}}, ["weekly.funday"]),
        ({"weekly": {}}, ["weekly", "no day has an open period"]),
        ({"weekly": {"mon": [], "tue": []}}, ["weekly", "no day has an open period"]),
        ({"timezone": "Mars/Olympus_Mons"}, ["timezone", "unknown timezone"]),
        ({"timezone": "../etc/passwd"}, ["timezone", "unknown timezone"]),
        ({"id": " "}, ["id"]),
        ({"holidays": [{"date": "2026-13-01", "name": "?"}]}, ["holidays.0.date"]),
        (
            {"holidays": [{"date": "2026-10-01", "name": "a"}, {"date": "2026-10-01", "name": "b"}]},
            ["holidays.1: duplicate date"],
        ),
        (
            {"closures": [{"start": "2026-10-02T00:00:00Z", "end": "2026-10-01T00:00:00Z", "name": "c"}]},
            ["closures.0", "end before start"],
        ),
        (
            {"closures": [{"start": "2026-10-01T00:00:00", "end": "2026-10-02T00:00:00Z", "name": "c"}]},
            ["closures.0.start"],
        ),
        (
            {
                "holidays": [{"date": "2026-10-10", "name": "h"}],
                "extra_working_days": [{"date": "2026-10-10", "name": "m"}],
            },
            ["extra_working_days.0", "also a holiday"],
        ),
        (
            {"weekly": {"tue": [["09:00", "17:00"]]}, "extra_working_days": [{"date": "2026-10-10", "name": "m"}]},
            ["extra_working_days.0.periods"],
        ),
        (
            {"extra_working_days": [{"date": "2026-10-10", "name": "m", "periods": [["10:00", "09:00"]]}]},
            ["extra_working_days.0.periods.0"],
        ),
        ({"colour": "blue"}, ["colour"]),
    ],
)
def test_validation_errors_name_the_field(overrides, names):
    with pytest.raises(ValidationError) as caught:
        Calendar.model_validate(base_data(**overrides))
    for name in names:
        assert name in str(caught.value)


def test_valid_edge_cases():
    cal = Calendar.model_validate(
        base_data(
            _comment="ignored",
            weekly={"mon": [["13:00", "24:00"], ["00:00", "13:00"]]},  # touching, unsorted, to midnight
            extra_working_days=[{"date": "2026-11-28", "name": "Saturday shift", "periods": [["10:00", "11:00"]]}],
        )
    )
    monday = datetime(2026, 11, 23, tzinfo=UTC)
    assert cal.elapsed(monday, monday + timedelta(days=7)) == 24 * 60 + 60
    assert cal.add(monday + timedelta(hours=23), 120) == datetime(2026, 11, 28, 11, 0, tzinfo=UTC)


# -- bounded walking --------------------------------------------------------------------------


def count_days(monkeypatch) -> list[int]:
    calls = [0]
    original = Calendar._day_intervals

    def counting(self, day):
        calls[0] += 1
        return original(self, day)

    monkeypatch.setattr(Calendar, "_day_intervals", counting)
    return calls


def test_adding_2000_business_hours_walks_days_not_minutes(monkeypatch):
    cal = cn()
    calls = count_days(monkeypatch)
    start = sh(2026, 1, 5, 9, 0)
    due = cal.add(start, 2000 * 60)
    assert 300 < calls[0] < 450  # ~250 working days plus weekends and holidays: one step per calendar day
    assert cal.elapsed(start, due) == 2000 * 60


def test_no_open_time_for_years_gives_up(monkeypatch):
    cal = cn(closures=[{"start": "2026-01-01T00:00:00Z", "end": "2036-01-01T00:00:00Z", "name": "forever"}])
    calls = count_days(monkeypatch)
    with pytest.raises(NoOpenTime, match="no open time"):
        cal.add(sh(2026, 6, 1, 10, 0), 1)
    assert calls[0] < 4 * 366
    assert cal.elapsed(sh(2026, 6, 1), sh(2027, 6, 1)) == 0


# -- defaults ---------------------------------------------------------------------------------


def test_default_calendars():
    calendars = default_calendars()
    assert set(calendars) == {"cn-business", "cn-extended", "24x7"}
    assert calendars["24x7"] == CALENDAR_TIME
    assert default_calendars()["cn-business"] is calendars["cn-business"]  # parsed once

    business = calendars["cn-business"]
    assert business.timezone == "Asia/Shanghai"
    assert not business.is_open(sh(2026, 11, 28, 10, 0))  # Saturday closed
    assert not business.is_open(sh(2026, 2, 18, 10, 0))  # 春节
    assert business.is_open(sh(2026, 2, 28, 10, 0))  # 春节调休 Saturday
    assert not business.is_open(sh(2026, 10, 5, 10, 0))  # 国庆节
    assert local(business.add(sh(2026, 9, 30, 17, 0), 120)) == datetime(2026, 10, 8, 10, 0)

    hotline = calendars["cn-extended"]
    assert hotline.is_open(sh(2026, 10, 1, 20, 59))
    assert not hotline.is_open(sh(2026, 10, 1, 21, 0))
    assert hotline.elapsed(sh(2026, 11, 23), sh(2026, 11, 30)) == 7 * 12 * 60
