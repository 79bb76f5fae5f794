"""Benchmarks of the provider against its references (issue 6); run with ``python -m benchmarks``."""
