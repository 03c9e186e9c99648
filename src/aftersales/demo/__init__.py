"""The demo: data files of a small marketplace, loaded as any marketplace's data.

See :mod:`aftersales.demo.dataset`; its well-known ids name the records a demo or
a test can act on without searching.
"""

from __future__ import annotations

from aftersales.demo.dataset import DEMO_TODAY, LoadReport, load_demo

__all__ = ["DEMO_TODAY", "LoadReport", "load_demo"]
