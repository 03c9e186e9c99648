"""Bulk import of master data: a million order items with their orders, buyers and products.

**The data set** is generated deterministically and written as NDJSON files, one
per kind, as a marketplace would export them (not timed): :data:`FULL` is
5,000 products (variants of the demo's, so they carry its brands, categories,
badges, service tags and warranty months), 200,000 buyers (a third with a
second address) and 699,484 orders holding 1,000,000 items (one to three an
order), placed over two years. An order goes to one of its buyer's addresses,
as buyers reorder to the same places, so the items name about 240,000 distinct
address texts, written in full (province, city, district, street, number,
compound, building and room) for every district of the area table.
:data:`QUICK` (``--quick``, CI) is the same at 10,000 items.

**The import** runs in a process of its own (``python -m benchmarks.imports
--child …``) through the code ``aftersales import --jobs 2`` runs
(:func:`aftersales.worker.import_parts.import_files`): the files in
:data:`~aftersales.services.master_data.WRITE_ORDER` (buyers, products, orders),
each read by the product's reader a line at a time into batches of
:data:`BATCH_ROWS` rows (an order counts one row per item and is never split),
each batch one :func:`~aftersales.services.master_data.upsert` in its own unit of
work, committed; on PostgreSQL the orders by :data:`JOBS` processes, each loading
the orders whose id falls to its part (SQLite: one process). The database starts empty but for the demo catalogue (brands, shops,
providers); on PostgreSQL it is a database of its own, ``<name>_imports`` beside
the one ``--database-url`` names, whose tables are replaced. The time runs from
the start of the import (the address parser's loading included) to its last
commit; the peak RSS is the largest among the importing processes (the command's
``VmHWM``, the parts' ``ru_maxrss``; their peaks added up are reported too); the
CPU is theirs together; while it runs, the CPU of PostgreSQL's processes and of
the whole machine is sampled, so a run slowed by something else shows as such. Every run is checked: all records created, every
item stored with a city.

**The ceiling**, measured in the same run on the same rows: the order items the
import stored, exported once, then loaded with ``COPY … FROM STDIN`` from a file
into a scratch table shaped like ``order_items`` (its columns, primary key and
index, no foreign keys) in one transaction. COPY does none of what an import
must (checking each record, finding what it refers to, resolving addresses,
snapshotting entitlements, writing the orders, buyers and products too, a
transaction per batch), so the ratio says how much of the database's raw load
rate for its largest table the whole import reaches.

SQLite imports the same files once, into a fresh file.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, make_url, select, text

from aftersales.adapters.db import migrate
from aftersales.adapters.db import schema as s
from aftersales.adapters.db.engine import make_engine
from aftersales.services.imports import BATCH_ROWS  # rows per batch and unit of work
from benchmarks.common import (
    TICKS_PER_S,
    Figure,
    Report,
    Spread,
    ensure_database,
    machine_busy_ticks,
    peak_rss_kib,
    postgres_ticks,
)

GROUP = "imports"
SECONDS_TARGET = 60.0
JOBS = 2  # processes loading the orders on PostgreSQL (`aftersales import --jobs 2`): the cores
RSS_TARGET_MIB = 300.0
CHILD_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Shape:
    """How big the generated data set is."""

    items: int
    buyers: int
    products: int
    seed: int = 20261130

    @property
    def label(self) -> str:
        return f"{self.items:,} items"


FULL = Shape(items=1_000_000, buyers=200_000, products=5_000)
QUICK = Shape(items=10_000, buyers=2_000, products=250)


# ---------------------------------------------------------------- the data set

# The demo's kinds of product: name, brand, category, badges, service tags, warranty months.
_NW, _SI, _DH = "national_warranty", "scheduled_installation", "delivery_into_home"
_DI, _W3 = "delivery_with_installation", "three_year_warranty"
_TEMPLATES: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...], int | None], ...] = (
    ("LED 吸顶灯", "brand-guangming", "lighting", (), (_SI,), None),
    ("客厅吊灯", "brand-guangming", "lighting", (), (_SI,), None),
    ("智能开关面板", "brand-guangming", "electrical", (), (_SI,), None),
    ("抛光砖", "brand-shiji", "tiles", (), (_DH,), None),
    ("木纹砖", "brand-shiji", "tiles", (), (_DH,), None),
    ("橡木地板", "brand-senlin", "flooring", (), (_DH, _W3), None),
    ("智能马桶", "brand-qingquan", "bathroom", (), (_DH, _SI), None),
    ("淋浴花洒套装", "brand-qingquan", "bathroom", (), (_SI,), None),
    ("真皮三人沙发", "brand-yunmian", "sofa", (), (_DI,), None),
    ("橡木双人床", "brand-yunmian", "bed", (), (_DI, _W3), None),
    ("岩板餐桌", "brand-yunmian", "dining-table", (), (_DI,), None),
    ("定制衣柜", "brand-mufang", "wardrobe", (), (_DI, _W3), None),
    ("壁挂置物架", "brand-mufang", "storage", (), (_SI,), None),
    ("挂式空调", "brand-hanfeng", "air-conditioner", (_NW,), (_SI,), 72),
    ("电热水器", "brand-xinghe", "water-heater", (_NW,), (_SI,), 36),
    ("滚筒洗衣机", "brand-xinghe", "washing-machine", (_NW,), (_SI,), 36),
    ("对开门冰箱", "brand-xinghe", "refrigerator", (_NW,), (), 36),
    ("电水壶", "brand-xinghe", "small-kitchen", (_NW,), (), 12),
    ("手机", "brand-lingxi", "phone", (_NW,), (), 12),
    ("轻薄笔记本", "brand-lingxi", "laptop", (_NW,), (), 24),
    ("纯棉 T 恤", "brand-mianyu", "apparel", (), (), None),
)
_MERCHANTS = (
    "shop-guangming",
    "shop-jiaju",
    "shop-shiji",
    "shop-yunmian",
    "shop-mufang",
    "shop-xinghe",
    "shop-hanfeng",
    "shop-lingxi",
    "shop-mianyu",
)
_STREETS = (
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "文化路",
    "和平路",
    "新华路",
    "胜利路",
    "长江路",
    "黄河路",
    "迎宾大道",
    "世纪大道",
    "科技园路",
    "朝阳北路",
    "青年路",
    "学府路",
    "滨江路",
    "湖滨路",
    "花园路",
    "工业大道",
)
_COMPOUNDS = ("花园", "小区", "公寓", "家园", "新村", "苑", "府", "广场")
_MUNICIPALITIES = ("北京市", "上海市", "天津市", "重庆市")
_FIRST_PLACED = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
_SPAN = timedelta(days=800)  # orders are spread over this, the last well before today


def _districts() -> list[str]:
    """The "province city district" beginning of an address, for every district of the
    area table (a municipality's without a city; a county-level city's as its own)."""
    from aftersales.adapters import areas

    table = areas._table()
    found: list[str] = []
    for code, name in sorted(table.items()):
        if code.endswith("00"):
            continue
        province = table.get(code[:2] + "0000")
        city = table.get(code[:4] + "00")
        if province is None:
            continue
        if province in _MUNICIPALITIES or city in (None, "市辖区", "县"):
            if province not in _MUNICIPALITIES:
                continue
            city = ""
        elif city in ("省直辖县级行政区划", "自治区直辖县级行政区划"):
            city = ""
        found.append(f"{province}{city}{name}")
    return found


class DataSet:
    """The records of :class:`Shape`, generated on demand in the shape of ``master_records``.

    Everything is a function of the shape: buyer ``b``'s addresses, phone and
    name come from ``b``; orders from one seeded random stream. Nothing is kept.
    """

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self._districts = _districts()

    def products(self) -> Iterator[dict[str, Any]]:
        for n in range(self.shape.products):
            name, brand, category, badges, tags, months = _TEMPLATES[n % len(_TEMPLATES)]
            record: dict[str, Any] = {
                "id": f"pd-{n:05d}",
                "name": f"{name} 型号 {n:05d}",
                "brand_id": brand,
                "category": category,
                "badges": list(badges),
                "service_tags": list(tags),
            }
            if months is not None:
                record["warranty_months"] = months
            yield record

    def buyers(self) -> Iterator[dict[str, Any]]:
        for b in range(self.shape.buyers):
            yield {"id": self.buyer_id(b), "name": f"买家 {b:06d}", "phone": self.phone(b)}

    @staticmethod
    def buyer_id(b: int) -> str:
        return f"by-{b:06d}"

    @staticmethod
    def phone(b: int) -> str:
        return f"13{(b * 7_654_321 + 12_345_678) % 1_000_000_000:09d}"

    def address(self, b: int, which: int) -> str:
        """Buyer ``b``'s address ``which`` (0, or 1 for the two-address third of buyers)."""
        key = b * 2 + which
        district = self._districts[(key * 7_919) % len(self._districts)]
        street = _STREETS[(key * 31) % len(_STREETS)]
        compound = _COMPOUNDS[key % len(_COMPOUNDS)]
        return (
            f"{district}{street} {key % 997 + 1} 号 {street[:2]}{compound} "
            f"{key % 23 + 1} 栋 {key % 31 + 1}{key % 4 + 1:02d} 室"
        )

    def orders(self) -> Iterator[dict[str, Any]]:
        rng = random.Random(self.shape.seed)
        total = self.shape.items
        expected_orders = max(1, round(total / 1.43))
        step = _SPAN / expected_orders
        made = 0
        n = 0
        while made < total:
            count = min(rng.choices((1, 2, 3), weights=(70, 17, 13))[0], total - made)
            b = rng.randrange(self.shape.buyers)
            which = 1 if b % 3 == 0 and rng.random() < 0.5 else 0
            placed = _FIRST_PLACED + step * n
            day = placed.date()
            items = []
            for _ in range(count):
                product = rng.randrange(self.shape.products)
                items.append(
                    {
                        "id": f"it-{made:07d}",
                        "product_id": f"pd-{product:05d}",
                        "paid_price_fen": rng.randrange(1_000, 2_000_000),
                        "purchased_on": day.isoformat(),
                        "delivered_on": (day + timedelta(days=3)).isoformat(),
                        "status": "signed_for",
                    }
                )
                made += 1
            yield {
                "id": f"od-{n:07d}",
                "buyer_id": self.buyer_id(b),
                "merchant_id": _MERCHANTS[product % len(_MERCHANTS)],
                "placed_at": placed.isoformat(),
                "paid_at": (placed + timedelta(minutes=5)).isoformat(),
                "address": self.address(b, which),
                "contact_phone": self.phone(b),
                "items": items,
            }
            n += 1

    def write(self, directory: Path) -> dict[str, Path]:
        """The data set as NDJSON files, one per kind, as a marketplace would export it."""
        paths: dict[str, Path] = {}
        for kind, source in (
            ("product", self.products),
            ("buyer", self.buyers),
            ("order", self.orders),
        ):
            path = paths[kind] = directory / f"{kind}s.ndjson"
            with path.open("w", encoding="utf-8") as out:
                for record in source():
                    out.write(json.dumps(record, ensure_ascii=False))
                    out.write("\n")
        return paths


