"""Sending one notification: e-mail over SMTP, or a signed POST to the marketplace's gateway.

Each sender takes a :class:`~aftersales.adapters.notify.store.SendClaim` and
returns ``None`` on success or a short text saying what failed; it never
raises for a transport problem (a refused connection, a timeout, a non-2xx
answer are outcomes the worker records and retries).

The gateway request reuses the webhook machinery: the same JSON conventions,
the same ``X-Aftersales-Signature`` (HMAC-SHA256 over ``"<t>.<body>"`` with the
gateway's secret), and an ``Idempotency-Key`` of ``notification-<delivery id>``
that stays the same on every attempt, so the gateway can drop repeats.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx

from aftersales.adapters.notify.store import SendClaim
from aftersales.adapters.webhooks.sending import post
from aftersales.adapters.webhooks.store import Claim
from aftersales.domain.explain import Language
from aftersales.domain.notices import KIND_NAMES, NoticeKind
from aftersales.settings import SmtpTarget

ERROR_MAX_CHARS = 500


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_MAX_CHARS else text[: ERROR_MAX_CHARS - 1] + "…"


def subject_of(claim: SendClaim) -> str:
    kind = KIND_NAMES[NoticeKind(claim.kind)].in_(claim.language)
    prefix = "【售后】" if claim.language == "zh" else "[aftersales] "
    return f"{prefix}{kind} · {claim.case_id}"


def email_message(claim: SendClaim, *, sender: str, base_url: str = "") -> EmailMessage:
    """The e-mail: the account's language first, the other language below it."""
    first: Language = claim.language
    second: Language = "en" if first == "zh" else "zh"
    link = f"{base_url.rstrip('/')}/cases/{claim.case_id}" if base_url else ""
    body = [claim.reason.render(first), "", claim.reason.render(second)]
    if link:
        body += ["", link]
    if claim.sandbox != "live":
        body += ["", f"(sandbox {claim.sandbox} / 沙盒 {claim.sandbox})"]
    message = EmailMessage()
    message["Subject"] = subject_of(claim)
    message["From"] = sender
    message["To"] = claim.address
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=f"notification-{claim.notification_id}")
    message.set_content("\n".join(body), charset="utf-8")
    return message


def send_email(
    target: SmtpTarget, claim: SendClaim, *, sender: str, timeout_s: float, base_url: str = ""
) -> str | None:
    message = email_message(claim, sender=sender, base_url=base_url)
    try:
        if target.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                target.host, target.port, timeout=timeout_s, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=timeout_s)
        with client:
            if target.starttls:
                client.starttls(context=ssl.create_default_context())
            if target.username:
                client.login(target.username, target.password or "")
            refused = client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        return _short(f"SMTP: {type(exc).__name__}: {exc}")
    if refused:
        return _short(f"SMTP refused {', '.join(refused)}")
    return None


def gateway_body(claim: SendClaim, base_url: str = "") -> bytes:
    """What the gateway gets: who to reach on which channel, and the words in both languages."""
    link = f"{base_url.rstrip('/')}/cases/{claim.case_id}" if base_url else None
    document = {
        "id": f"notification-{claim.delivery_id}",
        "channel": claim.channel,
        "to": claim.address,
        "language": claim.language,
        "kind": claim.kind,
        "case_id": claim.case_id,
        "sandbox": claim.sandbox,
        "at": claim.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "text": {"zh": claim.reason.zh, "en": claim.reason.en},
        "rule": claim.reason.rule,
        "url": link,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def send_to_gateway(
    client: httpx.Client,
    claim: SendClaim,
    *,
    url: str,
    secret: str,
    now: datetime,
    timeout_s: float,
    base_url: str = "",
) -> str | None:
    request = Claim(
        delivery_id=claim.delivery_id,
        endpoint_id="notify-gateway",
        idempotency_key=f"notification-{claim.delivery_id}",
        attempts=claim.attempts,
        lease_until=claim.lease_until,
        url=url,
        secret=secret,
        kind=f"notification.{claim.channel}",
        body=gateway_body(claim, base_url),
    )
    _, error = post(client, request, timestamp=int(now.timestamp()), timeout_s=timeout_s)
    return error
