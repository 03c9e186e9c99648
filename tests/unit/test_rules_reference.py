"""docs/rules.md lists every rule ID; each must be exercised by a test named after it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULE_ROW = re.compile(r"^\|\s*((?:NW|OH|SS|X)-\d+)\s*\|", re.MULTILINE)


def _rule_ids() -> list[str]:
    return RULE_ROW.findall((ROOT / "docs" / "rules.md").read_text(encoding="utf-8"))


def _test_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_"
            ):
                names.add(node.name)
    return names


def test_rules_reference_lists_every_rule_of_the_catalogue() -> None:
    ids = _rule_ids()
    expected = (
        [f"NW-{n}" for n in range(1, 9)]
        + [f"OH-{n}" for n in range(1, 10)]
        + [f"SS-{n}" for n in range(1, 6)]
        + [f"X-{n}" for n in range(1, 5)]
    )
    assert ids == expected


def test_every_rule_id_is_exercised_by_a_test_named_after_it() -> None:
    names = _test_names()
    missing = []
    for rule_id in _rule_ids():
        token = re.compile(rf"(^|_){rule_id.replace('-', '_').lower()}(_|$)")
        if not any(token.search(name) for name in names):
            missing.append(rule_id)
    assert missing == [], f"rules with no test named after them: {missing}"


def test_every_rule_cited_by_a_shipped_policy_is_in_the_reference() -> None:
    documented = set(_rule_ids())
    cited: set[str] = set()
    for path in (ROOT / "src" / "aftersales" / "policies").glob("*.toml"):
        cited |= set(re.findall(r'"((?:NW|OH|SS|X)-\d+)"', path.read_text(encoding="utf-8")))
    assert cited <= documented
