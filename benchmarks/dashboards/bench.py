"""Customer portal benchmark: first meaningful paint and interaction latency in Chromium.

One tenant with N animals (default 10,000; pedigree, genotypes with QC, a released run with
four GEBVs + reliabilities, inbreeding, parentage, and optionally the demo's reproduction
history), two small farms so the population comparison has three customers. The real pages run
in the test server (``tests/dashboards/server.py``: the product's ``build_app`` with a fixed
identity per route), measured from Debian's Chromium through Playwright:

- first paint after sign-in: navigation start of the app's own URL (no ``?page=``: the landing
  page, the overview for a customer) until the overview's herd figure ("In the herd") is
  visible; the test server has a fixed identity per route instead of the hub's sign-in, so
  this is the page load that follows a sign-in, without the hub's OAuth redirects; cold (first
  session after start, caches empty) and warm (median and p95 of repeated loads)
- the animals page's first table row after a full load, cold and warm
- page switch inside one session (``dashboards/navigation.py``): a click on the menu entry
  until the new page's first content is visible: overview -> animals (built in the session:
  its first table row) and animals -> overview (kept from the session: its heading), each in
  a new session per round
- interactions on the animals page: sort (click a column header), filter (type into the ID
  header filter; clear it), page (next page) — time from the action until the table's rows
  changed in the browser
- the same with ``--sessions`` concurrent browser sessions (default 50): opened ``--ramp`` at a
  time and kept open, then all interacting at once with a random think time between actions;
  the CPU used by the server and by the browsers during that phase is recorded

Run under the machine's benchmark lock (see README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from reprotech_core.db.migrate import app_url  # noqa: E402
from reprotech_core.db.scratch import scratch_platform  # noqa: E402
from reprotech_core.db.session import Database  # noqa: E402
from tests.dashboards.herds import (  # noqa: E402
    FarmSpec,
    add_user,
    build_farm,
    release_run,
)
from tests.dashboards.server import running_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
REFERENCE = "bench-sires"
TIMEOUT_MS = 120_000

# Signature of the animals table's visible rows (inside Panel's shadow DOM).
SIGNATURE = """() => {
  if (!window.__rtTable) {
    const walk = (n) => { if (n.shadowRoot) { const f = walk(n.shadowRoot); if (f) return f; }
      for (const c of n.children || []) {
        if (c.classList && c.classList.contains('tabulator-tableholder')) return c;
        const f = walk(c); if (f) return f; }
      return null; };
    window.__rtTable = walk(document.body);
  }
  const t = window.__rtTable; return t ? t.innerText.slice(0, 2000) : '';
}"""


# Times of the page's websocket messages (Bokeh's protocol to the server), in the page's clock:
# how much of an interaction is the server's answer and how much the browser's own work.
WS_PROBE = """(() => {
  const Native = window.WebSocket;
  window.__rtWs = [];
  const send = Native.prototype.send;
  Native.prototype.send = function (data) {
    window.__rtWs.push(['s', performance.now()]); return send.call(this, data); };
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', () => window.__rtWs.push(['r', performance.now()]));
    return ws; };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})()"""

# After an action: from the first message sent to the last one received before the rows changed
# (the server's part, loopback included), and the whole action, in ms of the page's clock.
WS_SPLIT = """(start) => { const end = performance.now();
  const seen = window.__rtWs.filter(([, t]) => t >= start && t <= end);
  const sent = seen.filter(([k]) => k === 's'), got = seen.filter(([k]) => k === 'r');
  window.__rtWs = [];
  if (!sent.length || !got.length) return null;
  return [got[got.length - 1][1] - sent[0][1], end - start]; }"""


def cpu_seconds(match: str | int) -> float:
    """CPU seconds (user + system) used so far by a process id, or by every process whose
    command line contains ``match`` (the browser's processes): who is busy under load."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if isinstance(match, int):
                if int(entry.name) != match:
                    continue
            elif match not in (entry / "cmdline").read_bytes().decode(errors="replace"):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values: list[float]) -> dict:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(pct(ms, 95), 1), "max_ms": round(max(ms), 1)}


