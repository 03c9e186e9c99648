"""The domain package does no I/O and never reads the clock: time is an argument."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import aftersales.domain

DOMAIN = Path(aftersales.domain.__file__).parent
FORBIDDEN_MODULES = {
    "sqlalchemy",
    "fastapi",
    "starlette",
    "httpx",
    "requests",
    "socket",
    "os",
    "subprocess",
    "sqlite3",
    "psycopg",
    "asyncio",
    "shutil",
    "tempfile",
    "urllib",
    "http",
    "logging",
    "io",
}
FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "sleep"),
    ("os", "environ"),
    ("os", "getenv"),
}


def _modules() -> list[Path]:
    files = sorted(DOMAIN.glob("*.py"))
    assert len(files) >= 10, "the domain package should be found"
    return files


def test_domain_imports_no_io_or_framework_modules() -> None:
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN_MODULES
            ]
    assert offenders == []


def test_domain_never_reads_the_clock_or_the_environment() -> None:
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in FORBIDDEN_CALLS
            ):
                offenders.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
            if isinstance(node, ast.Name) and node.id == "open":
                offenders.append(f"{path.name}:{node.lineno}: open")
    assert offenders == []


def test_importing_the_domain_loads_no_database_or_web_framework() -> None:
    code = (
        "import sys, importlib, pkgutil, aftersales.domain as d\n"
        "for m in pkgutil.iter_modules(d.__path__): importlib.import_module('aftersales.domain.' + m.name)\n"
        "print(' '.join(sorted(k for k in sys.modules if k.split('.')[0] in "
        "{'sqlalchemy','fastapi','starlette','httpx','requests','psycopg','sqlite3'})))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == ""


def test_the_guard_itself_catches_a_clock_read(tmp_path: Path) -> None:
    sample = "from datetime import datetime\nx = datetime.now()\n"
    hits = [
        n
        for n in ast.walk(ast.parse(sample))
        if isinstance(n, ast.Attribute)
        and isinstance(n.value, ast.Name)
        and (n.value.id, n.attr) in FORBIDDEN_CALLS
    ]
    assert len(hits) == 1
