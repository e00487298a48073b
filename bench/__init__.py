"""Benchmarks: each script prints its table with same-run baselines (see README)."""