def build(db: Database, n: int, reproduction: bool) -> dict:
    system = db.identity("system")
    t0 = time.perf_counter()
    farms = [build_farm(db, system, FarmSpec("bench", n, reproduction=reproduction),
                        REFERENCE, seed=1),
             build_farm(db, system, FarmSpec("bench-b", 50), REFERENCE, seed=2),
             build_farm(db, system, FarmSpec("bench-c", 50), REFERENCE, seed=3)]
    release_run(db, system, farms, REFERENCE, seed=4)
    add_user(db, system, "bench-user", "customer_user", "bench")
    with db.session(system) as s:  # the simulated calvings register calves; some animals left
        recorded, in_herd = s.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM "
            "core.animal_exits x WHERE x.animal_id = a.id)) FROM core.animals a "
            "WHERE a.customer_id = :c"), {"c": farms[0].id}).one()
    return {"animals": n, "recorded": recorded, "in_herd": in_herd,
            "evaluated": len(farms[0].evaluated),
            "setup_s": round(time.perf_counter() - t0, 1)}


def paint(page, url: str, selector_text: str) -> float:
    t0 = time.perf_counter()
    page.goto(url)
    page.get_by_text(selector_text).first.wait_for(timeout=TIMEOUT_MS)
    return time.perf_counter() - t0


def timed(page, action, split: list | None = None) -> float:  # noqa: ANN001
    """Seconds from ``action`` until the table's rows changed; with ``split``, appends the
    server's part and the whole in the page's clock (``WS_SPLIT``)."""
    before = page.evaluate(SIGNATURE)
    start = page.evaluate("() => performance.now()") if split is not None else None
    t0 = time.perf_counter()
    action()
    page.wait_for_function(f"(b) => ({SIGNATURE})() !== b", arg=before, timeout=TIMEOUT_MS)
    took = time.perf_counter() - t0
    if split is not None:
        parts = page.evaluate(WS_SPLIT, start)
        if parts:
            split.append(parts)
    return took


SORT_FIELDS = ("milk_production", "birth_date", "official_id", "selection_index", "fertility")


def single_session(browser, server, setup: dict, rounds: int) -> dict:
    """Overview paint: until the "In the herd" card's figure shows; animals: until the count
    line (then the first row) shows."""
    out: dict = {}
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.add_init_script(WS_PROBE)
    page = ctx.new_page()
    herd_figure, animals_line = f"{setup['in_herd']:,}", f"{setup['recorded']:,} animals ("
    out["signin_cold_s"] = round(paint(page, server.of("bench-user"), herd_figure), 3)
    out["animals_cold_s"] = round(paint(page, server.of("bench-user", "page=animals"),
                                        animals_line), 3)
    page.locator(".tabulator-row").first.wait_for(timeout=TIMEOUT_MS)
    warm_o, warm_a = [], []
    for _ in range(rounds):
        warm_o.append(paint(page, server.of("bench-user"), herd_figure))
        t = paint(page, server.of("bench-user", "page=animals"), animals_line)
        page.locator(".tabulator-row").first.wait_for(timeout=TIMEOUT_MS)
        warm_a.append(t)
    out["signin_warm"] = summary(warm_o)
    # animals paint until the first row is visible (not just the heading)
    rows = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        page.goto(server.of("bench-user", "page=animals"))
        page.locator(".tabulator-row").first.wait_for(timeout=TIMEOUT_MS)
        rows.append(time.perf_counter() - t0)
    out["animals_first_row_warm"] = summary(rows)
    page.evaluate("() => { window.__rtTable = null; }")
    out["interactions"] = interactions(page, rounds)
    out["switch"] = page_switches(page, server, herd_figure, rounds)
    ctx.close()
    return out


