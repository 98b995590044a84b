"""Customer portal capacity at the protocol level: many customers' sessions, a light client.

bench.py's concurrent phase runs 50 Chromium browsers on the same 2 cores as the server and so
measures the browsers (issue 21 item 6). Here each customer is a *light protocol client*: it
opens the animals page exactly as a browser does, without rendering anything —

1. GET the page (the server builds the session's document; the HTML carries its token),
2. open the websocket ``<page>/ws`` with the token as sub-protocol, wait for ACK, send
   PULL-DOC-REQ and take the document from PULL-DOC-REPLY (the table's model and its rows),
3. send the ``document_ready`` event, as BokehJS does once the page is shown,

then interacts as the Tabulator in a browser does: a PATCH-DOC setting the table model's
``sorters``, ``filters`` (the ID header filter) or ``page``. The latency of an interaction is
from sending it until the server's PATCH-DOC with the table's new rows arrives; every answer's
first rows are compared with those before, and an answer that is not new rows is counted (a
no-op's latency would be worthless). Hundreds of sessions share one asyncio event loop.

Customers: the 10,000-animal tenant of bench.py (``bench``, with its reproduction history;
two users), its two 50-animal farms and two mid-sized farms (N/5 and N/20 animals) in a second
released run; sessions are given to the users in turn, five in ten to the big tenant
(``USER_CYCLE``). Levels (default 50, 150, 300 sessions) are reached one after the other: the
new sessions are opened ``--ramp`` at a time, then every open session interacts for
``--duration`` seconds with a uniform think time. Meanwhile ``--browsers`` real Chromium
sessions on the big tenant measure the same sort end to end (bench.py's row signature).

Run under the machine's benchmark lock (see README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bokeh.protocol import Protocol  # noqa: E402
from bokeh.protocol.receiver import Receiver  # noqa: E402
from tornado.httpclient import AsyncHTTPClient, HTTPRequest  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from benchmarks.dashboards.bench import (  # noqa: E402
    CHROMIUM,
    REFERENCE,
    SIGNATURE,
    SORT_FIELDS,
    TIMEOUT_MS,
    build,
    cpu_seconds,
    summary,
)

TOKEN = re.compile(r'"token"\s*:\s*"([A-Za-z0-9_\-.]+)"')
TABLE_MODEL = "DataTabulator"
#: Users of the load, in turn: (username, farm code). Five in ten on the big tenant.
USER_CYCLE = (("bench-user", "bench"), ("bench-admin", "bench"), ("load-d-user", "load-d"),
              ("bench-user", "bench"), ("load-e-user", "load-e"), ("bench-admin", "bench"),
              ("bench-b-user", "bench-b"), ("bench-user", "bench"), ("load-d-user", "load-d"),
              ("bench-c-user", "bench-c"))
SORTS = tuple((f, d) for f in SORT_FIELDS for d in ("desc", "asc"))


class ProtocolFailure(RuntimeError):
    """The server refused or broke the protocol (an ERROR message, a closed socket)."""


def _objects(node: Any) -> Any:
    """Every serialized model (``{"type": "object", "id": …}``) inside a document's JSON."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "id" in node:
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def column(data: Any, name: str) -> list | None:
    """One column of a serialized ``ColumnDataSource.data`` (a map, or a plain dict); string
    columns arrive as lists or object arrays."""
    if isinstance(data, dict) and data.get("type") == "map":
        entries = dict((k, v) for k, v in data.get("entries", []))
    elif isinstance(data, dict):
        entries = data
    else:
        return None
    value = entries.get(name)
    if isinstance(value, dict) and value.get("type") == "ndarray":
        value = value.get("array")
    return value if isinstance(value, list) else None


