"""Notifications as an installer lives them, in a real browser against ``aftersales serve --demo``.

The installer chooses e-mail on the notification centre and keeps the page
open; a buyer presses help, operations move the sandbox clock past the first
warning mark, and the page shows each notification as it is made — no reload —
while the worker's send loop delivers the e-mail to a real local SMTP server
(aiosmtpd) the test starts. Screenshots go to ``test-results/<test>/``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from aftersales.demo import dataset as data
from tests.e2e.serving import free_port, serving
from tests.e2e.test_browser import (  # the browser, its sign-in and sandbox helpers
    _advance,
    _new_sandbox,
    _press_help,
    _signed_in,
    browser,  # noqa: F401 - a fixture
    chromium_path,  # noqa: F401 - a fixture
    shots,  # noqa: F401 - a fixture
)

SANDBOX = "bt-notify"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.changed:
            self.messages.append(message_from_bytes(envelope.original_content))
            self.changed.notify_all()
        return "250 OK"

    def wait_for(self, text: str, timeout_s: float = 30) -> Message:
        def found() -> Message | None:
            return next((m for m in self.messages if text in str(m["Subject"])), None)

        with self.changed:
            self.changed.wait_for(lambda: found() is not None, timeout=timeout_s)
            message = found()
        assert message is not None, [str(m["Subject"]) for m in self.messages]
        return message


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int]]:
    box, port = Inbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, inbox: tuple[Inbox, int]) -> Iterator[str]:
    settings = {
        "AFTERSALES_SMTP_URL": f"smtp://127.0.0.1:{inbox[1]}",
        "AFTERSALES_WORKER_POLL_INTERVAL_S": "0.5",
    }
    with serving(tmp_path_factory.mktemp("notify") / "data", "--demo", env=settings) as base:
        yield base


def test_the_installer_sees_the_assignment_and_the_warning_live_and_gets_the_email(
    browser: object,  # noqa: F811
    server: str,
    shots: Path,  # noqa: F811
    inbox: tuple[Inbox, int],
) -> None:
    installer = _signed_in(browser, server, "installer")
    installer.goto("/notifications")
    installer.fill("#pref-email", "hz-install-01@example.com")
    installer.check("input[name=email_on]")
    installer.click("form[action='/notifications/preferences'] button[type=submit]")
    installer.wait_for_selector(".notice.ok")
    installer.evaluate("window.__sameVisit = true")  # gone if the page ever reloads

    ops = _new_sandbox(browser, server, SANDBOX, "2026-11-24T10:00+08:00", shots)
    buyer = _signed_in(browser, server, "lamp buyer")
    case_id = _press_help(buyer, f"{SANDBOX}.{data.ITEM_LAMP_HANGZHOU}")

    assigned = f"#notification-live .kind-case_assigned:has-text('{case_id}')"
    installer.wait_for_selector(assigned, timeout=20_000)
    assert installer.evaluate("window.__sameVisit") is True
    assert installer.inner_text(".notify-badge") != "0"
    installer.screenshot(path=str(shots / "installer-assigned-zh.png"), full_page=True)

    _advance(ops, SANDBOX, "31m")
    warned = f"#notification-live .kind-due_soon:has-text('{case_id}')"
    installer.wait_for_selector(warned, timeout=20_000)
    assert installer.evaluate("window.__sameVisit") is True
    text = installer.inner_text(warned)
    assert "还剩 30 分" in text and "OH-4" in text
    installer.wait_for_selector(".notify-toast", timeout=10_000)
    installer.screenshot(path=str(shots / "installer-warned-zh.png"), full_page=True)

    installer.click(f"{warned} button.ack")
    installer.wait_for_selector(f"{warned} .acked")

    mail = inbox[0].wait_for(case_id)
    assert mail["To"] == "hz-install-01@example.com"
    body = mail.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert re.search(r"已指派给您|将于 .* 到期", body), body

    phone = _signed_in(browser, server, "installer", phone=True)
    phone.goto("/notifications?lang=en")
    phone.wait_for_selector(f"#notification-live .kind-due_soon:has-text('{case_id}')")
    assert "minutes from now" in phone.inner_text("#notification-live") or "min from now" in (
        phone.inner_text("#notification-live")
    )
    phone.screenshot(path=str(shots / "installer-phone-en.png"), full_page=True)
