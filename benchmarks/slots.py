"""Appointment slot search (SS-2): one case's offer, against a naive scan, same data.

A busy installer: four windows a day (08:00–10:00, 10:00–12:00, 13:00–15:00,
15:00–18:00), seven days a week, five visits each, on the shipped ``cn-service-day``
calendar (closed on public holidays), and thousands of existing bookings spread
over the year before now and the weeks after (the horizon's windows mostly partly
booked, some full). A search offers the windows with room left from now + 2 h over a
14-day horizon.

* **ours**: the adapter's grouped count of the provider's bookings in the horizon
  (``SqlAppointments.booked_counts``, SQLite in memory, over the index the
  migration makes) followed by the domain's :func:`open_slots`;
* **naive scan**: every window instance of every day in the horizon counts its
  bookings by walking the provider's whole booking list, and asks the calendar
  about the day each time.

Both answers are compared slot by slot before anything is timed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, insert

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.appointments import SqlAppointments
from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.calendars import BusinessCalendar
from aftersales.domain.slots import Slot, WeeklyWindow, open_slots, works_on
from benchmarks.common import Figure, Report, repeat, timed

GROUP: Final = "slots"
ZONE: Final = ZoneInfo("Asia/Shanghai")
NOW: Final = datetime(2026, 12, 1, 10, 0, tzinfo=ZONE)
HORIZON: Final = timedelta(days=14)
LEAD: Final = timedelta(hours=2)
SEED: Final = 20_261_201
TARGET_MS: Final = 20.0
WINDOWS: Final = tuple(
    WeeklyWindow(frozenset(range(1, 8)), time(a), time(b), 5)
    for a, b in ((8, 10), (10, 12), (13, 15), (15, 18))
)


def _bookings(count: int) -> list[tuple[datetime, datetime]]:
    """``count`` bookings over 400 days before and 20 after now, each in a real window
    (a year of past visits; the horizon's windows hold about one in ten of them)."""
    rng = random.Random(SEED)
    first = NOW.date() - timedelta(days=400)
    found: list[tuple[datetime, datetime]] = []
    while len(found) < count:
        day = first + timedelta(days=rng.randrange(420))
        window = rng.choice(WINDOWS)
        found.append(
            (datetime.combine(day, window.start, ZONE), datetime.combine(day, window.end, ZONE))
        )
    return found


def _naive(calendar: BusinessCalendar, booked: Sequence[tuple[datetime, datetime]]) -> list[Slot]:
    found: list[Slot] = []
    earliest, latest = NOW + LEAD, NOW + HORIZON
    day: date = earliest.date()
    while day <= latest.date():
        for window in WINDOWS:
            if day.isoweekday() not in window.weekdays or not works_on(calendar, day):
                continue
            start = datetime.combine(day, window.start, ZONE)
            end = datetime.combine(day, window.end, ZONE)
            if not earliest <= start <= latest:
                continue
            taken = sum(1 for b in booked if b == (start, end))
            if taken < window.capacity:
                found.append(Slot(start, end, window.capacity, taken))
        day += timedelta(days=1)
    return found


def run(report: Report, *, quick: bool, database_url: str | None = None) -> None:
    book = load_policy_book()
    calendar = book.calendar("cn-service-day")
    count = 3_000 if quick else 8_000
    booked = _bookings(count)
    engine = create_engine("sqlite://")
    s.metadata.create_all(engine, tables=[s.appointments])
    with engine.begin() as conn:
        conn.execute(
            insert(s.appointments),
            [
                {
                    "case_id": f"c{i}",
                    "sandbox": "live",
                    "provider_id": "p1",
                    "starts_at": start,
                    "ends_at": end,
                    "booked_at": NOW - timedelta(days=401),
                    "booked_by_role": "consumer",
                    "booked_by": f"b{i}",
                    "reschedules": 0,
                }
                for i, (start, end) in enumerate(booked)
            ],
        )
    conn = engine.connect()
    store = SqlAppointments(conn)

    def ours() -> list[Slot]:
        counts = store.booked_counts("p1", "live", NOW + LEAD, NOW + HORIZON)
        return open_slots(
            WINDOWS,
            now=NOW,
            horizon=HORIZON,
            lead=LEAD,
            timezone="Asia/Shanghai",
            calendar=calendar,
            closed_days=frozenset(),
            booked=counts,
            area_codes=frozenset(),
        )

    expected = _naive(calendar, booked)
    got = ours()
    if got != expected:
        raise AssertionError(f"slot searches disagree: {len(got)} slots against {len(expected)}")
    full = sum(
        1
        for d in range(15)
        for w in WINDOWS
        if datetime.combine(NOW.date() + timedelta(days=d), w.start, ZONE) >= NOW + LEAD
        and datetime.combine(NOW.date() + timedelta(days=d), w.start, ZONE) <= NOW + HORIZON
    ) - len(got)
    calls = 20 if quick else 100
    runs = 5 if quick else 9

    def per_call(search: object) -> float:
        assert callable(search)
        return timed(lambda: [search() for _ in range(calls)]) / calls * 1000

    mine = repeat(lambda: per_call(ours), runs)
    peer = repeat(lambda: per_call(lambda: _naive(calendar, booked)), 3 if quick else 5)
    report.add(
        Figure(
            GROUP,
            f"slot search, 14 days, {count:,} bookings",
            "ms/case",
            mine,
            better="lower",
            peer=peer,
            peer_name="naive scan of every booking per window",
            target=f"≤{TARGET_MS:g} ms",
            met=mine.median <= TARGET_MS,
            note=f"{len(got)} slots offered, {full} windows full or shut (holidays)",
        )
    )
    conn.close()
