"""The sweep loop: once in a while, remove attachment files a crash left behind.

Uploads are written in the transaction that records them and removed if it
fails; only a process killed between writing a file and committing its row can
leave one. This loop runs :func:`aftersales.services.attachments.sweep_files`
at start and then every ``attachment_sweep_interval_s``, in a thread of the
worker, so nobody has to remember to.
"""

from __future__ import annotations

import logging
import threading

from aftersales.bootstrap import Container
from aftersales.services.attachments import Swept, sweep_files

log = logging.getLogger(__name__)


class SweepLoop:
    def __init__(self, container: Container, *, stop: threading.Event) -> None:
        self.container = container
        self.stop = stop
        self.rounds = 0

    def run_once(self) -> Swept:
        swept = sweep_files(self.container.services)
        self.rounds += 1
        if swept.staged or swept.orphans:
            log.info(
                "attachment sweep removed %s staged and %s unreferenced files (%s bytes)",
                swept.staged,
                swept.orphans,
                swept.bytes,
            )
        return swept

    def run(self) -> None:
        interval = self.container.settings.attachment_sweep_interval_s
        while not self.stop.is_set():
            try:
                self.run_once()
            except Exception:  # a full disk or a database hiccup: try again next time
                log.exception("attachment sweep failed; trying again later")
            self.stop.wait(interval)
