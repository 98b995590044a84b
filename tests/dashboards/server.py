"""A test-only Panel server: the real ``build_app`` with a fixed identity per route.

``python -m tests.dashboards.server PORT USER [USER …]`` serves ``/<user>`` as that user,
with the settings of the environment (``REPROTECH_*``, set by the fixture to the test
platform). This replaces only the hub's sign-in, for tests; the product's service
(``dashboards/serve.py``) has no such route and always signs users in through the hub.
"""

from __future__ import annotations

import logging
import sys

import panel as pn

from dashboards.app import build_app
from dashboards.pages import PageContext
from reprotech_core.db.session import get_database
from reprotech_core.settings import get_settings


def view_of(username: str):  # noqa: ANN201
    """A session factory (a plain function: ``pn.serve`` renders a ``partial`` as text)."""

    def view():  # noqa: ANN202
        database = get_database()
        return build_app(PageContext(database=database, identity=database.identity(username),
                                     settings=get_settings()))

    return view


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    port, users = int(argv[0]), argv[1:]
    pn.config.nthreads = 4
    pn.extension("tabulator", notifications=True, design="bootstrap")
    pn.serve({f"/{u}": view_of(u) for u in users}, address="127.0.0.1", port=port,
             show=False, title="Reprotech Analytics (test)", liveness="health",
             websocket_origin=[f"127.0.0.1:{port}"])


if __name__ == "__main__":
    main(sys.argv[1:])
