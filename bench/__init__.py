"""Benchmarks: figures measured against baselines in the same run."""
