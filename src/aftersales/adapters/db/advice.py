"""What the database server's own settings mean for the service, said once at start-up.

Some PostgreSQL settings are the operator's to choose, but a few turn the
service's guarantees or its speed into something else without any error:

* ``autovacuum`` (and ``track_counts``, which it needs) off: the rows intake and
  the worker update in place all day (a provider's day, the live counts, the
  compliance rollup, idempotency keys, outbox events) keep every dead version, and
  each statement on them walks more of them. The intake benchmark measured
  PostgreSQL's CPU per case tripling within ten minutes of steady load.
* ``fsync`` off: a crash of the machine can lose commits, payouts among them, or
  corrupt the database; what the service recorded as done may then be gone.

:func:`server_advice` reads them and :func:`advice_for` says what is wrong, in
words an operator can act on. SQLite has nothing to say here.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String

WATCHED = ("autovacuum", "track_counts", "fsync")

_VACUUM = (
    "PostgreSQL's {name} is off: the rows this service updates in place (providers' day "
    "loads, live counts, the compliance rollup, idempotency keys, outbox events) keep "
    "their dead versions and every statement on them slows down as the day goes on. "
    "Turn {name} on (its default), or run VACUUM on the database every few minutes."
)
_FSYNC = (
    "PostgreSQL's fsync is off: after a crash of the machine, cases and payouts the "
    "service committed may be gone or the database corrupt. Turn fsync on (its default) "
    "for any database that holds real cases."
)

_SETTINGS = text("SELECT name, setting FROM pg_settings WHERE name = ANY(:names)").bindparams(
    bindparam("names", type_=ARRAY(String))
)


def advice_for(settings: Mapping[str, str]) -> list[str]:
    """What ``settings`` (name → value, as ``pg_settings`` shows them) mean for the service."""
    out = []
    for name in ("autovacuum", "track_counts"):
        if settings.get(name) == "off":
            out.append(_VACUUM.format(name=name))
            break  # autovacuum needs track_counts: one warning says it
    if settings.get("fsync") == "off":
        out.append(_FSYNC)
    return out


def server_advice(engine: Engine) -> list[str]:
    """:func:`advice_for` the server ``engine`` connects to (nothing for SQLite)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        rows = conn.execute(_SETTINGS, {"names": list(WATCHED)}).all()
    return advice_for({str(name): str(setting) for name, setting in rows})
