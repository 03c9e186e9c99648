"""What every test run shares: the figures some tests report at the end of the run.

A test that tries many inputs (the bad-input table, the OpenAPI fuzzing) adds its
counts with the ``run_figures`` fixture; they are printed in a section of their
own after the results, so a CI log shows how much was tried even when all passed.
Under ``pytest -n N`` (pytest-xdist) each worker hands its figures to the controller
when it finishes, and the controller prints them all.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

_FIGURES: Counter[str] = Counter()
_LINES: list[str] = []


class RunFigures:
    def count(self, what: str, n: int = 1) -> None:
        """Add ``n`` to the counter named ``what``."""
        _FIGURES[what] += n

    def line(self, text: str) -> None:
        """A line printed as it is."""
        _LINES.append(text)


@pytest.fixture
def run_figures() -> RunFigures:
    return RunFigures()


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller prints
        workeroutput["run_figures"] = json.dumps({"counts": _FIGURES, "lines": _LINES})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """An xdist worker has finished: add its figures to this (the controller's) run."""
    sent = getattr(node, "workeroutput", {}).get("run_figures")
    if sent:
        figures = json.loads(sent)
        _FIGURES.update(figures["counts"])
        _LINES.extend(figures["lines"])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not (_FIGURES or _LINES):
        return
    terminalreporter.section("figures of this run")
    for what, n in sorted(_FIGURES.items()):
        terminalreporter.write_line(f"{what}: {n}")
    for text in _LINES:
        terminalreporter.write_line(text)
