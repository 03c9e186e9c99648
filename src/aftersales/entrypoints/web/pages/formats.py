"""How the pages write amounts and time left, and read an amount typed in yuan.

Money is counted in whole fen (¥1 = 100 fen) and points (100 points = ¥1); it is
turned into yuan with :class:`~decimal.Decimal`, never a float, both for display
and when a person types a price into a form.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, pass_context

from aftersales.domain.clocks import STATUS_NAMES, ClockStatus
from aftersales.domain.explain import local_time
from aftersales.domain.lifecycle import LIFECYCLES, Programme
from aftersales.domain.policy import PolicyBook
from aftersales.entrypoints.web.i18n import Lang, text
from aftersales.errors import InvalidRequest

FEN_PER_YUAN = 100
TIMEZONE = "Asia/Shanghai"


def yuan(fen: int) -> str:
    """``28050`` fen as ``280.50`` (no currency sign, no grouping)."""
    return f"{Decimal(fen) / FEN_PER_YUAN:.2f}"


def fen_from_yuan(text: str) -> int:
    """An amount typed in yuan (``280`` or ``280.50``) as whole fen, rounded half to even."""
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise InvalidRequest(f"'{text}' is not an amount in yuan; write it like 280 or 280.50")
    return int((amount * FEN_PER_YUAN).to_integral_value(rounding=ROUND_HALF_EVEN))


def fmt_points(value: int, unit: str = "points", lang: Lang = "zh") -> str:
    """An amount as people read it: points with their yuan value (100 points = ¥1), or yuan."""
    in_yuan = f"¥{Decimal(value) / FEN_PER_YUAN:,.2f}"
    if unit == "points":
        word = "积分" if lang == "zh" else "points"
        return f"{value:,} {word} ({in_yuan})"
    return in_yuan


@pass_context
def _points_filter(context: Any, value: int, unit: str = "points") -> str:
    return fmt_points(value, unit, context.get("lang", "zh"))


def fmt_left(seconds: float, lang: Lang) -> str:
    """Time left before a deadline: ``01:05:09``, or days and hours from 48 hours on."""
    sign = "-" if seconds < 0 else ""
    whole = int(abs(seconds))
    h, rem = divmod(whole, 3600)
    m, sec = divmod(rem, 60)
    if h >= 48:
        d, h = divmod(h, 24)
        return f"{sign}{d}{'天' if lang == 'zh' else 'd '}{h}{'小时' if lang == 'zh' else 'h'}"
    return f"{sign}{h:02d}:{m:02d}:{sec:02d}"


def when_wanted(value: str) -> str:
    """A preferred time as the buyer gave it: a picker's ``2026-11-25T14:00`` as
    ``2026-11-25 14:00`` (already local time), anything else as written."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{parsed:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------- codes as words
# The one place a stored code (a case's state, a clock's status, a clock id) is
# turned into the word a person reads; pages and exports both call these.


def state_name(programme: str, state: str, lang: Lang) -> str:
    """A case's state as its programme's lifecycle names it (``resolved`` -> 完结)."""
    try:
        zh, en = LIFECYCLES[Programme(programme)].states[state]
    except (KeyError, ValueError):
        return state
    return zh if lang == "zh" else en


def state_choices(lang: Lang) -> list[tuple[str, str]]:
    """Every state a case can be in, ``(code, name)``, with its programme where names repeat."""
    named: dict[str, list[str]] = {}
    for programme, lifecycle in LIFECYCLES.items():
        for state in lifecycle.states:
            named.setdefault(state, []).append(state_name(programme.value, state, lang))
    choices = []
    for state, names in named.items():
        choices.append((state, " / ".join(dict.fromkeys(names))))
    return choices


def clock_status_name(status: str, lang: Lang) -> str:
    """``breached`` -> 已违约 / breached."""
    try:
        return STATUS_NAMES[ClockStatus(status)].in_(lang)
    except ValueError:
        return status


def clock_name(book: PolicyBook, clock_id: str, lang: Lang, programme: str | None = None) -> str:
    """A clock's name as the newest policy of its programme names it (``solution`` ->
    1 小时内给出解决方案). Without ``programme``, every programme with a clock of that id
    is named (``response`` is NW-4's and, before OH-8's change, OH's)."""
    names: list[str] = []
    seen: set[Programme] = set()
    for policy in reversed(book.programmes):  # newest version of each programme first
        if policy.programme in seen or (programme and policy.programme.value != programme):
            continue
        seen.add(policy.programme)
        for definition in policy.clocks:
            if definition.id == clock_id:
                names.append(definition.name.zh if lang == "zh" else definition.name.en)
    return " / ".join(dict.fromkeys(names)) or clock_id


def programme_name(programme: str, lang: Lang) -> str:
    try:
        return text(f"programme.{programme}", lang)
    except KeyError:
        return programme


@pass_context
def _state_filter(context: Any, state: str, programme: str) -> str:
    return state_name(programme, state, context.get("lang", "zh"))


@pass_context
def _clock_status_filter(context: Any, status: str) -> str:
    return clock_status_name(status, context.get("lang", "zh"))


def install_filters(env: Environment) -> None:
    """The templates' filters: ``points``, ``yuan``, ``local``, ``short`` (to the minute,
    in the marketplace's time), ``iso``, ``local_iso``, ``when_wanted``,
    ``state_name`` (``c.state | state_name(c.programme)``) and ``clock_status``."""
    env.filters["state_name"] = _state_filter
    env.filters["clock_status"] = _clock_status_filter
    env.filters["points"] = _points_filter
    env.filters["yuan"] = yuan
    env.filters["when_wanted"] = when_wanted
    env.filters["local"] = lambda value: local_time(value, TIMEZONE) if value else ""
    env.filters["short"] = lambda value: (
        value.astimezone(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%d %H:%M") if value else ""
    )
    env.filters["iso"] = lambda value: value.isoformat() if value else ""
    env.filters["local_iso"] = lambda value: (
        local_time(datetime.fromisoformat(value), TIMEZONE) if value else ""
    )
