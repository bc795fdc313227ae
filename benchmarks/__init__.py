"""Benchmark scripts (run as files) and the scoring they share with tests/test_accuracy.py."""
