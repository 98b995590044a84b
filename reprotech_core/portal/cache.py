"""A small per-process cache of shared dashboard data, keyed by tenant.

Why not ``pn.cache`` alone: it serialises concurrent computations of one function behind a
single lock, so a slow query of one tenant would hold up every other tenant's page. Here each
key has its own lock: two sessions of the same tenant wait for one computation (the second
gets the first one's result), sessions of other tenants compute in parallel.

Keys must include everything the value depends on *including the tenant*; callers check the
user may see the tenant (a query under the user's row security) before reading the cache.
Entries expire after ``ttl`` seconds and are also keyed by a data version (e.g. the newest
released run), so a release shows on the next page load.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class KeyedCache:
    """Thread-safe TTL + LRU cache with one lock per key (see module docs)."""

    def __init__(self, *, ttl: float = 300.0, max_entries: int = 256) -> None:
        if ttl <= 0 or max_entries < 1:
            raise ValueError(f"ttl must be > 0 and max_entries >= 1, got {ttl}, {max_entries}")
        self.ttl = ttl
        self.max_entries = max_entries
        self._values: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _lock_for(self, key: Hashable) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _fresh(self, key: Hashable) -> tuple[bool, object]:
        with self._guard:
            entry = self._values.get(key)
            if entry is not None and time.monotonic() - entry[0] < self.ttl:
                self._values.move_to_end(key)
                return True, entry[1]
            return False, None

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value of ``key``, computing it (once, under the key's lock) if stale."""
        found, value = self._fresh(key)
        if found:
            self.hits += 1
            return value  # type: ignore[return-value]
        with self._lock_for(key):
            found, value = self._fresh(key)  # computed by another session meanwhile
            if found:
                self.hits += 1
                return value  # type: ignore[return-value]
            self.misses += 1
            value = compute()
            with self._guard:
                self._values[key] = (time.monotonic(), value)
                self._values.move_to_end(key)
                while len(self._values) > self.max_entries:
                    old, _ = self._values.popitem(last=False)
                    self._locks.pop(old, None)
            return value

    def clear(self) -> None:
        with self._guard:
            self._values.clear()
            self._locks.clear()


#: The dashboard processes' shared cache (tenant data: herd tables, population histograms).
SHARED = KeyedCache(ttl=300.0, max_entries=512)