def page_switches(page, server, herd_figure: str, rounds: int) -> dict:  # noqa: ANN001
    """Menu click until the new page shows, in place: overview -> animals (built: until its
    first table row) and back (kept: until the overview's heading), a new session a round."""
    built, kept = [], []
    for _ in range(rounds):
        paint(page, server.of("bench-user", "page=overview"), herd_figure)
        page.evaluate("() => { window.__rtSwitch = true; }")
        t0 = time.perf_counter()
        page.locator(".rt-nav a[href^='?page=animals']").first.click()
        page.locator(".rt-animals .tabulator-row").first.wait_for(timeout=TIMEOUT_MS)
        built.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        page.locator(".rt-nav a[href^='?page=overview']").first.click()
        page.get_by_text("Herd overview · Farm").first.wait_for(timeout=TIMEOUT_MS)
        kept.append(time.perf_counter() - t0)
        if not page.evaluate("() => window.__rtSwitch === true"):
            raise RuntimeError("the page reloaded on a menu click")
    return {"to_animals_built": summary(built), "to_overview_kept": summary(kept),
            "all": summary(built + kept)}


def type_filter(box, text: str) -> None:  # noqa: ANN001
    """Type into a header filter and press Enter (Tabulator filters on Enter at once, or
    after its 300 ms typing pause)."""
    box.fill(text)
    box.press("Enter")


async def type_filter_async(box, text: str) -> None:  # noqa: ANN001
    await box.fill(text)
    await box.press("Enter")


def interactions(page, rounds: int) -> dict:
    sort, filt, paging = [], [], []
    splits: dict[str, list] = {"sort": [], "filter": [], "page": []}
    for i in range(rounds):
        field = SORT_FIELDS[i % len(SORT_FIELDS)]
        title = page.locator(f".tabulator-col[tabulator-field='{field}'] .tabulator-col-title")
        sort.append(timed(page, title.click, splits["sort"]))
        box = page.locator(".tabulator-col[tabulator-field='official_id'] input")
        filt.append(timed(page, lambda b=box, i=i: type_filter(b, f"BENCH-00{i % 9 + 1}"),
                          splits["filter"]))
        filt.append(timed(page, lambda b=box: type_filter(b, ""), splits["filter"]))
        nxt = page.locator("button.tabulator-page[data-page='next']")
        paging.append(timed(page, nxt.click, splits["page"]))
    out = {"sort": summary(sort), "filter": summary(filt), "page": summary(paging)}
    for kind, parts in splits.items():
        if parts:  # ms in the page's clock: the websocket's part, and the whole
            out[f"{kind}_ws_ms"] = summary([p[0] / 1000 for p in parts])
            out[f"{kind}_page_clock_ms"] = summary([p[1] / 1000 for p in parts])
    return out


