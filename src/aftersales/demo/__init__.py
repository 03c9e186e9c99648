"""A demo data set: brands, shops, providers covering every one-click-help city, orders.

See :mod:`aftersales.demo.dataset`; its well-known ids name the items a demo or a
test can act on without searching.
"""

from __future__ import annotations

from aftersales.demo.dataset import (
    DEMO_SEED,
    DEMO_TODAY,
    Dataset,
    LoadReport,
    build_dataset,
    load_dataset,
)

__all__ = ["DEMO_SEED", "DEMO_TODAY", "Dataset", "LoadReport", "build_dataset", "load_dataset"]
