"""One fixture: `make_store`, run once per backend, so every behavioural test checks both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from consensus.types import Genesis
from faircoop_node.storage import BaseStore, LevelDBStore, MemoryStore

StoreFactory = Callable[[Genesis], BaseStore]


@pytest.fixture(params=["memory", "leveldb"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    opened: list[BaseStore] = []

    def factory(genesis: Genesis) -> BaseStore:
        if request.param == "memory":
            store: BaseStore = MemoryStore(genesis)
        else:
            store = LevelDBStore(tmp_path / f"db{len(opened)}", genesis)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()
