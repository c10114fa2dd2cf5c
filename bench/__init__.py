"""Benchmarks: our path against a baseline measured in the same run, as ratios of medians."""
