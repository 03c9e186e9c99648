"""`aftersales demo` and `aftersales serve --demo`, as a new user first meets them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.serving import cli_env, serving


def _env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path / "data")


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, "-m", "aftersales.entrypoints.cli", "demo", "--lang", "en"],
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_demo_help_at_10_misses_its_hour_and_pays_5000_points_once_with_the_reason(
    demo_output: str,
) -> None:
    assert (
        "OH 10:00 OH-4 'Give a solution within 1 hour' was not met: its deadline of 2026-11-24 11:00:00 +08:00 passed (OH-4)."
        in demo_output
    )
    paid = re.findall(
        r"OH 10:00 OH-5 For 'no solution within 1 hour', the merchant pays 5,000 points \(¥50.00\)",
        demo_output,
    )
    assert len(paid) == 1


def test_demo_help_at_18_30_has_no_one_hour_commitment_and_says_why(demo_output: str) -> None:
    assert (
        "outside 09:00–18:00 local time (start inclusive, end exclusive), so the commitment 'Give a solution within 1 hour' does not apply (OH-4)"
        in demo_output
    )


def test_demo_48_hour_miss_pays_the_service_standard_penalty(demo_output: str) -> None:
    assert (
        "OH 瓷砖 SS-1 For 'not delivered into the home', the merchant pays 30,000 points (¥300.00)"
        in demo_output
    )


def test_demo_mail_in_without_feedback_for_30_days_pays_10000_on_an_upheld_complaint(
    demo_output: str,
) -> None:
    assert (
        "NW 寄修 NW-5 'Feedback within 30 days of accepting the mailed item' was not met"
        in demo_output
    )
    assert (
        "The complaint is upheld: 10,000 points (¥100.00) paid to the buyer account" in demo_output
    )


def test_demo_complaint_about_a_paid_failure_is_refused_by_the_oh_7_gate(demo_output: str) -> None:
    assert (
        "so a breach-of-commitment complaint about the same failure is not accepted" in demo_output
    )
    assert "must still be performed if you ask (OH-7)" in demo_output


def test_demo_pays_every_failure_exactly_once(demo_output: str) -> None:
    match = re.search(
        r"(\d+) cases, (\d+) payouts .*distinct payout keys (\d+) of (\d+)", demo_output
    )
    assert match is not None
    cases, payouts, distinct, total = map(int, match.groups())
    assert cases >= 30 and payouts >= 5
    assert distinct == total == payouts


@pytest.mark.timeout(240)
def test_serve_with_demo_shows_the_demo_cases(tmp_path: Path) -> None:
    with serving(tmp_path / "data", "--demo") as base:
        home = httpx.get(f"{base}/", timeout=5)
        assert home.status_code == 303 and home.headers["location"] == "/login"
        with httpx.Client(base_url=base) as ops:
            signed_in = ops.post("/login", data={"username": "ops", "password": "demo-ops-2026"})
            assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ops"
            payouts_page = ops.get("/ops/payouts", params={"sandbox": "demo"})
            live_payouts = ops.get("/ops/payouts")  # live data unless a sandbox is chosen
            cases = ops.get("/api/v1/cases", params={"sandbox": "demo", "limit": 500}).json()[
                "items"
            ]
            missing = ops.get("/api/v1/cases/nope")
    assert len(cases) >= 30
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "no case with id 'nope'" in missing.json()["detail"]
    rules = re.findall(r"<td[^>]*>(OH-5|SS-1|SS-2|NW-7)</td>", payouts_page.text)
    assert "OH-5" in rules and "NW-7" in rules
    assert not re.findall(r"<td[^>]*>(OH-5|SS-1|SS-2|NW-7)</td>", live_payouts.text)
