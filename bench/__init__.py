"""Benchmarks: scripts that print measured ratios (never pass/fail timings in the test suite)."""
