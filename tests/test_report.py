"""The daily report and the experiment report: numbers equal to the backtester's, self-contained HTML that
renders in headless Chromium with every chart and no console error, champion fallbacks stated or raised."""

from __future__ import annotations

import io
import json
import os
import re
import select
import shutil
import subprocess
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from conftest import requires_samples

from execution import cli
from execution.data.ingest import ingest
from execution.data.store import load_published
from execution.models.champion import ChampionUnavailable
from execution.report.daily import METRIC_COLUMNS, render_daily_report
from execution.report.experiment import render_experiment_report
from execution.sim.backtest import backtest
from execution.sim.baselines import BASELINES
from execution.sim.market import lookback_start
from execution.trading.schedules import load_schedules, write_schedules

DAY = date(2020, 1, 31)
NEXT_DAY = date(2020, 2, 3)
HISTORY = (date(2020, 1, 27), date(2020, 1, 31))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# ------------------------------------------------------------------ published bars, ingested once per session

_INGEST_TABLES = (
    "ingest_runs",
    "staged_batches",
    "bars_staging",
    "bars_1m",
    "published_days",
    "ingest_days",
    "quarantine",
    "quality_results",
)
_SERIALS = (("ingest_runs", "run_id"), ("staged_batches", "batch_id"), ("quality_results", "id"))
_SNAPSHOTS: dict[tuple, dict[str, str]] = {}


def ingested(conn, settings, symbols: tuple[str, ...], start: date, end: date) -> None:
    """Synthetic bars of ``symbols`` published for ``start..end`` in the (emptied) test database.

    The first call ingests them (fetch, validate, publish); later calls restore the same rows with COPY.
    """
    key = (symbols, start, end)
    if key not in _SNAPSHOTS:
        ingest(settings, "synthetic", list(symbols), start, end, progress=False)
        snapshot = {}
        with conn.cursor() as cur:
            for table in _INGEST_TABLES:
                buffer = io.StringIO()
                cur.copy_expert(f"COPY {table} TO STDOUT", buffer)
                snapshot[table] = buffer.getvalue()
        conn.commit()
        _SNAPSHOTS[key] = snapshot
        return
    with conn.cursor() as cur:
        for table in _INGEST_TABLES:
            cur.copy_expert(f"COPY {table} FROM STDIN", io.StringIO(_SNAPSHOTS[key][table]))
        for table, column in _SERIALS:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), COALESCE(max({column}), 0) + 1, false)"
                f" FROM {table}"
            )
    conn.commit()


@pytest.fixture
def reliance(conn, settings):
    """Settings with RELIANCE only, and its bars of 2020-01-27..31 published."""
    one = settings.with_overrides(symbols=("RELIANCE",))
    ingested(conn, one, ("RELIANCE",), *HISTORY)
    return one


# ------------------------------------------------------------------ the numbers


