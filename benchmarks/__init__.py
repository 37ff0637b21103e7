"""Benchmarks, each a script run as root from the repository (see docs/performance.md)."""
