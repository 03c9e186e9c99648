"""Bad input, as an attacker or a careless client sends it, against ``aftersales serve`` on
SQLite and on PostgreSQL: each request is refused with the status a client can act on, as
problem+json carrying the request id (a page, for a browser's form), and leaves nothing
behind — no row in any table, no file in the data directory.

One table of cases drives the test; each row says what is sent and what must come back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import RunFigures
from tests.e2e.sites import SB, Site, running_site
from tests.integration.conftest import pg_admin  # noqa: F401  (a fixture, used by name)
from tests.integration.pg import PgAdmin

PNG_HEADER = b"\x89PNG\r\n\x1a\n"
ATTACHMENT_MAX = 1024 * 1024  # the server is started with this limit, to keep the test light
MAX_BODY = 4 * 1024 * 1024  # the default AFTERSALES_MAX_BODY_BYTES
SERVER_ENV = {"AFTERSALES_ATTACHMENT_MAX_BYTES": str(ATTACHMENT_MAX)}


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp(f"bad-input-{request.param}") / "data"
    data_dir.mkdir()
    if request.param == "sqlite":
        yield from running_site(data_dir, None, SERVER_ENV)
        return
    admin: PgAdmin = request.getfixturevalue("pg_admin")
    with admin.fresh_database("template0") as url:
        yield from running_site(data_dir, url, SERVER_ENV)


@dataclass(frozen=True)
class Case:
    """One bad request: how to send it, and what must come back."""

    name: str
    send: Callable[[httpx.Client, Site], httpx.Response]
    status: int
    says: tuple[str, ...] = ()  # words the answer's detail (or page) must hold
    names: str | None = None  # the field a problem must name
    page: bool = False  # a browser's form: answered with a page, not a problem
    headers: dict[str, str] = field(default_factory=dict)  # headers the answer must carry


def _json(site: Site, auth: dict[str, str], body: Any) -> dict[str, Any]:
    return {"headers": {**auth, "Content-Type": "application/json"}, "content": json.dumps(body)}


def _photo(size: int, name: str = "photo.png") -> dict[str, Any]:
    return {"files": {"file": (name, PNG_HEADER + b"\0" * (size - len(PNG_HEADER)), "image/png")}}


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body sent in chunks, with no Content-Length: only counting can stop it."""
    yield b'{"text": "'
    for _ in range(total // size):
        yield b"a" * size
    yield b'"}'


CASES = [
    Case(
        "a NUL in the user name of the (unauthenticated) sign-in form",
        lambda c, s: c.post(
            "/login",
            data={"username": "bu\x00yer", "password": "x"},
            headers={"Accept": "text/html"},
        ),
        422,
        page=True,
    ),
    Case(
        "a NUL in a case id in the path",
        lambda c, s: c.get("/api/v1/cases/ab%00c", headers=s.ops),
        422,
        ("U+0000", "path"),
        "path",
    ),
    Case(
        "a NUL in a query parameter",
        lambda c, s: c.get("/api/v1/cases", params={"q": "a\x00b"}, headers=s.ops),
        422,
        ("U+0000",),
        "q",
    ),
    Case(
        "a NUL in a JSON field",
        lambda c, s: c.post(
            "/api/v1/help-requests",
            **_json(s, s.buyer, {"order_item_id": s.item_id + "\x00", "failure": "x"}),
        ),
        422,
        ("U+0000", "order_item_id"),
        "order_item_id",
    ),
    Case(
        "a control character deep in a JSON body",
        lambda c, s: c.post(
            "/api/v1/events",
            **_json(s, s.ops, [{"type": "order.paid", "data": {"items": [{"id": "a\x1bb"}]}}]),
        ),
        422,
        ("U+001B",),
        "0.data.items.0.id",
    ),
    Case(
        "a control character in the Idempotency-Key header",
        lambda c, s: c.post(
            "/api/v1/sandboxes",
            **_json(s, {**s.ops, "Idempotency-Key": "k\x01y"}, {"id": "nope", "demo_data": False}),
        ),
        422,
        ("U+0001",),
        "Idempotency-Key",
    ),
    Case(
        "a NUL in a field of a multipart web form (the repair form)",
        lambda c, s: c.post(
            f"/items/{s.item_id}/repair",
            data={"description": "broken", "phone": "138\x0000000000"},
            files={"photos": ("a.png", PNG_HEADER, "image/png")},
            headers={"Accept": "text/html"},
        ),
        422,
        page=True,
    ),
    Case(
        "a report period ending past year 9999 in UTC",
        lambda c, s: c.get(
            "/api/v1/compliance",
            params={"from": "2026-01-01T00:00+08:00", "to": "9999-12-31T23:00-08:00"},
            headers=s.ops,
        ),
        422,
        ("2200-01-01",),
    ),
    Case(
        "a sandbox starting past the year 9999",
        lambda c, s: c.post(
            "/api/v1/sandboxes",
            **_json(s, s.ops, {"id": "far", "start": "9999-12-31T23:59-10:00", "demo_data": False}),
        ),
        422,
        ("1970-01-01", "2200-01-01"),
    ),
    Case(
        "a sandbox starting before 1970",
        lambda c, s: c.post(
            "/api/v1/sandboxes",
            **_json(s, s.ops, {"id": "early", "start": "1969-12-31T23:59Z", "demo_data": False}),
        ),
        422,
        ("1970-01-01",),
    ),
    Case(
        "a sandbox advanced by three million days",
        lambda c, s: c.post(
            f"/api/v1/sandboxes/{SB}/advance",
            params={"by": "3000000d"},
            headers={**s.ops, "Idempotency-Key": "far-advance"},
        ),
        422,
        ("3660d",),
    ),
    Case(
        "a body that is not JSON",
        lambda c, s: c.post(
            "/api/v1/help-requests",
            content=b'{"order_item_id": ',
            headers={**s.buyer, "Content-Type": "application/json"},
        ),
        400,
        ("not JSON",),
    ),
    Case(
        "a JSON body sent as text/plain",
        lambda c, s: c.post(
            "/api/v1/help-requests",
            content=json.dumps({"order_item_id": s.item_id, "failure": "installation_late"}),
            headers={**s.buyer, "Content-Type": "text/plain"},
        ),
        415,
        ("application/json", "text/plain"),
    ),
    Case(
        "a 20 MB JSON body (refused from its Content-Length, before it is read)",
        lambda c, s: c.post(
            "/api/v1/help-requests",
            content=b'{"description": "' + b"a" * (20 * 1000 * 1000) + b'"}',
            headers={**s.buyer, "Content-Type": "application/json"},
        ),
        413,
        (f"{MAX_BODY:,}", f"{20 * 1000 * 1000 + 19:,}"),
    ),
    Case(
        "a body over the limit sent without a Content-Length (counted as it arrives)",
        lambda c, s: c.post(
            "/api/v1/help-requests",
            content=_chunks(MAX_BODY + 1024 * 1024),
            headers={**s.buyer, "Content-Type": "application/json"},
        ),
        413,
        (f"{MAX_BODY:,}",),
    ),
    Case(
        "a photo twice the attachment limit",
        lambda c, s: c.post(
            f"/api/v1/cases/{s.case_id}/attachments", headers=s.buyer, **_photo(2 * ATTACHMENT_MAX)
        ),
        413,
        (f"{ATTACHMENT_MAX:,}",),
    ),
    Case(
        "a photo one byte over the limit (its real size is said, not the limit plus one)",
        lambda c, s: c.post(
            f"/api/v1/cases/{s.case_id}/attachments", headers=s.buyer, **_photo(ATTACHMENT_MAX + 1)
        ),
        413,
        (f"{ATTACHMENT_MAX + 1:,} bytes", f"{ATTACHMENT_MAX:,}"),
    ),
    Case(
        "a program (.exe) attached as a file",
        lambda c, s: c.post(
            f"/api/v1/cases/{s.case_id}/attachments",
            headers=s.buyer,
            files={"file": ("setup.exe", b"MZ\x90\x00" + b"\0" * 4096, "application/octet-stream")},
        ),
        415,
        ("image/jpeg", "application/pdf"),
    ),
    Case(
        "a method the path does not have",
        lambda c, s: c.delete("/api/v1/cases", headers=s.ops),
        405,
        ("DELETE",),
        headers={"allow": "GET"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_with_its_status_and_leaves_nothing_behind(
    site: Site, case: Case, run_figures: RunFigures
) -> None:
    rows, files = site.counts(), site.files()
    with httpx.Client(base_url=site.base, timeout=60) as client:
        response = case.send(client, site)
    assert response.status_code == case.status, response.text[:500]
    request_id = response.headers["X-Request-Id"]
    if case.page:
        assert response.headers["content-type"].startswith("text/html")
    else:
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == case.status and problem["request_id"] == request_id
        for words in case.says:
            assert words in problem["detail"], problem["detail"]
        if case.names is not None:
            assert [e["field"] for e in problem["errors"]] == [case.names]
    for name, value in case.headers.items():
        assert response.headers[name] == value
    assert site.counts() == rows  # nothing written, in any table
    assert site.files() == files  # no file left behind
    run_figures.count(
        f"bad-input cases refused as specified ({site.container.engine.dialect.name})"
    )
