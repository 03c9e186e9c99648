"""Signing in over HTTP, and API tokens: on SQLite and PostgreSQL, through the real app.

- the sign-in page answers 429 with ``Retry-After`` and says when to try again,
  in the page's language, even for the right password;
- two app instances on one database (two ``serve --workers`` processes) share
  the counts;
- checking passwords (about a second of CPU each) holds up neither the event
  loop nor other requests' transactions;
- API tokens: listed and revoked by their owner over the API, any by
  operations, revoked from the CLI; an expired one is refused saying so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from aftersales.bootstrap import Container, bootstrap
from aftersales.domain.lifecycle import Role
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.cli import app as cli
from aftersales.entrypoints.sessions import CookieSessions
from aftersales.services import accounts
from aftersales.services.time import FixedClock
from aftersales.settings import Settings

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
RIGHT, WRONG = "correct horse", "wrong horse"


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """What most tests here count is refusals, not hashing: a cheap argon2id hasher."""
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def _container(database_url: str, data_dir: Path, clock: FixedClock) -> Container:
    return bootstrap(Settings(data_dir=data_dir, database_url=database_url), clock=clock)


@pytest.fixture
def box(
    engine: Engine, database_url: str, tmp_path: Path, clock: FixedClock
) -> Iterator[Container]:
    container = _container(database_url, tmp_path / "a", clock)
    for username, role, party in (
        ("hz-install-01", Role.PROVIDER, "hz-install-01"),
        ("ops", Role.OPERATIONS, None),
        ("sync-shop", Role.INTEGRATION, None),
    ):
        accounts.create_account(
            container.services, username=username, password=RIGHT, role=role, party=party
        )
    yield container
    container.close()


def _login(client: TestClient, password: str) -> httpx.Response:
    return client.post(
        "/login", data={"username": "hz-install-01", "password": password}, follow_redirects=False
    )


def test_the_sign_in_page_refuses_the_right_password_with_429_while_throttled(
    box: Container,
) -> None:
    client = TestClient(create_app(box))
    for _ in range(5):
        assert _login(client, WRONG).status_code == 401
    refused = _login(client, RIGHT)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "5"
    assert "请 5 秒后再试" in refused.text
    assert "aftersales_session" not in refused.cookies
    client.cookies.set("aftersales_lang", "en")
    english = _login(client, RIGHT)
    assert english.status_code == 429 and "Try again in 5 seconds" in english.text


def test_two_app_instances_on_one_database_share_the_count(
    box: Container, database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    other = _container(database_url, tmp_path / "b", clock)
    try:
        first, second = TestClient(create_app(box)), TestClient(create_app(other))
        for client in (first, second, first, second, first):
            assert _login(client, WRONG).status_code == 401
        assert _login(second, RIGHT).status_code == 429
        assert _login(first, RIGHT).status_code == 429
        clock.advance(seconds=5)
        signed_in = _login(second, RIGHT)
        assert signed_in.status_code == 303 and "aftersales_session" in signed_in.cookies
    finally:
        other.close()


def test_guessing_from_one_address_does_not_block_another(box: Container) -> None:
    app = create_app(box)
    guesser = TestClient(app, client=("203.0.113.9", 40000))
    for n in range(20):
        page = guesser.post(
            "/login", data={"username": f"guess-{n}", "password": WRONG}, follow_redirects=False
        )
        assert page.status_code == 401
    assert _login(guesser, RIGHT).status_code == 429
    assert _login(TestClient(app, client=("198.51.100.7", 40000)), RIGHT).status_code == 303


def test_checking_passwords_holds_up_neither_the_loop_nor_other_requests(
    box: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six sign-ins at once with the real hasher (about a second each, two at a time):
    meanwhile a health check and a token's API call (a transaction of its own, which on
    SQLite takes the write lock) answer at once."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher())
    accounts.create_account(
        box.services, username="slow-hash", password=RIGHT, role=Role.OPERATIONS
    )
    token = accounts.create_api_token(box.services, username="ops", name="probe").token
    app = create_app(box)
    auth = app.state.web_auth
    assert isinstance(auth, CookieSessions)

    async def scenario() -> tuple[float, float, int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            sign_ins = [
                asyncio.create_task(
                    client.post("/login", data={"username": "slow-hash", "password": pw})
                )
                for pw in (WRONG, RIGHT) * 3
            ]
            # Wait (for a condition, not a time) until both hashing threads are busy and
            # the other attempts queue for them.
            async with asyncio.timeout(60):
                while (
                    auth.hashing.borrowed_tokens < 2 or auth.hashing.statistics().tasks_waiting < 1
                ):
                    await asyncio.sleep(0.005)
            started = time.perf_counter()
            health = await client.get("/healthz")
            health_s = time.perf_counter() - started
            started = time.perf_counter()
            listed = await client.get(
                "/api/v1/tokens", headers={"Authorization": f"Bearer {token}"}
            )
            api_s = time.perf_counter() - started
            busy = auth.hashing.borrowed_tokens
            # Sign-ins answered by then: none, if neither request waited for a hash. (A
            # bound on their seconds measured the machine instead: with both cores
            # hashing, a busy host stretched the API call past half a second.)
            signed_meanwhile = sum(task.done() for task in sign_ins)
            assert health.status_code == 200 and listed.status_code == 200
            answers = await asyncio.gather(*sign_ins)
            assert sorted(a.status_code for a in answers) == [303] * 3 + [401] * 3
            return health_s, api_s, busy, signed_meanwhile

    health_s, api_s, busy, signed_meanwhile = asyncio.run(scenario())
    assert busy == 2  # the passwords were still being checked when both answered
    assert signed_meanwhile == 0, (health_s, api_s, signed_meanwhile)


# ---------------------------------------------------------------- API tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_account_lists_and_revokes_its_own_tokens_and_no_one_elses(box: Container) -> None:
    client = TestClient(create_app(box))
    mine = accounts.create_api_token(box.services, username="sync-shop", name="order-sync")
    spare = accounts.create_api_token(box.services, username="sync-shop", name="spare")
    theirs = accounts.create_api_token(box.services, username="hz-install-01", name="erp")

    listed = client.get("/api/v1/tokens", headers=_bearer(mine.token))
    assert listed.status_code == 200
    assert {t["id"] for t in listed.json()["items"]} == {mine.id, spare.id}
    assert all("token" not in t for t in listed.json()["items"])

    assert (
        client.delete(f"/api/v1/tokens/{theirs.id}", headers=_bearer(mine.token)).status_code == 404
    )
    assert client.get("/api/v1/tokens", headers=_bearer(theirs.token)).status_code == 200
    others = client.get(
        "/api/v1/tokens", params={"account_id": theirs.account.id}, headers=_bearer(mine.token)
    )
    assert others.status_code == 403

    revoked = client.delete(f"/api/v1/tokens/{spare.id}", headers=_bearer(mine.token))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = client.get("/api/v1/tokens", headers=_bearer(spare.token))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert client.get("/api/v1/tokens", headers=_bearer(mine.token)).status_code == 200


def test_operations_list_and_revoke_any_accounts_tokens(box: Container) -> None:
    client = TestClient(create_app(box))
    ops = accounts.create_api_token(box.services, username="ops", name="console")
    theirs = accounts.create_api_token(box.services, username="hz-install-01", name="erp")
    every = client.get("/api/v1/tokens", params={"account_id": "*"}, headers=_bearer(ops.token))
    assert {t["id"] for t in every.json()["items"]} == {ops.id, theirs.id}
    assert (
        client.delete(f"/api/v1/tokens/{theirs.id}", headers=_bearer(ops.token)).status_code == 200
    )
    assert client.get("/api/v1/tokens", headers=_bearer(theirs.token)).status_code == 401


def test_an_expired_token_is_refused_saying_it_expired(box: Container, clock: FixedClock) -> None:
    client = TestClient(create_app(box))
    made = accounts.create_api_token(
        box.services, username="sync-shop", name="order-sync", expires_in=timedelta(days=30)
    )
    assert made.expires_at == NOW + timedelta(days=30)
    assert client.get("/api/v1/tokens", headers=_bearer(made.token)).status_code == 200
    clock.advance(days=30)
    refused = client.get("/api/v1/tokens", headers=_bearer(made.token))
    assert refused.status_code == 401
    assert f"the bearer token {made.id} expired at" in refused.json()["detail"]


def test_the_command_line_makes_a_token_that_expires(box: Container, tmp_path: Path) -> None:
    made = CliRunner().invoke(
        cli,
        [
            *("accounts", "token", "sync-shop", "--name", "order-sync", "--expires-in", "30d"),
            *_where(box, tmp_path),
        ],
    )
    assert made.exit_code == 0, made.output
    assert "expires" in made.output
    (listed,) = accounts.list_tokens(box.services, role=Role.SYSTEM, caller_id="", account_id="*")
    assert listed.expires_at is not None
    assert listed.expires_at - listed.created_at == timedelta(days=30)


WIDE = {"COLUMNS": "200"}  # the listing's columns unshortened


def _where(box: Container, tmp_path: Path) -> list[str]:
    url = box.settings.resolved_database_url
    return ["--data-dir", str(tmp_path / "cli"), "--database-url", url]


def test_a_token_revoked_from_the_command_line_is_refused(box: Container, tmp_path: Path) -> None:
    client = TestClient(create_app(box))
    made = accounts.create_api_token(box.services, username="sync-shop", name="order-sync")
    where = _where(box, tmp_path)
    listed = CliRunner().invoke(cli, ["accounts", "tokens", "sync-shop", *where], env=WIDE)
    assert listed.exit_code == 0 and made.id in listed.output
    revoked = CliRunner().invoke(cli, ["accounts", "revoke-token", made.id, *where])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert client.get("/api/v1/tokens", headers=_bearer(made.token)).status_code == 401
    again = CliRunner().invoke(cli, ["accounts", "revoke-token", made.id, *where])
    assert again.exit_code == 0 and "already revoked" in again.output
    unknown = CliRunner().invoke(cli, ["accounts", "revoke-token", "tok-nope", *where])
    assert unknown.exit_code == 2 and "no API token 'tok-nope'" in unknown.output


@pytest.mark.parametrize("lifetime", ["0d", "soon", "4000d"])
def test_a_token_lifetime_that_cannot_be_used_is_refused_and_no_token_is_made(
    box: Container, lifetime: str, tmp_path: Path
) -> None:
    made = CliRunner().invoke(
        cli,
        [
            "accounts",
            "token",
            "sync-shop",
            "--name",
            "x",
            "--expires-in",
            lifetime,
            *_where(box, tmp_path),
        ],
    )
    assert made.exit_code == 2, made.output
    assert accounts.list_tokens(box.services, role=Role.SYSTEM, caller_id="", account_id="*") == []


def test_token_ids_with_control_characters_are_refused_naming_where_they_were(
    box: Container,
) -> None:
    """A NUL byte reaching PostgreSQL used to be a 500; ids are refused at the edge."""
    client = TestClient(create_app(box))
    ops = accounts.create_api_token(box.services, username="ops", name="console")
    for answer, field in (
        (client.delete("/api/v1/tokens/tok%00x", headers=_bearer(ops.token)), "the path"),
        (
            client.get(
                "/api/v1/tokens", params={"account_id": "acc\x00"}, headers=_bearer(ops.token)
            ),
            "account_id",
        ),
    ):
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert field in answer.json()["detail"]


def test_a_nul_byte_in_the_username_signs_nobody_in_and_is_no_server_error(
    box: Container,
) -> None:
    """``username=bu%00yer`` was a 500 on PostgreSQL."""
    client = TestClient(create_app(box))
    page = client.post(
        "/login", data={"username": "hz-install\x00-01", "password": RIGHT}, follow_redirects=False
    )
    assert 400 <= page.status_code < 500
    assert "aftersales_session" not in page.cookies
