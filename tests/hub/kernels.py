"""Run code in a user's notebook kernel the way JupyterLab does: the server's REST API and the
kernel's websocket, through the real proxy, with a token the hub issues for that user."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.hub.conftest import Hub


def user_token(hub: Hub, username: str) -> str:
    """A short-lived token of ``username`` that may use their own server only."""
    answer = hub.api("POST", f"/users/{username}/tokens",
                     json={"scopes": [f"access:servers!user={username}"], "expires_in": 900,
                           "note": "tests: kernel client"})
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def run_code(hub: Hub, username: str, code: str, *, timeout: float = 120) -> str:
    """Execute ``code`` in a new ``reprotech`` kernel of the user's server; its stdout.

    An exception in the code fails the test with the kernel's traceback.
    """
    import requests

    token = user_token(hub, username)
    headers = {"Authorization": f"token {token}"}
    base = f"{hub.url}/user/{username}/api/kernels"
    kernel = requests.post(base, json={"name": "reprotech"}, headers=headers, timeout=60)
    assert kernel.status_code == 201, kernel.text
    kernel_id = kernel.json()["id"]
    url = base.replace("http", "ws", 1) + f"/{kernel_id}/channels"
    try:
        # A thread of its own: Playwright's sync API keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, _execute(url, headers, code, timeout)).result()
    finally:
        requests.delete(f"{base}/{kernel_id}", headers=headers, timeout=30)


async def _execute(url: str, headers: dict[str, str], code: str, timeout: float) -> str:
    socket = await websocket_connect(HTTPRequest(url, headers=headers))
    msg_id = uuid.uuid4().hex
    socket.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "tests",
                   "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }))
    out: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                raw = await socket.read_message()
                assert raw is not None, "the kernel's websocket closed"
                message = json.loads(raw)
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = message["msg_type"], message["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    raise AssertionError("\n".join(content["traceback"]))
                elif kind == "status" and content["execution_state"] == "idle":
                    return "".join(out)
    finally:
        socket.close()
