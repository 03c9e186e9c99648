"""The API against its own OpenAPI document, fuzzed with schemathesis on PostgreSQL.

Every operation of the document is sent requests generated from its schema — as an
operator and as a buyer — against a real ``aftersales serve``; strings may hold NUL and
other control characters, and date-times include instants far outside the platform's
range (year 1, year 9999 at a negative offset). Every answer must be no server error,
of a status the document lists for the operation, of the content type it lists, and
match its schema. The run is bounded: a few examples per operation and mode.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from requests.exceptions import InvalidHeader, InvalidURL
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import RunFigures
from tests.e2e.sites import Site, running_site
from tests.integration.conftest import pg_admin  # noqa: F401  (a fixture, used by name)
from tests.integration.pg import PgAdmin

pytestmark = pytest.mark.postgres
EXAMPLES = int(os.environ.get("AFTERSALES_SCHEMA_EXAMPLES", "2"))  # per operation and pass
BUDGET_S = float(os.environ.get("AFTERSALES_SCHEMA_SECONDS", "40"))  # then no new pass begins
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Instants at and past the edges of what the platform takes, and of what Python can hold.
EXTREME_INSTANTS = [
    "0001-01-01T00:00:00+14:00",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "2199-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
    "9999-12-31T23:59:59-10:00",
    "9999-12-31T23:59:59.999999Z",
]


def _date_times() -> st.SearchStrategy[str]:
    zones = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-10))])
    ordinary = st.datetimes(  # hypothesis takes naive bounds and adds the zones itself
        min_value=datetime(1960, 1, 1),  # noqa: DTZ001
        max_value=datetime(2300, 1, 1),  # noqa: DTZ001
        timezones=zones,
    ).map(lambda at: at.isoformat())
    return st.one_of(st.sampled_from(EXTREME_INSTANTS), ordinary)


schemathesis.openapi.format("date-time", _date_times())


@pytest.fixture(scope="module")
def site(pg_admin: PgAdmin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:  # noqa: F811
    data_dir = tmp_path_factory.mktemp("schema") / "data"
    data_dir.mkdir()
    with pg_admin.fresh_database("template0") as url:
        yield from running_site(data_dir, url)


@dataclass
class Tally:
    cases: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    impossible: int = 0  # negative runs of operations that take nothing that can be wrong
    unsendable: int = 0  # requests the HTTP client itself refuses to send (a header with CR)
    passes_skipped: int = 0


def test_every_operation_answers_as_its_openapi_document_says_under_fuzzing(
    site: Site, run_figures: RunFigures
) -> None:
    schema = schemathesis.openapi.from_url(f"{site.base}/openapi.json")
    tally = Tally()
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40  # the whole API, not a part of it
    passes = [
        (GenerationMode.POSITIVE, "operations", site.ops),
        (GenerationMode.POSITIVE, "buyer", site.buyer),
        (GenerationMode.NEGATIVE, "operations", site.ops),
        (GenerationMode.NEGATIVE, "buyer", site.buyer),
    ]
    for number, (mode, who, headers) in enumerate(passes):
        # The first two passes try every operation as each caller; the others run while
        # the time budget lasts.
        if number >= 2 and time.monotonic() - started > BUDGET_S:
            tally.passes_skipped += 1
            continue
        for operation in operations:
            _fuzz(operation.as_strategy(generation_mode=mode), site, headers, who, tally)
    seconds = time.monotonic() - started
    server_errors = sum(n for status, n in tally.by_status.items() if status >= 500)
    run_figures.line(
        f"schemathesis: {tally.cases} cases over {len(operations)} operations in "
        f"{seconds:.0f} s; statuses {dict(sorted(tally.by_status.items()))}; "
        f"{server_errors} server errors; {len(tally.failures)} failed checks "
        f"({tally.impossible} negative runs with nothing to get wrong, {tally.unsendable} "
        f"requests the client would not send, {tally.passes_skipped} of 4 passes left out "
        "for time)"
    )
    assert tally.failures == [], "\n\n".join(tally.failures[:10])
    assert server_errors == 0
    assert tally.cases >= len(operations) * 2  # every operation was really tried


def _fuzz(
    strategy: st.SearchStrategy[schemathesis.Case],
    site: Site,
    headers: dict[str, str],
    who: str,
    tally: Tally,
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        try:
            response = case.call(base_url=site.base, headers=headers, timeout=60)
        except (InvalidHeader, InvalidURL, UnicodeError):
            tally.unsendable += 1
            return
        tally.cases += 1
        tally.by_status[response.status_code] = tally.by_status.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except AssertionError as failure:  # schemathesis's failures are AssertionErrors
            tally.failures.append(f"{who}: {case.method} {case.formatted_path}: {failure}")

    try:
        run()
    except Unsatisfiable:  # nothing to get wrong (no parameters, no body): nothing to send
        tally.impossible += 1
