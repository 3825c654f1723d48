"""Benchmark scripts (run them directly; they are not tests and pytest never collects them)."""
