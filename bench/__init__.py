"""Benchmarks for words against other IRC servers: `python -m bench.run --help`."""
