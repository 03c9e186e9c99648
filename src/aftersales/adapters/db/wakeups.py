"""Waking the deadline worker early: ``LISTEN/NOTIFY`` on PostgreSQL, polling elsewhere.

A worker sleeps until the earliest armed deadline, or its poll interval,
whichever is sooner. Two things can make something due sooner than that:

- a deadline is armed nearer than the one it is sleeping for (a live case
  opened with a short clock, a clock restarted);
- a sandbox's test clock moves (an advance, or a test harness running the
  clock in real time): whatever it passes is due at once.

On PostgreSQL the writer of either says so with ``pg_notify`` on one channel,
in its own transaction (so the notice is delivered when, and only if, it
commits), and :class:`Wakeups` — one autocommit connection that ``LISTEN``\\ s —
wakes the sleeping worker. A notice may still be missed (the listening
connection dropped, the server restarted): the poll interval bounds that
miss, as it bounds everything on SQLite, which has no such channel.

Only deadlines due within ``NOTIFY_HORIZON`` of the real clock are announced:
a worker never sleeps longer than its poll interval (at most a minute, see
``Settings.worker_poll_interval_s``), so it finds anything further away on its
own, and intake — which arms hour-long clocks — sends no notices at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, text

from aftersales.adapters.db.schema import LIVE

log = logging.getLogger(__name__)

CHANNEL = "aftersales_deadlines"
NOTIFY_HORIZON = timedelta(seconds=60)
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def announce(conn: Connection, sandbox: str) -> None:
    """Tell listening workers that ``sandbox`` may have something due (PostgreSQL only).

    Delivered when the caller's transaction commits; PostgreSQL folds the same
    notice sent twice in one transaction into one.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": sandbox})


def announce_near(conn: Connection, armed: Iterable[tuple[str, datetime]]) -> None:
    """Announce the live deadlines among ``armed`` (``(sandbox, due_at)``) that fall due soon.

    Sandbox deadlines are judged on their sandbox's clock, which stands still until
    it is moved; moving it is announced (:func:`announce`), arming is not.
    """
    if conn.dialect.name != "postgresql":
        return
    horizon = datetime.now(UTC) + NOTIFY_HORIZON
    if any(sandbox == LIVE and due_at < horizon for sandbox, due_at in armed):
        announce(conn, LIVE)


class Wakeups:
    """A worker's ear on the deadline channel: :meth:`wait` returns early on a notice.

    :meth:`start` opens the listening connection in a thread of its own (PostgreSQL
    only; elsewhere :meth:`wait` is a plain timed wait). If that connection fails it
    is opened again after ``retry_s``; meanwhile the worker simply polls.
    """

    def __init__(self, engine: Engine, stop: threading.Event, *, retry_s: float = 1.0) -> None:
        self.engine = engine
        self.stop = stop
        self.retry_s = retry_s
        self.listening = threading.Event()  # set while the LISTEN connection is up
        self.notices = 0
        self._woken = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(
                target=self._listen, name="deadline-wakeups", daemon=True
            )
            self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if a notice (or a stop request) cut it short."""
        if self._thread is None:
            return self.stop.wait(seconds)
        # Notices arrive on the listener's event; the stop request is looked at every
        # tenth of a second (an in-process check: no query, no round trip).
        remaining = seconds
        while remaining > 0 and not self.stop.is_set():
            step = min(remaining, 0.1)
            if self._woken.wait(step):
                self._woken.clear()
                return True
            remaining -= step
        return self.stop.is_set()

    def _listen(self) -> None:
        import psycopg  # the PostgreSQL driver; only imported where it is used

        url = self.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        reconnecting = False
        while not self.stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    if reconnecting:  # what was announced while not listening: look at once
                        self._woken.set()
                    reconnecting = True
                    while not self.stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self.notices += 1
                            self._woken.set()
            except Exception as exc:  # a dropped connection: poll meanwhile
                log.warning("deadline wake-ups: listening connection lost (%s); polling", exc)
            finally:
                self.listening.clear()
            self.stop.wait(self.retry_s)
