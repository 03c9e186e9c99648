"""Every error leaves the API the same way: problem+json with its status from the one table,
the request id, and Retry-After when the error says when to try again."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from aftersales.bootstrap import bootstrap
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.web.pages.formats import fen_from_yuan, yuan
from aftersales.errors import InvalidRequest, Throttled
from aftersales.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    container = bootstrap(Settings(data_dir=tmp_path_factory.mktemp("errors")))
    app = create_app(container)

    @app.get("/test/defect")
    def defect() -> None:
        raise RuntimeError("a bug")

    @app.get("/test/throttled")
    def throttled() -> None:
        raise Throttled("too many sign-in attempts; wait a little", retry_after_s=7)

    yield TestClient(app, raise_server_exceptions=False)
    container.close()


def test_a_body_that_is_not_json_is_malformed_400_with_the_request_id(client: TestClient) -> None:
    response = client.post(
        "/api/v1/help-requests",
        content=b"{not json",
        headers={"Content-Type": "application/json", "X-Request-Id": "req-400"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == "Malformed request" and body["request_id"] == "req-400"


def test_an_unexpected_error_is_a_500_problem_carrying_the_request_id(client: TestClient) -> None:
    response = client.get("/test/defect", headers={"X-Request-Id": "req-500"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["X-Request-Id"] == "req-500"
    body = response.json()
    assert body["request_id"] == "req-500" and "req-500" in body["detail"]
    assert "a bug" not in body["detail"]  # the defect is logged, not shown


def test_an_error_that_says_when_to_retry_answers_with_retry_after(client: TestClient) -> None:
    response = client.get("/test/throttled")
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "request_id"}
    assert body["request_id"] == response.headers["X-Request-Id"]


def test_the_http_app_does_not_load_the_demo() -> None:
    code = (
        "import sys, aftersales.entrypoints.api.app\n"
        "print(sorted(m for m in sys.modules if m.startswith('aftersales.demo')))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_yuan_typed_on_a_page_is_read_as_decimal_fen() -> None:
    assert fen_from_yuan("280") == 28_000
    assert fen_from_yuan(" 280.50 ") == 28_050
    assert fen_from_yuan("0.29") == 29  # exact: as floats, 0.29 * 100 is 28.999…
    assert yuan(28_050) == "280.50" and yuan(5) == "0.05"
    for bad in ("abc", "nan", "inf", ""):
        with pytest.raises(InvalidRequest, match="not an amount in yuan"):
            fen_from_yuan(bad)


def test_the_openapi_document_lists_every_status_each_operation_can_answer(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        if path.startswith("/api/")
        for method, operation in methods.items()
    ]
    assert len(operations) > 40
    for path, method, operation in operations:
        listed = set(operation["responses"])
        assert {"400", "401", "403", "404", "422"} <= listed, (method, path)
        if method in ("post", "put", "patch", "delete"):
            assert {"409", "413", "415"} <= listed, (method, path)
        for status in listed - {"200", "201", "202", "204"}:
            content = operation["responses"][status].get("content", {})
            assert "application/problem+json" in content, (method, path, status)


def test_a_method_a_path_does_not_have_is_405_with_allow_and_the_request_id(
    client: TestClient,
) -> None:
    response = client.put("/api/v1/cases", headers={"X-Request-Id": "req-405"})
    assert response.status_code == 405 and response.headers["Allow"] == "GET"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["request_id"] == "req-405"
