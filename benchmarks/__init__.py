"""Benchmarks that print numbers (run with `make bench`); never part of the test suite."""
