"""Business-calendar arithmetic: our ``BusinessCalendar`` against ``businesstimedelta``.

The calendar is a provider's service day: open 09:00–18:00 every day of the
week, closed on China's public holidays, in Asia/Shanghai. Ours is defined in
TOML and compiled by the product's own loader (``load_calendars``); the peer,
``businesstimedelta`` 1.0.1, gets a ``WorkDayRule`` for the same hours on all
seven weekdays and a ``HolidayRule`` over the same holiday dates, taken from the
``holidays`` package exactly as our ``holidays = "CN"`` source takes them.

Measured, on random instants spread uniformly over 2026 (seeded):

* ``add`` of 1 hour, 48 hours and 30 days (720 open hours) and ``elapsed`` over
  two months (61 days), one call at a time, ours against the peer's;
* the vectorised forms (``add_many``, ``elapsed_many``) over all starts at once,
  against our own one-call-at-a-time throughput.

The peer walks the calendar one open period (one day) at a time, so a 30-day
deadline costs it some eighty iterations, each scanning forward for the next
holiday. It is therefore timed on a seeded random subset of the starts (all of
them for 1 hour in the full run), split into disjoint chunks, one chunk per
repeat, and compared per call. Ours runs on every start in every repeat (the
quick run uses the first 5,000 for one call at a time).

Every answer both libraries gave is compared. The only differences accepted are
the ones explained in :func:`_compare_adds` and :func:`_compare_elapsed`; any
other difference raises, so a fast wrong answer can never reach the table.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any, Final
from zoneinfo import ZoneInfo

import holidays
import numpy as np

try:
    import businesstimedelta as btd  # type: ignore[import-untyped]
    import pytz  # type: ignore[import-untyped]  # businesstimedelta's rules need pytz zones
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the calendar benchmark compares against businesstimedelta; "
        "install the bench extra: pip install -e '.[bench]'"
    ) from exc

from aftersales.domain.calendars import BusinessCalendar, DayKind, Window, load_calendars
from benchmarks.common import Figure, Report, Spread, repeat, timed

GROUP: Final = "calendar"
TIMEZONE: Final = "Asia/Shanghai"
SHANGHAI: Final = ZoneInfo(TIMEZONE)
SEED: Final = 20_260_101
YEAR: Final = 2026
STARTS: Final = 100_000  # ours, vectorised always and one call at a time in the full run
QUICK_SINGLE: Final = 5_000  # ours one call at a time in the quick run
ELAPSED_SPAN: Final = timedelta(days=61)  # "two months"
PEER_NAME: Final = "businesstimedelta 1.0.1"
VECTOR_TARGET_OPS: Final = 5_000_000
VECTOR_CALLS: Final = 5  # one vectorised call takes ~10 ms: time a few per repeat
OPEN_WINDOW: Final = Window(9 * 3600, 18 * 3600)
# Years whose days both calendars must agree on: the starts (2026) and everything
# a 30-day deadline or a two-month range can reach, with margin.
CHECKED_YEARS: Final = (2025, 2030)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US: Final = timedelta(microseconds=1)

# The benchmark's calendar, written the way calendars.toml writes them and read by
# the product's loader (it matches the shipped `cn-service-day`).
CALENDAR_TOML: Final = """
[calendars.bench-service-day]
display = { zh = "基准：每天 09:00–18:00，法定节假日休息", en = "Benchmark: daily 09:00–18:00, closed on public holidays" }
timezone = "Asia/Shanghai"
holidays = "CN"