# ---------------------------------------------------------------- the import, in a child


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    """Import the files into ``spec['url']`` as ``aftersales import --jobs`` does; what it took."""
    from aftersales.bootstrap import bootstrap
    from aftersales.services import master_data as md
    from aftersales.services.imports import ImportReport
    from aftersales.settings import Settings
    from aftersales.worker.import_parts import FileToImport, import_files

    started = time.perf_counter()
    files = {kind: Path(path) for kind, path in spec["files"].items()}
    results: dict[str, dict[str, int]] = {}
    seconds: dict[str, float] = {}
    refused: list[str] = []
    with tempfile.TemporaryDirectory(prefix="aftersales-import-data-") as data_dir:
        container = bootstrap(Settings(database_url=spec["url"], data_dir=Path(data_dir)))
        gc.collect()
        gc.freeze()  # as `aftersales import` does once started
        try:
            for kind in [k for k in md.WRITE_ORDER if k in files]:
                began = time.perf_counter()
                done = import_files(
                    container,
                    [FileToImport(files[kind], kind)],
                    report=ImportReport(),
                    jobs=spec["jobs"],
                )
                seconds[kind] = time.perf_counter() - began
                results[kind] = dict(done.counts.get(kind, {}))
                refused += [f"{p.file}:{p.line}: {p.message}" for p in done.errors[:5]]
        finally:
            container.close()
    own = resource.getrusage(resource.RUSAGE_SELF)
    parts = resource.getrusage(resource.RUSAGE_CHILDREN)
    own_peak_kib = peak_rss_kib()  # not own.ru_maxrss: see peak_rss_kib
    return {
        "seconds": time.perf_counter() - started,
        "by_kind": seconds,
        "results": results,
        "refused": refused[:5],
        "maxrss_mib": max(own_peak_kib, parts.ru_maxrss) / 1024,
        "total_rss_mib": (own_peak_kib + (spec["jobs"] - 1) * parts.ru_maxrss) / 1024,
        "cpu_s": own.ru_utime + own.ru_stime + parts.ru_utime + parts.ru_stime,
        "jobs": spec["jobs"],
    }


