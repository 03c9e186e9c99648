"""Bearer tokens recently checked, so a busy integration does not read its token on every call.

An API call's first statement used to be the token's row (and its account's):
the same few tokens, read thousands of times a second. :class:`TokenCache`
keeps what a token was found to be for :data:`TOKEN_CACHE_SECONDS`, and the
use case still judges each use against it: a revoked token is refused, an
expired one is refused from its instant of expiry on (the expiry is part of the
cached record and compared with the clock on every call), a switched-off account
is refused.

The bound: a revocation made in this process empties the cache at once (after
its transaction commits, and a check that read the token before then cannot put
it back: see :meth:`TokenCache.put`). One made by another process (the command
line, another HTTP worker) is seen here at most :data:`TOKEN_CACHE_SECONDS`
later. Only tokens that were accepted are kept; an unknown token is looked up
every time, so a token made a moment ago works at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from aftersales.services.records import TokenRecord

TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_SIZE = 10_000  # tokens; the least recently used goes first


class TokenCache:
    """Token digest -> its record as read, for a few seconds; safe to share between threads."""

    def __init__(
        self,
        *,
        seconds: float = TOKEN_CACHE_SECONDS,
        size: int = TOKEN_CACHE_SIZE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.size = size
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, TokenRecord]] = OrderedDict()
        self._generation = 0

    @property
    def generation(self) -> int:
        """Taken before reading a token from the database; handed back to :meth:`put`."""
        return self._generation

    def get(self, digest: str) -> TokenRecord | None:
        """The record kept for ``digest`` if it was read less than ``seconds`` ago."""
        with self._lock:
            found = self._entries.get(digest)
            if found is None:
                return None
            if self._monotonic() - found[0] >= self.seconds:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return found[1]

    def put(self, digest: str, record: TokenRecord, generation: int) -> None:
        """Keep ``record``, unless the cache was emptied since ``generation`` was taken
        (the record may have been read before a revocation committed)."""
        with self._lock:
            if generation != self._generation:
                return
            self._entries[digest] = (self._monotonic(), record)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every token: called after a token is revoked (or otherwise changed)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