def test_the_report_numbers_are_the_backtesters(conn, reliance, tmp_path):
    write_schedules(reliance, NEXT_DAY)  # as the reports DAG does before the report
    html = render_daily_report(reliance, DAY, tmp_path)
    payload = json.loads(html.with_suffix(".json").read_text())
    (section,) = payload["orders"]
    metrics = section["replay"]["metrics"]

    expected = backtest(conn, ["RELIANCE"], DAY, DAY, reliance.order, list(BASELINES), store=False).per_day
    assert len(expected) == 2 * len(BASELINES)
    for row in expected.to_dict(orient="records"):
        for column in METRIC_COLUMNS:
            assert metrics[row["strategy"]][row["fill"]][column] == pytest.approx(row[column], rel=1e-12), column

    # worked out from the bars: twap_seed buys one lot at the close of 09:30, 09:32, ..., 10:08
    bars = load_published(conn, "RELIANCE", DAY, DAY)
    close_at = dict(zip(bars["ts"].dt.strftime("%H:%M"), bars["close"], strict=True))
    fills = [close_at[f"{9 + (30 + 2 * k) // 60:02d}:{(30 + 2 * k) % 60:02d}"] for k in range(20)]
    arrival = close_at["09:29"]
    twap = metrics["twap_seed"]["seed"]
    assert twap["avg_price"] == pytest.approx(np.mean(fills))
    assert twap["shortfall_bps"] == pytest.approx((np.mean(fills) - arrival) / arrival * 1e4)
    assert metrics["immediate"]["seed"]["avg_price"] == pytest.approx(close_at["09:30"])
    assert metrics["immediate"]["seed"]["advantage_bps"] == pytest.approx(
        (np.mean(fills) - close_at["09:30"]) / arrival * 1e4
    )
    fill_times = section["replay"]["fills"]["twap_seed"]["seed"]["time"]
    assert fill_times[0] == "09:30" and fill_times[-1] == "10:08" and len(fill_times) == 20

    # the track record (no champion: the baselines over 20 trading days, 5 of them published)
    perf = section["performance"]
    start = lookback_start(DAY, 19)
    assert perf["start"] == start.isoformat() and perf["days"] == 5
    summary = backtest(conn, ["RELIANCE"], start, DAY, reliance.order, list(BASELINES), store=False).summary
    got = {(r["strategy"], r["fill"]): r for r in perf["summary"]}
    for row in summary.to_dict(orient="records"):
        mine = got[(row["strategy"], row["fill"])]
        assert mine["advantage_mean_bps"] == pytest.approx(row["advantage_mean_bps"])
        assert mine["advantage_ci95_low_bps"] == pytest.approx(row["advantage_ci95_low_bps"], nan_ok=True)

    # data, quality, models, tomorrow
    assert payload["data"][0]["source"] == "synthetic" and payload["data"][0]["bars"] == 375
    assert section["quality"]["status"] == "passed"
    assert payload["models_in_use"][0]["used"] == "twap_seed"
    assert payload["models_in_use"][0]["note"] == "no trained model yet — twap_seed"
    plan = payload["tomorrow"]
    assert plan["trading_day"] == NEXT_DAY.isoformat() and plan["error"] is None
    assert sum(plan["orders"][0]["lots"]["champion"]) == 20
    assert load_schedules(conn, NEXT_DAY)["planned_qty"].sum() == 6 * 10_000  # champion + five baselines


def test_the_page_is_self_contained_and_listed(conn, reliance, tmp_path):
    write_schedules(reliance, NEXT_DAY)
    html_path = render_daily_report(reliance, DAY, tmp_path)
    html = html_path.read_text()
    assert html_path.name == "daily-2020-01-31.html"
    assert len(re.findall(r"<svg\b", html)) >= 5  # price, inventory, advantage, track record, tomorrow's plan
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched, no CDN
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert "no trained model yet — twap_seed" in html
    assert "Synthetic data" in html and "flat at the last published close" in html
    docs_links = re.findall(r'href="([^"]*data-docs[^"]*)"', html)
    assert docs_links or "Data Docs not built yet" in html
    for href in docs_links:  # relative links to the Great Expectations pages that exist
        assert (tmp_path / href).resolve().is_file(), href
    index = (tmp_path / "index.html").read_text()
    assert 'href="daily-2020-01-31.html"' in index and 'href="daily-2020-01-31.json"' in index


def test_report_command(conn, reliance, tmp_path, capsys):
    assert cli.main(["report", "--date", "2020-02-01", "--out", str(tmp_path)]) == 2
    assert "weekend" in capsys.readouterr().err
    assert cli.main(["report", "--out", str(tmp_path)]) == 2
    assert "--date" in capsys.readouterr().err


# ------------------------------------------------------------------ champion fallbacks


def _register_broken_champion(conn, settings) -> int:
    from execution.models import registry

    model_id = registry.register(
        conn,
        agent="dqn_sl",
        symbol="RELIANCE",
        train_start=date(2019, 12, 2),
        train_end=date(2020, 1, 24),
        train_days=30,
        episodes=5,
        timesteps=250,
        seed=1,
        reward="vr",
        fill="seed",
        hyperparameters={},
        order=settings.order,
        artifact_path="RELIANCE/missing.zip",
        sha256="0" * 64,
    )
    registry.promote(conn, model_id, "test")
    conn.commit()
    return model_id


