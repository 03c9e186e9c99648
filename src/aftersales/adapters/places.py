"""Places: the address parser and the table of administrative areas behind one port.

Addresses repeat (a buyer orders again, an import holds many orders to one
compound), so resolved texts are remembered, up to a bound.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from aftersales.adapters import areas
from aftersales.adapters.addresses import AddressResolver
from aftersales.domain.eligibility import ServiceAddress

_MISSING = object()
_Parts = tuple[str | None, str | None, str | None, str | None]


class ChinaPlaces:
    """:class:`~aftersales.services.ports.Places` for addresses in mainland China."""

    def __init__(self, resolver: AddressResolver | None = None, *, remember: int = 200_000) -> None:
        self.resolver = resolver or AddressResolver()
        self._remember = remember
        # text -> (province, city, district, area code), or None when no city was found.
        # Plain tuples of text: the garbage collector leaves them alone, however many.
        self._known: OrderedDict[str, _Parts | None] = OrderedDict()
        # One tuple for each place remembered: the texts of one district share it (a
        # million orders name a few hundred thousand texts in a few thousand districts).
        self._places: dict[_Parts, _Parts] = {}
        self._lock = threading.Lock()

    def resolve_many(self, texts: Sequence[str]) -> list[ServiceAddress | None]:
        found: dict[str, ServiceAddress | None] = {}
        unknown: set[str] = set()
        with self._lock:
            known = self._known
            for text in texts:
                if text in found:
                    continue
                parts = known.get(text, _MISSING)
                if parts is _MISSING:
                    unknown.add(text)
                else:
                    found[text] = None if parts is None else ServiceAddress(text, *parts)  # type: ignore[misc]
        if unknown:
            ordered = sorted(unknown)
            resolved = self.resolver.resolve_many(ordered)
            with self._lock:
                for text, place in zip(ordered, resolved, strict=True):
                    found[text] = place
                    if place is None:
                        self._known[text] = None
                        continue
                    parts = (place.province, place.city, place.district, place.area_code)
                    self._known[text] = self._places.setdefault(parts, parts)
                while len(self._known) > self._remember:
                    self._known.popitem(last=False)
        return [found[t] for t in texts]

    def area(self, code: str) -> tuple[str, str]:
        place = areas.area(code)
        return place.name, place.level

    def containing(self, code: str | None) -> tuple[str, ...]:
        return areas.containing(code)

    def distance_km(self, a: str | None, b: str | None) -> float | None:
        return areas.distance_km(a, b)
