"""The import loop: runs queued import jobs one at a time, beside the deadline loop.

A job is claimed (``queued`` → ``running``), its staged file read and loaded
batch by batch (:func:`aftersales.services.imports.run_job` saves progress after
each), its row problems written to its error report, and the staged file
deleted when it ends, however it ends. An import never runs on the deadline
loop's thread, so a large file does not hold up payouts.

A stop request ends the current job after its batch: the job goes back to the
queue with its file, and the next worker starts it over (the rows already
loaded are then found unchanged). A job whose worker died while running it
stays ``running``; upload the file again to load it.
"""

from __future__ import annotations

import logging
import threading

from aftersales.bootstrap import Container, ImportErrorFile, open_import_file
from aftersales.services import imports
from aftersales.services.imports import RowSource

log = logging.getLogger(__name__)


class ImportLoop:
    def __init__(
        self,
        container: Container,
        *,
        stop: threading.Event | None = None,
        poll_s: float | None = None,
    ) -> None:
        self.container = container
        self.stop = stop or threading.Event()
        self.poll_s = poll_s if poll_s is not None else container.settings.worker_poll_interval_s

    def run_once(self) -> str | None:
        """Run the oldest queued job to its end; its id, or None when none was queued."""
        svc = self.container.services
        files = self.container.import_files
        job = imports.claim_job(svc)
        if job is None:
            return None
        key = job.get("storage_key")
        report = ImportErrorFile(files.errors_path(job["id"]))

        def open_source() -> RowSource:
            return open_import_file(
                files.path(key or ""), name=job["filename"], kind=job.get("kind")
            )

        log.info("import %s of %s started", job["id"], job["filename"])
        requeued = False
        try:
            result = imports.run_job(
                svc,
                job,
                open_source=open_source,
                on_error=report.add,
                should_stop=self.stop.is_set,
            )
        except imports.ImportInterrupted:
            requeued = True
            log.info("import %s stopped; back in the queue", job["id"])
        except Exception:
            log.exception("import %s failed", job["id"])
        else:
            log.info("import %s ended: %s", job["id"], imports.summary(result))
        finally:
            if requeued:
                report.discard()
            else:
                report.close()
                files.delete(key)
        return str(job["id"])

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # a database hiccup must not end the loop; try again shortly
                log.exception("import loop round failed; retrying")
                handled = None
            if handled is None:
                self.stop.wait(self.poll_s)
