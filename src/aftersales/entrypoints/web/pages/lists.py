"""What the case and payout lists of operations, merchants and brands share.

:func:`case_query` reads the filters of a case list from the address (the same
names as ``GET /api/v1/cases``), refusing a bad one in the page's language;
:func:`cases_csv` and :func:`payouts_csv` stream a list as CSV: UTF-8 with a
byte-order mark (so Excel opens Chinese correctly), column heads in the
viewer's language, codes as words, read a chunk per unit of work so a large
export never sits in memory nor holds a connection while the download runs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Query
from fastapi.responses import StreamingResponse

from aftersales.domain.explain import local_time
from aftersales.domain.lifecycle import LIFECYCLES, Programme
from aftersales.entrypoints.api.paging import BadCursor, decode_cursor, encode_cursor
from aftersales.entrypoints.web.i18n import Lang, text
from aftersales.entrypoints.web.pages.common import PageRefused
from aftersales.entrypoints.web.pages.formats import (
    TIMEZONE,
    programme_name,
    state_name,
    yuan,
)
from aftersales.services import views
from aftersales.services.base import Services
from aftersales.services.records import (
    CLOCK_STATES,
    LIVE,
    CaseFilter,
    CasePage,
    FoundCase,
    PayoutLine,
    Scope,
)
from aftersales.services.sandboxes import list_sandboxes

PAGE_SIZE = 50
MAX_DUE_MINUTES = 100_000
BOM = "\ufeff"
_ALL_STATES = frozenset(state for lc in LIFECYCLES.values() for state in lc.states)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CaseQuery:
    """A case list's filters as typed in the address, checked; ``filter`` for the services."""

    filter: CaseFilter
    after: tuple[datetime, str] | None
    due: str  # the minutes as typed, shown back in the form
    params: dict[str, str]  # the filters without the cursor, for links and the export

    def link(self, path: str, **changes: str) -> str:
        params = {k: v for k, v in {**self.params, **changes}.items() if v}
        return f"{path}?{urlencode(params)}" if params else path


def case_query(
    sandbox: Annotated[str, Query(max_length=64)] = LIVE,
    q: Annotated[str, Query(max_length=200)] = "",
    programme: Annotated[str, Query(max_length=32)] = "",
    state: Annotated[str, Query(max_length=32)] = "",
    provider: Annotated[str, Query(max_length=64)] = "",
    merchant: Annotated[str, Query(max_length=64)] = "",
    brand: Annotated[str, Query(max_length=64)] = "",
    city: Annotated[str, Query(max_length=64)] = "",
    clock: Annotated[str, Query(max_length=32)] = "",
    due: Annotated[str, Query(max_length=12)] = "",
    open_only: Annotated[str, Query(alias="open", max_length=5)] = "",
    cursor: Annotated[str, Query(max_length=400)] = "",
) -> CaseQuery:
    """The filters of a case list, or a refusal naming the one that cannot be used."""
    if programme and programme not in {p.value for p in Programme}:
        raise PageRefused(422, "ops.bad.programme")
    if state and state not in _ALL_STATES:
        raise PageRefused(422, "ops.bad.state")
    if clock and clock not in CLOCK_STATES:
        raise PageRefused(422, "ops.bad.clock")
    due_within = None
    if due.strip():
        try:
            minutes = int(due.strip())
        except ValueError:
            raise PageRefused(422, "ops.bad.due") from None
        if not 0 <= minutes <= MAX_DUE_MINUTES:
            raise PageRefused(422, "ops.bad.due")
        due_within = timedelta(minutes=minutes)
    after = None
    if cursor:
        try:
            after = decode_cursor(cursor, str)
        except BadCursor:
            raise PageRefused(422, "ops.bad.cursor") from None
    opened = open_only in ("1", "on", "true", "yes")
    f = CaseFilter(
        sandbox=sandbox.strip() or LIVE,
        text=q.strip(),
        programme=programme or None,
        state=state or None,
        provider=provider.strip() or None,
        merchant=merchant.strip() or None,
        brand=brand.strip() or None,
        city=city.strip() or None,
        clock_state=clock or None,
        due_within=due_within,
        open_only=opened,
    )
    params = {
        "sandbox": "" if f.sandbox == LIVE else f.sandbox,
        "q": f.text,
        "programme": programme,
        "state": state,
        "provider": f.provider or "",
        "merchant": f.merchant or "",
        "brand": f.brand or "",
        "city": f.city or "",
        "clock": clock,
        "due": due.strip(),
        "open": "1" if opened else "",
    }
    return CaseQuery(f, after, due.strip(), {k: v for k, v in params.items() if v})


def world_choices(svc: Services, lang: Lang) -> list[tuple[str, str]]:
    """``(value, label)`` of the worlds a list can show: live data first, then each sandbox."""
    return [(LIVE, text("ops.world.live", lang))] + [
        (sb.id, text("ops.world.sandbox", lang).format(id=sb.id)) for sb in list_sandboxes(svc)
    ]


