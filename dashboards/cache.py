"""The dashboard process's one cache of data shared between sessions.

Customer pages keep each tenant's herd table, KPIs and to-do list here (keyed by tenant and data
version); staff pages keep the research analytics (keyed by snapshot). Both ask the same
:data:`SHARED` instance.

Why not ``pn.cache`` alone: it serialises concurrent computations of one function behind a
single lock, so a slow query of one tenant would hold up every other tenant's page. Here each
key has its own lock: two sessions asking for the same key wait for one computation (the second
gets the first one's result), sessions asking for other keys compute in parallel.

A key's lock exists only while a session is computing or waiting for that key, so locks never
outlive their computations (a lock per key ever asked would grow without bound: one per
tenant, version and day). Values are bounded by count (least recently used first out) and
dropped once older than the time-to-live they were stored with.

Keys must include everything the value depends on *including the tenant*; callers check the
user may see the tenant (a query under the user's row security) before reading the cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass
class _Entry:
    stored: float
    ttl: float
    value: object


@dataclass
class _KeyLock:
    """A key's lock and how many sessions hold or wait for it (dropped at zero)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


class KeyedCache:
    """Thread-safe TTL + LRU cache with one lock per key being computed (see module docs)."""

    def __init__(self, *, ttl: float = 300.0, max_entries: int = 256) -> None:
        if ttl <= 0 or max_entries < 1:
            raise ValueError(f"ttl must be > 0 and max_entries >= 1, got {ttl}, {max_entries}")
        self.ttl = ttl
        self.max_entries = max_entries
        self._values: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._locks: dict[Hashable, _KeyLock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T], *, ttl: float | None = None) -> T:
        """The value of ``key`` if computed less than ``ttl`` seconds ago (default: the
        cache's), else ``compute()`` run once for every session asking meanwhile."""
        ttl = self.ttl if ttl is None else ttl
        if ttl < 0:
            raise ValueError(f"ttl must be >= 0, got {ttl}")
        found, value = self._fresh(key, ttl)
        if found:
            return value  # type: ignore[return-value]
        with self._guard:
            slot = self._locks.setdefault(key, _KeyLock())
            slot.users += 1
        try:
            with slot.lock:
                found, value = self._fresh(key, ttl)  # computed by another session meanwhile
                if found:
                    return value  # type: ignore[return-value]
                value = compute()
                self._store(key, value, ttl)
                return value
        finally:
            with self._guard:
                slot.users -= 1
                if slot.users == 0:
                    del self._locks[key]

    def __len__(self) -> int:
        return len(self._values)

    def _fresh(self, key: Hashable, ttl: float) -> tuple[bool, object]:
        with self._guard:
            entry = self._values.get(key)
            if entry is not None and time.monotonic() - entry.stored < ttl:
                self._values.move_to_end(key)
                return True, entry.value
            return False, None

    def _store(self, key: Hashable, value: object, ttl: float) -> None:
        now = time.monotonic()
        with self._guard:
            for old in [k for k, e in self._values.items() if now - e.stored >= e.ttl]:
                del self._values[old]
            self._values[key] = _Entry(now, ttl, value)
            self._values.move_to_end(key)
            while len(self._values) > self.max_entries:
                self._values.popitem(last=False)


#: The dashboard process's shared cache: tenant data of the portal, research analytics of the
#: staff pages.
SHARED = KeyedCache(ttl=300.0, max_entries=512)