[calendars.bench-service-day.weekly]
mon = ["09:00-18:00"]
tue = ["09:00-18:00"]
wed = ["09:00-18:00"]
thu = ["09:00-18:00"]
fri = ["09:00-18:00"]
sat = ["09:00-18:00"]
sun = ["09:00-18:00"]
"""


@dataclass(frozen=True)
class _Operation:
    """One row pair of the table: what is asked, and how many starts the peer gets."""

    label: str
    hours: int | None  # open hours to add; None: elapsed over ELAPSED_SPAN
    peer_full: int
    peer_quick: int
    min_ratio: float | None = None
    target: str = ""


OPERATIONS: Final = (
    _Operation("add 1 h", 1, peer_full=100_000, peer_quick=2_000),
    _Operation("add 48 h", 48, peer_full=25_000, peer_quick=2_000, min_ratio=100, target="≥100×"),
    _Operation(
        "add 30 d", 30 * 24, peer_full=5_000, peer_quick=200, min_ratio=1_000, target="≥1,000×"
    ),
    _Operation("elapsed 2 months", None, peer_full=5_000, peer_quick=200),
)


# --------------------------------------------------------------------------- setup


def _to_us(at: datetime) -> int:
    return (at - _EPOCH) // _ONE_US


def _from_us(epoch_us: int) -> datetime:
    return (_EPOCH + timedelta(microseconds=epoch_us)).astimezone(SHANGHAI)


def our_calendar() -> BusinessCalendar:
    return load_calendars(tomllib.loads(CALENDAR_TOML), "benchmarks/calendar.py")[
        "bench-service-day"
    ]


def china_holidays() -> frozenset[date]:
    """The days off of the ``holidays`` package's China calendar over CHECKED_YEARS."""
    first, last = CHECKED_YEARS
    calendar = holidays.country_holidays("CN", years=range(first, last + 1))
    return frozenset(day for day in calendar if first <= day.year <= last)


def peer_rule(closed: frozenset[date]) -> Any:
    """The same calendar for businesstimedelta. Both rules need the zone: without it
    the holiday rule would close UTC days instead of Shanghai days. The holidays go
    in as a frozenset, the cheapest membership test the peer can be given."""
    zone = pytz.timezone(TIMEZONE)
    hours = btd.WorkDayRule(
        start_time=clock(9), end_time=clock(18), working_days=list(range(7)), tz=zone
    )
    return btd.Rules([hours, btd.HolidayRule(closed, tz=zone)])


def _check_same_days(calendar: BusinessCalendar, closed: frozenset[date]) -> str:
    """Both calendars must open exactly the same hours on every date they may visit.

    The peer's model is simple: closed on a holiday date, 09:00–18:00 otherwise. Ours
    decides each date by precedence (override > partial > holiday > adjusted working
    day > weekly); on an every-day calendar an adjusted working day (调休, a weekend
    day worked) gets the template's 09:00–18:00, which that weekend day had anyway.
    """
    first, last = CHECKED_YEARS
    day = date(first, 1, 1)
    kinds: Counter[DayKind] = Counter()
    wrong: list[str] = []
    while day <= date(last, 12, 31):
        kind, windows = calendar.day(day)
        kinds[kind] += 1
        expected: tuple[Window, ...] = () if day in closed else (OPEN_WINDOW,)
        if windows != expected:
            wrong.append(f"{day}: ours {kind} {[str(w) for w in windows]}, peer {expected}")
        day += timedelta(days=1)
    if wrong:
        raise AssertionError(
            f"the two calendars do not mean the same days ({len(wrong)} dates differ): "
            + "; ".join(wrong[:5])
        )
    return (
        f"{sum(kinds.values()):,} dates {first}–{last} open the same hours in both "
        f"({kinds[DayKind.HOLIDAY]} holidays closed; {kinds[DayKind.ADJUSTED_WORKDAY]} "
        "adjusted working days, weekend days that are open every week anyway)"
    )


def _random_starts(rng: np.random.Generator, count: int) -> tuple[np.ndarray, list[datetime]]:
    """``count`` instants uniform over YEAR in Shanghai, to the microsecond."""
    low = _to_us(datetime(YEAR, 1, 1, tzinfo=SHANGHAI))
    high = _to_us(datetime(YEAR + 1, 1, 1, tzinfo=SHANGHAI))
    starts_us = rng.integers(low, high, size=count, dtype=np.int64)
    return starts_us, [_from_us(int(value)) for value in starts_us]


def _edge_starts() -> list[datetime]:
    """Hand-picked instants the random ones almost never hit exactly.

    With the 9-hour duration every operation also checks, the first one ends at
    18:00 sharp on the last open day before National Day; the others sit on a
    closing instant, a microsecond before one, inside a holiday, before opening
    on a Golden Week Sunday (open: it is no holiday in the data), just before the
    Spring Festival break, and in the year's last open hour.
    """
    return [
        datetime(2026, 9, 30, 9, tzinfo=SHANGHAI),
        datetime(2026, 9, 30, 18, tzinfo=SHANGHAI),
        datetime(2026, 9, 30, 17, 59, 59, 999_999, tzinfo=SHANGHAI),
        datetime(2026, 10, 1, 12, tzinfo=SHANGHAI),
        datetime(2026, 10, 4, 8, 59, 59, tzinfo=SHANGHAI),
        datetime(2026, 2, 15, 23, 59, 59, 999_999, tzinfo=SHANGHAI),
        datetime(2026, 12, 31, 17, tzinfo=SHANGHAI),
    ]


