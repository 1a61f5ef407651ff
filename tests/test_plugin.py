"""The reports plugin: Airflow loads it, its app serves the reports behind Airflow's login, and only them.

Tokens are minted the way Airflow's API server mints them for the SimpleAuthManager (the default
auth manager): ``SimpleAuthManagerLogin.create_token`` with the admin's generated password, and,
once, through the real ``POST /auth/token`` of Airflow's API app with the plugin mounted.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from airflow_support import REPO_ROOT, configure_airflow_env, migrate_airflow_db

configure_airflow_env()  # no-op under tests/conftest.py

import pytest  # noqa: E402

PLUGINS_FOLDER = REPO_ROOT / "plugins"
if str(PLUGINS_FOLDER) not in sys.path:  # Airflow puts the plugins folder on sys.path; so does this test
    sys.path.append(str(PLUGINS_FOLDER))

from nse_reports.app import create_app  # noqa: E402
from nse_reports.files import find_daily_report, list_reports, resolve_report_file  # noqa: E402
from nse_reports.runs import day_of_run_fields  # noqa: E402

DAILY_HTML = b"<!doctype html><title>Daily report 2020-01-30</title><h1>RELIANCE vs TWAP</h1>"
SCHEDULE_CSV = b"symbol,interval,lots\nRELIANCE,1,2\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(32))
SVG_TEXT = b"<svg xmlns='http://www.w3.org/2000/svg'><rect width='1' height='1'/></svg>"
SECRET = b"outside the reports folder"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """A reports folder like the DAGs write it, with a secret file beside it (not under it)."""
    root = tmp_path / "reports"
    (root / "daily").mkdir(parents=True)
    (root / "daily" / "2020-01-30.html").write_bytes(DAILY_HTML)
    (root / "daily" / "2020-01-29.html").write_bytes(b"<p>older</p>")
    (root / "daily" / "2020-01-30.json").write_text(json.dumps({"day": "2020-01-30", "shortfall_bps": 1.5}))
    (root / "daily" / "chart-2020-01-30.png").write_bytes(PNG_BYTES)
    (root / "daily" / "chart-2020-01-30.svg").write_bytes(SVG_TEXT)
    (root / "schedules").mkdir()
    (root / "schedules" / "2020-01-31_RELIANCE.csv").write_bytes(SCHEDULE_CSV)
    (root / "data-docs" / "validations").mkdir(parents=True)
    (root / "data-docs" / "index.html").write_text("<a href='validations/v.html'>v</a>")
    (root / "data-docs" / "validations" / "v.html").write_text("<p>validation</p>")
    (root / ".env").write_bytes(SECRET)  # hidden: never served
    (root / "daily" / "notes.py").write_bytes(SECRET)  # unknown type: never served
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (root / "daily" / "link-out.html").symlink_to(tmp_path / "secret.txt")
    return root


@pytest.fixture(scope="module")
def auth_manager():
    """The SimpleAuthManager, initialised as the API server does (its generated passwords file included)."""
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    migrate_airflow_db()  # revoked tokens are looked up in the metadata database
    manager = init_auth_manager()
    assert isinstance(manager, SimpleAuthManager)
    return manager


@pytest.fixture(scope="module")
def admin_password(auth_manager) -> str:
    """The admin's password, as ``airflow standalone`` / the API server generated it."""
    return auth_manager.get_passwords()["admin"]


@pytest.fixture(scope="module")
def token(admin_password) -> str:
    """A JWT for the admin, from Airflow's own login service (what ``POST /auth/token`` returns)."""
    from airflow.api_fastapi.auth.managers.simple.datamodels.login import LoginBody
    from airflow.api_fastapi.auth.managers.simple.services.login import SimpleAuthManagerLogin

    return SimpleAuthManagerLogin.create_token(LoginBody(username="admin", password=admin_password))


