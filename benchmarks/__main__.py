"""``python -m benchmarks [--quick] [--only calendar intake deadlines trickle readmodels memory imports soak slots dispatch] [--markdown FILE]``."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from benchmarks.common import Report, calibration_line, machine_description, markdown_table

SUITES = (
    "calendar",
    "intake",
    "deadlines",
    "trickle",
    "readmodels",
    "memory",
    "imports",
    "soak",
    "slots",
    "dispatch",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small inputs and few repeats: a smoke run in under two minutes",
    )
    parser.add_argument("--only", nargs="+", choices=SUITES, default=list(SUITES))
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/aftersales_bench",
        help="the PostgreSQL database the intake and deadline benchmarks use; created if missing, its tables are replaced",
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)

    report = Report()
    started = time.perf_counter()
    machine = [*machine_description(args.database_url), calibration_line()]
    for line in machine:
        print(f"# {line}")
    for name in args.only:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"\n== {name}{' (quick)' if args.quick else ''}", flush=True)
        suite_started = time.perf_counter()
        module.run(report, quick=args.quick, database_url=args.database_url)
        print(f"   ({name}: {time.perf_counter() - suite_started:,.1f} s)", flush=True)
    print(f"\n== table ({time.perf_counter() - started:,.0f} s in all)\n")
    table = markdown_table(report.figures)
    print(table)
    if args.markdown:
        described = "\n".join(f"- {line}" for line in machine)
        args.markdown.write_text(f"{described}\n\n{table}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
