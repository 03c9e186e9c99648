"""Settings from the environment, as an operator writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from aftersales.settings import SettingsError, load_settings, parse_smtp_url


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


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.example.com", "starts with smtp:// or smtps://"),
        ("smtp://:25", "names no host"),
        ("smtp://mail.example.com:99999", "port must be a number"),
        ("smtp://mail.example.com?tls=1", "takes only ?starttls=1"),
    ],
)
def test_a_bad_smtp_url_is_refused_at_start_up_with_what_to_write(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    monkeypatch.setenv("AFTERSALES_SMTP_URL", url)
    with pytest.raises(SettingsError, match="AFTERSALES_SMTP_URL") as refused:
        load_settings()
    assert problem in str(refused.value)


def test_an_smtp_url_gives_host_port_login_and_tls() -> None:
    target = parse_smtp_url("smtp://alerts:p%40ss@mail.example.com:587?starttls=1")
    assert (target.host, target.port, target.username, target.password) == (
        "mail.example.com",
        587,
        "alerts",
        "p@ss",
    )
    assert target.starttls and not target.ssl
    assert parse_smtp_url("smtps://mail.example.com").port == 465


def test_the_notification_gateway_needs_its_signing_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AFTERSALES_NOTIFY_GATEWAY_URL", "https://gateway.example.com/notify")
    with pytest.raises(SettingsError, match="needs AFTERSALES_NOTIFY_GATEWAY_SECRET"):
        load_settings()
    monkeypatch.setenv("AFTERSALES_NOTIFY_GATEWAY_SECRET", "short")
    with pytest.raises(SettingsError, match="AFTERSALES_NOTIFY_GATEWAY_SECRET"):
        load_settings()
