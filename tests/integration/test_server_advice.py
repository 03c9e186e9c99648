"""At start-up the service says which database server settings undo its guarantees or its
speed (autovacuum or the statistics it needs off, fsync off), and nothing otherwise."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from aftersales.adapters.db.advice import advice_for, server_advice

DEFAULTS = {"autovacuum": "on", "track_counts": "on", "fsync": "on"}


def test_a_server_at_postgresql_defaults_needs_no_advice() -> None:
    assert advice_for(DEFAULTS) == []


@pytest.mark.parametrize("name", ["autovacuum", "track_counts"])
def test_vacuum_off_is_named_with_what_it_does_and_what_to_do(name: str) -> None:
    (said,) = advice_for({**DEFAULTS, name: "off"})
    assert f"PostgreSQL's {name} is off" in said
    assert "slows down" in said
    assert f"Turn {name} on" in said


def test_autovacuum_and_its_statistics_both_off_give_one_warning() -> None:
    said = advice_for({**DEFAULTS, "autovacuum": "off", "track_counts": "off"})
    assert len(said) == 1
    assert "autovacuum is off" in said[0]


def test_fsync_off_says_committed_payouts_may_be_gone_after_a_crash() -> None:
    (said,) = advice_for({**DEFAULTS, "fsync": "off"})
    assert "fsync is off" in said
    assert "payouts" in said
    assert "Turn fsync on" in said


def test_the_advice_follows_the_servers_own_settings(engine: Engine) -> None:
    said = server_advice(engine)
    if engine.dialect.name != "postgresql":
        assert said == []  # SQLite has no such settings
        return
    with engine.connect() as conn:
        actual = {name: str(conn.execute(text(f"SHOW {name}")).scalar_one()) for name in DEFAULTS}
    assert said == advice_for(actual)
    assert ("autovacuum is off" in " ".join(said)) == (actual["autovacuum"] == "off")


def test_serve_and_worker_say_the_advice_as_a_logged_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from aftersales.bootstrap import bootstrap
    from aftersales.entrypoints.cli.common import warn_about_server
    from aftersales.settings import Settings

    container = bootstrap(Settings(data_dir=tmp_path))
    monkeypatch.setattr(
        "aftersales.adapters.db.advice.server_advice", lambda _: ["PostgreSQL's fsync is off"]
    )
    try:
        with caplog.at_level(logging.WARNING, logger="aftersales.startup"):
            warn_about_server(container)
    finally:
        container.close()
    assert [r.getMessage() for r in caplog.records] == ["PostgreSQL's fsync is off"]