@dataclass(frozen=True)
class ImportRun:
    """One import, as the importing process and the machine saw it."""

    seconds: float
    by_kind: dict[str, float]
    results: dict[str, dict[str, int]]
    refused: list[str]
    maxrss_mib: float  # the largest importing process
    total_rss_mib: float  # the importing processes' peaks added up (at most)
    cpu_s: float  # the importing processes
    jobs: int
    postgres_cpu_s: float = 0.0  # PostgreSQL's processes over the same time
    machine_cpu_s: float = 0.0  # every process of the machine over the same time

    def items_per_s(self, items: int) -> float:
        return items / self.seconds

    @property
    def other_cpu_s(self) -> float:
        """CPU the rest of the machine used meanwhile: more than a little makes the run slow."""
        return max(0.0, self.machine_cpu_s - self.cpu_s - self.postgres_cpu_s)


def _import_in_child(url: str, files: dict[str, Path], jobs: int) -> ImportRun:
    spec = {"url": url, "files": {k: str(p) for k, p in files.items()}, "jobs": jobs}
    meter = _CpuMeter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.imports", "--child", json.dumps(spec)],
            stdout=out,
            stderr=err,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        while child.poll() is None:
            meter.sample()
            if time.monotonic() > deadline:
                child.kill()
            time.sleep(0.25)
        meter.sample()
        if child.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"the import failed:\n{err.read()[-3000:]}")
        out.seek(0)
        found = json.loads(out.read().strip().splitlines()[-1])
    return ImportRun(**found, postgres_cpu_s=meter.postgres_s(), machine_cpu_s=meter.machine_s())


