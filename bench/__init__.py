"""Benchmarks (`make bench`): print speed and memory figures; nothing here is asserted."""
