"""Reproducible performance runs: ``python -m benchmarks [--quick] [--only NAME ...]``.

Each module measures one capability against a peer or a ceiling *in the same run,
on the same inputs*, and reports medians with min and max over repeated runs.
"""
