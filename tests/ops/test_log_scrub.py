"""OAuth codes, states, tokens, XSRF values and credentials never reach an access log.

The shapes are checked on the lines the hub, Tornado and Panel really write; then a real
Tornado server in a process configured like the dashboard service (``import panel``, then
``configure_logging``) is asked for ``/login?code=…&state=…`` with an Authorization header, and
Bokeh's and Panel's own loggers report a refused OAuth state: nothing secret may come out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reprotech_core.ops.logs import scrub

SECRETS = {"code": "Xk3vQ9bM2pL7", "state": "eyJuZXh0X3VybCI6ICIvIn0", "token": "7f3e9a0b1c2d",
           "xsrf": "2|1a2b3c4d|5e6f7a8b|1700000000", "access": "ya29.a0AfH6SMB",
           "basic": "dXNlcjpwYXNzd29yZA==", "cookie": "2|session|value-of-cookie"}


@pytest.mark.parametrize("line", [
    "200 GET /services/dashboards/login?code={code}&state={state} (127.0.0.1) 12.34ms",
    "302 GET /hub/oauth_callback?code={code}&state={state} (ann@127.0.0.1) 8.00ms",
    "302 GET /hub/api/oauth2/authorize?client_id=service-dashboards&response_type=code"
    "&state={state} -> /services/dashboards/login?code={code}&state={state}",
    "200 GET /user/ann/lab?token={token} (127.0.0.1) 3.10ms",
    "200 POST /hub/login?next=%2Fhub%2F&_xsrf={xsrf} (127.0.0.1) 300.00ms",
    "redirect to /services/dashboards/#access_token={access}&token_type=bearer",
    "GET /api/user;access_token={access}",
    '{{"Authorization": "token {token}", "Cookie": "jupyterhub-session-id={cookie}; user=x"}}',
    "Authorization: Basic {basic}",
    "Proxy-Authorization: {basic}",
    "Set-Cookie: user={cookie}; Path=/services/dashboards/; HttpOnly",
    "302 GET /services/dashboards/login?next=%2Fservices%2Fdashboards%2F%3Ftoken%3D{token}"
    "%26_xsrf%3D{xsrf} (127.0.0.1) 14.67ms",
    "302 GET /hub/login?next=%2Fhub%2Fapi%2Foauth2%2Fauthorize%3Fclient_id%3Dx%26state%3D{state}"
    "%26code%3D{code}",
    "Setting new xsrf cookie for b'{cookie}:{token}' {{'samesite': 'Lax', 'path': '/hub/'}}",
    "OAuth state mismatch: {state} != {code}",
    "Failed to b64-decode state: '{state}'",
])
def test_access_log_shapes_are_masked(line):
    filled = line.format(**SECRETS)
    out = scrub(filled)
    assert [name for name, value in SECRETS.items() if value in out] == []
    assert "***" in out


@pytest.mark.parametrize("line", [
    "200 GET /services/dashboards/?page=animals&sort=official_id (127.0.0.1) 20.00ms",
    "302 GET /hub/api/oauth2/authorize?client_id=service-dashboards&response_type=code "
    "(ann@127.0.0.1) 5.00ms",
    "customer code farm01 created; state released",
])
def test_ordinary_request_lines_keep_their_meaning(line):
    assert scrub(line) == line


SERVICE = r'''
import asyncio, json, logging, sys
import panel  # as dashboards/serve.py: Bokeh and Panel set up their loggers on import
import tornado.httpclient, tornado.httpserver, tornado.web
from tornado.testing import bind_unused_port
from reprotech_core.ops.logs import configure_logging
from reprotech_core.settings import get_settings

secrets = json.loads(sys.argv[1])
configure_logging(get_settings(), level="INFO")


class Login(tornado.web.RequestHandler):
    def get(self):
        logging.getLogger("panel.auth").warning("OAuth state mismatch: %s != %s",
                                                secrets["state"], secrets["code"])
        logging.getLogger("bokeh.server.views").info("connection from %s",
                                                     "/ws?token=" + secrets["token"])
        self.write("signed in")


async def main():
    sock, port = bind_unused_port()
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/login", Login)]))
    server.add_sockets([sock])
    query = "code={code}&state={state}&_xsrf={xsrf}".format(**secrets)
    answer = await tornado.httpclient.AsyncHTTPClient().fetch(
        f"http://127.0.0.1:{port}/login?{query}",
        headers={"Authorization": "Bearer " + secrets["access"]})
    assert answer.body == b"signed in"
    server.stop()

asyncio.run(main())
for name in ("bokeh", "panel"):
    lg = logging.getLogger(name)
    print(f"LOGGER {name} handlers={len(lg.handlers)} propagate={lg.propagate}", flush=True)
'''


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_service_configured_like_the_dashboards_logs_no_oauth_secret(tmp_path, log_format):
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPROTECH_", "BOKEH_"))}
    env.update(REPROTECH_HOME=str(tmp_path), REPROTECH_LOG_FORMAT=log_format)
    done = subprocess.run([str(Path(sys.executable).with_name("python")), "-c", SERVICE,
                           json.dumps(SECRETS)], env=env, capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).parents[2])
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert [name for name, value in SECRETS.items() if value in out] == []
    # The lines were written (scrubbed), not lost: access log, Panel's and Bokeh's records.
    assert "GET /login?code=***&state=***&_xsrf=***" in out
    assert "OAuth state mismatch: *** != ***" in out
    assert "/ws?token=***" in out
    assert "LOGGER bokeh handlers=0 propagate=True" in out
    assert "LOGGER panel handlers=0 propagate=True" in out
    if log_format == "json":
        records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        assert {r["logger"] for r in records} >= {"tornado.access", "panel.auth",
                                                 "bokeh.server.views"}
