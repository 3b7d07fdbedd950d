"""The `soak` marker and its opt-in rule, shared with the fault suite (see tests/faults)."""

from tests.faults.conftest import pytest_collection_modifyitems, pytest_configure

__all__ = ["pytest_collection_modifyitems", "pytest_configure"]