class _CpuMeter:
    """CPU seconds of PostgreSQL's processes and of the whole machine while a child runs.

    PostgreSQL is counted per process from its first sample to its last (a backend
    that ends between two samples loses at most that stretch).
    """

    def __init__(self) -> None:
        self.tick = 1 / TICKS_PER_S
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.machine: list[int] = []

    def sample(self) -> None:
        for pid, ticks in postgres_ticks().items():
            self.first.setdefault(pid, ticks)
            self.last[pid] = ticks
        self.machine.append(machine_busy_ticks())

    def postgres_s(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last) * self.tick

    def machine_s(self) -> float:
        return (self.machine[-1] - self.machine[0]) * self.tick if len(self.machine) > 1 else 0.0


# ---------------------------------------------------------------- the benchmark


def database_for(database_url: str) -> str:
    """The import benchmark's own database (it is emptied), beside ``database_url``'s."""
    url = make_url(database_url)
    return url.set(database=f"{url.database}_imports").render_as_string(hide_password=False)


def run(report: Report, *, quick: bool, database_url: str) -> None:
    database_url = database_for(database_url)
    shape = QUICK if quick else FULL
    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="aftersales-import-") as tmp:
        began = time.perf_counter()
        files = DataSet(shape).write(Path(tmp))
        size = sum(p.stat().st_size for p in files.values()) / 2**20
        print(
            f"  data set: {shape.label}, {shape.buyers:,} buyers, {shape.products:,} products "
            f"as NDJSON ({size:,.0f} MiB) in {time.perf_counter() - began:,.1f} s",
            flush=True,
        )
        pg_runs = [
            _postgres_run(database_url, shape, files, f"run {n + 1}/{repeats}")
            for n in range(repeats)
        ]
        engine = make_engine(database_url)
        try:
            copy_seconds = _copy_ceiling(engine, repeats=repeats)
        finally:
            engine.dispose()
        # SQLite: the same data set, once (about as long as one PostgreSQL run).
        lite_runs = [_sqlite_run(Path(tmp) / "import.sqlite3", shape, files, "run 1/1")]
    _report(report, shape, pg_runs, copy_seconds, lite_runs)


