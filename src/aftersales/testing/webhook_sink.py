"""A real HTTP server on a free local port that hands every POST to a test's function.

Webhook tests point endpoints at it; the handler decides what the subscriber
does (answer, fail, hang). A client that gave up may close the connection under
the handler: that is not an error here.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PostHandler = Callable[[BaseHTTPRequestHandler], None]


@contextlib.contextmanager
def serving_posts(
    handle: PostHandler, *, on_stop: Callable[[], None] = lambda: None
) -> Iterator[int]:
    """Serve POSTs with ``handle`` until the block ends; yields the port.

    ``on_stop`` runs first when the block ends (release what the handler is holding,
    so the server's threads can finish).
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            handle(self)

        def handle(self) -> None:
            with contextlib.suppress(OSError):
                super().handle()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        on_stop()
        server.shutdown()
        server.server_close()
        thread.join(5)
