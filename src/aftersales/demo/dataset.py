"""The demo data set: data files shipped in the package, loaded through master data.

``data/catalogue.ndjson`` holds the marketplace's side — ten brands with their
400 hotlines, warranty terms, exclusions (NW-8) and service centres (NW-3); nine
shops; forty buyers; providers whose coverage together reaches every city of
the one-click-help list (OH-2) for every service on its categories (OH-1), with
delivery into the home left uncovered in :data:`DELIVERY_GAP_CITIES` so dispatch
there falls back to the merchant (OH-3); products across both programmes.
``data/orders.ndjson`` holds the buyers' orders, addresses written as buyers
type them, a few outside the covered cities and a few bought long ago (out of
warranty, NW-1).

Both are records in the shape the API and ``aftersales import`` take
(``docs/integration.md``), loaded by :func:`load_demo` through the same
:func:`~aftersales.services.master_data.upsert` as any marketplace's data: the
catalogue into live data, the orders into a sandbox. Purchase and delivery dates
are laid out before :data:`DEMO_TODAY`, so warranty periods come out the same
whenever the demo is played. The ids below name the records a demo or a test
can act on without searching.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from aftersales.errors import ConfigurationError
from aftersales.services import imports
from aftersales.services.base import Services
from aftersales.services.master_data import World
from aftersales.services.records import LIVE

__all__ = [
    "DEMO_TODAY",
    "DemoDataError",
    "LoadReport",
    "catalogue_records",
    "load_demo",
    "order_records",
]

# The demo's "today": purchase and delivery dates are laid out before it, so
# warranty periods (NW-1) come out the same whenever the demo is built.
DEMO_TODAY = date(2026, 11, 24)

# ---------------------------------------------------------------- well-known ids

DEMO_BUYER = "buyer-001"

BRAND_GUANGMING = "brand-guangming"  # lighting
BRAND_SHIJI = "brand-shiji"  # tiles
BRAND_SENLIN = "brand-senlin"  # flooring
BRAND_QINGQUAN = "brand-qingquan"  # bathroom fittings
BRAND_YUNMIAN = "brand-yunmian"  # furniture
BRAND_MUFANG = "brand-mufang"  # wardrobes and storage
BRAND_XINGHE = "brand-xinghe"  # home and kitchen appliances
BRAND_HANFENG = "brand-hanfeng"  # air conditioners
BRAND_LINGXI = "brand-lingxi"  # phones and laptops
BRAND_MIANYU = "brand-mianyu"  # apparel (no after-sales programme)

MERCHANT_GUANGMING = "shop-guangming"
MERCHANT_HOME = "shop-jiaju"  # a multi-brand home-furnishing shop
MERCHANT_SHIJI = "shop-shiji"
MERCHANT_YUNMIAN = "shop-yunmian"
MERCHANT_MUFANG = "shop-mufang"
MERCHANT_XINGHE = "shop-xinghe"
MERCHANT_HANFENG = "shop-hanfeng"
MERCHANT_LINGXI = "shop-lingxi"
MERCHANT_MIANYU = "shop-mianyu"

PRODUCT_LAMP = "lamp-48w"
PRODUCT_TILES = "tile-800"
PRODUCT_SOFA = "sofa-leather-3"
PRODUCT_WARDROBE = "wardrobe-custom"
PRODUCT_AC = "ac-15"
PRODUCT_KETTLE = "kettle-k1"
PRODUCT_PHONE = "phone-x1"
PRODUCT_LAPTOP = "laptop-air14"
PRODUCT_TSHIRT = "tshirt-cotton"

# Order items a demo can act on (OH and NW), each with its buyer and city.
ITEM_LAMP_HANGZHOU = "item-lamp-hangzhou"  # lamp + scheduled installation, 杭州市
ITEM_LAMP_BEIJING = "item-lamp-beijing"  # a municipality's address
ITEM_TILES_GUANGZHOU = "item-tiles-guangzhou"  # tiles + delivery into the home, 广州市
ITEM_SOFA_CHENGDU = "item-sofa-chengdu"  # sofa + delivery with installation, 成都市
ITEM_WARDROBE_NANJING = "item-wardrobe-nanjing"  # wardrobe + three-year warranty, 南京市
ITEM_AC_WUHAN = "item-ac-wuhan"  # national warranty + installation, in warranty
ITEM_KETTLE_SHANGHAI = "item-kettle-shanghai"  # national-warranty kettle, in warranty
ITEM_PHONE_OUT_OF_WARRANTY = "item-phone-old"  # national warranty, bought long ago
ITEM_LAPTOP_OUT_OF_WARRANTY = "item-laptop-old"  # national warranty, bought long ago
ITEM_LAMP_NGARI = "item-lamp-ngari"  # 西藏 阿里地区: not a covered city (OH-2)
ITEM_TILES_KASHGAR = "item-tiles-kashgar"  # 新疆 喀什地区: not a covered city (OH-2)
ITEM_TILES_LHASA = "item-tiles-lhasa"  # covered city, no delivery provider: the merchant (OH-3)
ITEM_TSHIRT = "item-tshirt"  # in no programme at all

PROVIDER_HANGZHOU_LIGHTING = "hz-install-01"  # registered on 灯具灯饰 in 杭州市
PROVIDER_EAST_INSTALLER = "inst-east"  # registered on 家装建材 across 华东
PROVIDER_HANFENG_CENTRE = "svc-hanfeng"  # the AC brand's own installers, every city

# OH-3 fallback on purpose: nobody delivers building materials into the home here.
DELIVERY_GAP_CITIES: tuple[str, ...] = ("拉萨市", "西宁市")


# ---------------------------------------------------------------- the files


def _records(name: str) -> Iterator[dict[str, Any]]:
    text = (files("aftersales.demo") / "data" / name).read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


def catalogue_records() -> list[dict[str, Any]]:
    """Brands, shops, buyers, providers and products, as the marketplace would send them."""
    return list(_records("catalogue.ndjson"))


def order_records() -> list[dict[str, Any]]:
    """The buyers' orders with their items."""
    return list(_records("orders.ndjson"))