def test_a_champion_that_cannot_be_loaded_fails_loudly_after_writing_the_fallback(
    conn, reliance, tmp_path, capsys, monkeypatch
):
    model_id = _register_broken_champion(conn, reliance)
    with pytest.raises(ChampionUnavailable, match=r"artifact .*missing"):
        write_schedules(reliance, NEXT_DAY)
    with pytest.raises(ChampionUnavailable, match=r"artifact .*missing"):
        render_daily_report(reliance, DAY, tmp_path)
    html = (tmp_path / "daily-2020-01-31.html").read_text()
    assert f"champion #{model_id} cannot be loaded, fell back to twap_seed" in html
    payload = json.loads((tmp_path / "daily-2020-01-31.json").read_text())
    assert payload["models_in_use"][0]["registered_champion"] == model_id
    assert payload["models_in_use"][0]["used"] == "twap_seed"
    plans = load_schedules(conn, NEXT_DAY)  # the trader still has a (twap_seed) plan
    champion = plans[plans["strategy"] == "champion"]
    assert champion["planned_qty"].sum() == 10_000 and "fell back to twap_seed" in champion["note"].iloc[0]
    # the schedule command says so and exits 3
    monkeypatch.setenv("EXEC_SYMBOLS", "RELIANCE")
    assert cli.main(["schedule", "--date", NEXT_DAY.isoformat()]) == 3
    assert "cannot be loaded" in capsys.readouterr().err


# ------------------------------------------------------------------ the experiment report


def test_the_experiment_report_names_what_it_ran_on_and_what_is_missing(conn, reliance, tmp_path):
    html_path = render_experiment_report(reliance, tmp_path, symbols=["RELIANCE"])
    html = html_path.read_text()
    payload = json.loads(html_path.with_suffix(".json").read_text())
    assert {m["agent"] for m in payload["missing"]} == {"dqn_sl", "dqn_3l", "ddqn_3l", "a3c_sl", "a3c_3l"}
    assert "No model in the registry for" in html and "Synthetic data" in html
    assert payload["coverage"][0]["days"] == 5  # 2020-01-27..31 of the test year
    ((low, high),) = {
        (r["advantage_ci95_low_bps"], r["advantage_ci95_high_bps"])
        for r in payload["summary"]
        if r["strategy"] == "twap_even" and r["fill"] == "impact"
    }
    assert low <= high
    assert payload["test_day_metrics"]["RELIANCE"]["metrics"]["twap_seed"]["seed"]["advantage_bps"] == 0.0
    assert len(re.findall(r"<svg\b", html)) >= 2  # price and inventory on 2020-01-31 (no learning curve yet)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)


# ------------------------------------------------------------------ headless Chromium


