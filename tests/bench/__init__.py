"""Benchmarks of cof against git (run as modules, never collected by pytest)."""
