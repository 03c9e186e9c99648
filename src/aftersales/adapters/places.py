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


class ChinaPlaces:
    """:class:`~aftersales.services.ports.Places` for addresses in mainland China."""

    def __init__(self, resolver: AddressResolver | None = None, *, remember: int = 200_000) -> None:
        self.resolver = resolver or AddressResolver()
        self._remember = remember
        self._known: OrderedDict[str, ServiceAddress | None] = OrderedDict()
        self._lock = threading.Lock()

    def resolve_many(self, texts: Sequence[str]) -> list[ServiceAddress | None]:
        found: dict[str, ServiceAddress | None] = {}
        with self._lock:
            for text in texts:
                place = self._known.get(text, _MISSING)
                if place is not _MISSING:
                    found[text] = place  # type: ignore[assignment]
        unknown = sorted({t for t in texts if t not in found})
        if unknown:
            resolved = self.resolver.resolve_many(unknown)
            with self._lock:
                for text, place in zip(unknown, resolved, strict=True):
                    found[text] = place
                    self._known[text] = place
                while len(self._known) > self._remember:
                    self._known.popitem(last=False)
        return [found[t] for t in texts]

    def area(self, code: str) -> tuple[str, str]:
        place = areas.area(code)
        return place.name, place.level

    def containing(self, code: str | None) -> tuple[str, ...]:
        return areas.containing(code)
