"""Benchmarks: the end-to-end guest programs at larger sizes, natively and under each runner."""
