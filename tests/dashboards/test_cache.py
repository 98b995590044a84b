"""The dashboards' one shared cache (``dashboards.cache``): bounded, expiring, and with no lock
left behind by a key once nobody is computing it (computed once per key is checked in
``test_staff_pages.py``)."""

from __future__ import annotations

import threading
import time

import pytest

from dashboards.cache import KeyedCache


def test_a_keys_lock_lives_only_while_it_is_computed():
    cache = KeyedCache(ttl=60, max_entries=4)
    for i in range(100):  # tenants, versions, days: keys that are asked once and never again
        assert cache.get(("herd", i), lambda i=i: i) == i
    assert cache._locks == {} and len(cache) == 4

    def fails() -> int:
        raise RuntimeError("query failed")

    with pytest.raises(RuntimeError):
        cache.get("broken", fails)
    assert cache._locks == {} and cache.get("broken", lambda: 7) == 7  # retried, not stuck


def test_waiting_sessions_share_the_lock_until_the_last_one_leaves():
    cache = KeyedCache(ttl=60)
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "value"

    threads = [threading.Thread(target=cache.get, args=("k", slow)) for _ in range(3)]
    threads[0].start()
    started.wait(5)
    for t in threads[1:]:
        t.start()
    time.sleep(0.1)
    assert list(cache._locks) == ["k"]  # one lock for the computing and the waiting sessions
    release.set()
    for t in threads:
        t.join(5)
    assert cache._locks == {}


def test_least_recently_used_values_leave_first():
    cache = KeyedCache(ttl=60, max_entries=2)
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    cache.get("a", lambda: 0)  # a hit: "a" is now the most recent
    cache.get("c", lambda: 3)
    assert cache.get("a", lambda: -1) == 1 and cache.get("b", lambda: -2) == -2


def test_values_expire_with_the_ttl_they_were_stored_with(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("dashboards.cache.time.monotonic", lambda: now[0])
    cache = KeyedCache(ttl=300, max_entries=10)
    cache.get("research", lambda: "r")
    cache.get("snapshot", lambda: "s", ttl=86_400)
    now[0] += 301
    assert cache.get("research", lambda: "r2") == "r2"  # stale: computed again
    assert cache.get("snapshot", lambda: "s2", ttl=86_400) == "s"  # its own, longer ttl
    now[0] += 86_400
    cache.get("other", lambda: "o")  # storing drops what has expired meanwhile
    assert len(cache) == 1


@pytest.mark.parametrize(("ttl", "entries"), [(0, 10), (-1, 10), (60, 0)])
def test_a_cache_needs_a_positive_ttl_and_room(ttl, entries):
    with pytest.raises(ValueError, match="ttl must be > 0"):
        KeyedCache(ttl=ttl, max_entries=entries)