# --------------------------------------------------------------------------- comparing


@dataclass
class _Tally:
    """How the answers compared: equal, different for an explained reason, or wrong."""

    equal: int = 0
    explained: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)

    @property
    def compared(self) -> int:
        return self.equal + sum(self.explained.values()) + len(self.wrong)

    def raise_if_wrong(self, what: str) -> None:
        if self.wrong:
            raise AssertionError(
                f"{what}: {len(self.wrong):,} of {self.compared:,} answers differ from "
                f"{PEER_NAME} for no known reason, e.g. " + "; ".join(self.wrong[:5])
            )

    def text(self) -> str:
        agreed = self.equal + sum(self.explained.values())
        parts = [f"{agreed:,}/{self.compared:,} answers agree with the peer"]
        if self.explained:
            parts.append(
                "("
                + ", ".join(f"{count:,} {reason}" for reason, count in self.explained.items())
                + f"; {self.equal:,} identical)"
            )
        return " ".join(parts) + f", {len(self.wrong)} unexplained"


def _compare_adds(
    tally: _Tally,
    calendar: BusinessCalendar,
    starts: Sequence[datetime],
    duration: timedelta,
    ours: Sequence[datetime],
    peers: Sequence[datetime],
) -> None:
    """Deadlines must be the same instant (aware datetimes compare as instants).

    A deadline that uses its open time up exactly at closing is 18:00 in both: the
    peer returns ``period_start + remaining`` as soon as a period is long enough
    (``>=``). The one difference in meaning is a zero duration from a closed
    instant: ours answers the instant itself (``add(at, 0) == at``), the peer the
    next opening. Measured durations are never zero; the edge cases include one.
    """
    for start, mine, theirs in zip(starts, ours, peers, strict=True):
        if mine == theirs:
            tally.equal += 1
        elif duration == timedelta(0) and mine == start and theirs == calendar.next_open(start):
            tally.explained["zero durations from a closed instant (ours: the instant)"] += 1
        else:
            tally.wrong.append(f"{start.isoformat()} + {duration}: ours {mine}, peer {theirs}")


def _compare_elapsed(
    tally: _Tally,
    starts: Sequence[datetime],
    ends: Sequence[datetime],
    ours: Sequence[timedelta],
    peers: Sequence[Any],
) -> None:
    """Open time must match, except that the peer drops the sub-second part.

    ``Rules.difference`` rebuilds its sum as ``BusinessTimeDelta(hours=days * 24,
    seconds=seconds)``, losing the microseconds, so it is ours floored to whole
    seconds whenever a range starts or ends inside an open window at a
    fractional second (the random starts are microsecond-precise).
    """
    for start, end, mine, theirs in zip(starts, ends, ours, peers, strict=True):
        counted: timedelta = theirs.timedelta
        if mine == counted:
            tally.equal += 1
        elif mine - timedelta(microseconds=mine.microseconds) == counted:
            tally.explained["equal once the sub-second part the peer drops is dropped"] += 1
        else:
            tally.wrong.append(
                f"elapsed {start.isoformat()} .. {end.isoformat()}: ours {mine}, peer {counted}"
            )


# --------------------------------------------------------------------------- timing


@dataclass
class _Inputs:
    """The starts every operation uses, as datetimes and as epoch microseconds."""

    starts_us: np.ndarray  # all STARTS, for the vectorised forms
    starts: list[datetime]  # the first `singles` of them, for one call at a time
    edges: list[datetime]
    repeats: int

    @property
    def singles(self) -> int:
        return len(self.starts)


@dataclass
class _Measured:
    ours: Spread  # µs per call, one call at a time
    peer: Spread  # µs per call
    vector: Spread  # millions of answers a second
    tally: _Tally
    peer_calls: int
    chunks: int


