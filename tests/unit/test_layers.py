"""The layer contract: which package may import which (docs/architecture.md draws it).

Imports point one way — entry points → services → domain — and storage sits
behind the ports the services declare:

* the domain imports nothing outside itself (also: ``test_domain_purity.py``);
* services import the domain, the error tree and their ports, never SQLAlchemy
  or an adapter;
* nothing in the package imports ``aftersales.testing`` (scaffolding for tests
  and benchmarks);
* the entry points reach adapters only through ``bootstrap``, and only the
  command line imports the demo (the API and pages get "a sandbox with the
  demo's orders" from a callable bootstrap puts on the container).

Every module is read with ``ast``, so an import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import aftersales

PACKAGE = Path(aftersales.__file__).parent


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(folder: str) -> dict[str, set[str]]:
    root = PACKAGE / folder if folder else PACKAGE
    return {
        str(path.relative_to(PACKAGE.parent)): _imports(path)
        for path in sorted(root.rglob("*.py"))
        if "migrations" not in path.parts
    }


def _crossings(modules: dict[str, set[str]], forbidden: tuple[str, ...]) -> set[str]:
    return {
        f"{module} -> {name}"
        for module, names in modules.items()
        for name in names
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    }


def test_the_domain_imports_nothing_outside_itself() -> None:
    outside = {
        f"{module} -> {name}"
        for module, names in _modules("domain").items()
        for name in names
        if name.startswith("aftersales.") and not name.startswith("aftersales.domain")
    }
    assert outside == set()


def test_services_import_no_sqlalchemy_and_no_adapter() -> None:
    forbidden = (
        "sqlalchemy",
        "psycopg",
        "sqlite3",
        "httpx",
        "fastapi",
        "aftersales.adapters",
        "aftersales.entrypoints",
        "aftersales.bootstrap",
        "aftersales.demo",
    )
    assert _crossings(_modules("services"), forbidden) == set()


def test_nothing_in_the_package_imports_the_testing_scaffolding() -> None:
    modules = {m: names for m, names in _modules("").items() if "/testing/" not in m}
    assert _crossings(modules, ("aftersales.testing",)) == set()


def test_entry_points_reach_adapters_only_through_bootstrap() -> None:
    assert _crossings(_modules("entrypoints"), ("aftersales.adapters",)) == set()


def test_only_the_command_line_reaches_the_demo() -> None:
    modules = {m: names for m, names in _modules("entrypoints").items() if "/cli/" not in m}
    assert _crossings(modules, ("aftersales.demo",)) == set()
