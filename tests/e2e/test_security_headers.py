"""Every answer carries the security headers; the pages need no inline script; HSTS and
``Secure`` cookies come with HTTPS, told by the connection or by a trusted proxy only;
``/metrics`` can ask for a token or leave the app for a port of its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aftersales.bootstrap import Container, bootstrap
from aftersales.demo.setup import DEMO_PASSWORDS
from aftersales.domain.lifecycle import Role
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.web.pages.common import TEMPLATES_DIR
from aftersales.services import accounts
from aftersales.settings import Settings

TOKEN = "metrics-token-0123456789"


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    box = bootstrap(Settings(data_dir=tmp_path_factory.mktemp("headers")))
    accounts.ensure_account(
        box.services, username="ops", password=DEMO_PASSWORDS[Role.OPERATIONS], role=Role.OPERATIONS
    )
    yield box
    box.close()


def _client(container: Container, client: tuple[str, int] = ("203.0.113.9", 5000)) -> TestClient:
    return TestClient(create_app(container), client=client)


def _sign_in(client: TestClient, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/login",
        data={"username": "ops", "password": DEMO_PASSWORDS[Role.OPERATIONS]},
        headers=headers,
        follow_redirects=False,
    )


@pytest.mark.parametrize(
    "path", ["/login", "/api/v1/health", "/api/v1/cases", "/no-such-page", "/static/app.js"]
)
def test_every_answer_carries_the_security_headers(container: Container, path: str) -> None:
    answer = _client(container).get(path)
    policy = answer.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in answer.headers  # plain HTTP


def test_the_api_documentation_allows_its_own_start_up_script_by_hash_only(
    container: Container,
) -> None:
    for path in ("/docs", "/redoc"):
        answer = _client(container).get(path)
        assert answer.status_code == 200
        script_src = answer.headers["content-security-policy"].split("script-src", 1)[1]
        script_src = script_src.split(";", 1)[0]
        assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", answer.text)
        assert script_src.count("'sha256-") == len(inline)


def test_no_page_template_holds_an_inline_script_or_event_handler() -> None:
    found = []
    for template in sorted(TEMPLATES_DIR.glob("*.html")):
        text = template.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)", text):
            found.append(f"{template.name}: inline <script>")
        if re.search(r"\son[a-z]+\s*=", text):
            found.append(f"{template.name}: on…= handler")
        if "javascript:" in text:
            found.append(f"{template.name}: javascript: link")
    assert found == []


def test_plain_http_gets_no_hsts_and_a_cookie_without_secure(container: Container) -> None:
    answer = _sign_in(_client(container))
    assert answer.status_code == 303
    assert "strict-transport-security" not in answer.headers
    assert all("secure" not in c.lower() for c in answer.headers.get_list("set-cookie"))


def test_x_forwarded_proto_from_an_untrusted_address_is_ignored(container: Container) -> None:
    answer = _sign_in(_client(container), **{"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in answer.headers
    assert all("secure" not in c.lower() for c in answer.headers.get_list("set-cookie"))


def test_https_through_a_trusted_proxy_gets_hsts_and_secure_cookies(container: Container) -> None:
    proxy = _client(container, client=("127.0.0.1", 5000))  # the default trusted proxy
    answer = _sign_in(proxy, **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"})
    assert answer.status_code == 303
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    cookies = answer.headers.get_list("set-cookie")
    assert cookies and all(c.rstrip().endswith("; Secure") for c in cookies), cookies


def test_https_on_the_connection_itself_gets_hsts(container: Container) -> None:
    direct = TestClient(create_app(container), base_url="https://testserver")
    answer = direct.get("/login")
    assert answer.headers["strict-transport-security"].startswith("max-age=")


def test_metrics_stay_open_by_default_for_the_demo(container: Container) -> None:
    assert _client(container).get("/metrics").status_code == 200


def test_metrics_ask_for_the_token_when_one_is_set(tmp_path: Path) -> None:
    box = bootstrap(Settings(data_dir=tmp_path, metrics_token=TOKEN))
    try:
        client = TestClient(create_app(box))
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "AFTERSALES_METRICS_TOKEN" in refused.json()["detail"]
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401
        taken = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert taken.status_code == 200 and "aftersales_http_requests" in taken.text
    finally:
        box.close()


def test_metrics_on_a_port_of_their_own_are_not_served_by_the_app(tmp_path: Path) -> None:
    box = bootstrap(Settings(data_dir=tmp_path, metrics_port=18129))
    try:
        assert TestClient(create_app(box)).get("/metrics").status_code == 404
    finally:
        box.close()


def test_a_trusted_proxy_that_is_not_an_address_is_refused_saying_what_to_write() -> None:
    from aftersales.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="not an address or network"):
        load_settings(trusted_proxies="proxy.internal")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_answers_metrics_on_their_own_port_and_not_on_the_public_one(
    tmp_path: Path, workers: str
) -> None:
    import httpx

    from tests.e2e.serving import free_port, serving

    port = free_port()
    env = {"AFTERSALES_METRICS_PORT": str(port)}
    with serving(tmp_path / "data", "--workers", workers, "--no-worker", env=env) as base:
        with httpx.Client(base_url=base) as public:
            assert public.get("/healthz").status_code == 200
            assert public.get("/metrics").status_code == 404
        own = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert own.status_code == 200
    assert "aftersales_open_cases" in own.text  # the platform's figures
    assert 'route="/healthz"' in own.text  # and the requests the app answered