def _chunks(rng: np.random.Generator, inputs: _Inputs, sample: int) -> list[list[int]]:
    """A seeded random sample of start indices, split into one chunk per repeat."""
    chosen = np.sort(rng.choice(inputs.singles, size=sample, replace=False))
    return [chunk.tolist() for chunk in np.array_split(chosen, inputs.repeats)]


def _per_call_us(run: Callable[[], object], calls: int) -> float:
    return timed(run) / calls * 1e6


def _million_per_s(vectorised: Callable[[], object], answers: int) -> float:
    """Millions of answers a second over VECTOR_CALLS back-to-back calls (one repeat)."""

    def calls() -> None:
        for _ in range(VECTOR_CALLS):
            vectorised()

    return VECTOR_CALLS * answers / timed(calls) / 1e6


def _measure_add(
    calendar: BusinessCalendar,
    rule: Any,
    inputs: _Inputs,
    hours: int,
    chunks: list[list[int]],
) -> _Measured:
    duration = timedelta(hours=hours)
    step = btd.BusinessTimeDelta(rule, hours=hours)
    starts = inputs.starts
    add = calendar.add
    ours_answers: list[datetime] = []
    peer_answers: dict[int, datetime] = {}

    def ours_once() -> float:
        def call() -> None:
            ours_answers[:] = [add(start, duration) for start in starts]

        return _per_call_us(call, len(starts))

    pending = iter(chunks)

    def peer_once() -> float:
        indices = next(pending)
        chunk = [starts[index] for index in indices]
        answers: list[datetime] = []

        def call() -> None:
            answers[:] = [start + step for start in chunk]

        per_call = _per_call_us(call, len(chunk))
        peer_answers.update(zip(indices, answers, strict=True))
        return per_call

    ours = repeat(ours_once, inputs.repeats)
    peer = repeat(peer_once, inputs.repeats)

    tally = _Tally()
    compared = sorted(peer_answers)
    _compare_adds(
        tally,
        calendar,
        [starts[i] for i in compared],
        duration,
        [ours_answers[i] for i in compared],
        [peer_answers[i] for i in compared],
    )
    for edge_duration in (duration, timedelta(hours=9), timedelta(0)):
        edge_step = btd.BusinessTimeDelta(rule, timedelta=edge_duration)
        _compare_adds(
            tally,
            calendar,
            inputs.edges,
            edge_duration,
            [calendar.add(edge, edge_duration) for edge in inputs.edges],
            [edge + edge_step for edge in inputs.edges],
        )

    duration_us = np.int64(duration // _ONE_US)
    vectorised = calendar.add_many(inputs.starts_us, duration_us)
    if vectorised[: len(starts)].tolist() != [_to_us(answer) for answer in ours_answers]:
        raise AssertionError(f"add {duration}: add_many differs from add, one call at a time")
    vector = repeat(
        lambda: _million_per_s(
            lambda: calendar.add_many(inputs.starts_us, duration_us), len(inputs.starts_us)
        ),
        inputs.repeats,
    )
    return _Measured(ours, peer, vector, tally, len(peer_answers), len(chunks))


def _measure_elapsed(
    calendar: BusinessCalendar, rule: Any, inputs: _Inputs, chunks: list[list[int]]
) -> _Measured:
    starts = inputs.starts
    ends = [start + ELAPSED_SPAN for start in starts]
    elapsed = calendar.elapsed
    difference = rule.difference
    ours_answers: list[timedelta] = []
    peer_answers: dict[int, Any] = {}

    def ours_once() -> float:
        def call() -> None:
            ours_answers[:] = [elapsed(start, end) for start, end in zip(starts, ends, strict=True)]

        return _per_call_us(call, len(starts))

    pending = iter(chunks)

    def peer_once() -> float:
        indices = next(pending)
        pairs = [(starts[index], ends[index]) for index in indices]
        answers: list[Any] = []

        def call() -> None:
            answers[:] = [difference(start, end) for start, end in pairs]

        per_call = _per_call_us(call, len(pairs))
        peer_answers.update(zip(indices, answers, strict=True))
        return per_call

    ours = repeat(ours_once, inputs.repeats)
    peer = repeat(peer_once, inputs.repeats)

    tally = _Tally()
    compared = sorted(peer_answers)
    _compare_elapsed(
        tally,
        [starts[i] for i in compared],
        [ends[i] for i in compared],
        [ours_answers[i] for i in compared],
        [peer_answers[i] for i in compared],
    )
    edge_starts = [edge for edge in inputs.edges for _ in range(2)]
    edge_ends = [
        edge + span for edge in inputs.edges for span in (timedelta(hours=9), ELAPSED_SPAN)
    ]
    _compare_elapsed(
        tally,
        edge_starts,
        edge_ends,
        [calendar.elapsed(s, e) for s, e in zip(edge_starts, edge_ends, strict=True)],
        [difference(s, e) for s, e in zip(edge_starts, edge_ends, strict=True)],
    )

    ends_us = inputs.starts_us + np.int64(ELAPSED_SPAN // _ONE_US)
    vectorised = calendar.elapsed_many(inputs.starts_us, ends_us)
    if vectorised[: len(starts)].tolist() != [answer // _ONE_US for answer in ours_answers]:
        raise AssertionError("elapsed: elapsed_many differs from elapsed, one call at a time")
    vector = repeat(
        lambda: _million_per_s(
            lambda: calendar.elapsed_many(inputs.starts_us, ends_us), len(inputs.starts_us)
        ),
        inputs.repeats,
    )
    return _Measured(ours, peer, vector, tally, len(peer_answers), len(chunks))


def _throughput(per_call_us: Spread) -> Spread:
    """Microseconds per call as millions of calls a second (the slowest run is the lowest)."""
    return Spread(
        1 / per_call_us.median, 1 / per_call_us.high, 1 / per_call_us.low, per_call_us.runs
    )


# --------------------------------------------------------------------------- the run


def run(report: Report, *, quick: bool, database_url: str) -> None:
    del database_url  # pure computation: no database
    rng = np.random.default_rng(SEED)

    built: list[BusinessCalendar] = []
    compile_s = timed(lambda: built.append(our_calendar()))
    calendar = built[0]
    closed = china_holidays()
    rule = peer_rule(closed)
    print(f"ours: {calendar!r}, compiled from TOML in {compile_s:.2f} s", flush=True)
    print(_check_same_days(calendar, closed), flush=True)

    starts_us, starts = _random_starts(rng, STARTS)
    inputs = _Inputs(
        starts_us=starts_us,
        starts=starts[: QUICK_SINGLE if quick else STARTS],
        edges=_edge_starts(),
        repeats=3 if quick else 5,
    )

    for operation in OPERATIONS:
        sample = min(operation.peer_quick if quick else operation.peer_full, inputs.singles)
        chunks = _chunks(rng, inputs, sample)
        if operation.hours is None:
            measured = _measure_elapsed(calendar, rule, inputs, chunks)
            vector_name = "elapsed_many"
        else:
            measured = _measure_add(calendar, rule, inputs, operation.hours, chunks)
            vector_name = "add_many"

        if measured.peer_calls == inputs.singles:
            peer_starts = "the same starts"
        else:
            peer_starts = f"a seeded random {measured.peer_calls:,} of them"
        figure = Figure(
            GROUP,
            f"{operation.label}, one call",
            "µs/call",
            measured.ours,
            better="lower",
            peer=measured.peer,
            peer_name=PEER_NAME,
            target=operation.target,
            note=(
                f"ours: {inputs.singles:,} random starts over {YEAR} every repeat; peer: "
                f"{peer_starts}, timed in {measured.chunks} disjoint chunks, one per repeat; "
                f"{measured.tally.text()}"
            ),
        )
        ratio = figure.ratio
        if operation.min_ratio is not None and ratio is not None:
            figure = dataclasses.replace(figure, met=ratio >= operation.min_ratio)
        report.add(figure)

        peer_ops = _throughput(measured.peer).median * 1e6
        report.add(
            Figure(
                GROUP,
                f"{operation.label}, vectorised ({vector_name})",
                "M ops/s",
                measured.vector,
                better="higher",
                peer=_throughput(measured.ours),
                peer_name="ours, one call at a time",
                target=f"≥{VECTOR_TARGET_OPS / 1e6:g} M ops/s",
                met=measured.vector.median * 1e6 >= VECTOR_TARGET_OPS,
                note=(
                    f"{len(starts_us):,} starts per call ({VECTOR_CALLS} calls a repeat), equal to "
                    f"the one-call answers; "
                    f"{PEER_NAME} manages {peer_ops:,.0f} ops/s"
                ),
            )
        )
