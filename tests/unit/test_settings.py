"""Settings from the environment, as an operator writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from aftersales.settings import SettingsError, load_settings


def test_policy_directories_are_comma_separated_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AFTERSALES_POLICY_DIRS", "/etc/aftersales/policies,/srv/extra")
    assert load_settings().policy_dirs == [Path("/etc/aftersales/policies"), Path("/srv/extra")]
    monkeypatch.setenv("AFTERSALES_POLICY_DIRS", "")
    assert load_settings().policy_dirs == []


def test_a_bad_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERSALES_PORT", "eighty")
    with pytest.raises(SettingsError, match="AFTERSALES_PORT"):
        load_settings()
