"""A brand's after-sales information, which consumers can look up (NW-3).

The hotline, the service centres by city, the warranty terms and the faults the
warranty does not cover (NW-8) are shown to the consumer before and while they
report a fault.
"""

from __future__ import annotations

from dataclasses import dataclass

from aftersales.domain.explain import Bilingual
from aftersales.domain.policy import normalise_city


@dataclass(frozen=True)
class ServiceCentre:
    name: str
    city: str
    address: str
    phone: str
    hours: str = ""


@dataclass(frozen=True)
class BrandAfterSales:
    brand_id: str
    name: str
    hotline: str  # the brand's 400 line (NW-2a)
    warranty_terms: Bilingual
    exclusions: tuple[Bilingual, ...] = ()  # NW-8: faults not covered, e.g. damage by misuse
    centres: tuple[ServiceCentre, ...] = ()

    def centres_in(self, city: str) -> tuple[ServiceCentre, ...]:
        """The brand's service centres in ``city`` (杭州 and 杭州市 are the same city)."""
        wanted = normalise_city(city)
        return tuple(c for c in self.centres if normalise_city(c.city) == wanted)

    @property
    def cities(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for centre in self.centres:
            seen.setdefault(centre.city, None)
        return tuple(seen)