class DemoDataError(ConfigurationError):
    """A demo record was refused: the shipped files and the policies disagree."""


@dataclass(frozen=True)
class LoadReport:
    """Per kind, how many records were created, updated, unchanged (and nothing refused)."""

    results: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, kind: str, result: str | None = None) -> int:
        found = self.results.get(kind, Counter())
        return sum(found.values()) if result is None else found[result]


def load_demo(
    svc: Services,
    *,
    orders_into: World | None = None,
    catalogue: bool = True,
    folder: Traversable | None = None,
) -> LoadReport:
    """Import the catalogue into live data and, if given, the orders into ``orders_into``.

    The shipped files go through the importer (``aftersales import``) as any
    marketplace's files do. Loading again changes nothing (every record comes
    back ``unchanged``). In the caller's unit of work when one is open; a refused
    record raises :class:`DemoDataError` naming the first, and nothing is kept.
    ``folder`` holds ``catalogue.ndjson`` and ``orders.ndjson`` (the shipped ones
    by default).
    """
    from aftersales.bootstrap import open_import_file

    folder = folder if folder is not None else files("aftersales.demo") / "data"
    runs: list[tuple[World, str]] = []
    if catalogue:
        runs.append((World.of(LIVE), "catalogue.ndjson"))
    if orders_into is not None:
        runs.append((orders_into, "orders.ndjson"))
    results: dict[str, Counter[str]] = {}
    with svc.uow() as uow:
        for world, name in runs:
            with (folder / name).open("rb") as stream:
                source = open_import_file(stream, name=name)
                report = imports.run_import(svc, [source], world=world)
            if report.error_count:
                first = report.errors[0]
                raise DemoDataError(
                    f"the demo's {first.file}, line {first.line}, was refused: "
                    f"{first.field or 'record'}: {first.message}"
                )
            for kind, by_result in report.counts.items():
                results.setdefault(kind, Counter()).update(by_result)
        uow.commit()
    return LoadReport(results)
