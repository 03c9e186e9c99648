"""An import's files of orders loaded by several processes side by side.

Checking and building order rows is Python work, one core's worth per process;
the database takes rows far faster than one process makes them (COPY of a
million item rows takes seconds). So ``aftersales import --jobs N`` keeps the
files in the order given, loads every other file here as usual, and hands each
run of consecutive files of orders to N loaders, each loading one
:class:`~aftersales.services.imports.Part` of the orders (split by order id, so
the rows and versions of one order stay together and in order): part 0 in this
process, the others in processes of their own.

Those are started fresh (``spawn``: nothing of this process's connections or
threads is copied), build their own container from the same settings, and send
back, through one queue, every row problem as they find it (a thread here writes
them to the errors file, as a single import would) and their report at the end;
their progress is shared in an array the progress bar reads. One failing part
stops the others; what they committed stays, as an interrupted single import
keeps its batches.

Parts only pay off where writers do not wait for one another: on PostgreSQL.
SQLite lets one writer at a time, so there the files are loaded by this process.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aftersales.bootstrap import Container, bootstrap, open_import_file
from aftersales.errors import InvalidRequest
from aftersales.services import imports
from aftersales.services import master_data as md
from aftersales.services.imports import ImportReport, Part, Progress, RowProblem, RowSource
from aftersales.settings import Settings

_POLL_S = 0.2


@dataclass(frozen=True)
class FileToImport:
    """A file as the command was given it: where it is, and the kind it was said to hold."""

    path: Path
    kind: str | None = None


def import_files(
    container: Container,
    files: Sequence[FileToImport],
    *,
    report: ImportReport,
    jobs: int = 1,
    sandbox: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Load ``files`` in order into live data (or ``sandbox``), files of orders in ``jobs`` parts.

    Every file is opened and checked first; when one is refused nothing is loaded
    (as :func:`imports.run_import` does). A dry run, SQLite, or ``jobs`` of 1 load
    everything in this process.
    """
    svc = container.services
    world = md.world_of(svc, sandbox)
    sources: list[RowSource] = []
    try:
        for file in files:
            try:
                sources.append(open_import_file(file.path, kind=file.kind))
            except InvalidRequest as exc:
                report.files.append(str(file.path))
                report.refuse_file(str(file.path), str(exc))
        if report.refused_files or jobs <= 1 or dry_run or container.settings.is_embedded:
            if report.refused_files:
                return report
            return imports.run_import(
                svc, sources, world=world, dry_run=dry_run, report=report, progress=progress
            )
        for source in sources:
            report.files.append(source.name)
            report.notices.extend(source.notices)
            why = imports.check_source(source)
            if why is not None:
                report.refuse_file(source.name, why)
        if report.refused_files:
            return report
        totals = [s.bytes_total for s in sources]
        report.bytes_total = None if None in totals else sum(t or 0 for t in totals)
    finally:
        for source in sources:
            source.close()
    done_bytes = 0
    for group in _runs(files, sources):
        group_files = [f for f, _ in group]
        if imports.splits_by_order(group[0][1]):
            _in_parts(container, group_files, jobs, sandbox, report, progress, done_bytes)
        else:
            opened = [open_import_file(f.path, kind=f.kind) for f in group_files]
            part_report = ImportReport(sink=report.sink)
            imports.run_import(svc, opened, world=world, report=part_report)
            report.merge(part_report)
        done_bytes += sum(s.bytes_total or 0 for _, s in group)
        report.bytes_read = done_bytes
        if progress is not None:
            progress(report.rows_read, report.bytes_read, report.bytes_total)
    return report


def _runs(
    files: Sequence[FileToImport], sources: Sequence[RowSource]
) -> list[list[tuple[FileToImport, RowSource]]]:
    """Consecutive files grouped by whether they are files of orders, order kept."""
    groups: list[list[tuple[FileToImport, RowSource]]] = []
    for file, source in zip(files, sources, strict=True):
        if groups and imports.splits_by_order(groups[-1][0][1]) == imports.splits_by_order(source):
            groups[-1].append((file, source))
        else:
            groups.append([(file, source)])
    return groups


