"""Metrics of the dashboard service: live sessions here, the job queue from the database.

Served at ``/services/dashboards/metrics`` to a scraper holding the platform's metrics token
(the same token the hub's ``/hub/metrics`` accepts, ``hub/services.py``); anyone else gets 403,
so the proxy can route the whole prefix without exposing figures.
"""

from __future__ import annotations

import hmac

import panel as pn
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, generate_latest
from tornado import web

from reprotech_core.db.session import Database
from reprotech_core.metrics import JobQueueCollector

SESSIONS = Gauge("reprotech_dashboard_sessions", "Open dashboard sessions (this process)")
SESSIONS_TOTAL = Counter("reprotech_dashboard_sessions_opened", "Dashboard sessions opened")

_token: str | None = None


class MetricsHandler(web.RequestHandler):
    def get(self) -> None:
        given = self.request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if _token is None or not hmac.compare_digest(given.encode(), _token.encode()):
            raise web.HTTPError(403)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.write(generate_latest(REGISTRY))


def _opened(_context) -> None:  # noqa: ANN001 (Bokeh session context)
    SESSIONS.inc()
    SESSIONS_TOTAL.inc()


def _closed(_context) -> None:  # noqa: ANN001
    SESSIONS.dec()


def install(database: Database, token: str) -> None:
    """Count sessions and expose the job queue; call once per process before serving."""
    global _token
    _token = token
    REGISTRY.register(JobQueueCollector(database))
    from reprotech_core.ops.dbmetrics import DatabaseCollector, PlatformFilesCollector
    from reprotech_core.settings import get_settings

    settings = get_settings()
    REGISTRY.register(DatabaseCollector(database, slow_seconds=settings.db_slow_query_seconds))
    REGISTRY.register(PlatformFilesCollector(settings))
    pn.state.on_session_created(_opened)
    pn.state.on_session_destroyed(_closed)


def routes() -> list[tuple]:
    return [(r"/metrics", MetricsHandler)]
