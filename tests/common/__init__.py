"""Tests of faircoop_common: what the node and the wallet share."""
