"""Benchmark helpers: a separate database, a large clinic, and timed page requests."""
