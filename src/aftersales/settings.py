"""Typed settings from the environment (``AFTERSALES_*``), validated at start-up.

Nothing here runs at import time: :func:`load_settings` is called by the entry
points (through ``bootstrap``), and tests build :class:`Settings` directly.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from aftersales.errors import ConfigurationError

MIN_SECRET_LENGTH = 16


class SettingsError(ConfigurationError):
    """An ``AFTERSALES_*`` setting is missing or invalid."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AFTERSALES_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=Path("data"), description="Where the SQLite file and attachments live."
    )
    database_url: str | None = Field(
        default=None,
        description="sqlite:///path or postgresql://user@host/db; default: SQLite in data_dir.",
    )
    # Comma-separated in the environment (AFTERSALES_POLICY_DIRS=a,b), not JSON.
    policy_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Extra policy directories."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    worker_poll_interval_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="Longest sleep of the deadline loop, and of the webhook delivery loop when "
        "it has nothing to send (new outbox events wait at most this long to go out).",
    )
    worker_batch_size: int = Field(default=200, ge=1, le=10_000)
    worker_lease_s: float = Field(default=30.0, gt=0)
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="The largest request body taken (413 above it, refused while it arrives), "
        "except files (attachment_max_bytes, import_max_bytes, max_form_bytes) and batches of "
        "events or master data, which have their own limits.",
    )
    max_form_bytes: int = Field(
        default=40 * 1024 * 1024,
        ge=1024,
        description="The largest web form with photos (a repair report and its photos).",
    )
    attachment_max_per_report: int = Field(
        default=8, ge=1, le=100, description="Photos and files one repair report takes."
    )
    attachment_max_total_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1,
        description="The largest total of the files of one repair report (413 above it).",
    )
    attachment_sweep_interval_s: float = Field(
        default=3600.0,
        gt=0,
        description="How often the worker removes staged and unreferenced attachment files "
        "(those over a day old).",
    )
    import_max_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=1,
        description="The largest file one import over HTTP takes (413 above it).",
    )
    webhook_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="Total time one webhook request may take, whatever it is waiting for; then "
        "it is abandoned and counts as a failed attempt. It bounds the two limits below.",
    )
    webhook_connect_timeout_s: float = Field(
        default=2.0, gt=0, description="Time to open the connection to a webhook endpoint."
    )
    webhook_read_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="Longest silence while sending a webhook request or waiting for its answer.",
    )
    webhook_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Webhook requests a worker keeps in flight at once; each endpoint gets at "
        "most one of them, so a hung endpoint holds one slot until its timeout.",
    )
    webhook_max_attempts: int = Field(default=15, ge=1, le=50)  # about six hours of retries
    db_pool_size: int = Field(default=5, ge=1, le=100)
    # Comma-separated in the environment; two while a secret is being rotated.
    events_secrets: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        repr=False,
        description="Shared secrets a marketplace signs POST /api/v1/events with "
        "(X-Aftersales-Signature, as our webhooks are signed); none: only bearer tokens.",
    )

    # Notifications beside the in-app list (docs/notifications.md): e-mail through an SMTP
    # server, text messages and chat apps through the marketplace's gateway (a signed POST).
    smtp_url: str | None = Field(
        default=None,
        repr=False,  # may hold a password
        description="SMTP server for notification e-mail: smtp://[user:password@]host[:port]"
        "[?starttls=1] or smtps://…; none: e-mail is not sent.",
    )
    smtp_from: str = Field(
        default="aftersales@localhost",
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="The sender address of notification e-mail.",
    )
    notify_gateway_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+",
        description="The marketplace's gateway for text messages and chat apps (http(s) URL); "
        "none: those channels are not sent.",
    )
    notify_gateway_secret: str | None = Field(
        default=None,
        repr=False,
        min_length=MIN_SECRET_LENGTH,
        description="The secret gateway requests are signed with (X-Aftersales-Signature).",
    )
    notify_max_attempts: int = Field(default=10, ge=1, le=50)
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+",
        description="Where people open the web pages (e.g. https://aftersales.example.com): "
        "notification e-mail and gateway messages link the case there.",
    )

    # Comma-separated in the environment: addresses or networks (10.0.0.0/8), or * for any.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="Proxies whose X-Forwarded-Proto and X-Forwarded-For are believed (a page "
        "served over HTTPS through them gets HSTS and Secure cookies); empty: none.",
    )
    metrics_token: str | None = Field(
        default=None,
        repr=False,
        min_length=MIN_SECRET_LENGTH,
        description="When set, GET /metrics needs Authorization: Bearer <this token>.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="When set, metrics are served on this port only (at metrics_host), not by "
        "the app: keep it off the public network.",
    )
    metrics_host: str = "127.0.0.1"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list | tuple):
            return value
        proxies = [str(p).strip() for p in value if str(p).strip()]
        for proxy in proxies:
            if proxy == "*":
                continue
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"{proxy!r} is not an address or network (e.g. 10.0.0.5, 10.0.0.0/8, or * "
                    "for any)"
                ) from None
        return proxies

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: str | None) -> str | None:
        if value:
            parse_smtp_url(value)  # a ValueError says what is wrong
        return value or None

    @model_validator(mode="after")
    def _gateway_signed(self) -> Settings:
        if self.notify_gateway_url and not self.notify_gateway_secret:
            raise ValueError(
                "AFTERSALES_NOTIFY_GATEWAY_URL needs AFTERSALES_NOTIFY_GATEWAY_SECRET: gateway "
                "requests are signed"
            )
        return self

    @field_validator("policy_dirs", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return [p for p in value.replace(";", ",").split(",") if p.strip()]
        return value

    @field_validator("events_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list | tuple):
            return value
        secrets = [str(s).strip() for s in value if str(s).strip()]
        if any(len(s) < MIN_SECRET_LENGTH for s in secrets):
            raise ValueError(
                f"each secret needs at least {MIN_SECRET_LENGTH} characters; make one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return secrets

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'aftersales.sqlite3').resolve()}"

    @property
    def is_embedded(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def imports_dir(self) -> Path:
        """Uploaded import files until their job ends, and the jobs' error reports."""
        return self.data_dir / "imports"


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    ssl: bool  # smtps: TLS from the first byte
    starttls: bool


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://[user:password@]host[:port][?starttls=1]`` or ``smtps://…``, checked."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(
            f"an SMTP URL starts with smtp:// or smtps://, e.g. smtp://mail.example.com:587"
            f"?starttls=1 (got {parts.scheme or 'no scheme'})"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the SMTP URL's port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("the SMTP URL names no host, e.g. smtp://mail.example.com:587")
    query = parse_qs(parts.query)
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ValueError(f"the SMTP URL takes only ?starttls=1, not {', '.join(sorted(unknown))}")
    ssl = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=port or (465 if ssl else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ssl=ssl,
        starttls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
    )


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (e.g. CLI options) on top."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        where = f"setting AFTERSALES_{field.upper()}" if field else "settings"
        raise SettingsError(f"{where}: {first['msg']}") from exc
