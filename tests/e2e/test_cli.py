"""The command line, driven as a user runs it: a subprocess, its output and exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aftersales.adapters.policy_files import builtin_policy_dir


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aftersales.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


def test_sample_explains_each_commitment_in_both_languages_with_rule_ids() -> None:
    result = run("sample")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # OH-4/OH-5: 10:00 request, no solution in an hour, 5,000 points paid once.
    assert "pays 5,000 points (¥50.00) to the buyer account buyer-li" in out
    assert "支付 5,000 积分（¥50.00）" in out
    assert out.count("OH-1000/solution/no_solution_in_time") == 1
    # OH-4 outside the window.
    assert "outside 09:00–18:00 local time (start inclusive, end exclusive)" in out
    # OH-6 with SS-1's penalty, NW-7 upheld complaint, OH-7 refusal.
    assert "30,000 points (¥300.00)" in out
    assert (
        "The complaint is upheld: 10,000 points (¥100.00) paid to the buyer account buyer-li (NW-7)"
        in out
    )
    assert "is not accepted; the service itself must still be performed" in out
    assert "buyer-li" in out.split("balances")[-1]


def test_sample_in_english_only_prints_no_chinese_sentences() -> None:
    result = run("sample", "--only", "oh-evening", "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert "does not apply (OH-4)" in result.stdout
    assert "不适用" not in result.stdout


def test_sample_language_comes_from_the_environment_twin() -> None:
    result = run("sample", "--only", "oh-evening", env={"AFTERSALES_LANG": "zh"})
    assert "不适用" in result.stdout and "does not apply" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sample", "--lang", "fr"), "--lang must be zh, en or both"),
        (("sample", "--only", "nope"), "no scenario 'nope'"),
        (
            ("calendar", "explain", "cn-business", "--start", "2026-09-30T14:00"),
            "needs a UTC offset",
        ),
        (("calendar", "explain", "cn-business", "--start", "yesterday"), "is not an ISO date-time"),
        (
            ("calendar", "explain", "office", "--start", "2026-09-30T14:00+08:00"),
            "no calendar 'office'",
        ),
        (
            (
                "calendar",
                "explain",
                "cn-business",
                "--start",
                "2026-09-30T14:00+08:00",
                "--duration",
                "soon",
            ),
            "is not a duration",
        ),
    ],
)
def test_bad_arguments_get_a_sentence_and_exit_code_2(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stdout + result.stderr


def test_calendar_explain_counts_business_hours_across_national_day() -> None:
    result = run(
        "calendar",
        "explain",
        "cn-business",
        "--start",
        "2026-09-30T14:00+08:00",
        "--duration",
        "8h",
    )
    assert result.returncode == 0, result.stderr
    assert "due 2026-10-08 13:00:00 +08:00" in result.stdout


def test_policies_check_reports_a_broken_operations_file_by_name(tmp_path: Path) -> None:
    ops = tmp_path / "ops"
    ops.mkdir()
    text = (builtin_policy_dir() / "one-click-help-2022.toml").read_text(encoding="utf-8")
    (ops / "one-click-help-2022.toml").write_text(
        text.replace('duration = "1h"', 'duration = "1 hour"'), encoding="utf-8"
    )
    result = run("policies", "check", "--policy-dir", str(ops))
    assert result.returncode == 2
    assert "one-click-help-2022.toml: clocks[0].duration" in result.stdout
    ok = run("policies", "check")
    assert ok.returncode == 0 and "3 programme versions" in ok.stdout
