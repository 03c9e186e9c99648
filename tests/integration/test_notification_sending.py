"""Sending notifications from the worker: e-mail to a real local SMTP server, SMS and chat
apps as signed POSTs to a real local gateway; failures retried with back-off, then given up.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, func, select

from aftersales.adapters.db import schema as s
from aftersales.adapters.notify.store import DEAD, DELIVERED, PENDING, deliveries_of
from aftersales.adapters.policy_files import load_policy_book
from aftersales.adapters.webhooks.signing import SIGNATURE_HEADER, verify_signature
from aftersales.demo import dataset as data
from aftersales.demo.setup import demo_world
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.services import cases as svc
from aftersales.services import notifications as notes
from aftersales.services.accounts import ensure_account
from aftersales.services.base import Services
from aftersales.services.sandboxes import create_sandbox
from aftersales.services.time import FixedClock
from aftersales.settings import Settings
from aftersales.testing import services_on
from aftersales.testing.webhook_sink import serving_posts
from aftersales.worker.notify import NotifyLoop
from tests.e2e.serving import free_port

REAL_NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
SANDBOX = "send"
SECRET = "gateway-secret-0123456789"
BUYER = Actor(Role.CONSUMER, "buyer-001", Channel.HELP_BUTTON)


class Inbox:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.original_content))
        self.arrived.set()
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def services(engine: Engine) -> Services:
    services = services_on(engine, FixedClock(REAL_NOW), load_policy_book())
    with services.uow() as uow:
        create_sandbox(services, sandbox_id=SANDBOX, start=datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
        data.load_demo(services, orders_into=demo_world(SANDBOX))
        uow.commit()
    ensure_account(
        services,
        username="hz-install-01",
        password="a long enough password",
        role=Role.PROVIDER,
        party="hz-install-01",
    )
    return services


def _installer(services: Services) -> str:
    with services.uow() as uow:
        found = uow.accounts.by_username("hz-install-01")
    assert found is not None
    return found.account.id


def _help(services: Services) -> str:
    return svc.request_help(
        services,
        order_item_id=f"{SANDBOX}.{data.ITEM_LAMP_HANGZHOU}",
        actor=BUYER,
        failure="installation_late",
    ).case.id


def _loop(engine: Engine, clock: FixedClock, **settings: Any) -> NotifyLoop:
    return NotifyLoop(engine, clock, Settings(**settings), poll_interval_s=0.05)


def test_the_assignment_reaches_the_installer_by_email_in_their_language(
    engine: Engine, services: Services, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    notes.set_preferences(
        services, _installer(services), email="hz@example.com", email_on=True, language="zh"
    )
    case_id = _help(services)
    loop = _loop(
        engine,
        FixedClock(REAL_NOW),
        smtp_url=f"smtp://127.0.0.1:{port}",
        public_url="https://aftersales.example.com",
    )
    with httpx.Client() as client:
        report = loop.run_once(client)
        again = loop.run_once(client)
    assert (report.sent, again.sent, again.fanned_out) == (1, 0, 0)  # sent once, not twice
    assert inbox.arrived.wait(5)
    (mail,) = inbox.messages
    assert mail["To"] == "hz@example.com" and case_id in str(mail["Subject"])
    body = mail.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert body.index("已指派给您") < body.index("has been assigned to you")  # Chinese first
    assert "OH-3" in body and f"https://aftersales.example.com/cases/{case_id}" in body


def test_sms_and_chat_go_to_the_gateway_signed_and_a_refusal_is_retried_later(
    engine: Engine, services: Services
) -> None:
    received: list[tuple[dict[str, Any], str]] = []
    answers = iter([503, 200, 200])

    def gateway(request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers["Content-Length"]))
        assert verify_signature(
            SECRET, request.headers[SIGNATURE_HEADER], body, now=datetime.now(UTC)
        )
        received.append((json.loads(body), request.headers["Idempotency-Key"]))
        code = next(answers)
        request.send_response(code)
        request.send_header("Content-Length", "0")
        request.end_headers()

    notes.set_preferences(
        services,
        _installer(services),
        phone="13800138000",
        sms_on=True,
        chat_id="hz-install-wecom",
        chat_on=True,
    )
    _help(services)
    clock = FixedClock(datetime.now(UTC))
    with serving_posts(gateway) as port, httpx.Client() as client:
        loop = _loop(
            engine,
            clock,
            notify_gateway_url=f"http://127.0.0.1:{port}/notify",
            notify_gateway_secret=SECRET,
        )
        first = loop.run_once(client)
        assert (first.sent, first.failed) == (1, 1)
        assert loop.run_once(client).sent == 0  # the failed one waits for its back-off
        clock.advance(minutes=5)
        assert loop.run_once(client).sent == 1
    # The text message went first and was refused (503); it came again after its back-off.
    assert [(doc["channel"], doc["to"]) for doc, _ in received] == [
        ("sms", "13800138000"),
        ("chat", "hz-install-wecom"),
        ("sms", "13800138000"),
    ]
    retried = [key for doc, key in received]
    assert len(set(retried)) == 2  # the retry carried the same Idempotency-Key
    assert received[0][0]["text"]["zh"] and received[0][0]["rule"] == "OH-3"
    with engine.connect() as conn:
        statuses = conn.execute(
            select(s.notification_deliveries.c.status, func.count()).group_by(
                s.notification_deliveries.c.status
            )
        ).all()
    assert dict(statuses) == {DELIVERED: 2}


def test_a_mail_server_that_is_down_is_retried_with_back_off_then_given_up(
    engine: Engine, services: Services
) -> None:
    notes.set_preferences(services, _installer(services), email="hz@example.com", email_on=True)
    _help(services)
    clock = FixedClock(REAL_NOW)
    loop = _loop(engine, clock, smtp_url=f"smtp://127.0.0.1:{free_port()}", notify_max_attempts=2)
    with httpx.Client() as client:
        assert loop.run_once(client).failed == 1
        (notification,) = notes.page_of(services, _installer(services)).items
        (pending,) = deliveries_of(engine, notification.id)
        assert pending["status"] == PENDING and "SMTP" in pending["last_error"]
        assert pending["next_attempt_at"] >= REAL_NOW + timedelta(seconds=15)
        assert loop.run_once(client).failed == 0  # not yet due again
        clock.advance(minutes=2)
        assert loop.run_once(client).dead == 1
    (dead,) = deliveries_of(engine, notification.id)
    assert dead["status"] == DEAD and dead["attempts"] == 2
