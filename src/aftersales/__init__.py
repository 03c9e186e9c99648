"""aftersales: after-sales commitments for e-commerce marketplaces, kept as SLA clocks.

Layers (imports point one way): ``entrypoints`` -> ``services`` -> ``domain``;
``adapters`` implement the ports that services declare. The ``domain`` package is
pure: no I/O, no clock reads, no environment.
"""

__version__ = "0.1.0"
