"""How the pages write amounts and time left, and read an amount typed in yuan.

Money is counted in whole fen (¥1 = 100 fen) and points (100 points = ¥1); it is
turned into yuan with :class:`~decimal.Decimal`, never a float, both for display
and when a person types a price into a form.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from jinja2 import Environment, pass_context

from aftersales.domain.explain import local_time
from aftersales.entrypoints.web.i18n import Lang
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


def install_filters(env: Environment) -> None:
    """The templates' filters: ``points``, ``yuan``, ``local``, ``iso``, ``local_iso`` and
    ``when_wanted``."""
    env.filters["points"] = _points_filter
    env.filters["yuan"] = yuan
    env.filters["when_wanted"] = when_wanted
    env.filters["local"] = lambda value: local_time(value, TIMEZONE) if value else ""
    env.filters["iso"] = lambda value: value.isoformat() if value else ""
    env.filters["local_iso"] = lambda value: (
        local_time(datetime.fromisoformat(value), TIMEZONE) if value else ""
    )