def _postgres_run(url: str, shape: Shape, files: dict[str, Path], label: str) -> ImportRun:
    ensure_database(url)
    engine = make_engine(url)
    try:
        _reset_postgres(engine)
        _load_catalogue(engine)
        done = _import_in_child(url, files, JOBS)
        _check(engine, shape, done)
    finally:
        engine.dispose()
    _progress(f"PostgreSQL {label}", shape, done)
    return done


def _sqlite_run(path: Path, shape: Shape, files: dict[str, Path], label: str) -> ImportRun:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        _load_catalogue(engine)
        done = _import_in_child(url, files, 1)  # one writer at a time on SQLite
        _check(engine, shape, done)
    finally:
        engine.dispose()
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()
    _progress(f"SQLite {label}", shape, done)
    return done


def _progress(label: str, shape: Shape, done: ImportRun) -> None:
    kinds = ", ".join(f"{k} {v:,.1f} s" for k, v in done.by_kind.items())
    print(
        f"  {label}: {shape.label} in {done.seconds:,.1f} s "
        f"({done.items_per_s(shape.items):,.0f} items/s; {kinds}), "
        f"peak RSS {done.maxrss_mib:,.0f} MiB (all {done.jobs} together ≤ "
        f"{done.total_rss_mib:,.0f} MiB); CPU: importers {done.cpu_s:,.1f} s, "
        f"PostgreSQL {done.postgres_cpu_s:,.1f} s, rest of the machine {done.other_cpu_s:,.1f} s",
        flush=True,
    )


def _report(
    report: Report,
    shape: Shape,
    pg_runs: list[ImportRun],
    copy_seconds: list[float],
    lite_runs: list[ImportRun],
) -> None:
    items = shape.items
    full = shape == FULL
    report.add(
        Figure(
            GROUP,
            f"PostgreSQL import of {shape.label} with their orders, buyers and products",
            "items/s",
            Spread.of([r.items_per_s(items) for r in pg_runs]),
            peer=Spread.of([items / s for s in copy_seconds]),
            peer_name="COPY of the same order-item rows alone",
            note=_note(shape, pg_runs),
        )
    )
    seconds = Spread.of([r.seconds for r in pg_runs])
    report.add(
        Figure(
            GROUP,
            f"PostgreSQL import of {shape.label}, end to end",
            "s",
            seconds,
            better="lower",
            peer=Spread.of(copy_seconds),
            peer_name="COPY of the order-item rows alone",
            target=f"≤{SECONDS_TARGET:g} s" if full else "",
            met=seconds.median <= SECONDS_TARGET if full else None,
        )
    )
    rss = Spread.of([r.maxrss_mib for r in pg_runs])
    report.add(
        Figure(
            GROUP,
            f"peak RSS of the PostgreSQL import of {shape.label}",
            "MiB",
            rss,
            better="lower",
            target=f"≤{RSS_TARGET_MIB:g} MiB" if full else "",
            met=rss.high <= RSS_TARGET_MIB if full else None,
            note=f"the largest importing process's peak: the command's (VmHWM), or one of the "
            f"{JOBS} loading parts of the orders",
        )
    )
    report.add(
        Figure(
            GROUP,
            f"peak RSS of all the PostgreSQL import's processes together, {shape.label}",
            "MiB",
            Spread.of([r.total_rss_mib for r in pg_runs]),
            better="lower",
            note=f"the command's process plus {JOBS} part processes, each at its own peak "
            "(an upper bound: the peaks need not coincide)",
        )
    )
    lite_seconds = Spread.of([r.seconds for r in lite_runs])
    report.add(
        Figure(
            GROUP,
            f"SQLite import of {shape.label} with their orders, buyers and products",
            "items/s",
            Spread.of([r.items_per_s(items) for r in lite_runs]),
            note=f"{lite_seconds.text()} s; " + _note(shape, lite_runs),
        )
    )
    report.add(
        Figure(
            GROUP,
            f"peak RSS of the SQLite import of {shape.label}",
            "MiB",
            Spread.of([r.maxrss_mib for r in lite_runs]),
            better="lower",
        )
    )