@pytest.fixture
def client(reports: Path):
    """A client of the reports app serving the ``reports`` folder."""
    from fastapi.testclient import TestClient

    return TestClient(create_app(lambda: reports), follow_redirects=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def dag_run_row(dag_id: str, run_id: str, day: str):
    """A DagRun row of its own in the metadata database (conf ``{"day": day}``), removed afterwards."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunType
    from sqlalchemy import delete

    with create_session() as session:
        session.add(
            DagRun(
                dag_id=dag_id,
                run_id=run_id,
                run_type=DagRunType.MANUAL,
                conf={"day": day},
                run_after=datetime(2020, 2, 5, 10, 30, tzinfo=UTC),  # the conf's day wins
            )
        )
    try:
        yield
    finally:
        with create_session() as session:
            session.execute(delete(DagRun).where(DagRun.dag_id == dag_id))


# --------------------------------------------------------------------------- routes, with a valid token


def test_index_lists_daily_reports_schedules_and_data_docs(client, token):
    response = client.get("/", headers=bearer(token))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for relative in ("daily/2020-01-30.html", "daily/2020-01-29.html", "schedules/2020-01-31_RELIANCE.csv"):
        assert f"/files/{relative}" in page
    assert "/files/data-docs/index.html" in page
    assert page.index("2020-01-30.html") < page.index("2020-01-29.html")  # newest day first
    assert ".env" not in page and "notes.py" not in page and "link-out" not in page


def test_listing_as_json(client, token):
    response = client.get("/api/reports", headers=bearer(token))
    assert response.status_code == 200
    listing = response.json()
    assert listing["data_docs_index"] == "data-docs/index.html"
    daily = [entry["path"] for entry in listing["sections"]["daily"]]
    assert daily[0].startswith("daily/") and "daily/2020-01-29.html" in daily
    assert {e["day"] for e in listing["sections"]["daily"]} == {"2020-01-30", "2020-01-29"}
    schedules = listing["sections"]["schedules"]
    assert schedules == [
        {
            "path": "schedules/2020-01-31_RELIANCE.csv",
            "size_bytes": len(SCHEDULE_CSV),
            "modified_utc": schedules[0]["modified_utc"],
            "day": "2020-01-31",
        }
    ]


@pytest.mark.parametrize(
    ("relative", "body", "media_type"),
    [
        ("daily/2020-01-30.html", DAILY_HTML, "text/html"),
        ("schedules/2020-01-31_RELIANCE.csv", SCHEDULE_CSV, "text/csv"),
        ("daily/chart-2020-01-30.png", PNG_BYTES, "image/png"),
        ("daily/chart-2020-01-30.svg", SVG_TEXT, "image/svg+xml"),
        ("data-docs/validations/v.html", b"<p>validation</p>", "text/html"),
    ],
)
def test_files_are_served_as_written_with_their_type(client, token, relative, body, media_type):
    response = client.get(f"/files/{relative}", headers=bearer(token))
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_json_report_and_svg_policy(client, token):
    data = client.get("/files/daily/2020-01-30.json", headers=bearer(token))
    assert data.json() == {"day": "2020-01-30", "shortfall_bps": 1.5}
    svg = client.get("/files/daily/chart-2020-01-30.svg", headers=bearer(token))
    assert "default-src 'none'" in svg.headers["content-security-policy"]  # an SVG may not run scripts


def test_a_folder_redirects_to_its_slash_then_serves_its_index(client, token):
    response = client.get("/files/data-docs", headers=bearer(token))
    assert response.status_code == 307
    assert response.headers["location"] == "/files/data-docs/"
    page = client.get("/files/data-docs/", headers=bearer(token))
    assert page.status_code == 200 and "validations/v.html" in page.text


def test_daily_route_redirects_to_the_report_of_the_day(client, token):
    response = client.get("/daily/2020-01-30", headers=bearer(token))
    assert response.status_code == 307
    assert response.headers["location"] == "/files/daily/2020-01-30.html"
    latest = client.get("/daily/latest", headers=bearer(token))
    assert latest.headers["location"] == "/files/daily/2020-01-30.html"
    missing = client.get("/daily/2020-02-03", headers=bearer(token))
    assert missing.status_code == 404 and "2020-02-03" in missing.text
    assert client.get("/daily/not-a-day", headers=bearer(token)).status_code == 404


def test_the_token_cookie_of_the_ui_is_accepted(client, token):
    client.cookies.set("_token", token)
    assert client.get("/").status_code == 200


def test_a_dag_run_links_to_the_report_of_the_day_it_processed(client, token, auth_manager):
    dag_id = "nse_plugin_test_dag"  # a run row of its own, removed afterwards: no real DAG sees it
    with dag_run_row(dag_id, "manual__plugin_test", "2020-01-30"):
        response = client.get(f"/runs/{dag_id}/manual__plugin_test", headers=bearer(token))
        assert response.status_code == 307
        assert response.headers["location"] == "/files/daily/2020-01-30.html"
        unknown = client.get(f"/runs/{dag_id}/no_such_run", headers=bearer(token))
        assert unknown.status_code == 404 and "No report yet" in unknown.text


def test_day_of_a_run_is_the_exchange_date_of_its_logical_date():
    # 19:00 UTC on Jan 31 is 00:30 IST on Feb 1
    assert day_of_run_fields(None, datetime(2020, 1, 31, 19, 0, tzinfo=UTC), None) == date(2020, 2, 1)
    assert day_of_run_fields({}, None, datetime(2020, 1, 31, 10, 30, tzinfo=UTC)) == date(2020, 1, 31)
    assert day_of_run_fields({"day": "2020-01-29"}, datetime(2020, 1, 31, tzinfo=UTC), None) == date(2020, 1, 29)
    assert day_of_run_fields({"day": "junk"}, None, None) is None


# --------------------------------------------------------------------------- refused without a valid token


ROUTES = ["/", "/api/reports", "/files/daily/2020-01-30.html", "/daily/2020-01-30", "/runs/nse_daily_bars/x"]


@pytest.mark.parametrize("route", ROUTES)
def test_unauthenticated_requests_are_refused(client, route, auth_manager):
    response = client.get(route)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert DAILY_HTML not in response.content


def test_a_browser_without_a_token_is_sent_to_the_login_page(client, auth_manager):
    response = client.get("/files/daily/2020-01-30.html", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 307
    assert response.headers["location"] == "/auth/login?next=%2Ffiles%2Fdaily%2F2020-01-30.html"


def test_forged_and_expired_tokens_are_refused(client, token, auth_manager):
    import jwt
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-airflow-secret", algorithm="HS512")
    header, _payload, signature = token.split(".")
    tampered_claims = {**claims, "sub": "someone-else"}
    tampered_payload = jwt.utils.base64url_encode(json.dumps(tampered_claims).encode()).decode()
    tampered = f"{header}.{tampered_payload}.{signature}"
    expired = auth_manager.generate_jwt(
        SimpleAuthManagerUser(username="admin", role="ADMIN"), expiration_time_in_seconds=-3600
    )
    for bad in (forged, tampered, expired, "not-a-jwt"):
        response = client.get("/api/reports", headers=bearer(bad))
        assert response.status_code == 401, bad
        client.cookies.set("_token", bad)
        assert client.get("/api/reports").status_code == 401
        client.cookies.clear()
    assert client.get("/api/reports", headers=bearer(token)).status_code == 200  # the genuine one still works


def test_a_user_without_permissions_is_forbidden(client, auth_manager):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    no_role = auth_manager.generate_jwt(SimpleAuthManagerUser(username="guest", role=None))
    assert client.get("/", headers=bearer(no_role)).status_code == 403


# --------------------------------------------------------------------------- nothing outside the reports folder


@pytest.mark.parametrize(
    "attack",
    [
        "/files/../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/daily/%2e%2e/%2e%2e/secret.txt",
        "/files/..%2fsecret.txt",
        "/files/daily/..%2f..%2fsecret.txt",
        "/files/%2fetc%2fpasswd",
        "/files//etc/passwd",
        "/files/daily/link-out.html",
        "/files/.env",
        "/files/daily/notes.py",
        "/files/daily/%00.html",
        "/files/daily\\..\\..\\secret.txt",
    ],
)
def test_no_path_traversal(client, token, attack):
    response = client.get(attack, headers=bearer(token))
    assert response.status_code == 404
    assert SECRET not in response.content and b"root:" not in response.content


def test_resolve_report_file_refuses_everything_outside_the_folder(reports: Path):
    assert resolve_report_file(reports, "daily/2020-01-30.html") == (reports / "daily" / "2020-01-30.html").resolve()
    assert resolve_report_file(reports, "data-docs") == (reports / "data-docs" / "index.html").resolve()
    for bad in ("../secret.txt", "daily/../../secret.txt", "/etc/passwd", "daily/link-out.html", ".env", ""):
        assert resolve_report_file(reports, bad) is None, bad
    # a symbolic link that stays inside the folder is fine
    (reports / "latest.html").symlink_to(reports / "daily" / "2020-01-30.html")
    assert resolve_report_file(reports, "latest.html") == (reports / "daily" / "2020-01-30.html").resolve()


def test_listing_and_daily_lookup_of_a_missing_folder(tmp_path: Path):
    listing = list_reports(tmp_path / "nothing")
    assert all(files == [] for files in listing.sections.values()) and listing.data_docs_index is None
    assert find_daily_report(tmp_path / "nothing", date(2020, 1, 30)) is None


# --------------------------------------------------------------------------- inside Airflow


def test_airflow_loads_the_plugin_from_the_plugins_folder(auth_manager):
    from airflow import plugins_manager
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    assert Path(os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"]) == PLUGINS_FOLDER
    plugins_manager.ensure_plugins_loaded()
    assert plugins_manager.get_import_errors() == {}
    for module in ("__init__", "app", "auth", "files", "pages", "runs"):  # plugins/.airflowignore keeps the
        loaded_from = getattr(sys.modules.get(module), "__file__", None)  # package out of the plugin scan
        assert loaded_from != str(PLUGINS_FOLDER / "nse_reports" / f"{module}.py"), module
    info = {p["name"]: p for p in plugins_manager.get_plugin_info()}
    assert set(info) >= {"nse_reports"}
    assert str(info["nse_reports"]["source"]) == "$PLUGINS_FOLDER/nse_reports_plugin.py"
    apps, _ = plugins_manager.get_fastapi_plugins()
    mounted = {a["url_prefix"]: a for a in apps}
    assert mounted["/nse-reports"]["name"] == "NSE execution reports"
    views = {v["url_route"]: ExternalViewResponse.model_validate(v) for v in info["nse_reports"]["external_views"]}
    assert views["nse-reports"].href == "/nse-reports/" and views["nse-reports"].destination == "nav"
    assert views["nse-reports"].category == "browse"
    assert views["nse-run-report"].destination == "dag_run"
    assert views["nse-run-report"].href == "/nse-reports/runs/{DAG_ID}/{RUN_ID}"


def test_the_api_server_mounts_the_app_behind_airflow_login(auth_manager, admin_password, settings):
    """Airflow's API app (plugins included), a real ``POST /auth/token``, then the reports page."""
    from airflow.api_fastapi.app import create_app as create_airflow_app
    from fastapi.testclient import TestClient

    day_file = settings.reports_dir / "daily" / "2001-01-02.html"  # a day no other test writes a report for
    day_file.parent.mkdir(parents=True, exist_ok=True)
    day_file.write_bytes(DAILY_HTML)
    try:
        api = TestClient(create_airflow_app(), follow_redirects=False)
        assert api.get("/nse-reports/").status_code == 401
        login = api.post("/auth/token", json={"username": "admin", "password": admin_password})
        assert login.status_code == 201
        real_token = login.json()["access_token"]
        index = api.get("/nse-reports/", headers=bearer(real_token))
        assert index.status_code == 200
        assert "/nse-reports/files/daily/2001-01-02.html" in index.text  # links carry the mount prefix
        report = api.get("/nse-reports/daily/2001-01-02", headers=bearer(real_token))
        assert report.headers["location"] == "/nse-reports/files/daily/2001-01-02.html"
        assert api.get(report.headers["location"], headers=bearer(real_token)).content == DAILY_HTML
        wrong = api.post("/auth/token", json={"username": "admin", "password": admin_password + "x"})
        assert wrong.status_code == 401
    finally:
        day_file.unlink()


def test_the_login_make_airflow_prints_is_the_one_airflow_accepts(tmp_path, monkeypatch, auth_manager):
    """``airflow-ui`` writes (once) and prints the admin password; Airflow's login service accepts exactly it."""
    from airflow.api_fastapi.auth.managers.simple.datamodels.login import LoginBody
    from airflow.api_fastapi.auth.managers.simple.services.login import SimpleAuthManagerLogin
    from fastapi import HTTPException
    from fastapi.testclient import TestClient

    from execution.ops.airflow_ui import PASSWORD_FILE_NAME, ensure_login

    password, path = ensure_login(tmp_path)
    assert path == tmp_path / PASSWORD_FILE_NAME
    assert path.stat().st_mode & 0o077 == 0  # readable by its owner only
    assert ensure_login(tmp_path) == (password, path)  # kept, not regenerated
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(path))
    token = SimpleAuthManagerLogin.create_token(LoginBody(username="admin", password=password))
    reports_client = TestClient(create_app(lambda: tmp_path), follow_redirects=False)
    assert reports_client.get("/", headers=bearer(token)).status_code == 200
    with pytest.raises(HTTPException) as refused:
        SimpleAuthManagerLogin.create_token(LoginBody(username="admin", password=password + "x"))
    assert refused.value.status_code == 401


