"""Resolving free Chinese address text to province, city and district (OH-2).

Consumers type addresses the way they speak them: "浙江省杭州市西湖区文三路 90 号",
"杭州西湖区文三路", "上海浦东新区世纪大道". Coverage (OH-2) is decided on the
city, so the parser's job is to find the city reliably and say so plainly when
it cannot. The work is done by the ``cpca`` package, whose result we tidy:

* the four municipalities come back with the city "市辖区" (or "县" for a
  municipality's counties, or nothing when only "北京" was written): the city
  is the municipality itself (北京市);
* county-level cities governed directly by a province (湖北 仙桃市, 海南 琼海市)
  come back with the city "省直辖县级行政区划": the county-level city is the city;
* text in which no city can be found raises :class:`UnresolvableAddress`.

``cpca`` builds its dictionary when it is first imported and imports pandas on
its first transform (together about a second), so both happen lazily, once per
process, under a lock; :meth:`AddressResolver.warm_up` does it ahead of time.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

from aftersales.domain.eligibility import ServiceAddress
from aftersales.errors import InvalidRequest

__all__ = ["AddressResolver", "UnresolvableAddress"]

MUNICIPALITIES = frozenset({"北京市", "上海市", "天津市", "重庆市"})
# What cpca puts in the city column for a municipality's districts and counties.
_MUNICIPAL_CITY_PLACEHOLDERS = frozenset({"市辖区", "县"})
# What cpca puts in the city column for county-level cities under a province directly.
_DIRECT_COUNTY_PLACEHOLDERS = frozenset({"省直辖县级行政区划", "自治区直辖县级行政区划"})
_QUOTE_MAX_CHARS = 60
_EXAMPLE = "浙江省杭州市西湖区文三路 90 号"


class UnresolvableAddress(InvalidRequest):
    """No city could be found in an address; the message asks for a fuller one.

    ``text`` is what the person typed; ``message_zh`` and ``message_en`` say the
    same thing in the two languages the platform speaks (``str()`` gives both).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        quoted = _quote(text)
        if text.strip():
            self.message_zh = (
                f"无法从地址“{quoted}”中识别出所在城市。请填写省、市、区（县），例如“{_EXAMPLE}”。"
            )
            self.message_en = (
                f"cannot tell which city the address '{quoted}' is in: please give the "
                f"province, city and district, e.g. '{_EXAMPLE}'"
            )
        else:
            self.message_zh = f"地址为空。请填写省、市、区（县），例如“{_EXAMPLE}”。"
            self.message_en = (
                f"the address is empty ('{quoted}'): please give the province, city and "
                f"district, e.g. '{_EXAMPLE}'"
            )
        super().__init__(f"{self.message_en} / {self.message_zh}")


def _quote(text: str) -> str:
    if len(text) <= _QUOTE_MAX_CHARS:
        return text
    return text[: _QUOTE_MAX_CHARS - 1] + "…"


def _part(value: Any) -> str | None:
    """A cell of cpca's result as text, or None (cpca leaves NaN where it found nothing)."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


class AddressResolver:
    """Turns free address text into :class:`ServiceAddress` (province, city, district).

    One instance can be shared between threads. ``district_hints`` is passed to
    cpca as its ``umap``: for text that names only a district whose name several
    cities share (朝阳区 is in 北京 and 长春), it says which one to prefer, by
    district name -> 6-digit adcode, e.g. ``{"朝阳区": "110105"}``. Without a hint
    cpca takes the first it knows, so callers should ask for the city as well.
    """

    _cpca: ModuleType | None = None
    _load_lock = threading.Lock()

    def __init__(self, district_hints: Mapping[str, str] | None = None) -> None:
        self._hints: dict[str, str] = dict(district_hints or {})

    @classmethod
    def _parser(cls) -> ModuleType:
        # Double-checked: after the first call no lock is taken.
        parser = cls._cpca
        if parser is None:
            with cls._load_lock:
                parser = cls._cpca
                if parser is None:
                    with warnings.catch_warnings():
                        # cpca reads its data through pkg_resources, which warns on every
                        # start-up; nothing for our users to act on.
                        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
                        import cpca  # type: ignore[import-untyped]

                    # The import builds the dictionary; pandas, which cpca imports only
                    # inside transform(), costs as much again, so pay for both here.
                    cpca.transform([_EXAMPLE])
                    parser = cls._cpca = cpca
        return parser

    def warm_up(self) -> None:
        """Load the parser's dictionary now, e.g. at start-up, rather than on the first request."""
        self._parser()

    def resolve(self, text: str) -> ServiceAddress:
        """Resolve one address; raise :class:`UnresolvableAddress` when no city is found."""
        resolved = self._resolve_batch([text])[0]
        if resolved is None:
            raise UnresolvableAddress(text)
        return resolved

    def resolve_many(self, texts: Iterable[str]) -> list[ServiceAddress | None]:
        """Resolve many addresses in one pass (bulk import); None where no city is found.

        The result has one entry per input, in the same order.
        """
        return self._resolve_batch(list(texts))

    def _resolve_batch(self, texts: Sequence[str]) -> list[ServiceAddress | None]:
        results: list[ServiceAddress | None] = [None] * len(texts)
        wanted = [i for i, text in enumerate(texts) if isinstance(text, str) and text.strip()]
        if not wanted:
            return results
        for i, (province, city, district, code) in zip(
            wanted, self._parts([texts[i].strip() for i in wanted]), strict=True
        ):
            results[i] = _tidy(texts[i], _part(province), _part(city), _part(district), _part(code))
        return results

    def _parts(self, texts: list[str]) -> Iterable[Sequence[Any]]:
        """cpca's province, city, district and code for each text.

        ``transform`` parses each text with ``_get_one_addr`` and then puts the
        answers in a pandas table, which for a batch of a few hundred texts costs
        a third as much again; the parse is taken directly when cpca has it (the
        version pinned does; ``tests/unit/test_addresses.py`` holds both ways
        side by side).
        """
        parser = self._parser()
        one = getattr(parser, "_get_one_addr", None)
        if one is None:
            frame = parser.transform(texts, umap=self._hints)
            return frame[["省", "市", "区", "adcode"]].to_numpy(dtype=object)  # type: ignore[no-any-return]
        found = (one(text, False, self._hints) for text in texts)
        return [(f["省"], f["市"], f["区"], f["adcode"]) for f in found]


def _tidy(
    text: str,
    province: str | None,
    city: str | None,
    district: str | None,
    code: str | None = None,
) -> ServiceAddress | None:
    if district == "市辖区":
        district = None
    if province in MUNICIPALITIES and (city is None or city in _MUNICIPAL_CITY_PLACEHOLDERS):
        city = province
    elif city in _DIRECT_COUNTY_PLACEHOLDERS:
        city = district
    if city is None:
        return None
    if code is not None and not (len(code) == 6 and code.isdigit()):
        code = None
    return ServiceAddress(
        text=text, province=province, city=city, district=district, area_code=code
    )
