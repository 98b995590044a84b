"""The load test's light protocol client (benchmarks/dashboards/bench_load.py) still speaks
Bokeh's protocol to the real pages: a session opens without a browser, and an interaction on
the animals table gets the table's new rows back — so the capacity benchmark keeps measuring
real work as Bokeh and Panel change."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from tornado.httpclient import AsyncHTTPClient

from benchmarks.dashboards.bench_load import TableSession, tree
from tests.dashboards.conftest import ARTIFACTS
from tests.dashboards.server import running_server

pytestmark = [pytest.mark.slow]


async def interact(server, users: tuple[str, ...]) -> dict[str, list]:
    http = AsyncHTTPClient()
    sessions = {u: TableSession(server.of(u, "page=animals"), timeout=60) for u in users}
    await asyncio.gather(*(s.open(http) for s in sessions.values()))
    seen: dict[str, list] = {}
    try:
        for user, s in sessions.items():
            first = list(s.rows)
            _, sorted_changed = await s.change("sorters", [{"field": "official_id",
                                                           "dir": "desc"}])
            by_id_desc = list(s.rows)
            prefix = by_id_desc[-1][:-1]  # e.g. "PA-00002": some IDs, not all
            _, filter_changed = await s.change("filters", [
                {"field": "official_id", "type": "like", "value": prefix}])
            filtered = list(s.rows)
            _, cleared_changed = await s.change("filters", [])
            seen[user] = [first, sorted_changed, by_id_desc, prefix, filter_changed, filtered,
                          cleared_changed, list(s.rows)]
    finally:
        await asyncio.gather(*(s.close() for s in sessions.values()))
    return seen


def test_light_client_sessions_get_new_rows_for_each_interaction(portal_server, portal):
    # a loop of its own in a thread: Playwright's sync API, used by the browser tests of the
    # same session, leaves an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        seen = pool.submit(asyncio.run, interact(
            portal_server, ("pa-user", "pa-admin", "pb-user"))).result()
    for user, (first, sort_changed, by_id, prefix, filt_changed, filtered, cleared_changed,
               cleared) in seen.items():
        assert first and len(first) <= 25, user  # the first page of the herd, as shipped
        assert sort_changed and by_id == sorted(by_id, reverse=True), user
        assert filt_changed and filtered and all(prefix in i for i in filtered), user
        assert len(filtered) < len(by_id), user
        assert cleared_changed and cleared == by_id, user
    # each session is its own customer's (the pa herd also holds simulated calves, SIMCAL…)
    assert all(i.startswith("PB-") for i in seen["pb-user"][0])
    for user in ("pa-user", "pa-admin"):
        assert not any(i.startswith("PB-") for i in seen[user][0])
        assert any(i.startswith("PA-") for i in seen[user][2]), user



async def sort_each(server, users: tuple[str, ...], per_user: int) -> list[tuple]:
    http = AsyncHTTPClient()
    sessions = [(u, TableSession(server.of(u, "page=animals"), timeout=60))
                for u in users for _ in range(per_user)]
    await asyncio.gather(*(s.open(http) for _, s in sessions))
    out = []
    try:
        for user, s in sessions:
            first = list(s.rows)
            _, changed = await s.change("sorters", [{"field": "official_id", "dir": "desc"}])
            out.append((user, first, changed, list(s.rows)))
    finally:
        await asyncio.gather(*(s.close() for _, s in sessions))
    return out


def test_several_serving_processes_answer_each_customer_with_their_own_herd(pg_settings,
                                                                            portal):
    """``dashboards_processes`` > 1 (Bokeh's ``num_procs``): the kernel hands each connection
    to one of the processes, so a page's GET and its websocket may reach different ones (the
    second then builds the session again from its token). Every session still opens, answers
    and shows its own customer's animals only."""
    users = ("pa-user", "pb-user")
    with running_server(pg_settings, users, ARTIFACTS / "server-2proc.log",
                        processes=2) as server:
        assert len(tree(server.pid)) == 3  # the parent watching two serving processes
        with ThreadPoolExecutor(1) as pool:
            seen = pool.submit(asyncio.run, sort_each(server, users, 4)).result()
    assert len(seen) == 8
    for user, first, changed, by_id in seen:
        assert first and changed and by_id == sorted(by_id, reverse=True), user
        if user == "pb-user":
            assert all(i.startswith("PB-") for i in first + by_id)
        else:
            assert not any(i.startswith("PB-") for i in first + by_id)
