"""The notification send loop: hand new notifications to channels, send what is due.

It runs in a thread of its own beside the deadline loop (:mod:`aftersales.worker.loop`):
notifications are *made* in the deadline engine's transactions, and *sent* here,
never inside a request or a deadline transaction, so a slow mail server or
gateway never delays a payout. A round fans new notifications out to the
channels their accounts chose, claims due sends under a lease, sends them one
after another (e-mail over SMTP, SMS and chat apps as a signed POST to the
marketplace's gateway) and records each outcome; a failure waits for its
back-off (:data:`aftersales.adapters.notify.store.NOTIFY_RETRY`) and is tried
again, until the attempts allowed are used up. A channel whose setting is
missing (no ``AFTERSALES_SMTP_URL``, no gateway) is not claimed: its sends wait.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import timedelta

import httpx
from sqlalchemy import Engine

from aftersales.adapters.notify.sending import send_email, send_to_gateway
from aftersales.adapters.notify.store import (
    DEAD,
    DELIVERED,
    NOTIFY_RETRY,
    SendClaim,
    claim_due,
    fan_out,
    record_outcome,
)
from aftersales.domain.retry import RetryPolicy
from aftersales.services.time import Clock
from aftersales.settings import Settings, parse_smtp_url

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0
BATCH = 50


@dataclass
class NotifyReport:
    fanned_out: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


class NotifyLoop:
    """Send notifications until ``stop`` is set; :meth:`run` blocks, so give it a thread."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        settings: Settings,
        *,
        stop: threading.Event | None = None,
        retry: RetryPolicy | None = None,
        poll_interval_s: float | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.settings = settings
        self.stop = stop or threading.Event()
        self.retry = retry or replace(NOTIFY_RETRY, max_attempts=settings.notify_max_attempts)
        self.poll_interval_s = poll_interval_s or settings.worker_poll_interval_s
        self.smtp = parse_smtp_url(settings.smtp_url) if settings.smtp_url else None
        self.total = NotifyReport()

    @property
    def channels(self) -> tuple[str, ...]:
        enabled: list[str] = []
        if self.smtp is not None:
            enabled.append("email")
        if self.settings.notify_gateway_url and self.settings.notify_gateway_secret:
            enabled += ["sms", "chat"]
        return tuple(enabled)

    def run_once(self, client: httpx.Client) -> NotifyReport:
        report = NotifyReport()
        now = self.clock.now()
        with self.engine.begin() as conn:
            report.fanned_out = fan_out(conn, now=now)
        lease = timedelta(seconds=SEND_TIMEOUT_S * 3 + 30)
        for claim in claim_due(
            self.engine, now=now, limit=BATCH, lease=lease, channels=self.channels
        ):
            error = self._send(client, claim)
            status = record_outcome(
                self.engine, claim, now=self.clock.now(), error=error, retry=self.retry
            )
            if status == DELIVERED:
                report.sent += 1
            elif status:
                report.failed += 1
                report.dead += status == DEAD
                report.errors.append(error or "")
                log.log(
                    logging.WARNING if status == DEAD else logging.INFO,
                    "notification %d by %s failed (attempt %d): %s%s",
                    claim.notification_id,
                    claim.channel,
                    claim.attempts + 1,
                    error,
                    "; given up" if status == DEAD else "; it will be tried again",
                )
        self.total.fanned_out += report.fanned_out
        self.total.sent += report.sent
        self.total.failed += report.failed
        self.total.dead += report.dead
        return report

    def _send(self, client: httpx.Client, claim: SendClaim) -> str | None:
        settings = self.settings
        if claim.channel == "email":
            assert self.smtp is not None
            return send_email(
                self.smtp,
                claim,
                sender=settings.smtp_from,
                timeout_s=SEND_TIMEOUT_S,
                base_url=settings.public_url or "",
            )
        assert settings.notify_gateway_url
        assert settings.notify_gateway_secret
        return send_to_gateway(
            client,
            claim,
            url=settings.notify_gateway_url,
            secret=settings.notify_gateway_secret,
            base_url=settings.public_url or "",
            now=self.clock.now(),
            timeout_s=SEND_TIMEOUT_S,
        )

    def run(self) -> NotifyReport:
        log.info("notification loop started: channels %s", ", ".join(self.channels) or "none")
        with httpx.Client(trust_env=False, follow_redirects=False) as client:
            while not self.stop.is_set():
                try:
                    report = self.run_once(client)
                except Exception:  # a database hiccup must not end the loop
                    log.exception("notification round failed; trying again shortly")
                    self.stop.wait(self.poll_interval_s)
                    continue
                if report.fanned_out or report.sent or report.failed:
                    continue  # there may be more right now
                self.stop.wait(self.poll_interval_s)
        log.info(
            "notification loop stopped: %d sent, %d failed attempts, %d given up",
            self.total.sent,
            self.total.failed,
            self.total.dead,
        )
        return self.total