def check_world(svc: Services, sandbox: str) -> str:
    """``sandbox`` if it is live data or a sandbox that exists; a refusal otherwise."""
    if sandbox != LIVE and sandbox not in {sb.id for sb in list_sandboxes(svc)}:
        raise PageRefused(422, "ops.bad.sandbox")
    return sandbox


def next_cursor(page: CasePage) -> str:
    if not page.more or not page.lines:
        return ""
    last = page.lines[-1]
    return encode_cursor(last.opened_at, last.id)


# ---------------------------------------------------------------- CSV


def _cell(value: object) -> object:
    """A text cell Excel will not run as a formula (a leading = + - @ is quoted away)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _rows_as_csv(head: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[bytes]:
    """CSV text in UTF-8 with a byte-order mark, a chunk of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(head)
    for count, row in enumerate(rows, start=1):
        writer.writerow([_cell(v) for v in row])
        if count % 200 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _download(name: str, chunks: Iterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )


CASE_COLUMNS = (
    "case",
    "world",
    "programme",
    "state",
    "open",
    "opened",
    "order",
    "item",
    "product",
    "buyer",
    "buyer_name",
    "merchant",
    "merchant_name",
    "brand",
    "brand_name",
    "assignee",
    "assignee_name",
    "city",
    "next_due",
)


def _local(at: datetime | None) -> str:
    return local_time(at, TIMEZONE) if at else ""


def case_rows(lines: Iterable[FoundCase], lang: Lang) -> Iterator[list[object]]:
    """Each case as a CSV row of :data:`CASE_COLUMNS`, codes as words in ``lang``."""
    yes, no = text("ops.csv.yes", lang), text("ops.csv.no", lang)
    for c in lines:
        world = text("ops.world.live", lang) if c.sandbox == LIVE else c.sandbox
        yield [
            c.id,
            world,
            programme_name(c.programme, lang),
            state_name(c.programme, c.state, lang),
            yes if c.is_open else no,
            _local(c.opened_at),
            c.order_id,
            c.order_item_id,
            c.product,
            c.buyer,
            c.buyer_name,
            c.merchant,
            c.merchant_name,
            c.brand,
            c.brand_name,
            c.assignee or "",
            c.assignee_name,
            c.city or "",
            _local(c.next_due) if c.is_open else "",
        ]


def cases_csv(svc: Services, scope: Scope, f: CaseFilter, lang: Lang) -> StreamingResponse:
    """Every case ``scope`` may see matching ``f``, as a CSV download."""
    head = [text(f"ops.csv.{column}", lang) for column in CASE_COLUMNS]
    rows = case_rows(views.all_cases(svc, scope, f), lang)
    return _download(f"cases-{f.sandbox}.csv", _rows_as_csv(head, rows))


PAYOUT_COLUMNS = (
    "at",
    "case",
    "world",
    "rule",
    "amount",
    "unit",
    "yuan",
    "payer",
    "payer_name",
    "payee",
    "payee_name",
    "why",
)


def payout_rows(svc: Services, lines: Iterable[PayoutLine], lang: Lang) -> Iterator[list[object]]:
    """Each payout as a CSV row of :data:`PAYOUT_COLUMNS`; names looked up a chunk at a time."""
    chunk: list[PayoutLine] = []

    def flush() -> Iterator[list[object]]:
        names = views.names(svc, [i for p in chunk for i in (p.payer, p.payee)])
        for p in chunk:
            yield [
                _local(p.at),
                p.case_id,
                text("ops.world.live", lang) if p.sandbox == LIVE else p.sandbox,
                p.rule,
                p.amount,
                text(f"ops.unit.{p.unit}", lang) if p.unit in ("points", "fen") else p.unit,
                yuan(p.amount),  # 100 points = ¥1, and 100 fen = ¥1
                p.payer,
                names.get(p.payer, ""),
                p.payee,
                names.get(p.payee, ""),
                p.explanation(lang),
            ]

    for line in lines:
        chunk.append(line)
        if len(chunk) >= views.EXPORT_CHUNK:
            yield from flush()
            chunk = []
    yield from flush()


def payouts_csv(svc: Services, scope: Scope, sandbox: str, lang: Lang) -> StreamingResponse:
    head = [text(f"ops.csv.{column}", lang) for column in PAYOUT_COLUMNS]
    rows = payout_rows(svc, views.all_payouts(svc, scope, sandbox=sandbox), lang)
    return _download(f"payouts-{sandbox}.csv", _rows_as_csv(head, rows))


def names_of_lines(svc: Services, lines: Iterable[Any]) -> dict[str, str]:
    """Names for the payer and payee of payout lines."""
    return views.names(svc, [i for p in lines for i in (p.payer, p.payee)])
