"""Alerts to an operator: a JSON webhook or an e-mail, described by a connection's fields.

No Airflow import: the DAGs' failure callback reads the Airflow connection ``nse_alerts`` and
passes its fields to :func:`target_from_connection`. Supported connection types:

- ``http`` / ``https`` / ``webhook``: POST of ``{"text", "subject", "lines"}`` (Slack- and
  Teams-compatible ``text``) to ``extra["url"]``, else ``<schema or http>://host[:port]<extra["endpoint"]>``;
- ``smtp`` / ``email``: a plain-text mail through ``host:port`` (``login``/``password`` when set,
  STARTTLS when ``extra["starttls"]`` is true) from ``extra["from"]`` (default ``login``) to
  ``extra["to"]`` (comma-separated).
"""

from __future__ import annotations

import json
import smtplib
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

WEBHOOK_TYPES = frozenset({"http", "https", "webhook"})
EMAIL_TYPES = frozenset({"smtp", "email"})


@dataclass(frozen=True)
class AlertTarget:
    """Where an alert goes."""

    kind: str  # "webhook" or "email"
    url: str | None = None
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    starttls: bool = False


def target_from_connection(
    conn_type: str | None,
    host: str | None,
    port: int | None,
    schema: str | None,
    login: str | None,
    password: str | None,
    extra: dict[str, Any],
) -> AlertTarget:
    """The alert target a connection describes; ``ValueError`` naming what is missing."""
    kind = (conn_type or "").lower()
    if kind in WEBHOOK_TYPES:
        url = extra.get("url")
        if not url:
            if not host:
                raise ValueError("a webhook connection needs a host or extra['url']")
            base = host if "://" in host else f"{schema or ('https' if kind == 'https' else 'http')}://{host}"
            url = f"{base}{f':{port}' if port else ''}{extra.get('endpoint', '')}"
        return AlertTarget("webhook", url=url)
    if kind in EMAIL_TYPES:
        recipients = tuple(r.strip() for r in str(extra.get("to", "")).split(",") if r.strip())
        if not host or not recipients:
            raise ValueError("an e-mail connection needs a host and extra['to']")
        return AlertTarget(
            "email",
            host=host,
            port=int(port or 25),
            login=login or None,
            password=password or None,
            sender=extra.get("from") or login or "nse-execution@localhost",
            recipients=recipients,
            starttls=bool(extra.get("starttls", False)),
        )
    raise ValueError(f"connection type {conn_type!r} is not an alert target (use http, webhook, smtp or email)")


def send_alert(target: AlertTarget, subject: str, lines: list[str], timeout_s: float = 10.0) -> None:
    """Send one alert; raises on failure (callers decide whether that matters)."""
    text = "\n".join([subject, *lines])
    if target.kind == "webhook":
        body = json.dumps({"text": text, "subject": subject, "lines": lines}).encode()
        request = urllib.request.Request(
            str(target.url), data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
        return
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, target.sender, ", ".join(target.recipients)
    message.set_content(text)
    with smtplib.SMTP(str(target.host), int(target.port or 25), timeout=timeout_s) as smtp:
        if target.starttls:
            smtp.starttls()
        if target.login and target.password:
            smtp.login(target.login, target.password)
        smtp.send_message(message)
