"""Failure alerts: the DAGs' callback sends the failed symbol-days to the Airflow connection
`nse_alerts` — a real HTTP webhook and a real SMTP exchange on 127.0.0.1 — and stays quiet
(log only) without one, and never raises when the target is down."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest
from airflow_support import DAGS_FOLDER

from execution.data.ingest import DaysQuarantined
from execution.ops.alerts import target_from_connection

QUARANTINED = "SAIL 2020-01-31: quarantined, failed bars_per_day, longest_gap"


@pytest.fixture
def common():
    if str(DAGS_FOLDER) not in sys.path:
        sys.path.insert(0, str(DAGS_FOLDER))
    import common as module

    return module


def failure_context() -> dict:
    ti = SimpleNamespace(dag_id="nse_daily_bars", task_id="publish_bars", rendered_map_index="SAIL")
    return {"ti": ti, "run_id": "manual__x", "exception": DaysQuarantined(QUARANTINED)}


@pytest.fixture
def webhook() -> Iterator[tuple[int, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(
                {"path": self.path, "body": json.loads(self.rfile.read(int(self.headers["Content-Length"])))}
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[str]]]:
    """A minimal SMTP responder: enough of the protocol for smtplib.send_message."""
    messages: list[str] = []

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(f"{line}\r\n".encode())

        def handle(self) -> None:
            self.reply("220 test ESMTP")
            while line := self.rfile.readline():
                command = line.decode().strip().upper()
                if command.startswith(("EHLO", "HELO")):
                    self.reply("250 test")
                elif command == "DATA":
                    self.reply("354 end with .")
                    body = []
                    while (data := self.rfile.readline().decode()) not in (".\r\n", ""):
                        body.append(data)
                    messages.append("".join(body))
                    self.reply("250 queued")
                elif command == "QUIT":
                    self.reply("221 bye")
                    return
                else:  # MAIL FROM, RCPT TO, RSET, NOOP
                    self.reply("250 ok")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], messages
    server.shutdown()
    server.server_close()


def test_webhook_receives_the_failed_symbol_day(common, webhook, monkeypatch):
    port, received = webhook
    conn = {"conn_type": "http", "host": "127.0.0.1", "port": port, "extra": {"endpoint": "/alerts"}}
    monkeypatch.setenv("AIRFLOW_CONN_NSE_ALERTS", json.dumps(conn))
    common.log_task_failure(failure_context())
    (alert,) = received
    assert alert["path"] == "/alerts"
    assert alert["body"]["subject"] == "[nse-execution] nse_daily_bars.publish_bars failed"
    assert "SAIL 2020-01-31 quarantined; failed expectations: bars_per_day, longest_gap" in alert["body"]["text"]


def test_email_carries_the_failed_symbol_day(common, smtp_server, monkeypatch):
    port, messages = smtp_server
    conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": {"to": "ops@example.com"}}
    monkeypatch.setenv("AIRFLOW_CONN_NSE_ALERTS", json.dumps(conn))
    assert common.send_failure_alert(failure_context(), common.describe_failure(failure_context()))
    (raw,) = messages
    message = email.message_from_string(raw, policy=email.policy.default)
    assert message["To"] == "ops@example.com"
    assert "SAIL 2020-01-31 quarantined; failed expectations: bars_per_day, longest_gap" in message.get_content()


def test_no_connection_means_log_only_and_a_dead_target_never_raises(common, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NSE_ALERTS", raising=False)
    assert common.send_failure_alert(failure_context(), ["x"]) is False
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_NSE_ALERTS", json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": dead_port})
    )
    assert common.send_failure_alert(failure_context(), ["x"]) is False


def test_target_from_connection_rules():
    assert target_from_connection("https", "hooks.example", None, None, None, None, {"endpoint": "/x"}).url == (
        "https://hooks.example/x"
    )
    assert target_from_connection("webhook", None, None, None, None, None, {"url": "http://h/y"}).url == "http://h/y"
    mail = target_from_connection("email", "mx", None, None, "bot", "pw", {"to": "a@b, c@d", "starttls": True})
    assert (mail.port, mail.sender, mail.recipients, mail.starttls) == (25, "bot", ("a@b", "c@d"), True)
    with pytest.raises(ValueError, match="needs a host and extra"):
        target_from_connection("smtp", "mx", 25, None, None, None, {})
    with pytest.raises(ValueError, match="not an alert target"):
        target_from_connection("postgres", "db", 5432, None, None, None, {})
