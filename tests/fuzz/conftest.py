"""The live node the fuzz tests share: one single-validator devnet process for the package
(see `live.lone_node`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from faircoop_node.devnet import DevnetNode
from tests.fuzz.live import Prober, lone_node


@pytest.fixture(scope="package")
def live_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevnetNode, Prober]]:
    with lone_node(Path(tmp_path_factory.mktemp("livenode")) / "dn") as pair:
        yield pair