async def concurrent(server, n: int, sessions: int, rounds: int, *, ramp: int,
                     think: tuple[float, float]) -> dict:
    """``sessions`` browser sessions open at once: opened ``ramp`` at a time (the first-row
    time of each is measured under that load), then all of them interact concurrently, each
    waiting a random think time between its actions, as people do."""
    import random

    from playwright.async_api import async_playwright

    rng = random.Random(7)
    async with async_playwright() as p:
        # No GPU: 50 renderers compositing through SwiftShader would only add CPU work.
        browser = await p.chromium.launch(executable_path=CHROMIUM,
                                          args=["--no-sandbox", "--headless=new",
                                                "--disable-gpu"])
        paints: list[float] = []
        acts: dict[str, list[float]] = {"sort": [], "filter": [], "page": []}
        errors: list[str] = []
        gate = asyncio.Semaphore(ramp)
        pages = []

        async def open_one(k: int) -> None:
            async with gate:
                ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
                page = await ctx.new_page()
                try:
                    t0 = time.perf_counter()
                    await page.goto(server.of("bench-user", "page=animals"), timeout=TIMEOUT_MS)
                    await page.locator(".tabulator-row").first.wait_for(timeout=TIMEOUT_MS)
                    paints.append(time.perf_counter() - t0)
                    pages.append((k, page))
                except Exception as exc:  # reported in the result, not hidden
                    errors.append(f"open {k}: {type(exc).__name__}: {str(exc)[:200]}")

        async def interact(k: int, page) -> None:  # noqa: ANN001
            async def timed_a(kind: str, action) -> None:  # noqa: ANN001
                await asyncio.sleep(rng.uniform(*think))
                before = await page.evaluate(SIGNATURE)
                t = time.perf_counter()
                await action()
                await page.wait_for_function(f"(b) => ({SIGNATURE})() !== b", arg=before,
                                             timeout=TIMEOUT_MS)
                acts[kind].append(time.perf_counter() - t)

            try:
                for i in range(rounds):
                    field = SORT_FIELDS[(i + k) % len(SORT_FIELDS)]
                    await timed_a("sort", page.locator(
                        f".tabulator-col[tabulator-field='{field}'] .tabulator-col-title").click)
                    box = page.locator(".tabulator-col[tabulator-field='official_id'] input")
                    await timed_a("filter", lambda b=box, i=i: type_filter_async(
                        b, f"BENCH-00{i % 9 + 1}"))
                    await timed_a("filter", lambda b=box: type_filter_async(b, ""))
                    await timed_a("page", page.locator(
                        "button.tabulator-page[data-page='next']").click)
            except Exception as exc:  # reported in the result, not hidden
                errors.append(f"session {k}: {type(exc).__name__}: {str(exc)[:200]}")

        t0 = time.perf_counter()
        await asyncio.gather(*(open_one(k) for k in range(sessions)))
        opened = time.perf_counter() - t0
        t1 = time.perf_counter()
        cpu0 = cpu_seconds(server.pid), cpu_seconds("chromium")
        await asyncio.gather(*(interact(k, page) for k, page in pages))
        wall = time.perf_counter() - t1
        cpu1 = cpu_seconds(server.pid), cpu_seconds("chromium")
        await browser.close()
    done = sum(len(v) for v in acts.values())
    return {"sessions": sessions, "open": len(pages), "ramp": ramp, "think_s": list(think),
            "open_all_s": round(opened, 1), "interaction_phase_s": round(wall, 1),
            "interactions_per_s": round(done / wall, 1) if wall else None, "errors": errors,
            "cpu_cores_busy": {"server": round((cpu1[0] - cpu0[0]) / wall, 2),
                               "chromium": round((cpu1[1] - cpu0[1]) / wall, 2)},
            "animals_first_row": summary(paints) if paints else None,
            **{k: summary(v) for k, v in acts.items() if v}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--animals", type=int, default=10_000)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--concurrent-rounds", type=int, default=4)
    ap.add_argument("--ramp", type=int, default=5, help="sessions opening at the same time")
    ap.add_argument("--think", type=float, nargs=2, default=(3.0, 8.0),
                    help="think time between a session's actions, uniform, seconds")
    ap.add_argument("--no-reproduction", action="store_true")
    ap.add_argument("--skip-single", action="store_true", help="only the concurrent sessions")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "dashboards")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with scratch_platform(demo_customers=1, demo_animals_per_customer=10) as settings:
        db = Database(app_url(settings))
        result = {"setup": build(db, args.animals, not args.no_reproduction)}
        print(json.dumps(result["setup"]), flush=True)
        with running_server(settings, ("bench-user",), args.out / "server.log") as server:
            if not args.skip_single:
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=CHROMIUM,
                                                args=["--no-sandbox", "--headless=new"])
                    result["single"] = single_session(browser, server, result["setup"],
                                                      args.rounds)
                    browser.close()
                print(json.dumps(result["single"]), flush=True)
            if args.sessions:
                result["concurrent"] = asyncio.run(concurrent(
                    server, args.animals, args.sessions, args.concurrent_rounds,
                    ramp=args.ramp, think=tuple(args.think)))
                print(json.dumps(result["concurrent"]), flush=True)
        db.dispose()
    (args.out / f"result-{int(time.time())}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