class _DevTools:
    """A minimal Chrome DevTools Protocol client over one websocket (flattened sessions)."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = json.loads(self.ws.recv(timeout=60))
            self.events.append(event)
            if event.get("method") == method:
                return event


def _devtools_url(process: subprocess.Popen, deadline_s: float = 30.0) -> str:
    """The browser websocket URL Chromium prints on stderr when it starts; stderr is drained afterwards."""
    end = time.monotonic() + deadline_s
    fd = process.stderr.fileno()
    text = b""
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            break
        text += chunk
        match = re.search(rb"DevTools listening on (ws://\S+)", text)
        if match:
            threading.Thread(target=process.stderr.read, daemon=True).start()  # never let the pipe fill up
            return match.group(1).decode()
    raise RuntimeError(f"Chromium did not start its DevTools endpoint:\n{text[-2000:].decode(errors='replace')}")


def render_in_chromium(page: Path | str, profile_dir: Path, probe_js: str | None = None) -> dict:
    """Load ``page`` in headless Chromium: console errors, exceptions, network requests and chart sizes
    (and the JSON value of ``probe_js``, evaluated once the page has loaded, as ``probe``)."""
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile_dir}",
            "--remote-debugging-port=0",
            "--window-size=1280,2000",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    from websockets.sync.client import connect

    try:
        with connect(_devtools_url(process), max_size=None, open_timeout=20) as ws:
            tools = _DevTools(ws)
            target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                tools.call(f"{domain}.enable", session=session)
            url = page if isinstance(page, str) else page.resolve().as_uri()  # a path, or an http:// URL
            tools.call("Page.navigate", {"url": url}, session=session)
            tools.wait_for("Page.loadEventFired")
            probe = (
                "JSON.stringify(Array.from(document.querySelectorAll('figure.chart')).map(f => {"
                " const s = f.querySelector('svg'); if (!s) return [f.dataset.chart, 0, 0, 0];"
                " const r = s.getBoundingClientRect();"
                " return [f.dataset.chart, r.width, r.height, s.querySelectorAll('path, use, text, image').length]; }))"
            )
            result = tools.call("Runtime.evaluate", {"expression": probe, "returnByValue": True}, session=session)
            charts = json.loads(result["result"]["value"])
            extra = None
            if probe_js:
                value = tools.call("Runtime.evaluate", {"expression": probe_js, "returnByValue": True}, session=session)
                extra = value["result"].get("value")
            shot = tools.call("Page.captureScreenshot", {"format": "png"}, session=session)
    finally:
        process.kill()
        process.wait(timeout=30)
    errors = [
        e
        for e in tools.events
        if (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
        or e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    requests = [e["params"]["request"]["url"] for e in tools.events if e.get("method") == "Network.requestWillBeSent"]
    return {
        "charts": charts,
        "errors": errors,
        "requests": requests,
        "screenshot_png_base64": shot["data"],
        "probe": extra,
    }


def _chromium_skip_reason() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"headless Chromium not installed ({CHROMIUM}); apt-get install chromium chromium-driver"
    try:
        import websockets.sync.client  # noqa: F401
    except ImportError:
        return "the websockets package (installed with Airflow) is missing: cannot drive Chromium's DevTools"
    return None


@pytest.mark.skipif(_chromium_skip_reason() is not None, reason=_chromium_skip_reason() or "")
def test_the_page_renders_in_headless_chromium_with_every_chart_and_no_console_error(conn, reliance, tmp_path):
    write_schedules(reliance, NEXT_DAY)
    page = render_daily_report(reliance, DAY, tmp_path / "out")
    expected = re.findall(r'data-chart="(\w+)"', page.read_text())
    seen = render_in_chromium(page, tmp_path / "chromium-profile")
    assert seen["errors"] == []
    assert [r for r in seen["requests"] if not r.startswith(("file:", "data:"))] == []
    assert [c[0] for c in seen["charts"]] == expected
    assert set(expected) >= {"price", "inventory", "advantage", "performance", "plan"}
    for name, width, height, marks in seen["charts"]:
        assert width > 300 and height > 100 and marks > 10, name
    assert len(seen["screenshot_png_base64"]) > 10_000


# ------------------------------------------------------------------ a trained champion (a tiny stable-baselines3 model)


@pytest.mark.slow
def test_a_trained_champion_is_replayed_planned_and_mapped(conn, reliance, tmp_path):
    from execution.models import artifacts, registry
    from execution.models.retrain import retrain
    from execution.sim.policy import policy_strategy

    trained = retrain(
        reliance, "RELIANCE", "dqn_sl", date(2020, 1, 27), date(2020, 1, 29), episodes=3, seed=0, mdp="seed"
    )
    model_id = trained["model_id"]
    if registry.champion(conn, "RELIANCE") is None:
        registry.promote(conn, model_id, "test: make the tiny model the champion")
        conn.commit()
    record = registry.get(conn, model_id)
    model = artifacts.load_model(reliance, record, reliance.order)

    write_schedules(reliance, NEXT_DAY)
    html = render_daily_report(reliance, DAY, tmp_path)
    payload = json.loads(html.with_suffix(".json").read_text())
    (section,) = payload["orders"]
    assert payload["models_in_use"][0]["model"]["model_id"] == model_id
    assert section["champion"]["used"] == f"dqn_sl #{model_id}"
    expected = backtest(
        conn, ["RELIANCE"], DAY, DAY, reliance.order, [("champion", policy_strategy(model, record.mdp))], store=False
    ).per_day
    for row in expected[expected["strategy"] == "champion"].to_dict(orient="records"):
        for column in ("avg_price", "shortfall_bps", "advantage_bps", "child_orders"):
            assert section["replay"]["metrics"]["champion"][row["fill"]][column] == pytest.approx(row[column])

    # tomorrow: the model's rollout on the nominal path, whole lots, by the horizon; its decision table
    plans = load_schedules(conn, NEXT_DAY)
    champion = plans[plans["strategy"] == "champion"].sort_values("interval")
    assert (champion["model_id"] == model_id).all() and champion["planned_qty"].sum() == 10_000
    assert len(champion) == 51 and (champion["planned_lots"] >= 0).all()
    (plan,) = payload["tomorrow"]["orders"]
    table = plan["decision_table"]
    n_history = reliance.order.n_history
    for row, inventory in enumerate(table["inventory_left_lots"][::7]):
        for col, minutes in enumerate(table["time_left_min"][::11]):
            state = np.ones(n_history + 3, dtype=np.float32)
            state[n_history + 1] = inventory / 20
            state[n_history + 2] = minutes / 100
            action, _ = model.predict(state, deterministic=True)
            assert table["lots"][row * 7][col * 11] == min(int(action), inventory)
    assert 'data-chart="decision"' in html.read_text()

    experiment = render_experiment_report(reliance, tmp_path / "experiment", symbols=["RELIANCE"])
    data = json.loads(experiment.with_suffix(".json").read_text())
    assert [m["agent"] for m in data["models"]] == ["dqn_sl"] and data["models"][0]["curve_episodes"] == 3
    assert "dqn_sl" not in {m["agent"] for m in data["missing"]}
    assert data["state_action"]["RELIANCE"]["model_id"] == model_id
    page = experiment.read_text()
    for chart in ("reward", "steps", "price", "inventory", "state_action"):
        assert f'data-chart="{chart}"' in page, chart


@pytest.mark.skipif(_chromium_skip_reason() is not None, reason=_chromium_skip_reason() or "")
def test_the_chromium_check_sees_console_errors_and_remote_requests(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        '<html><body><figure class="chart" data-chart="none"></figure>'
        '<img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script></body></html>'
    )
    seen = render_in_chromium(page, tmp_path / "chromium-profile")
    assert any(e.get("method") == "Runtime.consoleAPICalled" for e in seen["errors"])
    assert "http://127.0.0.1:9/x.png" in seen["requests"]
    assert seen["charts"] == [["none", 0, 0, 0]]


def test_the_report_reads_schedules_and_never_writes_them(conn, reliance, tmp_path):
    html = render_daily_report(reliance, DAY, tmp_path)
    payload = json.loads(html.with_suffix(".json").read_text())
    assert load_schedules(conn, NEXT_DAY).empty  # nothing planned by the report
    assert payload["tomorrow"]["orders"] == []
    assert f"schedule --date {NEXT_DAY}" in payload["tomorrow"]["error"]
    assert "No plan for" in html.read_text()


@requires_samples
def test_the_experiment_shows_both_mdps_and_the_models_on_real_bars(conn, reliance, tmp_path):
    """Models of both MDPs trained on synthetic January 2020; real July-August 2021 samples from the landing folder."""
    from execution.models.retrain import retrain

    ingest(reliance, "landing", ["RELIANCE"], date(2021, 7, 13), date(2021, 8, 13), progress=False)
    for mdp in ("seed", "pace"):
        retrain(reliance, "RELIANCE", "dqn_sl", date(2020, 1, 27), date(2020, 1, 29), episodes=3, seed=0, mdp=mdp)
    html_path = render_experiment_report(reliance, tmp_path, symbols=["RELIANCE"])
    html = html_path.read_text()
    payload = json.loads(html_path.with_suffix(".json").read_text())
    strategies = {r["strategy"] for r in payload["summary"]}
    assert {"dqn_sl", "dqn_sl·pace", "twap_seed"} <= strategies  # one table per MDP on the page
    assert "The seed&#39;s MDP" in html or "The seed's MDP" in html
    assert "The pace MDP" in html
    real = payload["sim_to_real"]
    (coverage,) = real["coverage"]
    assert coverage["days"] >= 20 and coverage["first_day"] >= "2021-07-13"
    on_real = {(r["strategy"], r["fill"]) for r in real["summary"]}
    assert {("dqn_sl", "impact"), ("dqn_sl·pace", "impact"), ("twap_seed", "impact")} <= on_real
    assert 'data-chart="reward_pace"' in html and 'data-chart="reward"' in html
