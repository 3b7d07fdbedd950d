"""The seeded whole-network simulator: named scenarios, the seed sweep, its CLI."""