def _note(shape: Shape, runs: list[ImportRun]) -> str:
    first = runs[0]
    orders = sum(first.results.get("order", {}).values())
    kinds = ", ".join(
        f"{k} {Spread.of([r.by_kind[k] for r in runs]).text()} s" for k in first.by_kind
    )

    def cpu(part: str) -> str:
        return Spread.of([getattr(r, part) for r in runs]).text("{:,.0f}")

    return (
        f"{shape.products:,} products, {shape.buyers:,} buyers, {orders:,} orders, read from "
        f"NDJSON in batches of {BATCH_ROWS:,} rows, one transaction each, the orders by "
        f"{first.jobs} process(es); by kind: {kinds}; "
        f"CPU s: importers {cpu('cpu_s')}, PostgreSQL {cpu('postgres_cpu_s')}, "
        f"rest of the machine {cpu('other_cpu_s')}"
    )


# ---------------------------------------------------------------- the database


def _reset_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)


def _load_catalogue(engine: Engine) -> None:
    """The demo's brands, shops and providers (and its few products and buyers)."""
    from aftersales.demo import dataset as demo
    from aftersales.testing import services_on

    demo.load_demo(services_on(engine))


def _check(engine: Engine, shape: Shape, done: ImportRun) -> None:
    """Every record was created and the tables hold them all; stop the run if not."""
    problems = [
        f"{kind}: {found}" for kind, found in done.results.items() if set(found) != {"created"}
    ]
    with engine.connect() as conn:
        counts = tuple(
            conn.execute(select(func.count()).where(table.c.id.like(f"{prefix}-%"))).scalar_one()
            for table, prefix in ((s.order_items, "it"), (s.buyers, "by"), (s.products, "pd"))
        )
        unplaced = conn.execute(
            select(func.count()).where(
                s.order_items.c.id.like("it-%"), s.order_items.c.city.is_(None)
            )
        ).scalar_one()
    expected = (shape.items, shape.buyers, shape.products)
    if counts != expected:
        problems.append(f"stored items, buyers, products {counts} ≠ {expected}")
    if unplaced:
        problems.append(f"{unplaced:,} items stored without a city")
    if problems:
        raise RuntimeError(
            "the import did not store the data set: " + "; ".join(problems + done.refused)
        )


def _copy_ceiling(engine: Engine, *, repeats: int) -> list[float]:
    """Seconds to COPY the stored order items into a fresh table shaped like order_items
    (its columns, primary key and index; no foreign keys), from a file, in one transaction."""
    seconds: list[float] = []
    with tempfile.TemporaryFile() as dump:
        raw = engine.raw_connection()
        try:
            cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy("COPY order_items TO STDOUT") as copy:
                for block in copy:
                    dump.write(block)
            raw.commit()
            for _ in range(repeats):
                cursor.execute("DROP TABLE IF EXISTS import_ceiling")
                cursor.execute(
                    "CREATE TABLE import_ceiling (LIKE order_items "
                    "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
                )
                raw.commit()
                dump.seek(0)
                began = time.perf_counter()
                with cursor.copy("COPY import_ceiling FROM STDIN") as copy:
                    while block := dump.read(1 << 20):
                        copy.write(block)
                raw.commit()
                seconds.append(time.perf_counter() - began)
                print(f"  COPY ceiling: {seconds[-1]:,.1f} s", flush=True)
            cursor.execute("DROP TABLE IF EXISTS import_ceiling")
            raw.commit()
        finally:
            raw.close()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.imports")
    parser.add_argument("--child", help="(internal) run one import and print what it took")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))), flush=True)
        return 0
    parser.error("run the suite with: python -m benchmarks --only imports")
    return 2


if __name__ == "__main__":
    sys.exit(main())