def _in_parts(
    container: Container,
    files: list[FileToImport],
    jobs: int,
    sandbox: str | None,
    report: ImportReport,
    progress: Progress | None,
    done_bytes: int,
) -> None:
    """Part 0 here, parts 1 … jobs-1 in processes of their own, all at once."""
    context = mp.get_context("spawn")
    messages: Any = context.Queue()
    shared: Any = context.Array("q", 2 * jobs)  # rows read and bytes read, per part
    workers = [
        context.Process(
            target=_load_part,
            args=(container.settings, files, Part(index, jobs), sandbox, messages, shared),
            name=f"import-part-{index}",
            daemon=True,
        )
        for index in range(1, jobs)
    ]
    for worker in workers:
        worker.start()
    inbox = _Inbox(messages, report, len(workers))
    listening = threading.Thread(target=inbox.listen, name="import-parts-inbox", daemon=True)
    listening.start()
    before = report.rows_read

    def show(rows: int, read: int, _: int | None) -> None:
        shared[0], shared[1] = rows, read
        if progress is not None:
            all_rows = sum(shared[2 * i] for i in range(jobs))
            least = min(shared[2 * i + 1] for i in range(jobs))
            progress(before + all_rows, done_bytes + least, report.bytes_total)

    mine: ImportReport | None = None
    try:
        svc = container.services
        sources = [open_import_file(f.path, kind=f.kind) for f in files]
        mine = imports.run_import(
            svc,
            sources,
            world=md.world_of(svc, sandbox),
            report=ImportReport(sink=inbox.write),
            progress=show,
            part=Part(0, jobs),
        )
        while not inbox.done.wait(_POLL_S):
            show(shared[0], shared[1], None)
            if inbox.failure is None and all(not w.is_alive() for w in workers):
                inbox.done.wait(_POLL_S * 5)  # their last words may still be on the way
                if not inbox.done.is_set():
                    inbox.fail(_ended(workers, inbox.finished))
    except BaseException:
        inbox.fail("stopped")
        raise
    finally:
        for worker in workers:
            if inbox.failure is not None and worker.is_alive():
                worker.terminate()
            worker.join()
        inbox.stop()
        listening.join()
        messages.close()
    if inbox.failure is not None:
        raise RuntimeError(f"a process loading part of the orders failed:\n{inbox.failure}")
    report.merge(mine)
    for index in sorted(inbox.finished):
        report.merge(inbox.finished[index])


class _Inbox:
    """What the part processes send, read by a thread of this process as it arrives.

    Problems go to the import's sink (one at a time: part 0 writes there too, from
    the main thread); reports and failures are kept for the main thread.
    """

    def __init__(self, messages: Any, report: ImportReport, expected: int) -> None:
        self.messages, self.report, self.expected = messages, report, expected
        self.finished: dict[int, ImportReport] = {}
        self.failure: str | None = None
        self.done = threading.Event()  # every part reported, or one failed
        self._lock = threading.Lock()
        self._stopping = False
        if expected == 0:
            self.done.set()

    def write(self, problem: RowProblem) -> None:
        if self.report.sink is not None:
            with self._lock:
                self.report.sink(problem)

    def fail(self, why: str) -> None:
        if self.failure is None:
            self.failure = why
        self.done.set()

    def stop(self) -> None:
        self._stopping = True

    def listen(self) -> None:
        while not (self._stopping and self.done.is_set()):
            try:
                what, index, payload = self.messages.get(timeout=_POLL_S)
            except queue.Empty:
                if self._stopping:
                    return
                continue
            if what == "problem":
                self.write(payload)
            elif what == "done":
                self.finished[index] = payload
                if len(self.finished) == self.expected:
                    self.done.set()
            else:
                self.fail(str(payload))


def _ended(workers: list[Any], finished: dict[int, ImportReport]) -> str:
    for index, worker in enumerate(workers, start=1):
        if index not in finished:
            return f"{worker.name} ended with exit code {worker.exitcode} before reporting"
    return "a part process ended before reporting"


def _load_part(
    settings: Settings,
    files: list[FileToImport],
    part: Part,
    sandbox: str | None,
    messages: Any,
    shared: Any,
) -> None:
    """In a process of its own: load ``part`` of the orders of ``files``."""
    import gc

    try:
        container = bootstrap(settings, migrate=False)
        gc.collect()
        gc.freeze()  # what start-up made lives as long as the process
        try:
            svc = container.services
            sources = [open_import_file(f.path, kind=f.kind) for f in files]

            def problem(found: RowProblem) -> None:
                messages.put(("problem", part.index, found))

            def progress(rows: int, read: int, total: int | None) -> None:
                shared[2 * part.index] = rows
                shared[2 * part.index + 1] = read

            done = imports.run_import(
                svc,
                sources,
                world=md.world_of(svc, sandbox),
                report=ImportReport(sink=problem),
                progress=progress,
                part=part,
            )
            done.sink = None
            messages.put(("done", part.index, done))
        finally:
            container.close()
    except BaseException:
        messages.put(("failed", part.index, traceback.format_exc()))
        raise
