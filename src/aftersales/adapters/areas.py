"""China's administrative areas by their six-digit codes (GB/T 2260), for coverage (OH-3).

A provider covers areas: a province, a city or a district, each named by its
six-digit administrative code (``330000`` 浙江省, ``330100`` 杭州市, ``330106``
西湖区). An address resolved to a district lies in that district, in the city
whose code is the district's first four digits followed by ``00``, and in the
province of its first two digits followed by ``0000``; coverage matches on any
of the three, the most specific first.

The table is the one the address parser (``cpca``) ships, read once, lazily.
It also gives each area's centre (longitude and latitude), from which dispatch
weighs how far a provider's base is from the address (OH-3): a great-circle
distance between the two areas' centres, so within one district it is nought.
Two kinds of code do not name a city of their own and are folded the way
addresses are (``adapters/addresses.py``): a municipality's districts sit
under ``xx0100`` (市辖区), which is the municipality itself (``110000``), and a
county-level city under a province directly (``429004`` 仙桃市) is its own city.
"""

from __future__ import annotations

import csv
import math
import threading
import warnings
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Literal

from aftersales.errors import InvalidRequest

Level = Literal["province", "city", "district"]

_MUNICIPALITY_CODES = frozenset({"110000", "120000", "310000", "500000"})
_lock = threading.Lock()


class UnknownArea(InvalidRequest):
    pass


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    level: Level


def level_of(code: str) -> Level:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "district"


@cache
def _rows() -> list[dict[str, str]]:
    with _lock, warnings.catch_warnings():
        # cpca's package imports pkg_resources, which warns; nothing for users to act on.
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        text = (files("cpca") / "resources" / "adcodes.csv").read_text(encoding="utf-8")
        return [
            row
            for row in csv.DictReader(text.splitlines())
            if len(row["adcode"][:6]) == 6 and row["adcode"][:6].isdigit()
        ]


@cache
def _table() -> dict[str, str]:
    names: dict[str, str] = {}
    for row in _rows():
        names.setdefault(row["adcode"][:6], row["name"].strip())
    return names


@cache
def _centres() -> dict[str, tuple[float, float]]:
    """Code -> (latitude, longitude) in radians, for the areas the table places (a
    city's 市辖区 stand-in has no centre of its own)."""
    found: dict[str, tuple[float, float]] = {}
    for row in _rows():
        try:
            lat, lon = float(row["latitude"]), float(row["longitude"])
        except (KeyError, ValueError):
            continue
        found.setdefault(row["adcode"][:6], (math.radians(lat), math.radians(lon)))
    return found


EARTH_RADIUS_KM = 6371.0


def distance_km(a: str | None, b: str | None) -> float | None:
    """The great-circle distance between the centres of areas ``a`` and ``b`` (haversine);
    None when either is not given or has no known centre."""
    if not a or not b:
        return None
    centres = _centres()
    one, two = centres.get(a), centres.get(b)
    if one is None or two is None:
        return None
    if one == two:
        return 0.0
    (lat1, lon1), (lat2, lon2) = one, two
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@cache
def _by_name() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for code, name in _table().items():
        found.setdefault(name, []).append(code)
    return found


def area(code: str) -> Area:
    """The area of a six-digit code; :class:`UnknownArea` says what a code should look like."""
    code = code.strip()
    name = _table().get(code)
    if name is None:
        raise UnknownArea(
            f"area code {code!r} is not a Chinese administrative code: give the six digits of a "
            "province, city or district, e.g. 330000 (浙江省), 330100 (杭州市), 330106 (西湖区)"
        )
    return Area(code, name, level_of(code))


def codes_named(name: str) -> list[str]:
    """Every code whose area is called ``name`` exactly (朝阳区 names two districts)."""
    return sorted(_by_name().get(name.strip(), ()))


def containing(code: str | None) -> tuple[str, ...]:
    """The codes an address in area ``code`` lies in, most specific first.

    ``330106`` → ``("330106", "330100", "330000")``; a municipality's district
    ``110105`` → ``("110105", "110000")``.
    """
    if not code or len(code) != 6 or not code.isdigit():
        return ()
    province = code[:2] + "0000"
    city = code[:4] + "00"
    chain = [code]
    if city != code and city not in chain:
        chain.append(city)
    if province not in chain:
        chain.append(province)
    if province in _MUNICIPALITY_CODES:
        chain = [c for c in chain if c == province or level_of(c) == "district"]
    return tuple(chain)


def city_code(code: str | None) -> str | None:
    """The code of the city an area lies in (a municipality's is its own; None for a province)."""
    if not code or (level_of(code) == "province" and code not in _MUNICIPALITY_CODES):
        return None
    if code[:2] + "0000" in _MUNICIPALITY_CODES:
        return code[:2] + "0000"
    if code[2:4] == "90":  # 省直辖县级行政区划: the county-level city is the city
        return code
    return code[:4] + "00"


def city_code_named(name: str) -> str | None:
    """The code of the city called ``name`` (杭州, 杭州市; 北京市 is its province code)."""
    bare = name.strip()
    for spelling in (bare, bare + "市", bare + "地区", bare + "自治州"):
        for code in codes_named(spelling):
            if code in _MUNICIPALITY_CODES or level_of(code) == "city" or code[2:4] == "90":
                return code
    return None


def code_for(city: str | None, district: str | None = None) -> str | None:
    """The most specific code for a city and district given by name (None if no city is known)."""
    if not city:
        return None
    city_code = city_code_named(city)
    if city_code is None:
        return None
    if district:
        prefix = city_code[:2] if city_code in _MUNICIPALITY_CODES else city_code[:4]
        for code in codes_named(district):
            if code.startswith(prefix) and level_of(code) == "district":
                return code
    return city_code