# --------------------------------------------------------------------------- CSP and per-DAG permission (issue 13)


@pytest.mark.parametrize(
    "route",
    [
        "/",
        "/api/reports",
        "/files/daily/2020-01-30.html",
        "/files/daily/2020-01-30.json",
        "/files/schedules/2020-01-31_RELIANCE.csv",
        "/files/data-docs/",
        "/files/data-docs/validations/v.html",
        "/daily/2020-02-03",
    ],
)
def test_every_response_has_a_content_security_policy(client, token, route):
    response = client.get(route, headers=bearer(token))
    assert response.status_code in (200, 404)
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "base-uri 'none'" in policy
    assert "http:" not in policy and "https:" not in policy and "*" not in policy  # nothing from elsewhere


def test_our_pages_run_no_script_and_data_docs_scripts_are_boxed(client, token):
    report = client.get("/files/daily/2020-01-30.html", headers=bearer(token)).headers["content-security-policy"]
    assert "script-src" not in report  # default-src 'none': the reports are static pages
    docs = client.get("/files/data-docs/validations/v.html", headers=bearer(token))
    policy = docs.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in policy  # GX's own inline code and the vendored libraries only
    assert "connect-src 'none'" in policy and "form-action 'none'" in policy  # no call back to the Airflow API
    assert "frame-ancestors 'none'" in policy and docs.headers["x-frame-options"] == "DENY"  # never inside the UI
    assert "sandbox allow-scripts allow-same-origin" in policy  # no pop-ups, no forms, no top navigation


def test_a_run_page_needs_read_permission_on_that_dag(client, token, auth_manager, monkeypatch):
    """An auth manager that lets the user read only nse_daily_bars (as a FAB or Keycloak role can)."""
    asked = []

    def only_daily_bars(*, method, user, access_entity=None, details=None):
        asked.append((method, details.id if details else None))
        return details is not None and details.id == "nse_daily_bars"

    monkeypatch.setattr(auth_manager, "is_authorized_dag", only_daily_bars)
    dag_id = "nse_plugin_secret_dag"
    with dag_run_row(dag_id, "manual__secret", "2020-01-30"):
        refused = client.get(f"/runs/{dag_id}/manual__secret", headers=bearer(token))
        assert refused.status_code == 403
        assert "location" not in refused.headers and DAILY_HTML not in refused.content
        assert ("GET", dag_id) in asked
        allowed = client.get("/runs/nse_daily_bars/no_such_run", headers=bearer(token))
        assert allowed.status_code == 404  # readable DAG, unknown run: the "no report" page
