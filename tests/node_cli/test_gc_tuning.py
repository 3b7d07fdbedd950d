"""A running node collects garbage rarely (see service.tune_gc), unless told to keep the default."""

from __future__ import annotations

import gc

import pytest

from faircoop_node.service import tune_gc


@pytest.fixture
def restore_gc():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_the_node_raises_the_young_generation_threshold_and_freezes_startup_objects(
    restore_gc, monkeypatch
):
    monkeypatch.delenv("FAIRCOOP_GC_DEFAULT", raising=False)
    gc.set_threshold(700, 10, 10)
    tune_gc()
    assert gc.get_threshold()[0] >= 10_000
    assert gc.get_freeze_count() > 0


def test_faircoop_gc_default_keeps_cpythons_settings(restore_gc, monkeypatch):
    monkeypatch.setenv("FAIRCOOP_GC_DEFAULT", "1")
    gc.set_threshold(700, 10, 10)
    tune_gc()
    assert gc.get_threshold() == (700, 10, 10)
