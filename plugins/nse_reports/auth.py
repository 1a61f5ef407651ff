"""Airflow authentication for the reports app (Airflow 3 mounts a plugin's FastAPI app without any).

The caller must present the JWT the Airflow UI and API use: ``Authorization: Bearer <token>``
(API clients) or the ``_token`` cookie (the browser, inside the Airflow UI). The token is checked by
the configured auth manager exactly as the API server checks it
(``get_auth_manager().get_user_from_token``: signature, audience, expiry, revocation), and the user
must be allowed to read the website (``AccessView.WEBSITE``). A browser without a valid token is
sent to Airflow's login page; anything else gets 401 (403 when the user lacks the permission).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import HTTPException, Request, status

log = logging.getLogger(__name__)

#: Cookie the Airflow UI keeps its JWT in (``airflow.api_fastapi.auth.managers.base_auth_manager``).
TOKEN_COOKIE = "_token"


class LoginRequired(Exception):
    """No valid Airflow token on the request; carries why, for the 401 body or the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def token_from_request(request: Request) -> str | None:
    """The JWT a request presents: its ``Authorization: Bearer`` header, else the ``_token`` cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(TOKEN_COOKIE) or None


def wants_html(request: Request) -> bool:
    """True for a browser navigation (HTML accepted, no API credentials): it is redirected to the login."""
    return "text/html" in request.headers.get("accept", "") and "authorization" not in request.headers


def auth_manager() -> Any:
    """The API server's auth manager (initialised here when the app runs outside the API server)."""
    from airflow.api_fastapi.app import get_auth_manager, init_auth_manager

    try:
        return get_auth_manager()
    except RuntimeError:  # not started by the API server (e.g. the app mounted on its own)
        return init_auth_manager()


def login_url(request: Request) -> str:
    """Airflow's login page, coming back to the requested page afterwards."""
    next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return auth_manager().get_url_login(next_url=next_url)


async def current_user(request: Request) -> Any:
    """FastAPI dependency: the Airflow user of the request's token; raises :class:`LoginRequired` or 403."""
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from jwt import ExpiredSignatureError, InvalidTokenError

    token = token_from_request(request)
    if not token:
        raise LoginRequired("not authenticated")
    manager = auth_manager()
    try:
        user = await manager.get_user_from_token(token)
    except ExpiredSignatureError as exc:
        raise LoginRequired("token expired") from exc
    except InvalidTokenError as exc:
        log.warning("reports: refused an invalid token from %s", request.client.host if request.client else "?")
        raise LoginRequired("invalid token") from exc
    if not manager.is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="not allowed to read the reports")
    return user


def can_read_dag_runs(user: Any, dag_id: str) -> bool:
    """Whether ``user`` may read the runs of ``dag_id``, asked of the auth manager as the API server
    asks it for ``GET /dags/{dag_id}/dagRuns/...`` (the DAG's team included)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.models.dag import DagModel

    details = DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id))
    return auth_manager().is_authorized_dag(method="GET", access_entity=DagAccessEntity.RUN, details=details, user=user)
