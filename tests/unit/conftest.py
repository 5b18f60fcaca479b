"""Shared unit fixtures: a real BlockStore in a temporary ``.cof`` directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cofd.store.blockstore import BlockStore

BLOCK_SIZE = 4096
CACHE_BYTES = 8 * 1024 * 1024

StoreOpener = Callable[[], BlockStore]


@pytest.fixture
def cof_dir(tmp_path: Path) -> Path:
    path = tmp_path / ".cof"
    BlockStore.create_layout(path)
    return path


@pytest.fixture
def open_store(cof_dir: Path) -> Iterator[StoreOpener]:
    """Open (or reopen) the store at ``cof_dir``; every opened store is closed at teardown."""
    opened: list[BlockStore] = []

    def opener() -> BlockStore:
        store = BlockStore(cof_dir, BLOCK_SIZE, CACHE_BYTES)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: StoreOpener) -> BlockStore:
    return open_store()
