"""Reading policy documents from TOML files into a checked :class:`PolicyBook`.

The shipped documents live in the ``aftersales.policies`` package. Operations can
point at further directories; a file there replaces the shipped file of the same
name (for example a ``calendars.toml`` with next year's holiday overrides), and
new files add documents (a new programme version). Every problem raises
:class:`PolicyError` naming the file, the field and what is wrong.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from aftersales.domain.calendars import BusinessCalendar, load_calendars
from aftersales.domain.errors import PolicyError
from aftersales.domain.policy import Document, PolicyBook, parse_document

CALENDARS_FILE = "calendars.toml"


def builtin_policy_dir() -> Path:
    return Path(str(resources.files("aftersales") / "policies"))


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(path), "", f"cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(str(path), "", "is not UTF-8 text") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(str(path), "", f"is not valid TOML: {exc}") from exc


def policy_files(directories: Iterable[Path]) -> dict[str, Path]:
    """The TOML files to load by name; later directories replace earlier ones' files."""
    chosen: dict[str, Path] = {}
    for directory in directories:
        if not directory.is_dir():
            raise PolicyError(str(directory), "", "is not a directory of policy files")
        for path in sorted(directory.glob("*.toml")):
            chosen[path.name] = path
    return chosen


def load_policy_book(extra_dirs: Iterable[Path] = ()) -> PolicyBook:
    """Load the shipped policies, overlaid with ``extra_dirs``, and check them together."""
    files = policy_files([builtin_policy_dir(), *extra_dirs])
    if CALENDARS_FILE not in files:
        raise PolicyError(CALENDARS_FILE, "", "no calendars file was found")
    calendars: Mapping[str, BusinessCalendar] = load_calendars(
        read_toml(files[CALENDARS_FILE]), str(files[CALENDARS_FILE])
    )
    documents: list[tuple[str, Document]] = []
    for name, path in files.items():
        if name == CALENDARS_FILE:
            continue
        documents.append((str(path), parse_document(read_toml(path), str(path))))
    return PolicyBook(documents, calendars)
