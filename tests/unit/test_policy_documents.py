"""Policies are data: loading, validation errors a person can act on, versions (OH-8)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aftersales.adapters.policy_files import builtin_policy_dir, load_policy_book
from aftersales.domain.errors import EligibilityError, PolicyError
from aftersales.domain.lifecycle import Programme
from aftersales.domain.policy import PolicyBook

from .builders import sh


def _copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(builtin_policy_dir(), target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_policies_load_with_every_programme_version(book: PolicyBook) -> None:
    assert [p.id for p in book.versions(Programme.ONE_CLICK_HELP)] == ["oh-2020", "oh-2022"]
    assert [p.id for p in book.versions(Programme.NATIONAL_WARRANTY)] == ["nw-2021"]
    assert {"wall", "oh-initiation-window", "cn-business"} <= set(book.calendars)


def test_oh_8_exactly_one_version_is_in_force_at_any_instant(book: PolicyBook) -> None:
    assert book.in_force(Programme.ONE_CLICK_HELP, sh(2022, 1, 9, 23, 59, 59)).id == "oh-2020"
    assert book.in_force(Programme.ONE_CLICK_HELP, sh(2022, 1, 10)).id == "oh-2022"
    with pytest.raises(EligibilityError, match="no one_click_help policy is in force"):
        book.in_force(Programme.ONE_CLICK_HELP, sh(2019, 12, 31))


@pytest.mark.parametrize(
    ("file", "old", "new", "field", "problem"),
    [
        (
            "one-click-help-2022.toml",
            'duration = "1h"',
            'duration = "an hour"',
            "clocks[0].duration",
            "duration",
        ),
        (
            "one-click-help-2022.toml",
            'duration = "48h"',
            'duration = "0h"',
            "clocks[1].duration",
            "longer than zero",
        ),
        (
            "one-click-help-2022.toml",
            'rule = "OH-5"',
            'rule = "OH5"',
            "penalties[0].rule",
            "not a rule ID",
        ),
        (
            "one-click-help-2022.toml",
            "points = 5000",
            "points = -5",
            "penalties[0].points",
            "greater than or equal to 1",
        ),
        (
            "one-click-help-2022.toml",
            'starts_on = "initiated"',
            'starts_on = "created"',
            "",
            "never emits",
        ),
        (
            "one-click-help-2022.toml",
            'penalty = "oh-solution-late"',
            'penalty = "nope"',
            "",
            "not defined",
        ),
        (
            "one-click-help-2022.toml",
            "effective_from = 2022-01-10T00:00:00+08:00",
            "effective_from = 2022-01-10T00:00:00",
            "effective_from",
            "UTC offset",
        ),
        (
            "one-click-help-2022.toml",
            'basis = "wall"',
            'basis = "sometimes"',
            "clocks[0].basis",
            "'wall' or 'business'",
        ),
        (
            "one-click-help-2022.toml",
            'id = "oh-2022"',
            'id = "oh-2022"\ncolour = "red"',
            "colour",
            "Extra inputs",
        ),
        (
            "service-standards.toml",
            "points_per_yuan = 15",
            "points = 15",
            "standards[3].failures[0]",
            "needs 'points_per_yuan'",
        ),
        (
            "catalog.toml",
            'parent = "home-building"',
            'parent = "nowhere"',
            "categories",
            "unknown parent",
        ),
        # Warning marks (docs/notifications.md): shorter than the clock, once each.
        (
            "one-click-help-2022.toml",
            'warn_before = ["30m", "10m"]',
            'warn_before = ["30m", "90m"]',
            "clocks[0].warn_before[1]",
            "shorter than the clock's own duration (1h)",
        ),
        (
            "one-click-help-2022.toml",
            'warn_before = ["30m", "10m"]',
            'warn_before = ["30m", "30m"]',
            "clocks[0].warn_before[1]",
            "given twice",
        ),
        (
            "one-click-help-2022.toml",
            'warn_before = ["30m", "10m"]',
            'warn_before = ["half an hour"]',
            "clocks[0].warn_before",
            "not a duration",
        ),
        (
            "one-click-help-2022.toml",
            'escalate_after = "10m"\nescalate_to = ["merchant", "operations"]',
            'escalate_to = ["merchant", "operations"]',
            "clocks[0].escalate_after",
            "'escalate_to' needs 'escalate_after'",
        ),
        (
            "one-click-help-2022.toml",
            'escalate_to = ["merchant", "operations"]\n\n[[clocks]]',
            'escalate_to = ["merchant", "the boss"]\n\n[[clocks]]',
            "clocks[0].escalate_to",
            "'brand', 'merchant' or 'operations'",
        ),
    ],
)
def test_invalid_policy_names_the_file_the_field_and_the_problem(
    tmp_path: Path, file: str, old: str, new: str, field: str, problem: str
) -> None:
    directory = _copy_policies(tmp_path)
    _edit(directory / file, old, new)
    with pytest.raises(PolicyError) as caught:
        load_policy_book([directory])
    error = caught.value
    assert error.source.endswith(file)
    assert error.field.startswith(field)
    assert problem in error.problem
    assert file in str(error)


def test_reference_to_an_unknown_calendar_is_reported_with_the_known_ones(tmp_path: Path) -> None:
    directory = _copy_policies(tmp_path)
    _edit(
        directory / "one-click-help-2022.toml",
        'applies_within = "oh-initiation-window"',
        'applies_within = "office"',
    )
    with pytest.raises(
        PolicyError,
        match=r"clocks\[0\]\.applies_within: calendar 'office' is not defined \(known: .*wall",
    ):
        load_policy_book([directory])


def test_overlapping_versions_of_a_programme_are_refused(tmp_path: Path) -> None:
    directory = _copy_policies(tmp_path)
    _edit(
        directory / "one-click-help-2020.toml", "effective_until = 2022-01-10T00:00:00+08:00\n", ""
    )
    with pytest.raises(PolicyError, match="overlaps 'oh-2020'"):
        load_policy_book([directory])


def test_broken_toml_is_reported_with_its_file(tmp_path: Path) -> None:
    directory = _copy_policies(tmp_path)
    (directory / "national-warranty-2021.toml").write_text(
        'kind = "programme"\nid = \n', encoding="utf-8"
    )
    with pytest.raises(
        PolicyError, match=r"national-warranty-2021\.toml: is not valid TOML.*line 2"
    ):
        load_policy_book([directory])


def test_unknown_document_kind_lists_the_known_kinds(tmp_path: Path) -> None:
    directory = _copy_policies(tmp_path)
    (directory / "extra.toml").write_text('kind = "rules"\n', encoding="utf-8")
    with pytest.raises(
        PolicyError,
        match="kind: expected one of catalog, cities, dispatch, programme, service_standards",
    ):
        load_policy_book([directory])


def test_an_operations_directory_adds_a_new_version_without_code(tmp_path: Path) -> None:
    extra = tmp_path / "ops"
    extra.mkdir()
    shipped = (builtin_policy_dir() / "one-click-help-2022.toml").read_text(encoding="utf-8")
    (extra / "one-click-help-2022.toml").write_text(
        shipped.replace(
            "effective_from = 2022-01-10T00:00:00+08:00",
            "effective_from = 2022-01-10T00:00:00+08:00\neffective_until = 2027-01-01T00:00:00+08:00",
        ),
        encoding="utf-8",
    )
    (extra / "one-click-help-2027.toml").write_text(
        shipped.replace('id = "oh-2022"', 'id = "oh-2027"')
        .replace(
            "effective_from = 2022-01-10T00:00:00+08:00",
            "effective_from = 2027-01-01T00:00:00+08:00",
        )
        .replace("points = 5000", "points = 8000"),
        encoding="utf-8",
    )
    book = load_policy_book([extra])
    newer = book.in_force(Programme.ONE_CLICK_HELP, sh(2027, 3, 1))
    assert newer.id == "oh-2027"
    assert newer.penalty("oh-solution-late").points == 8000
    assert (
        book.in_force(Programme.ONE_CLICK_HELP, sh(2026, 3, 1)).penalty("oh-solution-late").points
        == 5000
    )


def test_holiday_overrides_in_an_operations_calendars_file_win(tmp_path: Path) -> None:
    extra = tmp_path / "ops"
    extra.mkdir()
    shipped = (builtin_policy_dir() / "calendars.toml").read_text(encoding="utf-8")
    (extra / "calendars.toml").write_text(shipped, encoding="utf-8")
    book = load_policy_book([extra])
    assert book.calendar("cn-business").is_open(sh(2026, 2, 14, 10))  # adjusted working Saturday