def encode(value: Any) -> Any:
    """A value as BokehJS serializes it: objects as maps (a plain object with a ``type`` key
    would read as a typed value, e.g. a filter's ``{"type": "like"}``)."""
    if isinstance(value, dict):
        return {"type": "map", "entries": [[k, encode(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


@dataclass
class TableSession:
    """One browser's Bokeh session on the animals page, spoken at the protocol level."""

    page_url: str
    timeout: float = 60.0
    rows: list = field(default_factory=list)  # the visible page's official IDs
    table_id: str = ""
    source_id: str = ""
    doc_bytes: int = 0
    _ws: Any = None
    _waiting: asyncio.Future | None = None
    _reader: asyncio.Task | None = None
    _ids: itertools.count = field(default_factory=itertools.count)
    closed: str = ""

    async def open(self, http: AsyncHTTPClient) -> None:
        html = (await http.fetch(self.page_url, request_timeout=self.timeout)).body.decode()
        token = TOKEN.search(html)
        if token is None:
            raise ProtocolFailure("no session token in the page")
        parts = urlsplit(self.page_url)
        request = HTTPRequest(f"ws://{parts.netloc}{parts.path}/ws",
                              headers={"Origin": f"http://{parts.netloc}"},
                              connect_timeout=self.timeout, request_timeout=self.timeout)
        self._ws = await websocket_connect(request, subprotocols=["bokeh", token.group(1)],
                                           max_message_size=64 * 2**20)
        receiver = Receiver(Protocol())
        ack = await self._next(receiver)
        if ack.msgtype != "ACK":
            raise ProtocolFailure(f"expected ACK, got {ack.msgtype}")
        await self._send("PULL-DOC-REQ", {})
        reply = await self._next(receiver)
        if reply.msgtype != "PULL-DOC-REPLY":
            raise ProtocolFailure(f"expected PULL-DOC-REPLY, got {reply.msgtype}: "
                                  f"{reply.content}")
        self._find_table(reply.content["doc"])
        self._reader = asyncio.create_task(self._read(receiver))
        await self._send("PATCH-DOC", {"events": [{
            "kind": "MessageSent", "msg_type": "bokeh_event",
            "msg_data": {"type": "event", "name": "document_ready", "values": {}}}]})

    def _find_table(self, doc: dict) -> None:
        self.doc_bytes = len(json.dumps(doc))
        models = {m["id"]: m for m in _objects(doc)}
        tables = [m for m in models.values() if m.get("name", "").endswith(TABLE_MODEL)]
        if len(tables) != 1:
            raise ProtocolFailure(f"expected one {TABLE_MODEL} in the page, found {len(tables)}")
        self.table_id = tables[0]["id"]
        source = tables[0]["attributes"]["source"]
        self.source_id = source["id"]
        full = models.get(self.source_id, source)
        self.rows = column(full.get("attributes", {}).get("data"), "official_id") or []

    async def _next(self, receiver: Receiver) -> Any:
        while True:
            fragment = await asyncio.wait_for(self._ws.read_message(), self.timeout)
            if fragment is None:
                raise ProtocolFailure("the server closed the websocket")
            message = await receiver.consume(fragment)
            if message is not None:
                return message

    async def _send(self, msgtype: str, content: dict) -> None:
        header = {"msgid": str(next(self._ids)), "msgtype": msgtype}
        for part in (header, {}, content):
            await self._ws.write_message(json.dumps(part))

    async def _read(self, receiver: Receiver) -> None:
        """Read the server's messages for the whole session; the first PATCH-DOC carrying the
        table's rows after an interaction answers it."""
        try:
            while True:
                fragment = await self._ws.read_message()
                if fragment is None:
                    raise ProtocolFailure("the server closed the websocket")
                message = await receiver.consume(fragment)
                if message is None:
                    continue
                if message.msgtype == "ERROR":
                    self._answer(ProtocolFailure(f"server error: {message.content}"))
                elif message.msgtype == "PATCH-DOC":
                    rows = self._rows_in(message.content.get("events", []))
                    if rows is not None:
                        self._answer(rows)
        except Exception as exc:  # noqa: BLE001 - ends the session, reported by its owner
            self.closed = f"{type(exc).__name__}: {exc}"[:200]
            self._answer(exc if isinstance(exc, ProtocolFailure) else ProtocolFailure(
                self.closed))

    def _rows_in(self, events: list[dict]) -> list | None:
        for event in events:
            kind = event.get("kind")
            if kind == "ModelChanged" and event.get("model", {}).get("id") == self.source_id \
                    and event.get("attr") == "data":
                return column(event.get("new"), "official_id") or []
            if kind == "ColumnDataChanged" and event.get("model", {}).get("id") == self.source_id:
                return column(event.get("data"), "official_id") or []
        return None

    def _answer(self, result: list | Exception) -> None:
        if self._waiting is not None and not self._waiting.done():
            if isinstance(result, Exception):
                self._waiting.set_exception(result)
            else:
                self._waiting.set_result(result)

    async def change(self, attr: str, value: Any) -> tuple[float, bool]:
        """Set a property of the table model as the browser's Tabulator does; returns the
        seconds until the new rows arrived and whether they differ from those before."""
        if self.closed:
            raise ProtocolFailure(self.closed)
        self._waiting = asyncio.get_running_loop().create_future()
        t0 = time.perf_counter()
        await self._send("PATCH-DOC", {"events": [{
            "kind": "ModelChanged", "model": {"id": self.table_id}, "attr": attr,
            "new": encode(value)}]})
        rows = await asyncio.wait_for(self._waiting, self.timeout)
        elapsed = time.perf_counter() - t0
        changed = rows != self.rows
        self.rows = rows
        return elapsed, changed

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            self._ws.close()


def actions(farm: str, k: int) -> Any:
    """A customer's endless round on the table: sort by a column (in turn, each direction),
    next page and back, filter the IDs (on the first page, as Tabulator does) and clear the
    filter; each changes the visible rows. (Setting the sort the table has already — it opens
    on the index, descending — would change nothing: no message, no answer.)"""
    prefix = f"{farm.upper()}-00001"
    current = ("selection_index", "desc")
    for i in itertools.count(k):
        if SORTS[i % len(SORTS)] == current:
            continue
        current = field_, direction = SORTS[i % len(SORTS)]
        yield "sort", "sorters", [{"field": field_, "dir": direction}]
        yield "page", "page", 2
        yield "page", "page", 1
        yield "filter", "filters", [{"field": "official_id", "type": "like", "value": prefix}]
        yield "filter", "filters", []


@dataclass
class Customer:
    k: int
    user: str
    farm: str
    session: TableSession
    steps: Any = None
    answered: bool = True  # every interaction so far got its rows back in time
    open_s: float = 0.0


@dataclass
class Tally:
    latency: dict[str, list[float]] = field(default_factory=lambda: {
        "sort": [], "filter": [], "page": []})
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def tree(pid: int) -> list[int]:
    """The process and its descendants: with ``--processes`` the server's forked children
    serve the sessions, the parent only watches them."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        out.append(todo.pop())
        todo.extend(children.get(out[-1], []))
    return out


def _kib(path: str, key: str) -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in {path}")


def memory_mib(pid: int) -> dict[str, float]:
    """RSS and PSS of the server's processes, summed. Forked processes share the pages of
    what the parent imported before the fork, so their RSS counts those pages once per
    process; PSS divides each shared page among its sharers, so its sum is the real use."""
    pids = tree(pid)
    return {"rss": round(sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in pids) / 1024, 1),
            "pss": round(sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids) / 1024, 1)}


def server_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(p) for p in tree(pid))


async def open_customer(http: AsyncHTTPClient, server, k: int, timeout: float) -> Customer:
    user, farm = USER_CYCLE[k % len(USER_CYCLE)]
    c = Customer(k, user, farm, TableSession(server.of(user, "page=animals"), timeout))
    t0 = time.perf_counter()
    await c.session.open(http)
    c.open_s = time.perf_counter() - t0
    c.steps = actions(farm, k)
    return c


async def hold(customers: list[Customer], until: float, think: tuple[float, float],
               rng: random.Random, tally: Tally) -> None:
    """Every customer interacts until ``until`` with a think time before each action; an
    interaction under way at the end is waited for."""

    async def run(c: Customer) -> None:
        while c.answered:
            await asyncio.sleep(rng.uniform(*think))
            if time.monotonic() >= until:
                return
            kind, attr, value = next(c.steps)
            try:
                seconds, changed = await c.session.change(attr, value)
            except Exception as exc:  # noqa: BLE001 - counted and reported, not hidden
                c.answered = False
                tally.errors.append(f"session {c.k} ({c.user}) {kind}: "
                                    f"{type(exc).__name__}: {str(exc)[:160]}")
                return
            tally.latency[kind].append(seconds)
            tally.unchanged += not changed

    await asyncio.gather(*(run(c) for c in customers))


async def browsers_sort(pages: list, until: float, think: tuple[float, float],
                        rng: random.Random, out: list[float], errors: list[str]) -> None:
    """Real Chromium sessions: click a column header, until the visible rows changed."""

    async def run(k: int, page) -> None:  # noqa: ANN001
        for i in itertools.count(k):
            await asyncio.sleep(rng.uniform(*think))
            if time.monotonic() >= until:
                return
            f = SORT_FIELDS[i % len(SORT_FIELDS)]
            try:
                before = await page.evaluate(SIGNATURE)
                t0 = time.perf_counter()
                await page.locator(f".tabulator-col[tabulator-field='{f}'] "
                                   ".tabulator-col-title").click(timeout=TIMEOUT_MS)
                await page.wait_for_function(f"(b) => ({SIGNATURE})() !== b", arg=before,
                                             timeout=TIMEOUT_MS)
                out.append(time.perf_counter() - t0)
            except Exception as exc:  # noqa: BLE001 - reported
                errors.append(f"browser {k}: {type(exc).__name__}: {str(exc)[:160]}")
                return

    await asyncio.gather(*(run(k, p) for k, p in enumerate(pages)))


def stats(values: list[float]) -> dict | None:
    return summary(values) if values else None


async def load(server, levels: list[int], *, duration: float, ramp: int, browsers: int,
               think: tuple[float, float], timeout: float, log) -> list[dict]:  # noqa: ANN001
    from playwright.async_api import async_playwright

    AsyncHTTPClient.configure(None, max_clients=max(ramp, 10))
    http = AsyncHTTPClient()
    rng = random.Random(11)
    results: list[dict] = []
    # Warm the per-tenant caches (one session per user) so the levels measure sessions.
    warm = [await open_customer(http, server, k, timeout) for k in range(len(USER_CYCLE))]
    for c in warm:
        await c.session.close()
    await asyncio.sleep(2)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM,
                                          args=["--no-sandbox", "--headless=new",
                                                "--disable-gpu"])
        pages = []
        for _ in range(browsers):
            ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
            page = await ctx.new_page()
            await page.goto(server.of("bench-user", "page=animals"), timeout=TIMEOUT_MS)
            await page.locator(".tabulator-row").first.wait_for(timeout=TIMEOUT_MS)
            pages.append(page)
        await asyncio.sleep(2)
        baseline = memory_mib(server.pid)
        customers: list[Customer] = []
        open_errors: list[str] = []
        gate = asyncio.Semaphore(ramp)
        for level in levels:
            mem0, opened0 = memory_mib(server.pid), len(customers)

            async def open_one(k: int) -> None:
                async with gate:
                    try:
                        customers.append(await open_customer(http, server, k, timeout))
                    except Exception as exc:  # noqa: BLE001 - counted and reported
                        open_errors.append(f"open {k}: {type(exc).__name__}: "
                                           f"{str(exc)[:160]}")

            t0 = time.perf_counter()
            await asyncio.gather(*(open_one(k) for k in range(opened0 + len(open_errors),
                                                              level)))
            ramp_s = time.perf_counter() - t0
            opens = [c.open_s for c in customers[opened0:]]
            await asyncio.sleep(2)
            mem1 = memory_mib(server.pid)
            tally, browser_lat, browser_err = Tally(), [], []
            cpu0, me0, wall0 = (server_cpu_seconds(server.pid), cpu_seconds(os.getpid()),
                                time.monotonic())
            load_avg0 = os.getloadavg()[0]
            until = time.monotonic() + duration
            live = [c for c in customers if c.answered]
            await asyncio.gather(hold(live, until, think, rng, tally),
                                 browsers_sort(pages, until, think, rng, browser_lat,
                                               browser_err))
            wall = time.monotonic() - wall0
            cpu1, me1 = server_cpu_seconds(server.pid), cpu_seconds(os.getpid())
            mem2 = memory_mib(server.pid)
            held = sum(c.answered and not c.session.closed for c in customers)
            done = sum(len(v) for v in tally.latency.values())
            every = [x for v in tally.latency.values() for x in v]
            row = {
                "level": level, "opened": len(customers), "open_failed": len(open_errors),
                "held": held, "failed": level - held,
                "ramp": ramp, "ramp_s": round(ramp_s, 1), "open": stats(opens),
                "hold_s": round(wall, 1), "think_s": list(think),
                "interactions": done, "interactions_per_s": round(done / wall, 2),
                "unchanged_answers": tally.unchanged,
                "latency": stats(every), **{k: stats(v) for k, v in tally.latency.items()},
                "browsers": {"n": len(pages), "sort": stats(browser_lat),
                             "errors": browser_err},
                **{f"server_{k}_mib": {"idle": baseline[k], "level_start": mem0[k],
                                       "after_ramp": mem1[k], "after_hold": mem2[k]}
                   for k in ("rss", "pss")},
                "server_mib_per_session": round((mem2["pss"] - baseline["pss"])
                                                / max(len(customers), 1), 2),
                "server_cpu_cores": round((cpu1 - cpu0) / wall, 2),
                "load_client_cpu_cores": round((me1 - me0) / wall, 2),
                "load_avg_1min": [round(load_avg0, 1), round(os.getloadavg()[0], 1)],
                "errors": tally.errors[:10] + open_errors[:10],
            }
            results.append(row)
            log(row)
            if held < len(customers) * 0.5:
                break  # most sessions stopped answering: a higher level would say nothing more
        for c in customers:
            await c.session.close()
        await browser.close()
    return results


def build_tenants(db, n: int, reproduction: bool) -> dict:  # noqa: ANN001
    """bench.py's tenants (N animals + two 50-animal farms, one released run, ``bench-user``)
    plus two mid-sized farms in a second released run, and a user for each farm."""
    from tests.dashboards.herds import FarmSpec, add_user, build_farm, release_run

    setup = build(db, n, reproduction)
    system = db.identity("system")
    t0 = time.perf_counter()
    mid = [build_farm(db, system, FarmSpec("load-d", max(n // 5, 50)), REFERENCE, seed=5),
           build_farm(db, system, FarmSpec("load-e", max(n // 20, 50)), REFERENCE, seed=6)]
    release_run(db, system, mid, REFERENCE, seed=8)
    for user, role, farm in (("bench-admin", "customer_admin", "bench"),
                             ("bench-b-user", "customer_user", "bench-b"),
                             ("bench-c-user", "customer_user", "bench-c"),
                             ("load-d-user", "customer_user", "load-d"),
                             ("load-e-user", "customer_user", "load-e")):
        add_user(db, system, user, role, farm)
    setup["farms"] = {"bench": n, "bench-b": 50, "bench-c": 50, "load-d": max(n // 5, 50),
                      "load-e": max(n // 20, 50)}
    setup["setup_s"] = round(setup["setup_s"] + time.perf_counter() - t0, 1)
    return setup


def main() -> None:
    from reprotech_core.db.migrate import app_url
    from reprotech_core.db.scratch import scratch_platform
    from reprotech_core.db.session import Database
    from tests.dashboards.server import running_server

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="50,150,300",
                    help="concurrent sessions, comma-separated, reached in turn")
    ap.add_argument("--duration", type=float, default=90.0, help="seconds of each hold")
    ap.add_argument("--animals", type=int, default=10_000)
    ap.add_argument("--ramp", type=int, default=10, help="sessions opening at the same time")
    ap.add_argument("--browsers", type=int, default=2, help="real Chromium sessions")
    ap.add_argument("--think", type=float, nargs=2, default=(3.0, 8.0),
                    help="think time before each action, uniform, seconds")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds an answer may take")
    ap.add_argument("--processes", type=int, default=1,
                    help="serving processes (the service's dashboards_processes)")
    ap.add_argument("--no-reproduction", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "dashboards")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)

    def log(row: dict) -> None:
        print(json.dumps(row), flush=True)
        if "level" in row:
            lat = row["latency"] or {}
            print(f"# level {row['level']}: held {row['held']}/{row['level']}, "
                  f"p50 {lat.get('p50_ms')} ms, p95 {lat.get('p95_ms')} ms, "
                  f"{row['server_mib_per_session']} MiB/session, server "
                  f"{row['server_cpu_cores']} cores", file=sys.stderr, flush=True)

    users = tuple(sorted({u for u, _ in USER_CYCLE}))
    with scratch_platform(demo_customers=1, demo_animals_per_customer=10) as settings:
        db = Database(app_url(settings))
        result: dict = {"setup": build_tenants(db, args.animals, not args.no_reproduction),
                        "args": {k: (str(v) if isinstance(v, Path) else v)
                                 for k, v in vars(args).items()}}
        log(result["setup"])
        with running_server(settings, users, args.out / "server-load.log",
                            processes=args.processes) as server:
            result["levels"] = asyncio.run(load(
                server, levels, duration=args.duration, ramp=args.ramp, browsers=args.browsers,
                think=tuple(args.think), timeout=args.timeout, log=log))
        lines = server.log.read_text(errors="replace").splitlines()
        result["server_log"] = {"lines": len(lines),
                                "errors": sum(" ERROR " in x or "Traceback" in x
                                              for x in lines)}
        log(result["server_log"])
        db.dispose()
    (args.out / f"load-{int(time.time())}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
