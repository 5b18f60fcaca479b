"""A byte-bounded LRU for decoded records (decompressed warm blocks and cold frames).

Raw hot blocks bypass it: the kernel's page cache already holds them and copying
them into a Python-side cache would only evict decoded frames that are expensive
to rebuild.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class ByteLRU:
    def __init__(self, capacity_bytes: int) -> None:
        self._capacity = capacity_bytes
        self._size = 0
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: bytes) -> None:
        if len(value) > self._capacity:
            return  # would evict everything and still not fit
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self._capacity:
                _, evicted = self._items.popitem(last=False)
                self._size -= len(evicted)

    def discard_where(self, predicate: object) -> None:
        """Drop entries whose key satisfies ``predicate`` (used when a pack goes away)."""
        assert callable(predicate)
        with self._lock:
            for key in [k for k in self._items if predicate(k)]:
                self._size -= len(self._items.pop(key))

    @property
    def size(self) -> int:
        return self._size
