"""faircoop test suite; a package so `tests.*` helpers import unambiguously."""
